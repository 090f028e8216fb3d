using CtiBridge.Core.Acd;
using CoreDisposition = CtiBridge.Core.Acd.CallDisposition;
using CoreOutcome = CtiBridge.Core.Acd.QueueVisitOutcome;

namespace CtiBridge.Data.Records;

/// <summary>
/// What a queued inbound call's <c>calls</c> row is made of, however it was learned: from the ACD's events, as the call's
/// own instance makes it (<see cref="AcdRecordMapper"/>), or from an ended <c>live_calls</c> row, as the instance adopting the
/// server remakes a record lost with a killed instance (<see cref="LiveState.EndedLiveCall"/>). One rule makes both, so a
/// recovered record is the one the call's instance would have written.
/// </summary>
internal sealed record InboundCallRow
{
    public required string CallId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset EndedAt { get; init; }
    public required CallDisposition Disposition { get; init; }
    public string? Did { get; init; }
    public string? Caller { get; init; }
    public string? AsteriskServer { get; init; }
    public IReadOnlyList<string> Queues { get; init; } = [];
    public DateTimeOffset? FirstEnqueuedAt { get; init; }
    public DateTimeOffset? AnsweredAt { get; init; }

    /// <summary>The last visit's wait, the call's wait when it was never answered.</summary>
    public TimeSpan? LastVisitWait { get; init; }

    public TimeSpan Talk { get; init; }
    public TimeSpan Hold { get; init; }
    public TimeSpan WrapUp { get; init; }
    public string? AgentId { get; init; }
    public ReleasedBy? ReleasedBy { get; init; }
    public IReadOnlyList<string> TransferChain { get; init; } = [];
    public string? RecordingId { get; init; }
    public short? SurveyScore { get; init; }
    public bool EndEstimated { get; init; }

    /// <summary>
    /// The row: its end never before its start, its wait from the first queue entry to the first answer (unanswered: the last
    /// visit's), no time negative, and answered only with an answer (a row that says answered without one is a lost call).
    /// </summary>
    public CallRecord ToRecord(int revision)
    {
        var wait = FirstEnqueuedAt is { } first && AnsweredAt is { } answered ? answered - first : LastVisitWait;
        return new CallRecord
        {
            CallId = CallId, StartedAt = StartedAt, Revision = revision, Direction = CallDirection.Inbound, Did = Did, Caller = Caller, AsteriskServer = AsteriskServer,
            Queues = [.. Queues], EnqueuedAt = FirstEnqueuedAt, AnsweredAt = AnsweredAt, EndedAt = EndedAt < StartedAt ? StartedAt : EndedAt,
            WaitSeconds = wait is { } w ? Math.Max(0, w.TotalSeconds) : null,
            TalkSeconds = Math.Max(0, Talk.TotalSeconds), HoldSeconds = Math.Max(0, Hold.TotalSeconds), WrapUpSeconds = Math.Max(0, WrapUp.TotalSeconds),
            Disposition = Disposition == CallDisposition.Answered && AnsweredAt is null ? CallDisposition.SystemLost : Disposition,
            AgentId = AgentId, ReleasedBy = ReleasedBy, TransferChain = [.. TransferChain], RecordingId = RecordingId, SurveyScore = SurveyScore, EndEstimated = EndEstimated,
        };
    }
}

/// <summary>The ACD core's words for how a call and a visit ended and who hung up, in the records' words (one mapping for every writer).</summary>
internal static class AcdRecordWords
{
    public static CallDisposition Disposition(CoreDisposition disposition) => disposition switch
    {
        CoreDisposition.Answered => CallDisposition.Answered,
        CoreDisposition.Abandoned => CallDisposition.Abandoned,
        CoreDisposition.Overflowed => CallDisposition.Overflowed,
        CoreDisposition.Voicemail => CallDisposition.Voicemail,
        _ => CallDisposition.SystemLost,
    };

    public static QueueVisitOutcome Outcome(CoreOutcome outcome) => outcome switch
    {
        CoreOutcome.Answered => QueueVisitOutcome.Answered,
        CoreOutcome.Abandoned => QueueVisitOutcome.Abandoned,
        CoreOutcome.Timeout => QueueVisitOutcome.Timeout,
        CoreOutcome.ExitEmpty => QueueVisitOutcome.ExitEmpty,
        CoreOutcome.ExitKey => QueueVisitOutcome.ExitKey,
        _ => QueueVisitOutcome.SystemLost,
    };

    public static ReleasedBy ReleasedBy(HangupParty? party) => party switch
    {
        HangupParty.Agent => Records.ReleasedBy.Agent,
        HangupParty.Caller => Records.ReleasedBy.Caller,
        _ => Records.ReleasedBy.System,
    };
}
