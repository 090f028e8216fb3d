using System.Security.Claims;
using System.Text.Encodings.Web;
using CtiBridge.Data.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CtiBridge.Service.Http;

/// <summary>
/// Authenticates <c>Authorization: Bearer ctb_…</c> (or <c>X-Api-Key: ctb_…</c>) against the stored
/// API keys. The principal carries the key's name, id, role and, for agent keys, the agent id.
/// </summary>
public sealed class ApiKeyAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore store) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>Claim holding the agent an agent key acts for.</summary>
    public const string AgentClaim = "ctibridge:agent";

    /// <summary>Claim holding the key id.</summary>
    public const string KeyIdClaim = "ctibridge:key";

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? token = null;
        var authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = authorization["Bearer ".Length..].Trim();
        }
        else if (Request.Headers.TryGetValue("X-Api-Key", out var header))
        {
            token = header.ToString().Trim();
        }

        if (string.IsNullOrEmpty(token))
        {
            return AuthenticateResult.NoResult();
        }

        var key = await store.AuthenticateAsync(token, Context.RequestAborted).ConfigureAwait(false);
        if (key is null)
        {
            // Never say which part was wrong, and never echo the token.
            return AuthenticateResult.Fail("The API key is not valid or has been revoked.");
        }

        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, key.Name),
            new(KeyIdClaim, key.Id.ToString()),
            new(ClaimTypes.Role, ApiRoles.Name(key.Role)),
        };
        if (key.AgentId is { } agent)
        {
            claims.Add(new Claim(AgentClaim, agent));
        }

        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));
    }
}
