namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// The timeouts of one connection's actions: one timer for all of them, set to the earliest
/// deadline, instead of a timer per action (creating and disposing a timer per action cost more
/// than the rest of a round trip with a thousand actions in flight). Answered actions are not
/// removed one by one; the sweep skips them, and the queue is compacted when they pile up.
/// </summary>
internal sealed class AmiActionTimeouts : IDisposable
{
    private readonly Lock _lock = new();
    private readonly PriorityQueue<AmiPendingAction, long> _queue = new();
    private readonly TimeProvider _time;
    private readonly Func<int> _pendingCount;
    private readonly ITimer _timer;
    private long _scheduledFor = long.MaxValue;
    private bool _disposed;

    /// <param name="time">Clock for deadlines and the sweep timer.</param>
    /// <param name="pendingCount">Actions still waiting (decides when to compact).</param>
    public AmiActionTimeouts(TimeProvider time, Func<int> pendingCount)
    {
        _time = time;
        _pendingCount = pendingCount;
        _timer = time.CreateTimer(static state => ((AmiActionTimeouts)state!).Sweep(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Number of entries held, answered ones included (tests check compaction).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Starts the timeouts of actions just handed to the socket (writer loop).</summary>
    public void Arm(List<AmiPendingAction> actions)
    {
        var now = _time.GetTimestamp();
        var earliest = long.MaxValue;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            foreach (var action in actions)
            {
                if (action.Task.IsCompleted)
                {
                    continue;
                }

                var deadline = now + ToTimestampTicks(action.Timeout);
                _queue.Enqueue(action, deadline);
                earliest = Math.Min(earliest, deadline);
            }

            // Answered entries wait for the sweep; compacting once they outnumber the live ones
            // (plus a margin) keeps memory bounded at O(1) amortised cost per action.
            if (_queue.Count > 4096 + (2 * _pendingCount()))
            {
                Compact();
            }

            if (earliest < _scheduledFor)
            {
                Schedule(earliest, now);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _queue.Clear();
        }

        _timer.Dispose();
    }

    private void Sweep()
    {
        List<AmiPendingAction>? expired = null;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var now = _time.GetTimestamp();
            _scheduledFor = long.MaxValue;
            while (_queue.TryPeek(out var action, out var deadline))
            {
                if (action.Task.IsCompleted)
                {
                    _queue.Dequeue();
                    continue;
                }

                if (deadline > now)
                {
                    Schedule(deadline, now);
                    break;
                }

                _queue.Dequeue();
                (expired ??= []).Add(action);
            }
        }

        // Outside the lock: failing an action logs and completes a task.
        if (expired is not null)
        {
            foreach (var action in expired)
            {
                action.OnTimeout();
            }
        }
    }

    private void Compact()
    {
        // O(n): copy the unanswered entries, then rebuild the heap in one pass.
        var live = new List<(AmiPendingAction, long)>(_queue.Count / 2);
        foreach (var entry in _queue.UnorderedItems)
        {
            if (!entry.Element.Task.IsCompleted)
            {
                live.Add(entry);
            }
        }

        _queue.Clear();
        _queue.EnqueueRange(live);
    }

    private void Schedule(long deadline, long now)
    {
        _scheduledFor = deadline;
        var due = deadline <= now ? TimeSpan.Zero : TimeSpan.FromSeconds((deadline - now) / (double)_time.TimestampFrequency);
        // A system timer can fire a hair early; the sweep then re-arms for the remainder.
        _timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    private long ToTimestampTicks(TimeSpan timeout) =>
        (long)(timeout.Ticks * (_time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));
}
