using System.Reflection;
using System.Security.Claims;
using CtiBridge.Data.Access;
using CtiBridge.Service.Http;

namespace CtiBridge.Service.Live;

/// <summary>
/// <c>/api/events</c> (live events and screen pops, SSE), <c>/api/wallboard</c> (snapshot and its
/// SSE stream), <c>/api/calls</c> (live calls) and the wallboard page itself under <c>/wallboard/</c>.
/// </summary>
public static class LiveEndpoints
{
    /// <summary>A live call as the API shows it.</summary>
    public sealed record LiveCallView(
        string CallId, string Queue, string State, string? AgentId, DateTimeOffset EnqueuedAt, DateTimeOffset? AnsweredAt,
        string? CallerNumber, string? CallerName, string? Did);

    private static readonly Dictionary<string, string> WallboardFiles = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["wallboard.js"] = "text/javascript; charset=utf-8",
        ["wallboard.css"] = "text/css; charset=utf-8",
    };

    /// <summary>Maps the API endpoints under <paramref name="api"/>.</summary>
    public static RouteGroupBuilder MapLiveEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/events", StreamEventsAsync).RequireAuthorization(ApiRoles.LiveEvents).WithTags("live")
            .WithSummary("Live call and agent events with screen pops (text/event-stream); an agent key receives only its own agent's events.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        api.MapGet("/wallboard", (IServiceProvider services) => services.GetService<WallboardFeed>() is { } feed
                ? Results.Bytes(feed.Current.Json, "application/json")
                : CallControlOff())
            .RequireAuthorization(ApiRoles.ReadReports).WithTags("live").WithSummary("The wallboard's current snapshot: every queue and agent.");
        api.MapGet("/wallboard/stream", StreamWallboardAsync).RequireAuthorization(ApiRoles.ReadReports).WithTags("live")
            .WithSummary("The wallboard snapshot, sent again after every change (text/event-stream, event 'snapshot').")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        api.MapGet("/calls", (IServiceProvider services) => services.GetService<LiveEventHub>() is { } hub
                ? Results.Ok(hub.LiveCalls().Select(c => new LiveCallView(
                    c.CallId, c.Queue, c.State.ToString(), c.AgentId, c.EnqueuedAt, c.AnsweredAt, c.Caller.CallerNumber, c.Caller.CallerName, c.Caller.Did)).ToList())
                : CallControlOff())
            .RequireAuthorization(ApiRoles.LiveViews).WithTags("calls").WithSummary("Calls in the ACD now: waiting, ringing an agent, or connected.");
        return api;
    }

    /// <summary>Maps the wallboard page (static files, no key needed: the page asks for one and holds no data itself).</summary>
    public static WebApplication MapWallboardPage(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/wallboard/{file?}", (string? file, HttpRequest request) =>
        {
            if (file is null && !request.Path.Value!.EndsWith('/'))
            {
                // The page's relative links (wallboard.js) need the trailing slash.
                return Results.Redirect("/wallboard/");
            }

            file ??= "index.html";
            if (!WallboardFiles.TryGetValue(file, out var contentType))
            {
                return Results.NotFound();
            }

            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("wallboard/" + file)
                ?? throw new InvalidOperationException($"The wallboard file {file} is not embedded in the build.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return Results.Bytes(copy.ToArray(), contentType);
        }).ExcludeFromDescription();
        return app;
    }

    // A stream ends when its client goes or the service starts stopping. The web server waits for open
    // requests before the other parts stop, so a stream left open (a wallboard, or a client that no
    // longer reads) would hold the stop for the whole shutdown timeout, after which the call-record
    // writer is cancelled and records not yet written are lost (fault suite, docs/reliability.md).
    private static CancellationTokenSource EndsWithTheService(HttpContext context, IServiceProvider services) =>
        CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);

    private static async Task<IResult> StreamEventsAsync(HttpContext context, string? agentId, string? types, IServiceProvider services, TimeProvider time)
    {
        var user = context.User;
        if (services.GetService<LiveEventHub>() is not { } hub)
        {
            return CallControlOff();
        }

        if (user.IsInRole(ApiRoles.Name(ApiRole.Agent)))
        {
            var own = user.FindFirstValue(ApiKeyAuthentication.AgentClaim);
            if (agentId is not null && agentId != own)
            {
                return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not your agent", detail: "An agent key receives only its own agent's events.");
            }

            agentId = own;
        }

        var wanted = types?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        using var subscription = hub.Subscribe(e => (agentId is null || e.AgentId == agentId) && (wanted is null || wanted.Contains(e.Type)));
        using var ended = EndsWithTheService(context, services);
        var ct = ended.Token;
        try
        {
            await ServerSentEvents.StartAsync(context.Response, ct);
            await ServerSentEvents.PumpAsync(context.Response, subscription.Reader, time, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        return Results.Empty;
    }

    private static async Task<IResult> StreamWallboardAsync(HttpContext context, IServiceProvider services, TimeProvider time)
    {
        if (services.GetService<WallboardFeed>() is not { } feed)
        {
            return CallControlOff();
        }

        using var ended = EndsWithTheService(context, services);
        var ct = ended.Token;
        try
        {
            await ServerSentEvents.StartAsync(context.Response, ct);
            var version = 0L;
            while (true)
            {
                var next = feed.NextAsync(version, ct);
                if (!await ServerSentEvents.WaitOrHeartbeatAsync(context.Response, async () => { await next; return true; }, time, ct))
                {
                    break;
                }

                var snapshot = await next;
                version = snapshot.Version;
                await ServerSentEvents.WriteAsync(context.Response, "snapshot", System.Text.Encoding.UTF8.GetString(snapshot.Json), ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        return Results.Empty;
    }

    private static IResult CallControlOff() =>
        Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Call control is off", detail: "ctibridge.json has no callControl section, so there are no queues, agents or calls.");
}
