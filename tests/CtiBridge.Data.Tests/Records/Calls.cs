using CtiBridge.Data.Records;

namespace CtiBridge.Data.Tests.Records;

/// <summary>Builds the records one call produces, consistently (call row, queue visit, queue_log events).</summary>
internal static class Calls
{
    public static readonly DateTimeOffset Day = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    /// <summary>An inbound call that waits <paramref name="wait"/> s in the queue and is answered.</summary>
    public static List<CallCenterRecord> Answered(string callId, DateTimeOffset enteredAt, string queue, string agent, double wait, double talk, double hold = 0, double wrapUp = 0, int revision = 0, short? survey = null)
    {
        var answeredAt = enteredAt.AddSeconds(wait);
        var endedAt = answeredAt.AddSeconds(talk + hold);
        List<CallCenterRecord> records =
        [
            new CallRecord
            {
                CallId = callId, StartedAt = enteredAt, Revision = revision, Direction = CallDirection.Inbound, Did = "4001234567", Caller = "13800138000",
                Queues = [queue], EnqueuedAt = enteredAt, AnsweredAt = answeredAt, EndedAt = endedAt, WaitSeconds = wait, TalkSeconds = talk,
                HoldSeconds = hold, WrapUpSeconds = wrapUp, Disposition = CallDisposition.Answered, AgentId = agent, ReleasedBy = ReleasedBy.Caller,
                SurveyScore = survey,
            },
            new QueueVisitRecord
            {
                CallId = callId, Queue = queue, EnteredAt = enteredAt, Revision = revision, Outcome = QueueVisitOutcome.Answered, LeftAt = answeredAt,
                AnsweredAt = answeredAt, AgentId = agent, EntryPosition = 1, TalkSeconds = talk, HoldSeconds = hold, WrapUpSeconds = wrapUp, Handled = true,
            },
            Event(callId, "ENTERQUEUE", enteredAt, queue, "NONE", "", "13800138000", "1"),
            Event(callId, "CONNECT", answeredAt, queue, agent, ((int)wait).ToString(), callId + ".1", "1"),
            Event(callId, "COMPLETECALLER", endedAt, queue, agent, ((int)wait).ToString(), ((int)(talk + hold)).ToString(), "1"),
        ];
        return records;
    }

    /// <summary>An inbound call that leaves the queue unanswered after <paramref name="wait"/> s.</summary>
    public static List<CallCenterRecord> Unanswered(string callId, DateTimeOffset enteredAt, string queue, double wait, QueueVisitOutcome outcome)
    {
        var leftAt = enteredAt.AddSeconds(wait);
        var disposition = outcome switch
        {
            QueueVisitOutcome.Abandoned => CallDisposition.Abandoned,
            QueueVisitOutcome.SystemLost => CallDisposition.SystemLost,
            _ => CallDisposition.Overflowed,
        };
        var queueLogEvent = outcome switch
        {
            QueueVisitOutcome.Abandoned => "ABANDON",
            QueueVisitOutcome.Timeout => "EXITWITHTIMEOUT",
            QueueVisitOutcome.ExitEmpty => "EXITEMPTY",
            QueueVisitOutcome.ExitKey => "EXITWITHKEY",
            _ => "SYSCOMPAT",
        };
        return
        [
            new CallRecord
            {
                CallId = callId, StartedAt = enteredAt, Direction = CallDirection.Inbound, Did = "4001234567", Caller = "13900139000", Queues = [queue],
                EnqueuedAt = enteredAt, EndedAt = leftAt, WaitSeconds = wait, Disposition = disposition, ReleasedBy = ReleasedBy.Caller,
            },
            new QueueVisitRecord { CallId = callId, Queue = queue, EnteredAt = enteredAt, Outcome = outcome, LeftAt = leftAt, EntryPosition = 1 },
            Event(callId, "ENTERQUEUE", enteredAt, queue, "NONE", "", "13900139000", "1"),
            Event(callId, queueLogEvent, leftAt, queue, "NONE", "1", "1", ((int)wait).ToString()),
        ];
    }

    /// <summary>A queue_log event with an id derived from its content, so a replay repeats it.</summary>
    public static QueueEventRecord Event(string callId, string name, DateTimeOffset time, string queue, string agent, params string[] data) =>
        new()
        {
            EventId = DeterministicId($"{callId}|{name}|{time:O}|{queue}|{agent}"),
            EventTime = time, CallId = callId, Queue = queue, Agent = agent, Event = name, Data = data,
        };

    public static AgentStateRecord State(string agent, DateTimeOffset from, DateTimeOffset to, AgentState state, string? reason = null, string session = "s1") =>
        new() { AgentId = agent, StartedAt = from, EndedAt = to, State = state, Reason = reason, SessionId = session };

    public static Guid DeterministicId(string text)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));
        return new Guid(hash.AsSpan(0, 16));
    }
}
