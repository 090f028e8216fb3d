using System.Collections.Concurrent;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Service.Dialer;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// The dialer's per-channel request sequences: the press-1 ordering (a listener who pressed 1 joins
/// the agent's bridge only after the requests queued on the listener's channel, message stop and
/// music, are done), without timing: each step is released by hand.
/// </summary>
public sealed class AriSequenceTests
{
    private sealed class Sequence : AriSequence;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RunAfter_TheBridgeWaitsForTheListenersQueuedRequests()
    {
        var listener = new Sequence();
        var agent = new Sequence();
        var order = new ConcurrentQueue<string>();
        var stopAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var musicAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Run("stop the broadcast", NullLogger.Instance, async _ => { await stopAnswered.Task; order.Enqueue("message stopped"); }, null, Ct);
        listener.Run("stop the music", NullLogger.Instance, async _ => { await musicAnswered.Task; order.Enqueue("music stopped"); }, null, Ct);

        // The agent's own earlier request (back to the holding bridge) runs at once; the bridge waits.
        agent.Run("back to the holding bridge", NullLogger.Instance, _ => { order.Enqueue("agent held"); return Task.CompletedTask; }, null, Ct);
        var bridged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        agent.RunAfter(listener, "bridge the listener with an agent", NullLogger.Instance, _ => { order.Enqueue("bridged"); bridged.SetResult(); return Task.CompletedTask; }, null, Ct);

        // A request queued on the listener after the bridge was decided does not hold it up.
        var later = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Run("a later request", NullLogger.Instance, async _ => { await later.Task; order.Enqueue("later"); }, null, Ct);

        stopAnswered.SetResult();
        Assert.False(bridged.Task.IsCompleted, "bridged while the music stop was still unanswered");
        musicAnswered.SetResult();
        await bridged.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        later.SetResult();

        var steps = order.ToArray();
        Assert.True(Array.IndexOf(steps, "bridged") > Array.IndexOf(steps, "music stopped"), string.Join(", ", steps));
        Assert.True(Array.IndexOf(steps, "bridged") > Array.IndexOf(steps, "message stopped"), string.Join(", ", steps));
        Assert.True(Array.IndexOf(steps, "bridged") > Array.IndexOf(steps, "agent held"), string.Join(", ", steps));
    }

    [Fact]
    public async Task RunAfter_AFailedListenerRequest_StillLetsTheBridgeGoAhead()
    {
        var listener = new Sequence();
        var agent = new Sequence();
        Exception? reported = null;
        listener.Run("stop the music", NullLogger.Instance, _ => throw new AriTimeoutException("DELETE", "/channels/x/moh", TimeSpan.FromSeconds(10)), e => reported = e, Ct);
        listener.Run("something unexpected", NullLogger.Instance, _ => throw new InvalidOperationException("not an ARI failure"), null, Ct);
        var bridged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        agent.RunAfter(listener, "bridge the listener with an agent", NullLogger.Instance, _ => { bridged.SetResult(); return Task.CompletedTask; }, null, Ct);

        await bridged.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.IsType<AriTimeoutException>(reported);
    }
}
