using System.Net;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Hosting;

/// <summary>The real host on a loopback port with the real PostgreSQL.</summary>
public sealed class ServiceHostTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private CtiBridge.PbxSim.PbxSimulator _pbx = null!;

    public async ValueTask InitializeAsync()
    {
        _database = await PostgresServer.CreateEmptyDatabaseAsync(TestContext.Current.CancellationToken);
        _pbx = await PbxSimSettings.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _pbx.DisposeAsync();
        await _database.DisposeAsync();
    }

    private CtiBridgeSettings Settings(string connectionString, AsteriskServerSettings? asterisk = null) =>
        PbxSimSettings.Service(connectionString, asterisk ?? PbxSimSettings.For(_pbx));

    private static Task<(HttpResponseMessage Response, string Body)> WaitForAsync(HttpClient http, string path, HttpStatusCode wanted) =>
        WaitForAsync(http, path, (response, _) => response.StatusCode == wanted);

    private static async Task<(HttpResponseMessage Response, string Body)> WaitForAsync(HttpClient http, string path, Func<HttpResponseMessage, string, bool> done)
    {
        // Bounded: the migrator and the logins need well under a second on loopback.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var response = await http.GetAsync(path, TestContext.Current.CancellationToken);
            var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            if (done(response, body) || DateTime.UtcNow > deadline)
            {
                return (response, body);
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Start_EmptyDatabase_MigratesThenReportsReady()
    {
        await using var app = CtiBridgeHost.Build(Settings(_database.ConnectionString));
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        var live = await http.GetAsync("/health/live", TestContext.Current.CancellationToken);
        var (ready, body) = await WaitForAsync(http, "/health/ready", HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("schema current", body, StringComparison.Ordinal);
        Assert.Contains("AMI logged in, ARI answering", body, StringComparison.Ordinal);
        Assert.True(await _database.ScalarAsync<bool>("SELECT to_regclass('schema_migrations') IS NOT NULL", TestContext.Current.CancellationToken));
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Start_EmptyDatabaseWithCallControlAndDialer_NothingReadsTheTablesBeforeTheyExist()
    {
        // The migrations run in the background at start: call control's recovery (live_agents) and the
        // dialer (dialer_instances) used to query before them and logged "relation ... does not exist".
        var logDirectory = Directory.CreateTempSubdirectory("ctibridge-start-log-").FullName;
        try
        {
            var settings = Settings(_database.ConnectionString);
            settings.Logging = new LogSettings { Level = "Warning", File = Path.Combine(logDirectory, "ctibridge-.log") };
            settings.CallControl = new CallControlSettings
            {
                Queues = [new CallQueueSettings { Name = "support" }],
                Agents = [new CallAgentSettings { Id = "1001", Extension = "PJSIP/agent1", PinHash = Tests.CallControl.CallCenterRig.PinHash, Queues = ["support"] }],
                Shutdown = new ShutdownSettings { CallsFinishWithin = TimeSpan.Zero },
            };
            settings.Dialer.Enabled = true;
            await using (var app = CtiBridgeHost.Build(settings))
            {
                await app.StartAsync(TestContext.Current.CancellationToken);
                using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };
                var (ready, body) = await WaitForAsync(http, "/health/ready", HttpStatusCode.OK);
                Assert.True(ready.StatusCode == HttpStatusCode.OK, body);
                await app.StopAsync(TestContext.Current.CancellationToken);
            }

            var logs = string.Join("\n", Directory.GetFiles(logDirectory).Select(File.ReadAllText));
            Assert.DoesNotContain("does not exist", logs, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(logDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Ready_DatabaseUnreachable_IsUnavailableWithTheReasonWhileLiveStaysUp()
    {
        await using var app = CtiBridgeHost.Build(Settings("Host=127.0.0.1;Port=1;Username=x;Timeout=1"));
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        var ready = await http.GetAsync("/health/ready", TestContext.Current.CancellationToken);
        var live = await http.GetAsync("/health/live", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("database", await ready.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Ready_WrongAmiSecretAndAriDown_IsUnavailableNamingBoth()
    {
        var wrong = PbxSimSettings.For(_pbx, amiSecret: "wrong-secret");
        wrong.Ari.BaseUrl = "http://127.0.0.1:1/ari";
        await using var app = CtiBridgeHost.Build(Settings(_database.ConnectionString, wrong));
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        // The failed login answers after PbxSim's one-second delay; wait until the database is
        // ready so that only the Asterisk problems remain.
        var (ready, body) = await WaitForAsync(http, "/health/ready", (_, text) => text.Contains("schema current", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("pbx1: AMI", body, StringComparison.Ordinal);
        Assert.Contains("pbx1: ARI not answering", body, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", body, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Metrics_Scraped_ServesPrometheusText()
    {
        await using var app = CtiBridgeHost.Build(Settings(_database.ConnectionString));
        await app.StartAsync(TestContext.Current.CancellationToken);
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.Single()) };

        var metrics = await http.GetStringAsync("/metrics", TestContext.Current.CancellationToken);

        Assert.Contains("# TYPE", metrics, StringComparison.Ordinal);
        Assert.Contains("process_cpu_seconds_total", metrics, StringComparison.Ordinal);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task RunCommand_BrokenConfig_RefusesToStartListingEveryProblem()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{"asterisk":[{"name":"pbx1","ami":{"port":0}}]}""", TestContext.Current.CancellationToken);
            var error = new StringWriter();

            var exit = await CtiBridge.Service.Cli.RunCommand.RunAsync(file, error, TestContext.Current.CancellationToken);

            Assert.Equal(2, exit);
            Assert.Contains("not starting", error.ToString(), StringComparison.Ordinal);
            Assert.Contains("  asterisk[0].ami.port: 0 is not a TCP port (1-65535)", error.ToString(), StringComparison.Ordinal);
            Assert.Contains("  database.connectionString: is required", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private Task<long> PartitionsOfCallsAsync(string month) =>
        _database.ScalarAsync<long>($"SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'calls' AND c.relname = 'calls_p{month}'", TestContext.Current.CancellationToken);

    // Bounded: the migration and one maintenance run take well under a second on loopback.
    private static Task<bool> WaitUntilAsync(Func<Task<bool>> condition, int seconds = 20) =>
        BoundedWait.HoldsWithinAsync(condition, TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(50));

    [Fact]
    public async Task Start_ClockYearsAhead_CreatesThatMonthsPartitionsThenNextDaysRunKeepsAhead()
    {
        // The migration creates partitions around the real date; a clock in 2031 needs new ones.
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 5, 31, 12, 0, 0, TimeSpan.Zero));
        await using var app = CtiBridgeHost.Build(Settings(_database.ConnectionString), clock);
        await app.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(async () => await PartitionsOfCallsAsync("203108") > 0);
        var augustAtStart = await PartitionsOfCallsAsync("203108");
        var septemberAtStart = await PartitionsOfCallsAsync("203109");
        // The service arms its daily delay just after the first run; a day advanced before that
        // moment would be missed, so advance a day at a time until the next run has happened.
        for (var day = 0; day < 10; day++)
        {
            clock.Advance(RecordMaintenanceService.Interval);
            if (await WaitUntilAsync(async () => await PartitionsOfCallsAsync("203109") > 0, seconds: 2))
            {
                break;
            }
        }

        Assert.Equal(1, augustAtStart);
        Assert.Equal(0, septemberAtStart);
        Assert.Equal(1, await PartitionsOfCallsAsync("203109"));
        await app.StopAsync(TestContext.Current.CancellationToken);
    }
}
