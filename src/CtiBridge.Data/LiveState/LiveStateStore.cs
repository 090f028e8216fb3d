using CtiBridge.Core.Acd;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.LiveState;

/// <summary>An agent logged in now, as stored for a restart or takeover.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The extension the agent sits at.</param>
/// <param name="Queues">Queues served.</param>
/// <param name="Skills">Skills served with.</param>
/// <param name="PauseReason">The pause reason; null while serving.</param>
/// <param name="LoggedInAt">When the agent logged in.</param>
public sealed record LiveAgent(string AgentId, string Extension, IReadOnlyList<string> Queues, IReadOnlyList<string> Skills, string? PauseReason, DateTimeOffset LoggedInAt)
{
    /// <summary>End of the wrap-up the agent is in; null when not in wrap-up.</summary>
    public DateTimeOffset? WrapUpUntil { get; init; }

    /// <summary>The call being wrapped up.</summary>
    public string? WrapUpCallId { get; init; }

    /// <summary>That call's queue.</summary>
    public string? WrapUpQueue { get; init; }

    /// <summary>A pause (or the logout's reason) asked for on a call, waiting for its end; null when nothing waits.</summary>
    public string? PendingPauseReason { get; init; }

    /// <summary>True when the waiting change is a logout.</summary>
    public bool PendingLogout { get; init; }

    /// <summary>Who asked for the waiting change.</summary>
    public ChangeSource PendingSource { get; init; } = ChangeSource.Agent;

    /// <summary>The ACD state at the last change stored; null when not known (a row from before migration 0043).</summary>
    public AgentState? State { get; init; }

    /// <summary>When the agent entered <see cref="State"/>.</summary>
    public DateTimeOffset? StateSince { get; init; }

    /// <summary>The call the agent's phone was ringing for (state <c>Ringing</c>); null otherwise.</summary>
    public string? RingingCallId { get; init; }
}

/// <summary>A call in a queue or connected now, as stored for a restart or takeover.</summary>
/// <param name="CallId">The call.</param>
/// <param name="ChannelId">The caller's channel on the Asterisk server.</param>
/// <param name="Queue">The current visit's queue.</param>
/// <param name="Visit">The current visit's number.</param>
/// <param name="Queues">Queues visited, in order.</param>
/// <param name="EntryPosition">Position at entry of the current visit.</param>
/// <param name="StartedAt">When the call started (its record's start).</param>
/// <param name="FirstEnqueuedAt">When it first entered a queue.</param>
/// <param name="EnqueuedAt">When the current visit started.</param>
/// <param name="AgentId">The connected agent, if answered.</param>
/// <param name="AnsweredAt">When the connected agent answered.</param>
/// <param name="Caller">Caller data.</param>
public sealed record LiveCall(
    string CallId, string ChannelId, string Queue, int Visit, IReadOnlyList<string> Queues, int? EntryPosition, DateTimeOffset StartedAt,
    DateTimeOffset FirstEnqueuedAt, DateTimeOffset EnqueuedAt, string? AgentId, DateTimeOffset? AnsweredAt, CallerData Caller)
{
    /// <summary>
    /// Times an instance has adopted the call, this adoption included (<see cref="LiveStateStore.TakeOverCallsAsync"/>);
    /// 0 when only read. The adopter numbers its new legs from it, so it never reuses a name the previous owner made.
    /// </summary>
    public int Takeovers { get; init; }

    /// <summary>The caller is on hold since then (its agent's current handling); null when not held. An adopter counts the hold from it.</summary>
    public DateTimeOffset? HoldStartedAt { get; init; }

    /// <summary>Hold time of the current handling before the current hold (holds that ended).</summary>
    public TimeSpan Hold { get; init; }
}

/// <summary>Where a caller held outside a queue is (<c>live_ivr_calls.stage</c>).</summary>
public enum LiveIvrStage
{
    /// <summary>At a node of an IVR plan.</summary>
    Ivr,

    /// <summary>Hearing the voicemail greeting or leaving a message.</summary>
    Voicemail,

    /// <summary>In the satisfaction survey after the agent hung up.</summary>
    Survey,

    /// <summary>Dialling, or connected to, an outside number.</summary>
    External,

