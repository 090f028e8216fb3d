using System.Security.Claims;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/agents/{agentId}</c>: what an agent does at the desk phone, for CRMs and agent desktops.
/// An agent key acts only for its own agent; supervisors, integrations and admins for any.
/// </summary>
public static class AgentEndpoints
{
    /// <summary>The body of <c>POST /api/agents/{agentId}/login</c>.</summary>
    /// <param name="Pin">The agent's PIN (checked against its pinHash; never logged or audited).</param>
    public sealed record LoginRequest(string? Pin);

    /// <summary>The body of <c>POST /api/agents/{agentId}/pause</c>.</summary>
    /// <param name="Reason">The pause reason code (e.g. break, meal, training).</param>
    public sealed record PauseRequest(string? Reason);

    /// <summary>An agent's state as the API shows it.</summary>
    public sealed record AgentView(
        string AgentId, string State, DateTimeOffset? Since, string? Extension, string? PauseReason, string? CallId,
        IReadOnlyList<string> Queues, bool PendingPause, bool PendingLogout, DateTimeOffset? WrapUpEndsAt);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapAgentEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var agents = api.MapGroup("/agents/{agentId}").RequireAuthorization(ApiRoles.ActAsAgent).WithTags("agents");
        agents.MapGet("/", (string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            WithAgentAsync(agentId, user, services, async center =>
                await center.GetAgentAsync(agentId, ct) is { } status ? Results.Ok(View(status)) : Results.Ok(LoggedOut(agentId))))
            .WithSummary("The agent's current state.");
        agents.MapPost("/login", async (string agentId, LoginRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
        {
            if (string.IsNullOrEmpty(body.Pin))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["pin"] = ["The agent's PIN is required."] });
            }

            return await ActAsync(agentId, user, services, center => center.LoginAgentAsync(agentId, body.Pin, ct), ct);
        })
            .WithSummary("Log the agent in (PIN required).");
        agents.MapPost("/logout", (string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            ActAsync(agentId, user, services, center => center.LogoutAgentAsync(agentId, SourceOf(user), ct), ct))
            .WithSummary("Log the agent out (after the current call, if any).");
        agents.MapPost("/pause", async (string agentId, PauseRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(body.Reason))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["A pause reason code is required (e.g. break)."] });
            }

            return await ActAsync(agentId, user, services, center => center.PauseAgentAsync(agentId, body.Reason, SourceOf(user), ct), ct);
        })
            .WithSummary("Pause the agent with a reason (after the current call, if any).");
        agents.MapPost("/resume", (string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            ActAsync(agentId, user, services, center => center.ResumeAgentAsync(agentId, SourceOf(user), ct), ct))
            .WithSummary("Make a paused agent ready again.");
        agents.MapPost("/wrapup/end", (string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            ActAsync(agentId, user, services, center => center.EndWrapUpAsync(agentId, ct), ct))
            .WithSummary("End the agent's wrap-up now.");
        return api;
    }

    /// <summary>
    /// Who a state change over the API is recorded as: a supervisor's or an admin's key changes another
    /// person's state (source <c>Supervisor</c>, as the supervisor endpoints and the desk-phone force codes);
    /// an agent's own key, or a desktop / CRM integration acting for the agent, is the agent.
    /// </summary>
    internal static ChangeSource SourceOf(ClaimsPrincipal user) =>
        user.IsInRole(ApiRoles.Name(Data.Access.ApiRole.Supervisor)) || user.IsInRole(ApiRoles.Name(Data.Access.ApiRole.Admin))
            ? ChangeSource.Supervisor : ChangeSource.Agent;

    /// <summary>Runs an agent request: 403 for another agent's key, 404/503 as for every agent endpoint, 409 with the reason when refused, else 200 with the state.</summary>
    internal static Task<IResult> ActAsync(string agentId, ClaimsPrincipal user, IServiceProvider services, Func<CallCenter, Task<InputOutcome>> act, CancellationToken ct) =>
        WithAgentAsync(agentId, user, services, async center =>
        {
            var outcome = await act(center);
            if (!outcome.Accepted)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: outcome.Reason);
            }

            return await center.GetAgentAsync(agentId, ct) is { } status ? Results.Ok(View(status)) : Results.Ok(LoggedOut(agentId));
        });

    /// <summary>Runs <paramref name="run"/> for an agent the key may act for: 403 for another agent's key, 503 without call control, 404 for an unknown agent.</summary>
    internal static async Task<IResult> WithAgentAsync(string agentId, ClaimsPrincipal user, IServiceProvider services, Func<CallCenter, Task<IResult>> run)
    {
        if (!user.MayActFor(agentId))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key may act only for its own agent.");
        }

        if (services.GetService<CallCenter>() is not { } center)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no agents.");
        }

        if (!center.Settings.Agents.Any(a => string.Equals(a.Id, agentId, StringComparison.Ordinal)))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such agent", detail: $"No agent '{agentId}' in callControl.agents.");
        }

        return await run(center);
    }

    internal static AgentView View(AgentStatus s) => new(
        s.AgentId, s.State.ToString(), s.Since, s.Extension, s.PauseReason, s.CallId, s.Queues.Select(q => q.Queue).ToList(), s.PendingPause, s.PendingLogout, s.WrapUpEndsAt);

    internal static AgentView LoggedOut(string agentId) => new(agentId, nameof(AgentState.LoggedOut), null, null, null, null, [], false, false, null);
}
