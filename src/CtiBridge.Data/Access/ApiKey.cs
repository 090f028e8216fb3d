namespace CtiBridge.Data.Access;

/// <summary>What an API key may do. Each role is a closed set of endpoints (docs/api.md).</summary>
public enum ApiRole
{
    /// <summary>Everything, including API keys and configuration.</summary>
    Admin,

    /// <summary>Live view and supervisor actions (listen, whisper, barge, force pause/logout), DNC approvals, reports.</summary>
    Supervisor,

    /// <summary>One agent's own state and calls only (its key names the agent).</summary>
    Agent,

    /// <summary>Read-only: reports, exports, live statistics.</summary>
    Reporting,

    /// <summary>A CRM or desktop integration: the event stream and click-to-dial.</summary>
    Integration,
}

/// <summary>A stored API key (never its secret: only the secret's SHA-256).</summary>
/// <param name="Id">The public key id (the middle part of <c>ctb_&lt;id&gt;_&lt;secret&gt;</c>).</param>
/// <param name="Name">A name for people, unique among active keys (e.g. <c>crm-prod</c>).</param>
/// <param name="Role">What the key may do.</param>
/// <param name="AgentId">For <see cref="ApiRole.Agent"/>: the only agent it acts for.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="CreatedBy">Who created it.</param>
/// <param name="RevokedAt">When it was revoked, or null while active.</param>
/// <param name="LastUsedAt">Last successful authentication (to the minute), or null.</param>
public sealed record ApiKey(Guid Id, string Name, ApiRole Role, string? AgentId, DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt)
{
    /// <summary>True while the key is not revoked.</summary>
    public bool IsActive => RevokedAt is null;
}

/// <summary>A newly created key with its secret, which is shown once and never stored.</summary>
/// <param name="Key">The stored key.</param>
/// <param name="Token">The full token to give to the client: <c>ctb_&lt;id&gt;_&lt;secret&gt;</c>.</param>
public sealed record CreatedApiKey(ApiKey Key, string Token);