    /// <summary>Answered, waiting for the customer lookup's answer (plan: the DID's).</summary>
    Lookup,

    /// <summary>Blacklisted: hearing the blocked prompt (its playback id), then released.</summary>
    Blocked,
}

/// <summary>A caller in an IVR plan, a voicemail or the survey now, as stored for a restart or takeover.</summary>
/// <param name="CallId">The call.</param>
/// <param name="ChannelId">The caller's channel on the Asterisk server.</param>
/// <param name="Stage">Where the caller is.</param>
/// <param name="StartedAt">When the call entered CtiBridge (its record's start).</param>
/// <param name="Caller">Caller data (number, name, DID, lookup results; <see cref="CallerData.Site"/> is the server).</param>
public sealed record LiveIvrCall(string CallId, string ChannelId, LiveIvrStage Stage, DateTimeOffset StartedAt, CallerData Caller)
{
    /// <summary>The IVR plan the call walks.</summary>
    public string? Plan { get; init; }

    /// <summary>The node the caller is at (stage <see cref="LiveIvrStage.Ivr"/>).</summary>
    public string? Node { get; init; }

    /// <summary>The node's prompt as last played (its ARI playback id), stopped by an adopter before it asks again.</summary>
    public string? PlaybackId { get; init; }

    /// <summary>The outside number dialled (stage <see cref="LiveIvrStage.External"/>).</summary>
    public string? ExternalNumber { get; init; }

    /// <summary>When the outside number was dialled.</summary>
    public DateTimeOffset? ExternalStartedAt { get; init; }

    /// <summary>When the outside party answered.</summary>
    public DateTimeOffset? ExternalAnsweredAt { get; init; }

    /// <summary>Nodes passed, as <c>plan/node</c> (the next IVR step is numbered after them).</summary>
    public IReadOnlyList<string> IvrPath { get; init; } = [];

    /// <summary>The queue the call was in (survey: the queue whose survey it is; voicemail: the queue it overflowed from).</summary>
    public string? Queue { get; init; }

    /// <summary>The agent the caller talked to last (survey).</summary>
    public string? AgentId { get; init; }

    /// <summary>The voicemail's mailbox.</summary>
    public string? Mailbox { get; init; }

    /// <summary>The voicemail recording's name on Asterisk.</summary>
    public string? RecordingName { get; init; }

    /// <summary>The queue that serves the callback for a voicemail left in the IVR.</summary>
    public string? CallbackQueue { get; init; }

    /// <summary>The call went through a queue first: its call row comes from the queue's records.</summary>
    public bool LeftAcd { get; init; }

    /// <summary>The customer lookup said: member.</summary>
    public bool IsMember { get; init; }

    /// <summary>Times an instance has adopted the call, this adoption included; 0 when only written.</summary>
    public int Takeovers { get; init; }
}

/// <summary>
/// The live state tables (<c>live_agents</c>, <c>live_calls</c>, <c>live_ivr_calls</c>): what call control needs to carry
/// on after a restart or an HA takeover. <see cref="ChangesOf(AcdEvent, bool)"/> turns the engine's events into
/// writes; <see cref="ApplyAsync"/> stores a batch of them in one transaction, in order.
/// </summary>
public sealed class LiveStateStore(NpgsqlDataSource dataSource)
{
    /// <summary>The caller data attribute naming the Asterisk server of the caller's channel.</summary>
    public const string ServerAttribute = "asterisk.server";

    /// <summary>The caller data attribute naming the caller's channel.</summary>
    public const string ChannelAttribute = "asterisk.channel";

    /// <summary>
    /// The writes one engine event needs (often none). Calls without a caller channel on an
    /// Asterisk server (callback tasks) are not stored: nothing in Asterisk would carry them over.
    /// </summary>
    public static IReadOnlyList<NpgsqlBatchCommand> ChangesOf(AcdEvent acdEvent) => ChangesOf(acdEvent, keepAbandonedCallers: false);

    /// <summary>
    /// The writes one engine event needs; with <paramref name="keepAbandonedCallers"/> (callbacks on)
    /// an abandoned caller's row is marked instead of deleted, and deleted only once their callback
    /// request is stored (<c>live_call_forget_abandoned</c>): a crash in between loses no callback.
    /// </summary>
    public static IReadOnlyList<NpgsqlBatchCommand> ChangesOf(AcdEvent acdEvent, bool keepAbandonedCallers) => ChangesOf(acdEvent, keepAbandonedCallers, callerOwedCallback: null);

