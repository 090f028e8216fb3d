using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Cli;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Live;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Cli;

/// <summary>
/// <c>ctibridge agents</c> / <c>ctibridge queues</c> against a real service (PbxSim + PostgreSQL):
/// what they print while calls wait and agents talk or pause, and their errors when nothing runs or
/// the database is unreachable.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class StatusCommandsTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue() => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private static string Row(string output, string first) =>
        output.Split('\n').SingleOrDefault(line => line.StartsWith(first + " ", StringComparison.Ordinal)) ?? string.Empty;

    private static string[] Cells(string row) => row.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task AgentsAndQueues_WhileAgentsTalkAndPause_ShowStatesWaitingAndTodaysFigures()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2002", Ct);
        Assert.True((await rig.Center.PauseAgentAsync("2002", "lunch", Ct)).Accepted);
        await rig.LoginAsync("2001", Ct);

        // First call answered and ended (today's figures), second one connected, third waiting.
        var first = rig.Trunk.CallIn("4008001", "5550001", "First");
        await PollAsync("agents", o => Cells(Row(o, "2001")) is [_, _, "OnCall", ..]);
        rig.Trunk.HangUp(first);
        await PollAsync("queues", o => Cells(Row(o, "support")) is [_, _, _, _, _, _, _, _, _, "1", ..]); // Answered 1
        var second = rig.Trunk.CallIn("4008001", "5550002", "Second");
        await PollAsync("agents", o => Cells(Row(o, "2001")) is [_, _, "OnCall", ..] && !o.Contains("Ready", StringComparison.Ordinal));
        var third = rig.Trunk.CallIn("4008001", "5550003", "Third");
        // Today's figures are written by the record writer after the live state: wait for both (at load 80
        // a poll that waited only for the waiting call read "Offered 1, Answered 1"). Columns: Queue Waiting Longest
        // Ready Ringing OnCall WrapUp Paused Offered Answered ...
        var queues = await PollAsync("queues", o => Cells(Row(o, "support")) is [_, "1", _, _, _, _, _, _, "2", "2", ..]);
        var agents = await PollAsync("agents", o => Cells(Row(o, "2001")) is [_, _, _, _, _, "2", ..]);
        rig.Trunk.HangUp(third);
        rig.Trunk.HangUp(second);

        // Agent  Ext  State  Reason  In-state  Today  Queues
        var a2001 = Cells(Row(agents, "2001"));
        var a2002 = Cells(Row(agents, "2002"));
        Assert.Equal(["2001", "PJSIP/1001", "OnCall", "-"], a2001[..4]);
        Assert.Equal("2", a2001[5]); // the first call and the one in progress: counted by answer time, like report_agent_activity
        Assert.Equal("support", a2001[6]);
        Assert.Equal(["2002", "PJSIP/1002", "Paused", "lunch"], a2002[..4]);
        Assert.Equal("0", a2002[5]);
        Assert.Contains("2 agent(s) logged in; today = ", agents, StringComparison.Ordinal);

        // Queue  Waiting  Longest  Ready  Ringing  OnCall  WrapUp  Paused  Offered  Answered  Abandon  SL
        var support = Cells(Row(queues, "support"));
        Assert.Equal("1", support[1]);
        Assert.Equal(["0", "0", "1", "0", "1"], support[3..8]);
        // Today by report_queue_traffic's rules: the two answered visits (by answer time); the waiting one not yet.
        Assert.True(support[8..12] is ["2", "2", "0", "100.0%"], string.Join(' ', support));
    }

    /// <summary>
    /// A desk phone that rings with a call shows the agent as Ringing, with the call and since when, in
    /// <c>ctibridge agents</c> / <c>queues</c> and <c>GET /api/wallboard/centre</c> (all read from <c>live_agents</c>);
    /// before, it showed Ready. The ring timing out (the call center's fake clock) makes the agent Ready again, and
    /// the next ring answered makes it OnCall, with the ringing columns cleared.
    /// </summary>
    [Fact]
    public async Task Agents_PhoneRinging_ShowsRingingWithTheCallAndSince_UntilTheRingTimesOutOrIsAnswered()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, callControlClock: clock);
        rig.Pbx.Phone("1001").NeverAnswers();
        await rig.LoginAsync("2001", Ct);
        var key = await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync($"ringing-{Guid.NewGuid():N}"[..20], ApiRole.Supervisor, null, "test", Ct);
        using var supervisor = LiveApiTests.Client(rig, key.Token);

        var caller = rig.Trunk.CallIn("4008001", "5550011", "Ringer");
        var offered = await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.AgentId == "2001", "the call offered to 2001", Ct);

        // Agent  Phone  State  Reason  In-state  Today  Queues  Call
        var agents = await PollAsync("agents", o => Cells(Row(o, "2001")) is [_, _, "Ringing", ..]);
        Assert.Equal(["2001", "PJSIP/1001", "Ringing", "-"], Cells(Row(agents, "2001"))[..4]);
        Assert.Equal(["support", offered.CallId], Cells(Row(agents, "2001"))[6..]);
        var queues = await PollAsync("queues", _ => true);
        Assert.Equal(["0", "1", "0", "0", "0"], Cells(Row(queues, "support"))[3..8]); // Ready Ringing OnCall WrapUp Paused

        // The whole centre's view: the agent ringing with the call since the offer (the call center's clock), counted
        // with those on a call as the instance's own wallboard does, and as ringing.
        var centre = await CentreAsync(supervisor);
        var agent = centre.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("agentId").GetString() == "2001");
        Assert.Equal(("Ringing", offered.CallId), (agent.GetProperty("state").GetString(), agent.GetProperty("callId").GetString()));
        Assert.InRange(agent.GetProperty("since").GetDateTimeOffset() - offered.At, TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(1));
        var queue = centre.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == "support");
        Assert.Equal((0, 1, 1), (queue.GetProperty("agentsReady").GetInt32(), queue.GetProperty("agentsOnCall").GetInt32(), queue.GetProperty("agentsRinging").GetInt32()));

        // The ring times out (5 s of the fake clock): Ready again, no call, while the caller waits for the retry.
        var timedOut = await Eventually.AdvancingAsync(clock, TimeSpan.FromSeconds(1),
            () => rig.AcdEvents.Snapshot().OfType<CallOfferEnded>().FirstOrDefault(e => e.AgentId == "2001"), "2001's ring to time out", Ct);
        Assert.Equal(OfferEnd.RingTimeout, timedOut.End);
        agents = await PollAsync("agents", o => Cells(Row(o, "2001")) is [_, _, "Ready", ..]);
        Assert.Equal(["support", "-"], Cells(Row(agents, "2001"))[6..]);
        Assert.Equal(1L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_agents WHERE agent_id = '2001' AND ringing_call_id IS NULL AND ringing_since IS NULL", Ct));

        // Rung again after RetryAfterNoAnswer (5 s) and answered this time: OnCall with the call.
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await Eventually.AdvancingAsync(clock, TimeSpan.FromSeconds(1),
            () => rig.AcdEvents.Snapshot().OfType<CallAnswered>().FirstOrDefault(e => e.AgentId == "2001"), "2001 to be rung again and answer", Ct);
        agents = await PollAsync("agents", o => Cells(Row(o, "2001")) is [_, _, "OnCall", ..]);
        Assert.Equal(["support", offered.CallId], Cells(Row(agents, "2001"))[6..]);
        await Eventually.TrueAsync(async () => await database.Database.ScalarAsync<long>(
            "SELECT count(*) FROM live_agents WHERE agent_id = '2001' AND ringing_call_id IS NULL", Ct) == 1, "2001's ring to be cleared at the answer", Ct);
        rig.Trunk.HangUp(caller);
    }

    private async Task<System.Text.Json.JsonElement> CentreAsync(HttpClient client)
    {
        using var document = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/api/wallboard/centre", Ct));
        return document.RootElement.Clone();
    }

    private async Task<string> PollAsync(string command, Func<string, bool> done)
    {
        // Bounded: the instance writes its live state and records asynchronously (well under a second).
        var output = string.Empty;
        for (var i = 0; i < 150; i++)
        {
            (var exit, output, var error) = await CommandLineRun.AgainstAsync(database.Database.ConnectionString, command);
            Assert.True(exit == 0, $"{command} exited {exit}: {error}");
            if (done(output))
            {
                return output;
            }

            await Task.Delay(100, Ct);
        }

        Assert.Fail($"'{command}' never showed the expected state; last output:\n{output}");
        return output;
    }
}

