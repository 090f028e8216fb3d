using Microsoft.Extensions.Logging;

namespace CtiBridge.Asterisk.Ami;

/// <summary>The AMI client's log messages (stable event ids 4100-4199). Never pass a secret here.</summary>
internal static partial class AmiLog
{
    [LoggerMessage(4100, LogLevel.Information, "AMI connecting to {Host}:{Port} (attempt {ConnectionNumber})")]
    public static partial void Connecting(ILogger logger, string host, int port, int connectionNumber);

    [LoggerMessage(4101, LogLevel.Information, "AMI connected to {Host}:{Port} as {Username} ({ProtocolVersion}, connection {ConnectionNumber})")]
    public static partial void Connected(ILogger logger, string host, int port, string username, string? protocolVersion, int connectionNumber);

    [LoggerMessage(4102, LogLevel.Warning, "AMI connection {ConnectionNumber} to {Host}:{Port} ended: {Reason}")]
    public static partial void Disconnected(ILogger logger, int connectionNumber, string host, int port, string reason, Exception? exception);

    [LoggerMessage(4103, LogLevel.Error, "AMI login to {Host}:{Port} as {Username} refused: {AsteriskMessage}")]
    public static partial void LoginRefused(ILogger logger, string host, int port, string username, string? asteriskMessage);

    [LoggerMessage(4104, LogLevel.Information, "AMI reconnecting to {Host}:{Port} in {Delay}")]
    public static partial void ReconnectScheduled(ILogger logger, string host, int port, TimeSpan delay);

    [LoggerMessage(4105, LogLevel.Warning, "AMI response for ActionID {ActionId} matches no pending action (late after a timeout or cancellation); dropped: {Response} {Text}")]
    public static partial void UnmatchedResponseDropped(ILogger logger, string? actionId, string? response, string? text);

    [LoggerMessage(4106, LogLevel.Warning, "AMI action {Action} ({ActionId}) timed out after {Timeout}")]
    public static partial void ActionTimedOut(ILogger logger, string action, string actionId, TimeSpan timeout);

    [LoggerMessage(4107, LogLevel.Error, "AMI event subscription {Subscription} holds {Backlog} unread events, {BacklogBytes} bytes (limits {Limit} events, {ByteLimit} bytes); breaking the connection to resync instead of dropping events")]
    public static partial void BacklogOverflow(ILogger logger, int subscription, long backlog, long backlogBytes, int limit, long byteLimit);

    [LoggerMessage(4108, LogLevel.Error, "AMI client stopped after {Attempts} failed connection attempts to {Host}:{Port}")]
    public static partial void GaveUp(ILogger logger, int attempts, string host, int port);

    [LoggerMessage(4109, LogLevel.Warning, "AMI keep-alive Ping to {Host}:{Port} unanswered for {Timeout}; breaking the connection")]
    public static partial void KeepAliveFailed(ILogger logger, string host, int port, TimeSpan timeout);

    [LoggerMessage(4110, LogLevel.Information, "AMI logged off from {Host}:{Port} ({Response})")]
    public static partial void LoggedOff(ILogger logger, string host, int port, string? response);

    [LoggerMessage(4111, LogLevel.Debug, "AMI Logoff to {Host}:{Port} got no answer before closing: {Reason}")]
    public static partial void LogoffUnanswered(ILogger logger, string host, int port, string reason);
}
