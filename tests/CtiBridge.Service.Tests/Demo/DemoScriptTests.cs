using System.Diagnostics;
using System.Text;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Demo;

/// <summary>
/// scripts/demo.sh end to end, shortened to 15 seconds: PbxSim with callers and desk phones,
/// ctibridge with three queues and twenty agents, PostgreSQL records, reports at the end.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class DemoScriptTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(100);

    [Fact]
    public async Task ShortDemo_AnswersCallsAndStoresTheirRecords()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var state = Directory.CreateTempSubdirectory("ctibridge-demo-test-");
        try
        {
            // The test's own build output holds ctibridge.dll and pbxsim.dll (project references), so the script does not build.
            var (exit, output) = await RunAsync(
                Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"),
                ["--duration", "15", "--pg", PostgresServer.AdminConnectionString, "--database", database.Name, "--bin", AppContext.BaseDirectory, "--state", state.FullName],
                ct);

            Assert.True(exit == 0, $"demo.sh exited with {exit}:\n{output}\n--- ctibridge.log ---\n{Tail(Path.Combine(state.FullName, "ctibridge.log"))}");
            Assert.Contains("20 of 20 agents logged in", output, StringComparison.Ordinal);
            Assert.Contains("ok   agent-phones", output, StringComparison.Ordinal);
            Assert.Contains("/wallboard/#key=ctb_", output, StringComparison.Ordinal);   // the page answered 200 during the run
            Assert.Contains("Queues", output, StringComparison.Ordinal);
            Assert.Contains("occupancy %", output, StringComparison.Ordinal);

            var answered = await database.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE outcome = 'answered'", ct);
            var calls = await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct);
            var queues = await database.ScalarAsync<long>("SELECT count(DISTINCT queue) FROM queue_visits WHERE outcome = 'answered'", ct);
            var agentStates = await database.ScalarAsync<long>("SELECT count(*) FROM agent_state_intervals WHERE state = 'in_call'", ct);
            Assert.True(answered >= 3, $"only {answered} answered queue visits were stored:\n{output}");
            Assert.True(calls >= answered, $"{calls} calls but {answered} answered visits");
            Assert.True(queues >= 2, $"answered calls reached only {queues} queue(s)");
            Assert.True(agentStates >= answered, $"{agentStates} in-call state intervals for {answered} answered calls");
            Assert.Contains($"{calls} calls stored, {answered} answered", output, StringComparison.Ordinal);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    private static string Tail(string path) => File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(40)) : "(none)";

    private static async Task<(int Exit, string Output)> RunAsync(string script, string[] args, CancellationToken ct)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // The script and everything it started (pbxsim and ctibridge run in their own sessions, but are its descendants).
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            lock (output)
            {
                Assert.Fail($"demo.sh did not finish within {Limit.TotalSeconds} s:\n{output}");
            }
        }

        await process.WaitForExitAsync(CancellationToken.None);
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
