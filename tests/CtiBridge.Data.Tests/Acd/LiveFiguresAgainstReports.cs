using CtiBridge.Core.Acd;
using CtiBridge.Data.Tests.Reports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Acd;

/// <summary>
/// One check for "the wallboard's figures are the reports' figures": the live statistics of a window
/// against report_queue_traffic and report_agent_activity over that window as one interval.
/// </summary>
internal static class LiveFiguresAgainstReports
{
    // PostgreSQL keeps times to the microsecond, .NET to 100 ns: sums of many intervals may differ by microseconds.
    private const double Eps = 1e-3;

    /// <summary>
    /// Every queue with calls offered in <paramref name="live"/> has one report row from <paramref name="from"/>
    /// to <paramref name="to"/> with the same counts and times, and every agent row equals the agent's live
    /// figures as of <paramref name="now"/> (states still open count up to then, as on the wallboard).
    /// </summary>
    public static async Task AssertEqualAsync(TestDatabase db, AcdStatistics live, DateTimeOffset from, DateTimeOffset to, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var queueRows = await Rows.ReadAsync(db, $"SELECT * FROM report_queue_traffic('{from:O}', '{to:O}', '1d')", cancellationToken);
        Assert.Equal(live.QueueNames.Count(q => live.ForQueue(q).Offered > 0), queueRows.Count);
        foreach (var row in queueRows)
        {
            var q = live.ForQueue((string)row["queue"]!);
            Assert.Equal(q.Offered, row.L("offered"));
            Assert.Equal(q.Answered, row.L("answered"));
            Assert.Equal(q.AnsweredWithinThreshold, row.L("answered_within_sl"));
            Assert.Equal(q.Abandoned, row.L("abandoned"));
            Assert.Equal(q.ShortAbandoned, row.L("abandoned_short"));
            Assert.Equal(q.Overflowed, row.L("overflowed"));
            Assert.Equal(q.SystemLost, row.L("system_lost"));
            Assert.Equal(q.ServiceLevel ?? double.NaN, row["service_level"] is null ? double.NaN : row.F("service_level"), Eps);
            Assert.Equal(q.AnswerRate ?? double.NaN, row["answer_rate"] is null ? double.NaN : row.F("answer_rate"), Eps);
            Assert.Equal(q.AverageSpeedOfAnswer?.TotalSeconds ?? double.NaN, row["asa_seconds"] is null ? double.NaN : row.F("asa_seconds"), Eps);
            Assert.Equal(q.AverageHandleTime?.TotalSeconds ?? double.NaN, row["aht_seconds"] is null ? double.NaN : row.F("aht_seconds"), Eps);
            Assert.Equal(q.LongestWait.TotalSeconds, row.F("longest_wait_seconds"), Eps);
        }

        var agentRows = await Rows.ReadAsync(db, $"SELECT * FROM report_agent_activity('{from:O}', '{to:O}', '1d')", cancellationToken);
        Assert.NotEmpty(agentRows);
        foreach (var row in agentRows)
        {
            var a = live.ForAgent((string)row["agent_id"]!, now);
            Assert.Equal(a.Logins, row.L("logins"));
            // The live figure counts inbound queue calls; the report's calls add outbound ones.
            Assert.Equal(a.Calls, row.L("inbound_calls"));
            Assert.Equal(a.Missed, row.L("missed_calls"));
            Assert.Equal(a.Talk.TotalSeconds, row.F("talk_seconds"), Eps);
            Assert.Equal(a.Hold.TotalSeconds, row.F("hold_seconds"), Eps);
            Assert.Equal(a.WrapUp.TotalSeconds, row.F("wrap_up_seconds"), Eps);
            Assert.Equal(a.Available.TotalSeconds, row.F("available_seconds"), Eps);
            Assert.Equal(a.Ringing.TotalSeconds, row.F("ringing_seconds"), Eps);
            Assert.Equal(a.InCall.TotalSeconds, row.F("in_call_seconds"), Eps);
            Assert.Equal(a.WrapUpState.TotalSeconds, row.F("wrap_up_state_seconds"), Eps);
            Assert.Equal(a.Paused.TotalSeconds, row.F("paused_seconds"), Eps);
            Assert.Equal(a.Occupancy ?? double.NaN, row["occupancy"] is null ? double.NaN : row.F("occupancy"), Eps);
        }
    }
}
