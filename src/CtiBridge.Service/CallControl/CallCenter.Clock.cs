namespace CtiBridge.Service.CallControl;

/// <summary>The call center's time: the wall clock, kept monotonic and deaf to steps.</summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// Service key of a <see cref="TimeProvider"/> the call center uses instead of the host's, when one
    /// is registered under it: its timers (ring timeouts, wrap-ups, IVR key waits) then run on that clock
    /// while the Asterisk connections keep the host's. Tests register a fake clock here so that a ring
    /// timeout fires only when the test advances it, never because the machine was slow.
    /// </summary>
    public const string ClockServiceKey = "callControl.clock";

    /// <summary>A wall clock ahead of the engine's time by more than this is a step, not drift.</summary>
    internal static readonly TimeSpan ClockStepTolerance = TimeSpan.FromSeconds(2);

    private long _lastTimestamp;
    private bool _clockStarted;
    private TimeSpan _loggedStep;

    // The engine's time for the next input. Inputs must not go back in time, and the engine's timers
    // (ring timeouts, wrap-ups, retries) must neither freeze nor fire in a burst when the wall clock is
    // stepped (an NTP step, an operator, a VM resumed): between two readings the time advances by the
    // monotonic elapsed time, and follows the wall clock only while it is ahead by less than
    // ClockStepTolerance (drift being corrected). A stepped wall clock is logged; the records then keep
    // the engine's time, offset from the wall clock by the step (docs/reliability.md).
    private DateTimeOffset Now()
    {
        var wall = _time.GetUtcNow();
        var timestamp = _time.GetTimestamp();
        if (!_clockStarted)
        {
            _clockStarted = true;
            _lastTimestamp = timestamp;
            _lastAt = wall > _lastAt ? wall : _lastAt;
            return _lastAt;
        }

        var monotonic = _lastAt + _time.GetElapsedTime(_lastTimestamp, timestamp);
        _lastTimestamp = timestamp;
        var ahead = wall - monotonic;
        if (ahead > TimeSpan.Zero && ahead <= ClockStepTolerance)
        {
            _lastAt = wall;
        }
        else
        {
            // Once per step, not on every input while the clocks stay apart.
            if ((ahead - _loggedStep).Duration() > ClockStepTolerance)
            {
                _loggedStep = ahead;
                LogClockStepped(_logger, ahead.TotalSeconds, monotonic);
            }

            _lastAt = monotonic;
        }

        return _lastAt;
    }

    [LoggerMessage(EventId = 819, Level = LogLevel.Warning, Message = "The wall clock differs from the call center's time by {Seconds} s (a clock step); ring timeouts, wrap-ups and records go on with the monotonic time {Time:O}")]
    private static partial void LogClockStepped(ILogger logger, double seconds, DateTimeOffset time);
}
