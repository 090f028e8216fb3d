namespace CtiBridge.Data.Records;

/// <summary>
/// How far the call-record writer is behind: records handed to it and not yet in PostgreSQL (waiting
/// in memory, held, or in the journal while the database is unreachable) and when the oldest of them
/// was handed over. Records go through the writer in the order they arrive (the journal keeps that
/// order), so a queue of arrival times, consumed from the front as records are stored, is exact.
/// Records already in the journal when the process started are not counted here (their age is not
/// known); <c>ctibridge_record_journal_bytes</c> shows them.
/// </summary>
public sealed class RecordWriterLag
{
    // Runs of records that arrived at the same instant are kept as one entry (a call's records come together).
    private readonly Queue<Arrivals> _arrivals = new();
    private readonly Lock _gate = new();
    private long _pending;

    private sealed class Arrivals(DateTimeOffset at, long count)
    {
        public DateTimeOffset At { get; } = at;

        public long Count { get; set; } = count;
    }

    /// <summary>Records handed to the writer and not yet stored in PostgreSQL (nor set aside as refused).</summary>
    public long Pending
    {
        get
        {
            lock (_gate)
            {
                return _pending;
            }
        }
    }

    /// <summary>When the oldest pending record was handed over; null when none is pending.</summary>
    public DateTimeOffset? OldestArrival
    {
        get
        {
            lock (_gate)
            {
                return _arrivals.Count == 0 ? null : _arrivals.Peek().At;
            }
        }
    }

    /// <summary>Age of the oldest pending record at <paramref name="now"/>; zero when none is pending.</summary>
    public TimeSpan Age(DateTimeOffset now) => OldestArrival is { } oldest && now > oldest ? now - oldest : TimeSpan.Zero;

    /// <summary>One record was handed to the writer at <paramref name="at"/>.</summary>
    public void Arrived(DateTimeOffset at)
    {
        lock (_gate)
        {
            _pending++;
            // Only the last run can be extended: arrivals out of clock order (never expected) start a new run.
            if (_arrivals.Count > 0 && _lastRun is { } last && last.At == at)
            {
                last.Count++;
                return;
            }

            _lastRun = new Arrivals(at, 1);
            _arrivals.Enqueue(_lastRun);
        }
    }

    private Arrivals? _lastRun;

    /// <summary>
    /// The <paramref name="count"/> oldest pending records are done: stored, or refused for good and
    /// set aside. More than are pending (records of an earlier run's journal) empties the queue.
    /// </summary>
    public void Done(long count)
    {
        if (count <= 0)
        {
            return;
        }

        lock (_gate)
        {
            _pending = Math.Max(0, _pending - count);
            while (count > 0 && _arrivals.Count > 0)
            {
                var first = _arrivals.Peek();
                if (first.Count > count)
                {
                    first.Count -= count;
                    return;
                }

                count -= first.Count;
                _arrivals.Dequeue();
            }

            if (_arrivals.Count == 0)
            {
                _lastRun = null;
            }
        }
    }
}
