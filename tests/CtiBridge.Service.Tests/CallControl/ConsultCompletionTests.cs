using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Consultations carried to their end, end to end against PbxSim and PostgreSQL, where
/// <see cref="AgentCallTests"/> stops short: an attended transfer completed to a queue's agent and to
/// an outside number, and a three-way conference with a colleague agent whom the caller stays with
/// when the agent leaves. Each asserts what caller and agents went through on PbxSim's side (dials,
/// bridges, hang-ups) and what was stored (the calls row and its transfer chain, queue_log).
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class ConsultCompletionTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private Task<CallCenterRig> StartAsync(CancellationToken ct) => AgentCallRig.StartAsync(database.Database, ct);

    private static Task<(string Caller, string Agent)> ConnectedCallAsync(CallCenterRig rig, CancellationToken ct) => AgentCallRig.ConnectedCallAsync(rig, ct);

    private Task<string> CallRowAsync(CallCenterRig rig, string columns, CancellationToken ct) => AgentCallRig.CallRowAsync(rig, database.Database, columns, ct);

    private static int DialsTo(CallCenterRig rig, string phone) => AgentCallRig.DialsTo(rig, phone);

    [Fact]
    public async Task ConsultOfAQueue_ItsAgentAnswers_TransferCompleted_CallerTalksToThatAgentInTheConsultBridge()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        await rig.LoginAsync("2003", ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);

        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToQueue("billing"), ct)).Accepted);

        // The caller waits on hold (outside the bridge) while billing's ready agent is rung for the consult.
        await rig.PbxEvents.WaitAsync("BridgeLeave", caller, ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 1);
        var consult = await rig.PbxEvents.DialToAsync("1003", ct);
        Assert.Equal("2001", consult["DestCallerIDNum"]);
        var consulted = consult["DestChannel"]!;
        await rig.AgentWentAsync("2003", AgentState.Ready, AgentState.Paused, ct);
        Assert.Equal("consult", (await rig.Center.GetAgentAsync("2003", ct))!.PauseReason);
        var consultedIn = await rig.PbxEvents.WaitAsync("BridgeEnter", consulted, ct);
        var agentIn = await rig.PbxEvents.WaitAsync("BridgeEnter", agent, ct, e => e["BridgeUniqueid"] == consultedIn["BridgeUniqueid"]);
        Assert.Equal(consultedIn["BridgeUniqueid"], agentIn["BridgeUniqueid"]);

        Assert.True((await rig.Center.CompleteTransferAsync("2001", ct)).Accepted);

        // The agent's leg goes, the caller joins billing's agent where the consult was: nobody is rung again.
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        var callerBack = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(consultedIn["BridgeUniqueid"], callerBack["BridgeUniqueid"]);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct);
        await rig.AgentWentAsync("2003", AgentState.Ringing, AgentState.OnCall, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.Equal(1, DialsTo(rig, "1003"));
        Assert.True(Assert.Single(rig.AcdEvents.Snapshot().OfType<CallTransferred>()).Attended);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == caller || e["Channel"] == consulted));

        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", consulted, ct);
        await rig.AgentWentAsync("2003", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("{agent:2003}|2003|answered|caller|agent:2003", await CallRowAsync(rig,
            "transfer_chain, agent_id, disposition, released_by, (SELECT data[2] FROM queue_events q WHERE q.call_id = calls.call_id AND q.event = 'ATTENDEDTRANSFER')", ct));
    }

    [Fact]
    public async Task ConsultOfAnOutsideNumber_TransferCompleted_CallerTalksToIt_BothReleasedWhenItHangsUp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);

        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToExternal("13900002222"), ct)).Accepted);

        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 1);
        var outside = (await rig.PbxEvents.WaitForAsync<AmiMessage>(
            e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13900002222", "the consult dial", ct))["DestChannel"]!;
        var outsideIn = await rig.PbxEvents.WaitAsync("BridgeEnter", outside, ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", agent, ct, e => e["BridgeUniqueid"] == outsideIn["BridgeUniqueid"]);

        Assert.True((await rig.Center.CompleteTransferAsync("2001", ct)).Accepted);

        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        var callerBack = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(outsideIn["BridgeUniqueid"], callerBack["BridgeUniqueid"]);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to leave the ACD", ct);
        Assert.True(Assert.Single(rig.AcdEvents.Snapshot().OfType<CallTransferred>()).Attended);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => e["DialString"] == "carrier/13900002222"));
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == caller || e["Channel"] == outside));

        // The outside party hangs up: the caller is released with it.
        rig.Trunk.HangUp(outside);
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("{external:13900002222}|2001|answered|external:13900002222", await CallRowAsync(rig,
            "transfer_chain, agent_id, disposition, (SELECT data[2] FROM queue_events q WHERE q.call_id = calls.call_id AND q.event = 'ATTENDEDTRANSFER')", ct));
    }

    [Fact]
    public async Task ThreeWayConferenceWithAColleague_AllThreeInOneBridge_AgentLeaves_CallerStaysWithTheColleague()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);
        await rig.LoginAsync("2002", ct);

        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToAgent("2002"), ct)).Accepted);
        var colleague = (await rig.PbxEvents.DialToAsync("1002", ct))["DestChannel"]!;
        var colleagueIn = await rig.PbxEvents.WaitAsync("BridgeEnter", colleague, ct);
        await rig.AgentWentAsync("2002", AgentState.Ready, AgentState.Paused, ct);

        Assert.True((await rig.Center.ConferenceAsync("2001", ct)).Accepted);

        // Three-way: the caller comes off hold into the bridge where the agent and the colleague talk.
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(colleagueIn["BridgeUniqueid"], callerIn["BridgeUniqueid"]);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct);
        Assert.Equal(3, int.Parse(callerIn["BridgeNumChannels"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == agent || e["Channel"] == colleague));
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);

        // The agent hangs up: the caller and the colleague go on (attended transfer by hang-up), the colleague now owns the call.
        rig.Pbx.Phone("1001").Hangup();
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == caller || e["Channel"] == colleague));
        Assert.Equal(1, DialsTo(rig, "1002"));

        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", colleague, ct);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("{agent:2002}|2002|answered|caller", await CallRowAsync(rig, "transfer_chain, agent_id, disposition, released_by", ct));
    }
}
