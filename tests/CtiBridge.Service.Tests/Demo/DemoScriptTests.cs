using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Demo;

/// <summary>
/// scripts/demo.sh end to end, shortened to 45 seconds: PbxSim with callers (a compressed day with a
/// peak), desk phones and dialer agents' phones, ctibridge with three queues and sixteen agents, an
/// outbound campaign with four agents on nailed-up lines, callbacks, PostgreSQL records, the reports
/// and the summary at the end.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed partial class DemoScriptTests
{
    /// <summary>Every run of the script is bounded: 45 s of demo plus building nothing, start-up and the reports, even on a loaded machine.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(240);

    [Fact]
    public async Task ShortDemo_AnswersCalls_RunsTheCampaign_KeepsCallbacks_AndSummarisesFromTheDatabase()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var state = Directory.CreateTempSubdirectory("ctibridge-demo-test-");
        try
        {
            // The test's own build output holds ctibridge.dll and pbxsim.dll (project references), so the script does not build.
            var (exit, output) = await RunAsync(
                Path.Combine(RepositoryPaths.Root, "scripts", "demo.sh"),
                ["--duration", "45", "--pg", PostgresServer.AdminConnectionString, "--database", database.Name, "--bin", AppContext.BaseDirectory, "--state", state.FullName],
                ct);

            Assert.True(exit == 0, $"demo.sh exited with {exit}:\n{output}\n--- ctibridge.log ---\n{Tail(Path.Combine(state.FullName, "ctibridge.log"))}");
            Assert.Contains("16 of 16 inbound agents logged in", output, StringComparison.Ordinal);
            Assert.Contains("4 of 4 dialer agents joined on nailed-up lines", output, StringComparison.Ordinal);
            // PbxSim's dialer phones keep the line up through every customer (ordinary desk phones would hang it up after one talk).
            Assert.Contains("4 of 4 dialer agents still on their nailed-up lines at the end", output, StringComparison.Ordinal);
            Assert.Contains("ok   agent-phones", output, StringComparison.Ordinal);
            Assert.Contains("/wallboard/#key=ctb_", output, StringComparison.Ordinal);   // the page answered 200 during the run
            Assert.Contains("Queues", output, StringComparison.Ordinal);
            Assert.Contains("occupancy %", output, StringComparison.Ordinal);

            // The summary: the test runs the script's own query file on the same database for the same
            // window (the run's start, printed by the script), so each printed figure is compared with
            // what the same SQL says, never with a differently written count.
            var from = RunStart().Match(output);
            Assert.True(from.Success, $"the summary's heading (with the run's start) is missing:\n{output}");
            var figures = await SummaryAsync(database, DateTimeOffset.Parse(from.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), ct);
            Assert.Equal(15, figures.Count);
            foreach (var (label, value) in figures)
            {
                Assert.Contains($"  {label.PadRight(40)} {value}\n", output.ReplaceLineEndings("\n"), StringComparison.Ordinal);
            }

            long Figure(string label) => long.Parse(figures.Single(f => f.Label == label).Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains($"{Figure("inbound calls")} inbound calls stored, {Figure("inbound answered by an agent")} answered", output, StringComparison.Ordinal);
            Assert.True(Figure("inbound answered by an agent") >= 3, $"only {Figure("inbound answered by an agent")} inbound calls answered:\n{output}");
            // The peak makes callers wait: some press 1, some hang up after the minimum wait; both are promised a callback, placed, and kept when the customer answers.
            Assert.True(Figure("callbacks promised") >= 1, $"no callback was promised:\n{output}");
            Assert.Equal(Figure("callbacks promised"), Figure("  asked for with the callback key") + Figure("  owed after an abandoned wait"));
            Assert.True(Figure("callback calls dialled") >= 1, $"no callback was dialled:\n{output}");
            Assert.True(Figure("callbacks kept (customer reached)") >= 1, $"no callback was kept:\n{output}\n--- ctibridge.log ---\n{Tail(Path.Combine(state.FullName, "ctibridge.log"))}");
            Assert.True(Figure("dialer attempts") >= 1, $"the dialer dialled nothing:\n{output}");
            Assert.True(Figure("dialer answers talked to an agent") >= 1, $"no dialled customer talked to an agent:\n{output}");
            // The campaign is wound down before its agents leave (paused, its lines left to end): a short run
            // paces progressively (too few results for predictive), so no answer may find nobody. Before, the
            // agents left while lines still rang and those answers were abandons (1-2 of ~12 live answers).
            Assert.True(Figure("dialer abandoned (no agent in time)") == 0, $"dialled customers abandoned in a progressive run:\n{output}\n--- ctibridge.log ---\n{Tail(Path.Combine(state.FullName, "ctibridge.log"))}");

            // Records behind the figures: answered visits in several queues, each with its agent's in-call time;
            // kept callbacks and dialer talks with their agents.
            var answeredVisits = await database.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE outcome = 'answered'", ct);
            var queues = await database.ScalarAsync<long>("SELECT count(DISTINCT queue) FROM queue_visits WHERE outcome = 'answered'", ct);
            var agentStates = await database.ScalarAsync<long>("SELECT count(*) FROM agent_state_intervals WHERE state = 'in_call'", ct);
            var keptWithAgent = await database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE callback_id IS NOT NULL AND disposition = 'answered' AND agent_id IS NOT NULL", ct);
            var dialerAgents = await database.ScalarAsync<long>("SELECT count(DISTINCT agent_id) FROM calls WHERE campaign_id = 'demo-renewals' AND disposition = 'answered' AND agent_id BETWEEN '2017' AND '2020'", ct);
            Assert.True(queues >= 2, $"answered calls reached only {queues} queue(s)");
            Assert.True(agentStates >= answeredVisits, $"{agentStates} in-call state intervals for {answeredVisits} answered visits");
            Assert.True(keptWithAgent >= 1, "no callback call was answered with an agent on it");
            Assert.True(dialerAgents >= 1, "no campaign call was talked by one of the dialer agents 2017-2020");
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
            Assert.Contains("16 of 16 inbound agents logged in", output, StringComparison.Ordinal);
            Assert.DoesNotContain("dialer agents joined", output, StringComparison.Ordinal);   // no campaign through someone's real carrier
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

    [GeneratedRegex(@"what happened \(scripts/lib/demo-summary\.sql, since (\S+Z)\)")]
    private static partial Regex RunStart();

    /// <summary>Runs scripts/lib/demo-summary.sql as the script does, its psql variable <c>:'from'</c> as a parameter.</summary>
    private static async Task<List<(string Label, string Value)>> SummaryAsync(TestDatabase database, DateTimeOffset from, CancellationToken ct)
    {
        var sql = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "scripts", "lib", "demo-summary.sql"), ct);
        Assert.Contains(":'from'", sql, StringComparison.Ordinal);
        await using var command = database.DataSource.CreateCommand(sql.Replace(":'from'", "@from", StringComparison.Ordinal));
        command.Parameters.AddWithValue("from", from.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<(string, string)>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }

        return rows;
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
