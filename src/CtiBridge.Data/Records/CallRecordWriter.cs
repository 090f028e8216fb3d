using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Records;

/// <summary>
/// Writes call-center records to PostgreSQL: one transaction per batch, binary COPY per record kind
/// into a staging table, then an idempotent upsert (a replayed record never duplicates a row).
/// Creates the monthly partitions a batch needs before writing it.
/// </summary>
public sealed class CallRecordWriter
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly HashSet<DateTime> _monthsReady = [];
    private readonly Lock _monthsGate = new();

    /// <summary>Creates a writer on the given database.</summary>
    public CallRecordWriter(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>Checks every record and returns the rows to store (agent states split at UTC midnight).</summary>
    /// <exception cref="InvalidCallRecordException">A record cannot be stored; the message names it and the field.</exception>
    public static IReadOnlyList<CallCenterRecord> Prepare(IEnumerable<CallCenterRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var rows = new List<CallCenterRecord>();
        foreach (var record in records)
        {
            record.Validate();
            if (record is AgentStateRecord state)
            {
                rows.AddRange(state.SplitAtUtcMidnight());
            }
            else
            {
                rows.Add(record);
            }
        }

        return rows;
    }

    /// <summary>
    /// Writes each record kind of a batch (calls, queue visits, events ...) on its own connection
    /// at the same time, one transaction per kind, instead of one transaction for the whole batch.
    /// Faster where the database has spare cores; a failure can then leave some kinds of a batch
    /// stored, which is safe because the sink journals and replays the whole batch and every
    /// write is an idempotent upsert. Off by default.
    /// </summary>
    public bool WriteKindsInParallel { get; init; }

    /// <summary>Writes a batch: atomically (all or nothing), or per record kind with <see cref="WriteKindsInParallel"/>.</summary>
    /// <exception cref="InvalidCallRecordException">A record is invalid; nothing was written.</exception>
    /// <exception cref="NpgsqlException">The database failed; nothing was written (or, in parallel mode, some kinds were).</exception>
    public async Task WriteAsync(IReadOnlyList<CallCenterRecord> records, CancellationToken cancellationToken)
    {
        var rows = Prepare(records);
        if (rows.Count == 0)
        {
            return;
        }

        await EnsurePartitionsAsync(rows, cancellationToken).ConfigureAwait(false);
        var byType = rows.GroupBy(r => r.GetType()).ToDictionary(g => g.Key, g => (IReadOnlyList<CallCenterRecord>)g.ToList());
        var kinds = RecordTables.All.Where(t => byType.ContainsKey(t.RecordType)).ToList();
        if (WriteKindsInParallel && kinds.Count > 1)
        {
            await Task.WhenAll(kinds.Select(t => WriteKindsAsync([t], byType, cancellationToken))).ConfigureAwait(false);
        }
        else
        {
            await WriteKindsAsync(kinds, byType, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteKindsAsync(IReadOnlyList<IRecordTable> tables, Dictionary<Type, IReadOnlyList<CallCenterRecord>> byType, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var table in tables)
        {
            await table.WriteAsync(connection, byType[table.RecordType], cancellationToken).ConfigureAwait(false);
            if (table.RecordType == typeof(QueueVisitRecord))
            {
                await RefreshRollupsAsync(connection, byType[table.RecordType].Cast<QueueVisitRecord>(), cancellationToken).ConfigureAwait(false);
            }
            else if (table.RecordType == typeof(AgentStateRecord))
            {
                await RefreshAgentStateRollupsAsync(connection, byType[table.RecordType].Cast<AgentStateRecord>(), cancellationToken).ConfigureAwait(false);
            }
            else if (table.RecordType == typeof(CallRecord))
            {
                await RefreshAgentOutboundRollupsAsync(connection, byType[table.RecordType].Cast<CallRecord>(), cancellationToken).ConfigureAwait(false);
            }
            else if (table.RecordType == typeof(SurveyAnswerRecord))
            {
                // A call whose row is in this batch has its score in that row (and, written in parallel, its row is locked by the other kind's transaction).
                var rowsHere = byType.TryGetValue(typeof(CallRecord), out var callRows) ? callRows.Select(r => ((CallRecord)r).CallId).ToHashSet(StringComparer.Ordinal) : [];
                await ScoreCallsAsync(connection, byType[table.RecordType].Cast<SurveyAnswerRecord>().Where(a => !rowsHere.Contains(a.CallId)).ToList(), cancellationToken).ConfigureAwait(false);
            }
            else if (table.RecordType == typeof(RecordingRecord))
            {
                // Written one kind at a time, the batch's call rows are stored by now (calls come first); written in
                // parallel, they are locked by the other kind's transaction, and name their recording themselves.
                var rowsHere = WriteKindsInParallel && byType.TryGetValue(typeof(CallRecord), out var callRows) ? callRows.Select(r => ((CallRecord)r).CallId).ToHashSet(StringComparer.Ordinal) : [];
                await LinkRecordingsAsync(connection, byType[table.RecordType].Cast<RecordingRecord>().Where(r => !rowsHere.Contains(r.CallId)).ToList(), cancellationToken).ConfigureAwait(false);
            }
        }

        if (tables.Any(t => t.RecordType == typeof(CallRecord) || t.RecordType == typeof(SurveyAnswerRecord)))
        {
            await DeleteEndedLiveCallsAsync(
                connection,
                tables.Any(t => t.RecordType == typeof(CallRecord)) ? byType[typeof(CallRecord)].Cast<CallRecord>() : [],
                tables.Any(t => t.RecordType == typeof(SurveyAnswerRecord)) ? byType[typeof(SurveyAnswerRecord)].Cast<SurveyAnswerRecord>() : [],
                cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    // An inbound call's live_calls row (migration 0044), and an IVR caller's live_ivr_calls row (0046: its calls row, or
    // a survey's answer), are kept, marked ended, until the record is stored: they go in the transaction that stores it,
    // last, under the lock that orders this with the live state writer's mark (a row marked after this look is deleted by
    // the mark's own look, live_call_delete_recorded.sql, live_ivr_call_delete_recorded.sql).
    private static async Task DeleteEndedLiveCallsAsync(
        NpgsqlConnection connection, IEnumerable<CallRecord> calls, IEnumerable<SurveyAnswerRecord> answers, CancellationToken cancellationToken)
    {
        var inbound = calls.Where(c => c.Direction == CallDirection.Inbound).Select(c => c.CallId).Distinct(StringComparer.Ordinal).ToArray();
        var surveyed = answers.Select(a => a.CallId).Distinct(StringComparer.Ordinal).ToArray();
        if (inbound.Length == 0 && surveyed.Length == 0)
        {
            return;
        }

        await using (var lockEnds = new NpgsqlCommand(NamedQueries.Get("live_calls_ends_lock"), connection))
        {
            await lockEnds.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (inbound.Length > 0)
        {
            await ExecuteWithArraysAsync(connection, NamedQueries.Get("live_calls_recorded_delete"), [("call_ids", NpgsqlDbType.Text, inbound)], cancellationToken).ConfigureAwait(false);
        }

        await ExecuteWithArraysAsync(
            connection, NamedQueries.Get("live_ivr_calls_recorded_delete"), [("call_ids", NpgsqlDbType.Text, inbound), ("surveyed", NpgsqlDbType.Text, surveyed)],
            cancellationToken).ConfigureAwait(false);
    }

    // Recounts the 15-minute rollup buckets the batch touched (migration 0005), in the batch's transaction.
    private static async Task RefreshRollupsAsync(NpgsqlConnection connection, IEnumerable<QueueVisitRecord> visits, CancellationToken cancellationToken)
    {
        var entry = new HashSet<DateTime>();
        var answer = new HashSet<DateTime>();
        foreach (var visit in visits)
        {
            entry.Add(Quarter(visit.EnteredAt));
            if (visit.AnsweredAt is { } answered)
            {
                answer.Add(Quarter(answered));
            }
        }

        await ExecuteWithArraysAsync(
            connection,
            NamedQueries.Get("records_refresh_rollups"),
            [("entry", NpgsqlDbType.TimestampTz, entry.ToArray()), ("answer", NpgsqlDbType.TimestampTz, answer.ToArray())],
            cancellationToken).ConfigureAwait(false);
    }

    // Recounts the UTC hours of the hourly agent-state rollup (migration 0009) the batch's intervals
    // cover. A revision may have shortened an interval stored before, so for revised intervals the
    // rest of their UTC day is recounted too (intervals never cross UTC midnight).
    private static async Task RefreshAgentStateRollupsAsync(NpgsqlConnection connection, IEnumerable<AgentStateRecord> states, CancellationToken cancellationToken)
    {
        var hours = new HashSet<DateTime>();
        foreach (var state in states)
        {
            var last = state.Revision > 0 ? Hour(state.StartedAt).Date.AddHours(23) : Hour(state.EndedAt.AddTicks(-1));
            for (var hour = Hour(state.StartedAt); hour <= last; hour = hour.AddHours(1))
            {
                hours.Add(hour);
            }
        }

        await ExecuteWithArraysAsync(
            connection, NamedQueries.Get("records_refresh_agent_state_rollups"), [("hours", NpgsqlDbType.TimestampTz, hours.ToArray())], cancellationToken).ConfigureAwait(false);
    }

    // Recounts the quarters of the agents' outbound-call rollup (migration 0032) the batch's outbound
    // answers fall in. Any answered outbound row counts, with or without an agent, so a revision that
    // takes the agent or the answer away is recounted too; a call's answer time does not change
    // between revisions (it is answered once), so its stored quarter is the one recounted.
    private static async Task RefreshAgentOutboundRollupsAsync(NpgsqlConnection connection, IEnumerable<CallRecord> calls, CancellationToken cancellationToken)
    {
        var quarters = new HashSet<DateTime>();
        foreach (var call in calls)
        {
            if (call.Direction == CallDirection.Outbound && call.AnsweredAt is { } answered)
            {
                quarters.Add(Quarter(answered));
            }
        }

        if (quarters.Count == 0)
        {
            return;
        }

        await ExecuteWithArraysAsync(
            connection, NamedQueries.Get("records_refresh_agent_outbound_rollups"), [("quarters", NpgsqlDbType.TimestampTz, quarters.ToArray())], cancellationToken).ConfigureAwait(false);
    }

    // The answers' scores onto their calls' rows, in the batch's transaction: an instance that adopted a
    // caller in the survey never saw the call's row, so its records carry the answer only (issue 8).
    private static async Task ScoreCallsAsync(NpgsqlConnection connection, List<SurveyAnswerRecord> answers, CancellationToken cancellationToken)
    {
        if (answers.Count == 0)
        {
            return;
        }

        await ExecuteWithArraysAsync(
            connection,
            Queries.NamedQueries.Get("calls_survey_score"),
            [
                ("call_ids", NpgsqlDbType.Text, answers.Select(a => a.CallId).ToArray()),
                ("scores", NpgsqlDbType.Smallint, answers.Select(a => a.Score).ToArray()),
                ("answered_at", NpgsqlDbType.TimestampTz, answers.Select(a => a.AnsweredAt.UtcDateTime).ToArray()),
            ],
            cancellationToken).ConfigureAwait(false);
    }

    // The recordings onto their calls' rows that name none, in the batch's transaction: a caller recorded with an
    // outside number after leaving the queue (REC-05) was recorded after the call's row was written (issue 8).
    private static async Task LinkRecordingsAsync(NpgsqlConnection connection, List<RecordingRecord> recordings, CancellationToken cancellationToken)
    {
        if (recordings.Count == 0)
        {
            return;
        }

        await ExecuteWithArraysAsync(
            connection,
            Queries.NamedQueries.Get("calls_recording_link"),
            [
                ("call_ids", NpgsqlDbType.Text, recordings.Select(r => r.CallId).ToArray()),
                ("recording_ids", NpgsqlDbType.Text, recordings.Select(r => r.RecordingId).ToArray()),
                ("started_at", NpgsqlDbType.TimestampTz, recordings.Select(r => r.StartedAt.UtcDateTime).ToArray()),
            ],
            cancellationToken).ConfigureAwait(false);
    }

    // One statement of the batch's transaction whose parameters are arrays, each of the element type named.
    private static async Task ExecuteWithArraysAsync(NpgsqlConnection connection, string sql, (string Name, NpgsqlDbType ElementType, Array Values)[] arrays, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, elementType, values) in arrays)
        {
            command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | elementType) { Value = values });
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static DateTime Hour(DateTimeOffset time) => Floor(time, TimeSpan.FromHours(1));

    private static DateTime Quarter(DateTimeOffset time) => Floor(time, TimeSpan.FromMinutes(15));

    // The UTC bucket start of a rollup (buckets are aligned to the epoch, as in the SQL recounts).
    private static DateTime Floor(DateTimeOffset time, TimeSpan bucket)
    {
        var ticks = time.UtcTicks;
        return new DateTime(ticks - (ticks % bucket.Ticks), DateTimeKind.Utc);
    }

    private async Task EnsurePartitionsAsync(IReadOnlyList<CallCenterRecord> rows, CancellationToken cancellationToken)
    {
        List<DateTime> missing;
        lock (_monthsGate)
        {
            missing = rows.Select(r => MonthOf(r.PartitionTime)).Distinct().Where(m => !_monthsReady.Contains(m)).ToList();
        }

        if (missing.Count == 0)
        {
            return;
        }

        await using (var command = _dataSource.CreateCommand(NamedQueries.Get("records_ensure_partitions")))
        {
            command.Parameters.AddWithValue("from", missing.Min());
            command.Parameters.AddWithValue("to", missing.Max());
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        lock (_monthsGate)
        {
            var month = missing.Min();
            while (month <= missing.Max())
            {
                _monthsReady.Add(month);
                month = month.AddMonths(1);
            }
        }
    }

    private static DateTime MonthOf(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        return new DateTime(utc.Year, utc.Month, 1, 0, 0, 0, DateTimeKind.Utc);
    }
}
