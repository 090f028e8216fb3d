using CtiBridge.Data.Queries;
using CtiBridge.Data.Records;
using Npgsql;

namespace CtiBridge.Data.LiveState;

/// <summary>
/// An inbound call that ended under an earlier owner of its Asterisk server and whose record never reached <c>calls</c>:
/// its <c>live_calls</c> row, kept (marked ended) until the record is stored (migration 0044).
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Server">The Asterisk server of the caller's channel.</param>
/// <param name="Queue">The last visit's queue.</param>
/// <param name="Queues">Queues visited, in order.</param>
/// <param name="EntryPosition">Position at entry of the last visit.</param>
/// <param name="StartedAt">When the call started (its record's start).</param>
/// <param name="FirstEnqueuedAt">When it first entered a queue.</param>
/// <param name="EnqueuedAt">When the last visit started.</param>
/// <param name="EndedAt">When the call ended.</param>
/// <param name="Disposition">How it ended.</param>
public sealed record EndedLiveCall(
    string CallId, string Server, string Queue, IReadOnlyList<string> Queues, int? EntryPosition, DateTimeOffset StartedAt, DateTimeOffset FirstEnqueuedAt,
    DateTimeOffset EnqueuedAt, DateTimeOffset EndedAt, CallDisposition Disposition)
{
    /// <summary>The agent of the last handling (null: never answered).</summary>
    public string? AgentId { get; init; }

    /// <summary>When the last handling's agent answered.</summary>
    public DateTimeOffset? AnsweredAt { get; init; }

    /// <summary>The call's first answer.</summary>
    public DateTimeOffset? FirstAnsweredAt { get; init; }

    /// <summary>The caller's number.</summary>
    public string? Caller { get; init; }

    /// <summary>The number called.</summary>
    public string? Did { get; init; }

    /// <summary>The end was not seen and is the last moment the call was known up.</summary>
    public bool EndEstimated { get; init; }

    /// <summary>Talk time of the finished handlings.</summary>
    public TimeSpan Talk { get; init; }

    /// <summary>Hold time of the finished handlings.</summary>
    public TimeSpan Hold { get; init; }

    /// <summary>Who ended the last handling.</summary>
    public ReleasedBy? ReleasedBy { get; init; }

    /// <summary>How the last visit ended when unanswered (null: not stored; taken from the disposition).</summary>
    public QueueVisitOutcome? VisitOutcome { get; init; }

    /// <summary>When the last visit ended unanswered.</summary>
    public DateTimeOffset? VisitLeftAt { get; init; }

    /// <summary>Where the call was transferred, in order (<c>calls.transfer_chain</c>).</summary>
    public IReadOnlyList<string> TransferChain { get; init; } = [];

    /// <summary>The call's first recording (<c>calls.recording_id</c>; its row ends with the call), if any.</summary>
    public RecordingRecord? Recording { get; init; }

    /// <summary>The survey score, when answered before the row went (<c>calls.survey_score</c>).</summary>
    public short? SurveyScore { get; init; }

    /// <summary>
    /// The call's row (revision 0: a record its own instance stored later, or stores from its journal, is kept, never doubled:
    /// the upsert is keyed by the call and its start), its last visit's row and its recording's, as the record mapper would
    /// have written them from the events (one rule, <see cref="InboundCallRow"/>; wrap-up comes with the handling's end,
    /// whose own records carry it).
    /// </summary>
    public IReadOnlyList<CallCenterRecord> ToRecords()
    {
        var end = EndedAt < StartedAt ? StartedAt : EndedAt;
        var answered = AgentId is not null && AnsweredAt is not null;
        var visitLeft = answered ? AnsweredAt!.Value : VisitLeftAt ?? end;
        visitLeft = visitLeft < EnqueuedAt ? EnqueuedAt : visitLeft;
        var call = new InboundCallRow
        {
            CallId = CallId, StartedAt = StartedAt, EndedAt = end, Disposition = Disposition, Did = Did, Caller = Caller, AsteriskServer = Server,
            Queues = Queues, FirstEnqueuedAt = FirstEnqueuedAt, AnsweredAt = FirstAnsweredAt ?? AnsweredAt, LastVisitWait = visitLeft - EnqueuedAt,
            Talk = Talk, Hold = Hold, AgentId = AgentId, ReleasedBy = ReleasedBy, TransferChain = TransferChain, RecordingId = Recording?.RecordingId,
            SurveyScore = SurveyScore, EndEstimated = EndEstimated,
        }.ToRecord(revision: 0);
        var disposition = call.Disposition;
        var visit = new QueueVisitRecord
        {
            CallId = CallId, Queue = Queue, EnteredAt = EnqueuedAt, LeftAt = visitLeft, EntryPosition = EntryPosition,
            Outcome = answered ? QueueVisitOutcome.Answered : VisitOutcome is { } outcome && outcome != QueueVisitOutcome.Answered ? outcome : OutcomeOf(disposition),
            AnsweredAt = answered ? AnsweredAt : null, AgentId = answered ? AgentId : null,
        };
        return Recording is { } recording
            ? [call, visit, recording with { EndedAt = end < recording.StartedAt ? recording.StartedAt : end }]
            : [call, visit];
    }

    private static QueueVisitOutcome OutcomeOf(CallDisposition disposition) => disposition switch
    {
        CallDisposition.Abandoned => QueueVisitOutcome.Abandoned,
        CallDisposition.Voicemail => QueueVisitOutcome.ExitKey,
        CallDisposition.Overflowed => QueueVisitOutcome.Timeout,
        _ => QueueVisitOutcome.SystemLost,
    };
}

