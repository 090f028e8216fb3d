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

    [Theory]
    [InlineData("pbx.example.com", "must be HOST:PORT of Asterisk's AMI")]
    [InlineData("pbx.example.com:99999", "the port must be 1-65535, not 99999")]
    [InlineData("pbx.example.com:ami", "the port 'ami' is not a number")]
    [InlineData(":5038", "'' is not a host name or address")]
    [InlineData("2001:db8::10:5038", "write an IPv6 address in brackets")]
    public async Task AsteriskArgument_Malformed_ExitsTwoSayingWhatIsWrong(string value, string expected)
    {
        var (exit, output) = await RunAsync(Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"), ["--asterisk", value], TestContext.Current.CancellationToken);

        Assert.Equal(2, exit);
        Assert.Contains($"--asterisk '{value}'", output, StringComparison.Ordinal);
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsteriskArgument_WithoutSecretsInTheEnvironment_ExitsTwoNamingTheVariables()
    {
        var (exit, output) = await RunAsync(Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"), ["--asterisk", "127.0.0.1:5038"], TestContext.Current.CancellationToken,
            new Dictionary<string, string?> { ["CTIBRIDGE_AMI_SECRET"] = null, ["CTIBRIDGE_ARI_PASSWORD"] = null });

        Assert.Equal(2, exit);
        Assert.Contains("export CTIBRIDGE_AMI_SECRET", output, StringComparison.Ordinal);
        Assert.Contains("CTIBRIDGE_ARI_PASSWORD", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsteriskArgument_NothingListening_ExitsOneWithAHint()
    {
        var port = FreePort();

        var (exit, output) = await RunAsync(Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"), ["--asterisk", $"127.0.0.1:{port}"], TestContext.Current.CancellationToken, Secrets);

        Assert.Equal(1, exit);
        Assert.Contains($"cannot reach Asterisk's AMI at 127.0.0.1:{port}", output, StringComparison.Ordinal);
        Assert.Contains("manager.conf", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AsteriskArgument_SomethingElseListening_SaysItIsNotTheAmi()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var ct = TestContext.Current.CancellationToken;
        var serve = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(ct);
                await client.GetStream().WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray(), ct);
            }
        }, ct);

        var (exit, output) = await RunAsync(Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"), ["--asterisk", $"127.0.0.1:{port}"], ct, Secrets);

        Assert.Equal(1, exit);
        Assert.Contains("answered but is not Asterisk's AMI", output, StringComparison.Ordinal);
        Assert.Contains("HTTP/1.1 400 Bad Request", output, StringComparison.Ordinal);
        listener.Stop();
        await Assert.ThrowsAnyAsync<Exception>(() => serve);
    }

    [Fact]
    public async Task AsteriskArgument_PbxSimStartedSeparately_TheDemoRunsAgainstIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var state = Directory.CreateTempSubdirectory("ctibridge-demo-asterisk-test-");
        var (ami, ari) = (FreePort(), FreePort());
        var endpoints = string.Join(",\n", Enumerable.Range(1001, 20).Select(n => $$"""      { "Name": "{{n}}", "Context": "agents-phones" }"""));
        // Stands in for an admin's Asterisk set up as asterisk-config/ describes: its own process and
        // users, phones 1001-1020, the DIDs into the app, and callers once the app is registered.
        var config = Path.Combine(state.FullName, "separate-pbxsim.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "PbxSim": {
                "AmiPort": {{ami}}, "AriPort": {{ari}},
                "AmiUsers": [ { "Username": "cti-ami", "Secret": "ami-pw", "Read": "all", "Write": "system,call,originate,agent,user,reporting" } ],
                "AriUsers": [ { "Username": "cti-ari", "Password": "ari-pw" } ],
                "Endpoints": [
            {{endpoints}},
                  { "Name": "carrier", "IsTrunk": true, "Context": "from-carrier" }
                ],
                "Dialplan": {
                  "from-carrier": { "_X.": [ "Stasis(ctibridge,inbound,${EXTEN})", "Hangup()" ] },
                  "agents-phones": { "_*9X": [ "Answer()", "Stasis(ctibridge,feature,${EXTEN})", "Hangup()" ] }
                }
              },
              "DeskPhones": { "AnswerMinSeconds": 1, "AnswerMaxSeconds": 2, "TalkMinSeconds": 2, "TalkMaxSeconds": 4 },
              "Traffic": { "Trunk": "carrier", "Numbers": [ "4008001", "4008002", "4008003" ], "CallsPerSecond": 1.0, "MeanPatienceSeconds": 60, "MeanTalkSeconds": 30,
                           "MaxCalls": 40, "StartWhenAppRegistered": "ctibridge", "StartDelaySeconds": 3, "StopAfterSeconds": 8 }
            }
            """, ct);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pbxsim.dll"));
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(config);
        using var pbxsim = Process.Start(start)!;
        pbxsim.OutputDataReceived += (_, _) => { };
        pbxsim.ErrorDataReceived += (_, _) => { };
        pbxsim.BeginOutputReadLine();
        pbxsim.BeginErrorReadLine();
        try
        {
            await WaitForPortAsync(ami, pbxsim, ct);
            var (exit, output) = await RunAsync(
                Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"),
                ["--asterisk", $"127.0.0.1:{ami}", "--ari-url", $"http://127.0.0.1:{ari}/ari", "--ami-user", "cti-ami", "--ari-user", "cti-ari",
                 "--duration", "15", "--pg", PostgresServer.AdminConnectionString, "--database", database.Name, "--bin", AppContext.BaseDirectory, "--state", state.FullName],
                ct,
                new Dictionary<string, string?> { ["CTIBRIDGE_AMI_SECRET"] = "ami-pw", ["CTIBRIDGE_ARI_PASSWORD"] = "ari-pw" });

            Assert.True(exit == 0, $"demo.sh exited with {exit}:\n{output}\n--- ctibridge.log ---\n{Tail(Path.Combine(state.FullName, "ctibridge.log"))}");
            Assert.Contains($"Asterisk at 127.0.0.1:{ami} (AMI user cti-ami)", output, StringComparison.Ordinal);
            Assert.DoesNotContain("PbxSim (Asterisk 22 emulator)", output, StringComparison.Ordinal);   // it started none of its own
            Assert.Contains("ok   agent-phones", output, StringComparison.Ordinal);
            Assert.Contains("20 of 20 agents logged in", output, StringComparison.Ordinal);
            Assert.True(pbxsim.HasExited is false, "the demo must leave a PbxSim (an Asterisk) it did not start running");
            var answered = await database.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE outcome = 'answered'", ct);
            Assert.True(answered >= 1, $"no call of the separate PbxSim was answered:\n{output}");
        }
        finally
        {
            if (!pbxsim.HasExited)
            {
                pbxsim.Kill(entireProcessTree: true);
                await pbxsim.WaitForExitAsync(CancellationToken.None);
            }

            state.Delete(recursive: true);
        }
    }

    private static readonly Dictionary<string, string?> Secrets = new() { ["CTIBRIDGE_AMI_SECRET"] = "x", ["CTIBRIDGE_ARI_PASSWORD"] = "y" };

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitForPortAsync(int port, Process owner, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            Assert.False(owner.HasExited, $"pbxsim exited at start with {(owner.HasExited ? owner.ExitCode : 0)}");
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync(System.Net.IPAddress.Loopback, port, ct);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(100, ct);
            }
        }

        Assert.Fail($"pbxsim did not open 127.0.0.1:{port} within 60 s");
    }

    private static string Tail(string path) => File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(40)) : "(none)";

    private static async Task<(int Exit, string Output)> RunAsync(string script, string[] args, CancellationToken ct, Dictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

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
