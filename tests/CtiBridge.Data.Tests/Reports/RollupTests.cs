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
}
