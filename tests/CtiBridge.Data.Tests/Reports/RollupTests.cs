using CtiBridge.Data.Generation;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Records;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Reports;

/// <summary>The 15-minute rollups give the same numbers as counting queue_visits directly.</summary>
public sealed class RollupTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    // The same report twice: aligned window (rollup) and a window one microsecond wider on each side (raw).
    private async Task AssertRollupEqualsRawAsync(string function, string from, string to, string rest)
    {
        var rollup = await Rows.ReadAsync(Db, $"SELECT * FROM {function}('{from}', '{to}', {rest})", Ct);
        var raw = await Rows.ReadAsync(Db, $"SELECT * FROM {function}(timestamptz '{from}' - interval '1 microsecond', timestamptz '{to}' + interval '1 microsecond', {rest})", Ct);
        Assert.NotEmpty(rollup);
        Assert.Equal(raw.Count, rollup.Count);
        for (var i = 0; i < raw.Count; i++)
        {
            foreach (var (column, value) in raw[i])
            {
                if (value is double d)
                {
                    Assert.Equal(d, rollup[i].F(column), 1e-6);
                }
                else if (column != "logins")
                {
                    Assert.Equal(value?.ToString(), rollup[i][column]?.ToString());
                }
            }
        }
    }

    [Fact]
    public async Task QueueAndAgentReports_GeneratedWeekWithReplaysAndRevisions_RollupEqualsRaw()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var records = CallTrafficGenerator.Generate(new CallTrafficOptions { FirstDay = new DateOnly(2026, 7, 6), Days = 3, CallsPerDay = 1500, Agents = 16, Queues = 4, AgentStates = true }).ToList();
        foreach (var chunk in records.Chunk(700))
        {
            await writer.WriteAsync(chunk, Ct);
        }

        // A replay of a middle chunk and a revision that changes a handled call's wrap-up.
        await writer.WriteAsync(records.Skip(1400).Take(700).ToList(), Ct);
        var visit = records.OfType<QueueVisitRecord>().First(v => v.Handled);
        await writer.WriteAsync([visit with { Revision = 1, WrapUpSeconds = visit.WrapUpSeconds + 1000 }], Ct);

        foreach (var interval in new[] { "15m", "1h", "1d", "1mo" })
        {
            await AssertRollupEqualsRawAsync("report_queue_traffic", "2026-07-06T00:00Z", "2026-07-09T00:00Z", $"'{interval}'");
        }

        await AssertRollupEqualsRawAsync("report_agent_activity", "2026-07-06T00:00Z", "2026-07-09T00:00Z", "'1d'");
        await AssertRollupEqualsRawAsync("report_agent_activity", "2026-07-06T00:00Z", "2026-07-09T00:00Z", "'1h', p_queue => 'queue-02'");
    }

    [Fact]
    public async Task QueueTraffic_ServiceLevelThresholdChanged_UsesNewThresholdBeforeAndAfterRebuild()
    {
        var start = new DateTimeOffset(2026, 8, 3, 9, 0, 0, TimeSpan.Zero);
        await new CallRecordWriter(Db.DataSource).WriteAsync([.. Calls.Answered("thr-1", start, "thr", "a1", 15, 60), .. Calls.Answered("thr-2", start.AddMinutes(1), "thr", "a1", 25, 60)], Ct);
        const string Sl = "SELECT service_level FROM report_queue_traffic('2026-08-03T09:00Z', '2026-08-03T10:00Z', '1h', 'thr')";
        Assert.Equal(1.0, await Db.ScalarAsync<double>(Sl, Ct));

        await using (var change = Db.DataSource.CreateCommand("UPDATE settings SET value = '20'::jsonb WHERE key = 'metrics.service_level_seconds'"))
        {
            await change.ExecuteNonQueryAsync(Ct);
        }

        try
        {
            Assert.Equal(0.5, await Db.ScalarAsync<double>(Sl, Ct)); // rollup counted with 30 s: the report counts raw
            await using (var rebuild = Db.DataSource.CreateCommand("SELECT records_rebuild_rollups('2026-08-03T00:00Z', '2026-08-04T00:00Z')"))
            {
                await rebuild.ExecuteNonQueryAsync(Ct);
            }

            Assert.Equal(1, await Db.ScalarAsync<long>("SELECT answered_within_sl FROM queue_rollup_15m WHERE queue = 'thr'", Ct));
            Assert.Equal(0.5, await Db.ScalarAsync<double>(Sl, Ct));
        }
        finally
        {
            await using var restore = Db.DataSource.CreateCommand("UPDATE settings SET value = '30'::jsonb WHERE key = 'metrics.service_level_seconds'");
            await restore.ExecuteNonQueryAsync(Ct);
        }
    }

    // The agents' outbound calls (migration 0032): campaign calls of three agents over two days, a
    // replayed chunk, wrap-ups written as revisions (some never), unanswered and agentless rows that
    // must not count, and a callback call in a queue; aligned windows read the rollup, wider ones calls.
    [Fact]
    public async Task AgentReport_OutboundCallsWithReplaysAndRevisions_RollupEqualsRaw()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var day = new DateTimeOffset(2026, 10, 5, 8, 0, 0, TimeSpan.Zero);
        var calls = new List<CallRecord>();
        for (var i = 0; i < 240; i++)
        {
            var start = day.AddDays(i % 2).AddSeconds(i * 397 % 36_000);
            var answered = i % 5 != 0;
            calls.Add(new CallRecord
            {
                CallId = $"orq-{i}", StartedAt = start, Direction = CallDirection.Outbound, Caller = "4001234567", Callee = "13800138000",
                AnsweredAt = answered ? start.AddSeconds(10 + i % 20) : null, EndedAt = start.AddSeconds(answered ? 100 + i : 30),
                TalkSeconds = answered ? 60 + i : 0, HoldSeconds = answered && i % 7 == 0 ? 15 : 0,
                Disposition = answered ? (i % 11 == 0 ? CallDisposition.Abandoned : CallDisposition.Answered) : CallDisposition.NoAnswer,
                AgentId = answered && i % 11 != 0 ? $"out-{i % 3}" : null, ReleasedBy = answered ? ReleasedBy.Caller : null,
                CampaignId = i % 13 == 0 ? null : "autumn", CallbackId = i % 13 == 0 ? $"cb-{i}" : null, Queues = i % 13 == 0 ? ["q-cb"] : [],
            });
        }

        foreach (var chunk in calls.Chunk(50))
        {
            await writer.WriteAsync(chunk, Ct);
        }

        await writer.WriteAsync([.. calls.Skip(50).Take(50)], Ct); // a replay
        // Wrap-ups of every other answered call (handled from then on), one of them replayed with its first revision after it.
        var wrapped = calls.Where(c => c.AgentId is not null).Where((_, k) => k % 2 == 0).Select(c => c with { Revision = 1, WrapUpSeconds = 20 }).ToList();
        await writer.WriteAsync(wrapped, Ct);
        await writer.WriteAsync([calls.First(c => c.CallId == wrapped[0].CallId)], Ct);

        Assert.True(await Db.ScalarAsync<long>("SELECT sum(handled)::bigint FROM agent_outbound_rollup_15m", Ct) > 0);
        Assert.Equal(
            await Db.ScalarAsync<long>("SELECT count(*) FROM agent_outbound_calls('2026-10-05', '2026-10-08')", Ct),
            await Db.ScalarAsync<long>("SELECT sum(calls)::bigint FROM agent_outbound_rollup_15m WHERE bucket_start >= '2026-10-05' AND bucket_start < '2026-10-08'", Ct));
        foreach (var interval in new[] { "15m", "1h", "1d", "1mo" })
        {
            await AssertRollupEqualsRawAsync("report_agent_activity", "2026-10-05T00:00Z", "2026-10-07T00:00Z", $"'{interval}'");
        }

        await AssertRollupEqualsRawAsync("report_agent_activity", "2026-10-05T00:00Z", "2026-10-07T00:00Z", "'1d', p_agent => 'out-1'");
        await AssertRollupEqualsRawAsync("report_agent_activity", "2026-10-05T00:00Z", "2026-10-07T00:00Z", "'1d', p_queue => 'q-cb'");
    }

    [Fact]
    public async Task AgentStateRollup_RevisionShortensInterval_HourIsRecounted()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2026, 8, 10, 9, 30, 0, TimeSpan.Zero);
        var paused = new AgentStateRecord { AgentId = "rev-a", StartedAt = start, EndedAt = start.AddHours(2), State = AgentState.Paused, Reason = "lunch", SessionId = "rev-s" };
        await writer.WriteAsync([paused], Ct);
        const string Hourly = "SELECT coalesce(sum(seconds), 0) FROM agent_state_rollup_1h WHERE agent_id = 'rev-a' AND bucket_start = '2026-08-10T11:00Z'";
        Assert.Equal(1800, await Db.ScalarAsync<double>(Hourly, Ct));
        Assert.Equal(1, await Db.ScalarAsync<long>("SELECT sum(logins)::bigint FROM agent_login_rollup_1h WHERE agent_id = 'rev-a'", Ct));

        // The pause really ended at 10:45: the stored 11:00 hour must lose its time.
        await writer.WriteAsync([paused with { Revision = 1, EndedAt = start.AddMinutes(75) }], Ct);
        Assert.Equal(0, await Db.ScalarAsync<double>(Hourly, Ct));
        var row = (await Rows.ReadAsync(Db, "SELECT * FROM report_agent_activity('2026-08-10T00:00Z', '2026-08-11T00:00Z', '1d', 'rev-a')", Ct)).Single();
        Assert.Equal(75 * 60, row.F("paused_seconds"), 1e-6);
        Assert.Equal(1, row.L("logins"));
    }

    [Theory]
    [InlineData("Europe/Berlin")] // whole-hour offset: the hourly rollup serves the report
    [InlineData("Asia/Kolkata")]  // +05:30: day boundaries fall mid-hour, the report reads the state log
    public async Task AgentReport_ReportTimeZone_StateTimeEqualsRecountOfStateLog(string zone)
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var records = CallTrafficGenerator.Generate(new CallTrafficOptions { FirstDay = new DateOnly(2026, 9, 7), Days = 3, CallsPerDay = 400, Agents = 6, Queues = 2, AgentStates = true }).ToList();
        foreach (var chunk in records.Chunk(1000))
        {
            await writer.WriteAsync(chunk, Ct);
        }

        await using (var change = Db.DataSource.CreateCommand("UPDATE settings SET value = to_jsonb(@zone::text) WHERE key = 'reports.time_zone'"))
        {
            change.Parameters.AddWithValue("zone", zone);
            await change.ExecuteNonQueryAsync(Ct);
        }

        try
        {
            var from = $"timestamp '2026-09-07' AT TIME ZONE '{zone}'";
            var to = $"timestamp '2026-09-10' AT TIME ZONE '{zone}'";
            var report = await Rows.ReadAsync(Db, $"SELECT * FROM report_agent_activity({from}, {to}, '1d')", Ct);
            var recount = await Rows.ReadAsync(Db, $"""
                WITH d AS (SELECT g AT TIME ZONE '{zone}' AS s, (g + interval '1 day') AT TIME ZONE '{zone}' AS e
                           FROM generate_series(timestamp '2026-09-07', timestamp '2026-09-09', interval '1 day') g)
                SELECT d.s AS interval_start, i.agent_id,
                       sum(extract(epoch FROM least(i.ended_at, d.e) - greatest(i.started_at, d.s)))::float8 AS logged,
                       coalesce(sum(extract(epoch FROM least(i.ended_at, d.e) - greatest(i.started_at, d.s))) FILTER (WHERE i.state = 'paused'), 0)::float8 AS paused
                FROM d JOIN agent_state_intervals i ON i.started_at < d.e AND i.ended_at > d.s
                WHERE i.agent_id LIKE 'agent-%'
                GROUP BY 1, 2 ORDER BY 1, 2
                """, Ct);
            Assert.NotEmpty(recount);
            var byKey = report.ToDictionary(r => ((DateTime)r["interval_start"]!, (string)r["agent_id"]!));
            foreach (var expected in recount)
            {
                var row = byKey[((DateTime)expected["interval_start"]!, (string)expected["agent_id"]!)];
                Assert.Equal(expected.F("logged"), row.F("logged_in_seconds"), 1e-6);
                Assert.Equal(expected.F("paused"), row.F("paused_seconds"), 1e-6);
            }
        }
        finally
        {
            await using var restore = Db.DataSource.CreateCommand("UPDATE settings SET value = '\"UTC\"'::jsonb WHERE key = 'reports.time_zone'");
            await restore.ExecuteNonQueryAsync(Ct);
        }
    }

    [Fact]
    public async Task AgentStateRollup_BackfillFromWholeLog_EqualsRollupKeptByWriter()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var records = CallTrafficGenerator.Generate(new CallTrafficOptions { FirstDay = new DateOnly(2026, 10, 5), Days = 2, CallsPerDay = 300, Agents = 6, Queues = 2, AgentStates = true }).ToList();
        foreach (var chunk in records.Chunk(250))
        {
            await writer.WriteAsync(chunk, Ct);
        }

        const string States = "SELECT bucket_start, agent_id, state, reason, round(seconds::numeric, 6) AS seconds FROM agent_state_rollup_1h ORDER BY 1, 2, 3, 4";
        const string Logins = "SELECT bucket_start, agent_id, logins FROM agent_login_rollup_1h ORDER BY 1, 2";
        var keptStates = await Rows.ReadAsync(Db, States, Ct);
        var keptLogins = await Rows.ReadAsync(Db, Logins, Ct);
        Assert.NotEmpty(keptLogins);
        await using (var backfill = Db.DataSource.CreateCommand("SELECT records_backfill_agent_state_rollups()"))
        {
            await backfill.ExecuteNonQueryAsync(Ct);
        }

        Assert.Equal(keptStates.Select(r => string.Join('|', r.Values)), (await Rows.ReadAsync(Db, States, Ct)).Select(r => string.Join('|', r.Values)));
        Assert.Equal(keptLogins.Select(r => string.Join('|', r.Values)), (await Rows.ReadAsync(Db, Logins, Ct)).Select(r => string.Join('|', r.Values)));
    }
}
