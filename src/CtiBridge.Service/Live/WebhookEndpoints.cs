using System.Security.Claims;
using CtiBridge.Data.Webhooks;
using CtiBridge.Service.Http;

namespace CtiBridge.Service.Live;

/// <summary><c>/api/webhooks/dead-letters</c>: webhook events given up after every retry, and their replay (admin).</summary>
public static class WebhookEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapWebhookEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var letters = api.MapGroup("/webhooks/dead-letters").RequireAuthorization(ApiRoles.AdminOnly).WithTags("webhooks");
        letters.MapGet("/", async (string? webhook, bool? includeReplayed, int? limit, WebhookDeadLetters store, CancellationToken ct) =>
        {
            if (limit is < 1 or > 10_000)
            {
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = ["'limit' must be between 1 and 10000."] });
            }

            return Results.Ok(await store.ListAsync(webhook, includeReplayed ?? false, limit ?? 1000, ct));
        }).WithSummary("Webhook events not delivered after every retry, newest first (replayed ones with includeReplayed=true).");
        // The id is checked here, not by a route constraint, so a bad id is still authorized first (401/403 before 404).
        letters.MapPost("/{id}/replay", async (string id, WebhookDeadLetters store, IServiceProvider services, ClaimsPrincipal user, TimeProvider time, CancellationToken ct) =>
        {
            var letter = long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
                ? await store.GetAsync(number, ct)
                : null;
            if (letter is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such dead letter", detail: "No webhook dead letter has that id (a whole number from GET /api/webhooks/dead-letters).");
            }

            if (letter.ReplayedAt is { } replayedAt)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already replayed", detail: $"Dead letter {number} was delivered by a replay at {replayedAt:O}.");
            }

            if (services.GetService<WebhookDispatcher>() is not { } dispatcher)
            {
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Webhooks are off", detail: "Call control or the webhooks section is not configured, so nothing can be sent.");
            }

            var (delivered, error) = await dispatcher.ReplayAsync(letter, ct);
            if (!delivered)
            {
                await store.MarkReplayFailedAsync(number, error!, ct);
                return Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "The receiver did not take it", detail: $"Webhook '{letter.Webhook}': {error}");
            }

            await store.MarkReplayedAsync(number, time.GetUtcNow(), user.Identity!.Name!, ct);
            return Results.Ok(await store.GetAsync(number, ct));
        }).WithSummary("Send a dead letter once more (signed now, same delivery id); 502 with the reason if the receiver still refuses.");
        return api;
    }
}