/// <summary>
/// The status commands' errors, on a database of their own (no service has ever connected to it, so
/// "nothing running" cannot see a connection left by another test).
/// </summary>
public sealed class StatusCommandsErrorTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task AgentsAndQueues_NothingRunning_SayItAndExit3()
    {
        var (exit, output, error) = await CommandLineRun.AgainstAsync(database.Database.ConnectionString, "agents");
        Assert.Equal(StatusCommands.NothingRunning, exit);
        Assert.Equal(string.Empty, output);
        Assert.Contains("agents: no CtiBridge service is connected to this database", error, StringComparison.Ordinal);
        (exit, _, error) = await CommandLineRun.AgainstAsync(database.Database.ConnectionString, "queues");
        Assert.Equal(StatusCommands.NothingRunning, exit);
        Assert.Contains("queues: no CtiBridge service is connected", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Queues_DatabaseUnreachable_ClearErrorExit2()
    {
        var (exit, _, error) = await CommandLineRun.AgainstAsync("Host=127.0.0.1;Port=1;Database=ctibridge;Username=ctibridge;Timeout=2", "queues");
        Assert.Equal(2, exit);
        Assert.StartsWith("queues: cannot read the live state from the database:", error, StringComparison.Ordinal);
        (exit, _, error) = await CommandLineRun.RunAsync("agents");
        Assert.Equal(2, exit);
        Assert.Contains("agents: no database given", error, StringComparison.Ordinal);
    }
}
