using CtiBridge.Data.Schema;
using CtiBridge.Service.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace CtiBridge.Service.Hosting;

/// <summary>The database part: a pooled data source, migrations at start-up, a readiness check.</summary>
public static class DatabaseExtensions
{
    /// <summary>Registers the data source and, when configured, the start-up migrator.</summary>
    public static IServiceCollection AddCtiBridgeDatabase(this IServiceCollection services, DatabaseSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var builder = new NpgsqlConnectionStringBuilder(settings.ConnectionString) { ApplicationName = "ctibridge" };
        if (!string.IsNullOrEmpty(settings.Password))
        {
            builder.Password = settings.Password;
        }

        services.AddSingleton(_ => NpgsqlDataSource.Create(builder.ConnectionString));
        services.AddSingleton<DatabaseSchemaState>();
        services.AddHostedService<RecordMaintenanceService>();
        if (settings.MigrateOnStart)
        {
            services.AddHostedService<DatabaseMigrationService>();
        }
        else
        {
            services.AddHostedService<DatabaseSchemaCheckService>();
        }

        return services;
    }
}

/// <summary>Whether the schema is known to be current (readiness waits for it).</summary>
public sealed class DatabaseSchemaState
{
    private readonly TaskCompletionSource _current = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _checked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _problem = "the database schema has not been checked yet";

    /// <summary>Null when the schema is current; otherwise why it is not (yet).</summary>
    public string? Problem => _problem;

    /// <summary>Completes once the schema has been found current (work that needs the tables waits on it).</summary>
    public Task WhenCurrentAsync(CancellationToken cancellationToken) => _current.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Completes once the schema has been looked at: migrated (or found current), refused, or the
    /// database found unreachable. Work that copes with an unreachable database but must not run
    /// against a half-migrated one (call control's recovery, the dialer) waits on this.
    /// </summary>
    public Task WhenCheckedAsync(CancellationToken cancellationToken) => _checked.Task.WaitAsync(cancellationToken);

    internal void Report(string? problem)
    {
        _problem = problem;
        _checked.TrySetResult();
        if (problem is null)
        {
            _current.TrySetResult();
        }
    }
}

/// <summary>
/// Applies pending migrations at start-up. While PostgreSQL is unreachable it retries with
/// backoff (the service stays up, not ready); a migration error (tampered file, database newer
/// than the code) is final and stops the service with the reason.
/// </summary>
internal sealed partial class DatabaseMigrationService(
    NpgsqlDataSource dataSource,
    DatabaseSchemaState state,
    TimeProvider timeProvider,
    IHostApplicationLifetime lifetime,
    ILogger<DatabaseMigrationService> logger,
    ILogger<SchemaMigrator> migratorLogger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var result = await new SchemaMigrator(dataSource, migratorLogger).MigrateAsync(stoppingToken);
                state.Report(null);
                LogSchemaReady(logger, result.SchemaVersion, result.Applied.Count);
                return;
            }
            catch (MigrationException ex)
            {
                state.Report(ex.Message);
                LogMigrationRefused(logger, ex.Message);
                Environment.ExitCode = 3;
                lifetime.StopApplication();
                return;
            }
            catch (NpgsqlException ex) when (!stoppingToken.IsCancellationRequested)
            {
                state.Report($"database unreachable: {ex.Message}");
                LogDatabaseUnreachable(logger, ex.Message, delay);
                await Task.Delay(delay, timeProvider, stoppingToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Database schema ready at version {Version} ({Applied} migration(s) applied now)")]
    private static partial void LogSchemaReady(ILogger logger, int version, int applied);

    [LoggerMessage(EventId = 101, Level = LogLevel.Critical, Message = "Refusing to start: {Reason}")]
    private static partial void LogMigrationRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Database unreachable ({Reason}); retrying in {Delay}")]
    private static partial void LogDatabaseUnreachable(ILogger logger, string reason, TimeSpan delay);
}

/// <summary>With migrations off at start-up: checks the schema is current and says so in readiness.</summary>
internal sealed class DatabaseSchemaCheckService(NpgsqlDataSource dataSource, DatabaseSchemaState state) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var applied = await new SchemaMigrator(dataSource).GetAppliedAsync(stoppingToken).ConfigureAwait(false);
            var latest = MigrationCatalog.Embedded.LatestVersion;
            var current = applied.Count == 0 ? 0 : applied[^1].Version;
            state.Report(current == latest ? null : $"the database schema is at version {current}, this code needs {latest}: run 'ctibridge migrate'");
        }
        catch (NpgsqlException ex)
        {
            state.Report($"database unreachable: {ex.Message}");
        }
    }
}

/// <summary>Ready only when PostgreSQL answers and the schema is current.</summary>
internal sealed class DatabaseHealthCheck(NpgsqlDataSource dataSource, DatabaseSchemaState state) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (state.Problem is { } problem)
        {
            return HealthCheckResult.Unhealthy(problem);
        }

        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy("database reachable, schema current");
        }
        catch (NpgsqlException ex)
        {
            return HealthCheckResult.Unhealthy($"database unreachable: {ex.Message}");
        }
    }
}
