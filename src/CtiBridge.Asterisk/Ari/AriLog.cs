using Microsoft.Extensions.Logging;

namespace CtiBridge.Asterisk.Ari;

/// <summary>The ARI client's log messages (source-generated, stable event ids 5100-5199). No message carries a password.</summary>
internal static partial class AriLog
{
    [LoggerMessage(5100, LogLevel.Debug, "ARI {Method} {Path} answered {StatusCode} in {ElapsedMs:0.0} ms")]
    public static partial void RequestCompleted(ILogger logger, string method, string path, int statusCode, double elapsedMs);

    [LoggerMessage(5101, LogLevel.Warning, "ARI {Method} {Path} failed with {StatusCode}: {AsteriskMessage}")]
    public static partial void RequestFailed(ILogger logger, string method, string path, int statusCode, string? asteriskMessage);

    [LoggerMessage(5102, LogLevel.Warning, "ARI {Method} {Path} got no answer within {TimeoutMs} ms")]
    public static partial void RequestTimedOut(ILogger logger, string method, string path, double timeoutMs);

    // The reason only, not the stack: an unreachable Asterisk is an operating condition (logged on
    // every readiness probe while it lasts), not a bug to debug.
    [LoggerMessage(5103, LogLevel.Warning, "ARI {Method} {Path} could not reach Asterisk: {Reason}")]
    public static partial void RequestTransportFailed(ILogger logger, string method, string path, string reason);

    [LoggerMessage(5110, LogLevel.Information, "ARI events WebSocket connected to {Endpoint} for applications {Applications}")]
    public static partial void EventsConnected(ILogger logger, string endpoint, string applications);

    [LoggerMessage(5111, LogLevel.Warning, "ARI events WebSocket lost: {Reason}")]
    public static partial void EventsDisconnected(ILogger logger, string reason);

    [LoggerMessage(5112, LogLevel.Information, "ARI events WebSocket reconnect attempt {Attempt} in {DelayMs:0} ms")]
    public static partial void EventsReconnectScheduled(ILogger logger, int attempt, double delayMs);

    [LoggerMessage(5113, LogLevel.Warning, "ARI events WebSocket connect attempt {Attempt} failed: {Reason}")]
    public static partial void EventsConnectFailed(ILogger logger, int attempt, string reason);

    [LoggerMessage(5114, LogLevel.Error, "ARI events WebSocket refused by Asterisk with {StatusCode}: {AsteriskMessage}")]
    public static partial void EventsUpgradeRejected(ILogger logger, int statusCode, string? asteriskMessage);

    [LoggerMessage(5115, LogLevel.Warning, "ARI event could not be decoded ({Error}); delivered as undecodable, {Length} bytes kept")]
    public static partial void EventUndecodable(ILogger logger, string error, int length);

    [LoggerMessage(5116, LogLevel.Debug, "ARI event type {Type} is not in the API description; delivered raw")]
    public static partial void EventTypeUnknown(ILogger logger, string type);

    [LoggerMessage(5117, LogLevel.Warning, "ARI events WebSocket silent for {SilentMs:0} ms after a ping; replacing the connection")]
    public static partial void EventsPongMissing(ILogger logger, double silentMs);
}
