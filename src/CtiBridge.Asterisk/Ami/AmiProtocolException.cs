namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// The bytes received from Asterisk break the AMI framing rules (for example a line longer than
/// <see cref="AmiFrameParser.MaxLineLength"/>). The connection that produced them is broken and,
/// unless the client is disposed, re-established.
/// </summary>
public sealed class AmiProtocolException : Exception
{
    /// <summary>Creates the exception with a message that says what was wrong and where.</summary>
    public AmiProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public AmiProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public AmiProtocolException()
        : base("The AMI peer sent bytes that are not a valid AMI message.")
    {
    }
}
