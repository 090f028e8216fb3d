using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Records;

/// <summary>One column of a record table: its name and how a record's value is written by binary COPY.</summary>
internal sealed class RecordColumn<T>(string name, Func<NpgsqlBinaryImporter, T, CancellationToken, Task> write)
{
    public string Name { get; } = name;

    public Func<NpgsqlBinaryImporter, T, CancellationToken, Task> Write { get; } = write;

    public static RecordColumn<T> Text(string name, Func<T, string?> value) =>
        new(name, (w, r, ct) => value(r) is { } v ? w.WriteAsync(v, NpgsqlDbType.Text, ct) : w.WriteNullAsync(ct));

    public static RecordColumn<T> TextArray(string name, Func<T, IReadOnlyList<string>> value) =>
        new(name, (w, r, ct) => w.WriteAsync(value(r).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, ct));

    // Npgsql writes timestamptz from UTC DateTime values only.
    public static RecordColumn<T> Time(string name, Func<T, DateTimeOffset?> value) =>
        new(name, (w, r, ct) => value(r) is { } v ? w.WriteAsync(v.UtcDateTime, NpgsqlDbType.TimestampTz, ct) : w.WriteNullAsync(ct));

    public static RecordColumn<T> Double(string name, Func<T, double?> value) =>
        new(name, (w, r, ct) => value(r) is { } v ? w.WriteAsync(v, NpgsqlDbType.Double, ct) : w.WriteNullAsync(ct));

    public static RecordColumn<T> Int(string name, Func<T, int?> value) =>
        new(name, (w, r, ct) => value(r) is { } v ? w.WriteAsync(v, NpgsqlDbType.Integer, ct) : w.WriteNullAsync(ct));

    public static RecordColumn<T> Short(string name, Func<T, short?> value) =>
        new(name, (w, r, ct) => value(r) is { } v ? w.WriteAsync(v, NpgsqlDbType.Smallint, ct) : w.WriteNullAsync(ct));

    public static RecordColumn<T> Long(string name, Func<T, long?> value) =>
        new(name, (w, r, ct) => value(r) is { } v ? w.WriteAsync(v, NpgsqlDbType.Bigint, ct) : w.WriteNullAsync(ct));

    public static RecordColumn<T> Bool(string name, Func<T, bool> value) =>
        new(name, (w, r, ct) => w.WriteAsync(value(r), NpgsqlDbType.Boolean, ct));

    public static RecordColumn<T> Uuid(string name, Func<T, Guid> value) =>
        new(name, (w, r, ct) => w.WriteAsync(value(r), NpgsqlDbType.Uuid, ct));
}

/// <summary>Writes one kind of record: binary COPY into a session staging table, then an idempotent upsert.</summary>
internal interface IRecordTable
{
    string Table { get; }

    Type RecordType { get; }

    Task WriteAsync(NpgsqlConnection connection, IReadOnlyList<CallCenterRecord> records, CancellationToken cancellationToken);
}

/// <summary>
/// A record table: the staging table has the same columns as the COPY, so a batch lands with one
/// COPY and one INSERT ... SELECT. Duplicates inside a batch are reduced to the highest revision
/// first (ON CONFLICT cannot touch a row twice in one statement); rows already stored are kept
/// (no revision) or replaced only by a higher revision.
/// </summary>
internal sealed class RecordTable<T> : IRecordTable where T : CallCenterRecord
{
    private readonly RecordColumn<T>[] _columns;
    private readonly string _createStage;
    private readonly string _copy;
    private readonly string _upsert;

    public RecordTable(string table, string[] key, bool hasRevision, params RecordColumn<T>[] columns)
    {
        Table = table;
        _columns = columns;
        var stage = $"stage_{table}";
        var names = string.Join(", ", columns.Select(c => c.Name));
        var keys = string.Join(", ", key);
        _createStage = $"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS SELECT {names} FROM {table} WITH NO DATA";
        _copy = $"COPY {stage} ({names}) FROM STDIN (FORMAT BINARY)";
        var upsert = new StringBuilder()
            .Append($"INSERT INTO {table} ({names}) SELECT DISTINCT ON ({keys}) {names} FROM {stage} ORDER BY {keys}")
            .Append(hasRevision ? ", revision DESC" : string.Empty)
            .Append($" ON CONFLICT ({keys}) DO ");
        if (hasRevision)
        {
            // A call's survey score may come from the survey answer alone (calls_survey_score.sql: a caller adopted in
            // the survey), and its recording from the recording's row alone (calls_recording_link.sql: a caller recorded
            // with an outside number after the row was written), after the row; a later revision without them must not clear them.
            var updates = columns.Where(c => !key.Contains(c.Name))
                .Select(c => table == "calls" && c.Name is "survey_score" or "recording_id" ? $"{c.Name} = COALESCE(EXCLUDED.{c.Name}, {table}.{c.Name})" : $"{c.Name} = EXCLUDED.{c.Name}");
            upsert.Append("UPDATE SET ").Append(string.Join(", ", updates))
                .Append(table == "calls" ? ", written_at = now()" : string.Empty)
                .Append($" WHERE {table}.revision < EXCLUDED.revision");
        }
        else
        {
            upsert.Append("NOTHING");
        }

        _upsert = upsert.ToString();
    }

