using System.CommandLine;
using CtiBridge.Data.Schema;
using Npgsql;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge migrate</c>: applies pending schema migrations to a PostgreSQL database.</summary>
public static class MigrateCommand
{
    /// <summary>Environment variable read when <c>--connection</c> is not given.</summary>
    public const string ConnectionEnvironmentVariable = CliDatabase.ConnectionEnvironmentVariable;

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var status = new Option<bool>("--status")
        {
            Description = "Only list applied and pending migrations; change nothing.",
        };
        var command = new Command("migrate", "Apply pending database schema migrations (safe to run from several instances at once).")
        {
            status,
        };
        var database = CliDatabase.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var dataSource = database.Open(parse, error, "migrate");
            return dataSource is null ? 2 : await RunAsync(dataSource, parse.GetValue(status), parse.InvocationConfiguration.Output, error, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> RunAsync(NpgsqlDataSource dataSource, bool statusOnly, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        await using (dataSource.ConfigureAwait(false))
        {
            var migrator = new SchemaMigrator(dataSource);
            try
            {
                if (statusOnly)
                {
                    var applied = await migrator.GetAppliedAsync(cancellationToken).ConfigureAwait(false);
                    var appliedVersions = applied.Select(a => a.Version).ToHashSet();
                    foreach (var row in applied)
                    {
                        await output.WriteLineAsync($"applied  {row.Name}  {row.AppliedAt:u}").ConfigureAwait(false);
                    }

                    foreach (var pending in MigrationCatalog.Embedded.Migrations.Where(m => !appliedVersions.Contains(m.Version)))
                    {
                        await output.WriteLineAsync($"pending  {pending.Name}").ConfigureAwait(false);
                    }

                    return 0;
                }

                var result = await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
                foreach (var name in result.Applied)
                {
                    await output.WriteLineAsync($"applied {name}").ConfigureAwait(false);
                }

                await output.WriteLineAsync(result.Applied.Count == 0
                    ? $"database is up to date (schema version {result.SchemaVersion})"
                    : $"database migrated to schema version {result.SchemaVersion}").ConfigureAwait(false);
                return 0;
            }
            catch (MigrationException ex)
            {
                await error.WriteLineAsync($"migrate: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
            catch (NpgsqlException ex)
            {
                // The message names host, port and the failure, never the password.
                await error.WriteLineAsync($"migrate: cannot reach the database: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        }
    }
}
