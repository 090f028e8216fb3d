using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/config/…</c> (admin): apply a changed configuration without a restart, checked as at
/// start-up. A rejected one changes nothing and answers <c>422</c> with one line per problem.
/// </summary>
public static class ConfigurationEndpoints
{
    /// <summary>The answer to an applied configuration.</summary>
    /// <param name="Applied">Always true (a rejection is a problem document).</param>
    /// <param name="RestartNeeded">Changed settings that take effect only after a restart (their running values stay until then).</param>
    /// <param name="Message">The outcome in one sentence, naming what waits for a restart.</param>
    /// <param name="Notes">What else happened (campaigns stored, kept, waiting for the database), one line each.</param>
    public sealed record ReloadView(bool Applied, IReadOnlyList<string> RestartNeeded, string Message, IReadOnlyList<string> Notes);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapConfigurationEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var config = api.MapGroup("/config").RequireAuthorization(ApiRoles.AdminOnly).WithTags("configuration");
        config.MapPost("/reload", async (ConfigurationReload reload, CancellationToken ct) =>
        {
            if (reload.FilePath is null)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "No configuration file",
                    detail: "The service was not started from a configuration file (ctibridge run --config FILE); there is nothing to reload.");
            }

            return Answer(await reload.ReloadFileAsync(ct));
        }).WithSummary("Read the configuration file again and apply what can change live (queues, agents, DIDs, IVR plans, calendars, campaigns).");
        config.MapPut("/call-control", async (HttpRequest request, ConfigurationReload reload, CancellationToken ct) =>
        {
            byte[] body;
            try
            {
                using var buffer = new MemoryStream();
                await request.Body.CopyToAsync(buffer, ct);
                body = buffer.ToArray();
            }
            catch (BadHttpRequestException ex)
            {
                // Over the body size limit (413) or a broken upload: the server's own verdict.
                return Results.Problem(statusCode: ex.StatusCode, title: "Unreadable request body", detail: $"The body could not be read whole (limit {HttpExtensions.MaxRequestBodyBytes} bytes).");
            }

            // Strict: a bad byte replaced by U+FFFD would go live as a mangled queue or agent name.
            if (Utf8Position.FirstInvalid(body) is { } where)
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Body not UTF-8",
                    detail: $"request body: {where} is not valid UTF-8; send the callControl section as UTF-8 JSON. The running configuration stays.");
            }

            return Answer(await reload.ApplyCallControlAsync(System.Text.Encoding.UTF8.GetString(body), ct));
        }).Accepts<object>("application/json")
            .WithSummary("Replace the running callControl section (queues, agents, DIDs, IVR plans, calendars) with the body; the file is not changed.");
        return api;
    }

    private static IResult Answer(ConfigurationReloadResult result) => result.Applied
        ? Results.Ok(new ReloadView(true, result.RestartNeeded, result.Message, result.Notes))
        : Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Configuration rejected",
            detail: $"{result.Problems.Count} problem(s); the running configuration stays.",
            extensions: new Dictionary<string, object?> { ["problems"] = result.Problems });
}
