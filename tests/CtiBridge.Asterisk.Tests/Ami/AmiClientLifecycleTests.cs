using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>Subscriptions opened after login, and how the client leaves (Logoff on dispose).</summary>
public sealed class AmiClientLifecycleTests
{
    [Fact]
    public async Task SubscribeEvents_WhileAlreadyConnected_StartsWithAResyncBeforeAnyEvent()
    {
        var sendEvent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await sendEvent.Task.WaitAsync(ct);
            await peer.SendAsync("Event: QueueCallerJoin\r\nQueue: sales\r\n\r\n", ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options());
        using var early = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        using var late = client.SubscribeEvents();
        sendEvent.SetResult();
        var lateFirst = await late.NextAsync().Guarded();
        var lateSecond = await late.NextAsync().Guarded();
        var earlyFirst = await early.NextAsync().Guarded();
        var earlySecond = await early.NextAsync().Guarded();

        Assert.True(lateFirst.IsResync);
        Assert.Equal(1, lateFirst.Resync!.ConnectionNumber);
        Assert.False(lateFirst.Resync.IsReconnect);
        Assert.Equal("QueueCallerJoin", lateSecond.Event!.EventName);
        Assert.True(earlyFirst.IsResync);
        Assert.Equal("QueueCallerJoin", earlySecond.Event!.EventName);
        Assert.False(late.TryRead(out _), "the late subscription got a second resync");
        Assert.False(early.TryRead(out _), "the early subscription got a second resync");
    }

    [Fact]
    public async Task DisposeAsync_SendsLogoffAndWaitsForGoodbye()
    {
        var logoff = new TaskCompletionSource<AmiMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            var action = (await peer.ReadActionAsync(ct))!;
            logoff.SetResult(action);
            await peer.SendAsync($"Response: Goodbye\r\nActionID: {action.ActionId}\r\nMessage: Thanks for all the fish.\r\n\r\n", ct);
        });
        var client = new AmiClient(server.Options());
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        await client.DisposeAsync().AsTask().Guarded();

        Assert.Equal("Logoff", (await logoff.Task.Guarded())["Action"]);
        Assert.Equal(AmiConnectionState.Stopped, client.State.State);
    }

    [Fact]
    public async Task DisposeAsync_LogoffUnanswered_StillCloses()
    {
        var logoffRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.ReadActionAsync(ct);
            logoffRead.SetResult();
            // Never answers; the client must close anyway.
            await peer.ReadActionAsync(ct);
        });
        var client = new AmiClient(server.Options() with { LogoffTimeout = TimeSpan.FromMilliseconds(200) });
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        await client.DisposeAsync().AsTask().Guarded();

        await logoffRead.Task.Guarded();
        Assert.Equal(AmiConnectionState.Stopped, client.State.State);
    }

    [Fact]
    public async Task DisposeAsync_LogoffTimeoutZero_ClosesWithoutLogoff()
    {
        var actions = new List<string?>();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            while (await peer.ReadActionAsync(ct) is { } action)
            {
                lock (actions)
                {
                    actions.Add(action["Action"]);
                }
            }

            closed.SetResult();
        });
        var client = new AmiClient(server.Options() with { LogoffTimeout = TimeSpan.Zero });
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        await client.DisposeAsync().AsTask().Guarded();
        await closed.Task.Guarded();

        lock (actions)
        {
            Assert.DoesNotContain("Logoff", actions);
        }
    }
}
