using System.Text;

namespace CtiBridge.Core.Acd;

/// <summary>
/// Something that happened, given to <see cref="AcdEngine.Handle(AcdInput)"/>. Every input carries
/// its time; the engine first fires its own deadlines up to that time, then applies the input.
/// </summary>
/// <param name="At">When it happened. Inputs must come in non-decreasing time order.</param>
public abstract record AcdInput(DateTimeOffset At);

/// <summary>Time has advanced to <paramref name="At"/> (the service's timer for <see cref="AcdEngine.NextDueTime"/> fired).</summary>
/// <param name="At">The new time.</param>
public sealed record TimeAdvanced(DateTimeOffset At) : AcdInput(At);

/// <summary>Who asked for an agent change.</summary>
public enum ChangeSource
{
    /// <summary>The agent (phone feature code, desktop).</summary>
    Agent,

    /// <summary>A supervisor (force pause / resume / logout).</summary>
    Supervisor,

    /// <summary>The engine itself (auto-pause, wrap-up end, ...).</summary>
    System,
}

/// <summary>An agent logs in at a phone, choosing the queues and skills to serve for this shift.</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">Agent ID (工号).</param>
/// <param name="Extension">The phone extension the agent sits at.</param>
/// <param name="Pin">The PIN typed; checked against the profile's hash, never stored, logged or printed.</param>
/// <param name="Queues">Queues to serve (a subset of the profile's); null for all of them.</param>
/// <param name="Skills">Skills to serve with (a subset of the profile's); null for all of them.</param>
/// <param name="PauseReason">Log in paused with this reason; null to log in ready.</param>
public sealed record AgentLogin(
    DateTimeOffset At, string AgentId, string Extension, string Pin,
    IReadOnlyList<string>? Queues = null, IReadOnlyList<string>? Skills = null, string? PauseReason = null) : AcdInput(At)
{
    /// <summary>Prints the login without the PIN (records print every member by default).</summary>
    protected override bool PrintMembers(StringBuilder builder)
    {
        builder.Append("At = ").Append(At.ToString("O", System.Globalization.CultureInfo.InvariantCulture))
            .Append(", AgentId = ").Append(AgentId)
            .Append(", Extension = ").Append(Extension)
            .Append(", Pin = ***");
        if (Queues is not null)
        {
            builder.Append(", Queues = [").AppendJoin(", ", Queues).Append(']');
        }

        if (Skills is not null)
        {
            builder.Append(", Skills = [").AppendJoin(", ", Skills).Append(']');
        }

        return true;
    }
}

/// <summary>An agent logs out (after the current call and without wrap-up if on a call).</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Source">Agent or supervisor (force logout).</param>
/// <param name="Reason">Free reason text for the state log.</param>
public sealed record AgentLogout(DateTimeOffset At, string AgentId, ChangeSource Source = ChangeSource.Agent, string? Reason = null) : AcdInput(At);

/// <summary>An agent pauses (示忙) with a reason code; on a call it takes effect when the call ends.</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="ReasonCode">Reason code, e.g. <see cref="PauseReasons.Break"/>.</param>
/// <param name="Source">Agent or supervisor (force pause).</param>
public sealed record AgentPause(DateTimeOffset At, string AgentId, string ReasonCode, ChangeSource Source = ChangeSource.Agent) : AcdInput(At);

/// <summary>An agent resumes (示闲) from pause.</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Source">Agent or supervisor (force resume).</param>
public sealed record AgentResume(DateTimeOffset At, string AgentId, ChangeSource Source = ChangeSource.Agent) : AcdInput(At);

/// <summary>The agent ends wrap-up early.</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
public sealed record WrapUpEnd(DateTimeOffset At, string AgentId) : AcdInput(At);

/// <summary>The agent extends the current wrap-up.</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="By">Extra time.</param>
public sealed record WrapUpExtend(DateTimeOffset At, string AgentId, TimeSpan By) : AcdInput(At);

/// <summary>The agent mutes or un-mutes the microphone on the current call.</summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Muted">New mute flag.</param>
public sealed record AgentMute(DateTimeOffset At, string AgentId, bool Muted) : AcdInput(At);

/// <summary>What is known about a caller, carried with the call to the agent (screen pop).</summary>
public sealed record CallerData
{
    /// <summary>Caller number (ANI).</summary>
    public string? CallerNumber { get; init; }

    /// <summary>Caller name.</summary>
    public string? CallerName { get; init; }

    /// <summary>Dialled number (DID / 400 number).</summary>
    public string? Did { get; init; }

    /// <summary>CRM customer id.</summary>
    public string? CustomerId { get; init; }

    /// <summary>Preferred language.</summary>
    public string? Language { get; init; }

    /// <summary>IVR choices on the way in.</summary>
    public IReadOnlyList<string> IvrPath { get; init; } = [];

