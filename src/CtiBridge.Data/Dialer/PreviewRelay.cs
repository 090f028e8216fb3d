using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>A screen pop another dialer instance raised.</summary>
/// <param name="EventId">Its position (ascending).</param>
/// <param name="InstanceId">The dialer instance holding the lead.</param>
/// <param name="PreviewJson">The screen pop as the API shows it (JSON object).</param>
public sealed record RelayedPreview(long EventId, string InstanceId, string PreviewJson);

/// <summary>The latest screen pop of an agent, from a dialer instance that is alive.</summary>
/// <param name="InstanceId">The dialer instance holding the lead.</param>
/// <param name="Phase"><c>offered</c>, <c>dialling</c>, <c>skipped</c> or <c>refused</c>.</param>
/// <param name="PreviewJson">The screen pop (JSON object).</param>
public sealed record CurrentPreview(string InstanceId, string Phase, string PreviewJson);

/// <summary>A preview decision waiting for the dialer instance that holds the lead.</summary>
/// <param name="RequestId">Its id.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="LeadId">The lead the agent saw, if given.</param>
/// <param name="Dial">True to dial the lead, false to skip it.</param>
public sealed record PreviewDecisionRequest(long RequestId, string AgentId, string? LeadId, bool Dial);

/// <summary>What the dialer instance holding the lead answered to a preview decision.</summary>
/// <param name="Answered">False while it has not answered.</param>
/// <param name="CallId">Dialled: the call id.</param>
/// <param name="Refused">Not done: the reason in operator words.</param>
public sealed record PreviewDecisionAnswer(bool Answered, string? CallId, string? Refused);

/// <summary>
/// Preview mode across CtiBridge instances (migration 0029): a dialer writes its screen pops here
/// (<c>dialer_preview_events</c>) so the instance running call control can put them on its event
/// stream and answer the preview API, and decisions sent to another instance reach the dialer
/// holding the lead through <c>dialer_preview_requests</c>.
/// </summary>
public sealed class PreviewRelay(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>How long screen pops and decisions are kept.</summary>
    public static TimeSpan Kept { get; } = TimeSpan.FromDays(1);

    /// <summary>Writes a screen pop raised by <paramref name="instanceId"/>'s dialer.</summary>
    public async Task PublishAsync(string instanceId, string agentId, string phase, string previewJson, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_event_insert"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("phase", phase);
        command.Parameters.AddWithValue("preview", NpgsqlDbType.Jsonb, previewJson);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The position of the newest screen pop (0 when there is none): a reader starting now reads after it.</summary>
    public async Task<long> LastEventIdAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_events_last"));
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Screen pops after <paramref name="afterEventId"/> raised by other instances than <paramref name="exceptInstance"/>, oldest first.</summary>
    public async Task<IReadOnlyList<RelayedPreview>> ReadAfterAsync(long afterEventId, string exceptInstance, int limit = 500, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_events_after"));
        command.Parameters.AddWithValue("after", afterEventId);
        command.Parameters.AddWithValue("except_instance", exceptInstance);
        command.Parameters.AddWithValue("limit", limit);
        var rows = new List<RelayedPreview>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new RelayedPreview(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }

    /// <summary>
    /// The screen pops still on screen up to <paramref name="uptoEventId"/>: each agent's latest pop when it is
    /// an offer, raised by a dialer instance other than <paramref name="exceptInstance"/> that has sent a
    /// heartbeat since <paramref name="staleBefore"/>, oldest first (what a reader starting now has missed).
    /// </summary>
    public async Task<IReadOnlyList<RelayedPreview>> ShownAsync(long uptoEventId, string exceptInstance, DateTimeOffset staleBefore, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_events_shown"));
        command.Parameters.AddWithValue("upto", uptoEventId);
        command.Parameters.AddWithValue("except_instance", exceptInstance);
        command.Parameters.AddWithValue("stale_before", staleBefore);
        var rows = new List<RelayedPreview>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new RelayedPreview(reader.GetInt64(0), reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }

    /// <summary>The agent's latest screen pop, if the dialer instance that raised it has sent a heartbeat since <paramref name="staleBefore"/>.</summary>
    public async Task<CurrentPreview?> CurrentAsync(string agentId, DateTimeOffset staleBefore, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_event_current"));
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("stale_before", staleBefore);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new CurrentPreview(reader.GetString(0), reader.GetString(1), reader.GetString(2))
            : null;
    }

    /// <summary>Hands a decision to the dialer instance holding the agent's lead; returns the request id to wait on.</summary>
    public async Task<long> RequestAsync(string instanceId, string agentId, string? leadId, bool dial, string requestedBy, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_request_insert"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("lead_id", NpgsqlDbType.Text, (object?)leadId ?? DBNull.Value);
        command.Parameters.AddWithValue("action", dial ? "dial" : "skip");
        command.Parameters.AddWithValue("requested_by", requestedBy);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Decisions waiting for <paramref name="instanceId"/>, oldest first.</summary>
    public async Task<IReadOnlyList<PreviewDecisionRequest>> PendingAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_requests_pending"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        var rows = new List<PreviewDecisionRequest>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new PreviewDecisionRequest(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3) == "dial"));
        }

        return rows;
    }

    /// <summary>Answers a decision (once): the call id when dialled, or why it was not done.</summary>
    public async Task AnswerAsync(long requestId, string? callId, string? refused, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_request_answer"));
        command.Parameters.AddWithValue("request_id", requestId);
        command.Parameters.AddWithValue("call_id", NpgsqlDbType.Text, (object?)callId ?? DBNull.Value);
        command.Parameters.AddWithValue("refused", NpgsqlDbType.Text, (object?)refused ?? DBNull.Value);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The answer to a decision so far.</summary>
    public async Task<PreviewDecisionAnswer> AnswerOfAsync(long requestId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_request_get"));
        command.Parameters.AddWithValue("request_id", requestId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new PreviewDecisionAnswer(reader.GetBoolean(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2))
            : new PreviewDecisionAnswer(false, null, null);
    }

    /// <summary>Deletes screen pops and decisions older than <see cref="Kept"/>.</summary>
    public async Task PurgeAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_preview_purge"));
        command.Parameters.AddWithValue("before", timeProvider.GetUtcNow() - Kept);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
