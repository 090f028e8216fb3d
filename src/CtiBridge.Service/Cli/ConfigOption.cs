using System.CommandLine;

namespace CtiBridge.Service.Cli;

/// <summary>The <c>--config</c> option shared by the commands that read ctibridge.json.</summary>
public static class ConfigOption
{
    /// <summary>Where the service looks when <c>--config</c> is not given.</summary>
    public const string DefaultPath = "/etc/ctibridge/ctibridge.json";

    /// <summary>Creates the option.</summary>
    public static Option<string> Create() => new("--config", "-f")
    {
        Description = $"Path of ctibridge.json (default {DefaultPath}).",
        DefaultValueFactory = _ => DefaultPath,
    };
}
