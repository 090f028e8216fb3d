namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// Asterisk refused the login (wrong secret, unknown user, MD5 key mismatch). The client does not
/// retry in a tight loop: it waits at least <see cref="AmiClientOptions.LoginFailureRetryDelay"/>.
/// The message names the user and Asterisk's reason, never the secret.
/// </summary>
public sealed class AmiLoginException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AmiLoginException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public AmiLoginException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public AmiLoginException()
        : base("Asterisk refused the AMI login.")
    {
    }
}

/// <summary>
/// The AMI connection is not available or broke while an action was pending. Every action pending
/// on a broken connection fails with this exception; <see cref="Exception.InnerException"/> is the
/// reason the connection broke (peer closed, protocol error, keep-alive timeout, backlog overflow...).
/// </summary>
public sealed class AmiConnectionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AmiConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the reason the connection broke.</summary>
    public AmiConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public AmiConnectionException()
        : base("The AMI connection is not available.")
    {
    }
}

/// <summary>
/// An action got no (complete) response within its timeout, counted from when it was written to
/// the socket. A response arriving later is logged and dropped, never matched to another action.
/// </summary>
public sealed class AmiActionTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public AmiActionTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public AmiActionTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public AmiActionTimeoutException()
        : base("The AMI action timed out.")
    {
    }
}

/// <summary>Asterisk answered an action with <c>Response: Error</c> (thrown by the typed helpers).</summary>
public sealed class AmiActionException : Exception
{
    /// <summary>Creates the exception for an error response.</summary>
    public AmiActionException(string action, AmiMessage response)
        : base($"Asterisk answered AMI action {action} with an error: {response?.Text ?? "(no message)"}")
    {
        ArgumentNullException.ThrowIfNull(response);
        Action = action;
        Response = response;
    }

    /// <summary>Creates the exception.</summary>
    public AmiActionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public AmiActionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public AmiActionException()
        : base("Asterisk answered an AMI action with an error.")
    {
    }

    /// <summary>The action's name (e.g. <c>Hangup</c>).</summary>
    public string? Action { get; }

    /// <summary>The error response, with Asterisk's <c>Message</c>.</summary>
    public AmiMessage? Response { get; }
}

/// <summary>
/// A subscription's unread events reached <see cref="AmiClientOptions.EventBacklogLimit"/>: the
/// client broke the connection rather than drop events or grow memory without bound. The reason
/// of the disconnect; the subscription receives a resync signal after the reconnect.
/// </summary>
public sealed class AmiEventBacklogException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AmiEventBacklogException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public AmiEventBacklogException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public AmiEventBacklogException()
        : base("An AMI event subscription fell too far behind.")
    {
    }
}
