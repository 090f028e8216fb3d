namespace CtiBridge.Core.Dialer;

/// <summary>How a campaign places its calls.</summary>
public enum DialingMode
{
    /// <summary>The agent sees the lead first and chooses to dial or skip it.</summary>
    Preview,

    /// <summary>One line per ready agent; the agent is reserved, so no call is ever abandoned.</summary>
    Progressive,

    /// <summary>A fixed number of lines per ready agent (<see cref="Campaign.PowerRatio"/>).</summary>
    Power,

    /// <summary>Lines paced from the campaign's own statistics to keep agents busy under the abandon limit.</summary>
    Predictive,

    /// <summary>A recorded message is played; no agent unless <see cref="Campaign.Broadcast"/> offers "press 1".</summary>
    VoiceBroadcast,
}

/// <summary>What a voice-broadcast campaign does once the message has played.</summary>
public enum BroadcastKind
{
    /// <summary>Message only: no agent is involved.</summary>
    MessageOnly,

    /// <summary>Message, then "press 1 to speak to an agent".</summary>
    MessageThenPressOne,
}

/// <summary>What the dialer does when answering-machine detection says a machine answered.</summary>
public enum MachineHandling
{
    /// <summary>Hang up and retry later (after <see cref="RetryDelays.Machine"/>).</summary>
    HangUpAndRetry,

    /// <summary>Leave the campaign's voicemail message and close the lead.</summary>
    LeaveMessage,

    /// <summary>Pass the call to an agent as if a person answered (no AMD).</summary>
    ConnectToAgent,
}

