using System.Security.Claims;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/agents/{agentId}/call/…</c>: what an agent does during a call (hold, mute, DTMF, blind
/// and consult transfer, three-way conference, recording pause), for agent desktops and CRMs. An
/// agent key acts only on its own agent's call; supervisors, integrations and admins on any. Each
/// answers <c>200</c> with the agent's state, or <c>409</c> with the reason (not on a call, no
/// consultation, external transfers not permitted …).
/// </summary>
public static class AgentCallEndpoints
{
    /// <summary>Where a transfer or consultation goes: exactly one of the three.</summary>
    /// <param name="Queue">A queue name (the call waits there again).</param>
    /// <param name="Agent">An agent ID (must be ready).</param>
    /// <param name="Number">An outside number (digits, optional leading +), if the agent may call outside numbers.</param>
    public sealed record TransferRequest(string? Queue, string? Agent, string? Number);

    /// <summary>The body of <c>POST …/call/dtmf</c>.</summary>
    /// <param name="Digits">1–32 of <c>0-9 * # A-D</c>, <c>,</c> for a pause.</param>
    public sealed record DtmfRequest(string? Digits);

    /// <summary>The body of <c>POST …/call/pickup</c> (optional).</summary>
    /// <param name="CallId">The call to pick up (as in <c>GET /api/calls</c> or a <c>call.offered</c> event); absent: the longest-ringing call of the agent's queues.</param>
    public sealed record PickUpRequest(string? CallId);

    /// <summary>A pickup under way: the agent's phone rings and, answered, is bridged to the caller of <see cref="CallId"/>.</summary>
    /// <param name="AgentId">The picker.</param>
    /// <param name="CallId">The call being picked up.</param>
    public sealed record PickUpView(string AgentId, string CallId);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapAgentCallEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var call = api.MapGroup("/agents/{agentId}/call").RequireAuthorization(ApiRoles.ActAsAgent).WithTags("agent calls");
        Map(call, "/hold", "Put the caller on hold (the caller hears the queue's music).", (c, id, ct) => c.HoldAsync(id, true, ct));
        Map(call, "/retrieve", "Take the caller off hold.", (c, id, ct) => c.HoldAsync(id, false, ct));
        Map(call, "/mute", "Mute the agent's microphone (the caller no longer hears the agent).", (c, id, ct) => c.MuteAsync(id, true, ct));
        Map(call, "/unmute", "Un-mute the agent's microphone.", (c, id, ct) => c.MuteAsync(id, false, ct));
        Map(call, "/consult/complete", "Complete the consult transfer: the caller goes to the consulted party, the agent's leg ends.", (c, id, ct) => c.CompleteTransferAsync(id, ct));
        Map(call, "/consult/cancel", "Cancel the consultation: the consulted party is released, the caller comes back.", (c, id, ct) => c.CancelConsultAsync(id, ct));
        Map(call, "/conference", "Three-way call: the held caller joins the agent and the consulted party.", (c, id, ct) => c.ConferenceAsync(id, ct));
        Map(call, "/recording/pause", "Pause the call's recording (e.g. while a card number is read out).", (c, id, ct) => c.PauseRecordingAsync(id, true, ct));
        Map(call, "/recording/resume", "Resume the call's recording.", (c, id, ct) => c.PauseRecordingAsync(id, false, ct));
        call.MapPost("/dtmf", async (string agentId, DtmfRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
        {
            if (string.IsNullOrEmpty(body.Digits))
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["digits"] = ["The DTMF digits to send are required, e.g. \"12#\"."] });
            }

            return await AgentEndpoints.ActAsync(agentId, user, services, center => center.SendDtmfAsync(agentId, body.Digits, ct), ct);
        }).WithSummary("Send DTMF digits to the other party (the consulted party while consulting, else the caller).");
        call.MapPost("/transfer", (string agentId, TransferRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            TargetOf(body) is { } target
                ? AgentEndpoints.ActAsync(agentId, user, services, center => center.TransferAsync(agentId, target, ct), ct)
                : Task.FromResult(BadTarget()))
            .WithSummary("Blind transfer to a queue, a ready agent or an outside number; the agent's leg ends (wrap-up follows).");
        call.MapPost("/consult", (string agentId, TransferRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            TargetOf(body) is { } target
                ? AgentEndpoints.ActAsync(agentId, user, services, center => center.ConsultAsync(agentId, target, ct), ct)
                : Task.FromResult(BadTarget()))
            .WithSummary("Consult a ready agent, a queue or an outside number while the caller is held (attended transfer, step 1).");
        call.MapPost("/pickup", (string agentId, PickUpRequest? body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            AgentEndpoints.WithAgentAsync(agentId, user, services, async center =>
            {
                var wanted = string.IsNullOrWhiteSpace(body?.CallId) ? null : body.CallId.Trim();
                var picked = await center.PickUpAsync(agentId, wanted, ct);
                return picked.Outcome.Accepted
                    ? Results.Accepted(value: new PickUpView(agentId, picked.CallId!))
                    : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: picked.Outcome.Reason);
            }))
            .WithSummary("Pick up (抢接) a call ringing another agent of the agent's queues: the agent's phone rings and, answered, takes the call; the agents rung are released without a miss.");
        return api;
    }

    private static void Map(RouteGroupBuilder call, string path, string summary, Func<CallCenter, string, CancellationToken, Task<InputOutcome>> act) =>
        call.MapPost(path, (string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            AgentEndpoints.ActAsync(agentId, user, services, center => act(center, agentId, ct), ct))
            .WithSummary(summary);

    private static TransferTarget? TargetOf(TransferRequest? body)
    {
        if (body is null)
        {
            return null;
        }

        var given = new[] { body.Queue, body.Agent, body.Number }.Count(v => !string.IsNullOrWhiteSpace(v));
        if (given != 1)
        {
            return null;
        }

        return !string.IsNullOrWhiteSpace(body.Queue) ? TransferTarget.ToQueue(body.Queue)
            : !string.IsNullOrWhiteSpace(body.Agent) ? TransferTarget.ToAgent(body.Agent)
            : TransferTarget.ToExternal(body.Number!);
    }

    private static IResult BadTarget() =>
        Results.ValidationProblem(new Dictionary<string, string[]> { ["target"] = ["Give exactly one of queue, agent or number, e.g. {\"queue\":\"billing\"}."] });
}
