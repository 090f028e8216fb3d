using CtiBridge.Asterisk.Ami;
using CtiBridge.PbxSim;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>
/// The AMI client against PbxSim on loopback while the "Asterisk" restarts under it or is killed
/// and started again: in-flight actions fail at once with a typed error, the client reconnects
/// (fake clock for the backoff), logs in again, signals the gap, and the same subscription carries
/// the new connection's events.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AmiPbxSimRestartTests
{
    private static AmiClientOptions Options(int port) => new()
    {
        Host = "127.0.0.1",
        Port = port,
        Username = "ctibridge",
        Secret = "ctibridge-secret",
        Authentication = AmiAuthentication.Md5,
        PingInterval = TimeSpan.Zero,
        ReconnectJitter = 0,
    };

    private static async Task<AmiMessage> NextEventAsync(AmiEventSubscription events, string name)
    {
        for (var i = 0; i < 200; i++)
        {
            var item = await events.NextAsync();
            Assert.False(item.IsResync, $"unexpected resync while waiting for {name}");
            if (string.Equals(item.Event!.EventName, name, StringComparison.OrdinalIgnoreCase))
            {
                return item.Event;
            }
        }

        throw new InvalidOperationException($"no {name} within 200 events");
    }

    private static async Task<AmiResync> NextResyncAsync(AmiEventSubscription events)
    {
        for (var i = 0; i < 200; i++)
        {
            if ((await events.NextAsync()).Resync is { } resync)
            {
                return resync;
            }
        }

        throw new InvalidOperationException("no resync within 200 items");
    }

    [Fact]
    public async Task PbxSimRestarts_InFlightActionsFailTyped_ClientReconnectsResyncsAndEventsResume()
    {
        var ct = TestContext.Current.CancellationToken;
        var simClock = new FakeTimeProvider();
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, simClock);
        await sim.StartAsync(ct);
        var clock = new FakeTimeProvider();
        await using var client = new AmiClient(Options(sim.AmiEndPoint.Port), timeProvider: clock);
        using var events = client.SubscribeEvents();
        await client.StartAsync(ct).Guarded();
        var first = await NextResyncAsync(events).Guarded();
        Assert.False(first.IsReconnect);
        await client.UserEventAsync("BeforeRestart", cancellationToken: ct).Guarded();
        Assert.Equal("BeforeRestart", (await NextEventAsync(events, "UserEvent").Guarded())["UserEvent"]);

        // Hold every answer (the simulator's clock never advances), so these stay in flight.
        sim.AmiResponseDelay = TimeSpan.FromHours(1);
        var inFlight = Enumerable.Range(0, 50).Select(_ => client.PingAsync(ct)).ToArray();
        sim.Restart();
        foreach (var action in inFlight)
        {
            var error = await Assert.ThrowsAsync<AmiConnectionException>(() => action.Guarded());
            Assert.Contains("broke", error.Message, StringComparison.Ordinal);
        }

        sim.AmiResponseDelay = TimeSpan.Zero;
        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1).Guarded();
        clock.Advance(down.NextAttemptIn!.Value);
        var up = await client.WaitForAsync(AmiConnectionState.Connected, 2).Guarded();
        var resync = await NextResyncAsync(events).Guarded();
        await client.UserEventAsync("AfterRestart", cancellationToken: ct).Guarded();

        Assert.True(up.IsReconnect);
        Assert.True(resync.IsReconnect);
        Assert.Equal(2, resync.ConnectionNumber);
        Assert.NotNull(resync.PreviousDisconnectReason);
        Assert.Equal("AfterRestart", (await NextEventAsync(events, "UserEvent").Guarded())["UserEvent"]);
    }

    [Fact]
    public async Task PbxSimKilledThenStartedOnSamePort_ClientRetriesWithBackoffAndComesBack()
    {
        var ct = TestContext.Current.CancellationToken;
        var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        var port = sim.AmiEndPoint.Port;
        var clock = new FakeTimeProvider();
        await using var client = new AmiClient(Options(port), timeProvider: clock);
        using var events = client.SubscribeEvents(["UserEvent"]);
        await client.StartAsync(ct).Guarded();
        await NextResyncAsync(events).Guarded();

        await sim.DisposeAsync();
        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1).Guarded();
        await Assert.ThrowsAsync<AmiConnectionException>(() => client.SendAsync(new AmiAction("Ping"), ct));
        clock.Advance(down.NextAttemptIn!.Value);
        // Nothing listens: the attempt is refused and the next one waits twice as long.
        var refused = await client.WaitForAsync(AmiConnectionState.Disconnected, 2).Guarded();
        Assert.Equal(down.NextAttemptIn.Value * 2, refused.NextAttemptIn);

        await using var restarted = new PbxSimulator(new PbxSimOptions { AmiPort = port, AriPort = 0 });
        await restarted.StartAsync(ct);
        clock.Advance(refused.NextAttemptIn!.Value);
        var up = await client.WaitForAsync(AmiConnectionState.Connected, 3).Guarded();
        var resync = await NextResyncAsync(events).Guarded();
        await client.UserEventAsync("Back", cancellationToken: ct).Guarded();

        Assert.True(up.IsReconnect);
        Assert.Equal(3, resync.ConnectionNumber);
        Assert.Equal("Back", (await NextEventAsync(events, "UserEvent").Guarded())["UserEvent"]);
    }

    [Fact]
    public async Task Dispose_LogsOffAndPbxSimAnswersGoodbye()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 });
        await sim.StartAsync(ct);
        var logger = new Microsoft.Extensions.Logging.Testing.FakeLogger<AmiClient>();
        var client = new AmiClient(Options(sim.AmiEndPoint.Port), logger);
        await client.StartAsync(ct).Guarded();

        await client.DisposeAsync().AsTask().Guarded();

        var loggedOff = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 4110);
        Assert.Contains("Goodbye", loggedOff.Message, StringComparison.Ordinal);
    }
}
