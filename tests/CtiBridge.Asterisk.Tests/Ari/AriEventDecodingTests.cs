using System.Collections;
using System.IO.Pipelines;
using System.Reflection;
using System.Text;
using System.Text.Json;
using CsCheck;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Tests.Ari;

public sealed class AriEventDecodingTests
{
    public static TheoryData<string> Scenarios => AriFixtures.ScenarioData();

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Decode_EveryRecordedEvent_IsTypedWithEveryFieldKept(string scenario)
    {
        var payloads = AriFixtures.EventPayloads(scenario);
        Assert.NotEmpty(payloads);
        foreach (var payload in payloads)
        {
            var message = AriEventDecoder.Decode(Encoding.UTF8.GetBytes(payload));
            var wireType = JsonDocument.Parse(payload).RootElement.GetProperty("type").GetString();
            Assert.Equal(wireType, message.Type);
            Assert.Equal(wireType, message.GetType().GetCustomAttribute<AriModelAttribute>()?.Name);
            Assert.IsAssignableFrom<Event>(message);
            Assert.Empty(UnknownFields(message, "$"));
            // Writing the typed event back gives the same JSON: every field was read, with its value.
            var roundTrip = JsonSerializer.Serialize(message, message.GetType(), AriJsonContext.Default);
            JsonAssert.Equivalent(payload, roundTrip, $"{scenario} {wireType}");
        }
    }

