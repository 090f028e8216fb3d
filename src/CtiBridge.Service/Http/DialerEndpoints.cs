using System.Security.Claims;
using System.Text;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.Service.Dialer;
using Npgsql;

namespace CtiBridge.Service.Http;

/// <summary>
/// Outbound campaigns over HTTP (docs/dialer.md, docs/api.md): list, read, store and
/// start/pause/stop campaigns with their live figures, import leads from a CSV upload with per-row
/// errors, agents joining and leaving a campaign's nailed-up line, and the do-not-call workflow
/// (anyone acting for an agent requests, a supervisor other than the requester decides). Every
/// change is audited with the key's name.
/// </summary>
public static class DialerEndpoints
{
    /// <summary>A campaign as listed.</summary>
    /// <param name="Id">The campaign id.</param>
    /// <param name="State">Running, Paused or Stopped.</param>
    /// <param name="Mode">The dialing mode.</param>
    /// <param name="AgentGroup">The agent group / queue whose agents take the calls.</param>
    /// <param name="UpdatedAt">Last change of settings or state.</param>
    /// <param name="Live">This instance's live figures while it runs the campaign (null otherwise, or when the dialer is off here).</param>
    public sealed record CampaignView(string Id, string State, string Mode, string AgentGroup, DateTimeOffset UpdatedAt, CampaignWallboard? Live);

    /// <summary>A campaign with its settings (the campaign file as stored).</summary>
    /// <param name="Campaign">The summary.</param>
    /// <param name="Definition">The campaign file (JSON object, docs/dialer.md "Campaign file").</param>
    public sealed record CampaignDetail(CampaignView Campaign, System.Text.Json.JsonElement Definition);

    /// <summary>An agent joining a campaign.</summary>
    /// <param name="Endpoint">The agent's phone, e.g. <c>PJSIP/1001</c>: called once and kept on a nailed-up line.</param>
    public sealed record JoinRequest(string? Endpoint);

    /// <summary>A do-not-call request.</summary>
    /// <param name="Number">The number, E.164 (<c>+12125550100</c>).</param>
    /// <param name="Action"><c>add</c> (default) or <c>remove</c>.</param>
    /// <param name="Campaign">A campaign id for that campaign's list; absent for the global list.</param>
    /// <param name="Reason">Who asked, on which call.</param>
    public sealed record DoNotCallRequestBody(string? Number, string? Action, string? Campaign, string? Reason);

    /// <summary>A supervisor's decision.</summary>
    /// <param name="Note">Optional note kept with the decision.</param>
    public sealed record DecisionBody(string? Note);

    /// <summary>An agent's disposition of a campaign call.</summary>
    /// <param name="Disposition">The outcome in the campaign's words (sale, not-interested, call-back ...).</param>
    /// <param name="CallbackAt">Call back later: when (ISO 8601). Becomes a callback of the scheduler, or reopens the lead.</param>
    public sealed record DispositionBody(string? Disposition, DateTimeOffset? CallbackAt);

    /// <summary>Leads to move to another campaign.</summary>
    /// <param name="ToCampaign">The campaign to move them to.</param>
    /// <param name="LeadIds">These leads.</param>
    /// <param name="OwnedBy">Leads owned by this agent.</param>
    /// <param name="Statuses">Leads in these states (open, reached, attempts_exhausted, closed, invalid_number).</param>
    /// <param name="KeepOwner">Keep each lead's agent (default: moved leads belong to nobody).</param>
    public sealed record MoveLeadsBody(string? ToCampaign, long[]? LeadIds, string? OwnedBy, string[]? Statuses, bool KeepOwner);

    /// <summary>Leads to give to an agent.</summary>
    /// <param name="ToAgent">The agent who gets them; null = nobody (back in the pool).</param>
    /// <param name="LeadIds">These leads.</param>
    /// <param name="OwnedBy">Leads owned by this agent.</param>
    /// <param name="Statuses">Leads in these states.</param>
    public sealed record AssignLeadsBody(string? ToAgent, long[]? LeadIds, string? OwnedBy, string[]? Statuses);

