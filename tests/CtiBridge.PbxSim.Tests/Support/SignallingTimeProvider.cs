using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// A fake clock that also counts the timers created on it, so a test can wait until the simulator
/// has armed a timer (e.g. the failed-login delay) before advancing time, instead of sleeping.
/// </summary>
internal sealed class SignallingTimeProvider : TimeProvider
{
    private readonly object _gate = new();
    private int _created;
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SignallingTimeProvider(DateTimeOffset start) => Fake = new FakeTimeProvider(start);

    public FakeTimeProvider Fake { get; }

    public int TimersCreated
    {
        get
        {
            lock (_gate)
            {
                return _created;
            }
        }
    }

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        TaskCompletionSource signal;
        lock (_gate)
        {
            _created++;
            signal = _next;
            _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        signal.TrySetResult();
        return timer;
    }

    /// <summary>Completes once at least <paramref name="count"/> timers have been created.</summary>
    public async Task WaitForTimersAsync(int count, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            Task next;
            lock (_gate)
            {
                if (_created >= count)
                {
                    return;
                }

                next = _next.Task;
            }

            await next.WaitAsync(timeout.Token);
        }
    }

    /// <summary>Advances in steps of at most 10 ms, so timers fire in order at their own times.</summary>
    public void AdvanceTo(DateTimeOffset target)
    {
        while (Fake.GetUtcNow() < target)
        {
            var step = target - Fake.GetUtcNow();
            Fake.Advance(step > TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : step);
        }
    }
}