    [Fact]
    public void Decode_InboundCallStasisStart_ExposesTypedFields()
    {
        var start = Assert.IsType<StasisStart>(AriEventDecoder.Decode(Encoding.UTF8.GetBytes(AriFixtures.EventPayloads("inbound-call")[0])));
        Assert.Equal(["inbound-ringing", "1000"], start.Args);
        Assert.Equal("cust-0001-2", start.Channel.Id);
        Assert.Equal("Ring", start.Channel.State);
        Assert.Equal("Jane Customer", start.Channel.Caller.Name);
        Assert.Equal("5551234567", start.Channel.Caller.Number);
        Assert.Equal("ctibridge", start.Application);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 16, 42, 35, 513, TimeSpan.Zero), start.Timestamp);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task DecodeRecording_WebSocketBytes_YieldTheSameEventsAsTheTimeline(string scenario)
    {
        var expected = AriFixtures.EventPayloads(scenario);
        var messages = await AriEventConnection.DecodeRecordingAsync(PipeReader.Create(new MemoryStream(AriFixtures.WebSocketBytes(scenario))), 1 << 20, TestContext.Current.CancellationToken);
        Assert.Equal(expected.Count, messages.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            JsonAssert.Equivalent(expected[i], JsonSerializer.Serialize(messages[i], messages[i].GetType(), AriJsonContext.Default), $"{scenario} frame {i}");
        }
    }

    [Fact]
    public void DecodeRecording_SplitAtRandomPoints_YieldsTheSameEvents()
    {
        var bytes = AriFixtures.WebSocketBytes("inbound-call");
        var expected = AriFixtures.EventPayloads("inbound-call");
        Gen.Int[1, bytes.Length - 1].Array[1, 12].Sample(cuts =>
        {
            var pipe = new Pipe();
            var decode = AriEventConnection.DecodeRecordingAsync(pipe.Reader, 1 << 20, CancellationToken.None);
            var start = 0;
            foreach (var cut in cuts.Order().Distinct().Append(bytes.Length))
            {
                pipe.Writer.WriteAsync(bytes.AsMemory(start, cut - start)).AsTask().GetAwaiter().GetResult();
                start = cut;
            }

            pipe.Writer.Complete();
            var messages = decode.GetAwaiter().GetResult();
            return messages.Count == expected.Count
                && messages.Zip(expected).All(p => p.First.Type == JsonDocument.Parse(p.Second).RootElement.GetProperty("type").GetString());
        }, iter: 60);
    }

    [Fact]
    public void Decode_UnknownEventType_IsKeptRawNotDropped()
    {
        var message = AriEventDecoder.Decode("""{"type":"QueueWizardFired","timestamp":"2026-11-22T16:42:35.513+0000","application":"ctibridge","wizard":{"level":3},"asterisk_id":"02:fc"}"""u8);
        var unknown = Assert.IsType<AriUnknownMessage>(message);
        Assert.Equal("QueueWizardFired", unknown.Type);
        Assert.Equal("02:fc", unknown.AsteriskId);
        Assert.Equal(3, unknown.Json.GetProperty("wizard").GetProperty("level").GetInt32());
    }

    [Fact]
    public void Decode_UnknownFieldOnKnownEvent_IsKeptInExtensionData()
    {
        var message = AriEventDecoder.Decode("""{"type":"ChannelDtmfReceived","timestamp":"2026-11-22T16:42:35.513+0000","digit":"5","duration_ms":120,"channel":{"id":"c1","name":"Local/1@x","state":"Up","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"c","exten":"e","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-22T16:42:35.513+0000","language":"en"},"application":"ctibridge","queue_hint":"vip"}"""u8);
        var dtmf = Assert.IsType<ChannelDtmfReceived>(message);
        Assert.Equal("5", dtmf.Digit);
        Assert.Equal("vip", dtmf.ExtensionData!["queue_hint"].GetString());
    }

    [Theory]
    [InlineData("{\"type\":\"StasisStart\",", "StasisStart")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("{\"timestamp\":\"x\"}", "\"type\"")]
    [InlineData("{\"type\":\"StasisEnd\",\"timestamp\":\"2026-11-22T16:42:35.513+0000\",\"application\":\"ctibridge\"}", "channel")]
    [InlineData("{\"type\":\"StasisEnd\",\"timestamp\":\"yesterday\",\"application\":\"a\",\"channel\":{}}", "yesterday")]
    [InlineData("{\"type\":\"StasisEnd\",\"timestamp\":\"2026-13-22T16:42:35.513+0000\",\"application\":\"a\",\"channel\":{}}", "2026-13-22")]
    public void Decode_BrokenMessage_IsDeliveredAsUndecodableWithReason(string text, string reasonMentions)
    {
        var message = AriEventDecoder.Decode(Encoding.UTF8.GetBytes(text));
        var bad = Assert.IsType<AriUndecodableMessage>(message);
        Assert.Equal(text, bad.Text);
        Assert.Contains(reasonMentions, bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadResponse_UnauthorizedUpgradeFixture_ThrowsTypedErrorWithAsteriskMessage()
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(AriFixtures.Directory, "ws-upgrade-unauthorized.raw"), TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<AriWebSocketUpgradeException>(() =>
            AriEventConnection.DecodeRecordingAsync(PipeReader.Create(new MemoryStream(bytes)), 1 << 20, TestContext.Current.CancellationToken));
        Assert.Equal(401, error.StatusCode);
        Assert.Equal("Authentication required", error.AsteriskMessage);
    }

    [Fact]
    public async Task ReadResponse_MissingAppUpgradeFixtureWithTwoResponses_ThrowsTypedErrorFromTheFirst()
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(AriFixtures.Directory, "ws-upgrade-missing-app.raw"), TestContext.Current.CancellationToken);
        var error = await Assert.ThrowsAsync<AriWebSocketUpgradeException>(() =>
            AriEventConnection.DecodeRecordingAsync(PipeReader.Create(new MemoryStream(bytes)), 1 << 20, TestContext.Current.CancellationToken));
        Assert.Equal(400, error.StatusCode);
        Assert.Equal("HTTP request is missing param: [app]", error.AsteriskMessage);
        Assert.Contains("missing param: [app]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DateConverter_AsteriskOffsetWithoutColon_RoundTrips()
    {
        var value = JsonSerializer.Deserialize("\"2026-11-22T16:42:35.513-0530\"", AriJsonContext.Default.DateTimeOffset);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 16, 42, 35, 513, new TimeSpan(-5, -30, 0)), value);
        Assert.Equal("\"2026-11-22T16:42:35.513-0530\"", JsonSerializer.Serialize(value, AriJsonContext.Default.DateTimeOffset));
    }

    /// <summary>Paths of every ExtensionData entry in the object graph: fields the description does not know.</summary>
    internal static IEnumerable<string> UnknownFields(object? value, string path)
    {
        if (value is null or string or JsonElement || value.GetType().IsPrimitive || value is DateTimeOffset)
        {
            yield break;
        }

        if (value is IEnumerable items)
        {
            var i = 0;
            foreach (var item in items)
            {
                foreach (var p in UnknownFields(item, $"{path}[{i++}]"))
                {
                    yield return p;
                }
            }

            yield break;
        }

        foreach (var property in value.GetType().GetProperties())
        {
            if (property.GetIndexParameters().Length > 0 || property.Name == "EqualityContract")
            {
                continue;
            }

            var child = property.GetValue(value);
            if (property.Name == "ExtensionData")
            {
                if (child is IDictionary<string, JsonElement> { Count: > 0 } extra)
                {
                    foreach (var key in extra.Keys)
                    {
                        yield return path + "." + key;
                    }
                }

                continue;
            }

            foreach (var p in UnknownFields(child, path + "." + property.Name))
            {
                yield return p;
            }
        }
    }
}
