using System.Text.Json;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.Dialer;

/// <summary>Whether a stored campaign dials.</summary>
public enum CampaignState
{
    /// <summary>Not dialling (new campaigns start here).</summary>
    Stopped,

    /// <summary>The dialers of every instance dial it.</summary>
    Running,

    /// <summary>Temporarily not dialling; calls up are finished.</summary>
    Paused,
}

/// <summary>A campaign as stored: its checked definition and state.</summary>
/// <param name="Definition">The parsed, valid definition.</param>
/// <param name="State">Whether it dials.</param>
/// <param name="UpdatedAt">When it was last changed.</param>
public sealed record StoredCampaign(CampaignDefinition Definition, CampaignState State, DateTimeOffset UpdatedAt)
{
    /// <summary>The campaign id.</summary>
    public string Id => Definition.Id;
}

/// <summary>Outbound campaigns in PostgreSQL (<c>dialer_campaigns</c>); every change is audited.</summary>
public sealed class CampaignStore(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>Creates or replaces a campaign's definition (its state is kept; new ones are stopped).</summary>
    public async Task<CampaignState> PutAsync(CampaignDefinition definition, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string state;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_campaign_put"), connection, transaction))
        {
            command.Parameters.AddWithValue("campaign_id", definition.Id);
            command.Parameters.AddWithValue("definition", definition.ToJson());
            command.Parameters.AddWithValue("now", now);
            state = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        await DialerAudit.WriteAsync(connection, transaction, now, actor, "campaign put", definition.Id, new { definition.Mode, definition.AgentGroup }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return Enum.Parse<CampaignState>(state, ignoreCase: true);
    }

    /// <summary>Starts, pauses or stops a campaign. Returns false when there is no such campaign.</summary>
    public async Task<bool> SetStateAsync(string campaignId, CampaignState state, string actor, CancellationToken cancellationToken = default)
    {
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_campaign_set_state"), connection, transaction))
        {
            command.Parameters.AddWithValue("campaign_id", campaignId);
            command.Parameters.AddWithValue("state", state.ToString().ToLowerInvariant());
            command.Parameters.AddWithValue("now", now);
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                return false;
            }
        }

        await DialerAudit.WriteAsync(connection, transaction, now, actor, "campaign " + state.ToString().ToLowerInvariant(), campaignId, null, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>One campaign, or null.</summary>
    public async Task<StoredCampaign?> GetAsync(string campaignId, CancellationToken cancellationToken = default)
    {
        var found = await QueryAsync(campaignId, null, cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>Every campaign, optionally only those in <paramref name="state"/>, by id.</summary>
    public Task<IReadOnlyList<StoredCampaign>> ListAsync(CampaignState? state = null, CancellationToken cancellationToken = default) =>
        QueryAsync(null, state, cancellationToken);

    private async Task<IReadOnlyList<StoredCampaign>> QueryAsync(string? campaignId, CampaignState? state, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_campaign_get"));
        command.Parameters.AddWithValue("campaign_id", NpgsqlTypes.NpgsqlDbType.Text, (object?)campaignId ?? DBNull.Value);
        command.Parameters.AddWithValue("state", NpgsqlTypes.NpgsqlDbType.Text, state is { } s ? s.ToString().ToLowerInvariant() : DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<StoredCampaign>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // A stored definition was valid when stored; a later, stricter version of the checks
            // names the campaign in its error rather than hiding it.
            var definition = CampaignDefinition.Parse(reader.GetString(1));
            list.Add(new StoredCampaign(definition, Enum.Parse<CampaignState>(reader.GetString(2), ignoreCase: true), reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return list;
    }
}

/// <summary>Writes dialer changes to <c>audit_log</c> inside the caller's transaction.</summary>
internal static class DialerAudit
{
    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset at, string actor, string action, string? target, object? detail, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(NamedQueries.Get("audit_insert"), connection, transaction);
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("actor", actor);
        command.Parameters.AddWithValue("role", DBNull.Value);
        command.Parameters.AddWithValue("action", action);
        command.Parameters.AddWithValue("target", (object?)target ?? DBNull.Value);
        command.Parameters.AddWithValue("outcome", 0);
        command.Parameters.AddWithValue("remote_address", DBNull.Value);
        command.Parameters.AddWithValue("detail", detail is null ? DBNull.Value : JsonSerializer.Serialize(detail));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
