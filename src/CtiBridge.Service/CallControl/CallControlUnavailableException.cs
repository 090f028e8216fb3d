namespace CtiBridge.Service.CallControl;

/// <summary>
/// This instance does not control calls now (a standby waiting for the lease, starting, or
/// stopped): a request for call control is refused at once rather than left waiting. The HTTP API
/// answers it with 503 and <c>Retry-After</c>, so a client or load balancer goes to the active instance.
/// </summary>
public sealed class CallControlUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception with the reason.</summary>
    public CallControlUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a default reason.</summary>
    public CallControlUnavailableException()
        : this("This CtiBridge instance does not control calls now.")
    {
    }

    /// <summary>Creates the exception with the reason and its cause.</summary>
    public CallControlUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
