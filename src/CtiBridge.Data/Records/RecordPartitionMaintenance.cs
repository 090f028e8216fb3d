using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Records;

/// <summary>What one maintenance run did.</summary>
/// <param name="PartitionsCreated">Monthly partitions created ahead of time.</param>
/// <param name="PartitionsDropped">Partitions dropped because they are older than <c>records.retention_months</c>.</param>
public sealed record PartitionMaintenanceResult(int PartitionsCreated, IReadOnlyList<string> PartitionsDropped);

/// <summary>
/// Keeps the monthly partitions of the call-record tables ready ahead of time and drops the ones
/// past the retention setting (<c>records.retention_months</c>). Meant to run daily from the service
/// (any instance: the database functions serialise themselves with an advisory lock).
/// </summary>
public sealed class RecordPartitionMaintenance
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the maintenance task.</summary>
    public RecordPartitionMaintenance(NpgsqlDataSource dataSource, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _dataSource = dataSource;
        _timeProvider = timeProvider;
    }

    /// <summary>Months created ahead of the current one.</summary>
    public int MonthsAhead { get; init; } = 3;

    /// <summary>Creates the partitions of this month and <see cref="MonthsAhead"/> more, then drops expired ones.</summary>
    public async Task<PartitionMaintenanceResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetUtcNow().UtcDateTime;
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        int created;
        await using (var ensure = new NpgsqlCommand("SELECT records_ensure_partitions(@from, @to)", connection))
        {
            ensure.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = now });
            ensure.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = now.AddMonths(MonthsAhead) });
            created = (int)(await ensure.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        var dropped = new List<string>();
        await using (var drop = new NpgsqlCommand("SELECT * FROM records_drop_expired_partitions(@now)", connection))
        {
            drop.Parameters.Add(new NpgsqlParameter("now", NpgsqlDbType.TimestampTz) { Value = now });
            await using var reader = await drop.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                dropped.Add(reader.GetString(0));
            }
        }

        return new PartitionMaintenanceResult(created, dropped);
    }
}
