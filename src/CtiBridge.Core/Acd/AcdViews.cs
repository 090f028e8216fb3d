namespace CtiBridge.Core.Acd;

/// <summary>An agent's current status (agent desktop, supervisor view).</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="State">Current state.</param>
/// <param name="Since">In this state since.</param>
/// <param name="Extension">Extension while logged in.</param>
/// <param name="PauseReason">Pause reason while paused.</param>
/// <param name="CallId">The call ringing, connected or being wrapped up.</param>
/// <param name="Muted">Mute flag.</param>
/// <param name="Queues">Queues served in this session.</param>
/// <param name="PendingPause">A pause takes effect when the current call ends.</param>
/// <param name="PendingLogout">A logout takes effect when the current call ends.</param>
/// <param name="WrapUpEndsAt">End of the current wrap-up.</param>
public sealed record AgentStatus(
    string AgentId, AgentState State, DateTimeOffset Since, string? Extension, string? PauseReason, string? CallId, bool Muted,
    IReadOnlyList<QueueMembership> Queues, bool PendingPause, bool PendingLogout, DateTimeOffset? WrapUpEndsAt);

/// <summary>A queue's live status (wallboard).</summary>
/// <param name="Queue">Queue name.</param>
/// <param name="Waiting">
/// Customers' calls waiting (not counting calls ringing an agent). Callback tasks are not in it
/// (docs/metrics.md §3a, definitions version 3): they are in <see cref="CallbacksWaiting"/>.
/// </param>
/// <param name="LongestCurrentWait">Longest wait among customers' calls in the queue now (waiting or ringing; callback tasks not included).</param>
/// <param name="LoggedIn">Member agents logged in.</param>
/// <param name="Ready">Member agents ready.</param>
/// <param name="Serving">Member agents logged in and not paused.</param>
/// <param name="AverageHandleTime">Recent average handle time used for expected waits.</param>
/// <param name="ExpectedWaitForNewCall">Expected wait of a new ordinary call; null when nobody serves.</param>
public sealed record QueueStatus(
    string Queue, int Waiting, TimeSpan LongestCurrentWait, int LoggedIn, int Ready, int Serving,
    TimeSpan AverageHandleTime, TimeSpan? ExpectedWaitForNewCall)
{
    /// <summary>
    /// Callback tasks waiting for an agent (not counting those ringing one): work the centre owes
    /// customers, kept apart from <see cref="Waiting"/> because a task is not an inbound call.
    /// </summary>
    public int CallbacksWaiting { get; init; }
}

/// <summary>A call in a queue (agents' queue view, AGT-15).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Position">1-based position.</param>
/// <param name="Priority">Priority.</param>
/// <param name="EnqueuedAt">Start of this visit.</param>
/// <param name="Caller">Caller data.</param>
public sealed record WaitingCall(string CallId, string Queue, int Position, int Priority, DateTimeOffset EnqueuedAt, CallerData Caller);
