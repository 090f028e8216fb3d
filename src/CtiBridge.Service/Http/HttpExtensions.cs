using System.Security.Claims;
using System.Threading.RateLimiting;
using CtiBridge.Data.Access;
using CtiBridge.Service.Live;
using Microsoft.AspNetCore.Authentication;

namespace CtiBridge.Service.Http;

/// <summary>The HTTP API part: authentication by API key, roles, audit, problem details, limits, OpenAPI.</summary>
public static class HttpExtensions
{
    /// <summary>Requests allowed per key (or per address without a key) per minute before 429.</summary>
    public const int RequestsPerMinute = 600;

    /// <summary>Largest request body accepted (bytes); lead uploads (POST /api/campaigns/{id}/leads) take up to 64 MiB, larger files go through the CLI.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>Registers the API's services.</summary>
    public static WebApplicationBuilder AddCtiBridgeHttp(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        var services = builder.Services;
        services.AddSingleton<ApiKeyStore>();
        services.AddSingleton<AuditLog>();
        services.AddAuthentication(ApiKeyAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthentication>(ApiKeyAuthentication.SchemeName, null);
        services.AddAuthorizationBuilder().AddCtiBridgePolicies();
        services.AddProblemDetails();
        services.AddExceptionHandler<CallControlUnavailableHandler>();
        // A parameter the endpoints' binding refuses throws, so BadRequestParameterHandler answers a 400 naming it.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestParameterHandler>();
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.GetFixedWindowLimiter(
                    context.User.FindFirstValue(ApiKeyAuthentication.KeyIdClaim) ?? context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = RequestsPerMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
        });
        services.AddOpenApi("v1", options => options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "CtiBridge API";
            document.Info.Description = "Call-center middleware for Asterisk. Authenticate with 'Authorization: Bearer ctb_...' (see docs/api.md).";
            // The document describes the API, not the address it was fetched from.
            document.Servers?.Clear();
            return Task.CompletedTask;
        }));
        return builder;
    }

    /// <summary>Adds the middleware and maps the endpoints under <c>/api</c>.</summary>
    public static WebApplication MapCtiBridgeApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseRateLimiter();
        // Before authorization, so refused attempts are audited too; after the rate limiter, so a
        // flood of rejected requests does not become a flood of audit rows.
        app.UseMiddleware<AuditTrail>();
        app.UseAuthorization();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGroup("/api").MapAccessEndpoints().MapAgentEndpoints().MapQueueEndpoints().MapLiveEndpoints().MapCentreWallboard()
            .MapSupervisorEndpoints().MapSupervisionEndpoints().MapAgentCallEndpoints().MapReportEndpoints().MapClickToDialEndpoints().MapWebhookEndpoints()
            .MapConfigurationEndpoints().MapDialerEndpoints().MapCallbackEndpoints().MapCustomerEndpoints();
        return app;
    }
}
