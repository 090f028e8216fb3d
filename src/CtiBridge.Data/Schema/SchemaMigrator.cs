using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CtiBridge.Data.Schema;

/// <summary>What a migration run did.</summary>
/// <param name="Applied">Names of the migrations applied by this run, in order (empty when the
/// database was already current).</param>
/// <param name="SchemaVersion">The database's version after the run.</param>
public sealed record MigrationResult(IReadOnlyList<string> Applied, int SchemaVersion);

/// <summary>A migration recorded in <c>schema_migrations</c>.</summary>
public sealed record AppliedMigration(int Version, string Name, string Checksum, DateTimeOffset AppliedAt);

/// <summary>
/// Applies pending migrations in order, each in its own transaction, while holding a PostgreSQL
/// advisory lock so that two instances starting at once never both migrate. Refuses to run when an
/// applied migration's file changed since it was applied, or when the database holds migrations
/// this code does not know (it is newer than the code).
/// </summary>
public sealed partial class SchemaMigrator
{
    /// <summary>
    /// The advisory lock key ("CtiBrdg1" as a 64-bit number): one key for the whole schema, in the
    /// same database, so migrators on different hosts serialise.
    /// </summary>
    public const long AdvisoryLockKey = 0x4374_6942_7264_6731;

    private readonly NpgsqlDataSource _dataSource;
    private readonly MigrationCatalog _catalog;
    private readonly ILogger _logger;

    /// <summary>Creates a migrator for the product's embedded migrations.</summary>
    public SchemaMigrator(NpgsqlDataSource dataSource, ILogger<SchemaMigrator>? logger = null)
        : this(dataSource, MigrationCatalog.Embedded, logger)
    {
    }

    /// <summary>Creates a migrator for a given catalog (tests use their own).</summary>
    public SchemaMigrator(NpgsqlDataSource dataSource, MigrationCatalog catalog, ILogger<SchemaMigrator>? logger = null)
    {
        _dataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource));
        _catalog = catalog ?? throw new ArgumentNullException(nameof(catalog));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Brings the database to the catalog's latest version.</summary>
    /// <exception cref="MigrationException">A checksum mismatch, a database newer than the code, or a
    /// failing migration (its transaction is rolled back; earlier ones stay applied).</exception>
    public async Task<MigrationResult> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "SELECT pg_advisory_lock(@key)", cancellationToken, AdvisoryLockKey).ConfigureAwait(false);
        try
        {
            await EnsureHistoryTableAsync(connection, cancellationToken).ConfigureAwait(false);
            var applied = await ReadAppliedAsync(connection, cancellationToken).ConfigureAwait(false);
            var pending = Verify(applied);
            var names = new List<string>(pending.Count);
            foreach (var migration in pending)
            {
                await ApplyAsync(connection, migration, cancellationToken).ConfigureAwait(false);
                names.Add(migration.Name);
            }

            // Verify refused unknown applied versions, so the database now stands at the catalog's latest.
            var version = _catalog.LatestVersion;
            if (names.Count == 0)
            {
                LogUpToDate(_logger, version);
            }

            return new MigrationResult(names, version);
        }
        finally
        {
            // Unlock on a healthy connection; a broken one releases the lock when it closes.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await ExecuteAsync(connection, "SELECT pg_advisory_unlock(@key)", CancellationToken.None, AdvisoryLockKey).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Lists what <c>schema_migrations</c> records (empty when the table does not exist yet).</summary>
    public async Task<IReadOnlyList<AppliedMigration>> GetAppliedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NOT NULL", connection);
        if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
        {
            return [];
        }

        return await ReadAppliedAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    private List<Migration> Verify(IReadOnlyList<AppliedMigration> applied)
    {
        var known = _catalog.Migrations.ToDictionary(m => m.Version);
        var unknown = applied.Where(a => !known.ContainsKey(a.Version)).ToList();
        if (unknown.Count > 0)
        {
            throw new MigrationException(
                $"The database is newer than this code: it has migration(s) {string.Join(", ", unknown.Select(u => $"'{u.Name}'"))} " +
                $"that this version of CtiBridge does not know (its latest is {_catalog.LatestVersion}). Run a CtiBridge at least as new as the one that migrated this database.");
        }

        foreach (var row in applied)
        {
            var file = known[row.Version];
            if (!string.Equals(file.Checksum, row.Checksum, StringComparison.Ordinal))
            {
                throw new MigrationException(
                    $"Migration '{row.Name}' was applied on {row.AppliedAt:u} with checksum {row.Checksum[..12]}…, but its file now has checksum {file.Checksum[..12]}…. " +
                    "An applied migration must never be edited: restore the file and put the change in a new migration.");
            }
        }

        var appliedVersions = applied.Select(a => a.Version).ToHashSet();
        return _catalog.Migrations.Where(m => !appliedVersions.Contains(m.Version)).ToList();
    }

    private async Task ApplyAsync(NpgsqlConnection connection, Migration migration, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        NpgsqlTransaction? transaction = migration.RunInTransaction
            ? await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false)
            : null;
        try
        {
            await using (var command = new NpgsqlCommand(migration.Sql, connection, transaction))
            {
                command.CommandTimeout = 0;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var elapsedMs = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            await using (var record = new NpgsqlCommand(
                "INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (@version, @name, @checksum, @ms)",
                connection,
                transaction))
            {
                record.Parameters.AddWithValue("version", migration.Version);
                record.Parameters.AddWithValue("name", migration.Name);
                record.Parameters.AddWithValue("checksum", migration.Checksum);
                record.Parameters.AddWithValue("ms", elapsedMs);
                await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            LogApplied(_logger, migration.Name, elapsedMs);
        }
        catch (PostgresException ex)
        {
            throw new MigrationException($"Migration '{migration.Name}' failed and was rolled back: {ex.MessageText} (SQLSTATE {ex.SqlState}{(ex.Position > 0 ? $", at character {ex.Position}" : string.Empty)}).", ex);
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task EnsureHistoryTableAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string sql = """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version      integer     PRIMARY KEY,
                name         text        NOT NULL,
                checksum     text        NOT NULL,
                applied_at   timestamptz NOT NULL DEFAULT now(),
                execution_ms integer     NOT NULL
            )
            """;
        await ExecuteAsync(connection, sql, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<AppliedMigration>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<AppliedMigration>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new AppliedMigration(reader.GetInt32(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return rows;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, long? key = null)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (key is { } k)
        {
            command.Parameters.AddWithValue("key", k);
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Applied migration {Migration} in {ElapsedMs} ms")]
    private static partial void LogApplied(ILogger logger, string migration, int elapsedMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Database schema is up to date at version {Version}")]
    private static partial void LogUpToDate(ILogger logger, int version);
}
