namespace CtiBridge.Core.Dialer;

/// <summary>Where an outbound call stands.</summary>
public enum DialedCallState
{
    /// <summary>Dial order issued; the number is ringing (or the PBX has not answered yet).</summary>
    Ringing,

    /// <summary>A person answered and waits (at most the connect deadline) for an agent.</summary>
    WaitingForAgent,

    /// <summary>Connected to an agent, or playing a message (machine / broadcast / abandon message).</summary>
    Connected,
}

/// <summary>One outbound call the dialer has up. Changes only through <see cref="CampaignDialer"/>.</summary>
public sealed class DialedCall
{
    internal DialedCall(string callId, Lead lead, string endpoint, DateTimeOffset dialedAt)
    {
        CallId = callId;
        Lead = lead;
        Endpoint = endpoint;
        DialedAt = dialedAt;
    }

    /// <summary>The dialer's id for the call (use it as the ARI channel id / AMI ActionID).</summary>
    public string CallId { get; }

    /// <summary>The lead dialled (as it was when dialled).</summary>
    public Lead Lead { get; }

    /// <summary>The lead id.</summary>
    public string LeadId => Lead.Id;

    /// <summary>The number dialled (E.164).</summary>
    public string PhoneNumber => Lead.PhoneNumber;

    /// <summary>The Asterisk endpoint dialled (trunk prefix + dial prefix + digits).</summary>
    public string Endpoint { get; }

    /// <summary>When the dial order was issued.</summary>
    public DateTimeOffset DialedAt { get; }

    /// <summary>Current state.</summary>
    public DialedCallState State { get; internal set; } = DialedCallState.Ringing;

    /// <summary>When something answered, if it did.</summary>
    public DateTimeOffset? AnsweredAt { get; internal set; }

    /// <summary>What answered (person or machine), if anything did.</summary>
    public CallOutcome? AnsweredBy { get; internal set; }

    /// <summary>When an agent was connected, if one was.</summary>
    public DateTimeOffset? AgentConnectedAt { get; internal set; }

    /// <summary>True once the call was counted as abandoned.</summary>
    public bool Abandoned { get; internal set; }

    /// <summary>
    /// True while the call, answered, is with answering-machine detection (<see cref="CampaignDialer.OnScreening"/>):
    /// still <see cref="DialedCallState.Ringing"/> to pacing until the verdict, but never given up as unanswered.
    /// </summary>
    public bool Screening { get; internal set; }

    /// <summary>
    /// True once the PBX reported its answer and the report waits to be handled (<see cref="CampaignDialer.OnAnswerReported"/>):
    /// still <see cref="DialedCallState.Ringing"/> until <see cref="CampaignDialer.OnAnswered"/>, but never given up as unanswered.
    /// </summary>
    public bool AnswerReported { get; internal set; }

    /// <summary>True once its live answer (connected or abandoned) is in the ledger.</summary>
    internal bool LiveAnswerRecorded { get; set; }
}

/// <summary>An instruction to place one call now.</summary>
/// <param name="Call">The call (its id, lead and endpoint).</param>
/// <param name="CallerId">Caller ID to present.</param>
/// <param name="CallerName">Caller name to present, if any.</param>
/// <param name="RingTimeout">Dial timeout: how long to let it ring (never below the policy minimum).</param>
public sealed record DialOrder(DialedCall Call, string CallerId, string? CallerName, TimeSpan RingTimeout);

/// <summary>Why a due lead was not dialled by a plan.</summary>
public enum SkipReason
{
    /// <summary>The number is on a do-not-call list.</summary>
    DoNotCall,

    /// <summary>Outside the calling window in the lead's time zone.</summary>
    OutsideCallingWindow,

    /// <summary>The lead's time zone cannot be determined, so the window cannot be checked.</summary>
    UnknownTimeZone,

    /// <summary>The lead already has a call up.</summary>
    AlreadyInCall,

    /// <summary>The lead is not due (closed, or its retry time has not come).</summary>
    NotDue,

    /// <summary>The number is not a valid E.164 number.</summary>
    InvalidNumber,
}

/// <summary>A lead left out of a plan, and why.</summary>
/// <param name="Lead">The lead.</param>
/// <param name="Reason">Why it was not dialled.</param>
/// <param name="NotBefore">For window skips: when the lead's window next opens, if known.</param>
public sealed record SkippedLead(Lead Lead, SkipReason Reason, DateTimeOffset? NotBefore = null);

/// <summary>What a pacing decision produced.</summary>
/// <param name="Orders">Calls to place now.</param>
/// <param name="Skipped">Leads looked at and left out, with reasons.</param>
/// <param name="Released">Lines released because the PBX never reported their result.</param>
/// <param name="LinesWanted">How many lines pacing wanted (orders may be fewer when leads ran out).</param>
/// <param name="EffectiveMode">The mode actually used (predictive falls back to progressive while warming up or at the abandon limit).</param>
public sealed record DialPlan(
    IReadOnlyList<DialOrder> Orders,
    IReadOnlyList<SkippedLead> Skipped,
    IReadOnlyList<AttemptResult> Released,
    int LinesWanted,
    DialingMode EffectiveMode)
{
    /// <summary>
    /// Lines pacing wanted that the shared budget (<c>sharedLinesLeft</c>: a trunk shared between campaigns) did
    /// not give; 0 without a shared budget. The dialer writes it as the campaign's unmet demand on the trunk, so
    /// lower-priority campaigns on other instances leave free lines to it.
    /// </summary>
    public int LinesWantedBeyondShared { get; init; }

    /// <summary>
    /// Lines predictive pacing gave up: they rang at least the policy's minimum ring time and no agent would
    /// be free for their answer. Already ended here as unanswered (no answer, retried as such): the caller
    /// hangs up their channels and stores the attempts' ends.
    /// </summary>
    public IReadOnlyList<AttemptResult> GivenUp { get; init; } = [];
}

/// <summary>The end of one attempt: what happened and what becomes of the lead.</summary>
/// <param name="Call">The call.</param>
/// <param name="Outcome">The outcome.</param>
/// <param name="EndedAt">When it ended.</param>
/// <param name="UpdatedLead">The lead after the attempt (status, attempts, next attempt time).</param>
public sealed record AttemptResult(DialedCall Call, CallOutcome Outcome, DateTimeOffset EndedAt, Lead UpdatedLead);
