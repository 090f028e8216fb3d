using CtiBridge.Data.Customers;
using Npgsql;

namespace CtiBridge.Service.Live;

/// <summary>
/// Keeps the in-memory caller-region table (<see cref="CallerRegions"/>) in step with
/// <c>number_prefixes</c>: loads it at start and every <see cref="Interval"/>, only while a queue's
/// screen-pop template uses <c>{callerRegion}</c> (a national prefix table can hold hundreds of
/// thousands of rows). A load that fails keeps the previous table and is retried at the next tick.
/// </summary>
internal sealed partial class CallerRegionRefresh(
    CallerRegions regions, LiveEventHub hub, NpgsqlDataSource dataSource, TimeProvider timeProvider, ILogger<CallerRegionRefresh> logger) : BackgroundService
{
    /// <summary>How often the table is read again (a CSV loaded with \copy shows in pops within this).</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, timeProvider);
        do
        {
            if (!hub.NeedsCallerRegions)
            {
                continue;
            }

            try
            {
                await regions.LoadAsync(dataSource, stoppingToken).ConfigureAwait(false);
                LogLoaded(logger, regions.Count);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                LogLoadFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Debug, Message = "Caller regions: {Count} number prefixes loaded for screen pops")]
    private static partial void LogLoaded(ILogger logger, int count);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Caller regions: number_prefixes could not be read ({Reason}); screen pops keep the previous table")]
    private static partial void LogLoadFailed(ILogger logger, string reason);
}