/// <summary>
/// A caller outside a queue whose call ended under an earlier owner of its Asterisk server and whose record never reached
/// the database: its <c>live_ivr_calls</c> row, kept (marked ended) until the record is stored (migration 0046). An IVR-only
/// call's record is its <c>calls</c> row (<see cref="Call"/>, as call control wrote it); a survey's, the answer.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="Call">The IVR-only call's row (revision 0, keyed like the one its instance wrote); null for a survey, whose row comes from the queue's records.</param>
public sealed record EndedIvrCall(string CallId, CallRecord? Call)
{
    /// <summary>The outside call's recording, if any.</summary>
    public RecordingRecord? Recording { get; init; }

    /// <summary>The survey's answer not stored yet, if any.</summary>
    public SurveyAnswerRecord? SurveyAnswer { get; init; }

    /// <summary>The records to write: the call's row, its recording's, the survey's answer (whichever it has).</summary>
    public IReadOnlyList<CallCenterRecord> ToRecords() =>
        [.. new CallCenterRecord?[] { Call, Recording, SurveyAnswer }.OfType<CallCenterRecord>()];
}

/// <summary>Reads the ended, unrecorded rows of <c>live_calls</c> and <c>live_ivr_calls</c> (<see cref="LiveStateStore.EndedUnrecordedCallsAsync"/>).</summary>
internal static class EndedLiveCalls
{
    public static async Task<IReadOnlyList<EndedLiveCall>> UnrecordedAsync(NpgsqlDataSource dataSource, string server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        await using (var cleanup = dataSource.CreateCommand(NamedQueries.Get("live_calls_ended_recorded_delete")))
        {
            cleanup.Parameters.AddWithValue("server", server);
            await cleanup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("live_calls_ended_unrecorded"));
        command.Parameters.AddWithValue("server", server);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var calls = new List<EndedLiveCall>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
            calls.Add(new EndedLiveCall(
                reader.GetString(0), server, reader.GetString(1), reader.GetFieldValue<string[]>(2), reader.IsDBNull(3) ? null : reader.GetInt32(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6),
                reader.GetFieldValue<DateTimeOffset>(11), Parse<CallDisposition>(Text(12)) ?? CallDisposition.SystemLost)
            {
                AgentId = Text(7), AnsweredAt = Time(8), Caller = Text(9), Did = Text(10), EndEstimated = reader.GetBoolean(13),
                Talk = TimeSpan.FromSeconds(reader.GetDouble(14)), Hold = TimeSpan.FromSeconds(reader.GetDouble(15)), ReleasedBy = Parse<ReleasedBy>(Text(16)),
                VisitOutcome = Parse<QueueVisitOutcome>(Text(17)), VisitLeftAt = Time(18), FirstAnsweredAt = Time(19),
                TransferChain = reader.GetFieldValue<string[]>(20), SurveyScore = reader.IsDBNull(26) ? null : reader.GetInt16(26),
                Recording = Text(21) is { } recordingId
                    ? new RecordingRecord { RecordingId = recordingId, StartedAt = Time(22) ?? reader.GetFieldValue<DateTimeOffset>(11), CallId = reader.GetString(0), Path = Text(23) ?? recordingId, Format = Text(24) ?? "wav", AgentId = Text(25) }
                    : null,
            });
        }

        return calls;
    }

    public static async Task<IReadOnlyList<EndedIvrCall>> UnrecordedIvrAsync(NpgsqlDataSource dataSource, string server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(server);
        await using (var cleanup = dataSource.CreateCommand(NamedQueries.Get("live_ivr_calls_ended_recorded_delete")))
        {
            cleanup.Parameters.AddWithValue("server", server);
            await cleanup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("live_ivr_calls_ended_unrecorded"));
        command.Parameters.AddWithValue("server", server);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var calls = new List<EndedIvrCall>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
            var callId = reader.GetString(0);
            var startedAt = reader.GetFieldValue<DateTimeOffset>(1);
            var endedAt = reader.GetFieldValue<DateTimeOffset>(2);
            var end = endedAt < startedAt ? startedAt : endedAt;
            var recording = Text(9) is { } recordingId
                ? new RecordingRecord { RecordingId = recordingId, StartedAt = Time(10) ?? end, CallId = callId, EndedAt = end, Path = Text(11) ?? recordingId, Format = Text(12) ?? "wav" }
                : null;

            // The row as call control wrote it at the end (CallCenter.WriteIvrCallRecord).
            var call = Parse<CallDisposition>(Text(3)) is { } disposition
                ? new CallRecord
                {
                    CallId = callId, StartedAt = startedAt, Direction = CallDirection.Inbound, Did = Text(7), AsteriskServer = server, Caller = Text(6), Callee = Text(8),
                    EndedAt = end, EndEstimated = reader.GetBoolean(4), Disposition = disposition, ReleasedBy = Parse<ReleasedBy>(Text(5)), RecordingId = recording?.RecordingId,
                }
                : null;
            var answer = reader.IsDBNull(14) || Text(13) is not { } question
                ? null
                : new SurveyAnswerRecord
                {
                    CallId = callId, Question = question, Score = reader.GetInt16(14), ScaleMax = reader.IsDBNull(15) ? (short)10 : reader.GetInt16(15),
                    AnsweredAt = Time(16) ?? end, Queue = Text(17), AgentId = Text(18),
                };
            calls.Add(new EndedIvrCall(callId, call) { Recording = recording, SurveyAnswer = answer });
        }

        return calls;
    }

    // The database spelling (snake_case, SqlNames) back to the enum; null when absent or unknown.
    private static TEnum? Parse<TEnum>(string? name) where TEnum : struct, Enum =>
        name is not null && Enum.TryParse<TEnum>(name.Replace("_", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var value) ? value : null;
}
