using System.Text.Json;
using CtiBridge.TestSupport;
using Npgsql;
using static CtiBridge.Data.Tests.Reports.HandBuiltDay;

namespace CtiBridge.Data.Tests.Reports;

/// <summary>Each report on the hand-built day equals the numbers worked out by hand (docs/metrics.md v1).</summary>
public sealed class ReportTests : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private const double Eps = 1e-9;
    private readonly TestDatabase _db;

    public ReportTests(MigratedDatabaseFixture fixture) => _db = fixture.Database;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        // The fixture's database is shared by the class: load the day once.
        if (await _db.ScalarAsync<long>("SELECT count(*) FROM calls", Ct) == 0)
        {
            await LoadAsync(_db, Ct);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<List<Dictionary<string, object?>>> Q(string sql) => Rows.ReadAsync(_db, sql, Ct);

    [Fact]
    public async Task QueueTraffic_15Minutes_MatchesHandCount()
    {
        var rows = await Q("SELECT * FROM report_queue_traffic('2026-11-02T09:00Z', '2026-11-02T10:00Z', '15m')");

        Assert.Equal(3, rows.Count);
        var sales0900 = rows[0];
        Assert.Equal(At(9, 0), (DateTime)sales0900["interval_start"]! is var t ? new DateTimeOffset(t, TimeSpan.Zero) : default);
        Assert.Equal("sales", sales0900["queue"]);
        Assert.Equal(6, sales0900.L("offered"));
        Assert.Equal(3, sales0900.L("answered"));
        Assert.Equal(2, sales0900.L("answered_within_sl")); // waits 10 and 30 (boundary inclusive); 31 is late
        Assert.Equal(2, sales0900.L("abandoned"));
        Assert.Equal(1, sales0900.L("abandoned_short"));
        Assert.Equal(1, sales0900.L("abandoned_long"));
        Assert.Equal(1, sales0900.L("overflowed"));
        Assert.Equal(1, sales0900.L("timeouts"));
        Assert.Equal(2.0 / 5.0, sales0900.F("service_level"), Eps); // 2 / (6 - 1 short abandon)
        Assert.Equal(1.0 / 5.0, sales0900.F("abandon_rate"), Eps);
        Assert.Equal(3.0 / 6.0, sales0900.F("answer_rate"), Eps);
        Assert.Equal(3.0 / 6.0, sales0900.F("loss_rate"), Eps);
        Assert.Equal((10 + 30 + 31) / 3.0, sales0900.F("asa_seconds"), Eps);
        Assert.Equal((150 + 240 + 60) / 3.0, sales0900.F("aht_seconds"), Eps);
        Assert.Equal((100 + 200 + 50) / 3.0, sales0900.F("avg_talk_seconds"), Eps);
        Assert.Equal(30 / 3.0, sales0900.F("avg_hold_seconds"), Eps);
        Assert.Equal(70 / 3.0, sales0900.F("avg_wrap_up_seconds"), Eps);
        Assert.Equal(120, sales0900.F("longest_wait_seconds"), Eps);
        Assert.Equal(30, sales0900.F("service_level_seconds"), Eps);
        Assert.Equal(3, sales0900.L("definitions_version"));

        var support0900 = rows[1];
        Assert.Equal("support", support0900["queue"]);
        Assert.Equal(3, support0900.L("offered"));
        Assert.Equal(1, support0900.L("abandoned_short")); // 4.9 s < 5 s
        Assert.Equal(1, support0900.L("abandoned_long")); // exactly 5.0 s is not short
        Assert.Equal(1.0 / 2.0, support0900.F("service_level"), Eps);
        Assert.Equal(1.0 / 3.0, support0900.F("answer_rate"), Eps);
        Assert.Equal(20, support0900.F("asa_seconds"), Eps);
        Assert.Equal(100, support0900.F("aht_seconds"), Eps);

        var sales0915 = rows[2];
        Assert.Equal("sales", sales0915["queue"]);
        Assert.Equal(2, sales0915.L("offered"));
        Assert.Equal(1, sales0915.L("exits_key"));
        Assert.Equal(0.5, sales0915.F("service_level"), Eps);
        Assert.Equal(80, sales0915.F("aht_seconds"), Eps);
        Assert.Equal(12, sales0915.F("longest_wait_seconds"), Eps);
    }

    [Fact]
    public async Task QueueTraffic_HourForOneQueue_MatchesHandCount()
    {
        var rows = await Q("SELECT * FROM report_queue_traffic('2026-11-02T00:00Z', '2026-11-03T00:00Z', '1h', 'sales')");

        var sales = Assert.Single(rows);
        Assert.Equal(8, sales.L("offered"));
        Assert.Equal(4, sales.L("answered"));
        Assert.Equal(3.0 / 7.0, sales.F("service_level"), Eps);
        Assert.Equal((71 + 5) / 4.0, sales.F("asa_seconds"), Eps);
        Assert.Equal((450 + 80) / 4.0, sales.F("aht_seconds"), Eps);
        Assert.Equal(2, sales.L("overflowed"));
    }

    [Fact]
    public async Task CentreTraffic_Day_AnswerRateCountsIvrCompletions()
    {
        var day = Assert.Single(await Q("SELECT * FROM report_centre_traffic('2026-11-02T00:00Z', '2026-11-03T00:00Z', '1d')"));

        Assert.Equal(13, day.L("inbound_calls"));
        Assert.Equal(5, day.L("answered"));
        Assert.Equal(1, day.L("ivr_completed"));
        Assert.Equal(4, day.L("abandoned"));
        Assert.Equal(1, day.L("ivr_abandoned"));
        Assert.Equal(2, day.L("overflowed"));
        Assert.Equal(6.0 / 13.0, day.F("answer_rate"), Eps); // D-01
        Assert.Equal(7.0 / 13.0, day.F("customer_loss_rate"), Eps); // D-03
    }

    [Fact]
    public async Task AgentActivity_Hourly_StateTimeOccupancyCallsPerHourAndRanking()
    {
        var rows = await Q("SELECT * FROM report_agent_activity('2026-11-02T08:00Z', '2026-11-02T11:00Z', '1h')");

        var a1At8 = rows.Single(r => (string)r["agent_id"]! == "a1" && ((DateTime)r["interval_start"]!).Hour == 8);
        Assert.Equal(1, a1At8.L("logins"));
        Assert.Equal(600, a1At8.F("available_seconds"), Eps);

        var a1 = rows.Single(r => (string)r["agent_id"]! == "a1" && ((DateTime)r["interval_start"]!).Hour == 9);
        Assert.Equal(0, a1.L("logins"));
        Assert.Equal(3600, a1.F("logged_in_seconds"), Eps);
        Assert.Equal(1010, a1.F("available_seconds"), Eps);
        Assert.Equal(270, a1.F("in_call_seconds"), Eps);
        Assert.Equal(40, a1.F("wrap_up_state_seconds"), Eps);
        Assert.Equal(2280, a1.F("paused_seconds"), Eps);
        var pauses = JsonDocument.Parse(a1["pause_by_reason"]!.ToString()!).RootElement;
        Assert.Equal(1800, pauses.GetProperty("lunch").GetDouble(), Eps);
        Assert.Equal(480, pauses.GetProperty("training").GetDouble(), Eps);
        Assert.Equal(3, a1.L("calls"));
        Assert.Equal(240, a1.F("talk_seconds"), Eps);
        Assert.Equal(30, a1.F("hold_seconds"), Eps);
        Assert.Equal(40, a1.F("wrap_up_seconds"), Eps);
        Assert.Equal(310.0 / 3, a1.F("aht_seconds"), Eps);
        Assert.Equal(310.0 / 1320.0, a1.F("occupancy"), Eps); // (270 + 40) / (270 + 40 + 1010)
        Assert.Equal(3.0, a1.F("calls_per_hour"), Eps);
        Assert.Equal(1, a1.L("answer_rank"));

        var a2 = rows.Single(r => (string)r["agent_id"]! == "a2" && ((DateTime)r["interval_start"]!).Hour == 9);
        Assert.Equal(1, a2.L("logins"));
        Assert.Equal(1800, a2.F("logged_in_seconds"), Eps);
        Assert.Equal(1480, a2.F("available_seconds"), Eps);
        Assert.Equal(320.0 / 1800.0, a2.F("occupancy"), Eps);
        Assert.Equal(2, a2.L("calls"));
        Assert.Equal(160, a2.F("aht_seconds"), Eps);
        Assert.Equal(4.0, a2.F("calls_per_hour"), Eps); // 2 calls in half an hour logged in
        Assert.Equal(1, a2.L("missed_calls"));
        Assert.Equal(2, a2.L("answer_rank"));

        var a1At10 = rows.Single(r => (string)r["agent_id"]! == "a1" && ((DateTime)r["interval_start"]!).Hour == 10);
        Assert.Equal(600, a1At10.F("available_seconds"), Eps);
    }

    [Fact]
    public async Task AgentActivity_15MinutesOneAgent_SplitsStatesAtIntervalBoundaries()
    {
        var rows = await Q("SELECT * FROM report_agent_activity('2026-11-02T09:00Z', '2026-11-02T09:30Z', '15m', 'a2')");

        Assert.Equal(2, rows.Count);
        Assert.Equal(900, rows[0].F("logged_in_seconds"), Eps);
        Assert.Equal(660, rows[0].F("available_seconds"), Eps); // 150 + 510 up to 09:15
        Assert.Equal(200, rows[0].F("in_call_seconds"), Eps);
        Assert.Equal(1, rows[0].L("calls"));
        Assert.Equal(1, rows[0].L("missed_calls"));
        Assert.Equal(900, rows[1].F("logged_in_seconds"), Eps);
        Assert.Equal(1, rows[1].L("calls"));
    }

    [Fact]
    public async Task AgentStateLog_Window_ClipsIntervalsAndKeepsReasons()
    {
        var rows = await Q("SELECT * FROM report_agent_state_log('2026-11-02T09:40Z', '2026-11-02T10:00Z', 'a1')");

        Assert.Equal(3, rows.Count);
        Assert.Equal("lunch", rows[0]["reason"]);
        Assert.Equal(120, rows[0].F("duration_seconds"), Eps);
        Assert.Equal("training", rows[1]["reason"]);
        Assert.Equal("available", rows[2]["state"]);
        Assert.Equal(600, rows[2].F("duration_seconds"), Eps);
    }

    [Fact]
    public async Task AbandonCurve_TenSecondBuckets_CountsAndCumulativeShares()
    {
        var rows = await Q("SELECT * FROM report_abandon_curve('2026-11-02T00:00Z', '2026-11-03T00:00Z')");

        Assert.Equal(2, rows.Count);
        Assert.Equal(0, rows[0].L("wait_from_seconds"));
        Assert.Equal(3, rows[0].L("abandoned")); // 3, 4.9, 5.0
        Assert.Equal(0.75, rows[0].F("cumulative_share"), Eps);
        Assert.Equal(40, rows[1].L("wait_from_seconds"));
        Assert.Equal(1, rows[1].L("abandoned"));
        Assert.Equal(4, rows[1].L("cumulative_abandoned"));
        Assert.Equal(1.0, rows[1].F("cumulative_share"), Eps);
    }

    [Fact]
    public async Task Satisfaction_Day_SatisfiedShareAgainstTargetAndDistribution()
    {
        var day = Assert.Single(await Q("SELECT * FROM report_satisfaction('2026-11-02T00:00Z', '2026-11-03T00:00Z', '1d')"));
        Assert.Equal(4, day.L("answers"));
        Assert.Equal(3, day.L("satisfied")); // 9/10, 10/10, 4/5 (= 0.8) yes; 7/10 no
        Assert.Equal(0.75, day.F("satisfaction_rate"), Eps);
        Assert.Equal((0.9 + 0.7 + 1.0 + 0.8) / 4, day.F("average_score_fraction"), Eps);
        Assert.False((bool)day["meets_target"]!);

        var distribution = await Q("SELECT * FROM report_satisfaction_distribution('2026-11-02T00:00Z', '2026-11-03T00:00Z', 'sales')");
        Assert.Equal(3, distribution.Count);
        Assert.Equal(4, distribution[0].L("score"));
        Assert.Equal(1.0, distribution[0].F("share"), Eps); // the only answer on a 1-5 scale
        Assert.Equal(0.5, distribution[1].F("share"), Eps);
    }

    [Fact]
    public async Task CallerOrigin_LongestPrefixWins_UnknownForUnlisted()
    {
        await using (var load = _db.DataSource.CreateCommand(
            "INSERT INTO number_prefixes VALUES ('138', 'mobile-other', NULL), ('1380013', 'Beijing', 'China Mobile'), ('139', 'Shanghai', NULL) ON CONFLICT DO NOTHING"))
        {
            await load.ExecuteNonQueryAsync(Ct);
        }

        var rows = await Q("SELECT * FROM report_caller_origin('2026-11-02T00:00Z', '2026-11-03T00:00Z')");

        Assert.Equal(["Shanghai", "Beijing", "unknown"], rows.Select(r => (string)r["region"]!));
        Assert.Equal(6, rows[0].L("calls"));
        Assert.Equal(0, rows[0].L("answered"));
        Assert.Equal(5, rows[1].L("calls"));
        Assert.Equal(1.0, rows[1].F("answer_rate"), Eps);
        Assert.Equal(2, rows[2].L("calls"));
        Assert.Equal(0.5, rows[2].F("answer_rate"), Eps); // ivr1 completed, ivr2 abandoned
        Assert.Equal(5.0 / 13.0, rows[1].F("share"), Eps);
    }

    [Fact]
    public async Task CallsByHour_Day_CountsPerHourOfDay()
    {
        var rows = await Q("SELECT * FROM report_calls_by_hour('2026-11-02T00:00Z', '2026-11-03T00:00Z')");

        Assert.Equal([(1, 9, 11L), (1, 10, 2L)], rows.Select(r => ((int)r["iso_day_of_week"]!, (int)r["hour_of_day"]!, r.L("calls"))));
    }

    [Fact]
    public async Task Cdr_AnsweredAndAbandonedCalls_AsteriskColumns()
    {
        var rows = await Q("SELECT * FROM cdr WHERE uniqueid IN ('c1', 'c4') ORDER BY uniqueid");

        Assert.Equal("ANSWERED", rows[0]["disposition"]);
        Assert.Equal(130, rows[0].L("duration")); // 10 s wait + 120 s connected
        Assert.Equal(120, rows[0].L("billsec"));
        Assert.Equal("Queue", rows[0]["lastapp"]);
        Assert.Equal("sales", rows[0]["lastdata"]);
        Assert.Equal("\"13800138000\" <13800138000>", rows[0]["clid"]);
        Assert.Equal("NO ANSWER", rows[1]["disposition"]);
        Assert.Equal(0, rows[1].L("billsec"));
        Assert.Equal(3, rows[1].L("amaflags"));
    }

    [Theory]
    [InlineData("'2026-11-02T10:00Z', '2026-11-02T09:00Z', '1h'", "window is empty")]
    [InlineData("'2026-11-02T09:00Z', '2026-11-02T10:00Z', '5m'", "unknown report interval '5m'")]
    public async Task QueueTraffic_BadArguments_ClearError(string arguments, string expected)
    {
        var error = await Assert.ThrowsAsync<PostgresException>(() => Q($"SELECT * FROM report_queue_traffic({arguments})"));

        Assert.Contains(expected, error.MessageText, StringComparison.Ordinal);
    }
}
