using CtiBridge.Core.Acd;
using CtiBridge.Core.Simulation;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Reports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Acd;

/// <summary>
/// One truth for every number: a simulated busy period runs through the ACD core; its event stream
/// feeds both the live statistics (the wallboard's end-of-day totals) and, through
/// <see cref="AcdRecordMapper"/> and the writer, the database. The SQL reports must give the same
/// figures, and an independent recount of the event log must agree with both.
/// </summary>
public sealed class WallboardAgreementTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    // PostgreSQL keeps times to the microsecond, .NET to 100 ns: sums of many intervals may differ by microseconds.
    private const double Eps = 1e-3;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    [Fact]
    public async Task SimulatedBusyHour_EndOfDayWallboardTotals_EqualSqlReports()
    {
        var scenario = SimulationScenarios.BusyHour(24, queues: 4, skills: 8, seed: 11, recordEvents: true);
        var result = new CallCenterSimulation(scenario).Run();
        var mapper = new AcdRecordMapper("sim-11");
        var records = result.Events.SelectMany(mapper.Map).ToList();
        // End of the reporting period: the states agents are still in count up to now, as on the wallboard.
        records.AddRange(mapper.FlushOpenStates(result.EndedAt));
        var writer = new CallRecordWriter(Db.DataSource);
        foreach (var batch in records.Chunk(500))
        {
            await writer.WriteAsync(batch, Ct);
        }

        await writer.WriteAsync(records.Take(records.Count / 3).ToList(), Ct); // a replayed stretch changes nothing
        var day = scenario.Start.UtcDateTime.Date;
        var window = $"'{day:yyyy-MM-dd}T00:00Z', '{day.AddDays(1):yyyy-MM-dd}T00:00Z'";

        Assert.True(result.Calls > 100, $"only {result.Calls} calls simulated");
        // Calls still in wrap-up when the simulation stopped stay open in the mapper (and unhandled in both counts).
        var unhandled = result.Events.OfType<CallAnswered>().Select(a => a.CallId).Except(result.Events.OfType<CallHandlingEnded>().Select(h => h.CallId)).Count();
        Assert.Equal(unhandled, mapper.OpenCalls);
        var queueRows = await Rows.ReadAsync(Db, $"SELECT * FROM report_queue_traffic({window}, '1d')", Ct);
        Assert.Equal(result.Statistics.QueueNames.Count(q => result.Statistics.ForQueue(q).Offered > 0), queueRows.Count);
        foreach (var row in queueRows)
        {
            var live = result.Statistics.ForQueue((string)row["queue"]!);
            Assert.Equal(live.Offered, row.L("offered"));
            Assert.Equal(live.Answered, row.L("answered"));
            Assert.Equal(live.AnsweredWithinThreshold, row.L("answered_within_sl"));
            Assert.Equal(live.Abandoned, row.L("abandoned"));
            Assert.Equal(live.ShortAbandoned, row.L("abandoned_short"));
            Assert.Equal(live.Overflowed, row.L("overflowed"));
            Assert.Equal(live.SystemLost, row.L("system_lost"));
            Assert.Equal(live.ServiceLevel ?? double.NaN, row["service_level"] is null ? double.NaN : row.F("service_level"), Eps);
            Assert.Equal(live.AnswerRate ?? double.NaN, row["answer_rate"] is null ? double.NaN : row.F("answer_rate"), Eps);
            Assert.Equal(live.AverageSpeedOfAnswer?.TotalSeconds ?? double.NaN, row["asa_seconds"] is null ? double.NaN : row.F("asa_seconds"), Eps);
            Assert.Equal(live.AverageHandleTime?.TotalSeconds ?? double.NaN, row["aht_seconds"] is null ? double.NaN : row.F("aht_seconds"), Eps);
            Assert.Equal(live.LongestWait.TotalSeconds, row.F("longest_wait_seconds"), Eps);
        }

        var agentRows = await Rows.ReadAsync(Db, $"SELECT * FROM report_agent_activity({window}, '1d')", Ct);
        Assert.NotEmpty(agentRows);
        foreach (var row in agentRows)
        {
            var live = result.Statistics.ForAgent((string)row["agent_id"]!, result.EndedAt);
            Assert.Equal(live.Calls, row.L("calls"));
            Assert.Equal(live.Missed, row.L("missed_calls"));
            Assert.Equal(live.Talk.TotalSeconds, row.F("talk_seconds"), Eps);
            Assert.Equal(live.Hold.TotalSeconds, row.F("hold_seconds"), Eps);
            Assert.Equal(live.WrapUp.TotalSeconds, row.F("wrap_up_seconds"), Eps);
            Assert.Equal(live.Available.TotalSeconds, row.F("available_seconds"), Eps);
            Assert.Equal(live.Ringing.TotalSeconds, row.F("ringing_seconds"), Eps);
            Assert.Equal(live.InCall.TotalSeconds, row.F("in_call_seconds"), Eps);
            Assert.Equal(live.WrapUpState.TotalSeconds, row.F("wrap_up_state_seconds"), Eps);
            Assert.Equal(live.Paused.TotalSeconds, row.F("paused_seconds"), Eps);
            Assert.Equal(live.Occupancy ?? double.NaN, row["occupancy"] is null ? double.NaN : row.F("occupancy"), Eps);
            Assert.Equal(live.Logins, row.L("logins"));
        }

        // Independent recount from the event log: every call once, dispositions as the engine ended them.
        var ended = result.Events.OfType<CallEnded>().ToList();
        Assert.Equal(ended.Count, await Db.ScalarAsync<long>("SELECT count(*) FROM calls", Ct));
        Assert.Equal(ended.Count(e => e.Disposition == Core.Acd.CallDisposition.Answered), await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE disposition = 'answered'", Ct));
        Assert.Equal(result.Events.OfType<CallEnqueued>().Count(), await Db.ScalarAsync<long>("SELECT count(*) FROM queue_events WHERE event = 'ENTERQUEUE'", Ct));
    }
}
