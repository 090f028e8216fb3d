using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/supervisor/agents/{agentId}/listen|whisper|barge|takeover</c>: a supervisor joins an
/// agent's current call. CtiBridge rings the supervisor's desk phone (<c>callControl.supervisors</c>)
/// and connects it when answered. Audited with the key; the supervision itself is a
/// <c>call_legs</c> row (party <c>supervisor</c>).
/// </summary>
public static class SupervisionEndpoints
{
    /// <summary>The body of a supervision request.</summary>
    /// <param name="SupervisorId">Which supervisor (an ID in <c>callControl.supervisors</c>): that supervisor's phone rings.</param>
    public sealed record SupervisionRequest(string? SupervisorId);

    /// <summary>What was started.</summary>
    /// <param name="AgentId">The agent whose call is supervised.</param>
    /// <param name="CallId">That call.</param>
    /// <param name="SupervisorId">The supervisor whose phone rings.</param>
    /// <param name="Mode"><c>listen</c>, <c>whisper</c>, <c>barge</c> or <c>takeover</c>.</param>
    public sealed record SupervisionView(string AgentId, string? CallId, string SupervisorId, string Mode);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapSupervisionEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var agents = api.MapGroup("/supervisor/agents/{agentId}").RequireAuthorization(ApiRoles.Supervise).WithTags("supervisor");
        Map(agents, SupervisionMode.Listen, "Listen to the agent's call (caller and agent; nobody hears the supervisor).");
        Map(agents, SupervisionMode.Whisper, "Coach the agent: hear the call, speak to the agent only.");
        Map(agents, SupervisionMode.Barge, "Barge in: a three-way call with caller and agent.");
        Map(agents, SupervisionMode.TakeOver, "Take the call over: the agent is cut off (wrap-up follows), the supervisor talks to the caller.");
        agents.MapPost("/hangup", async (string agentId, IServiceProvider services, CancellationToken ct) =>
        {
            if (services.GetService<CallCenter>() is not { } center)
            {
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no calls.");
            }

            if (!services.GetRequiredService<CallControlSettings>().Agents.Any(a => string.Equals(a.Id, agentId, StringComparison.Ordinal)))
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such agent", detail: $"No agent '{agentId}' in callControl.agents.");
            }

            var outcome = await center.ForceHangUpAsync(agentId, ct);
            if (!outcome.Accepted)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: outcome.Reason);
            }

            return await center.GetAgentAsync(agentId, ct) is { } status ? Results.Ok(AgentEndpoints.View(status)) : Results.Ok(AgentEndpoints.LoggedOut(agentId));
        }).WithSummary("Force hang-up of the agent's current call (强拆): both sides released, the agent wraps up.");
        return api;
    }

    private static void Map(RouteGroupBuilder agents, SupervisionMode mode, string summary) =>
        agents.MapPost("/" + CallCenter.ModeName(mode), async (string agentId, SupervisionRequest body, IServiceProvider services, CancellationToken ct) =>
        {
            if (string.IsNullOrWhiteSpace(body.SupervisorId))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["supervisorId"] = ["The supervisor whose phone should ring is required (an ID in callControl.supervisors)."] });
            }

            if (services.GetService<CallCenter>() is not { } center)
            {
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no calls.");
            }

            if (!services.GetRequiredService<CallControlSettings>().Agents.Any(a => string.Equals(a.Id, agentId, StringComparison.Ordinal)))
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such agent", detail: $"No agent '{agentId}' in callControl.agents.");
            }

            var callId = (await center.GetAgentAsync(agentId, ct))?.CallId;
            var outcome = await center.SuperviseAsync(body.SupervisorId, agentId, mode, ct);
            return outcome.Accepted
                ? Results.Accepted(value: new SupervisionView(agentId, callId, body.SupervisorId, CallCenter.ModeName(mode)))
                : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: outcome.Reason);
        }).WithSummary(summary);
}
