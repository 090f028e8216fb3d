using System.Security.Claims;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Access;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/callbacks</c>: list, read, create, reschedule and cancel callbacks (docs/callbacks.md).
/// Supervisors, integrations and admins see and change every callback; an agent key sees only the
/// callbacks it owns and may create callbacks owned by itself or by the queue. Changes are audited.
/// </summary>
public static class CallbackEndpoints
{
    /// <summary>The body of <c>POST /api/callbacks</c>.</summary>
    /// <param name="Number">Number to call (digits, optional +, ≤ 32).</param>
    /// <param name="Queue">Queue whose agents serve it.</param>
    /// <param name="DueAt">When it was promised (ISO 8601 with offset); moved into <c>callbacks.hours</c>.</param>
    /// <param name="OwnerAgentId">Owning agent (null: any agent of the queue).</param>
    /// <param name="Reason">Why, for the agent.</param>
    /// <param name="CustomerName">Customer's name shown to the agent.</param>
    /// <param name="Note">Earlier contact, for the agent.</param>
    /// <param name="Mode"><c>agent_first</c> or <c>customer_first</c>; absent for the queue's <c>callbackMode</c> (agent-first when it names none).</param>
    /// <param name="Deadline">Escalated when still open then.</param>
    public sealed record CreateRequest(string? Number, string? Queue, DateTimeOffset? DueAt, string? OwnerAgentId, string? Reason,
        string? CustomerName, string? Note, string? Mode, DateTimeOffset? Deadline);

    /// <summary>The body of <c>POST /api/callbacks/{id}/reschedule</c>.</summary>
    /// <param name="DueAt">The new due time.</param>
    public sealed record RescheduleRequest(DateTimeOffset? DueAt);

    /// <summary>The body of <c>POST /api/callbacks/{id}/cancel</c>.</summary>
    /// <param name="Reason">Why (kept in the history).</param>
    public sealed record CancelRequest(string? Reason);

    /// <summary>A callback as the API shows it.</summary>
    public sealed record CallbackView(
        Guid Id, string Number, string Source, string State, string Queue, string? OwnerAgentId, string Mode, int Priority, string? Reason,
        DateTimeOffset CreatedAt, DateTimeOffset PromisedAt, DateTimeOffset DueAt, DateTimeOffset? Deadline, int Attempts, int MaxAttempts,
        int MergedRequests, string? OriginCallId, string? LastCallId, string? CustomerName, string? Note, DateTimeOffset? ClosedAt, DateTimeOffset? EscalatedAt);

    /// <summary>One stored transition.</summary>
    public sealed record TransitionView(int Sequence, DateTimeOffset At, string Kind, string? From, string To, string Reason, string Actor, string? CallId);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapCallbackEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var callbacks = api.MapGroup("/callbacks").RequireAuthorization(ApiRoles.ActAsAgent).WithTags("callbacks");
        callbacks.MapGet("/", ListAsync)
            .WithSummary("Callbacks, soonest due first (an agent key: only its own).");
        callbacks.MapGet("/{id}", async (string id, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            await WithCallbackAsync(id, user, services, (_, c) => Task.FromResult(Results.Ok(View(c))), ct))
            .WithSummary("One callback.");
        callbacks.MapGet("/{id}/history", async (string id, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            await WithCallbackAsync(id, user, services, async (svc, c) =>
                Results.Ok((await svc.HistoryAsync(c.Id, ct)).Select(h => new TransitionView(h.Sequence, h.At, h.Kind, h.From is { } f ? CallbackStates.Name(f) : null, CallbackStates.Name(h.To), h.Reason, h.Actor, h.CallId)).ToList()), ct))
            .WithSummary("Every stored transition of the callback, in order.");
        callbacks.MapPost("/", CreateAsync)
            .WithSummary("Schedule a callback (agent- or API-scheduled); a number with an open callback gets it merged (200 with merged: true).");
        callbacks.MapPost("/{id}/reschedule", async (string id, RescheduleRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
        {
            if (body.DueAt is not { } due)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["dueAt"] = ["The new due time is required (ISO 8601 with offset)."] });
            }

            return await WithCallbackAsync(id, user, services, async (svc, c) =>
                await svc.RescheduleAsync(c.Id, due, Actor(user), ct) is { } moved
                    ? Results.Ok(View(moved))
                    : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not rescheduled", detail: $"Callback {c.Id} is {CallbackStates.Name(c.State)}: only a scheduled, retry or due callback can be moved (not one being dialled or closed)."), ct);
        }).WithSummary("Move an open callback (not while it is being dialled) to a new due time.");
        callbacks.MapPost("/{id}/cancel", async (string id, CancelRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct) =>
            HasNul(body.Reason)
                ? Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["The reason must not contain NUL characters."] })
                : await WithCallbackAsync(id, user, services, async (svc, c) =>
                await svc.CancelAsync(c.Id, string.IsNullOrWhiteSpace(body.Reason) ? "cancelled" : body.Reason.Trim(), Actor(user), ct) is { } moved
                    ? Results.Ok(View(moved))
                    : Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Not cancelled", detail: $"Callback {c.Id} is already {CallbackStates.Name(c.State)}."), ct))
            .WithSummary("Cancel an open callback (a customer still ringing is hung up; a conversation is not cut).");
        return api;
    }

    private static async Task<IResult> ListAsync(string? state, string? queue, string? agent, string? number, int? limit, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<CallbackService>() is not { } svc)
        {
            return Off();
        }

