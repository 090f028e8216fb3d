namespace CtiBridge.Core.Acd;

/// <summary>
/// A domain event: the engine's ordered record of what happened and why. <see cref="Sequence"/>
/// increases by one per event, so consumers (records writer, wallboard, statistics) can detect
/// gaps and replay. Events are immutable.
/// </summary>
public abstract record AcdEvent
{
    /// <summary>Position in the engine's event stream, from 1 (set by the engine when it publishes).</summary>
    public long Sequence { get; internal set; }

    /// <summary>When it happened (engine time, set by the engine when it publishes).</summary>
    public DateTimeOffset At { get; internal set; }
}

/// <summary>Agent states (docs/metrics.md §6: available = Ready, in_call = OnCall).</summary>
public enum AgentState
{
    /// <summary>Not logged in.</summary>
    LoggedOut,

    /// <summary>Available for calls (示闲).</summary>
    Ready,

    /// <summary>Phone ringing with an offered call.</summary>
    Ringing,

    /// <summary>Connected to a caller (talk and hold).</summary>
    OnCall,

    /// <summary>After-call work (文书处理).</summary>
    WrapUp,

    /// <summary>Paused with a reason (示忙).</summary>
    Paused,
}

/// <summary>An agent logged in.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The extension.</param>
/// <param name="Queues">Queues served in this session, with penalties.</param>
/// <param name="Skills">Skills served with, with levels.</param>
public sealed record AgentLoggedIn(string AgentId, string Extension, IReadOnlyList<QueueMembership> Queues, IReadOnlyDictionary<string, int> Skills) : AcdEvent
{
    /// <summary>
    /// A login restored after a restart or takeover (<see cref="AgentRestored"/>): when the agent logged in originally, so
    /// the records continue that login session; null for a login.
    /// </summary>
    public DateTimeOffset? RestoredLoginAt { get; init; }
}

/// <summary>Why a login was refused.</summary>
public enum LoginRefusal
{
    /// <summary>No such agent ID.</summary>
    UnknownAgent,

    /// <summary>The PIN did not match.</summary>
    WrongPin,

    /// <summary>The agent is already logged in.</summary>
    AlreadyLoggedIn,

    /// <summary>Another agent is logged in at this extension.</summary>
    ExtensionInUse,

    /// <summary>A chosen queue is not in the agent's profile.</summary>
    QueueNotPermitted,

    /// <summary>A chosen skill is not in the agent's profile.</summary>
    SkillNotPermitted,
}

/// <summary>A login was refused (the PIN is never part of it).</summary>
/// <param name="AgentId">The agent ID typed.</param>
/// <param name="Extension">The extension.</param>
/// <param name="Refusal">Why.</param>
public sealed record AgentLoginRefused(string AgentId, string Extension, LoginRefusal Refusal) : AcdEvent;

/// <summary>An agent changed state. The source of the agent-state report (示忙示闲记录).</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="From">Previous state.</param>
/// <param name="To">New state.</param>
/// <param name="Reason">Why (pause reason code, "call answered", "wrap-up ended", ...).</param>
/// <param name="Source">Who caused it.</param>
/// <param name="CallId">The call involved, if any.</param>
/// <param name="Queue">The queue involved, if any.</param>
public sealed record AgentStateChanged(string AgentId, AgentState From, AgentState To, string Reason, ChangeSource Source, string? CallId = null, string? Queue = null) : AcdEvent;

/// <summary>
/// An agent's wrap-up was timed: at its start, and again when it is extended. Kept by the live state
/// store so that a restart gives the agent the wrap-up time that was left, not a fresh ready state.
/// </summary>
/// <param name="AgentId">The agent.</param>
/// <param name="CallId">The call wrapped up.</param>
/// <param name="Queue">The call's queue.</param>
/// <param name="EndsAt">When the wrap-up ends (unless the agent ends it earlier).</param>
public sealed record AgentWrapUpTimed(string AgentId, string CallId, string Queue, DateTimeOffset EndsAt) : AcdEvent;

