using CtiBridge.Service.CallControl;

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
                DefinitionsVersion: 1)).ToList());
        }).RequireAuthorization(ApiRoles.ReadReports).WithTags("queues").WithSummary("Every queue's live state and today's figures (docs/metrics.md v1).");
        return api;
    }
}
