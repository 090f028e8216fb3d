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

    /// <summary>The policy these settings describe.</summary>
    public CallbackPolicy ToPolicy() => new()
    {
        AbandonedMinimumWait = AbandonedMinimumWait, AbandonedCallbackWithin = AbandonedCallbackWithin,
        VoicemailCallbackWithin = VoicemailCallbackWithin, MaxAttempts = MaxAttempts, RetryDelay = RetryDelay,
        RetryBackoff = RetryBackoff, MaxRetryDelay = MaxRetryDelay, OwnerGrace = OwnerGrace, ReminderBefore = ReminderBefore,
        EscalateAfter = EscalateAfter, Priority = Priority,
    };

    /// <summary>How call control dials callback customers.</summary>
    public CallControl.CallbackDialOptions ToDialOptions() => new() { CustomerRingTimeout = CustomerRingTimeout, CallerId = CallerId };

    /// <summary>Adds one problem per bad setting (paths as in the file: <c>callbacks.maxAttempts</c>).</summary>
    public static void Validate(CallbackSettings settings, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
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
    }
}
