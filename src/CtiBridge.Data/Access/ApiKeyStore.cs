using System.Security.Cryptography;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Access;

/// <summary>
/// Creates, checks, lists and revokes API keys in PostgreSQL. Tokens look like
/// <c>ctb_&lt;32 hex id&gt;_&lt;43 base64url secret&gt;</c>; only SHA-256(secret) is stored and compared in
/// constant time.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>The prefix every token starts with (lets secret scanners recognise leaked keys).</summary>
    public const string TokenPrefix = "ctb_";

    /// <summary>Creates a key. The returned token is the only copy of its secret.</summary>
    /// <exception cref="ArgumentException">Agent role without an agent id, an agent id for another role, or a bad name.</exception>
    /// <exception cref="InvalidOperationException">An active key already has this name.</exception>
    public async Task<CreatedApiKey> CreateAsync(string name, ApiRole role, string? agentId, string createdBy, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100)
        {
            throw new ArgumentException("A key needs a name of 1 to 100 characters.", nameof(name));
        }

        if ((role == ApiRole.Agent) != !string.IsNullOrWhiteSpace(agentId))
        {
            throw new ArgumentException(role == ApiRole.Agent ? "An agent key must name its agent (--agent)." : $"Only agent keys name an agent; a {role.ToString().ToLowerInvariant()} key must not.", nameof(agentId));
        }

        var id = Guid.NewGuid();
        var secret = RandomNumberGenerator.GetBytes(32);
        var key = new ApiKey(id, name, role, agentId, Truncate(timeProvider.GetUtcNow()), createdBy, null, null);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("api_key_insert"));
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("role", RoleName(role));
        command.Parameters.AddWithValue("agent_id", (object?)agentId ?? DBNull.Value);
        command.Parameters.AddWithValue("secret_hash", SHA256.HashData(secret));
        command.Parameters.AddWithValue("created_at", key.CreatedAt);
        command.Parameters.AddWithValue("created_by", createdBy);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new InvalidOperationException($"An active API key is already named '{name}'; revoke it first or choose another name.", ex);
        }

        return new CreatedApiKey(key, $"{TokenPrefix}{id:N}_{Base64Url(secret)}");
    }

    /// <summary>
    /// The active key a token belongs to, or null when the token is malformed, unknown, revoked or
    /// its secret does not match (the caller answers 401 in every case, saying no more).
    /// </summary>
    public async Task<ApiKey?> AuthenticateAsync(string token, CancellationToken cancellationToken = default)
    {
        if (!TryParseToken(token, out var id, out var secret))
        {
            return null;
        }

        var (key, hash) = await FindAsync(id, cancellationToken).ConfigureAwait(false);
        if (key is null || !key.IsActive || !CryptographicOperations.FixedTimeEquals(hash, SHA256.HashData(secret)))
        {
            return null;
        }

        await using var touch = dataSource.CreateCommand(NamedQueries.Get("api_key_touch"));
        touch.Parameters.AddWithValue("id", id);
        touch.Parameters.AddWithValue("used_at", timeProvider.GetUtcNow());
        await touch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return key;
    }

    /// <summary>Revokes an active key by id or name; false when no active key matches.</summary>
    public async Task<bool> RevokeAsync(string idOrName, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("api_key_revoke"));
        // Ids are matched in their canonical text form, whichever form (with or without dashes) was given.
        command.Parameters.AddWithValue("key", Guid.TryParse(idOrName, out var id) ? id.ToString() : idOrName);
        command.Parameters.AddWithValue("revoked_at", timeProvider.GetUtcNow());
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <summary>Lists keys, oldest first.</summary>
    public async Task<IReadOnlyList<ApiKey>> ListAsync(bool includeRevoked, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("api_key_list"));
        command.Parameters.AddWithValue("include_revoked", includeRevoked);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var keys = new List<ApiKey>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(Read(reader));
        }

        return keys;
    }

    /// <summary>Splits a token into its id and secret; false for anything malformed.</summary>
    public static bool TryParseToken(string? token, out Guid id, out byte[] secret)
    {
        id = Guid.Empty;
        secret = [];
        if (token is null || token.Length != TokenPrefix.Length + 32 + 1 + 43 || !token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token[TokenPrefix.Length + 32] != '_')
        {
            return false;
        }

        if (!Guid.TryParseExact(token.AsSpan(TokenPrefix.Length, 32), "N", out id))
        {
            return false;
        }

        try
        {
            secret = Convert.FromBase64String(token[(TokenPrefix.Length + 33)..].Replace('-', '+').Replace('_', '/') + "=");
            return secret.Length == 32;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    internal static string RoleName(ApiRole role) => role.ToString().ToLowerInvariant();

    private async Task<(ApiKey? Key, byte[] Hash)> FindAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("api_key_find"));
        command.Parameters.AddWithValue("id", NpgsqlDbType.Uuid, id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (Read(reader), reader.GetFieldValue<byte[]>(4)) : (null, []);
    }

    private static ApiKey Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetString(1),
        Enum.Parse<ApiRole>(reader.GetString(2), ignoreCase: true),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetFieldValue<DateTimeOffset>(5),
        reader.GetString(6),
        reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
        reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8));

    // PostgreSQL keeps microseconds; returning the same value we store keeps round trips equal.
    private static DateTimeOffset Truncate(DateTimeOffset value) => new(value.Ticks - (value.Ticks % 10), TimeSpan.Zero);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
