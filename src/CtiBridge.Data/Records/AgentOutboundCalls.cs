using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.Records;

/// <summary>One agent's outbound calls in a period (docs/metrics.md §6, definitions version 3).</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Calls">Campaign and callback calls the agent talked on, answered in the period.</param>
/// <param name="Handled">Those whose wrap-up has ended (their row carries it).</param>
/// <param name="Talk">Σ talk of the handled ones.</param>
/// <param name="Hold">Σ hold of the handled ones.</param>
/// <param name="WrapUp">Σ wrap-up of the handled ones.</param>
public sealed record AgentOutboundFigures(string AgentId, long Calls, long Handled, TimeSpan Talk, TimeSpan Hold, TimeSpan WrapUp);

/// <summary>
/// Reads the agents' outbound calls (campaign calls of the dialer, callback calls of call control)
/// from the call records, with the SQL definition the agent report uses
/// (<c>agent_outbound_calls</c>, migration 0026). The live statistics add them to the inbound calls
/// they count from the ACD's events, so the wallboard's calls today equal the report's. Read from
/// the database because the dialer may run on another instance than call control.
/// </summary>
public sealed class AgentOutboundCalls(NpgsqlDataSource dataSource)
{
    /// <summary>Per agent, the outbound calls answered since <paramref name="from"/>.</summary>
    public async Task<IReadOnlyDictionary<string, AgentOutboundFigures>> SinceAsync(DateTimeOffset from, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("agent_outbound_calls_since"));
        command.Parameters.AddWithValue("from", from);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var figures = new Dictionary<string, AgentOutboundFigures>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var agent = reader.GetString(0);
            figures[agent] = new AgentOutboundFigures(agent, reader.GetInt64(1), reader.GetInt64(2),
                TimeSpan.FromSeconds(reader.GetDouble(3)), TimeSpan.FromSeconds(reader.GetDouble(4)), TimeSpan.FromSeconds(reader.GetDouble(5)));
        }

        return figures;
    }
}