/// <summary>
/// What happens to an agent when the current call and its wrap-up end changed: a pause or a logout
/// asked for while on a call waits for its end (a pause asked for in wrap-up applies at once). Both
/// empty when a waiting pause is withdrawn (resume). Kept by the live state store for a restart.
/// </summary>
/// <param name="AgentId">The agent.</param>
/// <param name="PauseReason">The pause (or logout) reason waiting; null when nothing waits.</param>
/// <param name="Logout">True when a logout waits (else a pause, when <paramref name="PauseReason"/> is set).</param>
/// <param name="Source">Who asked for it.</param>
public sealed record AgentPendingChanged(string AgentId, string? PauseReason, bool Logout, ChangeSource Source) : AcdEvent;

/// <summary>The agent's mute flag changed.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Muted">New flag.</param>
public sealed record AgentMuteChanged(string AgentId, bool Muted) : AcdEvent;

/// <summary>The caller was put on or taken off hold.</summary>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="OnHold">New flag.</param>
public sealed record CallerHoldChanged(string CallId, string AgentId, bool OnHold) : AcdEvent
{
    /// <summary>
    /// On hold: since when (the event's time, or earlier for a held caller adopted after a restart or takeover, who
    /// has been waiting on hold since the hold's real start); null when taken off hold.
    /// </summary>
    public DateTimeOffset? Since { get; init; }
}

/// <summary>A call entered a queue: a new queue visit (docs/metrics.md §2). Every visit counts as offered.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Visit">1 for the first queue of the call, 2 after an overflow into another queue, ...</param>
/// <param name="Priority">The call's priority in this queue.</param>
/// <param name="Position">1-based position on entry.</param>
/// <param name="Caller">Caller data.</param>
public sealed record CallEnqueued(string CallId, string Queue, int Visit, int Priority, int Position, CallerData Caller) : AcdEvent;

/// <summary>A call was offered to (rung at) an agent.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Attempt">Offer number of this visit, from 1.</param>
public sealed record CallOffered(string CallId, string Queue, string AgentId, int Attempt) : AcdEvent;

/// <summary>Why an offer ended without an answer.</summary>
public enum OfferEnd
{
    /// <summary>Ring timeout (a missed call of the agent).</summary>
    RingTimeout,

    /// <summary>The agent declined (a missed call of the agent).</summary>
    Declined,

    /// <summary>Another agent answered (ringall), the caller left, or the agent paused/logged out while ringing: not the agent's miss.</summary>
    Withdrawn,
}

/// <summary>An offer ended without this agent answering. <see cref="OfferEnd.RingTimeout"/> and <see cref="OfferEnd.Declined"/> are RINGNOANSWER (missed calls).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="End">How it ended.</param>
/// <param name="RingTime">How long it rang.</param>
public sealed record CallOfferEnded(string CallId, string Queue, string AgentId, OfferEnd End, TimeSpan RingTime) : AcdEvent;

/// <summary>
/// A ready agent picked up a call that was ringing other agents (抢接). The <see cref="CallOfferEnded"/>
/// (withdrawn, not a miss) of each ringing agent comes before it, the <see cref="CallAnswered"/> of the
/// picker after it.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="AgentId">The agent who picked it up.</param>
/// <param name="RingingAgentIds">The agents whose phones were ringing for it.</param>
public sealed record CallPickedUp(string CallId, string Queue, string AgentId, IReadOnlyList<string> RingingAgentIds) : AcdEvent;

/// <summary>Outcome of a queue visit (docs/metrics.md §3), exactly one per visit.</summary>
public enum QueueVisitOutcome
{
    /// <summary>An agent answered.</summary>
    Answered,

    /// <summary>The caller hung up while waiting (or while an agent was ringing).</summary>
    Abandoned,

    /// <summary>Max wait reached, or nobody answered after N offers (EXITWITHTIMEOUT).</summary>
    Timeout,

    /// <summary>Queue empty, full or closed (EXITEMPTY / JOINEMPTY / FULL / JOINUNAVAIL).</summary>
    ExitEmpty,