    public string Table { get; }

    public Type RecordType => typeof(T);

    public async Task WriteAsync(NpgsqlConnection connection, IReadOnlyList<CallCenterRecord> records, CancellationToken cancellationToken)
    {
        await using (var create = new NpgsqlCommand(_createStage, connection))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var importer = await connection.BeginBinaryImportAsync(_copy, cancellationToken).ConfigureAwait(false))
        {
            foreach (var record in records)
            {
                var row = (T)record;
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                foreach (var column in _columns)
                {
                    await column.Write(importer, row, cancellationToken).ConfigureAwait(false);
                }
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var upsert = new NpgsqlCommand(_upsert, connection);
        await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The record tables of migration 0002, column by column.</summary>
internal static class RecordTables
{
    public static readonly IReadOnlyList<IRecordTable> All =
    [
        new RecordTable<CallRecord>("calls", ["call_id", "started_at"], hasRevision: true,
            RecordColumn<CallRecord>.Text("call_id", r => r.CallId),
            RecordColumn<CallRecord>.Time("started_at", r => r.StartedAt),
            RecordColumn<CallRecord>.Int("revision", r => r.Revision),
            RecordColumn<CallRecord>.Text("direction", r => SqlNames.Of(r.Direction)),
            RecordColumn<CallRecord>.Text("did", r => r.Did),
            RecordColumn<CallRecord>.Text("caller", r => r.Caller),
            RecordColumn<CallRecord>.Text("callee", r => r.Callee),
            RecordColumn<CallRecord>.TextArray("queues", r => r.Queues),
            RecordColumn<CallRecord>.Time("enqueued_at", r => r.EnqueuedAt),
            RecordColumn<CallRecord>.Time("answered_at", r => r.AnsweredAt),
            RecordColumn<CallRecord>.Time("ended_at", r => r.EndedAt),
            RecordColumn<CallRecord>.Double("wait_seconds", r => r.WaitSeconds),
            RecordColumn<CallRecord>.Double("talk_seconds", r => r.TalkSeconds),
            RecordColumn<CallRecord>.Double("hold_seconds", r => r.HoldSeconds),
            RecordColumn<CallRecord>.Double("wrap_up_seconds", r => r.WrapUpSeconds),
            RecordColumn<CallRecord>.Text("disposition", r => SqlNames.Of(r.Disposition)),
            RecordColumn<CallRecord>.Text("agent_id", r => r.AgentId),
            RecordColumn<CallRecord>.TextArray("transfer_chain", r => r.TransferChain),
            RecordColumn<CallRecord>.Text("released_by", r => r.ReleasedBy is { } by ? SqlNames.Of(by) : null),
            RecordColumn<CallRecord>.Text("recording_id", r => r.RecordingId),
            RecordColumn<CallRecord>.Short("survey_score", r => r.SurveyScore),
            RecordColumn<CallRecord>.Text("campaign_id", r => r.CampaignId),
            RecordColumn<CallRecord>.Text("lead_id", r => r.LeadId),
            RecordColumn<CallRecord>.Text("callback_id", r => r.CallbackId),
            RecordColumn<CallRecord>.Text("account_code", r => r.AccountCode),
            RecordColumn<CallRecord>.Text("asterisk_server", r => r.AsteriskServer),
            RecordColumn<CallRecord>.Bool("end_estimated", r => r.EndEstimated)),
        new RecordTable<CallLegRecord>("call_legs", ["leg_id", "started_at"], hasRevision: true,
            RecordColumn<CallLegRecord>.Text("leg_id", r => r.LegId),
            RecordColumn<CallLegRecord>.Time("started_at", r => r.StartedAt),
            RecordColumn<CallLegRecord>.Text("call_id", r => r.CallId),
            RecordColumn<CallLegRecord>.Int("revision", r => r.Revision),
            RecordColumn<CallLegRecord>.Text("party", r => SqlNames.Of(r.Party)),
            RecordColumn<CallLegRecord>.Text("agent_id", r => r.AgentId),
            RecordColumn<CallLegRecord>.Text("channel", r => r.Channel),
            RecordColumn<CallLegRecord>.Time("answered_at", r => r.AnsweredAt),
            RecordColumn<CallLegRecord>.Time("ended_at", r => r.EndedAt),
            RecordColumn<CallLegRecord>.Int("hangup_cause", r => r.HangupCause)),
        new RecordTable<QueueVisitRecord>("queue_visits", ["call_id", "queue", "entered_at"], hasRevision: true,
            RecordColumn<QueueVisitRecord>.Text("call_id", r => r.CallId),
            RecordColumn<QueueVisitRecord>.Text("queue", r => r.Queue),
            RecordColumn<QueueVisitRecord>.Time("entered_at", r => r.EnteredAt),
            RecordColumn<QueueVisitRecord>.Int("revision", r => r.Revision),
            RecordColumn<QueueVisitRecord>.Text("outcome", r => SqlNames.Of(r.Outcome)),
            RecordColumn<QueueVisitRecord>.Time("left_at", r => r.LeftAt),
            RecordColumn<QueueVisitRecord>.Time("answered_at", r => r.AnsweredAt),
            RecordColumn<QueueVisitRecord>.Text("agent_id", r => r.AgentId),
            RecordColumn<QueueVisitRecord>.Int("entry_position", r => r.EntryPosition),
            RecordColumn<QueueVisitRecord>.Double("talk_seconds", r => r.TalkSeconds),
            RecordColumn<QueueVisitRecord>.Double("hold_seconds", r => r.HoldSeconds),
            RecordColumn<QueueVisitRecord>.Double("wrap_up_seconds", r => r.WrapUpSeconds),
            RecordColumn<QueueVisitRecord>.Bool("handled", r => r.Handled)),
        new RecordTable<QueueEventRecord>("queue_events", ["event_id", "event_time"], hasRevision: false,
            RecordColumn<QueueEventRecord>.Uuid("event_id", r => r.EventId),
            RecordColumn<QueueEventRecord>.Time("event_time", r => r.EventTime),
            RecordColumn<QueueEventRecord>.Text("call_id", r => r.CallId),
            RecordColumn<QueueEventRecord>.Text("queue", r => r.Queue),
            RecordColumn<QueueEventRecord>.Text("agent", r => r.Agent),
            RecordColumn<QueueEventRecord>.Text("event", r => r.Event),
            RecordColumn<QueueEventRecord>.TextArray("data", r => r.Data)),
        new RecordTable<AgentStateRecord>("agent_state_intervals", ["agent_id", "started_at"], hasRevision: true,
            RecordColumn<AgentStateRecord>.Text("agent_id", r => r.AgentId),
            RecordColumn<AgentStateRecord>.Time("started_at", r => r.StartedAt),
            RecordColumn<AgentStateRecord>.Int("revision", r => r.Revision),
            RecordColumn<AgentStateRecord>.Time("ended_at", r => r.EndedAt),
            RecordColumn<AgentStateRecord>.Text("state", r => SqlNames.Of(r.State)),
            RecordColumn<AgentStateRecord>.Text("reason", r => r.Reason),
            RecordColumn<AgentStateRecord>.Text("session_id", r => r.SessionId)),
        new RecordTable<IvrStepRecord>("ivr_steps", ["call_id", "step_no", "entered_at"], hasRevision: false,
            RecordColumn<IvrStepRecord>.Text("call_id", r => r.CallId),
            RecordColumn<IvrStepRecord>.Int("step_no", r => r.StepNo),
            RecordColumn<IvrStepRecord>.Time("entered_at", r => r.EnteredAt),
            RecordColumn<IvrStepRecord>.Text("node", r => r.Node),
            RecordColumn<IvrStepRecord>.Text("input", r => r.Input),
            RecordColumn<IvrStepRecord>.Bool("terminal", r => r.Terminal)),
        new RecordTable<SurveyAnswerRecord>("survey_answers", ["call_id", "question", "answered_at"], hasRevision: false,
            RecordColumn<SurveyAnswerRecord>.Text("call_id", r => r.CallId),
            RecordColumn<SurveyAnswerRecord>.Text("question", r => r.Question),
            RecordColumn<SurveyAnswerRecord>.Time("answered_at", r => r.AnsweredAt),
            RecordColumn<SurveyAnswerRecord>.Short("score", r => r.Score),
            RecordColumn<SurveyAnswerRecord>.Short("scale_max", r => r.ScaleMax),
            RecordColumn<SurveyAnswerRecord>.Text("agent_id", r => r.AgentId),
            RecordColumn<SurveyAnswerRecord>.Text("queue", r => r.Queue)),
        new RecordTable<RecordingRecord>("recordings", ["recording_id", "started_at"], hasRevision: false,
            RecordColumn<RecordingRecord>.Text("recording_id", r => r.RecordingId),
            RecordColumn<RecordingRecord>.Time("started_at", r => r.StartedAt),
            RecordColumn<RecordingRecord>.Text("call_id", r => r.CallId),
            RecordColumn<RecordingRecord>.Text("leg_id", r => r.LegId),
            RecordColumn<RecordingRecord>.Text("agent_id", r => r.AgentId),
            RecordColumn<RecordingRecord>.Time("ended_at", r => r.EndedAt),
            RecordColumn<RecordingRecord>.Text("path", r => r.Path),
            RecordColumn<RecordingRecord>.Text("format", r => r.Format),
            RecordColumn<RecordingRecord>.Long("size_bytes", r => r.SizeBytes)),
    ];
}

/// <summary>The database spelling of the record enums (snake_case, as the CHECK constraints list them).</summary>
internal static class SqlNames
{
    public static string Of<TEnum>(TEnum value) where TEnum : struct, Enum => Cache<TEnum>.Names[value];

    private static class Cache<TEnum> where TEnum : struct, Enum
    {
        public static readonly Dictionary<TEnum, string> Names = Enum.GetValues<TEnum>().ToDictionary(v => v, v => Snake(v.ToString()));
    }

    private static string Snake(string name)
    {
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
