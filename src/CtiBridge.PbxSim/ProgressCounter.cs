namespace CtiBridge.PbxSim;

/// <summary>
/// A counter with an awaitable "reached N": the servers bump it once a request's synchronous part
/// has run (timers armed, events queued), so a test on a fake clock knows when it may advance time.
/// </summary>
internal sealed class ProgressCounter
{
    private readonly object _gate = new();
    private long _count;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public void Signal()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _count++;
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public async Task WaitForAsync(long count, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_count >= count)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }
}