    /// <summary>
    /// The writes one engine event needs; as <see cref="ChangesOf(AcdEvent, bool)"/>, and a call that ends
    /// for which <paramref name="callerOwedCallback"/> says true (a waiting caller found gone when the call was
    /// adopted, whatever the disposition) has its row marked abandoned instead of deleted: the same write-ahead.
    /// </summary>
    public static IReadOnlyList<NpgsqlBatchCommand> ChangesOf(AcdEvent acdEvent, bool keepAbandonedCallers, Func<string, bool>? callerOwedCallback) =>
        ChangesOf(acdEvent, keepAbandonedCallers, callerOwedCallback, rowForgotten: null);

    /// <summary>
    /// The writes one engine event needs; as <see cref="ChangesOf(AcdEvent, bool, Func{string, bool})"/>, and a call that ends
    /// whose write-ahead row was already let go (<paramref name="rowForgotten"/>: the callback request was stored before this
    /// writer had written the row) has its row deleted instead of marked.
    /// </summary>
    public static IReadOnlyList<NpgsqlBatchCommand> ChangesOf(AcdEvent acdEvent, bool keepAbandonedCallers, Func<string, bool>? callerOwedCallback, Func<string, bool>? rowForgotten)
    {
        ArgumentNullException.ThrowIfNull(acdEvent);
        switch (acdEvent)
        {
            case CallEnded x when keepAbandonedCallers && rowForgotten is not null && rowForgotten(x.CallId):
                // The write-ahead was let go before it was written: the end is an ordinary one.
                return Ended(x);
            case CallEnded { Disposition: CallDisposition.Abandoned } x when keepAbandonedCallers:
                return [Command("live_call_abandoned", ("call_id", x.CallId), ("at", x.At), ("disposition", DispositionName(x.Disposition)), ("end_estimated", x.EndEstimated))];
            case CallEnded x when keepAbandonedCallers && callerOwedCallback is not null && callerOwedCallback(x.CallId):
                return [Command("live_call_abandoned", ("call_id", x.CallId), ("at", x.At), ("disposition", DispositionName(x.Disposition)), ("end_estimated", x.EndEstimated))];
            case AgentLoggedIn x:
                return [Command("live_agent_upsert", ("agent_id", x.AgentId), ("extension", x.Extension),
                    ("queues", x.Queues.Select(q => q.Queue).ToArray()), ("skills", x.Skills.Keys.Order(StringComparer.Ordinal).ToArray()),
                    ("logged_in_at", x.RestoredLoginAt ?? x.At), ("at", x.At))];
            case AgentStateChanged { To: AgentState.LoggedOut } x:
                return [Command("live_agent_delete", ("agent_id", x.AgentId))];
            // Every change of state stores the state and its start (state, state_since), so the instance that restores the
            // agent carries the state on from its real start (the interval in the records, the API's "since").
            case AgentStateChanged { To: AgentState.Paused } x:
                return [Command("live_agent_pause", ("agent_id", x.AgentId), ("pause_reason", x.Reason), ("state", x.To.ToString()), ("at", x.At))];
            case AgentStateChanged { From: AgentState.Paused } x:
                return [Command("live_agent_pause", ("agent_id", x.AgentId), ("pause_reason", null), ("state", x.To.ToString()), ("at", x.At))];
            case AgentStateChanged { From: AgentState.WrapUp or AgentState.OnCall, To: AgentState.Ready } x:
                // Wrap-up over, and what waited for it applied: nothing left to restore but the login.
                return [Command("live_agent_pause", ("agent_id", x.AgentId), ("pause_reason", null), ("state", x.To.ToString()), ("at", x.At))];
            case AgentStateChanged { To: AgentState.Ringing } x:
                // The status read from the database (ctibridge agents, the centre view), and the ring a restart or takeover ends
                // from its real start (CallCenter.RestoreAgent).
                return [Command("live_agent_ringing", ("agent_id", x.AgentId), ("call_id", x.CallId), ("ringing_since", x.At), ("state", x.To.ToString()), ("at", x.At))];
            case AgentStateChanged x when x.From == AgentState.Ringing || x.To == AgentState.OnCall:
                // Answered, ring timed out, declined or withdrawn (a pause or logout while ringing is written above); or on a call without a ring.
                return [Command("live_agent_ringing", ("agent_id", x.AgentId), ("call_id", null), ("ringing_since", null), ("state", x.To.ToString()), ("at", x.At))];
            case AgentWrapUpTimed x:
                return [Command("live_agent_wrap_up", ("agent_id", x.AgentId), ("wrap_up_until", x.EndsAt), ("call_id", x.CallId), ("queue", x.Queue), ("at", x.At))];
            case AgentPendingChanged x:
                return [Command("live_agent_pending", ("agent_id", x.AgentId), ("pause_reason", x.PauseReason), ("logout", x.Logout), ("source", x.Source.ToString()), ("at", x.At))];
            case CallEnqueued x when x.Caller.Attributes.TryGetValue(ServerAttribute, out var server) && x.Caller.Attributes.TryGetValue(ChannelAttribute, out var channel):
                var c = x.Caller;

                // Out of the IVR into the queue in one transaction: a restart finds the caller in exactly one of the two.
                return [Command("live_ivr_call_delete", ("call_id", x.CallId)), Command("live_call_enqueued", ("call_id", x.CallId), ("server", server), ("channel_id", channel), ("queue", x.Queue), ("visit", x.Visit),
                    ("entry_position", x.Position), ("at", x.At), ("caller_number", c.CallerNumber), ("caller_name", c.CallerName), ("did", c.Did),
                    ("customer_id", c.CustomerId), ("language", c.Language), ("is_vip", c.IsVip), ("priority", c.Priority), ("assigned_agent", c.AssignedAgentId),
                    ("required_skills", c.RequiredSkills.ToArray()), ("ivr_path", c.IvrPath.ToArray()),
                    ("attribute_names", c.Attributes.Keys.ToArray()), ("attribute_values", c.Attributes.Values.ToArray()))];
            case CallAnswered x:
                return [Command("live_call_answered", ("call_id", x.CallId), ("agent_id", x.AgentId), ("at", x.At), ("new_handling", true))];
            case CallAdopted { AgentId: { } agentId, AnsweredAt: { } answeredAt } x:
                return [Command("live_call_answered", ("call_id", x.CallId), ("agent_id", agentId), ("at", answeredAt), ("new_handling", false))];
            case CallerHoldChanged x:
                return [Command("live_call_hold", ("call_id", x.CallId), ("on_hold", x.OnHold), ("at", x.OnHold ? x.Since ?? x.At : x.At))];
            case CallCompleted x:
                return [Command("live_call_completed", ("call_id", x.CallId), ("talk_seconds", x.Talk.TotalSeconds), ("hold_seconds", x.Hold.TotalSeconds),
                    ("released_by", Records.SqlNames.Of(Records.AcdRecordWords.ReleasedBy(x.ReleasedBy))), ("at", x.At))];
            case QueueVisitEnded x:
                return [Command("live_call_visit_ended", ("call_id", x.CallId), ("outcome", Records.SqlNames.Of(Records.AcdRecordWords.Outcome(x.Outcome))), ("at", x.At))];

            // What the call's record carries besides its end (migration 0046), for a record written from the ended row.
            case CallTransferred x:
                return [Command("live_call_transferred", ("call_id", x.CallId), ("target", x.Target.ToString()), ("at", x.At))];
            case CallRecordingStarted x:
                return [Command("live_call_recording_started", ("call_id", x.CallId), ("recording_id", x.RecordingId), ("started_at", x.StartedAt ?? x.At),
                    ("path", x.Path), ("format", x.Format), ("agent_id", x.AgentId), ("at", x.At))];
            case SurveyAnswered x:
                return [Command("live_call_surveyed", ("call_id", x.CallId), ("score", (short)x.Score), ("at", x.At))];
            case CallEnded x:
                return Ended(x);
            default:
                return [];
        }
    }

