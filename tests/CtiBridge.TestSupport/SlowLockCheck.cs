using CtiBridge.Data.Leases;

namespace CtiBridge.TestSupport;

/// <summary>
/// The slow-check case of a lease's lock session (issue 14), deterministic: the watch runs on a fake clock and its
/// connection goes through a <see cref="LoopbackProxy"/> that holds the database's replies (the check reaches the
/// server, its answer waits; nothing breaks). Used for call control's lease and the dialer's session lease alike.
/// </summary>
public static class SlowLockCheck
{
    /// <summary>
    /// Timing for the fake clock: a check every second, slow after 2 s (the old timeout that stopped call control), and a
    /// server idle timeout of 60 s so the real server never ends the session while the test holds its replies.
    /// </summary>
    public static readonly LockSessionTiming Timing = new()
    {
        CheckInterval = TimeSpan.FromSeconds(1),
        SlowCheck = TimeSpan.FromSeconds(2),
        ServerIdleTimeout = TimeSpan.FromSeconds(60),
        StopMargin = TimeSpan.FromSeconds(1),
    };

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A check whose reply is held for 10 s of the watch's clock (five times the slow mark) stops nothing: the watch
    /// logs it slow, the reply comes, the lock is still held and the lease goes on.
    /// </summary>
    /// <param name="watch">The watch, on a fake clock, its connection through <paramref name="proxy"/>, no check sent yet.</param>
    /// <param name="proxy">The proxy in front of the database.</param>
    /// <param name="advance">Moves the watch's fake clock.</param>
    /// <param name="ct">The test's cancellation.</param>
    public static async Task SlowReplyStopsNothingAsync(LockSessionWatch watch, LoopbackProxy proxy, Action<TimeSpan> advance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(watch);
        ArgumentNullException.ThrowIfNull(proxy);
        ArgumentNullException.ThrowIfNull(advance);
        proxy.HoldReplies();
        var sent = watch.ChecksSent;
        await CheckSentAsync(watch, sent, advance, ct);

        advance(Timing.SlowCheck + TimeSpan.FromSeconds(0.5));
        await UntilAsync(() => watch.SlowChecks > 0, "the watch to see its check as slow", ct);
        advance(TimeSpan.FromSeconds(7.5)); // 10 s since the check was sent: five times the old 2 s timeout
        Require(!watch.Lost.IsCancellationRequested, $"a check that was only slow stopped the lease: {watch.LostReason}");

        proxy.Restore();
        await UntilAsync(() => watch.ChecksAnswered > 0 || watch.Lost.IsCancellationRequested, "the held check's answer", ct);
        Require(!watch.Lost.IsCancellationRequested, $"a check that was only slow stopped the lease: {watch.LostReason}");
        Require(watch.ChecksAnswered == 1, $"{watch.ChecksAnswered} checks answered, 1 expected");
        Require(watch.IsHeld, "the lease is not held after the answer");
    }

    /// <summary>
    /// With the replies held for good (a stalled path), the watch counts the lease lost once no check has been answered
    /// for <see cref="LockSessionTiming.Validity"/> since the last answered one was sent, and not before: the server may
    /// end the session only at <see cref="LockSessionTiming.ServerIdleTimeout"/>.
    /// </summary>
    /// <param name="watch">The watch (after <see cref="SlowReplyStopsNothingAsync"/>: its last answered check's send is known to the test only as "a few seconds ago").</param>
    /// <param name="proxy">The proxy in front of the database.</param>
    /// <param name="advance">Moves the watch's fake clock.</param>
    /// <param name="ct">The test's cancellation.</param>
    public static async Task StalledRepliesLoseBeforeTheServerCouldAsync(LockSessionWatch watch, LoopbackProxy proxy, Action<TimeSpan> advance, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(watch);
        ArgumentNullException.ThrowIfNull(proxy);
        ArgumentNullException.ThrowIfNull(advance);
        proxy.HoldReplies();
        await CheckSentAsync(watch, watch.ChecksSent, advance, ct);

        // Still held 20 s on: far past the slow mark, well inside what the last answer proves.
        advance(TimeSpan.FromSeconds(20));
        await UntilAsync(() => watch.SlowChecks > 1, "the watch to see its second check as slow", ct);
        Require(!watch.Lost.IsCancellationRequested, $"lost at 20 s of a 59 s validity: {watch.LostReason}");
        Require(watch.IsHeld, "the lease is not held after the answer");

        // Past the 59 s validity since the last answered check was sent (about 11 s before this one): lost, while the
        // server, which heard that check later still, keeps the session for 60 s.
        advance(TimeSpan.FromSeconds(39));
        await UntilAsync(() => watch.Lost.IsCancellationRequested, "the watch to count its lease lost", ct);
        Require(watch.LostReason?.Contains("no answer", StringComparison.Ordinal) == true, $"lost for another reason: {watch.LostReason}");
        Require(!watch.IsHeld, "still held after its loss");
        proxy.Restore();
    }

    // Each advance of one check interval lets the watch's timer fire once it is set; bounded in steps and real time.
    private static async Task CheckSentAsync(LockSessionWatch watch, int before, Action<TimeSpan> advance, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + Bound;
        for (var step = 0; watch.ChecksSent == before; step++)
        {
            Require(step < 10 && DateTime.UtcNow < deadline, $"no check sent after {step} steps of {Timing.CheckInterval.TotalSeconds} s");
            advance(Timing.CheckInterval);
            var stepEnd = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            while (watch.ChecksSent == before && DateTime.UtcNow < stepEnd)
            {
                await Task.Delay(20, ct);
            }
        }
    }

    private static async Task UntilAsync(Func<bool> condition, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Require(DateTime.UtcNow < deadline, $"still waiting after {Bound.TotalSeconds} s for {what}");
            await Task.Delay(20, ct);
        }
    }

    // This project has no assertion library: a broken expectation fails the calling test with its message.
    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
