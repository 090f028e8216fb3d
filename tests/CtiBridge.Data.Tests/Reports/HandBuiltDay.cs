using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Records;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Reports;

/// <summary>
/// One hand-built day (2026-11-02, UTC) whose every report number is worked out by hand in the
/// tests. Queue sales: c1..c8, queue support: s1..s3, plus two IVR-only calls; agents a1 and a2.
/// </summary>
internal static class HandBuiltDay
{
    public static readonly DateTimeOffset D = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset At(int hour, int minute, double second = 0) => D.AddHours(hour).AddMinutes(minute).AddSeconds(second);

    public static List<CallCenterRecord> Records()
    {
        List<CallCenterRecord> r =
        [
            .. Calls.Answered("c1", At(9, 0), "sales", "a1", wait: 10, talk: 100, hold: 20, wrapUp: 30),
            .. Calls.Answered("c2", At(9, 2), "sales", "a2", wait: 30, talk: 200, wrapUp: 40),
            .. Calls.Answered("c3", At(9, 5), "sales", "a1", wait: 31, talk: 50, hold: 10),
            .. Calls.Unanswered("c4", At(9, 6), "sales", 3, QueueVisitOutcome.Abandoned),
            .. Calls.Unanswered("c5", At(9, 7), "sales", 45, QueueVisitOutcome.Abandoned),
            .. Calls.Unanswered("c6", At(9, 8), "sales", 120, QueueVisitOutcome.Timeout),
            .. Calls.Answered("c7", At(9, 20), "sales", "a2", wait: 5, talk: 60, wrapUp: 20),
            .. Calls.Unanswered("c8", At(9, 25), "sales", 12, QueueVisitOutcome.ExitKey),
            .. Calls.Answered("s1", At(9, 10), "support", "a1", wait: 20, talk: 90, wrapUp: 10),
            .. Calls.Unanswered("s2", At(9, 11), "support", 4.9, QueueVisitOutcome.Abandoned),
            .. Calls.Unanswered("s3", At(9, 12), "support", 5.0, QueueVisitOutcome.Abandoned),
            new CallRecord { CallId = "ivr1", StartedAt = At(10, 0), EndedAt = At(10, 2), Direction = CallDirection.Inbound, Caller = "02055551234", Disposition = CallDisposition.IvrCompleted },
            new IvrStepRecord { CallId = "ivr1", StepNo = 0, EnteredAt = At(10, 0), Node = "main", Input = "2" },
            new IvrStepRecord { CallId = "ivr1", StepNo = 1, EnteredAt = At(10, 1), Node = "balance", Terminal = true },
            new CallRecord { CallId = "ivr2", StartedAt = At(10, 5), EndedAt = At(10, 6), Direction = CallDirection.Inbound, Caller = "02055559999", Disposition = CallDisposition.IvrAbandoned },
            Calls.Event("c5", "RINGNOANSWER", At(9, 7, 5), "sales", "a2", "15000"),

            // a1: logged in at 08:50, three calls, lunch and training pauses, still available at 10:10.
            Calls.State("a1", At(8, 50), At(9, 0, 10), AgentState.Available, session: "a1-s1"),
            Calls.State("a1", At(9, 0, 10), At(9, 2, 10), AgentState.InCall, session: "a1-s1"),
            Calls.State("a1", At(9, 2, 10), At(9, 2, 40), AgentState.WrapUp, session: "a1-s1"),
            Calls.State("a1", At(9, 2, 40), At(9, 5, 31), AgentState.Available, session: "a1-s1"),
            Calls.State("a1", At(9, 5, 31), At(9, 6, 31), AgentState.InCall, session: "a1-s1"),
            Calls.State("a1", At(9, 6, 31), At(9, 10, 20), AgentState.Available, session: "a1-s1"),
            Calls.State("a1", At(9, 10, 20), At(9, 11, 50), AgentState.InCall, session: "a1-s1"),
            Calls.State("a1", At(9, 11, 50), At(9, 12), AgentState.WrapUp, session: "a1-s1"),
            Calls.State("a1", At(9, 12), At(9, 42), AgentState.Paused, "lunch", session: "a1-s1"),
            Calls.State("a1", At(9, 42), At(9, 50), AgentState.Paused, "training", session: "a1-s1"),
            Calls.State("a1", At(9, 50), At(10, 10), AgentState.Available, session: "a1-s1"),

            // a2: logged in 09:00 to 09:30, two calls.
            Calls.State("a2", At(9, 0), At(9, 2, 30), AgentState.Available, session: "a2-s1"),
            Calls.State("a2", At(9, 2, 30), At(9, 5, 50), AgentState.InCall, session: "a2-s1"),
            Calls.State("a2", At(9, 5, 50), At(9, 6, 30), AgentState.WrapUp, session: "a2-s1"),
            Calls.State("a2", At(9, 6, 30), At(9, 20, 5), AgentState.Available, session: "a2-s1"),
            Calls.State("a2", At(9, 20, 5), At(9, 21, 5), AgentState.InCall, session: "a2-s1"),
            Calls.State("a2", At(9, 21, 5), At(9, 21, 25), AgentState.WrapUp, session: "a2-s1"),
            Calls.State("a2", At(9, 21, 25), At(9, 30), AgentState.Available, session: "a2-s1"),

            Survey("c1", At(9, 5), 9, 10, "a1", "sales"),
            Survey("c2", At(9, 8), 7, 10, "a2", "sales"),
            Survey("s1", At(9, 15), 10, 10, "a1", "support"),
            Survey("c7", At(9, 25), 4, 5, "a2", "sales"),
            new RecordingRecord { RecordingId = "rec-c1", StartedAt = At(9, 0, 10), EndedAt = At(9, 2, 10), CallId = "c1", AgentId = "a1", Path = "/var/spool/asterisk/monitor/c1.wav" },
        ];
        return r;
    }

    private static SurveyAnswerRecord Survey(string call, DateTimeOffset at, short score, short max, string agent, string queue) =>
        new() { CallId = call, Question = "overall", AnsweredAt = at, Score = score, ScaleMax = max, AgentId = agent, Queue = queue };

    public static async Task LoadAsync(TestDatabase db, CancellationToken cancellationToken) =>
        await new CallRecordWriter(db.DataSource).WriteAsync(Records(), cancellationToken);
}