    /// <summary>
    /// An ordinary end: the row is marked with it and stays until the call's record is stored (the record writer deletes it
    /// in that transaction, <c>live_calls_recorded_delete</c>); if the record was stored first, the row goes here. The lock
    /// orders this look with the record writer's, so one of the two always sees the other's commit.
    /// </summary>
    private static NpgsqlBatchCommand[] Ended(CallEnded x) =>
    [
        Command("live_call_ended", ("call_id", x.CallId), ("at", x.At), ("disposition", DispositionName(x.Disposition)), ("end_estimated", x.EndEstimated)),
        Command("live_calls_ends_lock"),
        Command("live_call_delete_recorded", ("call_id", x.CallId)),
    ];

    private static string DispositionName(CallDisposition disposition) => Records.SqlNames.Of(Records.AcdRecordWords.Disposition(disposition));

    /// <summary>
    /// The calls of one Asterisk server that ended under an earlier owner of the server and whose record never reached
    /// <c>calls</c> (that instance died with it in its record writer's memory), as records to write: what the instance
    /// adopting the server writes. Ended rows whose record is stored are deleted first (their delete was missed).
    /// </summary>
    public Task<IReadOnlyList<EndedLiveCall>> EndedUnrecordedCallsAsync(string server, CancellationToken cancellationToken = default) =>
        EndedLiveCalls.UnrecordedAsync(dataSource, server, cancellationToken);

