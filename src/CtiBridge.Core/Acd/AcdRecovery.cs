namespace CtiBridge.Core.Acd;

/// <summary>
/// After a restart or an HA takeover, an agent who was logged in before is logged in again as
/// they were (same extension, queues and skills; paused with the same reason), without a PIN:
/// the PIN was checked at the original login, and the state comes from the service's own store.
/// Publishes <see cref="AgentLoggedIn"/> and the state change like a login.
/// </summary>
/// <param name="At">When.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The extension the agent sat at.</param>
/// <param name="Queues">Queues served; null for all of the profile's.</param>
/// <param name="Skills">Skills served with; null for all of the profile's.</param>
/// <param name="PauseReason">Paused with this reason; null for ready.</param>
/// <param name="WrapUpEndsAt">
/// The end of the wrap-up the agent was in; still ahead, the agent is back in wrap-up until then
/// (with <paramref name="WrapUpCallId"/> and <paramref name="WrapUpQueue"/>), else ready.
/// </param>
/// <param name="WrapUpCallId">The call being wrapped up.</param>
/// <param name="WrapUpQueue">That call's queue.</param>
/// <param name="PendingPauseReason">A pause (or the logout's reason) asked for on a call, waiting for its end.</param>
/// <param name="PendingLogout">A logout asked for on a call, waiting for its end.</param>
/// <param name="PendingSource">Who asked for the waiting pause or logout.</param>
/// <remarks>
/// A waiting pause or logout applies at the end of the restored wrap-up, or at once when there is no
/// wrap-up left (the call ended meanwhile). An agent whose call is adopted again should be restored
/// without it and asked again after the adoption (<see cref="AgentPause"/> / <see cref="AgentLogout"/>
/// on a call wait for its end).
/// </remarks>
public sealed record AgentRestored(
    DateTimeOffset At, string AgentId, string Extension, IReadOnlyList<string>? Queues = null, IReadOnlyList<string>? Skills = null, string? PauseReason = null,
    DateTimeOffset? WrapUpEndsAt = null, string? WrapUpCallId = null, string? WrapUpQueue = null,
    string? PendingPauseReason = null, bool PendingLogout = false, ChangeSource PendingSource = ChangeSource.Agent) : AcdInput(At)
{
    /// <summary>
    /// When the agent entered the state restored (ready, paused, or the wrap-up), as the previous engine had it; null
    /// when not known. Before <see cref="AcdInput.At"/>, the restored login and state are stamped at this time, so the
    /// state goes on from its real start (one interval in the records, the same "since") rather than starting anew at
    /// the restore; a wrap-up that ended meanwhile ends when it was due. Calls are offered to the agent at
    /// <see cref="AcdInput.At"/>, never in the past.
    /// </summary>
    public DateTimeOffset? StateSince { get; init; }

    /// <summary>When the agent logged in originally (the login session the records continue); null when not known.</summary>
    public DateTimeOffset? LoggedInAt { get; init; }

    /// <summary>
    /// The call the agent's phone was ringing for when the previous engine stopped (restored ready, with
    /// <see cref="StateSince"/> the ring's start); null when the agent was not ringing. The ring is not carried on:
    /// the previous owner's leg is hung up and the call offered again from the restoring engine. What is restored is
    /// the agent's time: ringing from the ring's start until it ended — at the answer (<see cref="RingAnsweredAt"/>),
    /// at the ring's timeout when that passed before the restore (a missed call, RINGNOANSWER, as the previous engine
    /// would have counted it), else at the restore (withdrawn: not the agent's miss) — then ready.
    /// </summary>
    public string? RingingCallId { get; init; }

    /// <summary>The queue of <see cref="RingingCallId"/> (its ring timeout, the missed call's queue); null when not known.</summary>
    public string? RingingQueue { get; init; }

    /// <summary>When the agent answered the ringing call, if it is adopted connected to the agent; null otherwise.</summary>
    public DateTimeOffset? RingAnsweredAt { get; init; }
}

