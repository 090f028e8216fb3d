using CtiBridge.Service.CallControl;
using Microsoft.AspNetCore.Diagnostics;

namespace CtiBridge.Service.Http;

/// <summary>
/// A call-control request to an instance that does not control calls (an HA standby, starting or
/// stopping) answers 503 with <c>Retry-After</c> and the reason, so the client or the load balancer
/// goes to the active instance instead of waiting.
/// </summary>
internal sealed class CallControlUnavailableHandler(IProblemDetailsService problems) : IExceptionHandler
{
    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not CallControlUnavailableException unavailable)
        {
            return false;
        }

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = StatusCodes.Status503ServiceUnavailable, Title = "Call control is not on this instance", Detail = unavailable.Message },
        }).ConfigureAwait(false);
    }
}