    /// <summary>The write that stores (or replaces) where a caller outside a queue is now.</summary>
    /// <param name="server">The Asterisk server of the caller's channel.</param>
    /// <param name="call">Where the caller is.</param>
    /// <param name="at">When it was so.</param>
    public static NpgsqlBatchCommand PutIvrCall(string server, LiveIvrCall call, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(call);
        var c = call.Caller;
        return Command("live_ivr_call_put", ("call_id", call.CallId), ("server", server), ("channel_id", call.ChannelId),
            ("stage", call.Stage.ToString().ToLowerInvariant()), ("started_at", call.StartedAt), ("plan", call.Plan), ("node", call.Node), ("playback_id", call.PlaybackId),
            ("external_number", call.ExternalNumber), ("external_started_at", call.ExternalStartedAt), ("external_answered_at", call.ExternalAnsweredAt),
            ("ivr_path", call.IvrPath.ToArray()), ("queue", call.Queue), ("agent_id", call.AgentId), ("mailbox", call.Mailbox),
            ("recording_name", call.RecordingName), ("callback_queue", call.CallbackQueue), ("left_acd", call.LeftAcd),
            ("caller_number", c.CallerNumber), ("caller_name", c.CallerName), ("did", c.Did), ("customer_id", c.CustomerId), ("language", c.Language),
            ("is_vip", c.IsVip), ("is_member", call.IsMember), ("at", at));
    }

    /// <summary>The write that forgets a caller outside a queue (the call ended and its row keeps nothing for a record).</summary>
    /// <param name="callId">The call.</param>
    public static NpgsqlBatchCommand DeleteIvrCall(string callId) => Command("live_ivr_call_delete", ("call_id", callId));

    /// <summary>
    /// The writes that mark a caller outside a queue ended (migration 0046): the row stays, with what the call's record needs,
    /// until that record is stored (the record writer deletes it in that transaction; if it was stored first, the row goes
    /// here, the lock ordering this look with the writer's), so an instance killed before it stores the record loses nothing:
    /// the one adopting the server writes it from the row (<see cref="EndedUnrecordedIvrCallsAsync"/>).
    /// </summary>
    /// <param name="callId">The call.</param>
    /// <param name="at">When it ended.</param>
    /// <param name="record">The IVR-only call's row as call control writes it; null when its row comes from the queue's records (a survey).</param>
    /// <param name="recording">The outside call's recording written with it, if any.</param>
    public static IReadOnlyList<NpgsqlBatchCommand> EndIvrCall(string callId, DateTimeOffset at, Records.CallRecord? record, Records.RecordingRecord? recording) =>
    [
        Command("live_ivr_call_ended", ("call_id", callId), ("at", record?.EndedAt ?? at),
            ("disposition", record is null ? null : Records.SqlNames.Of(record.Disposition)), ("end_estimated", record?.EndEstimated ?? false),
            ("released_by", record?.ReleasedBy is { } releasedBy ? Records.SqlNames.Of(releasedBy) : null),
            ("recording_id", recording?.RecordingId), ("recording_started_at", recording?.StartedAt), ("recording_path", recording?.Path), ("recording_format", recording?.Format)),
        Command("live_calls_ends_lock"),
        Command("live_ivr_call_delete_recorded", ("call_id", callId)),
    ];

