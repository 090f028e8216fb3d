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

    /// <summary>
    /// The call's row (revision 0: a record its own instance stored later, or stores from its journal, is kept, never doubled:
    /// the upsert is keyed by the call and its start) and its last visit's row, as the record mapper would have written them
    /// from the events (wrap-up comes with the handling's end, whose own records carry it).
    /// </summary>
    public IReadOnlyList<CallCenterRecord> ToRecords()
    {
        var end = EndedAt < StartedAt ? StartedAt : EndedAt;
        var answeredAt = FirstAnsweredAt ?? AnsweredAt;
        var answered = AgentId is not null && AnsweredAt is not null;
        var disposition = Disposition == CallDisposition.Answered && answeredAt is null ? CallDisposition.SystemLost : Disposition;
        var visitLeft = answered ? AnsweredAt!.Value : VisitLeftAt ?? end;
        visitLeft = visitLeft < EnqueuedAt ? EnqueuedAt : visitLeft;
        var call = new CallRecord
        {
            CallId = CallId, StartedAt = StartedAt, Direction = CallDirection.Inbound, Did = Did, Caller = Caller, AsteriskServer = Server,
            Queues = Queues, EnqueuedAt = FirstEnqueuedAt, AnsweredAt = answeredAt, EndedAt = end,
            WaitSeconds = answeredAt is { } first ? Math.Max(0, (first - FirstEnqueuedAt).TotalSeconds) : Math.Max(0, (visitLeft - EnqueuedAt).TotalSeconds),
            TalkSeconds = Math.Max(0, Talk.TotalSeconds), HoldSeconds = Math.Max(0, Hold.TotalSeconds),
            Disposition = disposition, AgentId = AgentId, ReleasedBy = ReleasedBy, EndEstimated = EndEstimated,
        };
        var visit = new QueueVisitRecord
        {
            CallId = CallId, Queue = Queue, EnteredAt = EnqueuedAt, LeftAt = visitLeft, EntryPosition = EntryPosition,
            Outcome = answered ? QueueVisitOutcome.Answered : VisitOutcome is { } outcome && outcome != QueueVisitOutcome.Answered ? outcome : OutcomeOf(disposition),
            AnsweredAt = answered ? AnsweredAt : null, AgentId = answered ? AgentId : null,
        };
        return [call, visit];
    }

    private static QueueVisitOutcome OutcomeOf(CallDisposition disposition) => disposition switch
    {
        CallDisposition.Abandoned => QueueVisitOutcome.Abandoned,
        CallDisposition.Voicemail => QueueVisitOutcome.ExitKey,
        CallDisposition.Overflowed => QueueVisitOutcome.Timeout,
        _ => QueueVisitOutcome.SystemLost,
    };
}

/// <summary>Reads the ended, unrecorded rows of <c>live_calls</c> (<see cref="LiveStateStore.EndedUnrecordedCallsAsync"/>).</summary>
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
            });
        }

        return calls;
    }

    // The database spelling (snake_case, SqlNames) back to the enum; null when absent or unknown.
    private static TEnum? Parse<TEnum>(string? name) where TEnum : struct, Enum =>
        name is not null && Enum.TryParse<TEnum>(name.Replace("_", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var value) ? value : null;
}
