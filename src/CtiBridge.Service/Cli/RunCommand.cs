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
        // Taken before the run: when a part fails during the start, the host is disposed before RunAsync throws.
        var parts = app.Services.GetServices<IHostedService>().OfType<BackgroundService>().ToList();
        Exception? thrown = null;
        try
        {
            await app.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            thrown = ex; // a part failed during the start (the start is then cancelled): said below with the part's name when it is known
        }

        // A part that failed (at start or later) stops the host, which then returns as after a normal stop: without
        // this the process exited 0 and systemd (Restart=on-failure) and an operator took it for a clean stop.
        var failed = FailedParts(parts);
        if (failed.Count == 0 && thrown is not null)
        {
            failed.Add(("the service", thrown));
        }

        if (failed.Count > 0)
        {
            foreach (var (part, exception) in failed)
            {
                await error.WriteLineAsync($"ctibridge: stopped because {part} failed: {exception.GetBaseException().Message}").ConfigureAwait(false);
            }

            return Environment.ExitCode is 0 ? FailedExitCode : Environment.ExitCode;
        }

        return Environment.ExitCode;
    }

    /// <summary>The exit code when a part of the service failed and stopped it.</summary>
    public const int FailedExitCode = 1;

    /// <summary>
    /// The exit code when the instance lost its call-control lease and stopped (docs/high-availability.md): not 0, so
    /// systemd's <c>Restart=on-failure</c> starts it again as a standby, and not 2 or 3, which the unit does not restart.
    /// </summary>
    public const int LeaseLostExitCode = 4;

    /// <summary>The background parts whose run ended with an exception (not a cancellation at the stop).</summary>
    internal static List<(string Part, Exception Exception)> FailedParts(IEnumerable<BackgroundService> parts) =>
        [.. parts
            .Where(s => s.ExecuteTask is { IsFaulted: true })
            .Select(s => (s.GetType().Name, (Exception)s.ExecuteTask!.Exception!))];
}
