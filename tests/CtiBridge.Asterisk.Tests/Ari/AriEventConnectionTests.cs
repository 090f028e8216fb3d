using System.Text;
using System.Text.Json;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ari;

public sealed class AriEventConnectionTests
{
    private static AriClientOptions Options(Uri ariBase, params string[] applications) => new()
    {
        BaseAddress = ariBase,
        UserName = "ctibridge",
        Password = "ctibridge-secret",
        Applications = applications.Length == 0 ? ["ctibridge"] : applications,
    };

    private static List<string> WireTypes(string scenario) =>
        AriFixtures.EventPayloads(scenario).Select(p => JsonDocument.Parse(p).RootElement.GetProperty("type").GetString()!).ToList();

    [Fact]
    public async Task StartAsync_UpgradeRequest_CarriesAppsAndSubscribeAllInUrlAndCredentialsOnlyInHeader()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = new LoopbackWebSocketServer((c, t) => c.AcceptAsync(t));
        await using var events = new AriEventConnection(Options(server.AriBase, "ctibridge", "dialer") with { SubscribeAll = true });

        await events.StartAsync(ct);

        var connection = Assert.Single(server.Connections);
        Assert.Equal("/ari/events?app=ctibridge,dialer&subscribeAll=true", connection.RequestTarget);
        Assert.Equal("Basic " + Convert.ToBase64String("ctibridge:ctibridge-secret"u8.ToArray()), connection.Header("Authorization"));
        Assert.DoesNotContain("secret", connection.RequestTarget, StringComparison.Ordinal);
        Assert.Equal("13", connection.Header("Sec-WebSocket-Version"));
        Assert.Equal(AriEventConnectionState.Connected, events.State);
    }

    [Theory]
    [InlineData("ws-upgrade-unauthorized.raw", 401, "Authentication required")]
    [InlineData("ws-upgrade-missing-app.raw", 400, "HTTP request is missing param: [app]")]
    public async Task StartAsync_AsteriskRefusesUpgrade_ThrowsTypedErrorInsteadOfHanging(string fixture, int status, string message)
    {
        var ct = TestContext.Current.CancellationToken;
        var refusal = await File.ReadAllBytesAsync(Path.Combine(AriFixtures.Directory, fixture), ct);
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            await c.SendAsync(refusal, t);
            await c.ReadFrameAsync(t); // Asterisk keeps the socket open; the client must not wait for it to close.
        });
        await using var events = new AriEventConnection(Options(server.AriBase));

        var error = await Assert.ThrowsAsync<AriWebSocketUpgradeException>(() => events.StartAsync(ct));

        Assert.Equal(status, error.StatusCode);
        Assert.Equal(message, error.AsteriskMessage);
        Assert.Equal(AriEventConnectionState.NotStarted, events.State);
    }

    [Fact]
    public async Task StartAsync_NothingListening_ThrowsConnectionError()
    {
        var port = LoopbackHttpServer.UnusedPort();
        await using var events = new AriEventConnection(Options(new Uri($"http://127.0.0.1:{port}/ari")));

        await Assert.ThrowsAsync<AriConnectionException>(() => events.StartAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ReadAllAsync_ConsumerAwaitsSlowRestCallsPerEvent_GetsEveryEventInWireOrder()
    {
        var ct = TestContext.Current.CancellationToken;
        var allSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var expected = AriFixtures.Scenarios.SelectMany(AriFixtures.EventPayloads).ToList();
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            await c.AcceptAsync(t);
            foreach (var scenario in AriFixtures.Scenarios)
            {
                foreach (var frame in LoopbackWebSocketServer.RecordedFrames(scenario).SkipLast(1))
                {
                    await c.SendAsync(frame, t);
                }
            }

            allSent.SetResult();
            await c.ReadFrameAsync(t);
        });
        // REST answers are held back until Asterisk has sent every event: the consumer is as slow as it gets
        // while the reader keeps reading, and nothing may be lost or reordered meanwhile.
        var ping = AriFixtures.RestExchanges().Single(e => e.Label == "03-asterisk-ping.http" || e.Label.StartsWith("03-asterisk-ping", StringComparison.Ordinal));
        await using var rest = new LoopbackHttpServer(async _ =>
        {
            await allSent.Task;
            return ping.Response;
        });
        using var client = new AriClient(Options(rest.AriBase));
        await using var events = new AriEventConnection(Options(server.AriBase));
        await events.StartAsync(ct);

        var received = new List<Message>();
        await foreach (var message in events.ReadAllAsync(ct))
        {
            received.Add(message);
            await client.Asterisk.PingAsync(ct);
            if (received.Count == expected.Count)
            {
                break;
            }
        }

        Assert.Equal(expected.Count, rest.Requests.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            JsonAssert.Equivalent(expected[i], JsonSerializer.Serialize(received[i], received[i].GetType(), AriJsonContext.Default), $"event {i}");
        }

        AssertStasisBracketsChannelEvents(received);
    }

    [Fact]
    public async Task Reconnect_SocketDroppedMidFrame_SignalsGapThenContinuesWithoutDuplicatesOrReordering()
    {
        var ct = TestContext.Current.CancellationToken;
        var frames = LoopbackWebSocketServer.RecordedFrames("inbound-call").SkipLast(1).ToList();
        const int cut = 17;
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            await c.AcceptAsync(t);
            if (c.Index == 0)
            {
                foreach (var frame in frames.Take(cut))
                {
                    await c.SendAsync(frame, t);
                }

                await c.SendAsync(frames[cut].AsMemory(0, frames[cut].Length / 2), t);
                c.Drop();
                return;
            }

            // Asterisk does not replay: the new connection carries what it raises from now on.
            foreach (var frame in frames.Skip(cut))
            {
                await c.SendAsync(frame, t);
            }

            await c.ReadFrameAsync(t);
        });
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-22T16:42:35Z", System.Globalization.CultureInfo.InvariantCulture));
        await using var events = new AriEventConnection(Options(server.AriBase), clock) { Jitter = new Random(7) };
        var delays = new List<TimeSpan>();
        events.ReconnectScheduled += (_, delay) =>
        {
            delays.Add(delay);
            clock.Advance(delay);
        };
        await events.StartAsync(ct);

        var received = new List<Message>();
        await foreach (var message in events.ReadAllAsync(ct))
        {
            received.Add(message);
            if (received.Count == frames.Count + 1)
            {
                break;
            }
        }

        var gap = Assert.IsType<AriEventGap>(received[cut]);
        Assert.Contains("middle of a frame", gap.Reason, StringComparison.Ordinal);
        Assert.Equal(0, gap.FailedAttempts);
        Assert.Single(delays);
        Assert.InRange(delays[0], TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(600));
        var events1 = received.Where(m => m is not AriEventGap).Select(m => JsonSerializer.Serialize(m, m.GetType(), AriJsonContext.Default)).ToList();
        var expected = AriFixtures.EventPayloads("inbound-call");
        Assert.Equal(expected.Count, events1.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            JsonAssert.Equivalent(expected[i], events1[i], $"event {i}");
        }

        Assert.Equal(2, server.Connections.Count);
        Assert.Equal(AriEventConnectionState.Connected, events.State);
    }

    [Fact]
    public async Task Reconnect_AsteriskDownForSeveralAttempts_BacksOffExponentiallyWithJitterAndNeverGivesUp()
    {
        var ct = TestContext.Current.CancellationToken;
        var unauthorized = await File.ReadAllBytesAsync(Path.Combine(AriFixtures.Directory, "ws-upgrade-unauthorized.raw"), ct);
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            switch (c.Index)
            {
                case 0:
                    await c.AcceptAsync(t);
                    await c.SendAsync(new byte[] { 0x88, 0x02, 0x03, 0xE8 }, t); // Asterisk shutting down: close 1000.
                    await c.ReadFrameAsync(t);
                    break;
                case 1 or 2 or 4:
                    c.Drop(); // Restarting: the port accepts, then the connection dies.
                    break;
                case 3:
                    await c.SendAsync(unauthorized, t); // ARI not configured yet: retried as well.
                    break;
                default:
                    await c.AcceptAsync(t);
                    await c.SendAsync(LoopbackWebSocketServer.RecordedFrames("snoop")[0], t);
                    await c.ReadFrameAsync(t);
                    break;
            }
        });
        var clock = new FakeTimeProvider();
        var options = Options(server.AriBase) with { ReconnectDelayMin = TimeSpan.FromSeconds(1), ReconnectDelayMax = TimeSpan.FromSeconds(6), ReconnectJitter = 0.2 };
        await using var events = new AriEventConnection(options, clock) { Jitter = new Random(3) };
        var delays = new List<(int Attempt, TimeSpan Delay)>();
        events.ReconnectScheduled += (attempt, delay) =>
        {
            delays.Add((attempt, delay));
            clock.Advance(delay);
        };
        await events.StartAsync(ct);

        Message? first = null;
        Message? second = null;
        await foreach (var message in events.ReadAllAsync(ct))
        {
            if (first is null)
            {
                first = message;
                continue;
            }

            second = message;
            break;
        }

        var gap = Assert.IsType<AriEventGap>(first);
        Assert.Equal(4, gap.FailedAttempts);
        Assert.Contains("closed the WebSocket (1000", gap.Reason, StringComparison.Ordinal);
        Assert.IsType<StasisStart>(second);
        Assert.Equal([1, 2, 3, 4, 5], delays.Select(d => d.Attempt));
        double[] nominal = [1, 2, 4, 6, 6];
        for (var i = 0; i < nominal.Length; i++)
        {
            Assert.InRange(delays[i].Delay.TotalSeconds, nominal[i] * 0.8, nominal[i] * 1.2);
        }

        Assert.NotEqual(delays[3].Delay, delays[4].Delay); // jitter spreads equal nominal delays
    }

    [Fact]
    public async Task KeepAlive_IdleConnection_PingsAndReplacesTheConnectionWhenNoPongComes()
    {
        var ct = TestContext.Current.CancellationToken;
        var pings = System.Threading.Channels.Channel.CreateUnbounded<(int Connection, byte[] Payload)>();
        var answerPings = true;
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            await c.AcceptAsync(t);
            if (c.Index == 0)
            {
                // Asterisk pings too: the client must echo it in a pong.
                await c.SendAsync(new byte[] { 0x89, 0x02, (byte)'h', (byte)'i' }, t);
            }

            while (await c.ReadFrameAsync(t) is { } frame)
            {
                await pings.Writer.WriteAsync((c.Index * 100 + frame.Opcode, frame.Payload), t);
                if (frame.Opcode == 0x9 && answerPings)
                {
                    await c.SendAsync(new byte[] { 0x8A, 0x00 }, t);
                }
            }
        });
        var clock = new FakeTimeProvider();
        var options = Options(server.AriBase) with { PingInterval = TimeSpan.FromSeconds(15), PongTimeout = TimeSpan.FromSeconds(10) };
        await using var events = new AriEventConnection(options, clock);
        var reconnects = new List<TimeSpan>();
        events.ReconnectScheduled += (_, delay) =>
        {
            reconnects.Add(delay);
            clock.Advance(delay);
        };
        await events.StartAsync(ct);

        var pong = await pings.Reader.ReadAsync(ct);
        Assert.Equal((0x0A, "hi"), (pong.Connection, Encoding.ASCII.GetString(pong.Payload)));

        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(0x09, (await pings.Reader.ReadAsync(ct)).Connection);
        // The pong arrived: two more quiet periods, the connection stays.
        await WaitForReceiveAsync(events, clock, ct);
        answerPings = false;
        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(0x09, (await pings.Reader.ReadAsync(ct)).Connection);
        Assert.Empty(reconnects);
        clock.Advance(TimeSpan.FromSeconds(15));

        var gap = await FirstAsync(events, ct);
        Assert.Contains("no frame", Assert.IsType<AriEventGap>(gap).Reason, StringComparison.Ordinal);
        Assert.Single(reconnects);
        Assert.Equal(2, server.Connections.Count);
    }

    [Fact]
    public async Task GetApplicationSnapshotAsync_AfterGap_ListsOnlyTheApplicationsChannelsAndBridges()
    {
        var ct = TestContext.Current.CancellationToken;
        var exchanges = AriFixtures.RestExchanges();
        var channels = exchanges.Single(e => e.Label.StartsWith("30-", StringComparison.Ordinal)).Response;
        var bridges = exchanges.Single(e => e.Label.StartsWith("43-", StringComparison.Ordinal)).Response;
        const string app = """{"name":"ctibridge","channel_ids":["1795365690.89"],"bridge_ids":["0c22e55b-d553-4f57-8dba-af2361b7f5ee"],"endpoint_ids":[],"device_names":[],"events_allowed":[],"events_disallowed":[]}""";
        var appResponse = Encoding.UTF8.GetBytes($"HTTP/1.1 200 OK\r\nContent-type: application/json\r\nContent-Length: {app.Length}\r\n\r\n{app}");
        await using var rest = new LoopbackHttpServer(r => Task.FromResult(r.Path switch
        {
            "/ari/applications/ctibridge" => appResponse,
            "/ari/channels" => channels,
            "/ari/bridges" => bridges,
            _ => throw new InvalidOperationException(r.Path),
        }));
        using var client = new AriClient(Options(rest.AriBase));

        var snapshot = await client.GetApplicationSnapshotAsync(cancellationToken: ct);

        Assert.Equal("ctibridge", snapshot.Application.Name);
        Assert.Equal(["1795365690.89"], snapshot.Channels.Select(c => c.Id));
        Assert.Equal(["1795365690.89", "1795365692.90"], Assert.Single(snapshot.Bridges).Channels);
    }

    [Fact]
    public async Task DisposeAsync_WhileReading_EndsTheEnumerationAndSendsClose()
    {
        var ct = TestContext.Current.CancellationToken;
        var closeSeen = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            await c.AcceptAsync(t);
            var frame = await c.ReadFrameAsync(t);
            closeSeen.TrySetResult(frame?.Opcode ?? -1);
        });
        var events = new AriEventConnection(Options(server.AriBase));
        await events.StartAsync(ct);
        var reading = Task.Run(async () =>
        {
            var count = 0;
            await foreach (var unused in events.ReadAllAsync(ct))
            {
                count++;
            }

            return count;
        }, ct);

        await events.DisposeAsync();

        Assert.Equal(0, await reading);
        Assert.Equal(0x8, await closeSeen.Task);
        Assert.Equal(AriEventConnectionState.Stopped, events.State);
    }

    /// <summary>
    /// For every channel that entered the application: StasisStart comes before the events the application
    /// receives because the channel is in Stasis (DTMF, bridge moves, user events, playbacks, recordings), and
    /// StasisEnd after them. (Channel events before StasisStart and after StasisEnd are real Asterisk
    /// behaviour for channels the app originated: it is subscribed to them from creation to destruction.)
    /// </summary>
    private static void AssertStasisBracketsChannelEvents(List<Message> received)
    {
        var inStasis = new Dictionary<string, bool>();
        var checkedEvents = 0;
        foreach (var message in received)
        {
            switch (message)
            {
                case StasisStart start:
                    Assert.False(inStasis.GetValueOrDefault(start.Channel.Id), $"second StasisStart for {start.Channel.Id}");
                    inStasis[start.Channel.Id] = true;
                    break;
                case StasisEnd end:
                    Assert.True(inStasis.GetValueOrDefault(end.Channel.Id), $"StasisEnd before StasisStart for {end.Channel.Id}");
                    inStasis[end.Channel.Id] = false;
                    break;
                case ChannelDtmfReceived e:
                    Check(e.Channel.Id);
                    break;
                case ChannelEnteredBridge e:
                    Check(e.Channel!.Id);
                    break;
                case ChannelLeftBridge e:
                    Check(e.Channel.Id);
                    break;
                case ChannelUserevent e:
                    Check(e.Channel!.Id);
                    break;
                case PlaybackStarted e when e.Playback.TargetUri.StartsWith("channel:", StringComparison.Ordinal):
                    Check(e.Playback.TargetUri["channel:".Length..]);
                    break;
                case PlaybackFinished e when e.Playback.TargetUri.StartsWith("channel:", StringComparison.Ordinal):
                    Check(e.Playback.TargetUri["channel:".Length..]);
                    break;
            }
        }

        Assert.True(checkedEvents >= 20, $"only {checkedEvents} channel events checked");

        void Check(string channelId)
        {
            Assert.True(inStasis.GetValueOrDefault(channelId), $"an event of {channelId} arrived outside StasisStart..StasisEnd");
            checkedEvents++;
        }
    }

    private static async Task<Message> FirstAsync(AriEventConnection events, CancellationToken ct)
    {
        await foreach (var message in events.ReadAllAsync(ct))
        {
            return message;
        }

        throw new InvalidOperationException("the stream ended");
    }

    /// <summary>Waits until the client has read something at the fake clock's current time (the pong), without sleeping.</summary>
    private static Task WaitForReceiveAsync(AriEventConnection events, FakeTimeProvider clock, CancellationToken ct) =>
        Eventually.TrueAsync(() => events.LastReceivedTimestamp == clock.GetTimestamp(), "the pong to be read", ct);
}
