namespace CtiBridge.Asterisk.Ari;

/// <summary>Base of every error the ARI client raises; says which call (method and path) failed.</summary>
public class AriException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="method">The HTTP method, or null when no request was involved.</param>
    /// <param name="path">The request path relative to the ARI base URL (no query string), or null.</param>
    /// <param name="innerException">The cause, if any.</param>
    public AriException(string message, string? method = null, string? path = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Method = method;
        Path = path;
    }

    /// <summary>The HTTP method of the failed call, or null when no request was involved.</summary>
    public string? Method { get; }

    /// <summary>The request path relative to the ARI base URL, without the query string (e.g. <c>/channels/cust-1/answer</c>).</summary>
    public string? Path { get; }
}

/// <summary>Asterisk answered an ARI call with a non-2xx status.</summary>
public sealed class AriRequestException : AriException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="method">The HTTP method.</param>
    /// <param name="path">The request path relative to the ARI base URL.</param>
    /// <param name="statusCode">The HTTP status Asterisk returned.</param>
    /// <param name="reasonPhrase">The status line's reason phrase.</param>
    /// <param name="asteriskMessage">Asterisk's explanation (<c>message</c> or, for some 500s, <c>error</c>), or null.</param>
    /// <param name="responseBody">The raw response body (may be empty).</param>
    public AriRequestException(string method, string path, int statusCode, string? reasonPhrase, string? asteriskMessage, string responseBody)
        : base($"ARI {method} {path} failed with {statusCode} {reasonPhrase}{(asteriskMessage is null ? "" : ": " + asteriskMessage)}", method, path)
    {
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        AsteriskMessage = asteriskMessage;
        ResponseBody = responseBody;
    }

    /// <summary>The HTTP status code (400, 401, 404, 409, 412, 422, 500, ...).</summary>
    public int StatusCode { get; }

    /// <summary>The reason phrase of the status line (e.g. <c>Not Found</c>).</summary>
    public string? ReasonPhrase { get; }

    /// <summary>Asterisk's message: the <c>message</c> field, or the <c>error</c> field of the 500 shape.</summary>
    public string? AsteriskMessage { get; }

    /// <summary>The raw response body as Asterisk sent it.</summary>
    public string ResponseBody { get; }
}

/// <summary>An ARI call got no answer within <see cref="AriClientOptions.RequestTimeout"/>.</summary>
/// <param name="method">The HTTP method.</param>
/// <param name="path">The request path relative to the ARI base URL.</param>
/// <param name="timeout">The timeout that elapsed.</param>
public sealed class AriTimeoutException(string method, string path, TimeSpan timeout)
    : AriException($"ARI {method} {path} got no answer within {timeout.TotalSeconds:0.###} s", method, path, new TimeoutException())
{
    /// <summary>The timeout that elapsed.</summary>
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>The ARI server could not be reached, or the connection broke before an answer.</summary>
/// <param name="message">What went wrong.</param>
/// <param name="method">The HTTP method, if a request was involved.</param>
/// <param name="path">The request path, if a request was involved.</param>
/// <param name="innerException">The transport error.</param>
public sealed class AriConnectionException(string message, string? method, string? path, Exception? innerException)
    : AriException(message, method, path, innerException);

/// <summary>Asterisk answered 2xx but the body is not what the API description says.</summary>
/// <param name="message">What was wrong and where.</param>
/// <param name="method">The HTTP method.</param>
/// <param name="path">The request path.</param>
/// <param name="responseBody">The raw body, kept for diagnosis.</param>
/// <param name="innerException">The JSON error, if any.</param>
public sealed class AriResponseFormatException(string message, string method, string path, string responseBody, Exception? innerException)
    : AriException(message, method, path, innerException)
{
    /// <summary>The raw body Asterisk sent.</summary>
    public string ResponseBody { get; } = responseBody;
}

/// <summary>
/// Asterisk refused the events WebSocket upgrade (bad credentials, missing <c>app</c>, unknown path...).
/// These are configuration errors: the event stream stops with this exception instead of retrying.
/// </summary>
/// <param name="statusCode">The HTTP status of the refusal.</param>
/// <param name="reasonPhrase">The reason phrase.</param>
/// <param name="asteriskMessage">Asterisk's explanation, from the JSON <c>message</c> or the HTML page.</param>
/// <param name="responseBody">The raw response body.</param>
public sealed class AriWebSocketUpgradeException(int statusCode, string reasonPhrase, string? asteriskMessage, string responseBody)
    : AriException($"Asterisk refused the ARI events WebSocket with {statusCode} {reasonPhrase}{(asteriskMessage is null ? "" : ": " + asteriskMessage)}", "GET", "/events")
{
    /// <summary>The HTTP status of the refusal (401, 400, ...).</summary>
    public int StatusCode { get; } = statusCode;

    /// <summary>The reason phrase.</summary>
    public string ReasonPhrase { get; } = reasonPhrase;

    /// <summary>Asterisk's explanation, or null when the body said nothing readable.</summary>
    public string? AsteriskMessage { get; } = asteriskMessage;

    /// <summary>The raw response body.</summary>
    public string ResponseBody { get; } = responseBody;
}
