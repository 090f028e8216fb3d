using CtiBridge.Core.Acd;
using CtiBridge.Core.Simulation;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Reports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Acd;

/// <summary>
/// The live statistics' "today" (docs/metrics.md §2) is the reports' day: it starts from what the call
/// records hold for the day (<see cref="LiveDayFigures"/>, after a restart or a takeover) and rolls over
/// at local midnight in <c>reports.time_zone</c>; either way its totals equal the SQL reports' for the day.
/// Each test uses its own day of one database, cut in Europe/Berlin.
/// </summary>
public sealed class LiveDayTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private const double Eps = 1e-3;
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    [Fact]
    public async Task TheDayStartsAndEndsWhereTheDailyReportCutsIt_AcrossBothDaylightSavingChanges()
    {
        await UseBerlinAsync();
        var figures = new LiveDayFigures(Db.DataSource);
        DateTimeOffset[] instants =
        [
            new(2026, 3, 28, 23, 30, 0, TimeSpan.Zero), new(2026, 3, 29, 12, 0, 0, TimeSpan.Zero), new(2026, 10, 24, 21, 59, 59, TimeSpan.Zero),
            new(2026, 10, 24, 22, 0, 0, TimeSpan.Zero), new(2026, 10, 25, 22, 30, 0, TimeSpan.Zero), new(2026, 11, 30, 13, 0, 0, TimeSpan.Zero),
        ];
        foreach (var instant in instants)
        {
            var day = await figures.LoadAsync(instant, Ct);
            Assert.Equal("Europe/Berlin", day.TimeZoneId);
            Assert.Equal(ReportDay.StartOf(instant, Berlin), day.Seed.PeriodStart);
            Assert.Equal(ReportDay.NextStartAfter(instant, Berlin), day.DayEnd);
        }
    }

    [Fact]
    public async Task SeededFromTheRecords_TheFiguresAreTheReportsAndTheLiveCountsOfTheDay()
    {
        await UseBerlinAsync();
        var scenario = SimulationScenarios.BusyHour(16, queues: 3, skills: 6, seed: 21, recordEvents: true) with { Start = new DateTimeOffset(2026, 6, 1, 8, 0, 0, TimeSpan.Zero) };
        var result = new CallCenterSimulation(scenario).Run();
        var mapper = new AcdRecordMapper("live-day-1");
        var records = result.Events.SelectMany(mapper.Map).ToList();
        records.AddRange(mapper.FlushOpenStates(result.EndedAt));
        await WriteAsync(records);

        var day = await new LiveDayFigures(Db.DataSource).LoadAsync(result.EndedAt, Ct);
        var seeded = new AcdStatistics(new MetricsParameters(), result.EndedAt);
        seeded.Seed(day.Seed);

        Assert.True(result.Calls > 50, $"only {result.Calls} calls simulated");
        Assert.Equal(ReportDay.StartOf(result.EndedAt, Berlin), seeded.PeriodStart);
        foreach (var queue in result.Statistics.QueueNames)
        {
            Assert.Equal(result.Statistics.ForQueue(queue) with { SumWaitAnswered = default, SumTalk = default, SumHold = default, SumWrapUp = default, LongestWait = default },
                seeded.ForQueue(queue) with { SumWaitAnswered = default, SumTalk = default, SumHold = default, SumWrapUp = default, LongestWait = default });
        }

        await AssertEqualsReportsAsync(seeded, day.Seed.PeriodStart, day.DayEnd, result.EndedAt);
    }

    [Fact]
    public async Task ARestartMidDay_SeededFromTheRecordsAndAdoptingTheCallsInProgress_GivesTheReportsDayTotals()
    {
        await UseBerlinAsync();
        var scenario = SimulationScenarios.BusyHour(16, queues: 3, skills: 6, seed: 22, recordEvents: true) with { Start = new DateTimeOffset(2026, 6, 2, 8, 0, 0, TimeSpan.Zero) };
        var result = new CallCenterSimulation(scenario).Run();
        var restartAt = scenario.Start.AddMinutes(35);
        var before = result.Events.Where(e => e.At < restartAt).ToList();
        var after = result.Events.Where(e => e.At >= restartAt).ToList();

        // The instance before the restart: its records, and its agents' states flushed at its stop.
        var first = new AcdRecordMapper("live-day-2a");
        var records = before.SelectMany(first.Map).ToList();
        records.AddRange(first.FlushOpenStates(restartAt));
        await WriteAsync(records);

        // The restarted instance: today's figures from the records, then the calls in progress adopted, then the rest of the day.
        var day = await new LiveDayFigures(Db.DataSource).LoadAsync(restartAt, Ct);
        var live = new AcdStatistics(new MetricsParameters(), restartAt);
        live.Seed(day.Seed);
        var adopted = InProgress(before);
        var restored = Restore(scenario.Acd, before, adopted, restartAt);
        var second = new AcdRecordMapper("live-day-2b");
        var laterRecords = new List<CallCenterRecord>();
        foreach (var e in restored.Concat(adopted.Where(a => a.AgentId is null)).Concat(after))
        {
            live.Apply(e);
            laterRecords.AddRange(second.Map(e));
        }

        laterRecords.AddRange(second.FlushOpenStates(result.EndedAt));
        await WriteAsync(laterRecords);

        Assert.Contains(adopted, a => a.AgentId is null);
        Assert.Contains(restored, a => a is CallAdopted { AgentId: not null });
        await AssertEqualsReportsAsync(live, day.Seed.PeriodStart, day.DayEnd, result.EndedAt);
    }

    [Fact]
    public async Task AcrossLocalMidnightOfThe25HourDay_TheNewDayStartsFromZero_AndEachDayEqualsItsReport()
    {
        await UseBerlinAsync();
        // 23:30 CEST on 24 October 2026; the clocks go back at 03:00 on the 25th.
        var scenario = SimulationScenarios.BusyHour(16, queues: 3, skills: 6, seed: 23, recordEvents: true) with { Start = new DateTimeOffset(2026, 10, 24, 21, 30, 0, TimeSpan.Zero) };
        var result = new CallCenterSimulation(scenario).Run();
        var midnight = ReportDay.NextStartAfter(scenario.Start, Berlin);
        var mapper = new AcdRecordMapper("live-day-3");
        var records = new List<CallCenterRecord>();
        var live = new AcdStatistics(new MetricsParameters(), ReportDay.StartOf(scenario.Start, Berlin));
        AcdStatistics? dayOne = null;
        Dictionary<string, AgentStatistics>? dayOneAgents = null;
        foreach (var e in result.Events)
        {
            if (dayOneAgents is null && e.At >= midnight)
            {
                dayOne = Snapshot(live);
                dayOneAgents = live.AgentIds.ToDictionary(a => a, a => live.ForAgent(a, midnight));
                live.StartPeriod(midnight);
            }

            live.Apply(e);
            records.AddRange(mapper.Map(e));
        }

        records.AddRange(mapper.FlushOpenStates(result.EndedAt));
        await WriteAsync(records);

        Assert.Equal(new DateTimeOffset(2026, 10, 24, 22, 0, 0, TimeSpan.Zero), midnight);
        Assert.NotNull(dayOne);
        Assert.NotNull(dayOneAgents);

        // The new day: every figure, with the calls that entered before midnight and were answered after (agents' calls by answer time).
        var dayTwoEnd = ReportDay.NextStartAfter(midnight, Berlin);
        Assert.Equal(TimeSpan.FromHours(25), dayTwoEnd - midnight);
        await AssertEqualsReportsAsync(live, midnight, dayTwoEnd, result.EndedAt);

        // The day before, as the wallboard showed it at midnight: what was known then. A call still waiting
        // at midnight was offered that day; its outcome lands in that day's report when it ends, while the
        // board has moved on to the new day, so only the offered visits and the agents' figures that
        // midnight closes are compared.
        var dayOneStart = ReportDay.StartOf(scenario.Start, Berlin);
        var queueRows = await Rows.ReadAsync(Db, $"SELECT * FROM report_queue_traffic('{dayOneStart:O}', '{midnight:O}', '1d')", Ct);
        Assert.NotEmpty(queueRows);
        foreach (var row in queueRows)
        {
            Assert.Equal(dayOne.ForQueue((string)row["queue"]!).Offered, row.L("offered"));
        }

        var agentRows = await Rows.ReadAsync(Db, $"SELECT * FROM report_agent_activity('{dayOneStart:O}', '{midnight:O}', '1d')", Ct);
        Assert.NotEmpty(agentRows);
        foreach (var row in agentRows)
        {
            var agent = dayOneAgents[(string)row["agent_id"]!];
            Assert.Equal(agent.Logins, row.L("logins"));
            Assert.Equal(agent.Calls, row.L("inbound_calls"));
            Assert.Equal(agent.Missed, row.L("missed_calls"));
            Assert.Equal(agent.Available.TotalSeconds, row.F("available_seconds"), Eps);
            Assert.Equal(agent.Ringing.TotalSeconds, row.F("ringing_seconds"), Eps);
            Assert.Equal(agent.InCall.TotalSeconds, row.F("in_call_seconds"), Eps);
            Assert.Equal(agent.WrapUpState.TotalSeconds, row.F("wrap_up_state_seconds"), Eps);
            Assert.Equal(agent.Paused.TotalSeconds, row.F("paused_seconds"), Eps);
        }
    }

    /// <summary>What call control adopts at a restart: each call waiting or connected at the end of <paramref name="events"/>.</summary>
    private static List<CallAdopted> InProgress(IReadOnlyList<AcdEvent> events)
    {
        var entered = new Dictionary<string, (CallEnqueued Visit, DateTimeOffset At, DateTimeOffset FirstAt, List<string> Queues)>(StringComparer.Ordinal);
        var connected = new Dictionary<(string, string), CallAnswered>();
        foreach (var e in events)
        {
            switch (e)
            {
                case CallEnqueued x:
                    var first = entered.TryGetValue(x.CallId, out var earlier) ? earlier.FirstAt : x.At;
                    var queues = earlier.Queues ?? [];
                    queues.Add(x.Queue);
                    entered[x.CallId] = (x, x.At, first, queues);
                    break;
                case CallAnswered x:
                    connected[(x.CallId, x.AgentId)] = x;
                    entered.Remove(x.CallId, out _);
                    break;
                case QueueVisitEnded x:
                    entered.Remove(x.CallId);
                    break;
                case CallHandlingEnded x:
                    connected.Remove((x.CallId, x.AgentId));
                    break;
            }
        }

        var firstEntries = events.OfType<CallEnqueued>().GroupBy(x => x.CallId).ToDictionary(g => g.Key, g => (g.First().At, Queues: g.Select(x => x.Queue).ToList()), StringComparer.Ordinal);
        return
        [
            .. entered.Values.Select(w => new CallAdopted(w.Visit.CallId, w.Visit.Queue, w.Visit.Visit, w.FirstAt, w.FirstAt, w.At, w.Queues, w.Visit.Position, w.Visit.Caller, null, null)),
            .. connected.Values.Select(c => new CallAdopted(c.CallId, c.Queue, c.Visit, firstEntries[c.CallId].At, firstEntries[c.CallId].At, c.EnqueuedAt,
                firstEntries[c.CallId].Queues, null, events.OfType<CallEnqueued>().First(x => x.CallId == c.CallId).Caller, c.AgentId, c.At)),
        ];
    }

    /// <summary>
    /// What the restarted engine publishes at <paramref name="at"/>: every agent logged in before is
    /// restored (paused with the reason, else ready; a new login session), then each connected call is
    /// adopted with its agent, as call control's recovery does (CallCenter.Recovery.cs).
    /// </summary>
    private static List<AcdEvent> Restore(AcdConfiguration acd, IReadOnlyList<AcdEvent> before, IReadOnlyList<CallAdopted> adopted, DateTimeOffset at)
    {
        var outbox = new AcdOutbox();
        var engine = new AcdEngine(acd, outbox, at);
        var extensions = before.OfType<AgentLoggedIn>().GroupBy(x => x.AgentId).ToDictionary(g => g.Key, g => g.Last().Extension, StringComparer.Ordinal);
        foreach (var last in before.OfType<AgentStateChanged>().GroupBy(x => x.AgentId).Select(g => g.Last()).Where(x => x.To != Core.Acd.AgentState.LoggedOut))
        {
            Assert.Equal(InputOutcome.Ok, engine.Handle(new AgentRestored(at, last.AgentId, extensions[last.AgentId], PauseReason: last.To == Core.Acd.AgentState.Paused ? last.Reason : null)));
        }

        foreach (var call in adopted.Where(a => a.AgentId is not null))
        {
            Assert.Equal(InputOutcome.Ok, engine.Handle(new CallAdoption(at, call.CallId, call.Queue, call.Caller, call.StartedAt, call.FirstEnqueuedAt, call.EnqueuedAt,
                call.Visit, call.Queues, call.EntryPosition, call.AgentId, call.AnsweredAt)));
        }

        return outbox.Events;
    }

    private static AcdStatistics Snapshot(AcdStatistics live)
    {
        var copy = new AcdStatistics(new MetricsParameters(), live.PeriodStart);
        copy.Seed(new StatisticsSeed(live.PeriodStart, new MetricsParameters(), [.. live.QueueNames.Select(live.ForQueue)], [], []));
        return copy;
    }

    /// <summary>The live figures of a day equal report_queue_traffic's and report_agent_activity's for that day.</summary>
    private Task AssertEqualsReportsAsync(AcdStatistics live, DateTimeOffset from, DateTimeOffset to, DateTimeOffset now) =>
        LiveFiguresAgainstReports.AssertEqualAsync(Db, live, from, to, now, Ct);

    private async Task UseBerlinAsync() =>
        await Db.ScalarAsync<int>("UPDATE settings SET value = '\"Europe/Berlin\"'::jsonb WHERE key = 'reports.time_zone' RETURNING 1", Ct);

    private async Task WriteAsync(IReadOnlyList<CallCenterRecord> records)
    {
        var writer = new CallRecordWriter(Db.DataSource);
        foreach (var batch in records.Chunk(500))
        {
            await writer.WriteAsync(batch, Ct);
        }
    }
}
