using System.Security.Claims;
using CtiBridge.Data.Access;

namespace CtiBridge.Service.Http;

/// <summary>
/// Writes one audit row for every state-changing request (POST, PUT, PATCH, DELETE) once it has
/// been answered, whatever the outcome — refused attempts are audited too.
/// </summary>
public sealed partial class AuditTrail(RequestDelegate next, AuditLog audit, TimeProvider timeProvider, ILogger<AuditTrail> logger)
{
    /// <summary>Runs the request, then records it.</summary>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) || HttpMethods.IsOptions(context.Request.Method))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        // A parameter the binding refused throws (BadRequestParameterHandler answers it further out): the audit row
        // gets the status that request is answered with, not the 200 the response still has here.
        int? refusedWith = null;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex)
        {
            refusedWith = ex.StatusCode;
            throw;
        }
        finally
        {
            var user = context.User;
            var entry = new AuditEntry(
                timeProvider.GetUtcNow(),
                user.Identity?.IsAuthenticated == true ? user.Identity.Name! : "anonymous",
                user.FindFirstValue(ClaimTypes.Role),
                $"{context.Request.Method} {context.Request.Path}",
                context.GetRouteValue("id")?.ToString() ?? context.GetRouteValue("agentId")?.ToString(),
                refusedWith ?? context.Response.StatusCode,
                context.Connection.RemoteIpAddress?.ToString());
            try
            {
                // The request's own token may be cancelled by now; the audit row must still be written.
                await audit.WriteAsync(entry, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Npgsql.NpgsqlException ex)
            {
                LogAuditFailed(logger, entry.Action, entry.Actor, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Error, Message = "Could not write the audit row for {Action} by {Actor}: {Reason}")]
    private static partial void LogAuditFailed(ILogger logger, string action, string actor, string reason);
}