    /// <summary>The write that keeps a survey's answer with the caller's row until its <c>survey_answers</c> row is stored.</summary>
    /// <param name="callId">The call.</param>
    /// <param name="question">The survey's question code.</param>
    /// <param name="score">The score.</param>
    /// <param name="scaleMax">The top of the scale.</param>
    /// <param name="at">When it was answered.</param>
    public static NpgsqlBatchCommand SurveyIvrCall(string callId, string question, int score, int scaleMax, DateTimeOffset at) =>
        Command("live_ivr_call_surveyed", ("call_id", callId), ("question", question), ("score", (short)score), ("scale_max", (short)scaleMax), ("at", at));

    /// <summary>
    /// The callers of one Asterisk server outside a queue whose call ended under an earlier owner of the server and whose
    /// record never reached the database (an IVR-only call's <c>calls</c> row, a survey's answer), as records to write: what
    /// the instance adopting the server writes. Ended rows whose record is stored are deleted first (their delete was missed).
    /// </summary>
    public Task<IReadOnlyList<EndedIvrCall>> EndedUnrecordedIvrCallsAsync(string server, CancellationToken cancellationToken = default) =>
        EndedLiveCalls.UnrecordedIvrAsync(dataSource, server, cancellationToken);

    /// <summary>
    /// The callers of one Asterisk server in an IVR plan, a voicemail or the survey (not those whose call is in
    /// <c>live_calls</c> too: they entered a queue since), each counted as taken over once more, committed before it returns.
    /// </summary>
    public async Task<IReadOnlyList<LiveIvrCall>> TakeOverIvrCallsAsync(string server, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("live_ivr_call_take_over"));
        command.Parameters.AddWithValue("server", server);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var calls = new List<LiveIvrCall>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            var channel = reader.GetString(1);
            var caller = new CallerData
            {
                CallerNumber = Text(13), CallerName = Text(14), Did = Text(15), CustomerId = Text(16), Language = Text(17), IsVip = reader.GetBoolean(18),
                Attributes = new Dictionary<string, string>(StringComparer.Ordinal) { [ServerAttribute] = server, [ChannelAttribute] = channel },
                Site = server,
            };
            calls.Add(new LiveIvrCall(reader.GetString(0), channel, Enum.Parse<LiveIvrStage>(reader.GetString(2), ignoreCase: true),
                reader.GetFieldValue<DateTimeOffset>(3), caller)
            {
                Plan = Text(4), Node = Text(5), IvrPath = reader.GetFieldValue<string[]>(6), Queue = Text(7), AgentId = Text(8), Mailbox = Text(9),
                RecordingName = Text(10), CallbackQueue = Text(11), LeftAcd = reader.GetBoolean(12), IsMember = reader.GetBoolean(19), Takeovers = reader.GetInt32(20),
                PlaybackId = Text(21), ExternalNumber = Text(22), ExternalStartedAt = reader.IsDBNull(23) ? null : reader.GetFieldValue<DateTimeOffset>(23),
                ExternalAnsweredAt = reader.IsDBNull(24) ? null : reader.GetFieldValue<DateTimeOffset>(24),
            });
        }

        return calls;
    }

    /// <summary>
    /// The callback conversations of one Asterisk server (<c>live_callback_calls</c>), each counted as taken over once more,
    /// committed before it returns: what an instance adopting the calls reads.
    /// </summary>
    public Task<IReadOnlyList<LiveCallbackCall>> TakeOverCallbackCallsAsync(string server, CancellationToken cancellationToken = default) =>
        LiveCallbackCalls.TakeOverAsync(dataSource, server, cancellationToken);

    /// <summary>Stores the writes in one transaction, in order.</summary>
    public async Task ApplyAsync(IReadOnlyList<NpgsqlBatchCommand> commands, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (commands.Count == 0)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var command in commands)
        {
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every agent logged in, in login order.</summary>
    public async Task<IReadOnlyList<LiveAgent>> LoadAgentsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("live_agent_list"));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var agents = new List<LiveAgent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            agents.Add(new LiveAgent(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.GetFieldValue<string[]>(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetFieldValue<DateTimeOffset>(5))
            {
                WrapUpUntil = reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
                WrapUpCallId = reader.IsDBNull(7) ? null : reader.GetString(7),
                WrapUpQueue = reader.IsDBNull(8) ? null : reader.GetString(8),
                PendingPauseReason = reader.IsDBNull(9) ? null : reader.GetString(9),
                PendingLogout = reader.GetBoolean(10),
                PendingSource = !reader.IsDBNull(11) && Enum.TryParse<ChangeSource>(reader.GetString(11), out var source) ? source : ChangeSource.Agent,
                State = !reader.IsDBNull(12) && Enum.TryParse<AgentState>(reader.GetString(12), out var state) ? state : null,
                StateSince = reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13),
                RingingCallId = reader.IsDBNull(14) ? null : reader.GetString(14),
            });
        }

        return agents;
    }

    /// <summary>
    /// The Asterisk server a recorded call's caller was on (<c>calls.asterisk_server</c>); null when the call is not
    /// recorded (yet) or has no server. A callback is placed from the server its origin call came in on.
    /// </summary>
    public async Task<string?> CallServerAsync(string callId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callId);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("call_asterisk_server"));
        command.Parameters.AddWithValue("call_id", callId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <summary>The calls of one Asterisk server, in order of their current visit's start.</summary>
    public async Task<IReadOnlyList<LiveCall>> LoadCallsAsync(string server, CancellationToken cancellationToken = default) =>
        await ReadCallsAsync("live_call_list", server, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The calls of one Asterisk server, each counted as taken over once more (<see cref="LiveCall.Takeovers"/>),
    /// in order of their current visit's start: what an instance adopting them (restart, HA takeover) reads.
    /// The count is committed before it returns, so a later adopter always gets a higher one.
    /// </summary>
    public async Task<IReadOnlyList<LiveCall>> TakeOverCallsAsync(string server, CancellationToken cancellationToken = default) =>
        await ReadCallsAsync("live_call_take_over", server, cancellationToken).ConfigureAwait(false);

    private async Task<IReadOnlyList<LiveCall>> ReadCallsAsync(string query, string server, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get(query));
        command.Parameters.AddWithValue("server", server);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var calls = new List<LiveCall>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            var names = reader.GetFieldValue<string[]>(21);
            var values = reader.GetFieldValue<string[]>(22);
            var caller = new CallerData
            {
                CallerNumber = Text(11), CallerName = Text(12), Did = Text(13), CustomerId = Text(14), Language = Text(15),
                IsVip = reader.GetBoolean(16), Priority = reader.IsDBNull(17) ? null : reader.GetInt32(17), AssignedAgentId = Text(18),
                RequiredSkills = reader.GetFieldValue<string[]>(19), IvrPath = reader.GetFieldValue<string[]>(20),
                Attributes = names.Zip(values).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal),
                Site = server,
            };
            calls.Add(new LiveCall(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetFieldValue<string[]>(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7),
                reader.GetFieldValue<DateTimeOffset>(8), Text(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10), caller)
            {
                Takeovers = reader.GetInt32(23),
                HoldStartedAt = reader.IsDBNull(24) ? null : reader.GetFieldValue<DateTimeOffset>(24),
                Hold = TimeSpan.FromSeconds(reader.GetDouble(25)),
            });
        }

        return calls;
    }

    private static NpgsqlBatchCommand Command(string query, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(NamedQueries.Get(query));
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value switch
            {
                null => new NpgsqlParameter(name, TypeOf(name)) { Value = DBNull.Value },
                _ => new NpgsqlParameter(name, value),
            });
        }

        return command;
    }

    // Null parameters need their type named (PostgreSQL cannot infer it from NULL in every position).
    private static NpgsqlDbType TypeOf(string name) => name switch
    {
        "entry_position" or "priority" or "visit" => NpgsqlDbType.Integer,
        "at" or "logged_in_at" or "wrap_up_until" or "ringing_since" or "started_at" or "external_started_at" or "external_answered_at" or "recording_started_at" => NpgsqlDbType.TimestampTz,
        _ => NpgsqlDbType.Text,
    };
}
