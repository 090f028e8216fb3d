using System.CommandLine;
using CtiBridge.Data.Schema;
using CtiBridge.Service.Cli;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Cli;

public sealed class MigrateCommandTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async ValueTask InitializeAsync() => _database = await PostgresServer.CreateEmptyDatabaseAsync(TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => CommandLineRun.RunAsync(args);

    [Fact]
    public async Task Migrate_EmptyDatabase_AppliesEveryMigrationThenReportsUpToDate()
    {
        var first = await RunAsync("migrate", "--connection", _database.ConnectionString);
        var second = await RunAsync("migrate", "--connection", _database.ConnectionString);

        Assert.Equal(0, first.ExitCode);
        foreach (var migration in MigrationCatalog.Embedded.Migrations)
        {
            Assert.Contains($"applied {migration.Name}", first.Output, StringComparison.Ordinal);
        }

        Assert.Equal(0, second.ExitCode);
        Assert.Contains($"database is up to date (schema version {MigrationCatalog.Embedded.LatestVersion})", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateStatus_FreshDatabase_ListsPendingAndChangesNothing()
    {
        var result = await RunAsync("migrate", "--status", "--connection", _database.ConnectionString);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"pending  {MigrationCatalog.Embedded.Migrations[0].Name}", result.Output, StringComparison.Ordinal);
        Assert.False(await _database.ScalarAsync<bool>("SELECT to_regclass('schema_migrations') IS NOT NULL", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Migrate_DatabaseNewerThanCode_ExitsOneWithTheReason()
    {
        await RunAsync("migrate", "--connection", _database.ConnectionString);
        await using (var command = _database.DataSource.CreateCommand("INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (9999, '9999_future', 'x', 0)"))
        {
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var result = await RunAsync("migrate", "--connection", _database.ConnectionString);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("newer than this code", result.Error, StringComparison.Ordinal);
        Assert.Contains("9999_future", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_UnreachableServer_ExitsOneWithoutThePassword()
    {
        var result = await RunAsync("migrate", "--connection", "Host=127.0.0.1;Port=1;Username=u;Password=hunter2-secret;Timeout=2");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("cannot reach the database", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2-secret", result.Error + result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_MalformedConnectionString_ExitsTwoNamingTheProblem()
    {
        var result = await RunAsync("migrate", "--connection", "Hots=127.0.0.1");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("connection string is not valid", result.Error, StringComparison.Ordinal);
        Assert.Contains("hots", result.Error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Migrate_NoConnectionGiven_ExitsTwoAndSaysHowToGiveOne()
    {
        var saved = Environment.GetEnvironmentVariable(MigrateCommand.ConnectionEnvironmentVariable);
        Assert.Null(saved);

        var result = await RunAsync("migrate");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--connection", result.Error, StringComparison.Ordinal);
        Assert.Contains(MigrateCommand.ConnectionEnvironmentVariable, result.Error, StringComparison.Ordinal);
    }
}
