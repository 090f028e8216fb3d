namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// The one bounded wait of the dialer tests: polls a condition in real time until it holds, and fails
/// with what was awaited (and, if asked, what the database says happened) when the limit runs out.
/// Shared so that every dialer test class waits, times out and explains itself the same way.
/// </summary>
internal static class DialerWait
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
                throw new TimeoutException($"Still waiting after {limit.TotalSeconds} s for {what}. {(explain is null ? string.Empty : await explain())}");
            }
        }
    }
}
