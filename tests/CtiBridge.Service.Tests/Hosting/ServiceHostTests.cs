using System.Net;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.TestSupport;

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

    private CtiBridgeSettings Settings(string connectionString, AsteriskServerSettings? asterisk = null) => new()
    {
        Database = new DatabaseSettings { ConnectionString = connectionString },
        Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
        Asterisk = [asterisk ?? PbxSimSettings.For(_pbx)],
    };

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
}