    /// <summary>A preview agent's decision.</summary>
    /// <param name="LeadId">The lead the agent saw (refused with 409 when another lead is shown now); absent = the one shown.</param>
    public sealed record PreviewDecisionBody(string? LeadId);

    /// <summary>The largest CSV upload taken in one request (64 MiB); larger files go through <c>ctibridge import leads</c>.</summary>
    public const long MaxLeadUploadBytes = 64L << 20;

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapDialerEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var campaigns = api.MapGroup("/campaigns").WithTags("dialer");
        campaigns.MapGet("", ListAsync).RequireAuthorization(ApiRoles.ReadReports)
            .WithSummary("Every campaign with its state and, where this instance runs it, live figures.");
        campaigns.MapGet("/{campaignId}", GetAsync).RequireAuthorization(ApiRoles.ReadReports)
            .WithSummary("One campaign: state, live figures and its settings.");
        campaigns.MapGet("/{campaignId}/stats", StatsAsync).RequireAuthorization(ApiRoles.ReadReports)
            .WithSummary("This instance's live figures of a running campaign (lines, answers, abandons, abandon rate, agents).");
        campaigns.MapPut("/{campaignId}", PutAsync).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Create or replace a campaign from its campaign file (JSON); every problem is listed and nothing is stored until it is valid.");
        foreach (var (verb, state) in new[] { ("start", CampaignState.Running), ("pause", CampaignState.Paused), ("stop", CampaignState.Stopped) })
        {
            campaigns.MapPost("/{campaignId}/" + verb, (string campaignId, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, IServiceProvider services, CancellationToken ct) =>
                    SetStateAsync(campaignId, state, user, db, time, services, ct))
                .RequireAuthorization(ApiRoles.Supervise).WithSummary($"{char.ToUpperInvariant(verb[0])}{verb[1..]} the campaign on every instance.");
        }

        campaigns.MapPost("/{campaignId}/leads", ImportLeadsAsync).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Import leads: the request body is the CSV file (text/csv, UTF-8). skipBad=true imports the good rows; default all-or-nothing.");
        campaigns.MapPost("/{campaignId}/leads/move", MoveLeadsAsync).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Move selected leads to another campaign (they start afresh there); leads in a call now, invalid numbers and numbers the target has stay, each reported.");
        campaigns.MapPost("/{campaignId}/leads/assign", AssignLeadsAsync).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Give selected leads to an agent (preview mode shows them only to that agent), or to nobody with toAgent null.");
        campaigns.MapPost("/{campaignId}/agents/{agentId}", JoinAsync).RequireAuthorization(ApiRoles.ActAsAgent)
            .WithSummary("The agent joins the campaign: their phone is called once and kept on a nailed-up line for campaign calls.");
        campaigns.MapDelete("/{campaignId}/agents/{agentId}", LeaveAsync).RequireAuthorization(ApiRoles.ActAsAgent)
            .WithSummary("The agent leaves the campaign (the nailed-up line is hung up).");

