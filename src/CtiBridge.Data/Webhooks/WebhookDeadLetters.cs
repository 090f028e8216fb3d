using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Webhooks;

/// <summary>A webhook event that was not delivered after every retry.</summary>
/// <param name="Id">Row id (used to replay it).</param>
/// <param name="Webhook">The webhook's configured name.</param>
/// <param name="DeliveryId">The delivery id the receiver saw (<c>X-CtiBridge-Delivery</c>), kept on replay.</param>
/// <param name="EventType">The event type.</param>
/// <param name="CallId">The call concerned, if any.</param>
/// <param name="AgentId">The agent concerned, if any.</param>
/// <param name="Payload">The event JSON.</param>
/// <param name="Attempts">Attempts so far (replays included).</param>
/// <param name="LastError">Why the last attempt failed.</param>
/// <param name="FirstAttemptAt">When the first attempt was made.</param>
/// <param name="DeadAt">When it was given up.</param>
/// <param name="ReplayedAt">When a replay delivered it, if it did.</param>
/// <param name="ReplayedBy">Who replayed it.</param>
public sealed record WebhookDeadLetter(
    long Id, string Webhook, Guid DeliveryId, string EventType, string? CallId, string? AgentId, string Payload, int Attempts, string LastError,
    DateTimeOffset FirstAttemptAt, DateTimeOffset DeadAt, DateTimeOffset? ReplayedAt, string? ReplayedBy);

/// <summary>The dead-letter table of webhook deliveries (<c>webhook_dead_letters</c>).</summary>
public sealed class WebhookDeadLetters(NpgsqlDataSource dataSource)
{
    /// <summary>Stores a delivery given up; returns its id.</summary>
    public async Task<long> AddAsync(WebhookDeadLetter letter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(letter);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("webhook_dead_letter_insert"));
        command.Parameters.AddWithValue("webhook", letter.Webhook);
        command.Parameters.AddWithValue("delivery_id", letter.DeliveryId);
        command.Parameters.AddWithValue("event_type", letter.EventType);
        command.Parameters.AddWithValue("call_id", NpgsqlDbType.Text, (object?)letter.CallId ?? DBNull.Value);
        command.Parameters.AddWithValue("agent_id", NpgsqlDbType.Text, (object?)letter.AgentId ?? DBNull.Value);
        command.Parameters.AddWithValue("payload", letter.Payload);
        command.Parameters.AddWithValue("attempts", letter.Attempts);
        command.Parameters.AddWithValue("last_error", letter.LastError);
        command.Parameters.AddWithValue("first_attempt_at", letter.FirstAttemptAt);
        command.Parameters.AddWithValue("dead_at", letter.DeadAt);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Dead letters newest first, optionally of one webhook; replayed ones only when asked.</summary>
    public async Task<IReadOnlyList<WebhookDeadLetter>> ListAsync(string? webhook, bool includeReplayed, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("webhook_dead_letter_list"));
        command.Parameters.AddWithValue("webhook", NpgsqlDbType.Text, (object?)webhook ?? DBNull.Value);
        command.Parameters.AddWithValue("include_replayed", includeReplayed);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One dead letter, or null.</summary>
    public async Task<WebhookDeadLetter?> GetAsync(long id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("webhook_dead_letter_get"));
        command.Parameters.AddWithValue("id", id);
        return (await ReadAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    /// <summary>Marks a replay that delivered it; false when it was already replayed.</summary>
    public async Task<bool> MarkReplayedAsync(long id, DateTimeOffset at, string by, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("webhook_dead_letter_replayed"));
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("by", by);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Records a replay that failed again.</summary>
    public async Task MarkReplayFailedAsync(long id, string error, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("webhook_dead_letter_replay_failed"));
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("last_error", error);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<WebhookDeadLetter>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var letters = new List<WebhookDeadLetter>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            letters.Add(new WebhookDeadLetter(
                reader.GetInt64(0), reader.GetString(1), reader.GetGuid(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.GetString(6), reader.GetInt32(7), reader.GetString(8),
                reader.GetFieldValue<DateTimeOffset>(9), reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11), reader.IsDBNull(12) ? null : reader.GetString(12)));
        }

        return letters;
    }
}