/// <summary>How long a lead waits before the next attempt, per outcome of the last one.</summary>
public sealed record RetryDelays
{
    /// <summary>After a busy signal.</summary>
    public TimeSpan Busy { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>After ringing out.</summary>
    public TimeSpan NoAnswer { get; init; } = TimeSpan.FromHours(1);

    /// <summary>After network congestion, a failure or a lost PBX reply.</summary>
    public TimeSpan Congestion { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>After an answering machine (when machines are hung up on).</summary>
    public TimeSpan Machine { get; init; } = TimeSpan.FromHours(2);

    /// <summary>After a rejected call or absent subscriber.</summary>
    public TimeSpan Rejected { get; init; } = TimeSpan.FromHours(4);

    /// <summary>After an abandoned live answer (the person heard the abandon message).</summary>
    public TimeSpan Abandoned { get; init; } = TimeSpan.FromHours(4);

    /// <summary>The delay after <paramref name="outcome"/>, or null when the outcome closes the lead.</summary>
    public TimeSpan? After(CallOutcome outcome) => outcome switch
    {
        CallOutcome.Busy => Busy,
        CallOutcome.NoAnswer => NoAnswer,
        CallOutcome.Congestion or CallOutcome.Failed or CallOutcome.LostReply => Congestion,
        CallOutcome.Machine => Machine,
        CallOutcome.Rejected => Rejected,
        _ => null,
    };
}

/// <summary>
/// An outbound campaign: who dials, how, when and within which limits. Immutable; validate with
/// <see cref="Validate"/> (or <see cref="EnsureValid"/>) before use.
/// </summary>
public sealed record Campaign
{
    /// <summary>Unique campaign id (also the key of its compliance ledger).</summary>
    public required string Id { get; init; }

    /// <summary>The ACD queue / agent group whose agents take the calls.</summary>
    public required string AgentGroup { get; init; }

    /// <summary>The dialling mode.</summary>
    public DialingMode Mode { get; init; } = DialingMode.Predictive;

    /// <summary>Lines per ready agent in <see cref="DialingMode.Power"/> mode (1.0 = progressive without reservation).</summary>
    public double PowerRatio { get; init; } = 1.5;

    /// <summary>The voice-broadcast variant (only for <see cref="DialingMode.VoiceBroadcast"/>).</summary>
    public BroadcastKind Broadcast { get; init; } = BroadcastKind.MessageOnly;

    /// <summary>Recording played in voice-broadcast mode.</summary>
    public string? BroadcastMessage { get; init; }

    /// <summary>Caller ID presented to the called person (E.164); the TSR requires a number that can be called back.</summary>
    public required string CallerId { get; init; }

    /// <summary>Caller name presented where the network carries it.</summary>
    public string? CallerName { get; init; }

    /// <summary>Asterisk endpoint prefix the number is appended to, e.g. <c>PJSIP/trunk1/</c>.</summary>
    public required string TrunkPrefix { get; init; }

    /// <summary>Digits put in front of the number for the trunk (e.g. "9" or an access code); may be empty.</summary>
    public string DialPrefix { get; init; } = "";

    /// <summary>Calling hours in the lead's time zone.</summary>
    public CallingWindows Windows { get; init; } = CallingWindows.UsFederalDefault;

    /// <summary>No call before this instant.</summary>
    public DateTimeOffset Start { get; init; } = DateTimeOffset.MinValue;

    /// <summary>No call at or after this instant, if set.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Most calls the campaign may have up at once (ringing, waiting or talking): trunk channels.</summary>
    public int MaxConcurrentLines { get; init; } = 30;

    /// <summary>Most dial attempts per lead.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Retry delay per outcome.</summary>
    public RetryDelays Retry { get; init; } = new();

    /// <summary>Higher number = served first when campaigns share lines or agents.</summary>
    public int Priority { get; init; }

    /// <summary>The nuisance-call rules; the US TSR by default.</summary>
    public CompliancePolicy Policy { get; init; } = CompliancePolicy.UsTelemarketingSalesRule;

    /// <summary>Recording played to an abandoned live answer (seller's name and number).</summary>
    public string? AbandonMessage { get; init; }

    /// <summary>What to do with answering machines.</summary>
    public MachineHandling Machines { get; init; } = MachineHandling.HangUpAndRetry;

    /// <summary>Recording left on answering machines when <see cref="Machines"/> is <see cref="MachineHandling.LeaveMessage"/>.</summary>
    public string? MachineMessage { get; init; }

    /// <summary>How long an unanswered call rings before the dialer gives up; at least the policy's minimum ring time.</summary>
    public TimeSpan RingTimeout { get; init; } = TimeSpan.FromSeconds(26);

    /// <summary>
    /// Extra time after <see cref="RingTimeout"/> before a line whose result never arrived is
    /// released as <see cref="CallOutcome.LostReply"/> (a lost AMI/ARI reply never keeps a line busy).
    /// </summary>
    public TimeSpan LostReplyGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A connected call whose end is never reported is released after this long.</summary>
    public TimeSpan MaxCallDuration { get; init; } = TimeSpan.FromHours(4);

    /// <summary>Results needed before predictive pacing takes over from progressive.</summary>
    public int PredictiveWarmUpCalls { get; init; } = 50;

    /// <summary>Lines per logged-in agent in voice broadcast with "press 1".</summary>
    public double BroadcastLinesPerAgent { get; init; } = 5;

    /// <summary>
    /// Predictive: whether lines that rang <see cref="GiveUpAfterRinging"/> unanswered are given up (hung up as no answer,
    /// retried later) when at most <see cref="GiveUpWhenAgentsFreeAtMost"/> agents would be free for their answer; false:
    /// every line rings to <see cref="RingTimeout"/>. Other modes never give a line up early.
    /// </summary>
    public bool GiveUpUnanswered { get; init; } = true;

    /// <summary>Predictive give-up: how long a line must have rung first; null = the policy's minimum ring time (never under 15 s).</summary>
    public TimeSpan? GiveUpAfter { get; init; }

    /// <summary>Predictive give-up: lines are given up only when at most this many agents are free for answers beyond those waiting (0: only when none is).</summary>
    public int GiveUpWhenAgentsFreeAtMost { get; init; } = 1;

    /// <summary>The ring time after which predictive may give a line up: <see cref="GiveUpAfter"/>, else the policy's minimum ring time, never under 15 s.</summary>
    public TimeSpan GiveUpAfterRinging => GiveUpAfter ?? MinimumRingBeforeGiveUp(Policy);

    /// <summary>The least a line rings before it may be given up under <paramref name="policy"/>: its minimum ring time, never under 15 s.</summary>
    public static TimeSpan MinimumRingBeforeGiveUp(CompliancePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return policy.MinimumRingTime < TimeSpan.FromSeconds(15) ? TimeSpan.FromSeconds(15) : policy.MinimumRingTime;
    }

    /// <summary>Every problem with the campaign, each naming the setting and the bad value; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var name = string.IsNullOrWhiteSpace(Id) ? "(no id)" : Id;
        void Bad(string message) => errors.Add($"campaign '{name}': {message}");

        if (string.IsNullOrWhiteSpace(Id))
        {
            Bad("Id is empty");
        }

        if (string.IsNullOrWhiteSpace(AgentGroup) && !(Mode == DialingMode.VoiceBroadcast && Broadcast == BroadcastKind.MessageOnly))
        {
            Bad("AgentGroup is empty (every mode but message-only broadcast needs agents)");
        }

        if (!PhoneNumbers.IsE164(CallerId))
        {
            Bad($"CallerId '{CallerId}' is not an E.164 number (+ and digits); the called person must be able to call back");
        }

        if (string.IsNullOrWhiteSpace(TrunkPrefix))
        {
            Bad("TrunkPrefix is empty (e.g. 'PJSIP/trunk1/')");
        }

        if (DialPrefix.Any(c => !char.IsAsciiDigit(c) && c is not '*' and not '#'))
        {
            Bad($"DialPrefix '{DialPrefix}' may hold only digits, * and #");
        }

        if (Mode == DialingMode.Power && !(PowerRatio >= 1 && PowerRatio <= 20))
        {
            Bad($"PowerRatio must be between 1 and 20 lines per agent (was {PowerRatio})");
        }

        if (Mode == DialingMode.VoiceBroadcast && string.IsNullOrWhiteSpace(BroadcastMessage))
        {
            Bad("voice broadcast needs a BroadcastMessage");
        }

        if (Mode == DialingMode.VoiceBroadcast && Broadcast == BroadcastKind.MessageThenPressOne && !(BroadcastLinesPerAgent > 0))
        {
            Bad($"BroadcastLinesPerAgent must be positive (was {BroadcastLinesPerAgent})");
        }

        if (Deadline is { } deadline && deadline <= Start)
        {
            Bad($"Deadline {deadline:O} is not after Start {Start:O}");
        }

        if (MaxConcurrentLines < 1)
        {
            Bad($"MaxConcurrentLines must be at least 1 (was {MaxConcurrentLines})");
        }

        if (MaxAttempts < 1)
        {
            Bad($"MaxAttempts must be at least 1 (was {MaxAttempts})");
        }

        foreach (var (label, delay) in new[]
                 {
                     ("Busy", Retry.Busy), ("NoAnswer", Retry.NoAnswer), ("Congestion", Retry.Congestion),
                     ("Machine", Retry.Machine), ("Rejected", Retry.Rejected), ("Abandoned", Retry.Abandoned),
                 })
        {
            if (delay < TimeSpan.Zero)
            {
                Bad($"Retry.{label} must not be negative (was {delay})");
            }
        }

        foreach (var policyError in Policy.Validate())
        {
            Bad(policyError);
        }

        if (RingTimeout < Policy.MinimumRingTime)
        {
            Bad($"RingTimeout {RingTimeout.TotalSeconds} s is shorter than the {Policy.Name} minimum ring time of {Policy.MinimumRingTime.TotalSeconds} s");
        }

        if (GiveUpAfter is { } giveUpAfter)
        {
            var least = MinimumRingBeforeGiveUp(Policy);
            if (!(giveUpAfter >= least))
            {
                Bad($"GiveUpAfter {giveUpAfter.TotalSeconds} s is shorter than the {least.TotalSeconds} s a line must ring before it is given up ({Policy.Name} minimum ring time, never under 15 s)");
            }
            else if (giveUpAfter >= RingTimeout)
            {
                Bad($"GiveUpAfter {giveUpAfter.TotalSeconds} s is not shorter than RingTimeout {RingTimeout.TotalSeconds} s: no line would ever be given up (set GiveUpUnanswered to false for that)");
            }
        }

        if (GiveUpWhenAgentsFreeAtMost < 0)
        {
            Bad($"GiveUpWhenAgentsFreeAtMost must not be negative (was {GiveUpWhenAgentsFreeAtMost})");
        }

        if (LostReplyGrace <= TimeSpan.Zero)
        {
            Bad($"LostReplyGrace must be positive (was {LostReplyGrace})");
        }

        if (MaxCallDuration <= TimeSpan.Zero)
        {
            Bad($"MaxCallDuration must be positive (was {MaxCallDuration})");
        }

        if (PredictiveWarmUpCalls < 0)
        {
            Bad($"PredictiveWarmUpCalls must not be negative (was {PredictiveWarmUpCalls})");
        }

        if (Policy.RequiresAbandonMessage && Mode is DialingMode.Power or DialingMode.Predictive && string.IsNullOrWhiteSpace(AbandonMessage))
        {
            Bad($"{Mode} mode can abandon calls and {Policy.Name} requires an AbandonMessage (seller's name and number)");
        }

        if (Machines == MachineHandling.LeaveMessage && string.IsNullOrWhiteSpace(MachineMessage))
        {
            Bad("Machines = LeaveMessage needs a MachineMessage");
        }

        return errors;
    }

    /// <summary>Throws <see cref="DialerConfigurationException"/> listing every problem, if any.</summary>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new DialerConfigurationException(errors);
        }
    }

    /// <summary>The Asterisk endpoint to dial for <paramref name="e164Number"/>: trunk prefix + dial prefix + number digits.</summary>
    public string EndpointFor(string e164Number)
    {
        ArgumentNullException.ThrowIfNull(e164Number);
        return TrunkPrefix + DialPrefix + e164Number.TrimStart('+');
    }

    /// <summary>True when <paramref name="instant"/> is within the campaign's start and deadline.</summary>
    public bool IsRunningAt(DateTimeOffset instant) => instant >= Start && (Deadline is not { } d || instant < d);
}
