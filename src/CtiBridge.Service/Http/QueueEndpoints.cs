using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Http;

/// <summary><c>GET /api/queues</c>: every queue's live state and today's figures, for wallboards and supervisors.</summary>
public static class QueueEndpoints
{
    /// <summary>One queue as the API shows it. Rates are fractions (0.9 = 90 %); times in seconds;
    /// null where the definition's denominator is zero (docs/metrics.md, version 1).</summary>
    public sealed record QueueView(
        string Queue, int Waiting, double LongestCurrentWaitSeconds, int AgentsLoggedIn, int AgentsReady, int AgentsServing,
        double? ExpectedWaitSeconds, int Offered, int Answered, int AnsweredWithinThreshold, int AbandonedShort, int AbandonedLong,
        int Overflowed, int SystemLost, double? ServiceLevel, double? AbandonRate, double? AnswerRate,
        double? AverageSpeedOfAnswerSeconds, double? AverageHandleTimeSeconds, double LongestWaitSeconds, int DefinitionsVersion);

    /// <summary>Maps the endpoint.</summary>
    public static RouteGroupBuilder MapQueueEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/queues", async (IServiceProvider services, CancellationToken ct) =>
        {
            if (services.GetService<CallCenter>() is not { } center)
            {
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no queues.");
            }

            var queues = await center.GetQueuesAsync(ct);
            return Results.Ok(queues.Select(q => new QueueView(
                q.Status.Queue, q.Status.Waiting, q.Status.LongestCurrentWait.TotalSeconds, q.Status.LoggedIn, q.Status.Ready, q.Status.Serving,
                q.Status.ExpectedWaitForNewCall?.TotalSeconds, q.Statistics.Offered, q.Statistics.Answered, q.Statistics.AnsweredWithinThreshold,
                q.Statistics.ShortAbandoned, q.Statistics.LongAbandoned, q.Statistics.Overflowed, q.Statistics.SystemLost,
                q.Statistics.ServiceLevel, q.Statistics.AbandonRate, q.Statistics.AnswerRate,
                q.Statistics.AverageSpeedOfAnswer?.TotalSeconds, q.Statistics.AverageHandleTime?.TotalSeconds, q.Statistics.LongestWait.TotalSeconds,
                DefinitionsVersion: Core.Acd.AcdStatistics.DefinitionsVersion)).ToList());
        }).RequireAuthorization(ApiRoles.ReadReports).WithTags("queues").WithSummary("Every queue's live state and today's figures (docs/metrics.md v1).");

        var members = api.MapGroup("/queues/{queue}/members").WithTags("queues");
        members.MapGet("/", async (string queue, IServiceProvider services, CancellationToken ct) =>
        {
            if (services.GetService<CallCenter>() is not { } center)
            {
                return CallControlOff();
            }

            var settings = center.Settings;
            if (!settings.Queues.Any(q => q.Name == queue))
            {
                return NoQueue(queue);
            }

            var agents = await center.GetAgentsAsync(ct);
            return Results.Ok(settings.Agents.Where(a => a.Queues.Contains(queue, StringComparer.Ordinal)).Select(a =>
            {
                var status = agents.FirstOrDefault(s => s.Status.AgentId == a.Id).Status;
                var serving = status?.Queues.FirstOrDefault(q => q.Queue == queue);
                return new MemberView(queue, a.Id, a.Name, a.Penalties.GetValueOrDefault(queue), status?.State.ToString() ?? "LoggedOut", serving is not null);
            }).ToList());
        }).RequireAuthorization(ApiRoles.ReadReports).WithSummary("The queue's member agents: penalty, state, and whether they serve it now (logged in to it).");
        members.MapPut("/{agentId}", async (string queue, string agentId, MemberRequest? body, IServiceProvider services, CancellationToken ct) =>
        {
            var penalty = body?.Penalty ?? 0;
            if (penalty is < 0 or > 1000)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["penalty"] = [$"{penalty} is not a penalty (0-1000; lower is offered calls first)."] });
            }

            if (services.GetService<CallCenter>() is not { } center)
            {
                return CallControlOff();
            }

            var problems = await center.SetQueueMemberAsync(queue, agentId, penalty, ct);
            return problems.Count > 0 ? Refused(problems) : Results.Ok(await MemberAsync(center, queue, agentId, ct));
        }).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Add the agent to the queue, or change the penalty (a logged-in agent serves it at once; lasts until the file is reloaded or the service restarts).");
        members.MapDelete("/{agentId}", async (string queue, string agentId, IServiceProvider services, CancellationToken ct) =>
        {
            if (services.GetService<CallCenter>() is not { } center)
            {
                return CallControlOff();
            }

            if (!center.Settings.Agents.Any(a => a.Id == agentId && a.Queues.Contains(queue, StringComparer.Ordinal)))
            {
                return center.Settings.Queues.Any(q => q.Name == queue)
                    ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not a member", detail: $"Agent '{agentId}' is not a member of queue '{queue}'.")
                    : NoQueue(queue);
            }

            var problems = await center.RemoveQueueMemberAsync(queue, agentId, ct);
            return problems.Count > 0 ? Refused(problems) : Results.NoContent();
        }).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Take the agent out of the queue (a call already ringing the agent rings on; lasts until the file is reloaded or the service restarts).");
        return api;
    }

    /// <summary>The body of a member change.</summary>
    /// <param name="Penalty">Penalty (tier) in the queue, 0-1000; lower is offered calls first. Default 0.</param>
    public sealed record MemberRequest(int? Penalty);

    /// <summary>An agent's membership of a queue.</summary>
    /// <param name="Queue">The queue.</param>
    /// <param name="AgentId">The agent.</param>
    /// <param name="Name">The agent's display name.</param>
    /// <param name="Penalty">Penalty in the queue.</param>
    /// <param name="State">The agent's state.</param>
    /// <param name="Serving">True while the agent is logged in to this queue (an agent may log in to some of its queues only).</param>
    public sealed record MemberView(string Queue, string AgentId, string? Name, int Penalty, string State, bool Serving);

    private static async Task<MemberView> MemberAsync(CallCenter center, string queue, string agentId, CancellationToken ct)
    {
        var agent = center.Settings.Agents.Single(a => a.Id == agentId);
        var status = await center.GetAgentAsync(agentId, ct);
        return new MemberView(queue, agentId, agent.Name, agent.Penalties.GetValueOrDefault(queue), status?.State.ToString() ?? "LoggedOut",
            status?.Queues.Any(q => q.Queue == queue) == true);
    }

    private static IResult Refused(IReadOnlyList<SettingsProblem> problems) =>
        problems.All(p => p.Path is "queue" or "agentId")
            ? Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: string.Join(" ", problems.Select(p => p.Message)))
            : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: $"{problems.Count} problem(s); nothing changed.",
                extensions: new Dictionary<string, object?> { ["problems"] = problems.Select(p => p.ToString()).ToList() });

    private static IResult CallControlOff() =>
        Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no queues.");

    private static IResult NoQueue(string queue) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such queue", detail: $"No queue '{queue}' in callControl.queues.");
}
