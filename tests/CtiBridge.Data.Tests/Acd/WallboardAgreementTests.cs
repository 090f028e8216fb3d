using CtiBridge.Core.Acd;
using CtiBridge.Core.Simulation;
using CtiBridge.Data.Records;
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
        var day = new DateTimeOffset(scenario.Start.UtcDateTime.Date, TimeSpan.Zero);

        Assert.True(result.Calls > 100, $"only {result.Calls} calls simulated");
        // Calls still in wrap-up when the simulation stopped stay open in the mapper (and unhandled in both counts).
        var unhandled = result.Events.OfType<CallAnswered>().Select(a => a.CallId).Except(result.Events.OfType<CallHandlingEnded>().Select(h => h.CallId)).Count();
        Assert.Equal(unhandled, mapper.OpenCalls);
        await LiveFiguresAgainstReports.AssertEqualAsync(Db, result.Statistics, day, day.AddDays(1), result.EndedAt, Ct);

        // Independent recount from the event log: every call once, dispositions as the engine ended them.
        var ended = result.Events.OfType<CallEnded>().ToList();
        Assert.Equal(ended.Count, await Db.ScalarAsync<long>("SELECT count(*) FROM calls", Ct));
        Assert.Equal(ended.Count(e => e.Disposition == Core.Acd.CallDisposition.Answered), await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE disposition = 'answered'", Ct));
        Assert.Equal(result.Events.OfType<CallEnqueued>().Count(), await Db.ScalarAsync<long>("SELECT count(*) FROM queue_events WHERE event = 'ENTERQUEUE'", Ct));
    }
}
