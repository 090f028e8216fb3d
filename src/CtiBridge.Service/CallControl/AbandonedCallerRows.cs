namespace CtiBridge.Service.CallControl;

/// <summary>
/// Orders the two writers of an abandoned caller's write-ahead row in <c>live_calls</c>. The live state writer
/// inserts the row (the caller queued) and marks it at the abandon; call control deletes it once the caller's
/// callback request is stored. They write on different connections, so under load the delete could run before
/// the writer's batch with the insert and the mark was committed: it deleted nothing and the marked row stayed
/// until the abandoned-caller sweep (found by <c>LiveDayRestartTests</c> in CI). Both now go through one gate: a
/// delete that finds no row remembers the call, and the writer then writes that call's end as a delete instead
/// of a mark. A delete that runs after the writer's batch finds the row, whether marked yet or not.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The gate's wait handle is never asked for, so it holds nothing to dispose; the live state writer may still use it while the call center is disposed.")]
internal sealed class AbandonedCallerRows(TimeProvider clock)
{
    // Longer than any writer batch can lag behind (it retries each second while the database is down); a call id
    // is never reused, so a remembered id that the writer never asks about does no harm until it is pruned.
    private static readonly TimeSpan Remembered = TimeSpan.FromMinutes(30);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, DateTimeOffset> _forgotten = new(StringComparer.Ordinal);
    private readonly Lock _forgottenGate = new();

    /// <summary>How many calls are remembered as forgotten before their row was written (for tests).</summary>
    internal int Remembering
    {
        get
        {
            lock (_forgottenGate)
            {
                return _forgotten.Count;
            }
        }
    }

    /// <summary>
    /// Deletes the call's row with <paramref name="delete"/> (which says whether it deleted a row) while no live state batch
    /// is being written; when there was no row yet, the writer is told to delete it instead of marking it.
    /// </summary>
    public async Task ForgetAsync(string callId, Func<CancellationToken, Task<bool>> delete, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delete);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (await delete(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var now = clock.GetUtcNow();
            lock (_forgottenGate)
            {
                foreach (var old in _forgotten.Where(f => now - f.Value > Remembered).Select(f => f.Key).ToList())
                {
                    _forgotten.Remove(old);
                }

                _forgotten[callId] = now;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Whether the call's row was let go before the writer wrote it: its end is then a delete, not a mark.</summary>
    public bool Forgotten(string callId)
    {
        lock (_forgottenGate)
        {
            return _forgotten.ContainsKey(callId);
        }
    }

    /// <summary>Holds the gate while the live state writer makes and stores one batch.</summary>
    public async Task<IDisposable> EnterWriteAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Exit(_gate);
    }

    private sealed class Exit(SemaphoreSlim gate) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
