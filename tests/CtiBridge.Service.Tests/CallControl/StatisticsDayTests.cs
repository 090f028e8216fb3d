using CtiBridge.Core.Acd;
using CtiBridge.Data.Records;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The call center's "today" on a fake clock (CallCenter.Day.cs): it starts with the day's figures
/// from the call records and rolls over at local midnight in <c>reports.time_zone</c>, here
/// Europe/Berlin around the 25-hour day (25 October 2026), and the wallboard's targets are the database's.
/// </summary>
public sealed class StatisticsDayTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset DayStart = new(2026, 10, 23, 22, 0, 0, TimeSpan.Zero);     // 24 Oct 00:00 CEST
    private static readonly DateTimeOffset Midnight = new(2026, 10, 24, 22, 0, 0, TimeSpan.Zero);     // 25 Oct 00:00 CEST
    private static readonly DateTimeOffset NextMidnight = new(2026, 10, 25, 23, 0, 0, TimeSpan.Zero); // 26 Oct 00:00 CET, 25 h later

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StartsWithTheDaysRecordsAndTargets_AndRollsOverAtEachLocalMidnight_IncludingThe25HourDay()
    {
        var db = fixture.Database;
        await db.ScalarAsync<int>("UPDATE settings SET value = '\"Europe/Berlin\"'::jsonb WHERE key = 'reports.time_zone' RETURNING 1", Ct);
        await db.ScalarAsync<int>("UPDATE settings SET value = '0.8'::jsonb WHERE key = 'metrics.service_level_target' RETURNING 1", Ct);
        await db.ScalarAsync<int>("UPDATE settings SET value = '240'::jsonb WHERE key = 'metrics.aht_target_seconds' RETURNING 1", Ct);

        // Written before this start: a call answered by a1 at 20:00 local and a1's hour ready before it; and one of the day before.
        var answeredAt = DayStart.AddHours(20);
        await new CallRecordWriter(db.DataSource).WriteAsync(
        [
            new QueueVisitRecord { CallId = "c-today", Queue = "support", EnteredAt = answeredAt.AddSeconds(-12), Outcome = Data.Records.QueueVisitOutcome.Answered, LeftAt = answeredAt, AnsweredAt = answeredAt, AgentId = "a1" },
            new QueueVisitRecord { CallId = "c-yesterday", Queue = "support", EnteredAt = DayStart.AddSeconds(-1), Outcome = Data.Records.QueueVisitOutcome.Abandoned, LeftAt = DayStart.AddSeconds(30) },
            new AgentStateRecord { AgentId = "a1", StartedAt = answeredAt.AddHours(-1), EndedAt = answeredAt, State = Data.Records.AgentState.Available, SessionId = "a1@earlier" },
        ], Ct);

        var clock = new FakeTimeProvider(Midnight.AddMinutes(-10));
        var settings = new CallControlSettings
        {
            Queues = [new CallQueueSettings { Name = "support" }],
            Agents = [new CallAgentSettings { Id = "a1", Extension = "PJSIP/1001", PinHash = AgentPin.Hash("4321", iterations: 1000), Queues = ["support"] }],
        };
        await using var center = new CallCenter(settings, clock, NullLogger<CallCenter>.Instance) { DayFigures = new LiveDayFigures(db.DataSource) };
        await center.LoadStatisticsDayAsync(Ct);
        center.Start();

        Assert.Equal("Europe/Berlin", center.DayZone.Id);
        Assert.Equal(new MetricTargets(0.8, TimeSpan.FromSeconds(240)), center.Targets); // the wallboard's colours
        Assert.Equal(DayStart, await center.GetStatisticsPeriodStartAsync(Ct));
        var support = Support(await center.GetQueuesAsync(Ct));
        Assert.Equal((1, 1, 1, 0), (support.Offered, support.Answered, support.AnsweredWithinThreshold, support.Abandoned));
        Assert.True((await center.LoginAgentAsync("a1", "4321", Ct)).Accepted);
        clock.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1));
        var beforeMidnight = A1(await center.GetAgentsAsync(Ct));
        Assert.Equal((2, 1), (beforeMidnight.Logins, beforeMidnight.Calls));
        Assert.Equal(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(10) - TimeSpan.FromSeconds(1), beforeMidnight.Available);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Midnight, await center.GetStatisticsPeriodStartAsync(Ct));
        var newDay = A1(await center.GetAgentsAsync(Ct));
        Assert.Equal((0, 0, TimeSpan.Zero), (newDay.Logins, newDay.Calls, newDay.Available));
        Assert.Equal(0, Support(await center.GetQueuesAsync(Ct)).Offered);

        // 24 hours on it is still the same (25-hour) day; the next one starts an hour later.
        clock.Advance(TimeSpan.FromHours(24));
        Assert.Equal(Midnight, await center.GetStatisticsPeriodStartAsync(Ct));
        Assert.Equal(TimeSpan.FromHours(24), A1(await center.GetAgentsAsync(Ct)).Available);
        clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(NextMidnight, await center.GetStatisticsPeriodStartAsync(Ct));
        Assert.Equal(TimeSpan.Zero, A1(await center.GetAgentsAsync(Ct)).Available);
    }

    private static QueueStatistics Support(IReadOnlyList<(QueueStatus Status, QueueStatistics Statistics)> queues) => queues.Single(q => q.Status.Queue == "support").Statistics;

    private static AgentStatistics A1(IReadOnlyList<(AgentStatus Status, AgentStatistics Statistics)> agents) => agents.Single(a => a.Status.AgentId == "a1").Statistics;
}
