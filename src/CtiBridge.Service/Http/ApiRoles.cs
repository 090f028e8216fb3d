using System.Security.Claims;
using CtiBridge.Data.Access;
using Microsoft.AspNetCore.Authorization;

namespace CtiBridge.Service.Http;

/// <summary>
/// The authorization policies, one per kind of endpoint. Admin passes every policy; the table in
/// docs/api.md says which role reaches which endpoint.
/// </summary>
public static class ApiRoles
{
    /// <summary>API keys, audit, configuration.</summary>
    public const string AdminOnly = "admin-only";

    /// <summary>Supervisor actions (listen, whisper, barge, force pause/logout, DNC approval).</summary>
    public const string Supervise = "supervise";

    /// <summary>Reading live statistics and reports.</summary>
    public const string ReadReports = "read-reports";

    /// <summary>The event stream and click-to-dial (CRM / desktop integrations).</summary>
    public const string Integrate = "integrate";

    /// <summary>Acting as an agent (agent keys only for their own agent; supervisors for any).</summary>
    public const string ActAsAgent = "act-as-agent";

    /// <summary>The live event stream: desktops (agent keys see only their agent), CRMs, supervisors.</summary>
    public const string LiveEvents = "live-events";

    /// <summary>Live views (calls in progress): supervisors, reporting, integrations.</summary>
    public const string LiveViews = "live-views";

    /// <summary>The customers table (VIP, member, blacklist, own agent): supervisors, CRM integrations, admins.</summary>
    public const string ManageCustomers = "manage-customers";

    /// <summary>Any valid key.</summary>
    public const string AnyKey = "any-key";

    /// <summary>The lower-case role name used in claims and the database.</summary>
    public static string Name(ApiRole role) => role.ToString().ToLowerInvariant();

    /// <summary>Registers the policies.</summary>
    public static AuthorizationBuilder AddCtiBridgePolicies(this AuthorizationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .AddPolicy(AdminOnly, p => p.RequireRole(Name(ApiRole.Admin)))
            .AddPolicy(Supervise, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Supervisor)))
            .AddPolicy(ReadReports, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Supervisor), Name(ApiRole.Reporting)))
            .AddPolicy(Integrate, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Integration)))
            .AddPolicy(ActAsAgent, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Supervisor), Name(ApiRole.Agent), Name(ApiRole.Integration)))
            .AddPolicy(LiveEvents, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Supervisor), Name(ApiRole.Agent), Name(ApiRole.Integration)))
            .AddPolicy(LiveViews, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Supervisor), Name(ApiRole.Reporting), Name(ApiRole.Integration)))
            .AddPolicy(ManageCustomers, p => p.RequireRole(Name(ApiRole.Admin), Name(ApiRole.Supervisor), Name(ApiRole.Integration)))
            .AddPolicy(AnyKey, p => p.RequireAuthenticatedUser());
    }

    /// <summary>
    /// Whether the caller may act for <paramref name="agentId"/>: an agent key only for its own
    /// agent, every other role allowed by <see cref="ActAsAgent"/> for any.
    /// </summary>
    public static bool MayActFor(this ClaimsPrincipal user, string agentId)
    {
        ArgumentNullException.ThrowIfNull(user);
        return !user.IsInRole(Name(ApiRole.Agent)) || string.Equals(user.FindFirstValue(ApiKeyAuthentication.AgentClaim), agentId, StringComparison.Ordinal);
    }
}