    /// <summary>The caller pressed an exit key (EXITWITHKEY).</summary>
    ExitKey,

    /// <summary>Lost by a fault.</summary>
    SystemLost,
}

/// <summary>A queue visit ended; the concrete type says how. Wait runs from this visit's entry.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Visit">Visit number of the call.</param>
/// <param name="EnqueuedAt">When this visit started (interval attribution).</param>
/// <param name="Wait">Wait of the visit.</param>
/// <param name="Outcome">The outcome.</param>
public abstract record QueueVisitEnded(string CallId, string Queue, int Visit, DateTimeOffset EnqueuedAt, TimeSpan Wait, QueueVisitOutcome Outcome) : AcdEvent;

/// <summary>An agent answered the call (CONNECT).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Visit">Visit number.</param>
/// <param name="EnqueuedAt">Visit start.</param>
/// <param name="Wait">Wait.</param>
/// <param name="AgentId">The agent.</param>
public sealed record CallAnswered(string CallId, string Queue, int Visit, DateTimeOffset EnqueuedAt, TimeSpan Wait, string AgentId)
    : QueueVisitEnded(CallId, Queue, Visit, EnqueuedAt, Wait, QueueVisitOutcome.Answered);

/// <summary>The caller hung up before an answer (ABANDON).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Visit">Visit number.</param>
/// <param name="EnqueuedAt">Visit start.</param>
/// <param name="Wait">Wait.</param>
/// <param name="Position">Position when leaving.</param>
public sealed record CallAbandoned(string CallId, string Queue, int Visit, DateTimeOffset EnqueuedAt, TimeSpan Wait, int Position)
    : QueueVisitEnded(CallId, Queue, Visit, EnqueuedAt, Wait, QueueVisitOutcome.Abandoned);

/// <summary>The call left the queue by an overflow rule (timeout, empty/full/closed, exit key).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Visit">Visit number.</param>
/// <param name="EnqueuedAt">Visit start.</param>
/// <param name="Wait">Wait.</param>
/// <param name="VisitOutcome">Timeout, ExitEmpty or ExitKey.</param>
/// <param name="Condition">The rule condition.</param>
/// <param name="Target">Where it went.</param>
public sealed record CallOverflowed(string CallId, string Queue, int Visit, DateTimeOffset EnqueuedAt, TimeSpan Wait, QueueVisitOutcome VisitOutcome, OverflowCondition Condition, OverflowTarget Target)
    : QueueVisitEnded(CallId, Queue, Visit, EnqueuedAt, Wait, VisitOutcome);

/// <summary>The call was lost by a fault while in the queue.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Visit">Visit number.</param>
/// <param name="EnqueuedAt">Visit start.</param>
/// <param name="Wait">Wait.</param>
/// <param name="Detail">What failed.</param>
public sealed record CallSystemLost(string CallId, string Queue, int Visit, DateTimeOffset EnqueuedAt, TimeSpan Wait, string Detail)
    : QueueVisitEnded(CallId, Queue, Visit, EnqueuedAt, Wait, QueueVisitOutcome.SystemLost);

/// <summary>A connected call ended (COMPLETEAGENT / COMPLETECALLER); wrap-up follows.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue of the answered visit.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Talk">Connected time minus hold.</param>
/// <param name="Hold">Hold time.</param>
/// <param name="ReleasedBy">Who hung up (null when lost by a fault).</param>
public sealed record CallCompleted(string CallId, string Queue, string AgentId, TimeSpan Talk, TimeSpan Hold, HangupParty? ReleasedBy) : AcdEvent;

/// <summary>
/// A connected call was transferred (queue_log BLINDTRANSFER / ATTENDEDTRANSFER); the agent's
/// <see cref="CallCompleted"/> follows with the agent as releasing party.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue of the answered visit.</param>
/// <param name="FromAgentId">The agent who transferred it.</param>
/// <param name="Target">Where it went.</param>
/// <param name="Attended">True for a consult (attended) transfer.</param>
public sealed record CallTransferred(string CallId, string Queue, string FromAgentId, TransferTarget Target, bool Attended) : AcdEvent;

