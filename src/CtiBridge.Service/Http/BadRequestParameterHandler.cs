using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;

namespace CtiBridge.Service.Http;

/// <summary>
/// Every request the endpoints' parameter binding refuses (a query or route value of the wrong type, a
/// required one missing, a body that is not JSON of the expected shape) answers 400 with a problem body
/// that names the parameter and what was wrong — e.g. <c>query parameter 'limit': 'abc' is not a whole
/// number</c> — instead of ASP.NET's bare 400. One place for every endpoint: the minimal-API binding is
/// set to throw (<see cref="RouteHandlerOptions.ThrowOnBadRequest"/>) and this handler answers the
/// <see cref="BadHttpRequestException"/>. Other such exceptions (a body over the size limit) keep their
/// own status with the server's message.
/// </summary>
internal sealed partial class BadRequestParameterHandler(IProblemDetailsService problems) : IExceptionHandler
{
    private const int ShownValueLength = 60;

    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }

        var (name, problem) = Describe(httpContext, bad);
        httpContext.Response.StatusCode = bad.StatusCode;
        var details = name is null
            ? new Microsoft.AspNetCore.Mvc.ProblemDetails()
            : new HttpValidationProblemDetails(new Dictionary<string, string[]> { [name] = [problem] });
        details.Status = bad.StatusCode;
        details.Title = bad.StatusCode == StatusCodes.Status400BadRequest ? "Bad request parameter" : null;
        details.Detail = name is null ? problem : $"{Source(httpContext, name)} '{name}': {problem}";
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = details }).ConfigureAwait(false);
    }

    // The parameter the binding refused (null when the message names none) and what was wrong with it.
    private static (string? Name, string Problem) Describe(HttpContext context, BadHttpRequestException bad)
    {
        var message = bad.Message;
        if (FailedToBind().Match(message) is { Success: true } failed)
        {
            var name = failed.Groups["name"].Value;
            var value = RawValue(context, name) ?? failed.Groups["value"].Value;
            return (name, $"{Shown(value)} is not {Expected(ParameterType(context, name))}");
        }

        if (NotProvided().Match(message) is { Success: true } missing)
        {
            return missing.Groups["source"].Value == "body"
                ? (null, "request body: missing; this request takes a JSON body")
                : (missing.Groups["name"].Value, "is required");
        }

        if (NotJson().IsMatch(message) || bad.InnerException is JsonException)
        {
            var where = bad.InnerException is JsonException { Path: { } path } json
                ? string.Create(CultureInfo.InvariantCulture, $" at {path} (line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1})")
                : string.Empty;
            return (null, $"request body: not JSON of the shape this request takes{where}");
        }

        if (ImplicitBody().IsMatch(message))
        {
            return (null, "request body: missing; this request takes a JSON body");
        }

        // Kestrel's own refusals (body too large, ...) say what and which limit, without internals.
        return (null, message);
    }

    // 'abc' as sent, shortened and with control characters shown as \uXXXX (a NUL must not reach the client raw).
    private static string Shown(string value)
    {
        var text = new StringBuilder("'");
        foreach (var c in value.Length > ShownValueLength ? value[..ShownValueLength] : value)
        {
            text.Append(char.IsControl(c) ? string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : c.ToString());
        }

        text.Append(value.Length > ShownValueLength ? $"…' ({value.Length} characters)" : "'");
        return text.ToString();
    }

    private static string? RawValue(HttpContext context, string name) =>
        context.GetRouteValue(name) is { } route ? Convert.ToString(route, CultureInfo.InvariantCulture)
        : context.Request.Query.TryGetValue(name, out var query) ? query.ToString()
        : null;

    private static string Source(HttpContext context, string name) =>
        context.GetEndpoint() is RouteEndpoint route && route.RoutePattern.GetParameter(name) is not null ? "route parameter"
        : "query parameter";

    // The handler's parameter of that name (the endpoint's delegate is in its metadata).
    private static Type? ParameterType(HttpContext context, string name) =>
        context.GetEndpoint()?.Metadata.GetMetadata<MethodInfo>()?.GetParameters()
            .FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.ParameterType;

    private static string Expected(Type? type)
    {
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            null => "a valid value",
            _ when type == typeof(int) => "a whole number from -2147483648 to 2147483647",
            _ when type == typeof(long) => "a whole number from -9223372036854775808 to 9223372036854775807",
            _ when type == typeof(short) => "a whole number from -32768 to 32767",
            _ when type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(byte) => "a whole number, 0 or more, within range",
            _ when type == typeof(double) || type == typeof(float) || type == typeof(decimal) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(DateTimeOffset) || type == typeof(DateTime) => "a date and time (ISO 8601, e.g. 2026-12-01 or 2026-12-01T08:00:00Z)",
            _ when type == typeof(DateOnly) => "a date (yyyy-mm-dd)",
            _ when type == typeof(TimeOnly) => "a time of day (hh:mm or hh:mm:ss)",
            _ when type == typeof(TimeSpan) => "a duration (hh:mm:ss)",
            _ when type == typeof(Guid) => "a UUID",
            { IsEnum: true } => "one of " + string.Join(", ", Enum.GetNames(type)),
            _ => "a valid " + type.Name,
        };
    }

    // The minimal-API binding's messages (RequestDelegateFactory): a value that did not parse, a required one missing.
    [GeneratedRegex("""^Failed to bind parameter "(?<type>.+) (?<name>[^ "]+)" from "(?<value>.*)"\.$""", RegexOptions.Singleline)]
    private static partial Regex FailedToBind();

    [GeneratedRegex("""^Required parameter "(?<type>.+) (?<name>[^ "]+)" was not provided from (?<source>[a-z ]+)""")]
    private static partial Regex NotProvided();

    [GeneratedRegex("""^Failed to read parameter ".+" from the request body""")]
    private static partial Regex NotJson();

    [GeneratedRegex("""^Implicit body inferred for parameter""")]
    private static partial Regex ImplicitBody();
}
