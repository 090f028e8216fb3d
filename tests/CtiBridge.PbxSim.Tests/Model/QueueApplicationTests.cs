using CtiBridge.PbxSim.Model;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>
/// The Queue application's behaviour the recordings do not show (ringall with several members, the
/// Queue() timeout, paused members), observed through a real AMI connection on a fake clock.
/// </summary>
public sealed class QueueApplicationTests
{
    private static string Originate(string channel, string exten) =>
        $"Action: Originate\r\nChannel: {channel}\r\nContext: customer\r\nExten: {exten}\r\nPriority: 1\r\nCallerID: \"Queue Test\" <5550000001>\r\nAsync: true\r\n\r\n";

    [Fact]
    public async Task Ringall_TwoFreeMembers_BothRungFirstAnswerConnectsOtherCancelled()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await QueueRig.StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, ct);
        await rig.SendAsync("Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nMemberName: Agent Four\r\nStateInterface: Custom:agent4\r\n\r\n", ct);
        await rig.SendAsync("Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/noanswer9@agents\r\nMemberName: Never Answers\r\n\r\n", ct);
        await rig.SendAsync(Originate("Local/sales@queues", "talk"), ct);
        await rig.ReadUntilAsync(m => m.Contains("Event: OriginateResponse"), ct);
        rig.Advance(TimeSpan.FromMilliseconds(100));
        var ringing = await rig.ReadUntilAsync(m => m.Contains("Event: AgentCalled") && m.Contains("Interface: Local/noanswer9@agents"), ct);
        rig.Advance(TimeSpan.FromSeconds(2));
        var connected = await rig.ReadUntilAsync(m => m.Contains("Event: Hangup") && m.Contains("Channel: Local/noanswer9@agents-") && m.Contains(";2\r\n"), ct);

        var all = ringing.Concat(connected).ToList();
        Assert.Single(all, m => m.Contains("Event: AgentCalled") && m.Contains("Interface: Local/agent4@agents"));
        Assert.Single(all, m => m.Contains("Event: AgentCalled") && m.Contains("Interface: Local/noanswer9@agents"));
        Assert.Single(all, m => m.Contains("Event: AgentConnect") && m.Contains("Interface: Local/agent4@agents") && m.Contains("MemberName: Agent Four"));
        Assert.Contains(all, m => m.Contains("Event: DialEnd") && m.Contains("DestChannel: Local/noanswer9@agents-") && m.Contains("DialStatus: CANCEL"));
        Assert.DoesNotContain(all, m => m.Contains("Event: AgentConnect") && m.Contains("noanswer9"));
        lock (rig.Sim.Gate)
        {
            Assert.Contains(rig.Sim.Model.QueueLog, l => l.Contains("|sales|Agent Four|CONNECT|", StringComparison.Ordinal));
            Assert.DoesNotContain(rig.Sim.Model.Channels.Keys, n => n.Contains("noanswer9", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task QueueTimeout_NobodyAnswers_CallerLeavesWithTimeoutAndDialplanGoesOn()
    {
        var ct = TestContext.Current.CancellationToken;
        var plan = Dialplan.RecordingInstance();
        plan["queues"]["short"] = ["Answer()", "Queue(sales,,,,5)", "Set(AFTER=${QUEUESTATUS})", "Wait(3600)"];
        await using var rig = await QueueRig.StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0, Dialplan = plan }, ct);
        await rig.SendAsync(Originate("Local/short@queues", "talk"), ct);
        await rig.ReadUntilAsync(m => m.Contains("Event: OriginateResponse"), ct);
        rig.Advance(TimeSpan.FromMilliseconds(100));
        await rig.ReadUntilAsync(m => m.Contains("Event: QueueCallerJoin"), ct);
        rig.Advance(TimeSpan.FromSeconds(4));
        await rig.SendAsync("Action: Ping\r\nActionID: still-waiting\r\n\r\n", ct);
        var before = await rig.ReadUntilAsync(m => m.Contains("ActionID: still-waiting"), ct);
        Assert.DoesNotContain(before, m => m.Contains("Event: QueueCallerLeave"));

        rig.Advance(TimeSpan.FromSeconds(2));
        var after = await rig.ReadUntilAsync(m => m.Contains("Variable: AFTER"), ct);
        Assert.Contains(after, m => m.Contains("Event: QueueCallerLeave") && m.Contains("Queue: sales") && m.Contains("Count: 0"));
        Assert.Contains(after, m => m.Contains("Variable: QUEUESTATUS") && m.Contains("Value: TIMEOUT"));
        Assert.Contains("Value: TIMEOUT", after[^1], StringComparison.Ordinal);
        lock (rig.Sim.Gate)
        {
            Assert.Contains(rig.Sim.Model.QueueLog, l => l.Contains("|sales|NONE|EXITWITHTIMEOUT|1|1|", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task PausedMember_IsNotRung_UntilUnpaused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await QueueRig.StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, ct);
        await rig.SendAsync("Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nMemberName: Agent Four\r\nStateInterface: Custom:agent4\r\nPaused: true\r\n\r\n", ct);
        await rig.SendAsync(Originate("Local/sales@queues", "talk"), ct);
        await rig.ReadUntilAsync(m => m.Contains("Event: OriginateResponse"), ct);
        rig.Advance(TimeSpan.FromMilliseconds(100));
        await rig.ReadUntilAsync(m => m.Contains("Event: QueueCallerJoin"), ct);
        rig.Advance(TimeSpan.FromSeconds(11));
        await rig.SendAsync("Action: Ping\r\nActionID: paused\r\n\r\n", ct);
        var whilePaused = await rig.ReadUntilAsync(m => m.Contains("ActionID: paused"), ct);
        Assert.DoesNotContain(whilePaused, m => m.Contains("Event: AgentCalled"));

        await rig.SendAsync("Action: QueuePause\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nPaused: false\r\n\r\n", ct);
        rig.Advance(TimeSpan.FromSeconds(5));
        var afterUnpause = await rig.ReadUntilAsync(m => m.Contains("Event: AgentCalled"), ct);
        Assert.Contains("Interface: Local/agent4@agents", afterUnpause[^1], StringComparison.Ordinal);
    }
}
