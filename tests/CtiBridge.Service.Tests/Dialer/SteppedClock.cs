using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// A fake clock that knows when each timer created on it is due next, so a test can move it exactly to the
/// next instant something is scheduled for. <see cref="FakeTimeProvider"/> fires every timer passed over at
/// the instant it lands on (the callbacks see the end of the step), so stepping over a timer would make, say,
/// a customer's ring end late and everything scheduled from it drift; stepping from one due instant to the
/// next keeps every timer on its own time. Shared by PbxSim (rings, talks, hang-ups, AMD) and the dialer
/// (rounds, connect deadlines, wrap-ups), it is the single clock of the whole simulated call centre.
/// </summary>
internal sealed class SteppedClock : TimeProvider
{
    private readonly FakeTimeProvider _fake;
    private readonly object _gate = new();
    private readonly HashSet<TrackedTimer> _timers = [];

    public SteppedClock(DateTimeOffset start) => _fake = new FakeTimeProvider(start);

    public override DateTimeOffset GetUtcNow() => _fake.GetUtcNow();

    public override long GetTimestamp() => _fake.GetTimestamp();

    public override long TimestampFrequency => _fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new TrackedTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>The earliest instant any timer is due at (the dialer's periodic round included), or null.</summary>
    public DateTimeOffset? NextDue => Earliest(periodicToo: true);

    /// <summary>
    /// The earliest instant a one-shot timer is due at: PbxSim's model (a ring, a talk, an AMD verdict) or the
    /// dialer's own (a connect deadline, a wrap-up). None means nothing is scheduled but the dialer's rounds.
    /// </summary>
    public DateTimeOffset? NextOneShotDue => Earliest(periodicToo: false);

    private DateTimeOffset? Earliest(bool periodicToo)
    {
        lock (_gate)
        {
            DateTimeOffset? earliest = null;
            foreach (var timer in _timers)
            {
                if (timer.Due is { } due && (periodicToo || timer.Period is null) && (earliest is null || due < earliest))
                {
                    earliest = due;
                }
            }

            return earliest;
        }
    }

    /// <summary>Moves the clock to <paramref name="at"/> (or fires what is due now, if it is not later); the timers due fire on this thread.</summary>
    public void MoveTo(DateTimeOffset at)
    {
        var now = _fake.GetUtcNow();
        _fake.SetUtcNow(at > now ? at : now);
    }

    private sealed class TrackedTimer : ITimer
    {
        private readonly SteppedClock _clock;
        private readonly ITimer _inner;

        public TrackedTimer(SteppedClock clock, TimerCallback callback, object? state)
        {
            _clock = clock;
            _inner = clock._fake.CreateTimer(_ =>
            {
                // Before the callback: it may arm this timer again (PbxSim's model does).
                lock (_clock._gate)
                {
                    Due = Period is { } period && Due is { } due ? due + period : null;
                }

                callback(state);
            }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public DateTimeOffset? Due { get; private set; }

        public TimeSpan? Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (_clock._gate)
            {
                Due = dueTime == Timeout.InfiniteTimeSpan ? null : _clock.GetUtcNow() + (dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime);
                Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
            }

            return _inner.Change(dueTime, period);
        }

        public void Dispose()
        {
            lock (_clock._gate)
            {
                Due = null;
                _clock._timers.Remove(this);
            }

            _inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