        var preview = api.MapGroup("/dialer/agents/{agentId}/preview").WithTags("dialer");
        preview.MapGet("", GetPreviewAsync).RequireAuthorization(ApiRoles.ActAsAgent)
            .WithSummary("Preview mode: the lead shown to the agent now (number, custom fields, decide-by time), or 204 when none is.");
        preview.MapPost("/dial", (string agentId, PreviewDecisionBody? body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
                DecidePreviewAsync(agentId, dial: true, body, user, services, ct))
            .RequireAuthorization(ApiRoles.ActAsAgent).WithSummary("Preview mode: dial the lead shown to the agent (window and do-not-call checked again); the agent is bridged when the customer answers.");
        preview.MapPost("/skip", (string agentId, PreviewDecisionBody? body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
                DecidePreviewAsync(agentId, dial: false, body, user, services, ct))
            .RequireAuthorization(ApiRoles.ActAsAgent).WithSummary("Preview mode: skip the lead shown to the agent; it goes back to the list and the agent gets the next one.");

        api.MapPost("/dialer/calls/{callId}/disposition", DispositionAsync).RequireAuthorization(ApiRoles.ActAsAgent).WithTags("dialer")
            .WithSummary("The agent's disposition of a campaign call; with callbackAt, the customer is called back then (a callback, or the lead reopened).");

        var dnc = api.MapGroup("/dnc/requests").WithTags("dialer");
        dnc.MapGet("", ListDoNotCallAsync).RequireAuthorization(ApiRoles.Supervise)
            .WithSummary("Do-not-call requests and decisions, newest first (pending=true: only those waiting).");
        dnc.MapPost("", RequestDoNotCallAsync).RequireAuthorization(ApiRoles.ActAsAgent)
            .WithSummary("Ask for a number to be put on (or taken off) a do-not-call list; a supervisor other than the requester decides.");
        dnc.MapPost("/{requestId}/approve", (string requestId, DecisionBody? body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct) =>
                DecideAsync(requestId, approve: true, body, user, db, time, ct))
            .RequireAuthorization(ApiRoles.Supervise).WithSummary("Approve a do-not-call request: the list changes now.");
        dnc.MapPost("/{requestId}/reject", (string requestId, DecisionBody? body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct) =>
                DecideAsync(requestId, approve: false, body, user, db, time, ct))
            .RequireAuthorization(ApiRoles.Supervise).WithSummary("Reject a do-not-call request: the list is not changed.");
        return api;
    }

    private static string Actor(ClaimsPrincipal user) => "api:" + (user.Identity?.Name ?? "unknown");

    private static IResult NoCampaign(string campaignId) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such campaign", detail: $"No campaign '{campaignId}' (create it with PUT /api/campaigns/{{id}} or 'ctibridge campaign put').");

    private static async Task<IReadOnlyDictionary<string, CampaignWallboard>> LiveAsync(IServiceProvider services, CancellationToken ct) =>
        services.GetService<OutboundDialer>() is { } dialer
            ? (await dialer.GetStatsAsync(ct)).ToDictionary(s => s.CampaignId, StringComparer.Ordinal)
            : new Dictionary<string, CampaignWallboard>(StringComparer.Ordinal);

    private static CampaignView View(StoredCampaign c, IReadOnlyDictionary<string, CampaignWallboard> live) =>
        new(c.Definition.Id, c.State.ToString(), c.Definition.Mode.ToString(), c.Definition.AgentGroup, c.UpdatedAt, live.GetValueOrDefault(c.Definition.Id));

    private static async Task<IResult> ListAsync(NpgsqlDataSource db, TimeProvider time, IServiceProvider services, CancellationToken ct)
    {
        var stored = await new CampaignStore(db, time).ListAsync(null, ct);
        var live = await LiveAsync(services, ct);
        return Results.Ok(stored.OrderBy(c => c.Definition.Id, StringComparer.Ordinal).Select(c => View(c, live)).ToList());
    }

    private static async Task<IResult> GetAsync(string campaignId, NpgsqlDataSource db, TimeProvider time, IServiceProvider services, CancellationToken ct)
    {
        if (await new CampaignStore(db, time).GetAsync(campaignId, ct) is not { } campaign)
        {
            return NoCampaign(campaignId);
        }

        using var definition = System.Text.Json.JsonDocument.Parse(campaign.Definition.ToJson());
        return Results.Ok(new CampaignDetail(View(campaign, await LiveAsync(services, ct)), definition.RootElement.Clone()));
    }

    private static async Task<IResult> StatsAsync(string campaignId, NpgsqlDataSource db, TimeProvider time, IServiceProvider services, CancellationToken ct)
    {
        if (await new CampaignStore(db, time).GetAsync(campaignId, ct) is null)
        {
            return NoCampaign(campaignId);
        }

        if (services.GetService<OutboundDialer>() is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The dialer is off", detail: "dialer.enabled is false on this instance, so it has no live campaign figures.");
        }

        return (await LiveAsync(services, ct)).TryGetValue(campaignId, out var live)
            ? Results.Ok(live)
            : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not running here", detail: $"Campaign '{campaignId}' is not running on this instance.");
    }

    private static async Task<IResult> PutAsync(string campaignId, HttpRequest request, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct)
    {
        string json;
        try
        {
            json = await new StreamReader(request.Body, new UTF8Encoding(false, throwOnInvalidBytes: true)).ReadToEndAsync(ct);
        }
        catch (DecoderFallbackException)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["The campaign file is not valid UTF-8."] });
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too large", detail: $"A campaign file is at most {HttpExtensions.MaxRequestBodyBytes >> 20} MiB.");
        }

        CampaignDefinition definition;
        try
        {
            definition = CampaignDefinition.Parse(json);
        }
        catch (DialerConfigurationException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["campaign"] = [.. ex.Errors] });
        }

        if (!string.Equals(definition.Id, campaignId, StringComparison.Ordinal))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["id"] = [$"The file's id '{definition.Id}' is not the one in the address ('{campaignId}')."] });
        }

        var state = await new CampaignStore(db, time).PutAsync(definition, Actor(user), ct);
        return Results.Ok(new { id = definition.Id, state = state.ToString() });
    }

    private static async Task<IResult> SetStateAsync(string campaignId, CampaignState state, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, IServiceProvider services, CancellationToken ct)
    {
        var store = new CampaignStore(db, time);
        if (!await store.SetStateAsync(campaignId, state, Actor(user), ct))
        {
            return NoCampaign(campaignId);
        }

        return Results.Ok(View((await store.GetAsync(campaignId, ct))!, await LiveAsync(services, ct)));
    }

    private static async Task<IResult> ImportLeadsAsync(string campaignId, bool? skipBad, HttpRequest request, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct)
    {
        if (request.ContentLength > MaxLeadUploadBytes)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "File too large",
                detail: $"At most {MaxLeadUploadBytes >> 20} MiB per upload; import larger files with 'ctibridge import leads'.");
        }

        var store = new CampaignStore(db, time);
        if (await store.GetAsync(campaignId, ct) is null)
        {
            return NoCampaign(campaignId);
        }

        // Lead files are larger than the API's usual bodies: this endpoint alone takes up to MaxLeadUploadBytes.
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxLeadUploadBytes;
        }

        LeadImportReport report;
        try
        {
            using var reader = new StreamReader(request.Body, new UTF8Encoding(false, throwOnInvalidBytes: true));
            report = await new LeadImporter(db, store, time).ImportAsync(campaignId, reader,
                new LeadImportOptions { FileName = "upload.csv", ImportedBy = Actor(user), SkipBadRows = skipBad == true }, ct);
        }
        catch (LeadImportException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["file"] = [ex.Message] });
        }
        catch (DecoderFallbackException)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["file"] = ["The file is not valid UTF-8."] });
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "File too large",
                detail: $"At most {MaxLeadUploadBytes >> 20} MiB per upload; import larger files with 'ctibridge import leads'.");
        }

        // Per-row errors come back either way; nothing imported (all-or-nothing with a bad row) is a 422.
        var body = new
        {
            importId = report.ImportId,
            committed = report.Committed,
            rowsRead = report.RowsRead,
            imported = report.Imported,
            rejects = report.Rejects.Select(r => new { line = r.Line, column = r.Column, kind = r.Kind.ToString(), reason = r.Reason, raw = r.Raw }).ToList(),
        };
        return report.Committed ? Results.Ok(body) : Results.UnprocessableEntity(body);
    }

    private static async Task<IResult> JoinAsync(string campaignId, string agentId, JoinRequest? body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (!user.MayActFor(agentId))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key may act only for its own agent.");
        }

        if (body?.Endpoint is not { Length: > 0 and <= 128 } endpoint || !endpoint.Contains('/', StringComparison.Ordinal) || endpoint.Any(char.IsControl))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["endpoint"] = [$"'{body?.Endpoint}' is not an Asterisk endpoint (e.g. PJSIP/1001)."] });
        }

        if (BadAgentId(agentId) is { } bad)
        {
            return bad;
        }

        var dialer = services.GetService<OutboundDialer>();

        // One agent, one state at a time in the state log: not on a nailed-up line while logged in to
        // inbound queues. Checked before and again after joining: a login that slipped in between
        // (call control refuses logins of agents on a line from the moment of the join) undoes the join.
        if (await InboundLoginAsync(agentId, services, ct) is { } before)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: before);
        }

        if (dialer is null)
        {
            // The dialer runs on another instance (a dialer-only one beside this call-control instance): it nails the line up.
            var relayed = await LineElsewhereAsync(campaignId, agentId, endpoint, user, services, ct);
            if (relayed is not null)
            {
                return relayed;
            }

            if (await InboundLoginAsync(agentId, services, ct) is { } loggedInMeanwhile)
            {
                await LineElsewhereAsync(campaignId, agentId, null, user, services, ct);
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: loggedInMeanwhile);
            }

            return Results.Accepted(value: new { campaignId, agentId, endpoint });
        }

        if (await dialer.JoinAsync(campaignId, agentId, endpoint, ct) is { } refused)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: refused);
        }

        if (await InboundLoginAsync(agentId, services, ct) is { } after)
        {
            await dialer.LeaveAsync(agentId, ct);
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: after);
        }

        return Results.Accepted(value: new { campaignId, agentId, endpoint });
    }

    /// <summary>
    /// A join (<paramref name="endpoint"/> given) or leave (null) carried out by another instance's dialer through
    /// <c>dialer_agent_requests</c>: a join goes to the live dialer instance with the fewest agents on the campaign
    /// (<see cref="AgentLineRequests.LeastLoaded"/>), a leave to the one
    /// holding the agent's line. Null when done; otherwise the answer to give (refused, no dialer, no answer in time).
    /// </summary>
    private static async Task<IResult?> LineElsewhereAsync(string campaignId, string agentId, string? endpoint, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        var what = endpoint is null ? "Not left" : "Refused";
        var time = services.GetRequiredService<TimeProvider>();
        var db = services.GetRequiredService<NpgsqlDataSource>();
        var requests = new AgentLineRequests(db, time);
        string instance;
        if (endpoint is null)
        {
            if ((await new AgentLines(db, time).HeldAsync(ct)).FirstOrDefault(l => l.AgentId == agentId) is not { } line)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: what, detail: $"agent {agentId} is in no campaign");
            }

            instance = line.InstanceId;
        }
        else if (AgentLineRequests.LeastLoaded(await requests.LiveDialersAsync(ct), await new AgentLines(db, time).HeldAsync(ct), campaignId) is { } least)
        {
            instance = least;
        }
        else
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The dialer is off",
                detail: "dialer.enabled is false on this instance and no other instance's dialer has been heard from within the claim lease.");
        }

        var request = await requests.RequestAsync(instance, agentId, campaignId, endpoint, Actor(user), ct);
        var until = time.GetUtcNow() + PreviewDecisionWait;
        while (true)
        {
            var answer = await requests.AnswerOfAsync(request, ct);
            if (answer.Answered)
            {
                return answer.Refused is { } refused ? Results.Problem(statusCode: StatusCodes.Status409Conflict, title: what, detail: refused) : null;
            }

            if (time.GetUtcNow() >= until)
            {
                // The request stays: the dialer still carries it out when it comes to it.
                return Results.Problem(statusCode: StatusCodes.Status504GatewayTimeout, title: "The dialer did not answer",
                    detail: $"the dialer instance {instance} did not answer agent {agentId}'s {(endpoint is null ? "leave" : "join")} within {PreviewDecisionWait.TotalSeconds:0} s; it may still carry it out");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct);
        }
    }

    /// <summary>
    /// Why the agent cannot join a campaign because they are logged in to inbound queues (the call
    /// center of this instance when it runs, else the live state the active instance keeps), or null.
    /// </summary>
    private static async Task<string?> InboundLoginAsync(string agentId, IServiceProvider services, CancellationToken ct)
    {
        bool loggedIn;
        if (services.GetService<CallControl.CallCenter>() is { } center && center.Started.IsCompleted)
        {
            loggedIn = await center.GetAgentAsync(agentId, ct) is { State: not Core.Acd.AgentState.LoggedOut };
        }
        else if (services.GetService<NpgsqlDataSource>() is { } db)
        {
            loggedIn = (await new Data.LiveState.LiveStateStore(db).LoadAgentsAsync(ct)).Any(a => a.AgentId == agentId);
        }
        else
        {
            return null;
        }

        return loggedIn ? $"agent {agentId} is logged in to inbound queues; log out there before joining a campaign's nailed-up line" : null;
    }

    private static async Task<IResult> LeaveAsync(string campaignId, string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (!user.MayActFor(agentId))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key may act only for its own agent.");
        }

        if (BadAgentId(agentId) is { } bad)
        {
            return bad;
        }

        if (services.GetService<OutboundDialer>() is not { } dialer || dialer.CampaignOf(agentId) is null)
        {
            // The line may be held by another instance's dialer: that one hangs it up.
            return await LineElsewhereAsync(campaignId, agentId, null, user, services, ct) ?? Results.NoContent();
        }

        return await dialer.LeaveAsync(agentId, ct) is { } refused
            ? Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: refused)
            : Results.NoContent();
    }

    private static async Task<IResult> MoveLeadsAsync(string campaignId, MoveLeadsBody? body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct)
    {
        if (body?.ToCampaign is not { Length: > 0 } toCampaign)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["toCampaign"] = ["The campaign to move the leads to is required."] });
        }

        return await ReassignAsync(() => new LeadReassignment(db, time).MoveToCampaignAsync(campaignId, toCampaign,
            new LeadSelection { LeadIds = body.LeadIds, OwnedBy = body.OwnedBy, Statuses = body.Statuses }, body.KeepOwner, Actor(user), ct));
    }

    private static Task<IResult> AssignLeadsAsync(string campaignId, AssignLeadsBody? body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct) =>
        ReassignAsync(() => new LeadReassignment(db, time).AssignAsync(campaignId,
            new LeadSelection { LeadIds = body?.LeadIds, OwnedBy = body?.OwnedBy, Statuses = body?.Statuses }, body?.ToAgent, Actor(user), ct));

    private static async Task<IResult> ReassignAsync(Func<Task<LeadReassignmentReport>> reassign)
    {
        try
        {
            return Results.Ok(await reassign());
        }
        catch (ArgumentException ex) when (ex.Message.StartsWith("there is no campaign", StringComparison.Ordinal))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such campaign", detail: ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal));
        }
        catch (ArgumentException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { [ex.ParamName ?? "body"] = [ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal)] });
        }
    }

    private static async Task<IResult> GetPreviewAsync(string agentId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (!user.MayActFor(agentId))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key may act only for its own agent.");
        }

        if (BadAgentId(agentId) is { } bad)
        {
            return bad;
        }

        if (services.GetService<OutboundDialer>() is { } dialer && dialer.CampaignOf(agentId) is not null)
        {
            return await dialer.GetPreviewAsync(agentId, ct) is { } preview ? Results.Ok(preview) : Results.NoContent();
        }

        // The agent's line may be on a dialer of another instance: its latest screen pop, if that instance is alive.
        return await ShownElsewhereAsync(agentId, services, ct) is { } elsewhere && OutboundDialer.PreviewFromJson(elsewhere.PreviewJson) is { } shown
            ? Results.Ok(shown)
            : Results.NoContent();
    }

    /// <summary>An agent id the preview relay can look up (1-64 characters, no control characters), else the 400 answer.</summary>
    private static IResult? BadAgentId(string agentId) =>
        agentId is { Length: > 0 and <= 64 } && !agentId.Any(char.IsControl)
            ? null
            : Results.ValidationProblem(new Dictionary<string, string[]> { ["agentId"] = [$"'{(agentId.Length > 64 ? agentId[..64] + "…" : agentId)}' is not an agent id (1-64 characters, no control characters)."] });

    /// <summary>How long a decision handed to the dialer instance holding the lead may wait for its answer.</summary>
    internal static TimeSpan PreviewDecisionWait { get; } = TimeSpan.FromSeconds(10);

    private static async Task<CurrentPreview?> ShownElsewhereAsync(string agentId, IServiceProvider services, CancellationToken ct)
    {
        var time = services.GetRequiredService<TimeProvider>();
        var current = await new PreviewRelay(services.GetRequiredService<NpgsqlDataSource>(), time).CurrentAsync(agentId, time.GetUtcNow() - LeadHopper.ClaimLease, ct);
        var local = services.GetService<OutboundDialer>()?.InstanceId;
        return current is { Phase: "offered" } && current.InstanceId != local ? current : null;
    }

    /// <summary>A decision on a lead shown by another instance's dialer: handed to it through the database, its answer awaited (bounded).</summary>
    private static async Task<IResult> DecideElsewhereAsync(string agentId, bool dial, string? leadId, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        var what = dial ? "Not dialled" : "Not skipped";
        if (await ShownElsewhereAsync(agentId, services, ct) is not { } shown || OutboundDialer.PreviewFromJson(shown.PreviewJson) is not { } preview)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: what, detail: $"agent {agentId} has no lead in preview");
        }

        if (leadId is not null && leadId != preview.LeadId)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: what, detail: $"lead {leadId} is not the one shown to agent {agentId} (lead {preview.LeadId} is)");
        }

        var time = services.GetRequiredService<TimeProvider>();
        var relay = new PreviewRelay(services.GetRequiredService<NpgsqlDataSource>(), time);
        var request = await relay.RequestAsync(shown.InstanceId, agentId, leadId ?? preview.LeadId, dial, Actor(user), ct);
        var until = time.GetUtcNow() + PreviewDecisionWait;
        while (true)
        {
            var answer = await relay.AnswerOfAsync(request, ct);
            if (answer.Answered)
            {
                if (answer.Refused is { } refused)
                {
                    return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: what, detail: refused);
                }

                return dial ? Results.Accepted(value: new { agentId, callId = answer.CallId }) : Results.NoContent();
            }

            if (time.GetUtcNow() >= until)
            {
                // The request stays: the dialer still carries it out when it comes to it, so the agent is told it may still happen.
                return Results.Problem(statusCode: StatusCodes.Status504GatewayTimeout, title: "The dialer did not answer",
                    detail: $"the dialer instance {shown.InstanceId} showing agent {agentId} lead {preview.LeadId} did not answer within {PreviewDecisionWait.TotalSeconds:0} s; it may still carry the request out (watch dialer.preview)");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct);
        }
    }

    private static async Task<IResult> DecidePreviewAsync(string agentId, bool dial, PreviewDecisionBody? body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (!user.MayActFor(agentId))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key may act only for its own agent.");
        }

        if (body?.LeadId is { } leadId && (leadId.Length is 0 or > 20 || !leadId.All(char.IsAsciiDigit)))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["leadId"] = [$"'{leadId}' is not a lead id (digits, as shown in the preview)."] });
        }

        if (BadAgentId(agentId) is { } bad)
        {
            return bad;
        }

        if (services.GetService<OutboundDialer>() is not { } dialer || dialer.CampaignOf(agentId) is null)
        {
            return await DecideElsewhereAsync(agentId, dial, body?.LeadId, user, services, ct);
        }

        if (dial)
        {
            var (callId, refused) = await dialer.AcceptPreviewAsync(agentId, body?.LeadId, ct);
            return refused is not null
                ? Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not dialled", detail: refused)
                : Results.Accepted(value: new { agentId, callId });
        }

        return await dialer.SkipPreviewAsync(agentId, body?.LeadId, ct) is { } problem
            ? Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not skipped", detail: problem)
            : Results.NoContent();
    }

    private static async Task<IResult> DispositionAsync(string callId, DispositionBody body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, IServiceProvider services, CancellationToken ct)
    {
        if (body.Disposition is not { Length: > 0 and <= 64 } disposition || disposition.Any(char.IsControl))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["disposition"] = ["A disposition (1-64 characters, e.g. sale, call-back) is required."] });
        }

        var attempt = await new AttemptLog(db, "api", time).GetAsync(callId, ct);
        if (attempt is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such campaign call", detail: $"No dialer call '{callId}'.");
        }

        // An agent key dispositions only the calls it talked on.
        if (user.IsInRole(ApiRoles.Name(Data.Access.ApiRole.Agent)) && (attempt.AgentId is null || !user.MayActFor(attempt.AgentId)))
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your call", detail: "An agent key may disposition only its own agent's calls.");
        }

        try
        {
            var dispositions = new CampaignCallDispositions(db, time, services.GetService<Core.Callbacks.ICallbackRequests>());
            var result = await dispositions.SetAsync(callId, disposition, body.CallbackAt, Actor(user), ct);
            return Results.Ok(new { callId, disposition, callbackId = result?.Callback?.Callback.Id, leadReopenedAt = result?.LeadReopenedAt });
        }
        catch (ArgumentException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["callbackAt"] = [ex.Message] });
        }
    }

    private static async Task<IResult> ListDoNotCallAsync(bool? pending, NpgsqlDataSource db, TimeProvider time, CancellationToken ct) =>
        Results.Ok(await new DoNotCallList(db, time).ListAsync(null, pending == true ? DoNotCallRequestStatus.Pending : null, ct));

    private static async Task<IResult> RequestDoNotCallAsync(DoNotCallRequestBody body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct)
    {
        DoNotCallAction action;
        if (body.Action is null || body.Action.Equals("add", StringComparison.OrdinalIgnoreCase))
        {
            action = DoNotCallAction.Add;
        }
        else if (body.Action.Equals("remove", StringComparison.OrdinalIgnoreCase))
        {
            action = DoNotCallAction.Remove;
        }
        else
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["action"] = [$"'{body.Action}' is neither add nor remove."] });
        }

        if (body.Number is null)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["number"] = ["The number (E.164, e.g. +12125550100) is required."] });
        }

        var scope = DoNotCallList.GlobalScope;
        if (body.Campaign is { } campaignId)
        {
            if (await new CampaignStore(db, time).GetAsync(campaignId, ct) is null)
            {
                return NoCampaign(campaignId);
            }

            scope = campaignId;
        }

        try
        {
            var request = await new DoNotCallList(db, time).RequestAsync(action, scope, body.Number, body.Reason ?? "", Actor(user), ct);
            return Results.Created($"/api/dnc/requests/{request.Id}", request);
        }
        catch (DoNotCallException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["request"] = [ex.Message] });
        }
    }

    private static async Task<IResult> DecideAsync(string requestId, bool approve, DecisionBody? body, ClaimsPrincipal user, NpgsqlDataSource db, TimeProvider time, CancellationToken ct)
    {
        if (!long.TryParse(requestId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such request", detail: $"'{requestId}' is not a do-not-call request id.");
        }

        try
        {
            return Results.Ok(await new DoNotCallList(db, time).DecideAsync(id, approve, Actor(user), body?.Note, ct));
        }
        catch (DoNotCallException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Refused", detail: ex.Message);
        }
    }
}