        IReadOnlyCollection<CallbackState>? states = null;
        if (!string.IsNullOrWhiteSpace(state))
        {
            var parsed = new List<CallbackState>();
            foreach (var name in state.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (name == "open")
                {
                    parsed.AddRange(CallbackStates.Open);
                    continue;
                }

                try
                {
                    parsed.Add(CallbackStates.Parse(name));
                }
                catch (FormatException ex)
                {
                    return Results.ValidationProblem(new Dictionary<string, string[]> { ["state"] = [ex.Message + " 'open' means every open state."] });
                }
            }

            states = parsed;
        }

        if (new[] { queue, agent, number }.Any(HasNul))
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["filter"] = ["queue, agent and number must not contain NUL characters."] });
        }

        if (limit is < 1 or > 5000)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["limit must be 1 to 5000."] });
        }

        if (user.IsInRole(ApiRoles.Name(ApiRole.Agent)))
        {
            agent = user.FindFirstValue(ApiKeyAuthentication.AgentClaim) ?? "(no agent)"; // an agent key sees only its own callbacks
        }

        var found = await svc.ListAsync(new CallbackFilter { States = states, Queue = queue, OwnerAgentId = agent, Number = number, Limit = limit ?? 500 }, ct);
        return Results.Ok(found.Select(View).ToList());
    }

    private static async Task<IResult> CreateAsync(CreateRequest body, ClaimsPrincipal user, IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<CallbackService>() is not { } svc)
        {
            return Off();
        }

        var problems = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(body.Number))
        {
            problems["number"] = ["The number to call is required."];
        }

        if (string.IsNullOrWhiteSpace(body.Queue))
        {
            problems["queue"] = ["The queue whose agents serve it is required."];
        }

        if (body.DueAt is null)
        {
            problems["dueAt"] = ["The promised time is required (ISO 8601 with offset)."];
        }

        // No mode: the queue's (callControl.queues[].callbackMode), agent-first when it names none.
        CallbackMode? mode = null;
        if (body.Mode is { } m)
        {
            try
            {
                mode = CallbackStates.ParseMode(m);
            }
            catch (FormatException)
            {
                problems["mode"] = [$"'{m}' is not a mode (agent_first, customer_first; absent: the queue's callbackMode)."];
            }
        }

        if (body.OwnerAgentId is { } owner && !user.MayActFor(owner))
        {
            problems["ownerAgentId"] = ["An agent key may create callbacks owned by itself or by the queue (no owner) only."];
        }

        if (new[] { body.Number, body.Queue, body.OwnerAgentId, body.Reason, body.CustomerName, body.Note }.Any(HasNul))
        {
            problems["request"] = ["Text fields must not contain NUL characters."];
        }

        if (problems.Count > 0)
        {
            return Results.ValidationProblem(problems);
        }

        var request = CallbackRequest.AgentScheduled(body.Number!, body.Queue!, body.DueAt!.Value, body.OwnerAgentId, body.Reason, Actor(user)) with
        {
            CustomerName = body.CustomerName, Note = body.Note, Mode = mode, Deadline = body.Deadline,
        };
        try
        {
            var ticket = await svc.CreateAsync(request, ct);
            var view = View(ticket.Callback);
            return ticket.Merged ? Results.Ok(new { merged = true, callback = view }) : Results.Created($"/api/callbacks/{view.Id}", new { merged = false, callback = view });
        }
        catch (ArgumentException ex)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["request"] = [ex.Message.Split(" (Parameter", 2)[0]] });
        }
    }

    private static async Task<IResult> WithCallbackAsync(string id, ClaimsPrincipal user, IServiceProvider services, Func<CallbackService, Callback, Task<IResult>> run, CancellationToken ct)
    {
        if (services.GetService<CallbackService>() is not { } svc)
        {
            return Off();
        }

        if (!Guid.TryParse(id, out var callbackId))
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such callback", detail: "A callback id is a UUID.");
        }

        var callback = await svc.GetAsync(callbackId, ct);
        if (callback is null || (user.IsInRole(ApiRoles.Name(ApiRole.Agent)) && (callback.OwnerAgentId is not { } owner || !user.MayActFor(owner))))
        {
            // An agent key does not learn whether another agent's callback exists.
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such callback", detail: $"No callback {callbackId} that this key may see.");
        }

        return await run(svc, callback);
    }

    private static bool HasNul(string? text) => text?.Contains('\0', StringComparison.Ordinal) == true;

    private static IResult Off() =>
        Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Callbacks are off", detail: "callbacks.enabled is false in ctibridge.json.");

    private static string Actor(ClaimsPrincipal user) =>
        user.FindFirstValue(ApiKeyAuthentication.AgentClaim) is { } agent && user.IsInRole(ApiRoles.Name(ApiRole.Agent)) ? "agent:" + agent : "api:" + (user.Identity?.Name ?? "unknown");

    internal static CallbackView View(Callback c) => new(
        c.Id, c.Number, CallbackStates.SourceName(c.Source), CallbackStates.Name(c.State), c.Queue, c.OwnerAgentId, CallbackStates.ModeName(c.Mode), c.Priority, c.Reason,
        c.CreatedAt, c.PromisedAt, c.DueAt, c.Deadline, c.Attempts, c.MaxAttempts, c.MergedRequests, c.OriginCallId, c.LastCallId, c.CustomerName, c.Note, c.ClosedAt, c.EscalatedAt);
}
