using System.Net;
using System.Net.Sockets;
using CtiBridge.Asterisk.Ami;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ami;

public sealed class AmiClientReconnectTests
{
    public enum CloseAt
    {
        MidList,
        MidMessage,
        DuringLogin,
    }

    [Theory]
    [InlineData(CloseAt.MidList)]
    [InlineData(CloseAt.MidMessage)]
    [InlineData(CloseAt.DuringLogin)]
    public async Task ServerCloses_PendingActionsFailWithReasonThenClientReconnectsLogsInAndSignalsResync(CloseAt closeAt)
    {
        var clock = new FakeTimeProvider();
        var sessions = 0;
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            var session = Interlocked.Increment(ref sessions);
            if (session == 1 && closeAt == CloseAt.DuringLogin)
            {
                await peer.SendAsync("Asterisk Call Manager/11.0.0\r\n", ct);
                await peer.ReadActionAsync(ct);
                await peer.SendAsync("Response: Succ", ct);
                return;
            }

            await peer.ServeLoginAsync(ct);
            if (session == 1)
            {
                var action = (await peer.ReadActionAsync(ct))!;
                var id = action.ActionId;
                await peer.SendAsync(closeAt == CloseAt.MidList
                    ? $"Response: Success\r\nActionID: {id}\r\nEventList: start\r\n\r\nEvent: CoreShowChannel\r\nActionID: {id}\r\nChannel: Local/1@inbound-00000000;1\r\n\r\n"
                    : $"Response: Success\r\nActionID: {id}\r\nEventList: sta", ct);
                return;
            }

            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options(), timeProvider: clock);
        using var events = client.SubscribeEvents();

        if (closeAt == CloseAt.DuringLogin)
        {
            var start = client.StartAsync(TestContext.Current.CancellationToken);
            var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
            Assert.Contains("login", down.Reason!.Message, StringComparison.Ordinal);
            Assert.Contains("middle of a message", down.Reason.InnerException!.Message, StringComparison.Ordinal);
            Assert.False(start.IsCompleted);
            clock.Advance(down.NextAttemptIn!.Value);
            await start.Guarded();
        }
        else
        {
            await client.StartAsync(TestContext.Current.CancellationToken).Guarded();
            var list = client.SendListAsync(new AmiAction("CoreShowChannels"), TestContext.Current.CancellationToken);
            var error = await Assert.ThrowsAsync<AmiConnectionException>(() => list.Guarded());
            Assert.Contains("closed the AMI connection", error.Message, StringComparison.Ordinal);
            if (closeAt == CloseAt.MidMessage)
            {
                Assert.Contains("middle of a message", error.Message, StringComparison.Ordinal);
            }

            var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
            Assert.Equal(TimeSpan.FromMilliseconds(500), down.NextAttemptIn);
            clock.Advance(TimeSpan.FromMilliseconds(500));
        }

        var up = await client.WaitForAsync(AmiConnectionState.Connected, 2);
        Assert.Equal(closeAt != CloseAt.DuringLogin, up.IsReconnect);
        AmiEventItem item;
        while (!(item = await events.NextAsync()).IsResync || item.Resync!.ConnectionNumber < 2)
        {
        }

