using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.Records;

/// <summary>The reports' day that contains an instant, and what the call records hold for it so far.</summary>
/// <param name="TimeZoneId">The IANA zone of <c>reports.time_zone</c>.</param>
/// <param name="Zone">That zone.</param>
/// <param name="DayEnd">The start of the next day.</param>
/// <param name="Seed">The day's figures in the call records, with the day's start and the reports' thresholds.</param>
/// <param name="Targets">The targets figures are coloured against (<c>metrics.service_level_target</c>, <c>metrics.aht_target_seconds</c>).</param>
public sealed record LiveDay(string TimeZoneId, TimeZoneInfo Zone, DateTimeOffset DayEnd, StatisticsSeed Seed, MetricTargets Targets);

/// <summary>The targets the wallboard colours against (docs/metrics.md §1; colouring and alarms only).</summary>
/// <param name="ServiceLevel">Target share answered within the threshold (default 0.90).</param>
/// <param name="AverageHandleTime">AHT target (default 5 min).</param>
public sealed record MetricTargets(double ServiceLevel, TimeSpan AverageHandleTime)
{
    /// <summary>The defaults of migration 0002 (SL 90 %, AHT 5 min), used until the database has been read.</summary>
    public static MetricTargets Default { get; } = new(0.90, TimeSpan.FromSeconds(300));
}

/// <summary>
/// Reads the day of the reports (<c>reports.time_zone</c>) and the figures the call records already
/// hold for it, for the live statistics to start from (docs/metrics.md §2, "today"): after a restart
/// or an HA takeover the wallboard then shows the same day totals as the SQL reports, instead of the
/// totals since this start. Queue figures by report_queue_traffic's rules, agent figures by
/// report_agent_activity's (named queries <c>live_day_*</c>).
/// </summary>
public sealed class LiveDayFigures(NpgsqlDataSource dataSource)
{
    /// <summary>The day containing <paramref name="now"/> and its figures so far.</summary>
    /// <exception cref="InvalidOperationException"><c>reports.time_zone</c> names no zone this machine knows.</exception>
    public Task<LiveDay> LoadAsync(DateTimeOffset now, CancellationToken cancellationToken = default) => LoadAsync(now, null, cancellationToken);

    /// <summary><see cref="LoadAsync(DateTimeOffset, CancellationToken)"/> with the queue figures of some servers' calls only.</summary>
    /// <param name="now">Now (picks the day).</param>
    /// <param name="onServers">Servers split between instances: count only the queue visits of calls on these Asterisk
    /// servers (the instance's own); null counts every server's.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<LiveDay> LoadAsync(DateTimeOffset now, IReadOnlyCollection<string>? onServers, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // One snapshot for the three reads: a batch committed between them cannot be half counted.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        string zoneId;
        DateTimeOffset dayStart, dayEnd;
        MetricsParameters parameters;
        MetricTargets targets;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_day_settings"), connection, transaction))
        {
            command.Parameters.AddWithValue("now", now);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            zoneId = reader.GetString(0);
            dayStart = reader.GetFieldValue<DateTimeOffset>(1);
            dayEnd = reader.GetFieldValue<DateTimeOffset>(2);
            parameters = new MetricsParameters
            {
                ServiceLevelThreshold = TimeSpan.FromSeconds(reader.GetDouble(3)),
                ShortAbandonThreshold = TimeSpan.FromSeconds(reader.GetDouble(4)),
            };
            targets = new MetricTargets(reader.GetDouble(5), TimeSpan.FromSeconds(reader.GetDouble(6)));
        }

        TimeZoneInfo zone;
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new InvalidOperationException($"settings reports.time_zone: '{zoneId}' is not a time zone known on this machine (an IANA name such as \"Europe/Berlin\" or \"UTC\")", ex);
        }

        var queues = new List<QueueStatistics>();
        var servers = new List<QueueStatistics>();
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_day_queues"), connection, transaction))
        {
            command.Parameters.AddWithValue("from", dayStart);
            command.Parameters.AddWithValue("to", dayEnd);
            command.Parameters.AddWithValue("sl", parameters.ServiceLevelThreshold.TotalSeconds);
            command.Parameters.AddWithValue("sa", parameters.ShortAbandonThreshold.TotalSeconds);
            command.Parameters.Add(new NpgsqlParameter("servers", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = onServers is null ? DBNull.Value : onServers.ToArray() });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var figures = new QueueStatistics(reader.GetString(1), Count(reader, 2), Count(reader, 3), Count(reader, 4), Count(reader, 5), Count(reader, 6),
                    Count(reader, 7), Count(reader, 8), Seconds(reader, 9), Seconds(reader, 10), Count(reader, 11), Seconds(reader, 12), Seconds(reader, 13), Seconds(reader, 14));
                (reader.GetString(0) == "queue" ? queues : servers).Add(figures);
            }
        }

        var agents = new List<AgentStatistics>();
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_day_agents"), connection, transaction))
        {
            command.Parameters.AddWithValue("from", dayStart);
            command.Parameters.AddWithValue("to", dayEnd);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var pauses = JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(13)) ?? [];
                agents.Add(new AgentStatistics(reader.GetString(0), Count(reader, 1), Count(reader, 2), Count(reader, 3), Count(reader, 4),
                    Seconds(reader, 5), Seconds(reader, 6), Seconds(reader, 7), Seconds(reader, 8), Seconds(reader, 9), Seconds(reader, 10), Seconds(reader, 11), Seconds(reader, 12),
                    pauses.ToDictionary(p => p.Key, p => TimeSpan.FromSeconds(p.Value), StringComparer.Ordinal)));
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new LiveDay(zoneId, zone, dayEnd, new StatisticsSeed(dayStart, parameters, queues, servers, agents), targets);
    }

    private static int Count(NpgsqlDataReader reader, int column) => checked((int)reader.GetInt64(column));

    private static TimeSpan Seconds(NpgsqlDataReader reader, int column) => TimeSpan.FromSeconds(reader.GetDouble(column));
}
