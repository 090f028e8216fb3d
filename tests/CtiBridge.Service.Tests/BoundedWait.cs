namespace CtiBridge.Service.Tests;

/// <summary>
/// The one bounded wait of the service tests that wait on real time (the database, service processes,
/// the dialer's campaigns): polls a condition until it holds, and fails with what was awaited (and, if
/// asked, what happened meanwhile) when the limit runs out. Shared so that every test class waits,
/// times out and explains itself the same way. Call control's fake-clock waits are <c>Eventually</c>.
/// </summary>
internal static class BoundedWait
{
    /// <summary>How often the condition is checked unless a caller asks otherwise.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Waits until <paramref name="done"/> returns true, checking every <paramref name="poll"/>
    /// (<see cref="DefaultPoll"/> when null), for at most <paramref name="limit"/>.
    /// </summary>
    /// <param name="done">The condition awaited.</param>
    /// <param name="what">What is awaited, in words, for the failure message.</param>
    /// <param name="limit">How long to wait at the most (real time).</param>
    /// <param name="explain">What happened, for the failure message; read only on a time-out.</param>
    /// <param name="poll">How often to check.</param>
    /// <exception cref="TimeoutException">The condition did not hold within <paramref name="limit"/>.</exception>
    public static async Task WaitUntilAsync(Func<Task<bool>> done, string what, TimeSpan limit, Func<Task<string>>? explain = null, TimeSpan? poll = null)
    {
        if (!await HoldsWithinAsync(done, limit, poll))
        {
            throw new TimeoutException($"Still waiting after {limit.TotalSeconds} s for {what}. {(explain is null ? string.Empty : await explain())}");
        }
    }

    /// <summary>
    /// Whether <paramref name="done"/> comes to return true within <paramref name="limit"/>, checked every
    /// <paramref name="poll"/> (<see cref="DefaultPoll"/> when null): for a test that acts again when it
    /// does not (a fake clock moved once more), where <see cref="WaitUntilAsync"/> would fail.
    /// </summary>
    public static async Task<bool> HoldsWithinAsync(Func<Task<bool>> done, TimeSpan limit, TimeSpan? poll = null)
    {
        // The test's own token: a cancelled test run stops the wait as cancelled, not as a time-out.
        var ct = TestContext.Current.CancellationToken;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(limit);
        while (!await done())
        {
            try
            {
                await Task.Delay(poll ?? DefaultPoll, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return false;
            }
        }

        return true;
    }
}
