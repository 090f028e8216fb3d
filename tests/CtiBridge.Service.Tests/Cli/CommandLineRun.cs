using System.CommandLine;
using CtiBridge.Service.Cli;

namespace CtiBridge.Service.Tests.Cli;

/// <summary>Runs the <c>ctibridge</c> command line in-process, the way an admin would, capturing what it prints.</summary>
internal static class CommandLineRun
{
    /// <summary>Runs <c>ctibridge args…</c>; returns its exit code, standard output and standard error.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await CtiBridgeCommandLine.Build().Parse(args)
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>Runs <c>ctibridge args… --connection <paramref name="connectionString"/></c>.</summary>
    public static Task<(int ExitCode, string Output, string Error)> AgainstAsync(string connectionString, params string[] args) =>
        RunAsync([.. args, "--connection", connectionString]);
}
