using CtiBridge.Data.Schema;
using Npgsql;

namespace CtiBridge.TestSupport;

/// <summary>
/// The private PostgreSQL cluster that <c>scripts/test.sh</c> starts. Its admin connection string
/// comes from the <c>CTIBRIDGE_TEST_PG</c> environment variable. The first test that needs a
/// database builds a migrated template (once per distinct set of migrations, shared by every test
/// process through an advisory lock); each test class then gets its own copy of it.
/// </summary>
public static class PostgresServer
{
    /// <summary>Environment variable holding the admin connection string.</summary>
    public const string EnvironmentVariable = "CTIBRIDGE_TEST_PG";

    private const long TemplateLockKey = 0x4374_6954_706C_0001;
    private static readonly SemaphoreSlim TemplateGate = new(1, 1);
    private static string? _templateName;

    /// <summary>The admin connection string, or a clear error saying how to get one.</summary>
    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{EnvironmentVariable} is not set, so tests cannot reach PostgreSQL. Run the tests with scripts/test.sh " +
                $"(e.g. 'scripts/test.sh tests/CtiBridge.Data.Tests'), or start the private cluster with " +
                $"'eval \"$(scripts/pg.sh env)\"' and run dotnet test in that shell.");

    /// <summary>Creates an empty database (no migrations) with a unique name.</summary>
    public static async Task<TestDatabase> CreateEmptyDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var name = NewDatabaseName();
        await AdminExecuteAsync($"CREATE DATABASE \"{name}\"", cancellationToken).ConfigureAwait(false);
        return new TestDatabase(name, ConnectionStringFor(name));
    }

    /// <summary>Creates a database holding the product's full, migrated schema.</summary>
    public static async Task<TestDatabase> CreateMigratedDatabaseAsync(CancellationToken cancellationToken = default)
    {
        var template = await EnsureTemplateAsync(cancellationToken).ConfigureAwait(false);
        var name = NewDatabaseName();
        await AdminExecuteAsync($"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"", cancellationToken).ConfigureAwait(false);
        return new TestDatabase(name, ConnectionStringFor(name));
    }

    internal static string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database, Pooling = true }.ConnectionString;

    internal static async Task AdminExecuteAsync(string sql, CancellationToken cancellationToken, string? adminConnectionString = null)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(adminConnectionString ?? AdminConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string NewDatabaseName() => $"test_{Guid.NewGuid():N}";

    private static async Task<string> EnsureTemplateAsync(CancellationToken cancellationToken)
    {
        if (_templateName is { } known)
        {
            return known;
        }

        await TemplateGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_templateName is { } built)
            {
                return built;
            }

            // The name carries each migration's version, name and checksum, so a changed or renumbered migration gets a
            // new template (the template's schema_migrations rows hold versions and names too).
            var catalog = MigrationCatalog.Embedded;
            var fingerprint = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Text.Encoding.UTF8.GetBytes(string.Join(",", catalog.Migrations.Select(m => $"{m.Version}:{m.Name}:{m.Checksum}")))))[..16];
            var template = $"tpl_ctibridge_{fingerprint}";

            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(AdminConnectionString) { Pooling = false }.ConnectionString);
            await admin.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", admin))
            {
                lockCommand.Parameters.AddWithValue("key", TemplateLockKey);
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var exists = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @name AND datistemplate", admin))
            {
                exists.Parameters.AddWithValue("name", template);
                if ((long)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! == 0)
                {
                    await BuildTemplateAsync(admin, template, catalog, cancellationToken).ConfigureAwait(false);
                }
            }

            await using (var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", admin))
            {
                unlock.Parameters.AddWithValue("key", TemplateLockKey);
                await unlock.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            _templateName = template;
            return template;
        }
        finally
        {
            TemplateGate.Release();
        }
    }

    private static async Task BuildTemplateAsync(NpgsqlConnection admin, string template, MigrationCatalog catalog, CancellationToken cancellationToken)
    {
        // A half-built template from a killed run is dropped and built again.
        await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{template}\" WITH (FORCE)", admin))
        {
            await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var create = new NpgsqlCommand($"CREATE DATABASE \"{template}\"", admin))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var builder = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = template, Pooling = false };
        await using (var dataSource = NpgsqlDataSource.Create(builder.ConnectionString))
        {
            await new SchemaMigrator(dataSource, catalog).MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        // Marked as template last: only a fully migrated database is ever used as one.
        await using var mark = new NpgsqlCommand($"ALTER DATABASE \"{template}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", admin);
        await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
