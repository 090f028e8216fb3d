using CtiBridge.Data.Quality;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Records;
using CtiBridge.Data.Tests.Reports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Quality;

/// <summary>QA sampling (seeded, stratified, quotas, new agents/queues) and the pass-rate report.</summary>
public sealed class QaTests : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private static readonly DateOnly Week = new(2026, 6, 1);
    private static readonly DateTimeOffset Monday = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TestDatabase _db;

    public QaTests(MigratedDatabaseFixture fixture) => _db = fixture.Database;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (await _db.ScalarAsync<long>("SELECT count(*) FROM calls", Ct) > 0)
        {
            return;
        }

        var records = new List<CallCenterRecord>();
        var n = 0;
        void Call(string agent, string queue, DateTimeOffset at, bool recorded = true)
        {
            var id = $"qa-{n++}";
            records.AddRange(Calls.Answered(id, at, queue, agent, 5, 120));
            if (recorded)
            {
                records.Add(new RecordingRecord { RecordingId = "rec-" + id, CallId = id, StartedAt = at.AddSeconds(5), Path = $"/rec/{id}.wav", AgentId = agent });
            }
        }

        // Old agents and queues: seen in January.
        records.Add(Calls.State("veteran1", new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 5, 17, 0, 0, TimeSpan.Zero), AgentState.Available));
        records.Add(Calls.State("veteran2", new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 5, 17, 0, 0, TimeSpan.Zero), AgentState.Available));
        records.Add(Calls.State("rookie", new DateTimeOffset(2026, 5, 25, 9, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 5, 25, 17, 0, 0, TimeSpan.Zero), AgentState.Available));
        Call("veteran1", "sales", new DateTimeOffset(2026, 1, 5, 10, 0, 0, TimeSpan.Zero));
        Call("veteran1", "support", new DateTimeOffset(2026, 1, 5, 11, 0, 0, TimeSpan.Zero));

        for (var i = 0; i < 8; i++)
        {
            Call("veteran1", "sales", Monday.AddDays(i % 5).AddHours(9).AddMinutes(i));
            Call("veteran1", "support", Monday.AddDays(i % 5).AddHours(14).AddMinutes(i));
        }

        for (var i = 0; i < 4; i++)
        {
            Call("veteran1", "launch", Monday.AddDays(i).AddHours(19));
        }

        Call("veteran2", "sales", Monday.AddHours(10));
        Call("veteran2", "sales", Monday.AddHours(11));
        Call("veteran2", "sales", Monday.AddHours(12), recorded: false);
        for (var i = 0; i < 10; i++)
        {
            Call("rookie", i % 2 == 0 ? "sales" : "launch", Monday.AddDays(i % 5).AddHours(10 + i), recorded: i != 0);
        }

        Call("veteran1", "sales", Monday.AddDays(7).AddHours(9)); // next week: never sampled
        await new CallRecordWriter(_db.DataSource).WriteAsync(records, Ct);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task Draw_Week_QuotasStrataNewAgentsAndShortfalls()
    {
        var result = await new QaSampler(_db.DataSource).DrawAsync(new QaSamplingOptions { WeekStart = Week, Seed = 42 }, Ct);

        var byAgent = result.Samples.GroupBy(s => s.AgentId).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(["rookie"], result.NewAgents);
        Assert.Equal(["launch"], result.NewQueues);
        Assert.Equal(6, byAgent["rookie"].Count); // new agent: 2 x 3
        Assert.Equal(5, byAgent["rookie"].Select(s => s.Stratum).Distinct().Count()); // all five strata before a second from any
        Assert.Equal(3, byAgent["veteran1"].Count);
        Assert.Equal(["launch/evening", "sales/morning", "support/afternoon"], byAgent["veteran1"].Select(s => s.Stratum).Order(StringComparer.Ordinal));
        Assert.Equal(2, byAgent["veteran2"].Count); // only two recorded calls
        Assert.Equal(1, result.Shortfalls["veteran2"]);
        Assert.True(result.Samples.Count(s => s.Queue == "launch") >= 3);
        Assert.All(result.Samples, s => Assert.NotNull(s.RecordingId));
        Assert.All(result.Samples, s => Assert.InRange(s.AnsweredAt, Monday, Monday.AddDays(7)));
    }

    [Fact]
    public async Task Draw_NewQueueBelowItsMinimum_ToppedUpFromAnyAgent()
    {
        var result = await new QaSampler(_db.DataSource).DrawAsync(new QaSamplingOptions { WeekStart = Week, Seed = 3, PerNewQueue = 8 }, Ct);

        Assert.Equal(8, result.Samples.Count(s => s.Queue == "launch"));
    }

    [Fact]
    public async Task Draw_SameSeedTwice_SameSampleStoredOnce_OtherSeedDiffers()
    {
        var sampler = new QaSampler(_db.DataSource);
        var first = await sampler.DrawAsync(new QaSamplingOptions { WeekStart = Week, Seed = 7 }, Ct);
        var again = await sampler.DrawAsync(new QaSamplingOptions { WeekStart = Week, Seed = 7 }, Ct);
        var other = await sampler.DrawAsync(new QaSamplingOptions { WeekStart = Week, Seed = 8, RequireRecording = true }, Ct);

        Assert.Equal(first.Samples.Select(s => s.CallId), again.Samples.Select(s => s.CallId));
        Assert.NotEqual(first.Samples.Select(s => s.CallId).Order(), other.Samples.Select(s => s.CallId).Order());
        var ids = string.Join(",", first.Samples.Select(x => $"'{x.CallId}'"));
        Assert.Equal(first.Samples.Count, await _db.ScalarAsync<long>($"SELECT count(*) FROM qa_samples WHERE week_start = '2026-06-01' AND call_id IN ({ids})", Ct));
    }

    [Fact]
    public async Task PassRate_MonthPerQueueAndOverall_CountsFatalAndBoundary()
    {
        const string Setup = """
            INSERT INTO qa_forms VALUES ('B', 'telecom form B', now()) ON CONFLICT DO NOTHING;
            INSERT INTO qa_evaluations VALUES
              ('00000000-0000-0000-0000-000000000001', NULL, 'qa-1', 'veteran1', 'sales', 'B', 'qa1', '2026-06-02T10:00Z', NULL),
              ('00000000-0000-0000-0000-000000000002', NULL, 'qa-2', 'veteran1', 'sales', 'B', 'qa1', '2026-06-03T10:00Z', NULL),
              ('00000000-0000-0000-0000-000000000003', NULL, 'qa-3', 'rookie', 'sales', 'B', 'qa2', '2026-06-04T10:00Z', NULL),
              ('00000000-0000-0000-0000-000000000004', NULL, 'qa-4', 'rookie', 'support', 'B', 'qa2', '2026-06-05T10:00Z', NULL)
            ON CONFLICT DO NOTHING;
            INSERT INTO qa_evaluation_items VALUES
              ('00000000-0000-0000-0000-000000000001', 'affinity', 40, 0, false, NULL, NULL),
              ('00000000-0000-0000-0000-000000000001', 'ability', 50, 0, false, NULL, NULL),
              ('00000000-0000-0000-0000-000000000002', 'affinity', 40, 10, false, 'A', NULL),
              ('00000000-0000-0000-0000-000000000002', 'ability', 40, 0, false, 'B', NULL),
              ('00000000-0000-0000-0000-000000000003', 'affinity', 95, 0, false, NULL, NULL),
              ('00000000-0000-0000-0000-000000000003', 'release-transfer', 0, 0, true, 'A', 'agent hung up first'),
              ('00000000-0000-0000-0000-000000000004', 'affinity', 80, 0, false, 'C', NULL)
            ON CONFLICT DO NOTHING;
            """;
        await using (var setup = _db.DataSource.CreateCommand(Setup))
        {
            await setup.ExecuteNonQueryAsync(Ct);
        }

        var rows = await Rows.ReadAsync(_db, "SELECT * FROM report_qa_pass_rate('2026-06-01T00:00Z', '2026-07-01T00:00Z')", Ct);

        Assert.Equal(3, rows.Count);
        var sales = rows[0];
        Assert.Equal("sales", sales["queue"]);
        Assert.Equal(3, sales.L("evaluations"));
        Assert.Equal(1, sales.L("passed")); // 90 passes; 70 fails; 95 with a fatal error fails
        Assert.Equal(1.0 / 3, sales.F("pass_rate"), 1e-9);
        Assert.Equal((90 + 70 + 95) / 3.0, sales.F("average_score"), 1e-9);
        Assert.Equal(1, sales.L("fatal_evaluations"));
        Assert.Equal(2, sales.L("problems_a"));
        Assert.Equal(1, sales.L("problems_b"));
        var support = rows[1];
        Assert.Equal(1.0, support.F("pass_rate"), 1e-9); // exactly 80 passes
        var overall = rows[2];
        Assert.Null(overall["queue"]);
        Assert.Equal(4, overall.L("evaluations"));
        Assert.Equal(0.5, overall.F("pass_rate"), 1e-9);
    }
}
