using CtiBridge.Core.Callbacks;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Callbacks;

/// <summary>The <c>callbacks</c> section of ctibridge.json (docs/callbacks.md §5). Every key is optional.</summary>
public sealed class CallbackSettings
{
    /// <summary>Run the callback scheduler in this instance (default true). Every instance on one database forms one Quartz cluster.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>See <see cref="CallbackPolicy.AbandonedMinimumWait"/>.</summary>
    public TimeSpan AbandonedMinimumWait { get; set; } = new CallbackPolicy().AbandonedMinimumWait;

    /// <summary>See <see cref="CallbackPolicy.AbandonedCallbackWithin"/>.</summary>
    public TimeSpan AbandonedCallbackWithin { get; set; } = new CallbackPolicy().AbandonedCallbackWithin;

    /// <summary>See <see cref="CallbackPolicy.VoicemailCallbackWithin"/>.</summary>
    public TimeSpan VoicemailCallbackWithin { get; set; } = new CallbackPolicy().VoicemailCallbackWithin;

    /// <summary>See <see cref="CallbackPolicy.MaxAttempts"/>.</summary>
    public int MaxAttempts { get; set; } = new CallbackPolicy().MaxAttempts;

    /// <summary>See <see cref="CallbackPolicy.RetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; set; } = new CallbackPolicy().RetryDelay;

    /// <summary>See <see cref="CallbackPolicy.RetryBackoff"/>.</summary>
    public double RetryBackoff { get; set; } = new CallbackPolicy().RetryBackoff;

    /// <summary>See <see cref="CallbackPolicy.MaxRetryDelay"/>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = new CallbackPolicy().MaxRetryDelay;

    /// <summary>See <see cref="CallbackPolicy.OwnerGrace"/>.</summary>
    public TimeSpan OwnerGrace { get; set; } = new CallbackPolicy().OwnerGrace;

    /// <summary>See <see cref="CallbackPolicy.ReminderBefore"/>.</summary>
    public TimeSpan ReminderBefore { get; set; } = new CallbackPolicy().ReminderBefore;

    /// <summary>See <see cref="CallbackPolicy.EscalateAfter"/>.</summary>
    public TimeSpan EscalateAfter { get; set; } = new CallbackPolicy().EscalateAfter;

    /// <summary>See <see cref="CallbackPolicy.ExpireAfter"/>.</summary>
    public TimeSpan ExpireAfter { get; set; } = new CallbackPolicy().ExpireAfter;

    /// <summary>
    /// Hours in which callbacks are placed (<c>timeZone</c>, <c>open</c> intervals, <c>holidays</c>, as an
    /// IVR calendar); none for always. A callback due outside them waits for the next opening.
    /// </summary>
    public CallControl.IvrCalendarSettings? Hours { get; set; }

    /// <summary>Hours of particular queues (queue name → calendar), instead of <see cref="Hours"/> for their callbacks.</summary>
    public Dictionary<string, CallControl.IvrCalendarSettings> QueueHours { get; set; } = new(StringComparer.Ordinal);

    /// <summary>See <see cref="CallbackPolicy.Priority"/>.</summary>
    public int Priority { get; set; } = new CallbackPolicy().Priority;

    /// <summary>How long a callback customer's phone rings before the attempt counts as no answer (default 30 s).</summary>
    public TimeSpan CustomerRingTimeout { get; set; } = new CallControl.CallbackDialOptions().CustomerRingTimeout;

    /// <summary>The number shown to callback customers (digits, optional +); none leaves it to the trunk.</summary>
    public string? CallerId { get; set; }

    /// <summary>Jobs run at once on this node (Quartz thread pool).</summary>
    public int SchedulerThreads { get; set; } = new CallbackSchedulerOptions().Threads;

    /// <summary>Period of the sweep (lost triggers, owner grace, reminders, escalation).</summary>
    public TimeSpan SweepInterval { get; set; } = new CallbackSchedulerOptions().SweepInterval;

    /// <summary>How often this instance counts a heartbeat (real time; liveness of the instances holding callbacks).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = new CallbackSchedulerOptions().HeartbeatInterval;

    /// <summary>Another instance whose heartbeat count stood still this long (real time) is dead: the callbacks it held are offered again.</summary>
    public TimeSpan InstanceDeadAfter { get; set; } = new CallbackSchedulerOptions().InstanceDeadAfter;

