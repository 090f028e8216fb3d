using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/supervisor/agents/{agentId}/…</c>: a supervisor forces an agent's pause, resume or logout. The
/// change is recorded as the supervisor's (state log source <c>Supervisor</c>) and audited with the
/// supervisor's key; on a call it applies when the call ends.
/// </summary>
public static class SupervisorEndpoints
{
    /// <summary>The body of a forced pause.</summary>
    /// <param name="Reason">The pause reason code (e.g. meeting, coaching).</param>
    public sealed record ForcePauseRequest(string? Reason);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapSupervisorEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var agents = api.MapGroup("/supervisor/agents/{agentId}").RequireAuthorization(ApiRoles.Supervise).WithTags("supervisor");
        agents.MapPost("/pause", async (string agentId, ForcePauseRequest body, IServiceProvider services, CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(body.Reason))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["A pause reason code is required (e.g. meeting)."] });
            }

            return await ForceAsync(agentId, services, center => center.PauseAgentAsync(agentId, body.Reason, ChangeSource.Supervisor, ct), ct);
        }).WithSummary("Force the agent into pause with a reason (after the current call, if any).");
        agents.MapPost("/logout", (string agentId, IServiceProvider services, CancellationToken ct) =>
            ForceAsync(agentId, services, center => center.LogoutAgentAsync(agentId, ChangeSource.Supervisor, ct), ct))
            .WithSummary("Force the agent's logout (after the current call, if any).");
        agents.MapPost("/resume", (string agentId, IServiceProvider services, CancellationToken ct) =>
            ForceAsync(agentId, services, center => center.ResumeAgentAsync(agentId, ChangeSource.Supervisor, ct), ct))
            .WithSummary("Make a paused agent ready again (a forced resume, recorded as the supervisor's).");
        return api;
    }

    private static async Task<IResult> ForceAsync(string agentId, IServiceProvider services, Func<CallCenter, Task<InputOutcome>> act, CancellationToken ct)
    {
        if (services.GetService<CallCenter>() is not { } center)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no agents.");
        }

        if (!center.Settings.Agents.Any(a => string.Equals(a.Id, agentId, StringComparison.Ordinal)))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such agent", detail: $"No agent '{agentId}' in callControl.agents.");
        }

        var outcome = await act(center);
        if (!outcome.Accepted)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: outcome.Reason);
        }

        return await center.GetAgentAsync(agentId, ct) is { } status ? Results.Ok(AgentEndpoints.View(status)) : Results.Ok(AgentEndpoints.LoggedOut(agentId));
    }
}
