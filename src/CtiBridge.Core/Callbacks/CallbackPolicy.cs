using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Callbacks;

/// <summary>The callback rules of the centre (configuration <c>callbacks</c>, docs/callbacks.md §3).</summary>
public sealed record CallbackPolicy
{
    /// <summary>An abandoned caller who waited at least this long gets an automatic callback. Default 10 s.</summary>
    public TimeSpan AbandonedMinimumWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An abandoned-call callback must be made within this time of the hang-up (REQUIREMENTS CB-03/N-08). Default 10 minutes.</summary>
    public TimeSpan AbandonedCallbackWithin { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>A voicemail must be called back within this time. Default 2 hours.</summary>
    public TimeSpan VoicemailCallbackWithin { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Attempts (no answer, busy, failed) before a callback fails. Default 3.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Wait before the second attempt. Default 5 minutes.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Each further attempt waits this many times longer than the one before. Default 2.</summary>
    public double RetryBackoff { get; init; } = 2.0;

    /// <summary>Upper bound of a retry wait. Default 1 hour.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromHours(1);

    /// <summary>An agent-owned callback waits this long for its owner once due, then any agent of the queue may take it. Default 15 minutes.</summary>
    public TimeSpan OwnerGrace { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The owner (or the queue's supervisors) is reminded this long before a scheduled callback is due. Default 5 minutes; zero for no reminder.</summary>
    public TimeSpan ReminderBefore { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A callback still open this long after it was due (or past its deadline, whichever is first) escalates to the supervisors. Default 10 minutes.</summary>
    public TimeSpan EscalateAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Queue priority of a callback placed in the ACD (above ordinary calls at the default 0). Default 5.</summary>
    public int Priority { get; init; } = 5;

    /// <summary>Hours in which callbacks are placed; null for always. A due time outside them moves to the next opening.</summary>
    public BusinessHours? Hours { get; init; }

    /// <summary>Hours of particular queues (their callbacks follow these instead of <see cref="Hours"/>).</summary>
    public IReadOnlyDictionary<string, BusinessHours> QueueHours { get; init; } = new Dictionary<string, BusinessHours>(StringComparer.Ordinal);

    /// <summary>
    /// An open callback still not kept this long after the later of its deadline and due time is closed
    /// as <see cref="CallbackState.Expired"/> (a promise out of reach, reported as lost). Default 1 day.
    /// </summary>
    public TimeSpan ExpireAfter { get; init; } = TimeSpan.FromDays(1);

    /// <summary>The hours that apply to callbacks of <paramref name="queue"/>: its own, else the centre's; null for always.</summary>
    public BusinessHours? HoursFor(string? queue) => queue is not null && QueueHours.TryGetValue(queue, out var own) ? own : Hours;

    /// <summary>Whether any hours are configured (otherwise callbacks are placed at any time).</summary>
    public bool HasHours => Hours is not null || QueueHours.Count > 0;

    /// <summary>Problems of this policy, one line each; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                problems.Add($"callbacks.{name} must be positive (is {value})");
            }
        }

        if (AbandonedMinimumWait < TimeSpan.Zero)
        {
            problems.Add($"callbacks.abandonedMinimumWait must not be negative (is {AbandonedMinimumWait})");
        }

        Positive(AbandonedCallbackWithin, "abandonedCallbackWithin");
        Positive(VoicemailCallbackWithin, "voicemailCallbackWithin");
        Positive(RetryDelay, "retryDelay");
        Positive(MaxRetryDelay, "maxRetryDelay");
        Positive(EscalateAfter, "escalateAfter");
        Positive(ExpireAfter, "expireAfter");
        if (OwnerGrace < TimeSpan.Zero)
        {
            problems.Add($"callbacks.ownerGrace must not be negative (is {OwnerGrace})");
        }

        if (ReminderBefore < TimeSpan.Zero)
        {
            problems.Add($"callbacks.reminderBefore must not be negative (is {ReminderBefore})");
        }

        if (MaxAttempts < 1)
        {
            problems.Add($"callbacks.maxAttempts must be at least 1 (is {MaxAttempts})");
        }

        if (RetryBackoff < 1.0 || double.IsNaN(RetryBackoff))
        {
            problems.Add($"callbacks.retryBackoff must be 1 or more (is {RetryBackoff})");
        }

        return problems;
    }
}

/// <summary>The times of a new callback, worked out by <see cref="CallbackPlanner.Plan"/>.</summary>
/// <param name="PromisedAt">What the customer was promised (before the calendar moved it).</param>
/// <param name="DueAt">When to place it (inside the hours).</param>
/// <param name="Deadline">Latest time that keeps the promise, or null.</param>
public readonly record struct CallbackTimes(DateTimeOffset PromisedAt, DateTimeOffset DueAt, DateTimeOffset? Deadline);

/// <summary>Pure rules of callback timing: due times, the calendar, retries, reminders and escalation.</summary>
public static class CallbackPlanner
{
    /// <summary>
    /// Whether an abandoned call earns a callback: the caller waited at least
    /// <see cref="CallbackPolicy.AbandonedMinimumWait"/> and left a number.
    /// </summary>
    public static bool AbandonEarnsCallback(CallbackPolicy policy, TimeSpan waited, string? number) =>
        waited >= policy.AbandonedMinimumWait && !string.IsNullOrWhiteSpace(number);

    /// <summary>Due time, promise and deadline of a new request made at <paramref name="now"/>.</summary>
    public static CallbackTimes Plan(CallbackPolicy policy, CallbackRequest request, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(request);
        var promised = request.DueAt is { } d && d > now ? d : now;
        var deadline = request.Deadline ?? request.Source switch
        {
            CallbackSource.Abandoned => now + policy.AbandonedCallbackWithin,
            CallbackSource.Voicemail => now + policy.VoicemailCallbackWithin,
            _ => (DateTimeOffset?)null,
        };
        return new CallbackTimes(promised, InHours(policy, promised, request.Queue), deadline);
    }

    /// <summary>The time itself when inside the hours (of <paramref name="queue"/>, else the centre's), else the next opening.</summary>
    public static DateTimeOffset InHours(CallbackPolicy policy, DateTimeOffset at, string? queue = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.HoursFor(queue) is { } hours ? hours.NextOpening(at) : at;
    }

    /// <summary>Whether a callback of <paramref name="queue"/> may be placed at <paramref name="at"/> (always, without hours).</summary>
    public static bool IsPlacingTime(CallbackPolicy policy, DateTimeOffset at, string? queue = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.HoursFor(queue) is not { } hours || hours.IsOpen(at);
    }

    /// <summary>When an open callback expires: <see cref="CallbackPolicy.ExpireAfter"/> past the later of its due time and deadline.</summary>
    public static DateTimeOffset ExpiresAt(CallbackPolicy policy, DateTimeOffset dueAt, DateTimeOffset? deadline)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return (deadline is { } d && d > dueAt ? d : dueAt) + policy.ExpireAfter;
    }

    /// <summary>
    /// When to try again after failed attempt number <paramref name="attemptsMade"/> (1-based), or null
    /// when no attempt is left (the callback fails).
    /// </summary>
    public static DateTimeOffset? NextAttempt(CallbackPolicy policy, int attemptsMade, int maxAttempts, DateTimeOffset now, string? queue = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (attemptsMade >= maxAttempts)
        {
            return null;
        }

        var factor = Math.Pow(policy.RetryBackoff, Math.Max(0, attemptsMade - 1));
        var delay = TimeSpan.FromTicks((long)Math.Min(policy.MaxRetryDelay.Ticks, policy.RetryDelay.Ticks * factor));
        return InHours(policy, now + delay, queue);
    }

    /// <summary>When an open callback escalates as overdue: its deadline, or its due time plus <see cref="CallbackPolicy.EscalateAfter"/>, whichever is first.</summary>
    public static DateTimeOffset EscalatesAt(CallbackPolicy policy, DateTimeOffset dueAt, DateTimeOffset? deadline)
    {
        var late = dueAt + policy.EscalateAfter;
        return deadline is { } d && d < late ? d : late;
    }

    /// <summary>When to remind the owner of a scheduled callback, or null for none (no reminder configured, or not scheduled ahead).</summary>
    public static DateTimeOffset? RemindAt(CallbackPolicy policy, DateTimeOffset dueAt, DateTimeOffset now)
    {
        if (policy.ReminderBefore <= TimeSpan.Zero)
        {
            return null;
        }

        var at = dueAt - policy.ReminderBefore;
        return at > now ? at : null;
    }
}