    /// <summary>The policy these settings describe.</summary>
    public CallbackPolicy ToPolicy() => new()
    {
        AbandonedMinimumWait = AbandonedMinimumWait, AbandonedCallbackWithin = AbandonedCallbackWithin,
        VoicemailCallbackWithin = VoicemailCallbackWithin, MaxAttempts = MaxAttempts, RetryDelay = RetryDelay,
        RetryBackoff = RetryBackoff, MaxRetryDelay = MaxRetryDelay, OwnerGrace = OwnerGrace, ReminderBefore = ReminderBefore,
        EscalateAfter = EscalateAfter, Priority = Priority, ExpireAfter = ExpireAfter,
        Hours = Hours is null ? null : CallControl.IvrConfiguration.Calendar(Hours, "callbacks.hours", []),
        QueueHours = QueueHours
            .Select(q => (q.Key, Hours: CallControl.IvrConfiguration.Calendar(q.Value, "callbacks.queueHours." + q.Key, [])))
            .Where(q => q.Hours is not null)
            .ToDictionary(q => q.Key, q => q.Hours!, StringComparer.Ordinal),
    };

    /// <summary>How call control dials callback customers.</summary>
    public CallControl.CallbackDialOptions ToDialOptions() => new() { CustomerRingTimeout = CustomerRingTimeout, CallerId = CallerId };

    /// <summary>Adds one problem per bad setting (paths as in the file: <c>callbacks.maxAttempts</c>).</summary>
    public static void Validate(CallbackSettings settings, List<SettingsProblem> problems) => Validate(settings, problems, []);

    /// <summary>
    /// Adds one problem per bad setting; <paramref name="queues"/> are the queues call control
    /// configures (<c>callbacks.queueHours</c> may only name those; any name when none are configured).
    /// </summary>
    public static void Validate(CallbackSettings settings, List<SettingsProblem> problems, IReadOnlyCollection<string> queues)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        ArgumentNullException.ThrowIfNull(queues);
        if (settings.Hours is { } hours)
        {
            CheckHours(hours, "callbacks.hours", problems);
        }

        foreach (var (queue, calendar) in settings.QueueHours)
        {
            var at = "callbacks.queueHours." + queue;
            if (queues.Count > 0 && !queues.Contains(queue, StringComparer.Ordinal))
            {
                problems.Add(new SettingsProblem(at, $"queue '{queue}' is not configured in callControl.queues{SpellingSuggestion.DidYouMean(queue, queues)}"));
            }

            CheckHours(calendar, at, problems);
        }

        foreach (var problem in settings.ToPolicy().Validate())
        {
            var space = problem.IndexOf(' ', StringComparison.Ordinal);
            problems.Add(new SettingsProblem(problem[..space], problem[(space + 1)..]));
        }

        if (settings.SchedulerThreads is < 1 or > 100)
        {
            problems.Add(new SettingsProblem("callbacks.schedulerThreads", $"must be 1 to 100 (is {settings.SchedulerThreads})"));
        }

        if (settings.CustomerRingTimeout < TimeSpan.FromSeconds(5) || settings.CustomerRingTimeout > TimeSpan.FromMinutes(5))
        {
            problems.Add(new SettingsProblem("callbacks.customerRingTimeout", $"must be 5 s to 5 min (is {settings.CustomerRingTimeout})"));
        }

        if (settings.CallerId is { } callerId && (callerId.Length is 0 or > 32 || !callerId.TrimStart('+').All(char.IsAsciiDigit)))
        {
            problems.Add(new SettingsProblem("callbacks.callerId", $"must be a number of digits with an optional leading + (is '{callerId}')"));
        }

        if (settings.SweepInterval < TimeSpan.FromSeconds(1))
        {
            problems.Add(new SettingsProblem("callbacks.sweepInterval", $"must be at least 1 s (is {settings.SweepInterval})"));
        }

        if (settings.HeartbeatInterval < TimeSpan.FromMilliseconds(100) || settings.HeartbeatInterval > TimeSpan.FromMinutes(1))
        {
            problems.Add(new SettingsProblem("callbacks.heartbeatInterval", $"must be 100 ms to 1 min (is {settings.HeartbeatInterval})"));
        }
        else if (settings.InstanceDeadAfter < settings.HeartbeatInterval * 2)
        {
            problems.Add(new SettingsProblem("callbacks.instanceDeadAfter",
                $"must be at least twice callbacks.heartbeatInterval ({settings.HeartbeatInterval}), or a live instance that missed one beat would be taken for dead (is {settings.InstanceDeadAfter})"));
        }
    }

    private static void CheckHours(CallControl.IvrCalendarSettings calendar, string at, List<SettingsProblem> problems)
    {
        if (CallControl.IvrConfiguration.Calendar(calendar, at, problems) is { } hours && hours.Weekly.Count == 0)
        {
            problems.Add(new SettingsProblem($"{at}.open", "lists no opening interval, so no callback could ever be placed; add e.g. { \"days\": \"mon-fri\", \"from\": \"09:00\", \"to\": \"18:00\" } or remove the hours"));
        }
    }
}
