using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.Dialer;

/// <summary>An agent on a campaign's nailed-up line.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="InstanceId">The dialer instance holding the line.</param>
public sealed record AgentLine(string AgentId, string CampaignId, string InstanceId);

/// <summary>
/// Which agents are on a campaign's nailed-up line, over every instance (table
/// <c>dialer_agent_lines</c>): the dialer writes its own, call control reads them all so an agent
/// on a line of a dialer-only instance cannot also log in to inbound queues (one state at a time in
/// the agent-state log, docs/metrics.md §6). Lines of an instance whose dialer heartbeat is older
/// than <see cref="LeadHopper.ClaimLease"/> do not count.
/// </summary>
public sealed class AgentLines(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>
    /// Records that <paramref name="agentId"/> is on a line of <paramref name="campaignId"/> held by <paramref name="instanceId"/>,
    /// with the line's channel id and the agent's phone (written before the phone is called, so an adopter of a killed
    /// instance keeps the line or calls the phone again).
    /// </summary>
    public async Task JoinAsync(string agentId, string campaignId, string instanceId, string? channelId = null, string? endpoint = null, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_line_join"));
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("joined_at", timeProvider.GetUtcNow());
        command.Parameters.AddWithValue("channel_id", NpgsqlTypes.NpgsqlDbType.Text, (object?)channelId ?? DBNull.Value);
        command.Parameters.AddWithValue("endpoint", NpgsqlTypes.NpgsqlDbType.Text, (object?)endpoint ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The agent left the line <paramref name="instanceId"/> held.</summary>
    public async Task LeaveAsync(string agentId, string instanceId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_line_leave"));
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("instance_id", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets every line <paramref name="instanceId"/> held (at its start and stop).</summary>
    public async Task ClearAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_lines_clear"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The line <paramref name="agentId"/> is on now, or null: one read at the moment of an inbound
    /// login, so a line joined on another instance just before is seen at once (not only at the next
    /// refresh of the set <see cref="HeldAsync"/> reads).
    /// </summary>
    public async Task<AgentLine?> OfAsync(string agentId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_line_of"));
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("stale_before", timeProvider.GetUtcNow() - LeadHopper.ClaimLease);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new AgentLine(reader.GetString(0), reader.GetString(1), reader.GetString(2))
            : null;
    }

    /// <summary>Every agent on a line of a live dialer instance.</summary>
    public async Task<IReadOnlyList<AgentLine>> HeldAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_lines_held"));
        command.Parameters.AddWithValue("stale_before", timeProvider.GetUtcNow() - LeadHopper.ClaimLease);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var lines = new List<AgentLine>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            lines.Add(new AgentLine(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return lines;
    }
}
