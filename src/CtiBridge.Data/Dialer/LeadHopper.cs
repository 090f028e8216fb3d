using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>A lead handed out by the hopper: the domain lead (its <see cref="Lead.Id"/> is the database id) and its custom fields.</summary>
/// <param name="Lead">The lead.</param>
/// <param name="CustomFieldsJson">The CSV columns kept for screen pop, as a JSON object.</param>
/// <param name="AssignedAgent">The agent who owns the lead (preview mode offers it only to them), if any.</param>
public sealed record HopperLead(Lead Lead, string CustomFieldsJson, string? AssignedAgent = null);

/// <summary>
/// The hopper: hands each instance due leads of a campaign with <c>FOR UPDATE SKIP LOCKED</c> and
/// marks them claimed, so two CtiBridge instances on one database never dial the same lead. A claim
/// ends when the attempt is stored (<see cref="AttemptLog.EndAsync(StoredAttemptEnd, CancellationToken)"/>) or the lead is released
/// undialled; claims of an instance that stopped sending heartbeats expire after <see cref="ClaimLease"/>.
/// </summary>
public sealed class LeadHopper(NpgsqlDataSource dataSource, string instanceId, TimeProvider timeProvider)
{
    // Where the claim queries (dialer_hopper_claim*.sql) return the lead: lead_id, phone_number, time_zone,
    // attempts, next_attempt_at, last_outcome; then custom_fields and assigned_agent.
    private static readonly LeadOrdinals HopperLeadColumns = new(Id: 0, PhoneNumber: 1, TimeZoneId: 2, Attempts: 3, NextAttemptAt: 4, LastOutcome: 5);

    /// <summary>How long an instance's claims outlive its last heartbeat (send one every third of this).</summary>
    public static TimeSpan ClaimLease { get; } = TimeSpan.FromSeconds(60);

    /// <summary>This instance's id (unique per running process).</summary>
    public string InstanceId { get; } = instanceId;

    /// <summary>Says this instance is alive, which keeps its claims.</summary>
    public async Task HeartbeatAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_instance_heartbeat"));
        command.Parameters.AddWithValue("instance_id", InstanceId);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Claims up to <paramref name="limit"/> due leads of the campaign for this instance, oldest due first.</summary>
    public Task<IReadOnlyList<HopperLead>> ClaimAsync(string campaignId, int limit, CancellationToken cancellationToken = default) =>
        ClaimAsync("dialer_hopper_claim", campaignId, null, limit, timeProvider.GetUtcNow(), cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="limit"/> leads of the campaign due at <paramref name="now"/>, oldest due first.
    /// The dialer passes its round's time, so every campaign paced in one round sees the same leads due: a lead
    /// coming due while the round goes from a higher-priority campaign to a lower one waits for the next round
    /// instead of going to the lower one first.
    /// </summary>
    public Task<IReadOnlyList<HopperLead>> ClaimAsync(string campaignId, int limit, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        ClaimAsync("dialer_hopper_claim", campaignId, null, limit, now, cancellationToken);

    /// <summary>
    /// Preview mode: claims up to <paramref name="limit"/> due leads for one agent: the agent's own
    /// leads first, then leads nobody owns (never another agent's), oldest due first within each.
    /// </summary>
    public Task<IReadOnlyList<HopperLead>> ClaimForAgentAsync(string campaignId, string agentId, int limit, CancellationToken cancellationToken = default) =>
        ClaimAsync("dialer_hopper_claim_for_agent", campaignId, agentId ?? throw new ArgumentNullException(nameof(agentId)), limit, timeProvider.GetUtcNow(), cancellationToken);

    private async Task<IReadOnlyList<HopperLead>> ClaimAsync(string query, string campaignId, string? agentId, int limit, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return [];
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get(query));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("stale_before", now - ClaimLease);
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.AddWithValue("instance_id", InstanceId);
        if (agentId is not null)
        {
            command.Parameters.AddWithValue("agent_id", agentId);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var leads = new List<HopperLead>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var lead = LeadRow.Read(reader, HopperLeadColumns);
            leads.Add(new HopperLead(lead, reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }

        // RETURNING has no order: own leads first (preview), then in due order.
        return [.. leads.OrderBy(l => agentId is not null && l.AssignedAgent is null).ThenBy(l => l.Lead.NextAttemptAt ?? DateTimeOffset.MinValue).ThenBy(l => long.Parse(l.Lead.Id, CultureInfo.InvariantCulture))];
    }

    /// <summary>
    /// Gives claimed but undialled leads back. A lead with a <c>NotBefore</c> (outside its calling
    /// window) is not handed out again before then.
    /// </summary>
    public async Task ReleaseAsync(IEnumerable<(string LeadId, DateTimeOffset? NotBefore)> leads, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(leads);
        var list = leads.ToList();
        if (list.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_hopper_release"));
        command.Parameters.AddWithValue("lead_ids", list.Select(l => long.Parse(l.LeadId, CultureInfo.InvariantCulture)).ToArray());
        command.Parameters.Add(new NpgsqlParameter("not_before", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
        {
            Value = list.Select(l => l.NotBefore is { } at ? (object)at.ToUniversalTime() : DBNull.Value).ToArray(),
        });
        command.Parameters.AddWithValue("instance_id", InstanceId);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
