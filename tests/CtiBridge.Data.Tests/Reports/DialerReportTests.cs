using CtiBridge.Data.Exports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Reports;

/// <summary>The dialer reports on hand-built attempts and ledger entries equal the numbers worked out by hand.</summary>
public sealed class DialerReportTests : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private const double Eps = 1e-9;
    private readonly TestDatabase _db;

    public DialerReportTests(MigratedDatabaseFixture fixture) => _db = fixture.Database;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (await _db.ScalarAsync<long>("SELECT count(*) FROM dialer_campaigns", Ct) > 0)
        {
            return;
        }

        const string Sql = """
            INSERT INTO dialer_campaigns (campaign_id, definition, created_at, updated_at) VALUES
                ('spring', '{}', '2026-10-01', '2026-10-01'), ('other', '{}', '2026-10-01', '2026-10-01');
            INSERT INTO dialer_leads (campaign_id, phone_number, created_at, updated_at)
            SELECT 'spring', '+4930555000' || n, '2026-10-01', '2026-10-01' FROM generate_series(1, 7) n;
            INSERT INTO dialer_leads (campaign_id, phone_number, created_at, updated_at) VALUES ('other', '+4930555999', '2026-10-01', '2026-10-01');

            -- 2026-11-02: seven attempts on six leads (lead 1 twice).
            INSERT INTO dialer_attempts (campaign_id, lead_id, call_id, instance_id, phone_number, dialed_at, answered_at, agent_connected_at, ended_at, outcome, abandoned)
            SELECT 'spring', (SELECT lead_id FROM dialer_leads WHERE phone_number = '+4930555000' || l), 'c' || n, 'i1', '+4930555000' || l,
                   timestamptz '2026-11-02T10:00Z' + n * interval '5 minutes', ans, conn, ended, outcome, abandoned
            FROM (VALUES
                (1, 1, timestamptz '2026-11-02T10:05:05Z', timestamptz '2026-11-02T10:05:06Z', timestamptz '2026-11-02T10:07:06Z', 'HumanAnswer', false),
                (2, 2, '2026-11-02T10:10:00Z', '2026-11-02T10:10:03Z', '2026-11-02T10:11:03Z', 'HumanAnswer', true),
                (3, 3, '2026-11-02T10:15:10Z', NULL, '2026-11-02T10:15:40Z', 'Machine', false),
                (4, 4, NULL, NULL, '2026-11-02T10:20:05Z', 'Busy', false),
                (5, 1, NULL, NULL, '2026-11-02T10:25:26Z', 'NoAnswer', false),
                (6, 5, NULL, NULL, '2026-11-02T10:30:30Z', 'LostReply', false),
                (7, 6, '2026-11-02T10:35:08Z', NULL, '2026-11-02T10:35:20Z', 'HumanAnswer', true)
            ) AS a(n, l, ans, conn, ended, outcome, abandoned);
            INSERT INTO dialer_attempts (campaign_id, lead_id, call_id, instance_id, phone_number, dialed_at, ended_at, outcome)
            VALUES ('spring', (SELECT lead_id FROM dialer_leads WHERE phone_number = '+49305550007'), 'c8', 'i1', '+49305550007', '2026-11-03T09:00Z', '2026-11-03T09:00:04Z', 'Busy'),
                   ('other', (SELECT lead_id FROM dialer_leads WHERE phone_number = '+4930555999'), 'o1', 'i1', '+4930555999', '2026-11-02T11:00Z', '2026-11-02T11:00:04Z', 'Busy');

            INSERT INTO dialer_ledger (campaign_id, at, kind, call_id, lead_id, phone_number, connect_delay_ms, ring_ms, instance_id)
            SELECT 'spring', at, kind, call_id, '1', '+4930555001', delay, ring, 'i1'
            FROM (VALUES
                -- 30 days before 11-03: in 11-02's rolling window only.
                (timestamptz '2026-10-04T12:00Z', 'LiveAnswerConnected', 'l1', 400, NULL::int),
                ('2026-10-04T12:01Z', 'LiveAnswerConnected', 'l2', 400, NULL),
                ('2026-10-04T12:02Z', 'LiveAnswerConnected', 'l3', 400, NULL),
                ('2026-10-04T12:03Z', 'Abandoned', 'l4', NULL, NULL),
                -- 29 days before 11-03: in both.
                ('2026-10-05T12:00Z', 'LiveAnswerConnected', 'l5', 700, NULL),
                ('2026-10-05T12:01Z', 'LiveAnswerConnected', 'l6', 700, NULL),
                ('2026-10-05T12:02Z', 'Abandoned', 'l7', NULL, NULL),
                ('2026-10-05T12:02:01Z', 'MessagePlayed', 'l7', NULL, NULL),
                ('2026-11-02T10:00Z', 'LiveAnswerConnected', 'm1', 500, NULL),
                ('2026-11-02T10:01Z', 'LiveAnswerConnected', 'm2', 1500, NULL),
                ('2026-11-02T10:02Z', 'LiveAnswerConnected', 'm3', 1900, NULL),
                ('2026-11-02T10:03Z', 'Abandoned', 'm4', NULL, NULL),
                ('2026-11-02T10:03:01Z', 'MessagePlayed', 'm4', NULL, NULL),
                ('2026-11-02T10:04Z', 'Unanswered', 'm5', NULL, 20000),
                ('2026-11-02T10:05Z', 'Unanswered', 'm6', NULL, 9000),
                ('2026-11-02T10:06Z', 'MachineAnswer', 'm7', NULL, NULL),
                ('2026-11-03T10:00Z', 'LiveAnswerConnected', 'n1', 800, NULL),
                ('2026-11-03T10:01Z', 'Abandoned', 'n2', NULL, NULL)
            ) AS x(at, kind, call_id, delay, ring);
            INSERT INTO dialer_ledger (campaign_id, at, kind, call_id, lead_id, phone_number, instance_id)
            VALUES ('other', '2026-11-02T11:00Z', 'Abandoned', 'o1', '9', '+4930555999', 'i1');
            """;
        await using var command = _db.DataSource.CreateCommand(Sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<List<Dictionary<string, object?>>> Q(string sql) => Rows.ReadAsync(_db, sql, Ct);

    [Fact]
    public async Task DialerCampaign_Daily_MatchesHandCount()
    {
        var rows = await Q("SELECT * FROM report_dialer_campaign('2026-11-02T00:00Z', '2026-11-04T00:00Z', '1d', 'spring')");
        Assert.Equal(2, rows.Count);
        var day = rows[0];
        Assert.Equal(7, day.L("attempts"));
        Assert.Equal(6, day.L("leads_dialed"));
        Assert.Equal(4, day.L("answered"));
        Assert.Equal(3, day.L("human_answers"));
        Assert.Equal(1, day.L("machine_answers"));
        Assert.Equal(1, day.L("busy"));
        Assert.Equal(1, day.L("no_answer"));
        Assert.Equal(0, day.L("congestion"));
        Assert.Equal(1, day.L("failed"));
        Assert.Equal(2, day.L("agent_connected"));
        Assert.Equal(2, day.L("abandoned"));
        Assert.Equal(3.0 / 7, day.F("contact_rate"), Eps);
        Assert.Equal(2.0 / 3, day.F("abandon_rate"), Eps);
        Assert.Equal(2.0, day.F("avg_connect_delay_seconds"), Eps); // (1 s + 3 s) / 2
        Assert.Equal(90.0, day.F("avg_talk_seconds"), Eps);        // (120 s + 60 s) / 2
        Assert.Equal(1, rows[1].L("attempts"));
        Assert.Null(rows[1]["abandon_rate"]); // no live answer: no rate
        Assert.Null(rows[1]["avg_connect_delay_seconds"]);

        var all = await Q("SELECT * FROM report_dialer_campaign('2026-11-02T00:00Z', '2026-11-03T00:00Z')");
        Assert.Equal(["other", "spring"], all.Select(r => (string)r["campaign_id"]!));
    }

    [Fact]
    public async Task DialerCompliance_DailyAndRolling30Days_MatchHandCount()
    {
        var rows = await Q("SELECT * FROM report_dialer_compliance('2026-11-02T00:00Z', '2026-11-04T00:00Z', 'spring')");
        Assert.Equal(2, rows.Count);
        var first = rows[0];
        Assert.Equal(new DateOnly(2026, 11, 2), (DateOnly)first["day"]!);
        Assert.Equal(4, first.L("live_answered"));
        Assert.Equal(3, first.L("connected"));
        Assert.Equal(1, first.L("abandoned"));
        Assert.Equal(0.25, first.F("abandon_rate"), Eps);
        Assert.Equal(11, first.L("rolling_30d_live_answered")); // 11-02 (4) + 10-05 (3) + 10-04 (4)
        Assert.Equal(3, first.L("rolling_30d_abandoned"));
        Assert.Equal(3.0 / 11, first.F("rolling_30d_abandon_rate"), Eps);
        Assert.Equal(1, first.L("messages_played"));
        Assert.Equal(0, first.L("abandoned_without_message"));
        Assert.Equal(1, first.L("machine_answers"));
        Assert.Equal(2, first.L("unanswered"));
        Assert.Equal(1, first.L("unanswered_under_15s"));
        Assert.Equal(1900, first.L("longest_connect_delay_ms"));

        var second = rows[1];
        Assert.Equal(2, second.L("live_answered"));
        Assert.Equal(0.5, second.F("abandon_rate"), Eps);
        Assert.Equal(9, second.L("rolling_30d_live_answered")); // 10-04 has left the window
        Assert.Equal(3, second.L("rolling_30d_abandoned"));
        Assert.Equal(1, second.L("abandoned_without_message"));

        var all = await Q("SELECT * FROM report_dialer_compliance('2026-11-02T00:00Z', '2026-11-03T00:00Z')");
        Assert.Equal(["other", "spring"], all.Select(r => (string)r["campaign_id"]!));
    }

    [Fact]
    public async Task ReportCatalog_CampaignFilter_OnlyForDialerReports()
    {
        var report = ReportCatalog.Find("dialer-compliance");
        var parameters = new ReportParameters { From = new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero), To = new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero), Campaign = "other" };
        await using (var command = ReportCatalog.CreateCommand(_db.DataSource, report, parameters))
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            Assert.True(await reader.ReadAsync(Ct));
            Assert.Equal("other", reader.GetString(reader.GetOrdinal("campaign_id")));
            Assert.False(await reader.ReadAsync(Ct));
        }

        var error = Assert.Throws<ArgumentException>(() => ReportCatalog.CreateCommand(_db.DataSource, ReportCatalog.Find("queue-traffic"), parameters));
        Assert.Contains("cannot be filtered by campaign", error.Message, StringComparison.Ordinal);
    }
}
