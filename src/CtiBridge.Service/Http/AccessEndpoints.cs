using System.Security.Claims;
using CtiBridge.Data.Access;

namespace CtiBridge.Service.Http;

/// <summary><c>/api/whoami</c>, <c>/api/apikeys</c> and <c>/api/audit</c>.</summary>
public static class AccessEndpoints
{
    /// <summary>The body of <c>POST /api/apikeys</c>.</summary>
    /// <param name="Name">A unique name for the key (e.g. <c>crm-prod</c>).</param>
    /// <param name="Role">admin, supervisor, agent, reporting or integration.</param>
    /// <param name="AgentId">For an agent key: the agent it acts for.</param>
    public sealed record CreateApiKeyRequest(string? Name, string? Role, string? AgentId);

    /// <summary>An API key as the API shows it (never its secret).</summary>
    public sealed record ApiKeyView(Guid Id, string Name, string Role, string? AgentId, DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt);

    /// <summary>The answer to a key creation: the only time the token is shown.</summary>
    public sealed record CreatedApiKeyView(ApiKeyView Key, string Token);

    /// <summary>Who the caller is.</summary>
    public sealed record WhoAmI(string Name, string Role, string? AgentId);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapAccessEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/whoami", (ClaimsPrincipal user) => new WhoAmI(user.Identity!.Name!, user.FindFirstValue(ClaimTypes.Role)!, user.FindFirstValue(ApiKeyAuthentication.AgentClaim)))
            .RequireAuthorization(ApiRoles.AnyKey).WithTags("access").WithSummary("The calling key's name, role and agent.");

        var keys = api.MapGroup("/apikeys").RequireAuthorization(ApiRoles.AdminOnly).WithTags("access");
        keys.MapGet("/", async (bool? includeRevoked, ApiKeyStore store, CancellationToken ct) =>
            (await store.ListAsync(includeRevoked ?? false, ct)).Select(View).ToList())
            .WithSummary("List API keys (active only unless includeRevoked=true).");
        keys.MapPost("/", CreateAsync).WithSummary("Create an API key; the token is returned once and never again.");
        keys.MapDelete("/{id}", async (string id, ApiKeyStore store, CancellationToken ct) =>
            await store.RevokeAsync(id, ct)
                ? Results.NoContent()
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such active API key", detail: $"No active API key has the id or name '{id}'."))
            .WithSummary("Revoke an API key by id or name.");

        api.MapGet("/audit", async (DateTimeOffset? from, DateTimeOffset? to, string? actor, int? limit, AuditLog audit, TimeProvider clock, CancellationToken ct) =>
        {
            // A NUL cannot reach PostgreSQL as text (it answered 500); no actor name has control characters.
            if (actor is not null && actor.Any(char.IsControl))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["actor"] = ["must be a key name or an agent, without control characters (such as NUL)."] });
            }

            var until = to ?? clock.GetUtcNow();
            var since = from ?? until.AddDays(-1);
            if (since >= until || limit is < 1 or > 10_000)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad audit query", detail: "'from' must be before 'to', and 'limit' between 1 and 10000.");
            }

            return Results.Ok(await audit.ListAsync(since, until, actor, limit ?? 1000, ct));
        }).RequireAuthorization(ApiRoles.AdminOnly).WithTags("access").WithSummary("Audit trail, newest first (default: the last 24 hours).");
        return api;
    }

    private static async Task<IResult> CreateAsync(CreateApiKeyRequest request, ApiKeyStore store, ClaimsPrincipal user, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            errors["name"] = ["A name is required."];
        }

        if (!Enum.TryParse<ApiRole>(request.Role, ignoreCase: true, out var role) || int.TryParse(request.Role, out _))
        {
            errors["role"] = [$"'{request.Role}' is not a role; use one of {string.Join(", ", Enum.GetValues<ApiRole>().Select(ApiRoles.Name))}."];
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        try
        {
            var created = await store.CreateAsync(request.Name!, role, request.AgentId, user.Identity!.Name!, ct);
            return Results.Created($"/api/apikeys/{created.Key.Id}", new CreatedApiKeyView(View(created.Key), created.Token));
        }
        catch (ArgumentException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["agentId"] = [ex.Message.Split(" (Parameter")[0]] });
        }
        catch (InvalidOperationException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Name in use", detail: ex.Message);
        }
    }

    private static ApiKeyView View(ApiKey key) => new(key.Id, key.Name, ApiRoles.Name(key.Role), key.AgentId, key.CreatedAt, key.CreatedBy, key.RevokedAt, key.LastUsedAt);
}