        Assert.NotNull(item.Resync.PreviousDisconnectReason);
        Assert.Equal("Ping", (await client.SendAsync(new AmiAction("Ping"), TestContext.Current.CancellationToken).Guarded())["Echo"]);
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task Reconnect_NothingListening_BacksOffExponentiallyUpToTheMaximumOnTheFakeClock()
    {
        var port = FreePort();
        var clock = new FakeTimeProvider();
        await using var client = new AmiClient(new AmiClientOptions
        {
            Port = port,
            Username = "ctibridge",
            Secret = "s",
            ReconnectJitter = 0,
            ReconnectDelayMin = TimeSpan.FromSeconds(1),
            ReconnectDelayMax = TimeSpan.FromSeconds(8),
        }, timeProvider: clock);
        _ = client.StartAsync(TestContext.Current.CancellationToken);

        var seen = new List<TimeSpan>();
        for (var attempt = 1; attempt <= 6; attempt++)
        {
            var down = await client.WaitForAsync(AmiConnectionState.Disconnected, attempt);
            Assert.Equal(attempt, down.ConnectionNumber);
            seen.Add(down.NextAttemptIn!.Value);
            clock.Advance(down.NextAttemptIn.Value - TimeSpan.FromMilliseconds(1));
            Assert.Equal(attempt, client.State.ConnectionNumber);
            clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        Assert.Equal([1, 2, 4, 8, 8, 8], seen.Select(d => d.TotalSeconds));
    }

    [Fact]
    public void ComputeBackoff_WithJitter_StaysWithinTheSpreadAndDoubles()
    {
        var options = new AmiClientOptions { Username = "u", Secret = "s", ReconnectDelayMin = TimeSpan.FromSeconds(1), ReconnectDelayMax = TimeSpan.FromSeconds(30), ReconnectJitter = 0.2 };

        Assert.Equal(TimeSpan.FromSeconds(0.8), AmiClient.ComputeBackoff(options, 1, 0));
        Assert.Equal(TimeSpan.FromSeconds(1.2), AmiClient.ComputeBackoff(options, 1, 1));
        Assert.Equal(TimeSpan.FromSeconds(4), AmiClient.ComputeBackoff(options, 3, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(36), AmiClient.ComputeBackoff(options, 60, 1));
    }

    [Fact]
    public async Task KeepAlive_PeerStopsAnswering_PingTimeoutBreaksTheConnection()
    {
        var clock = new FakeTimeProvider();
        var pingSeen = new TaskCompletionSource<AmiMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            // A dead peer: reads, never answers.
            while (await peer.ReadActionAsync(ct) is { } action)
            {
                pingSeen.TrySetResult(action);
            }
        });
        await using var client = new AmiClient(server.Options() with { PingInterval = TimeSpan.FromSeconds(20), PingTimeout = TimeSpan.FromSeconds(5) }, timeProvider: clock);
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal("Ping", (await pingSeen.Task.Guarded())["Action"]);
        Assert.Equal(AmiConnectionState.Connected, client.State.State);
        clock.Advance(TimeSpan.FromSeconds(5));

        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
        Assert.Contains("keep-alive Ping", down.Reason!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reader_LineLongerThanMaximum_BreaksTheConnectionWithProtocolError()
    {
        var clock = new FakeTimeProvider();
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.SendAsync("Event: VarSet\r\nValue: " + new string('x', 5000), ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options() with { MaxLineLength = 1024 }, timeProvider: clock);
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);

        Assert.IsType<AmiProtocolException>(down.Reason);
        Assert.Contains("1024", down.Reason!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposeAsync_WithPendingActionAndOpenSubscription_FailsActionEndsStreamPromptly()
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.ReadActionAsync(ct);
            received.SetResult();
            await peer.ReadActionAsync(ct);
        });
        var client = new AmiClient(server.Options());
        using var events = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();
        var pending = client.SendAsync(new AmiAction("Ping"), TestContext.Current.CancellationToken);
        await received.Task.Guarded();

        await client.DisposeAsync().AsTask().Guarded();

        var error = await Assert.ThrowsAsync<AmiConnectionException>(() => pending.Guarded());
        Assert.IsType<ObjectDisposedException>(error.InnerException);
        Assert.Equal(AmiConnectionState.Stopped, client.State.State);
        var items = 0;
        await foreach (var _ in events.WithCancellation(TestContext.Current.CancellationToken))
        {
            items++;
        }

        Assert.Equal(1, items); // the resync of the only login
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.SendAsync(new AmiAction("Ping"), TestContext.Current.CancellationToken));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
