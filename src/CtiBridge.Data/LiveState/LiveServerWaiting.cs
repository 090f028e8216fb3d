using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.LiveState;

/// <summary>Customers' calls waiting now on one Asterisk server, as the instance controlling it keeps them in <c>live_calls</c>.</summary>
/// <param name="Server">The caller's server.</param>
/// <param name="Waiting">Calls waiting (not yet answered).</param>
/// <param name="LongestWait">Longest current wait.</param>
public sealed record ServerWaitingLine(string Server, int Waiting, TimeSpan LongestWait);

/// <summary>
/// Waiting calls per Asterisk server over every instance (servers split between instances keep their
/// calls in one <c>live_calls</c> table), for the whole centre's wallboard.
/// </summary>
public sealed class LiveServerWaiting(NpgsqlDataSource dataSource)
{
    /// <summary>Reads the waiting calls per server at <paramref name="now"/> (servers with none are left out).</summary>
    public async Task<IReadOnlyList<ServerWaitingLine>> LoadAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var lines = new List<ServerWaitingLine>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(NamedQueries.Get("live_status_waiting_servers"), connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var oldest = reader.GetFieldValue<DateTimeOffset>(2);
            lines.Add(new ServerWaitingLine(reader.GetString(0), (int)reader.GetInt64(1), now > oldest ? now - oldest : TimeSpan.Zero));
        }

        return lines;
    }
}