/// <summary>
/// A call that another engine (the instance before a restart or an HA takeover) had in a queue is
/// taken over: waiting, it re-enters its queue keeping its original enqueue time (its place in
/// line, its wait, its overflow deadlines); connected, it continues with <paramref name="AgentId"/>
/// (who must be logged in and free) as if answered at <paramref name="AnsweredAt"/>.
/// Publishes <see cref="CallAdopted"/> instead of <see cref="CallEnqueued"/> / <see cref="CallAnswered"/>,
/// so the records do not count the visit or the answer twice.
/// </summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue of the current visit.</param>
/// <param name="Caller">Caller data as it was.</param>
/// <param name="StartedAt">When the call started (the call record's start).</param>
/// <param name="FirstEnqueuedAt">When the call first entered a queue.</param>
/// <param name="EnqueuedAt">When the current visit started.</param>
/// <param name="Visit">The current visit's number (from 1).</param>
/// <param name="Queues">Queues the call visited, in order (the current one last).</param>
/// <param name="EntryPosition">Position at entry of the current visit, when known.</param>
/// <param name="AgentId">The connected agent; null for a waiting (or ringing) call.</param>
/// <param name="AnsweredAt">When <paramref name="AgentId"/> answered.</param>
/// <param name="DirectFallback">
/// A waiting call that was for one named agent (<see cref="CallArrivedForAgent"/>, the agent being
/// <see cref="CallerData.AssignedAgentId"/>) and not yet offered to anyone else: that agent is rung
/// again (alone) and, not answering or not ready now, the call goes to this fallback, as it would
/// have without the restart. Null for any other call.
/// </param>
public sealed record CallAdoption(
    DateTimeOffset At, string CallId, string Queue, CallerData Caller, DateTimeOffset StartedAt, DateTimeOffset FirstEnqueuedAt,
    DateTimeOffset EnqueuedAt, int Visit, IReadOnlyList<string> Queues, int? EntryPosition = null, string? AgentId = null, DateTimeOffset? AnsweredAt = null,
    OverflowTarget? DirectFallback = null) : AcdInput(At)
{
    /// <summary>
    /// A connected call's hold time so far in its agent's handling (holds that ended before the takeover): counted
    /// as hold, not talk, when the call completes (a hold still going on is given by <see cref="CallHoldChanged.Since"/>).
    /// </summary>
    public TimeSpan Hold { get; init; }
}

/// <summary>
/// A call was taken over from another engine (<see cref="CallAdoption"/>): the records continue
/// the call that engine began (same start, visit and answer) instead of starting a new one.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue of the current visit.</param>
/// <param name="Visit">The current visit's number.</param>
/// <param name="StartedAt">When the call started.</param>
/// <param name="FirstEnqueuedAt">When it first entered a queue.</param>
/// <param name="EnqueuedAt">When the current visit started.</param>
/// <param name="Queues">Queues visited, in order.</param>
/// <param name="EntryPosition">Position at entry of the current visit, when known.</param>
/// <param name="Caller">Caller data.</param>
/// <param name="AgentId">The connected agent; null while waiting.</param>
/// <param name="AnsweredAt">When the connected agent answered.</param>
public sealed record CallAdopted(
    string CallId, string Queue, int Visit, DateTimeOffset StartedAt, DateTimeOffset FirstEnqueuedAt, DateTimeOffset EnqueuedAt,
    IReadOnlyList<string> Queues, int? EntryPosition, CallerData Caller, string? AgentId, DateTimeOffset? AnsweredAt) : AcdEvent
{
    /// <summary>
    /// The priority the adopting engine gave the call in its queue (what <see cref="CallEnqueued.Priority"/> says of a
    /// call entering): a queue callback the caller asks for after the adoption keeps it, as before the restart.
    /// </summary>
    public int Priority { get; init; }
}
