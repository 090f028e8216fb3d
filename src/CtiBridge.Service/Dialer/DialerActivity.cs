namespace CtiBridge.Service.Dialer;

/// <summary>
/// What the dialer has in hand: steps queued or running on its loop, ARI requests of its channels'
/// sequences not yet answered (and whatever they report back), background checks (channel lists, the
/// orphan sweep, rows written ahead), and the Asterisk events it has taken off its connection. A step
/// that starts another (a request from the loop, an event posted to it, a failure reported back) counts
/// the new one before the old one ends, so <see cref="Pending"/> is zero only when nothing started at
/// the present instant is still going. A test driving the dialer and PbxSim on one fake clock moves the
/// clock only then (and only once PbxSim has handed over no more events than <see cref="EventsRead"/>):
/// every reaction to an instant is over before the next instant comes, whatever the machine's load.
/// </summary>
internal sealed class DialerActivity
{
    private long _pending;
    private long _started;
    private long _eventsRead;

    /// <summary>Work started and not yet ended.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Work started since the dialer was made: unchanged between two looks means nothing started in between.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Asterisk events read off the dialer's events connection (each already counted as work until handled).</summary>
    public long EventsRead => Interlocked.Read(ref _eventsRead);

    /// <summary>A piece of work starts (call before handing it on, so it counts from the moment it exists).</summary>
    public void Start()
    {
        Interlocked.Increment(ref _started);
        Interlocked.Increment(ref _pending);
    }

    /// <summary>A piece of work counted by <see cref="Start"/> is over (after it has started whatever follows from it).</summary>
    public void End() => Interlocked.Decrement(ref _pending);

    /// <summary>An event was taken off the connection and posted to the loop (after it was counted as work).</summary>
    public void EventRead() => Interlocked.Increment(ref _eventsRead);

    /// <summary>Runs <paramref name="work"/> off the loop, counted from now until it (and what it posted) is over.</summary>
    public Task Run(Func<Task> work)
    {
        Start();
        return Task.Run(async () =>
        {
            try
            {
                await work().ConfigureAwait(false);
            }
            finally
            {
                End();
            }
        });
    }

    /// <summary>Counts a request already sent whose outcome nobody waits for, until it is answered or fails.</summary>
    public void Track(Task request)
    {
        Start();
        request.ContinueWith(static (answered, activity) =>
        {
            _ = answered.Exception; // nobody waits for it: a failure is no news (the channel or bridge was going anyway)
            ((DialerActivity)activity!).End();
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
