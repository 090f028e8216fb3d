using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.PbxSim;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>The ARI client against PbxSim on loopback: a call through the Stasis app, errors, and a dropped WebSocket.</summary>
[Trait("Tier", "PbxSim")]
public sealed class AriPbxSimTests
{
    private static AriClientOptions Options(PbxSimulator sim) => new()
    {
        BaseAddress = new Uri($"http://127.0.0.1:{sim.AriEndPoint.Port}/ari"),
        UserName = "ctibridge",
        Password = "ctibridge-secret",
    };

    private static async Task<T> NextAsync<T>(IAsyncEnumerator<Message> events, List<Message> seen, Func<T, bool> match)
        where T : Message
    {
        for (var i = 0; i < 500; i++)
        {
            Assert.True(await events.MoveNextAsync(), "the event stream ended");
            seen.Add(events.Current);
            if (events.Current is T wanted && match(wanted))
            {
                return wanted;
            }
        }

        throw new InvalidOperationException($"no {typeof(T).Name} within 500 events");
    }

    [Fact]
    public async Task InboundCall_OriginateAnswerHangup_EventsArriveTypedAndInOrder()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        using var client = new AriClient(Options(sim));
        await using var connection = new AriEventConnection(Options(sim));
        await connection.StartAsync(ct);
        await using var events = connection.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        var seen = new List<Message>();

        var customer = await client.Channels.OriginateAsync(
            endpoint: "Local/1000@callers-ringing", context: "customer", extension: "talk",
            callerId: "\"Jane Customer\" <5551234567>", channelId: "it-cust", otherChannelId: "it-cust-2",
            variables: new Dictionary<string, string> { ["CTI_CALL_ID"] = "it-0001" }, cancellationToken: ct);
        Assert.Equal("it-cust", customer.Id);

        var start = await NextAsync<StasisStart>(events, seen, s => s.Channel.Id == "it-cust-2");
        Assert.Equal(["inbound-ringing", "1000"], start.Args);
        await client.Channels.AnswerAsync("it-cust-2", ct);
        await NextAsync<ChannelStateChange>(events, seen, s => s.Channel.Id == "it-cust-2" && s.Channel.State == "Up");
        var variable = await client.Channels.GetChannelVarAsync("it-cust-2", "CALLERID(num)", ct);
        Assert.Equal("5551234567", variable.Value);
        await client.Channels.HangupAsync("it-cust-2", reason: "normal", cancellationToken: ct);
        await NextAsync<StasisEnd>(events, seen, s => s.Channel.Id == "it-cust-2");

        var mine = seen.Where(m => m is StasisStart or StasisEnd or ChannelStateChange).ToList();
        Assert.IsType<StasisStart>(mine[0]);
        Assert.IsType<StasisEnd>(mine[^1]);
        Assert.DoesNotContain(seen, m => m is AriUnknownMessage or AriUndecodableMessage);
    }

    /// <summary>
    /// An idle events connection to PbxSim stays up: the client pings after 15 s of silence and PbxSim
    /// answers. (Before: the keep-alive checked on a fixed 15 s tick, so when the last frame came just
    /// after a tick it was not yet silent at the next tick, sent no ping, and was past the 25 s limit at
    /// the one after: the connection was replaced every ~30 s of quiet without ever being pinged.)
    /// The client's clock is a fake one moved in 1 s steps, each step waiting until any ping is answered.
    /// </summary>
    [Fact]
    public async Task IdleEventsConnection_IsPingedAndPbxSimAnswers_NoReconnect()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        var clock = new FakeTimeProvider();
        using var client = new AriClient(Options(sim));
        await using var connection = new AriEventConnection(Options(sim) with { PingInterval = TimeSpan.FromSeconds(15), PongTimeout = TimeSpan.FromSeconds(10) }, clock);
        var reconnects = 0;
        connection.ReconnectScheduled += (_, _) => Interlocked.Increment(ref reconnects);
        await connection.StartAsync(ct);
        await using var events = connection.ReadAllAsync(ct).GetAsyncEnumerator(ct);

        // The last frame comes a moment after the connection started, as it always does on a real clock.
        clock.Advance(TimeSpan.FromSeconds(1));
        await client.Channels.OriginateAsync(endpoint: "Local/1000@callers-ringing", context: "customer", extension: "talk", channelId: "idle-1", otherChannelId: "idle-2", cancellationToken: ct);
        await NextAsync<StasisStart>(events, [], s => s.Channel.Id == "idle-2");
        await client.Channels.AnswerAsync("idle-2", ct);
        await NextAsync<ChannelStateChange>(events, [], s => s.Channel.Id == "idle-2" && s.Channel.State == "Up");
        Assert.Equal(clock.GetTimestamp(), connection.LastReceivedTimestamp);

        // Two minutes of silence: whenever the connection has been silent 15 s a ping goes, and its pong brings the silence back to 0.
        for (var second = 0; second < 120; second++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Eventually.TrueAsync(() => clock.GetElapsedTime(connection.LastReceivedTimestamp) < TimeSpan.FromSeconds(15), $"a ping answered ({second + 2} s after the last event)", ct);
        }

        Assert.Equal(0, Volatile.Read(ref reconnects));
        Assert.Equal(AriEventConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task MissingChannel_Answer_ThrowsNotFoundWithAsteriskMessage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        using var client = new AriClient(Options(sim));

        var error = await Assert.ThrowsAsync<AriRequestException>(() => client.Channels.AnswerAsync("no-such-channel", ct));

        Assert.Equal(404, error.StatusCode);
        Assert.Equal("Channel not found", error.AsteriskMessage);
    }

    [Fact]
    public async Task DroppedWebSocket_Reconnects_GapThenSnapshotShowsTheCallStillInTheApp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        using var client = new AriClient(Options(sim));
        await using var connection = new AriEventConnection(Options(sim) with { ReconnectDelayMin = TimeSpan.FromMilliseconds(50) });
        await connection.StartAsync(ct);
        await using var events = connection.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        var seen = new List<Message>();
        await client.Channels.OriginateAsync(endpoint: "Local/1001@callers-ringing", context: "customer", extension: "talk", channelId: "gap-cust", otherChannelId: "gap-cust-2", cancellationToken: ct);
        await NextAsync<StasisStart>(events, seen, s => s.Channel.Id == "gap-cust-2");

        sim.DropAriConnections();
        var gap = await NextAsync<AriEventGap>(events, seen, _ => true);
        var snapshot = await client.GetApplicationSnapshotAsync(cancellationToken: ct);

        Assert.False(string.IsNullOrEmpty(gap.Reason));
        Assert.Contains(snapshot.Channels, c => c.Id == "gap-cust-2");
        await client.Channels.HangupAsync("gap-cust-2", cancellationToken: ct);
        await NextAsync<StasisEnd>(events, seen, s => s.Channel.Id == "gap-cust-2");
    }
}
