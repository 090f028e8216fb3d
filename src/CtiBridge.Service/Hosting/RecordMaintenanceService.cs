using CtiBridge.Data.Records;
using Npgsql;

namespace CtiBridge.Service.Hosting;

/// <summary>
/// Once the schema is current, and then every day: creates the call-record tables' monthly
/// partitions ahead of time and drops those past <c>records.retention_months</c>. Any instance may
/// run it; the database functions serialise themselves.
/// </summary>
internal sealed partial class RecordMaintenanceService(
    NpgsqlDataSource dataSource,
    DatabaseSchemaState schema,
    TimeProvider timeProvider,
    ILogger<RecordMaintenanceService> logger) : BackgroundService
{
    /// <summary>How often maintenance runs.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromDays(1);

    // A failed run (database down) is retried sooner than the daily interval.
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await schema.WhenCurrentAsync(stoppingToken).ConfigureAwait(false);
            var maintenance = new RecordPartitionMaintenance(dataSource, timeProvider);
            while (!stoppingToken.IsCancellationRequested)
            {
                var wait = Interval;
                try
                {
                    var result = await maintenance.RunAsync(stoppingToken).ConfigureAwait(false);
                    LogMaintained(logger, result.PartitionsCreated, result.PartitionsDropped.Count, string.Join(", ", result.PartitionsDropped));
                }
                catch (NpgsqlException ex)
                {
                    LogFailed(logger, ex.Message, RetryAfterFailure);
                    wait = RetryAfterFailure;
                }

                await Task.Delay(wait, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Record partitions maintained: {Created} created ahead, {Dropped} dropped past retention ({DroppedNames})")]
    private static partial void LogMaintained(ILogger logger, int created, int dropped, string droppedNames);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Record partition maintenance failed ({Reason}); retrying in {Delay}")]
    private static partial void LogFailed(ILogger logger, string reason, TimeSpan delay);
}
