namespace CtiBridge.Core.Dialer;

/// <summary>A campaign, lead or policy setting is invalid; <see cref="Errors"/> lists every problem found.</summary>
public sealed class DialerConfigurationException : Exception
{
    /// <summary>Creates the exception from the list of problems (each names the setting and the bad value).</summary>
    public DialerConfigurationException(IReadOnlyList<string> errors)
        : base("Invalid dialer configuration: " + string.Join("; ", errors))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, one per entry.</summary>
    public IReadOnlyList<string> Errors { get; }
}
