using System.Collections.Concurrent;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// The per-call timeout sources of one client, reused: a timeout almost never fires, so the source
/// of a call that ended in time is reset (its timer stopped, its registrations cleared) and armed
/// again for a later call, instead of a new source, timer and registration nodes on every call
/// (issue 5's cost per call). The timer comes from the client's <see cref="TimeProvider"/>, so a fake
/// clock drives reused sources as it drives new ones. A source that was cancelled (timeout, or the
/// caller's cancellation passed on to it) is disposed, never reused.
/// </summary>
internal sealed class AriRequestTimeouts(TimeSpan timeout, TimeProvider timeProvider) : IDisposable
{
    // Enough for every call in flight at once in the 200-in-flight case; more are disposed.
    private const int MaxPooled = 256;

    private readonly ConcurrentQueue<CancellationTokenSource> _pool = new();
    private int _pooled;
    private volatile bool _disposed;

    /// <summary>A source that cancels itself after the timeout, counted from now.</summary>
    public CancellationTokenSource Rent()
    {
        if (_pool.TryDequeue(out var source))
        {
            Interlocked.Decrement(ref _pooled);
            source.CancelAfter(timeout);
            return source;
        }

        return new CancellationTokenSource(timeout, timeProvider);
    }

    /// <summary>Gives a source back once its call is over (nothing may use its token any more).</summary>
    public void Return(CancellationTokenSource source)
    {
        if (!_disposed && source.TryReset())
        {
            if (Interlocked.Increment(ref _pooled) <= MaxPooled)
            {
                _pool.Enqueue(source);
                return;
            }

            Interlocked.Decrement(ref _pooled);
        }

        source.Dispose();
    }

    public void Dispose()
    {
        _disposed = true;
        while (_pool.TryDequeue(out var source))
        {
            source.Dispose();
        }
    }
}
