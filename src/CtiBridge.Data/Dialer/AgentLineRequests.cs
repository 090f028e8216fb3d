using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>An agent's join or leave waiting for the dialer instance it was sent to.</summary>
/// <param name="RequestId">Its id.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="Join">True to join (call the agent's phone), false to leave.</param>
/// <param name="Endpoint">Join: the agent's phone, e.g. <c>PJSIP/1001</c>.</param>
public sealed record AgentLineRequest(long RequestId, string AgentId, string CampaignId, bool Join, string? Endpoint);

/// <summary>What the dialer instance answered to a join or leave.</summary>
/// <param name="Answered">False while it has not answered.</param>
/// <param name="Refused">Not done: the reason in operator words; null when done.</param>
public sealed record AgentLineAnswer(bool Answered, string? Refused);

/// <summary>
/// An agent's join and leave of a campaign's nailed-up line across instances (migration 0031): the
/// agent's desktop talks to the instance running call control, the dialer that holds the line may
/// run on a dialer-only instance. The request is written for a dialer instance
/// (<c>dialer_agent_requests</c>), which carries it out and answers.
/// </summary>
public sealed class AgentLineRequests(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>Dialer instances heard from within <see cref="LeadHopper.ClaimLease"/>, the most recently heard first.</summary>
    public async Task<IReadOnlyList<string>> LiveDialersAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_instances_live"));
        command.Parameters.AddWithValue("stale_before", timeProvider.GetUtcNow() - LeadHopper.ClaimLease);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var instances = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            instances.Add(reader.GetString(0));
        }

        return instances;
    }

    /// <summary>
    /// The dialer instance an agent's join of <paramref name="campaignId"/> goes to, from the live dialer
    /// instances (<paramref name="live"/>, most recently heard first) and the lines they hold
    /// (<paramref name="held"/>): the one with the fewest agents on that campaign, then the fewest agents
    /// at all, then the one heard from last, so a campaign's agents are spread over the instances
    /// dialling it. Null when no dialer instance is live.
    /// </summary>
    public static string? LeastLoaded(IReadOnlyList<string> live, IReadOnlyList<AgentLine> held, string campaignId)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(held);
        return live
            .Select((instance, heard) => (instance, heard,
                onCampaign: held.Count(l => l.InstanceId == instance && l.CampaignId == campaignId),
                all: held.Count(l => l.InstanceId == instance)))
            .OrderBy(x => x.onCampaign).ThenBy(x => x.all).ThenBy(x => x.heard)
            .Select(x => x.instance)
            .FirstOrDefault();
    }

    /// <summary>Hands a join (<paramref name="endpoint"/> given) or a leave (null) to <paramref name="instanceId"/>'s dialer; returns the request id to wait on.</summary>
    public async Task<long> RequestAsync(string instanceId, string agentId, string campaignId, string? endpoint, string requestedBy, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_request_insert"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("action", endpoint is null ? "leave" : "join");
        command.Parameters.AddWithValue("endpoint", NpgsqlDbType.Text, (object?)endpoint ?? DBNull.Value);
        command.Parameters.AddWithValue("requested_by", requestedBy);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Joins and leaves waiting for <paramref name="instanceId"/>, oldest first.</summary>
    public async Task<IReadOnlyList<AgentLineRequest>> PendingAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_requests_pending"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        var rows = new List<AgentLineRequest>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new AgentLineRequest(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3) == "join", reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return rows;
    }

    /// <summary>Answers a request (once): null when done, else why not.</summary>
    public async Task AnswerAsync(long requestId, string? refused, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_request_answer"));
        command.Parameters.AddWithValue("request_id", requestId);
        command.Parameters.AddWithValue("refused", NpgsqlDbType.Text, (object?)refused ?? DBNull.Value);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The answer to a request so far.</summary>
    public async Task<AgentLineAnswer> AnswerOfAsync(long requestId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_request_get"));
        command.Parameters.AddWithValue("request_id", requestId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new AgentLineAnswer(reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetString(1))
            : new AgentLineAnswer(false, null);
    }

    /// <summary>Deletes requests older than <see cref="PreviewRelay.Kept"/>.</summary>
    public async Task PurgeAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_agent_requests_purge"));
        command.Parameters.AddWithValue("before", timeProvider.GetUtcNow() - PreviewRelay.Kept);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
