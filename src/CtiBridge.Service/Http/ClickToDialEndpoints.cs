using System.Text.RegularExpressions;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>POST /api/agents/{agentId}/dial</c> (click-to-dial): rings the agent's desk phone and, when the
/// agent answers, dials the number through the dialplan context <c>clickToDial.context</c>. A ready
/// agent is paused first with <c>clickToDial.pauseReason</c> so the ACD does not offer a queue call
/// meanwhile; the agent resumes when done.
/// </summary>
public static partial class ClickToDialEndpoints
{
    /// <summary>The body of a click-to-dial.</summary>
    /// <param name="Number">The number to call: digits, optionally a leading +, * or #; at most 32.</param>
    public sealed record DialRequest(string? Number);

    /// <summary>The answer: the agent's phone is ringing.</summary>
    /// <param name="AgentId">The agent.</param>
    /// <param name="Number">The number that will be dialled once the agent answers.</param>
    /// <param name="ChannelId">The agent leg's channel.</param>
    /// <param name="PausedAs">The pause reason set before dialling, when the agent was ready.</param>
    public sealed record DialView(string AgentId, string Number, string ChannelId, string? PausedAs);

    /// <summary>Maps the endpoint.</summary>
    public static RouteGroupBuilder MapClickToDialEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapPost("/agents/{agentId}/dial", DialAsync).RequireAuthorization(ApiRoles.ActAsAgent).WithTags("calls")
            .WithSummary("Click-to-dial: ring the agent's phone, then dial the number when the agent answers.");
        return api;
    }

    private static async Task<IResult> DialAsync(string agentId, DialRequest body, System.Security.Claims.ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (!user.MayActFor(agentId))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key may act only for its own agent.");
        }

        if (body.Number is null || !Dialable().IsMatch(body.Number))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["number"] = [$"'{body.Number}' is not a number to dial (digits, optionally a leading +, * or #; at most 32)."] });
        }

        if (services.GetService<CallCenter>() is not { } center)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no agents.");
        }

        var agent = center.Settings.Agents.FirstOrDefault(a => string.Equals(a.Id, agentId, StringComparison.Ordinal));
        if (agent is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such agent", detail: $"No agent '{agentId}' in callControl.agents.");
        }

        var status = await center.GetAgentAsync(agentId, ct);
        if (status is null || status.State is not (AgentState.Ready or AgentState.Paused))
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused",
                detail: $"Agent {agentId} is {status?.State.ToString() ?? "LoggedOut"}; click-to-dial needs a logged-in agent who is ready or paused.");
        }

        var settings = services.GetRequiredService<CtiBridgeSettings>().ClickToDial;
        string? pausedAs = null;
        if (status.State == AgentState.Ready)
        {
            var paused = await center.PauseAgentAsync(agentId, settings.PauseReason, ct);
            if (!paused.Accepted)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: paused.Reason);
            }

            pausedAs = settings.PauseReason;
        }

        // One server serves agents until multi-server agent binding exists: the first configured.
        var ari = services.GetRequiredService<IReadOnlyList<AsteriskServer>>()[0].Ari;
        var channelId = $"c2d-{Guid.CreateVersion7():N}";
        try
        {
            await ari.Channels.OriginateAsync(
                endpoint: agent.Extension, extension: body.Number, context: settings.Context, priority: 1,
                callerId: $"\"{body.Number}\" <{body.Number}>", timeout: 30, channelId: channelId, cancellationToken: ct);
        }
        catch (Exception ex) when (ex is AriException or HttpRequestException)
        {
            if (pausedAs is not null)
            {
                await center.ResumeAgentAsync(agentId, ct);
            }

            return Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Asterisk refused the call", detail: $"Originate to {agent.Extension} failed: {ex.Message}");
        }

        return Results.Accepted(value: new DialView(agentId, body.Number, channelId, pausedAs));
    }

    [GeneratedRegex(@"^[+*#]?[0-9]{1,31}$", RegexOptions.CultureInvariant)]
    private static partial Regex Dialable();
}
