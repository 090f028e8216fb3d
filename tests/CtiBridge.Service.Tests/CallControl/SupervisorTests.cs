using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Supervisors on agents' calls, end to end against PbxSim and PostgreSQL: listen and whisper
/// through an ARI snoop on the agent's leg (its directions checked on PbxSim), barge into the
/// call's bridge, take-over (the agent is cut off and the supervisor goes on with the caller),
/// from the API (CtiBridge rings the supervisor's phone) and from the supervisor's desk phone
/// (<c>*81</c>–<c>*84</c> + agent ID, then the supervisor PIN); each one stored as a supervisor leg.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class SupervisorTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CallQueueSettings Queue() => new()
    {
        Name = "support", RingTimeout = TimeSpan.FromSeconds(5), RetryAfterNoAnswer = TimeSpan.FromSeconds(30), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private async Task<CallCenterRig> StartAsync(CancellationToken ct)
    {
        var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, configure: c =>
            c.Supervisors.Add(new SupervisorSettings { Id = "9001", Extension = "PJSIP/1901", PinHash = CallCenterRig.PinHash }));
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1901").AnswersAfter(TimeSpan.FromMilliseconds(200));
        return rig;
    }

    private static async Task<(string Caller, string Agent, string Bridge)> ConnectedCallAsync(CallCenterRig rig, CancellationToken ct)
    {
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        var agent = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        var bridge = (await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct))["BridgeUniqueid"]!;
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);
        return (caller, agent, bridge);
    }

    private Task<string> SupervisorLegsAsync(CallCenterRig rig, CancellationToken ct)
    {
        var callId = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId;
        return database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws('|', replace(leg_id, '{callId}', 'call'), agent_id, channel, answered_at IS NOT NULL, ended_at >= answered_at), ' ; ' ORDER BY leg_id) FROM call_legs WHERE party = 'supervisor' AND call_id = '{callId}'", ct);
    }

    /// <summary>
    /// Starts a supervision as soon as the supervisor's previous leg has left the app (its StasisEnd
    /// comes after the AMI hang-up the test saw); bounded to 15 s.
    /// </summary>
    private static async Task SuperviseWhenFreeAsync(CallCenterRig rig, SupervisionMode mode, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var outcome = await rig.Center.SuperviseAsync("9001", "2001", mode, ct);
            if (outcome.Accepted)
            {
                return;
            }

            Assert.Contains("is already on call", outcome.Reason, StringComparison.Ordinal);
            Assert.True(DateTime.UtcNow < until, "the supervisor's previous leg did not end within 15 s");
            await Task.Delay(20, ct);
        }
    }

    [Fact]
    public async Task ListenThenWhisper_FromTheApi_SnoopOnTheAgentsLeg_BridgedWithTheSupervisorsPhone()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callBridge) = await ConnectedCallAsync(rig, ct);

        // Listen: the supervisor's phone rings, then hears both sides through a snoop on the agent's leg.
        Assert.True((await rig.Center.SuperviseAsync("9001", "2001", SupervisionMode.Listen, ct)).Accepted);
        var dial = await rig.PbxEvents.DialToAsync("1901", ct);
        Assert.Equal("listen 2001", dial["DestCallerIDName"]);
        var supervisor = dial["DestChannel"]!;
        var supervisorIn = await rig.PbxEvents.WaitAsync("BridgeEnter", supervisor, ct);
        var snoopIn = await rig.PbxEvents.WaitAsync("BridgeEnter", "Snoop/", ct);
        Assert.Equal(supervisorIn["BridgeUniqueid"], snoopIn["BridgeUniqueid"]);
        Assert.NotEqual(callBridge, supervisorIn["BridgeUniqueid"]);
        Assert.Equal((agent, "both", "none"), rig.Pbx.SnoopOf(snoopIn["Channel"]!));
        Assert.Equal("supervisor '9001' is already on call " + rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId + " (Listen); hang up first",
            (await rig.Center.SuperviseAsync("9001", "2001", SupervisionMode.Barge, ct)).Reason);

        // The supervisor hangs up: the snoop ends, the call goes on.
        rig.Pbx.Phone("1901").Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", snoopIn["Channel"]!, ct);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);

        // Whisper (coach): the same, and only the agent hears the supervisor.
        await SuperviseWhenFreeAsync(rig, SupervisionMode.Whisper, ct);
        var coach = (await rig.PbxEvents.DialToAsync("1901", ct, nth: 2))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", coach, ct);
        var whisperSnoop = await rig.PbxEvents.WaitAsync("BridgeEnter", "Snoop/", ct, nth: 2);
        Assert.Equal((agent, "both", "out"), rig.Pbx.SnoopOf(whisperSnoop["Channel"]!));

        // The caller hangs up: the supervisor's phone is released with the call.
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", coach, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();
        Assert.Equal("call-listen-1|9001|PJSIP/1901|t|t ; call-whisper-2|9001|PJSIP/1901|t|t", await SupervisorLegsAsync(rig, ct));
    }

    [Fact]
    public async Task BargeThenTakeOver_FromTheApi_SupervisorJoinsTheCallsBridge_ThenTheAgentIsCutOff()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callBridge) = await ConnectedCallAsync(rig, ct);

        // Barge: a three-way call in the call's own bridge.
        Assert.True((await rig.Center.SuperviseAsync("9001", "2001", SupervisionMode.Barge, ct)).Accepted);
        var barging = (await rig.PbxEvents.DialToAsync("1901", ct))["DestChannel"]!;
        Assert.Equal(callBridge, (await rig.PbxEvents.WaitAsync("BridgeEnter", barging, ct))["BridgeUniqueid"]);
        rig.Pbx.Phone("1901").Hangup();
        await rig.PbxEvents.WaitAsync("BridgeLeave", barging, ct);

        // Take-over (once CtiBridge has seen the barging leg go): the supervisor joins, the agent's leg is hung up and the agent wraps up; the caller stays.
        await SuperviseWhenFreeAsync(rig, SupervisionMode.TakeOver, ct);
        var taking = (await rig.PbxEvents.DialToAsync("1901", ct, nth: 2))["DestChannel"]!;
        Assert.Equal(callBridge, (await rig.PbxEvents.WaitAsync("BridgeEnter", taking, ct))["BridgeUniqueid"]);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == caller));
        Assert.StartsWith("agent '2001' is not talking to a caller", (await rig.Center.SuperviseAsync("9001", "2001", SupervisionMode.Listen, ct)).Reason, StringComparison.Ordinal);

        // The supervisor ends the call: the caller is released.
        rig.Pbx.Phone("1901").Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();
        Assert.Equal("call-barge-1|9001|PJSIP/1901|t|t ; call-takeover-2|9001|PJSIP/1901|t|t", await SupervisorLegsAsync(rig, ct));
        var callId = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId;
        Assert.Equal("answered|2001|{supervisor:9001}", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id, transfer_chain) FROM calls WHERE call_id = '{callId}'", ct));
    }

    [Fact]
    public async Task SupervisorCodes_FromTheDeskPhone_AskThePin_ThenWhisperOrTakeOver_AndRefuseOthers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callBridge) = await ConnectedCallAsync(rig, ct);
        var phone = rig.Pbx.Phone("1901");

        // *822001: PIN asked; a wrong one is asked again, the right one starts the whisper on this very call.
        var whisper = phone.Dial("*822001");
        await rig.PbxEvents.WaitAsync("Newstate", whisper, ct, e => e["ChannelStateDesc"] == "Up");
        phone.PressDigits("0000#");
        await rig.PbxEvents.WaitAsync("DTMFEnd", whisper, ct, e => e["Digit"] == "#");
        phone.PressDigits(CallCenterRig.Pin + "#");
        var snoop = await rig.PbxEvents.WaitAsync("BridgeEnter", "Snoop/", ct);
        Assert.Equal(snoop["BridgeUniqueid"], (await rig.PbxEvents.WaitAsync("BridgeEnter", whisper, ct))["BridgeUniqueid"]);
        Assert.Equal((agent, "both", "out"), rig.Pbx.SnoopOf(snoop["Channel"]!));
        phone.Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", snoop["Channel"]!, ct);

        // Not a supervisor's phone: answered, refused, released.
        var intruder = rig.Pbx.Phone("1002").Dial("*812001");
        await rig.PbxEvents.WaitAsync("Hangup", intruder, ct);

        // *81 without the agent: the agent ID is asked for (agent-user), then the PIN, as the force codes do; the listen starts.
        var noAgent = phone.Dial("*81");
        await rig.PbxEvents.WaitAsync("Newstate", noAgent, ct, e => e["ChannelStateDesc"] == "Up");
        phone.PressDigits("2001#");
        await rig.PbxEvents.WaitAsync("DTMFEnd", noAgent, ct, e => e["Digit"] == "#");
        phone.PressDigits(CallCenterRig.Pin + "#");
        var listenSnoop = await rig.PbxEvents.WaitAsync("BridgeEnter", "Snoop/", ct, nth: 2);
        Assert.Equal(listenSnoop["BridgeUniqueid"], (await rig.PbxEvents.WaitAsync("BridgeEnter", noAgent, ct))["BridgeUniqueid"]);
        Assert.Equal((agent, "both", "none"), rig.Pbx.SnoopOf(listenSnoop["Channel"]!));
        Assert.Equal(["sound:agent-user", "sound:agent-pass"], rig.Pbx.MediaPlayedOn(noAgent));
        phone.Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", listenSnoop["Channel"]!, ct);

        // *842001: take-over by phone; the agent is cut off, the supervisor talks to the caller.
        var takeOver = phone.Dial("*842001");
        await rig.PbxEvents.WaitAsync("Newstate", takeOver, ct, e => e["ChannelStateDesc"] == "Up");
        phone.PressDigits(CallCenterRig.Pin + "#");
        Assert.Equal(callBridge, (await rig.PbxEvents.WaitAsync("BridgeEnter", takeOver, ct))["BridgeUniqueid"]);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", takeOver, ct);
        await rig.StopServiceAsync();
        Assert.Equal("call-listen-2|9001|PJSIP/1901|t|t ; call-takeover-3|9001|PJSIP/1901|t|t ; call-whisper-1|9001|PJSIP/1901|t|t", await SupervisorLegsAsync(rig, ct));
    }

    [Fact]
    public async Task ForceHangUp_ReleasesBothSides_AgentWrapsUp_RefusedWhenNoCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, _) = await ConnectedCallAsync(rig, ct);

        Assert.True((await rig.Center.ForceHangUpAsync("2001", ct)).Accepted);

        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("agent '2001' is not talking to a caller (state Ready)", (await rig.Center.ForceHangUpAsync("2001", ct)).Reason);
        await rig.StopServiceAsync();
        var callId = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId;
        Assert.Equal("answered|agent", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, released_by) FROM calls WHERE call_id = '{callId}'", ct));
    }
}