/// <summary>A call's recording started (a fact from the PBX side, noted in the engine's stream).</summary>
/// <param name="CallId">The call.</param>
/// <param name="RecordingId">The recording's name on the PBX.</param>
/// <param name="Path">Where the audio is written (relative to the PBX's recordings directory).</param>
/// <param name="Format">Audio format (wav ...).</param>
/// <param name="AgentId">The agent on the call.</param>
/// <param name="StartedAt">When Asterisk started it, when that was before this event (a recording taken over with its call after a restart); null: at the event.</param>
public sealed record CallRecordingStarted(string CallId, string RecordingId, string Path, string Format, string? AgentId, DateTimeOffset? StartedAt = null) : AcdEvent;

/// <summary>A call's recording was paused (e.g. while the caller reads a card number) or resumed.</summary>
/// <param name="CallId">The call.</param>
/// <param name="RecordingId">The recording.</param>
/// <param name="Paused">New flag.</param>
public sealed record CallRecordingPaused(string CallId, string RecordingId, bool Paused) : AcdEvent;

/// <summary>A call's recording ended (stopped, or the call ended).</summary>
/// <param name="CallId">The call.</param>
/// <param name="RecordingId">The recording.</param>
public sealed record CallRecordingEnded(string CallId, string RecordingId) : AcdEvent;

/// <summary>The caller answered the post-call satisfaction survey (noted after the call left the ACD).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue of the answered visit.</param>
/// <param name="AgentId">The agent who served the caller.</param>
/// <param name="Question">Question code.</param>
/// <param name="Score">The score pressed.</param>
/// <param name="ScaleMax">Top of the scale.</param>
public sealed record SurveyAnswered(string CallId, string? Queue, string? AgentId, string Question, int Score, int ScaleMax) : AcdEvent;

/// <summary>Handling of an answered call ended (wrap-up over): talk + hold + wrap-up is its handle time (AHT).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue of the answered visit.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Talk">Talk.</param>
/// <param name="Hold">Hold.</param>
/// <param name="WrapUp">Wrap-up.</param>
public sealed record CallHandlingEnded(string CallId, string Queue, string AgentId, TimeSpan Talk, TimeSpan Hold, TimeSpan WrapUp) : AcdEvent
{
    /// <summary>Talk + hold + wrap-up.</summary>
    public TimeSpan HandleTime => Talk + Hold + WrapUp;
}

/// <summary>Centre-level final disposition of a call in the ACD (docs/metrics.md §7).</summary>
public enum CallDisposition
{
    /// <summary>An agent answered (in any visit).</summary>
    Answered,

    /// <summary>The caller hung up while waiting.</summary>
    Abandoned,

    /// <summary>Left the ACD by overflow (external number, callback offer, disconnect).</summary>
    Overflowed,

    /// <summary>Left to voicemail.</summary>
    Voicemail,

    /// <summary>Lost by a fault.</summary>
    SystemLost,
}

/// <summary>The call left the ACD for good; exactly one per call.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Disposition">Final disposition.</param>
/// <param name="Visits">Queue visits made.</param>
public sealed record CallEnded(string CallId, CallDisposition Disposition, int Visits) : AcdEvent
{
    /// <summary>
    /// The end time (<see cref="AcdEvent.At"/>) is an estimate: the call ended unseen (inside an ARI events gap,
    /// with no AMI hang-up either) and is recorded at the last moment it was known up (<c>calls.end_estimated</c>).
    /// </summary>
    public bool EndEstimated { get; init; }
}

/// <summary>What started a routing decision.</summary>
public enum RoutingTrigger
{
    /// <summary>A call entered the queue.</summary>
    CallEnqueued,

    /// <summary>An agent became available and looked for the best call across its queues.</summary>
    AgentAvailable,

    /// <summary>An offer ended unanswered and the call went back to the head of its line.</summary>
    OfferEnded,

    /// <summary>A waiting call's rules changed with time (penalty widening, retry or sticky wait over).</summary>
    WaitRulesChanged,
}

