using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>
/// Which leads of a campaign a reassignment takes: every condition given must hold, and at least
/// one must be given (so nobody moves a whole campaign by leaving a filter out).
/// </summary>
public sealed record LeadSelection
{
    /// <summary>These leads (database ids).</summary>
    public IReadOnlyList<long>? LeadIds { get; init; }

    /// <summary>Leads owned by this agent (<c>assigned_agent</c>).</summary>
    public string? OwnedBy { get; init; }

    /// <summary>Leads in these states (open, reached, attempts_exhausted, closed, invalid_number).</summary>
    public IReadOnlyList<string>? Statuses { get; init; }

    /// <summary>The lead states a selection may name.</summary>
    public static IReadOnlyList<string> KnownStatuses { get; } = ["open", "reached", "invalid_number", "attempts_exhausted", "closed"];

    /// <summary>What is wrong with the selection, or null when it can be used.</summary>
    public string? Problem()
    {
        if ((LeadIds is null || LeadIds.Count == 0) && string.IsNullOrEmpty(OwnedBy) && (Statuses is null || Statuses.Count == 0))
        {
            return "say which leads: lead ids, the agent who owns them, or their states (at least one)";
        }

        if (Statuses?.FirstOrDefault(s => !KnownStatuses.Contains(s, StringComparer.Ordinal)) is { } bad)
        {
            return $"'{bad}' is not a lead state ({string.Join(", ", KnownStatuses)})";
        }

        return null;
    }
}

/// <summary>A lead a reassignment left where it was, and why.</summary>
/// <param name="LeadId">The lead.</param>
/// <param name="Reason"><c>in_call</c> (being dialled or shown now), <c>invalid_number</c>, <c>duplicate</c> (the target campaign has the number), <c>not_found</c> (not in the campaign).</param>
public sealed record LeadNotMoved(long LeadId, string Reason);

/// <summary>What a reassignment did.</summary>
/// <param name="Changed">Leads moved or given to the agent.</param>
/// <param name="NotChanged">Leads left as they were, each with the reason.</param>
public sealed record LeadReassignmentReport(int Changed, IReadOnlyList<LeadNotMoved> NotChanged);

/// <summary>
/// Moves leads between campaigns and between agents (issue 10 "leads can be reassigned"), in one
/// transaction each, audited with the actor. The dialer picks the change up at its next claim.
/// </summary>
public sealed class LeadReassignment(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>
    /// Moves the selected leads of <paramref name="fromCampaign"/> to <paramref name="toCampaign"/>:
    /// there they start afresh (open, no attempts, no owner unless <paramref name="keepOwner"/>);
    /// their attempts stay recorded under the old campaign. Leads being dialled or shown now, invalid
    /// numbers and numbers the target already has stay and are reported.
    /// </summary>
    /// <exception cref="ArgumentException">A campaign does not exist, they are the same, or the selection is unusable.</exception>
    public async Task<LeadReassignmentReport> MoveToCampaignAsync(string fromCampaign, string toCampaign, LeadSelection selection, bool keepOwner, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        if (string.Equals(fromCampaign, toCampaign, StringComparison.Ordinal))
        {
            throw new ArgumentException($"the leads are already in campaign '{toCampaign}'", nameof(toCampaign));
        }

        CheckSelection(selection);
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await RequireCampaignAsync(connection, transaction, fromCampaign, cancellationToken).ConfigureAwait(false);
        await RequireCampaignAsync(connection, transaction, toCampaign, cancellationToken).ConfigureAwait(false);
        var notMoved = new List<LeadNotMoved>();
        var seen = new HashSet<long>();
        var moved = 0;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_leads_move"), connection, transaction))
        {
            AddSelection(command, selection);
            command.Parameters.AddWithValue("from_campaign", fromCampaign);
            command.Parameters.AddWithValue("to_campaign", toCampaign);
            command.Parameters.AddWithValue("keep_agent", keepOwner);
            command.Parameters.AddWithValue("stale_before", now - LeadHopper.ClaimLease);
            command.Parameters.AddWithValue("now", now);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetInt64(0);
                seen.Add(id);
                moved = (int)reader.GetInt64(2);
                if (!reader.IsDBNull(1))
                {
                    notMoved.Add(new LeadNotMoved(id, reader.GetString(1)));
                }
            }
        }

        notMoved.AddRange(NotFound(selection, seen));
        await DialerAudit.WriteAsync(connection, transaction, now, actor, "leads move", fromCampaign,
            new { to = toCampaign, moved, notMoved = notMoved.Count, selection.LeadIds, selection.OwnedBy, selection.Statuses, keepOwner }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new LeadReassignmentReport(moved, notMoved);
    }

    /// <summary>
    /// Gives the selected leads of <paramref name="campaignId"/> to <paramref name="toAgent"/> (null:
    /// to nobody, back in the pool). In preview mode a lead with an owner is shown only to that agent.
    /// </summary>
    /// <exception cref="ArgumentException">The campaign does not exist or the selection is unusable.</exception>
    public async Task<LeadReassignmentReport> AssignAsync(string campaignId, LeadSelection selection, string? toAgent, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        CheckSelection(selection);
        if (toAgent is not null && (toAgent.Length is 0 or > 64 || toAgent.Any(char.IsControl)))
        {
            throw new ArgumentException($"'{toAgent}' is not an agent id (1-64 characters)", nameof(toAgent));
        }

        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await RequireCampaignAsync(connection, transaction, campaignId, cancellationToken).ConfigureAwait(false);
        var seen = new HashSet<long>();
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_leads_assign"), connection, transaction))
        {
            AddSelection(command, selection);
            command.Parameters.AddWithValue("campaign_id", campaignId);
            command.Parameters.Add(new NpgsqlParameter("to_agent", NpgsqlDbType.Text) { Value = (object?)toAgent ?? DBNull.Value });
            command.Parameters.AddWithValue("now", now);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                seen.Add(reader.GetInt64(0));
            }
        }

        var notFound = NotFound(selection, seen).ToList();
        await DialerAudit.WriteAsync(connection, transaction, now, actor, "leads assign", campaignId,
            new { to = toAgent, assigned = seen.Count, selection.LeadIds, selection.OwnedBy, selection.Statuses }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new LeadReassignmentReport(seen.Count, notFound);
    }

    private static void CheckSelection(LeadSelection selection)
    {
        if (selection.Problem() is { } problem)
        {
            throw new ArgumentException(problem, nameof(selection));
        }
    }

    private static IEnumerable<LeadNotMoved> NotFound(LeadSelection selection, HashSet<long> seen) =>
        (selection.LeadIds ?? []).Distinct().Where(id => !seen.Contains(id)).Select(id => new LeadNotMoved(id, "not_found"));

    private static void AddSelection(NpgsqlCommand command, LeadSelection selection)
    {
        command.Parameters.Add(new NpgsqlParameter("lead_ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = selection.LeadIds is { Count: > 0 } ids ? ids.ToArray() : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("from_agent", NpgsqlDbType.Text) { Value = string.IsNullOrEmpty(selection.OwnedBy) ? DBNull.Value : selection.OwnedBy });
        command.Parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = selection.Statuses is { Count: > 0 } s ? s.ToArray() : DBNull.Value });
    }

    private static async Task RequireCampaignAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string campaignId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_campaign_get"), connection, transaction);
        command.Parameters.Add(new NpgsqlParameter("campaign_id", NpgsqlDbType.Text) { Value = campaignId });
        command.Parameters.Add(new NpgsqlParameter("state", NpgsqlDbType.Text) { Value = DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new ArgumentException($"there is no campaign '{campaignId}'", nameof(campaignId));
        }
    }
}
