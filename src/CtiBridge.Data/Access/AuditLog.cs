using System.Text.Json;
using CtiBridge.Data.Queries;
using Npgsql;

namespace CtiBridge.Data.Access;

/// <summary>One audited change: who did what to what, when, from where, and how it ended.</summary>
/// <param name="At">When the request finished.</param>
/// <param name="Actor">The API key's name (or <c>cli:&lt;user&gt;</c> for the command line).</param>
/// <param name="Role">The actor's role, when it had one.</param>
/// <param name="Action">What was asked, e.g. <c>POST /api/agents/1001/pause</c> or <c>apikey create</c>.</param>
/// <param name="Target">What it was done to, e.g. an agent id or key name.</param>
/// <param name="Outcome">The HTTP status (or 0 for success / 1 for failure on the command line).</param>
/// <param name="RemoteAddress">The client's address, when known.</param>
/// <param name="Detail">Extra facts as JSON (never secrets).</param>
public sealed record AuditEntry(DateTimeOffset At, string Actor, string? Role, string Action, string? Target, int Outcome, string? RemoteAddress, JsonElement? Detail = null);

/// <summary>The audit trail in PostgreSQL (<c>audit_log</c>).</summary>
public sealed class AuditLog(NpgsqlDataSource dataSource)
{
    /// <summary>Appends one entry.</summary>
    public async Task WriteAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("audit_insert"));
        command.Parameters.AddWithValue("at", entry.At);
        command.Parameters.AddWithValue("actor", entry.Actor);
        command.Parameters.AddWithValue("role", (object?)entry.Role ?? DBNull.Value);
        command.Parameters.AddWithValue("action", entry.Action);
        command.Parameters.AddWithValue("target", (object?)entry.Target ?? DBNull.Value);
        command.Parameters.AddWithValue("outcome", entry.Outcome);
        command.Parameters.AddWithValue("remote_address", (object?)entry.RemoteAddress ?? DBNull.Value);
        command.Parameters.AddWithValue("detail", entry.Detail is { } detail ? detail.GetRawText() : DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Entries in [from, to), newest first, optionally of one actor, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ListAsync(DateTimeOffset from, DateTimeOffset to, string? actor, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("audit_list"));
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        command.Parameters.AddWithValue("actor", NpgsqlTypes.NpgsqlDbType.Text, (object?)actor ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var entries = new List<AuditEntry>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            JsonElement? detail = null;
            if (!reader.IsDBNull(8))
            {
                using var document = JsonDocument.Parse(reader.GetString(8));
                detail = document.RootElement.Clone();
            }

            entries.Add(new AuditEntry(
                reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                detail));
        }

        return entries;
    }
}