/// <summary>Why an agent was not chosen.</summary>
public enum SkipReason
{
    /// <summary>Eligible, but the strategy preferred another agent.</summary>
    NotPreferredByStrategy,

    /// <summary>Paused.</summary>
    Paused,

    /// <summary>In wrap-up (after a call from any queue).</summary>
    WrapUp,

    /// <summary>Ringing with another call.</summary>
    RingingElsewhere,

    /// <summary>On a call.</summary>
    OnCall,

    /// <summary>Lacks a skill the call requires.</summary>
    MissingSkill,

    /// <summary>A lower penalty tier had an eligible agent.</summary>
    LowerTierAvailable,

    /// <summary>The member's penalty is above what the call allows yet (penalty widening).</summary>
    PenaltyNotYetAllowed,

    /// <summary>The agent did not answer this call a moment ago (retry delay).</summary>
    DidNotAnswerRecently,

    /// <summary>The call is held for its preferred (sticky) agent.</summary>
    HeldForPreferredAgent,

    /// <summary>The agent's phone is on another site (Asterisk server) than the call, and the queue does not span sites.</summary>
    OtherSite,
}

/// <summary>An agent considered in a routing decision.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Chosen">True for the agent(s) rung.</param>
/// <param name="Skip">Why not chosen (null when chosen).</param>
/// <param name="Detail">Numbers behind the verdict (idle time, calls, penalty...).</param>
public sealed record CandidateVerdict(string AgentId, bool Chosen, SkipReason? Skip, string? Detail);

/// <summary>
/// One routing decision and its explanation: the agents considered, why each was skipped, why the
/// winner won. Decisions with no winner are recorded too ("why is my call still waiting?").
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Strategy">The strategy name.</param>
/// <param name="Trigger">What started the decision.</param>
/// <param name="ChosenAgents">The agents rung (several for ringall; empty when the call keeps waiting).</param>
/// <param name="Why">Why the winner won, or why nobody was chosen.</param>
/// <param name="Candidates">Agents considered one by one (up to <see cref="AcdConfiguration.ExplanationDetailLimit"/> skipped ones).</param>
/// <param name="SkippedCounts">Number of members skipped per reason (complete, also when the list is capped).</param>
public sealed record RoutingDecision(
    string CallId, string Queue, string Strategy, RoutingTrigger Trigger, IReadOnlyList<string> ChosenAgents, string Why,
    IReadOnlyList<CandidateVerdict> Candidates, IReadOnlyDictionary<SkipReason, int> SkippedCounts) : AcdEvent;

/// <summary>
/// A logged-in agent's queues, penalties or skills changed while logged in (an admin changed the
/// agent's profile through <see cref="AcdEngine.Reconfigure"/>): the agent now serves exactly these.
/// </summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Queues">Queues served from now on, with penalties.</param>
/// <param name="Skills">Skills served with from now on, with levels.</param>
public sealed record AgentQueuesChanged(string AgentId, IReadOnlyList<QueueMembership> Queues, IReadOnlyDictionary<string, int> Skills) : AcdEvent;

/// <summary>The engine took a new configuration (<see cref="AcdEngine.Reconfigure"/>) without a restart.</summary>
/// <param name="QueuesAdded">Queues that did not exist before.</param>
/// <param name="QueuesRemoved">Queues that no longer exist.</param>
/// <param name="QueuesChanged">Existing queues whose settings changed.</param>
/// <param name="AgentsAdded">Agent profiles that did not exist before.</param>
/// <param name="AgentsRemoved">Agent profiles that no longer exist.</param>
/// <param name="AgentsChanged">Existing agent profiles that changed (PIN, name, queues, penalties, skills).</param>
public sealed record AcdReconfigured(
    IReadOnlyList<string> QueuesAdded, IReadOnlyList<string> QueuesRemoved, IReadOnlyList<string> QueuesChanged,
    IReadOnlyList<string> AgentsAdded, IReadOnlyList<string> AgentsRemoved, IReadOnlyList<string> AgentsChanged) : AcdEvent;