    /// <summary>Skills an agent must have for this call (all of them).</summary>
    public IReadOnlyList<string> RequiredSkills { get; init; } = [];

    /// <summary>VIP flag set by the IVR/CRM.</summary>
    public bool IsVip { get; init; }

    /// <summary>Explicit priority set by the IVR; null to use the queue's rules.</summary>
    public int? Priority { get; init; }

    /// <summary>The customer's own assigned agent (所属坐席), for <c>sticky</c>.</summary>
    public string? AssignedAgentId { get; init; }

    /// <summary>Other attributes passed through untouched.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The site (Asterisk server) the caller's channel is on; null when there is one site. A queue
    /// that does not span sites offers the call only to agents of this site.
    /// </summary>
    public string? Site { get; init; }
}

/// <summary>A call arrives in a queue.</summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call id (the customer channel's uniqueid/linkedid); unique among live calls.</param>
/// <param name="Queue">The queue name.</param>
/// <param name="Caller">Caller data.</param>
public sealed record CallArrived(DateTimeOffset At, string CallId, string Queue, CallerData Caller) : AcdInput(At);

/// <summary>
/// A due callback joins a queue as an outbound task: there is no caller on the line yet, so it gets
/// no music, prompts, announcements or overflow; it is routed like a call and ordered by
/// <paramref name="PlaceInLineSince"/> (a queue callback keeps the place its caller had), so when an
/// agent takes it the engine sends <see cref="RingAgent"/> and, on answer, <see cref="ConnectAgent"/>:
/// the service then calls the customer (docs/callbacks.md).
/// </summary>
/// <param name="At">When.</param>
/// <param name="CallId">Id of the callback task (unique among live calls).</param>
/// <param name="Queue">The queue whose agents serve it.</param>
/// <param name="Caller">The customer (number, name, skills, priority, attributes such as the callback id).</param>
/// <param name="PlaceInLineSince">The time that orders it among waiting calls; null (or later than <paramref name="At"/>) for <paramref name="At"/>.</param>
public sealed record CallbackQueued(DateTimeOffset At, string CallId, string Queue, CallerData Caller, DateTimeOffset? PlaceInLineSince = null) : AcdInput(At)
{
    /// <summary>
    /// The agent who owns the callback ("I will call you back"): until <see cref="OwnerUntil"/> only
    /// this agent is offered it (when ready, in any queue order); after that any agent of the queue.
    /// </summary>
    public string? OwnerAgentId { get; init; }

    /// <summary>End of the owner's exclusive time (the owner grace); ignored without an owner.</summary>
    public DateTimeOffset? OwnerUntil { get; init; }
}

/// <summary>
/// A queued callback task is taken back (cancelled, resolved by an inbound call, rescheduled): it
/// leaves the queue like a caller who chose an exit key (<see cref="QueueVisitOutcome.ExitKey"/>, not an abandon).
/// </summary>
/// <param name="At">When.</param>
/// <param name="CallId">The callback task.</param>
public sealed record CallbackWithdrawn(DateTimeOffset At, string CallId) : AcdInput(At);

/// <summary>A rung agent answered the call.</summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent who answered.</param>
public sealed record AgentAnswered(DateTimeOffset At, string CallId, string AgentId) : AcdInput(At);

/// <summary>
/// A rung agent declined the call (busy / reject key); counts like a ring-no-answer, except that a busy
/// phone counts toward auto-pause only where the queue says so (<see cref="QueueConfiguration.AutoPauseBusy"/>).
/// </summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent.</param>
public sealed record AgentDeclined(DateTimeOffset At, string CallId, string AgentId) : AcdInput(At)
{
    /// <summary>The phone answered busy (cause 17) rather than being rejected by the agent or failing.</summary>
    public bool Busy { get; init; }
}

/// <summary>
/// Call pickup (抢接): a ready agent takes over a call that is ringing another agent of one of the
/// picker's queues. The ringing agents are withdrawn (not a miss of theirs, they are ready again) and
/// the call is answered by the picker at once; its <see cref="ConnectAgent"/> bridges the picker.
/// </summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent picking the call up (must be ready).</param>
/// <param name="CallId">The call to take; null for the longest-ringing call of the picker's queues.</param>
public sealed record CallPickUp(DateTimeOffset At, string AgentId, string? CallId = null) : AcdInput(At);

/// <summary>Which side ended a call.</summary>
public enum HangupParty
{
    /// <summary>The caller hung up.</summary>
    Caller,

    /// <summary>The agent hung up.</summary>
    Agent,
}

