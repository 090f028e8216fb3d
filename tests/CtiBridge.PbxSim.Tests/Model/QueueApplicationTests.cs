using CtiBridge.PbxSim.Model;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>
/// The Queue application's behaviour the recordings do not show (ringall with several members, the
/// Queue() timeout, paused members), observed through a real AMI connection on a fake clock.
/// </summary>
public sealed class QueueApplicationTests
{
    private static async Task<(PbxSimulator Sim, SignallingTimeProvider Clock, AmiTestConnection Ami)> StartAsync(PbxSimOptions options, CancellationToken ct)
    {
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        var sim = new PbxSimulator(options, clock);
        await sim.StartAsync(ct);
        var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await ami.ReadBannerAsync(ct);
        await ami.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\n\r\n", ct);
        Assert.Contains("Authentication accepted", await ami.ReadMessageAsync(ct));
        return (sim, clock, ami);
    }

    private static async Task<List<string>> ReadUntilAsync(AmiTestConnection ami, Func<string, bool> stop, CancellationToken ct)
    {
        var seen = new List<string>();
        while (true)
        {
            string? message;
            try
            {
                message = await ami.ReadMessageAsync(ct);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException("Read so far: " + string.Join(" / ", seen.Select(m => m.Split("\r\n")[0] + " " + m.Split("\r\n").FirstOrDefault(l => l.StartsWith("Channel:", StringComparison.Ordinal)))), e);
            }

            Assert.NotNull(message);
            seen.Add(message!);
            if (stop(message!))
            {
                return seen;
            }
        }
    }

    /// <summary>Sends an action and waits until PbxSim has dispatched it (then the fake clock may move).</summary>
    private static async Task SendAsync(PbxSimulator sim, AmiTestConnection ami, string action, CancellationToken ct)
    {
        var next = sim.Progress.Count + 1;
        await ami.SendAsync(action, ct);
        await sim.Progress.WaitForAsync(next, ct);
    }

    private static string Originate(string channel, string exten) =>
        $"Action: Originate\r\nChannel: {channel}\r\nContext: customer\r\nExten: {exten}\r\nPriority: 1\r\nCallerID: \"Queue Test\" <5550000001>\r\nAsync: true\r\n\r\n";

    [Fact]
    public async Task Ringall_TwoFreeMembers_BothRungFirstAnswerConnectsOtherCancelled()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sim, clock, ami) = await StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, ct);
        await using var _ = sim;
        await using var __ = ami;
        await SendAsync(sim, ami, "Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nMemberName: Agent Four\r\nStateInterface: Custom:agent4\r\n\r\n", ct);
        await SendAsync(sim, ami, "Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/noanswer9@agents\r\nMemberName: Never Answers\r\n\r\n", ct);
        await SendAsync(sim, ami, Originate("Local/sales@queues", "talk"), ct);
        await ReadUntilAsync(ami, m => m.Contains("Event: OriginateResponse"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromMilliseconds(100));
        var ringing = await ReadUntilAsync(ami, m => m.Contains("Event: AgentCalled") && m.Contains("Interface: Local/noanswer9@agents"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(2));
        var connected = await ReadUntilAsync(ami, m => m.Contains("Event: Hangup") && m.Contains("Channel: Local/noanswer9@agents-") && m.Contains(";2\r\n"), ct);

        var all = ringing.Concat(connected).ToList();
        Assert.Single(all, m => m.Contains("Event: AgentCalled") && m.Contains("Interface: Local/agent4@agents"));
        Assert.Single(all, m => m.Contains("Event: AgentCalled") && m.Contains("Interface: Local/noanswer9@agents"));
        Assert.Single(all, m => m.Contains("Event: AgentConnect") && m.Contains("Interface: Local/agent4@agents") && m.Contains("MemberName: Agent Four"));
        Assert.Contains(all, m => m.Contains("Event: DialEnd") && m.Contains("DestChannel: Local/noanswer9@agents-") && m.Contains("DialStatus: CANCEL"));
        Assert.DoesNotContain(all, m => m.Contains("Event: AgentConnect") && m.Contains("noanswer9"));
        lock (sim.Gate)
        {
            Assert.Contains(sim.Model.QueueLog, l => l.Contains("|sales|Agent Four|CONNECT|", StringComparison.Ordinal));
            Assert.DoesNotContain(sim.Model.Channels.Keys, n => n.Contains("noanswer9", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task QueueTimeout_NobodyAnswers_CallerLeavesWithTimeoutAndDialplanGoesOn()
    {
        var ct = TestContext.Current.CancellationToken;
        var plan = Dialplan.RecordingInstance();
        plan["queues"]["short"] = ["Answer()", "Queue(sales,,,,5)", "Set(AFTER=${QUEUESTATUS})", "Wait(3600)"];
        var (sim, clock, ami) = await StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0, Dialplan = plan }, ct);
        await using var _ = sim;
        await using var __ = ami;
        await SendAsync(sim, ami, Originate("Local/short@queues", "talk"), ct);
        await ReadUntilAsync(ami, m => m.Contains("Event: OriginateResponse"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromMilliseconds(100));
        await ReadUntilAsync(ami, m => m.Contains("Event: QueueCallerJoin"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(4));
        await SendAsync(sim, ami, "Action: Ping\r\nActionID: still-waiting\r\n\r\n", ct);
        var before = await ReadUntilAsync(ami, m => m.Contains("ActionID: still-waiting"), ct);
        Assert.DoesNotContain(before, m => m.Contains("Event: QueueCallerLeave"));

        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(2));
        var after = await ReadUntilAsync(ami, m => m.Contains("Variable: AFTER"), ct);
        Assert.Contains(after, m => m.Contains("Event: QueueCallerLeave") && m.Contains("Queue: sales") && m.Contains("Count: 0"));
        Assert.Contains(after, m => m.Contains("Variable: QUEUESTATUS") && m.Contains("Value: TIMEOUT"));
        Assert.Contains("Value: TIMEOUT", after[^1], StringComparison.Ordinal);
        lock (sim.Gate)
        {
            Assert.Contains(sim.Model.QueueLog, l => l.Contains("|sales|NONE|EXITWITHTIMEOUT|1|1|", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task PausedMember_IsNotRung_UntilUnpaused()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sim, clock, ami) = await StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, ct);
        await using var _ = sim;
        await using var __ = ami;
        await SendAsync(sim, ami, "Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nMemberName: Agent Four\r\nStateInterface: Custom:agent4\r\nPaused: true\r\n\r\n", ct);
        await SendAsync(sim, ami, Originate("Local/sales@queues", "talk"), ct);
        await ReadUntilAsync(ami, m => m.Contains("Event: OriginateResponse"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromMilliseconds(100));
        await ReadUntilAsync(ami, m => m.Contains("Event: QueueCallerJoin"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(11));
        await SendAsync(sim, ami, "Action: Ping\r\nActionID: paused\r\n\r\n", ct);
        var whilePaused = await ReadUntilAsync(ami, m => m.Contains("ActionID: paused"), ct);
        Assert.DoesNotContain(whilePaused, m => m.Contains("Event: AgentCalled"));

        await SendAsync(sim, ami, "Action: QueuePause\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nPaused: false\r\n\r\n", ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(5));
        var afterUnpause = await ReadUntilAsync(ami, m => m.Contains("Event: AgentCalled"), ct);
        Assert.Contains("Interface: Local/agent4@agents", afterUnpause[^1], StringComparison.Ordinal);
    }
}
