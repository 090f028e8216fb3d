namespace CtiBridge.Service.Configuration;

/// <summary>One thing wrong with the configuration: the setting's path and why.</summary>
/// <param name="Path">The setting, as written in ctibridge.json: <c>asterisk[0].ami.port</c>.</param>
/// <param name="Message">What is wrong and, where possible, how to fix it.</param>
public sealed record SettingsProblem(string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => string.IsNullOrEmpty(Path) ? Message : $"{Path}: {Message}";
}

/// <summary>The configuration cannot be used; <see cref="Problems"/> lists every reason, one per line.</summary>
public sealed class SettingsException : Exception
{
    /// <summary>Creates the exception from the problems found.</summary>
    public SettingsException(IReadOnlyList<SettingsProblem> problems)
        : base("The configuration is not valid:" + Environment.NewLine + string.Join(Environment.NewLine, (problems ?? []).Select(p => "  " + p)))
    {
        Problems = problems ?? [];
    }

    /// <summary>Creates the exception with a single message.</summary>
    public SettingsException(string message) : base(message)
    {
        Problems = [new SettingsProblem(string.Empty, message)];
    }

    /// <summary>Creates the exception with no problems listed.</summary>
    public SettingsException() : this("The configuration is not valid.")
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public SettingsException(string message, Exception innerException) : base(message, innerException)
    {
        Problems = [new SettingsProblem(string.Empty, message)];
    }

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<SettingsProblem> Problems { get; }
}