/// <summary>A call ended by hang-up: an abandon while waiting or ringing, a completion when connected.</summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="By">Who hung up.</param>
public sealed record CallHungUp(DateTimeOffset At, string CallId, HangupParty By = HangupParty.Caller) : AcdInput(At)
{
    /// <summary>
    /// When the call really ended, when that was before <see cref="AcdInput.At"/>: an end learned late (a hang-up
    /// inside an ARI events gap, found at the resync). The call's wait, talk and hold, its end and its agent's
    /// state changes are recorded at this time (kept between the call's last known moment and the engine time);
    /// null: at <see cref="AcdInput.At"/>.
    /// </summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>The end is an estimate (the last moment the call was known up), not a time Asterisk reported (<see cref="CallEnded.EndEstimated"/>).</summary>
    public bool EndEstimated { get; init; }
}

/// <summary>The call was lost by a fault (channel failure, trunk fault): the metrics' system-lost outcome.</summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="Detail">What failed.</param>
public sealed record CallLost(DateTimeOffset At, string CallId, string Detail) : AcdInput(At)
{
    /// <summary>When the call really ended, when that was before <see cref="AcdInput.At"/> (see <see cref="CallHungUp.EndedAt"/>); null: at <see cref="AcdInput.At"/>.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>The end is an estimate (the last moment the call was known up), not a time Asterisk reported (<see cref="CallEnded.EndEstimated"/>).</summary>
    public bool EndEstimated { get; init; }
}

/// <summary>The agent put the caller on hold or took them off hold.</summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="OnHold">New hold flag.</param>
public sealed record CallHoldChanged(DateTimeOffset At, string CallId, bool OnHold) : AcdInput(At)
{
    /// <summary>
    /// A hold that began before <see cref="AcdInput.At"/>: a held caller adopted after a restart or takeover, on hold
    /// since then (kept with the live call). Its hold time counts from it (not before the answer); null: from At.
    /// </summary>
    public DateTimeOffset? Since { get; init; }
}

/// <summary>Kinds of transfer targets.</summary>
public enum TransferTargetKind
{
    /// <summary>A queue of this engine: the call waits there again (a new queue visit).</summary>
    Queue,

    /// <summary>A named agent, who must be ready: the agent's phone rings at once; unanswered, the call waits in that agent's queue.</summary>
    Agent,

    /// <summary>An outside number: the call leaves the ACD.</summary>
    External,

    /// <summary>A supervisor took the call over (SUP-03, 拦截): the agent is cut off and the call leaves the ACD, answered.</summary>
    Supervisor,
}

/// <summary>Where an agent sends a connected call.</summary>
/// <param name="Kind">Queue, agent or external number.</param>
/// <param name="Destination">The queue name, agent ID or number.</param>
public sealed record TransferTarget(TransferTargetKind Kind, string Destination)
{
    /// <summary>A queue.</summary>
    public static TransferTarget ToQueue(string queue) => new(TransferTargetKind.Queue, queue);

    /// <summary>An agent.</summary>
    public static TransferTarget ToAgent(string agentId) => new(TransferTargetKind.Agent, agentId);

    /// <summary>An outside number.</summary>
    public static TransferTarget ToExternal(string number) => new(TransferTargetKind.External, number);

    /// <summary>A supervisor taking the call over.</summary>
    public static TransferTarget ToSupervisor(string supervisorId) => new(TransferTargetKind.Supervisor, supervisorId);

    /// <summary><c>queue:billing</c>, <c>agent:2002</c>, <c>external:5550199</c>, <c>supervisor:9001</c> (the form kept in <c>calls.transfer_chain</c>).</summary>
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()}:{Destination}";
}

/// <summary>
/// The agent connected to a call hands it on (blind, or after consulting the target). The agent's
/// part ends as if the agent hung up (wrap-up follows); the call goes on at the target.
/// </summary>
/// <param name="At">When.</param>
/// <param name="CallId">The connected call.</param>
/// <param name="Target">Where it goes.</param>
/// <param name="Attended">True when the agent talked to the target first (consult transfer).</param>
public sealed record CallTransferRequested(DateTimeOffset At, string CallId, TransferTarget Target, bool Attended = false) : AcdInput(At);

/// <summary>A waiting caller pressed a DTMF key.</summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="Digit">The key.</param>
public sealed record CallerPressedKey(DateTimeOffset At, string CallId, char Digit) : AcdInput(At);

/// <summary>The answer of the engine to one input.</summary>
/// <param name="Accepted">False when the input was refused (the state is unchanged).</param>
/// <param name="Reason">Why it was refused, in words an operator understands; null when accepted.</param>
public readonly record struct InputOutcome(bool Accepted, string? Reason)
{
    /// <summary>Accepted.</summary>
    public static InputOutcome Ok => new(true, null);

    /// <summary>Refused with a reason.</summary>
    public static InputOutcome Refused(string reason) => new(false, reason);
}
