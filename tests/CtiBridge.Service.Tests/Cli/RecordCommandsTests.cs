using CtiBridge.Data.Exports;
using CtiBridge.Data.Records;
using CtiBridge.Service.Cli;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Cli;

/// <summary><c>ctibridge report</c>, <c>export</c> and <c>qa sample</c> against a migrated database with a few calls.</summary>
public sealed class RecordCommandsTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 6, 2, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        if (await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM calls", Ct) > 0)
        {
            return;
        }

        var records = new List<CallCenterRecord>();
        for (var i = 0; i < 4; i++)
        {
            var id = $"cli-{i}";
            var entered = Start.AddMinutes(i * 10);
            var answered = entered.AddSeconds(10 + (i * 10));
            records.Add(new CallRecord
            {
                CallId = id, StartedAt = entered, Direction = CallDirection.Inbound, Caller = "13800138000", Queues = ["sales"], EnqueuedAt = entered,
                AnsweredAt = answered, EndedAt = answered.AddMinutes(2), TalkSeconds = 120, Disposition = CallDisposition.Answered, AgentId = "a1",
                AccountCode = i == 0 ? "tenant, \"A\"" : null,
            });
            records.Add(new QueueVisitRecord
            {
                CallId = id, Queue = "sales", EnteredAt = entered, Outcome = QueueVisitOutcome.Answered, LeftAt = answered, AnsweredAt = answered,
                AgentId = "a1", TalkSeconds = 120, Handled = true,
            });
            records.Add(new QueueEventRecord { EventId = Guid.NewGuid(), EventTime = entered, CallId = id, Queue = "sales", Event = "ENTERQUEUE", Data = ["", "13800138000", "1"] });
            records.Add(new RecordingRecord { RecordingId = "rec-" + id, CallId = id, StartedAt = answered, Path = $"/rec/{id}.wav", AgentId = "a1" });
        }

        await new CallRecordWriter(fixture.Database.DataSource).WriteAsync(records, Ct);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => CommandLineRun.AgainstAsync(fixture.Database.ConnectionString, args);

    [Fact]
    public async Task Report_QueueTrafficHourly_WritesCsvWithHeaderAndTheHour()
    {
        var result = await RunAsync("report", "queue-traffic", "--from", "2026-06-02", "--to", "2026-06-03", "--interval", "1h", "--queue", "sales");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("interval_start,queue,offered,answered,answered_within_sl,", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("2026-06-02T09:00:00Z,sales,4,4,3,", lines[1], StringComparison.Ordinal); // waits 10, 20, 30 within 30 s; 40 not
        Assert.Equal(2, lines.Length);
    }

    [Fact]
    public async Task Report_BadIntervalOrUnknownName_ClearErrorAndExitCode()
    {
        var badInterval = await RunAsync("report", "queue-traffic", "--from", "2026-06-02", "--to", "2026-06-03", "--interval", "5m");
        var unknown = await RunAsync("report", "traffic", "--from", "2026-06-02", "--to", "2026-06-03");
        var badTime = await RunAsync("report", "queue-traffic", "--from", "June 2nd", "--to", "2026-06-03");

        Assert.Equal(1, badInterval.ExitCode);
        Assert.Contains("unknown report interval '5m'", badInterval.Error, StringComparison.Ordinal);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("known reports: queue-traffic", unknown.Error, StringComparison.Ordinal);
        Assert.Equal(2, badTime.ExitCode);
        Assert.Contains("--from 'June 2nd' is not a date or time", badTime.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Export_CallsCsvQueueLogAndSql_StreamToStandardOutput()
    {
        var csv = await RunAsync("export", "calls", "--format", "csv", "--from", "2026-06-02", "--to", "2026-06-03");
        var queueLog = await RunAsync("export", "queue_log", "--from", "2026-06-02", "--to", "2026-06-03");
        var sql = await RunAsync("export", "calls", "--format", "sql", "--from", "2026-06-02", "--to", "2026-06-03");

        Assert.Equal(0, csv.ExitCode);
        Assert.Equal(5, csv.Output.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"tenant, \"\"A\"\"\"", csv.Output, StringComparison.Ordinal);
        Assert.Equal(0, queueLog.ExitCode);
        Assert.Equal($"{Start.ToUnixTimeSeconds()}|cli-0|sales|NONE|ENTERQUEUE||13800138000|1", queueLog.Output.Split('\n')[0]);
        Assert.Equal(0, sql.ExitCode);
        Assert.Equal(4, sql.Output.Split('\n').Count(l => l.StartsWith("INSERT INTO calls ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Export_QueueLogAsSqlOrFilteredCalls_Refused()
    {
        var sqlQueueLog = await RunAsync("export", "queue_log", "--format", "sql", "--from", "2026-06-02", "--to", "2026-06-03");
        var filtered = await RunAsync("export", "calls", "--queue", "sales", "--from", "2026-06-02", "--to", "2026-06-03");

        Assert.Equal(2, sqlQueueLog.ExitCode);
        Assert.Contains("drop --format sql", sqlQueueLog.Error, StringComparison.Ordinal);
        Assert.Equal(2, filtered.ExitCode);
    }

    [Fact]
    public async Task QaSample_Week_PrintsSamplesWithRecordingsAndReportsShortfall()
    {
        var result = await RunAsync("qa", "sample", "--week", "2026-06-01", "--seed", "5", "--per-agent", "5");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("sample_id,agent_id,queue,call_id,answered_at,recording_id,stratum", lines[0]);
        Assert.Equal(5, lines.Length); // all four recorded calls of a1
        Assert.All(lines.Skip(1), l => Assert.Contains(",rec-cli-", l, StringComparison.Ordinal));
        Assert.Contains("agent a1 had 1 call(s) too few", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ReportCatalog_EveryReportIsListedInTheHelp()
    {
        var help = CtiBridgeCommandLine.Build().Subcommands.Single(c => c.Name == "report").Arguments.Single().Description!;

        Assert.All(ReportCatalog.All, r => Assert.Contains(r.Name, help, StringComparison.Ordinal));
    }
}
