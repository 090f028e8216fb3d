using CtiBridge.Data.Schema;
using CtiBridge.TestSupport;
using Npgsql;

namespace CtiBridge.Data.Tests.Schema;

/// <summary>The migrator against the real PostgreSQL: each test gets its own empty database.</summary>
public sealed class SchemaMigratorTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async ValueTask InitializeAsync() => _database = await PostgresServer.CreateEmptyDatabaseAsync(TestContext.Current.CancellationToken);

    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static MigrationCatalog Catalog(params (string File, string Sql)[] files) =>
        new(files.Select(f => Migration.FromFile(f.File, f.Sql)));

    [Fact]
    public async Task Migrate_FreshDatabase_AppliesEveryEmbeddedMigrationInOrder()
    {
        var migrator = new SchemaMigrator(_database.DataSource);

        var result = await migrator.MigrateAsync(Ct);

        Assert.Equal(MigrationCatalog.Embedded.Migrations.Select(m => m.Name), result.Applied);
        Assert.Equal(MigrationCatalog.Embedded.LatestVersion, result.SchemaVersion);
        var applied = await migrator.GetAppliedAsync(Ct);
        Assert.Equal(MigrationCatalog.Embedded.Migrations.Select(m => (m.Version, m.Name, m.Checksum)), applied.Select(a => (a.Version, a.Name, a.Checksum)));
        Assert.Equal(25, await _database.ScalarAsync<int>("SELECT (value #>> '{}')::int FROM settings WHERE key = 'records.retention_months'", Ct));
    }

    [Fact]
    public async Task Migrate_RunTwice_SecondRunAppliesNothing()
    {
        var migrator = new SchemaMigrator(_database.DataSource);
        await migrator.MigrateAsync(Ct);

        var second = await migrator.MigrateAsync(Ct);

        Assert.Empty(second.Applied);
        Assert.Equal(MigrationCatalog.Embedded.Migrations.Count, await _database.ScalarAsync<long>("SELECT count(*) FROM schema_migrations", Ct));
    }

    [Fact]
    public async Task Migrate_NewMigrationAdded_AppliesOnlyThePendingOne()
    {
        await new SchemaMigrator(_database.DataSource, Catalog(("0001_a.sql", "CREATE TABLE a (id int)"))).MigrateAsync(Ct);

        var result = await new SchemaMigrator(_database.DataSource, Catalog(("0001_a.sql", "CREATE TABLE a (id int)"), ("0002_b.sql", "CREATE TABLE b (id int)"))).MigrateAsync(Ct);

        Assert.Equal(["0002_b"], result.Applied);
        Assert.Equal(2, result.SchemaVersion);
    }

    [Fact]
    public async Task Migrate_ConcurrentMigrators_ApplyEachMigrationExactlyOnce()
    {
        // Without the advisory lock both would try CREATE TABLE and one would fail.
        var catalog = Catalog(("0001_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE slow (id int)"), ("0002_next.sql", "CREATE TABLE next (id int)"));
        await using var otherSource = NpgsqlDataSource.Create(_database.ConnectionString);

        var results = await Task.WhenAll(
            Enumerable.Range(0, 4).Select(i => new SchemaMigrator(i % 2 == 0 ? _database.DataSource : otherSource, catalog).MigrateAsync(Ct)));

        Assert.Equal(2, results.Sum(r => r.Applied.Count));
        Assert.Single(results, r => r.Applied.Count == 2);
        Assert.Equal(2, await _database.ScalarAsync<long>("SELECT count(*) FROM schema_migrations", Ct));
    }

    [Fact]
    public async Task Migrate_AppliedFileChanged_RefusesWithTheMigrationsName()
    {
        await new SchemaMigrator(_database.DataSource, Catalog(("0001_agents.sql", "CREATE TABLE agents (id int)"))).MigrateAsync(Ct);
        var tampered = new SchemaMigrator(_database.DataSource, Catalog(("0001_agents.sql", "CREATE TABLE agents (id bigint)")));

        var error = await Assert.ThrowsAsync<MigrationException>(() => tampered.MigrateAsync(Ct));

        Assert.Contains("'0001_agents'", error.Message, StringComparison.Ordinal);
        Assert.Contains("must never be edited", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_LineEndingsChangedOnly_IsNotTampering()
    {
        await new SchemaMigrator(_database.DataSource, Catalog(("0001_a.sql", "CREATE TABLE a (id int);\nCREATE TABLE b (id int);"))).MigrateAsync(Ct);

        var result = await new SchemaMigrator(_database.DataSource, Catalog(("0001_a.sql", "CREATE TABLE a (id int);\r\nCREATE TABLE b (id int);"))).MigrateAsync(Ct);

        Assert.Empty(result.Applied);
    }

    [Fact]
    public async Task Migrate_DatabaseNewerThanCode_RefusesAndChangesNothing()
    {
        await new SchemaMigrator(_database.DataSource, Catalog(("0001_a.sql", "CREATE TABLE a (id int)"), ("0002_b.sql", "CREATE TABLE b (id int)"))).MigrateAsync(Ct);
        var older = new SchemaMigrator(_database.DataSource, Catalog(("0001_a.sql", "CREATE TABLE a (id int)")));

        var error = await Assert.ThrowsAsync<MigrationException>(() => older.MigrateAsync(Ct));

        Assert.Contains("newer than this code", error.Message, StringComparison.Ordinal);
        Assert.Contains("'0002_b'", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await _database.ScalarAsync<long>("SELECT count(*) FROM schema_migrations", Ct));
    }

    [Fact]
    public async Task Migrate_FailingMigration_RollsItBackKeepsEarlierOnesAndNamesIt()
    {
        var catalog = Catalog(("0001_ok.sql", "CREATE TABLE ok (id int)"), ("0002_broken.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table"));

        var error = await Assert.ThrowsAsync<MigrationException>(() => new SchemaMigrator(_database.DataSource, catalog).MigrateAsync(Ct));

        Assert.Contains("'0002_broken'", error.Message, StringComparison.Ordinal);
        Assert.Contains("no_such_table", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await _database.ScalarAsync<long>("SELECT count(*) FROM schema_migrations", Ct));
        Assert.False(await _database.ScalarAsync<bool>("SELECT to_regclass('half') IS NOT NULL", Ct));
        Assert.True(await _database.ScalarAsync<bool>("SELECT to_regclass('ok') IS NOT NULL", Ct));
    }

    [Fact]
    public async Task Migrate_NoTransactionMarker_RunsStatementsThatRefuseTransactions()
    {
        var catalog = Catalog(("0001_t.sql", "CREATE TABLE t (id int)"), ("0002_index.sql", "-- ctibridge:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id)"));

        var result = await new SchemaMigrator(_database.DataSource, catalog).MigrateAsync(Ct);

        Assert.Equal(2, result.Applied.Count);
        Assert.True(await _database.ScalarAsync<bool>("SELECT to_regclass('t_id') IS NOT NULL", Ct));
    }

    [Fact]
    public async Task GetApplied_BeforeAnyMigration_IsEmpty()
    {
        Assert.Empty(await new SchemaMigrator(_database.DataSource).GetAppliedAsync(Ct));
    }
}
