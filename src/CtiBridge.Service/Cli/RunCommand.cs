using System.CommandLine;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge run</c>: runs the service until stopped (SIGTERM / Ctrl+C).</summary>
public static class RunCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var config = ConfigOption.Create();
        var command = new Command("run", "Run the CtiBridge service (under systemd or in a terminal).")
        {
            config,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse.GetValue(config)!, parse.InvocationConfiguration.Error, cancellationToken));
        return command;
    }

    internal static async Task<int> RunAsync(string path, TextWriter error, CancellationToken cancellationToken)
    {
        CtiBridgeSettings settings;
        try
        {
            settings = SettingsLoader.Load(path);
        }
        catch (SettingsException ex)
        {
            await error.WriteLineAsync($"ctibridge: not starting, {path} has {ex.Problems.Count} problem(s):").ConfigureAwait(false);
            foreach (var problem in ex.Problems)
            {
                await error.WriteLineAsync("  " + problem).ConfigureAwait(false);
            }

            return 2;
        }

        await using var app = CtiBridgeHost.Build(settings, configurationFile: path);
        await app.RunAsync(cancellationToken).ConfigureAwait(false);
        return Environment.ExitCode;
    }
}
