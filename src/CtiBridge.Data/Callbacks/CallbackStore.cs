using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Callbacks;

/// <summary>
/// The callback records in PostgreSQL (migration 0010): requests (new or merged into the number's
/// open callback), exactly-once state transitions with their history, and the reads of the
/// scheduler, the API and the CLI. No clock of its own: the caller passes the time of each change.
/// </summary>
public sealed partial class CallbackStore(NpgsqlDataSource dataSource)
{
    /// <summary>Stores a request at <paramref name="at"/> with its planned times; merges into an open callback of the same number.</summary>
    /// <param name="request">The request (validated by the caller).</param>
    /// <param name="times">Promise, due time and deadline from <see cref="CallbackPlanner.Plan"/>.</param>
    /// <param name="priority">Priority when placed.</param>
    /// <param name="maxAttempts">Attempts allowed.</param>
    /// <param name="at">Now.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<CallbackTicket> RequestAsync(CallbackRequest request, CallbackTimes times, int priority, int maxAttempts, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_request"));
        var p = command.Parameters;
        p.AddWithValue("id", Guid.CreateVersion7(at));
        p.AddWithValue("number", request.Number);
        p.AddWithValue("source", CallbackStates.SourceName(request.Source));
        p.AddWithValue("queue", request.Queue);
        AddText(p, "owner", request.OwnerAgentId);
        p.AddWithValue("mode", CallbackStates.ModeName(request.Mode ?? CallbackMode.AgentFirst));
        p.AddWithValue("priority", priority);
        AddText(p, "reason", request.Reason);
        p.AddWithValue("at", at);
        p.AddWithValue("promised", times.PromisedAt);
        p.AddWithValue("due", times.DueAt);
        AddTime(p, "deadline", times.Deadline);
        AddTime(p, "place", request.PlaceInLineSince);
        p.AddWithValue("max_attempts", maxAttempts);
        AddText(p, "origin_call", request.OriginCallId);
        AddText(p, "customer_name", request.CustomerName);
        AddText(p, "voicemail", request.VoicemailId);
        AddText(p, "campaign", request.CampaignId);
        AddText(p, "lead", request.LeadId);
        p.AddWithValue("skills", NpgsqlDbType.Array | NpgsqlDbType.Text, request.RequiredSkills.ToArray());
        AddText(p, "note", request.Note);
        p.AddWithValue("actor", request.RequestedBy);
        Guid id;
        bool merged;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            id = reader.GetGuid(0);
            merged = reader.GetBoolean(1);
        }

        var callback = await GetAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Callback {id} vanished right after it was stored.");
        return new CallbackTicket(callback, merged);
    }

    /// <summary>
    /// Moves a callback to <paramref name="to"/> if it is in one of <paramref name="from"/>, exactly once:
    /// returns the moved callback, or null when it was not in one of those states (another instance or
    /// an earlier step moved it first). The change and its history row are one transaction.
    /// </summary>
    public async Task<Callback?> MoveAsync(Guid id, IReadOnlyCollection<CallbackState> from, CallbackState to, CallbackChange change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(change);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_move"));
        command.Parameters.AddWithValue("id", id);
        AddChange(command.Parameters, from, to, change);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>
    /// <see cref="MoveAsync"/> for many callbacks in one round trip (the same function per callback, in
    /// id order so that two instances moving overlapping sets lock rows in the same order): returns those
    /// moved; the others were not in one of <paramref name="from"/> (or not held by
    /// <see cref="CallbackChange.OnlyIfPlacedBy"/>).
    /// </summary>
    public async Task<IReadOnlyList<Callback>> MoveManyAsync(IReadOnlyCollection<Guid> ids, IReadOnlyCollection<CallbackState> from, CallbackState to, CallbackChange change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(change);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_move_many"));
        command.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, ids.Distinct().Order().ToArray());
        AddChange(command.Parameters, from, to, change);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The callback, or null.</summary>
    public async Task<Callback?> GetAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_get"));
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>Callbacks matching the filter, soonest due first.</summary>
    public async Task<IReadOnlyList<Callback>> ListAsync(CallbackFilter filter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_list"));
        var p = command.Parameters;
        p.Add(new NpgsqlParameter("states", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = filter.States is { } s ? s.Select(CallbackStates.Name).ToArray() : DBNull.Value });
        AddText(p, "queue", filter.Queue);
        AddText(p, "owner", filter.OwnerAgentId);
        AddText(p, "number", filter.Number);
        AddTime(p, "due_before", filter.DueBefore);
        p.AddWithValue("limit", filter.Limit);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Open callbacks of a number (at most one, by the merge rule).</summary>
    public async Task<IReadOnlyList<Callback>> OpenForNumberAsync(string number, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_open_for_number"));
        command.Parameters.AddWithValue("number", number);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Scheduled or retrying callbacks whose due time is at or before <paramref name="now"/>, soonest first.</summary>
    public Task<IReadOnlyList<Callback>> OverdueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default) =>
        SweepReadAsync("callback_overdue", now, null, limit, cancellationToken);

    /// <summary>Open callbacks past their deadline or due time + <paramref name="escalateAfter"/> that were not escalated yet.</summary>
    public Task<IReadOnlyList<Callback>> ToEscalateAsync(DateTimeOffset now, TimeSpan escalateAfter, int limit, CancellationToken cancellationToken = default) =>
        SweepReadAsync("callback_to_escalate", now, ("escalate_after", escalateAfter), limit, cancellationToken);

    /// <summary>Open callbacks (not being dialled) still not kept <paramref name="expireAfter"/> past the later of their due time and deadline.</summary>
    public Task<IReadOnlyList<Callback>> ToExpireAsync(DateTimeOffset now, TimeSpan expireAfter, int limit, CancellationToken cancellationToken = default) =>
        SweepReadAsync("callback_to_expire", now, ("expire_after", expireAfter), limit, cancellationToken);

    /// <summary>
    /// Due or dialing callbacks held by another instance of <paramref name="scheduler"/> that is gone:
    /// one of <paramref name="dead"/> (judged by the caller from heartbeat counts), or one without a
    /// heartbeat row (stopped gracefully). To be offered again.
    /// </summary>
    public async Task<IReadOnlyList<Callback>> OrphanedAsync(string me, string scheduler, IReadOnlyCollection<string> dead, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dead);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_orphaned"));
        command.Parameters.AddWithValue("me", me);
        command.Parameters.AddWithValue("scheduler", scheduler);
        command.Parameters.AddWithValue("dead", NpgsqlDbType.Array | NpgsqlDbType.Text, dead.ToArray());
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Of <paramref name="ids"/> (queued in instance <paramref name="me"/>'s ACD), the callbacks it no longer holds (due or dialing by it).</summary>
    public async Task<IReadOnlyList<Callback>> NoLongerHeldAsync(string me, IReadOnlyCollection<Guid> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_held_elsewhere"));
        command.Parameters.AddWithValue("me", me);
        command.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Uuid, ids.ToArray());
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One heartbeat of instance <paramref name="me"/> (its row created at the first), returning every
    /// instance's heartbeat count, its own included. Counts, not times: see <c>callback_instances</c>.
    /// </summary>
    public async Task<IReadOnlyList<InstanceBeats>> BeatAsync(string scheduler, string me, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_instance_beat"));
        command.Parameters.AddWithValue("scheduler", scheduler);
        command.Parameters.AddWithValue("me", me);
        return await ReadAllAsync(command, reader => new InstanceBeats(reader.GetString(0), reader.GetInt64(1)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes an instance's heartbeat row: its own at a graceful stop (<paramref name="beats"/> null),
    /// or a dead one's once it holds no callback and only if its count is still <paramref name="beats"/>.
    /// </summary>
    public async Task<bool> LeaveAsync(string scheduler, string instance, long? beats, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_instance_leave"));
        command.Parameters.AddWithValue("scheduler", scheduler);
        command.Parameters.AddWithValue("instance", instance);
        command.Parameters.Add(new NpgsqlParameter("beats", NpgsqlDbType.Bigint) { Value = beats is { } b ? b : DBNull.Value });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <summary>Abandoned callers (marked in <c>live_calls</c> before <paramref name="before"/>) whose row is still there: their request may not be stored.</summary>
    public async Task<IReadOnlyList<AbandonedCaller>> AbandonsPendingAsync(DateTimeOffset before, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_abandons_unrequested"));
        command.Parameters.AddWithValue("before", before);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAllAsync(
            command,
            reader => new AbandonedCaller(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetBoolean(6)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The abandoned caller's request is stored (or none is owed): their <c>live_calls</c> write-ahead is let go. The row goes
    /// if the call's record is stored; otherwise it stays as an ended row until the record is (migration 0044). Says whether
    /// there was a marked row (none: the live state writer has not marked it yet).
    /// </summary>
    public async Task<bool> ForgetAbandonedCallAsync(string callId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Ordered with the record writer's delete: whichever commits last sees the other's commit.
        await using (var lockEnds = new NpgsqlCommand(NamedQueries.Get("live_calls_ends_lock"), connection, transaction))
        {
            await lockEnds.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        long released;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_call_forget_abandoned"), connection, transaction))
        {
            command.Parameters.AddWithValue("call_id", callId);
            released = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return released > 0;
    }

    /// <summary>Open callbacks per queue and state (metrics and the wallboard).</summary>
    public async Task<IReadOnlyList<OpenCallbackCount>> OpenCountsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_open_counts"));
        return await ReadAllAsync(
            command,
            reader => new OpenCallbackCount(reader.GetString(0), CallbackStates.Parse(reader.GetString(1)), reader.GetInt64(2), reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every stored change of a callback, in order.</summary>
    public async Task<IReadOnlyList<CallbackTransition>> HistoryAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_history"));
        command.Parameters.AddWithValue("id", id);
        return await ReadAllAsync(
            command,
            reader => new CallbackTransition(
                reader.GetGuid(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(4) ? null : CallbackStates.Parse(reader.GetString(4)),
                CallbackStates.Parse(reader.GetString(5)), reader.GetString(6), reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8))
            { Kind = reader.GetString(3) },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The sweep's reads: one named query of <c>@now</c>, at most one period and <c>@limit</c>.</summary>
    private async Task<IReadOnlyList<Callback>> SweepReadAsync(string query, DateTimeOffset now, (string Name, TimeSpan Value)? period, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get(query));
        command.Parameters.AddWithValue("now", now);
        if (period is { } extra)
        {
            command.Parameters.AddWithValue(extra.Name, extra.Value);
        }

        command.Parameters.AddWithValue("limit", limit);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The parameters of <c>callback_move</c> besides the id(s).</summary>
    private static void AddChange(NpgsqlParameterCollection p, IReadOnlyCollection<CallbackState> from, CallbackState to, CallbackChange change)
    {
        p.AddWithValue("from_states", NpgsqlDbType.Array | NpgsqlDbType.Text, from.Select(CallbackStates.Name).ToArray());
        p.AddWithValue("to_state", CallbackStates.Name(to));
        p.AddWithValue("reason", change.Reason);
        p.AddWithValue("actor", change.Actor);
        p.AddWithValue("at", change.At);
        AddText(p, "call_id", change.CallId);
        AddTime(p, "due", change.DueAt);
        p.AddWithValue("add_attempts", change.AddAttempts);
        p.AddWithValue("kind", change.Kind);
        p.AddWithValue("clear_owner", change.ReleaseOwner);
        AddText(p, "placed_by", change.PlacedBy);
        AddText(p, "only_placed_by", change.OnlyIfPlacedBy);
    }

    private static Task<IReadOnlyList<Callback>> ReadAllAsync(NpgsqlCommand command, CancellationToken cancellationToken) =>
        ReadAllAsync(command, Read, cancellationToken);

    /// <summary>Every row <paramref name="command"/> returns, each made by <paramref name="row"/>: the one row loop of the store's reads.</summary>
    private static async Task<IReadOnlyList<T>> ReadAllAsync<T>(NpgsqlCommand command, Func<NpgsqlDataReader, T> row, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(row(reader));
        }

        return list;
    }

    private static Callback Read(NpgsqlDataReader r)
    {
        string? Text(string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.GetString(r.GetOrdinal(column));
        DateTimeOffset? Time(string column) => r.IsDBNull(r.GetOrdinal(column)) ? null : r.GetFieldValue<DateTimeOffset>(r.GetOrdinal(column));
        DateTimeOffset Required(string column) => r.GetFieldValue<DateTimeOffset>(r.GetOrdinal(column));
        int Int(string column) => r.GetInt32(r.GetOrdinal(column));
        return new Callback(
            r.GetGuid(r.GetOrdinal("callback_id")), Text("number")!, CallbackStates.ParseSource(Text("source")!),
            CallbackStates.Parse(Text("state")!), Text("queue")!, Text("owner_agent_id"), CallbackStates.ParseMode(Text("mode")!),
            Int("priority"), Text("reason"), Required("created_at"), Required("promised_at"), Required("due_at"),
            Time("deadline_at"), Time("place_in_line_since"), Int("attempts"), Int("max_attempts"), Int("merged_requests"),
            Text("origin_call_id"), Text("last_call_id"), Int("version"), Time("closed_at"), Time("escalated_at"))
        {
            CustomerName = Text("customer_name"),
            VoicemailId = Text("voicemail_id"),
            CampaignId = Text("campaign_id"),
            LeadId = Text("lead_id"),
            Note = Text("note"),
            RemindedAt = Time("reminded_at"),
            PlacedBy = Text("placed_by"),
            PlacedFrom = Text("placed_from"),
            RequiredSkills = r.GetFieldValue<string[]>(r.GetOrdinal("required_skills")),
        };
    }

    /// <summary>
    /// Hands a due callback this instance (<paramref name="me"/>) holds to the instance that controls
    /// <paramref name="server"/>: no instance holds it now, and it is marked for that server (history kind
    /// <c>handed_off</c>). Returns it, or null when it is no longer due or no longer held by <paramref name="me"/>.
    /// </summary>
    public async Task<Callback?> HandOffAsync(Guid id, string me, string server, DateTimeOffset at, string reason, string actor, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_hand_off"));
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("me", me);
        command.Parameters.AddWithValue("server", server);
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("reason", reason);
        command.Parameters.AddWithValue("actor", actor);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>
    /// Claims for <paramref name="me"/> up to <paramref name="limit"/> due callbacks handed off to
    /// <paramref name="servers"/> (the servers it controls), the earliest due first; each is claimed by one
    /// instance only (history kind <c>claimed</c>).
    /// </summary>
    public async Task<IReadOnlyList<Callback>> ClaimHandedOffAsync(string me, IReadOnlyCollection<string> servers, DateTimeOffset at, string actor, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(servers);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_claim_handed_off"));
        command.Parameters.AddWithValue("me", me);
        command.Parameters.AddWithValue("servers", NpgsqlDbType.Array | NpgsqlDbType.Text, servers.ToArray());
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAllAsync(command, cancellationToken).ConfigureAwait(false);
    }

    private static void AddText(NpgsqlParameterCollection p, string name, string? value) =>
        p.Add(new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value });

    private static void AddTime(NpgsqlParameterCollection p, string name, DateTimeOffset? value) =>
        p.Add(new NpgsqlParameter(name, NpgsqlDbType.TimestampTz) { Value = value is { } v ? v : DBNull.Value });
}

/// <summary>What a transition records besides the new state.</summary>
/// <param name="At">When.</param>
/// <param name="Reason">Why, in operator words.</param>
/// <param name="Actor">Who (<c>system</c>, <c>agent:1007</c>, <c>api:crm</c>, a scheduler instance).</param>
public sealed record CallbackChange(DateTimeOffset At, string Reason, string Actor)
{
    /// <summary>The call involved (the callback call placed, the inbound call that resolved it).</summary>
    public string? CallId { get; init; }

    /// <summary>A new due time (reschedule, retry), or null to keep it.</summary>
    public DateTimeOffset? DueAt { get; init; }

    /// <summary>Attempts to add (1 when a call attempt ended).</summary>
    public int AddAttempts { get; init; }

    /// <summary>History kind: <c>transition</c>, <c>rescheduled</c>, <c>reminded</c>, <c>escalated</c>, <c>owner_released</c>.</summary>
    public string Kind { get; init; } = "transition";

    /// <summary>Drop the owner so any agent of the queue may take it (owner grace over).</summary>
    public bool ReleaseOwner { get; init; }

    /// <summary>The scheduler instance that now holds the callback in its ACD (moves to due/dialing); null keeps the holder.</summary>
    public string? PlacedBy { get; init; }

    /// <summary>Move only if this instance (or nobody) holds the callback; null for no such condition.</summary>
    public string? OnlyIfPlacedBy { get; init; }
}

/// <summary>A caller who hung up while waiting, as kept in <c>live_calls</c> until their callback request is stored.</summary>
/// <param name="CallId">The abandoned call.</param>
/// <param name="Queue">The queue they waited in.</param>
/// <param name="Number">Their number (null when withheld).</param>
/// <param name="Name">Their name, when known.</param>
/// <param name="EnqueuedAt">When they entered the queue.</param>
/// <param name="AbandonedAt">When they hung up.</param>
/// <param name="Requested">Whether a callback with this call as its origin exists already.</param>
public sealed record AbandonedCaller(string CallId, string Queue, string? Number, string? Name, DateTimeOffset EnqueuedAt, DateTimeOffset AbandonedAt, bool Requested);

/// <summary>A filter of <see cref="CallbackStore.ListAsync"/>; null members match everything.</summary>
public sealed record CallbackFilter
{
    /// <summary>States to list; null for all.</summary>
    public IReadOnlyCollection<CallbackState>? States { get; init; }

    /// <summary>Queue.</summary>
    public string? Queue { get; init; }

    /// <summary>Owning agent.</summary>
    public string? OwnerAgentId { get; init; }

    /// <summary>Number.</summary>
    public string? Number { get; init; }

    /// <summary>Due strictly before.</summary>
    public DateTimeOffset? DueBefore { get; init; }

    /// <summary>At most this many rows. Default 500.</summary>
    public int Limit { get; init; } = 500;
}

/// <summary>Open callbacks of one queue in one state.</summary>
/// <param name="Queue">The queue.</param>
/// <param name="State">An open state.</param>
/// <param name="Open">How many.</param>
/// <param name="Overdue">How many of them were escalated as overdue.</param>
/// <param name="OldestDue">State due: the earliest due time among them (how long the longest has waited for an agent).</param>
public sealed record OpenCallbackCount(string Queue, CallbackState State, long Open, long Overdue, DateTimeOffset? OldestDue);

/// <summary>An instance's heartbeat count in <c>callback_instances</c>.</summary>
/// <param name="InstanceId">The scheduler instance (the <c>placed_by</c> of callbacks it holds).</param>
/// <param name="Beats">Heartbeats it has recorded so far.</param>
public sealed record InstanceBeats(string InstanceId, long Beats);
