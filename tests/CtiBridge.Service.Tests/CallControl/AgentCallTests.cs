using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// What an agent does during a call, end to end against PbxSim and PostgreSQL: hold (the caller
/// hears music outside the bridge), mute, DTMF, the call's recording (paused and linked to the call
/// row), blind transfers to a queue, an agent and an outside number, consult transfer, cancel,
/// three-way conference, and the caller's satisfaction survey after the agent hangs up.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AgentCallTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private Task<CallCenterRig> StartAsync(CancellationToken ct, SurveySettings? survey = null, bool externalTransfer = true) =>
        AgentCallRig.StartAsync(database.Database, ct, survey, externalTransfer);

    private static Task<(string Caller, string Agent)> ConnectedCallAsync(CallCenterRig rig, CancellationToken ct, bool login = true) =>
        AgentCallRig.ConnectedCallAsync(rig, ct, login);

    private Task<string> CallRowAsync(CallCenterRig rig, string columns, CancellationToken ct) => AgentCallRig.CallRowAsync(rig, database.Database, columns, ct);

    [Fact]
    public async Task HoldMuteDtmfAndRecording_CallerHearsMusicOutsideTheBridge_AndTheRecordingIsLinkedToTheCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);
        var started = await rig.AcdEvents.WaitForAsync<CallRecordingStarted>(_ => true, "the recording to start", ct);
        Assert.Equal("2001", started.AgentId);
        Assert.EndsWith(started.RecordingId + ".wav", started.Path, StringComparison.Ordinal);

        // Hold: the caller leaves the bridge and hears the queue's music; retrieve: back in the same bridge.
        Assert.True((await rig.Center.HoldAsync("2001", true, ct)).Accepted);
        var left = await rig.PbxEvents.WaitAsync("BridgeLeave", caller, ct);
        Assert.Equal("default", (await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 1))["Class"]);
        Assert.True((await rig.Center.HoldAsync("2001", false, ct)).Accepted);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct, nth: 2);
        var back = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(left["BridgeUniqueid"], back["BridgeUniqueid"]);
        Assert.Equal([true, false], rig.AcdEvents.Snapshot().OfType<CallerHoldChanged>().Select(e => e.OnHold));

        // Mute: the agent's audio into Asterisk is dropped (no event in Asterisk: PbxSim's channel state).
        Assert.True((await rig.Center.MuteAsync("2001", true, ct)).Accepted);
        await rig.AcdEvents.WaitForAsync<AgentMuteChanged>(e => e.Muted, "mute", ct);
        await Eventually.TrueAsync(() => rig.Pbx.MuteDirectionOf(agent) == "in", "the agent's channel muted", ct);
        Assert.True((await rig.Center.MuteAsync("2001", false, ct)).Accepted);
        await Eventually.TrueAsync(() => rig.Pbx.MuteDirectionOf(agent) is null, "the agent's channel un-muted", ct);

        // DTMF on the agent's behalf goes to the caller.
        Assert.True((await rig.Center.SendDtmfAsync("2001", "1#", ct)).Accepted);
        await rig.PbxEvents.WaitAsync("DTMFEnd", caller, ct, e => e["Digit"] == "#");
        var bad = await rig.Center.SendDtmfAsync("2001", "12x", ct);
        Assert.Equal("'12x' is not a DTMF string (1–32 of 0-9 * # A-D, ',' for a pause)", bad.Reason);

        // Pausing the recording (a card number is read out), then resuming it.
        using var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(rig.Pbx).Ari));
        Assert.True((await rig.Center.PauseRecordingAsync("2001", true, ct)).Accepted);
        await rig.AcdEvents.WaitForAsync<CallRecordingPaused>(e => e.Paused, "recording paused", ct);
        await Eventually.TrueAsync(async () => (await ari.Recordings.GetLiveAsync(started.RecordingId, ct)).State == "paused", "the live recording paused", ct);
        Assert.True((await rig.Center.PauseRecordingAsync("2001", false, ct)).Accepted);

        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.AcdEvents.WaitForAsync<CallRecordingEnded>(e => e.RecordingId == started.RecordingId, "the recording to end", ct);
        var row = await CallRowAsync(rig, "agent_id, hold_seconds > 0, recording_id", ct);
        Assert.Equal($"2001|t|{started.RecordingId}", row);
        Assert.Equal($"{started.Path}|2001|t", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', path, agent_id, ended_at > started_at) FROM recordings WHERE recording_id = '{started.RecordingId}'", ct));
    }

    [Fact]
    public async Task AgentRequests_WhenNotOnACall_AreRefusedWithTheReason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct, externalTransfer: false);
        await rig.LoginAsync("2001", ct);
        Assert.Equal("agent '2001' is not talking to a caller (state Ready)", (await rig.Center.HoldAsync("2001", true, ct)).Reason);
        Assert.Equal("agent '9999' is not configured in callControl.agents", (await rig.Center.TransferAsync("9999", TransferTarget.ToQueue("billing"), ct)).Reason);
        await ConnectedCallAsync(rig, ct, login: false);
        Assert.Equal("no consultation in progress", (await rig.Center.CompleteTransferAsync("2001", ct)).Reason);
        Assert.Equal("agent '2002' is not ready (state LoggedOut)", (await rig.Center.ConsultAsync("2001", TransferTarget.ToAgent("2002"), ct)).Reason);
        Assert.Equal("'55x' is not a number to dial (digits, optionally a leading +)", (await rig.Center.TransferAsync("2001", TransferTarget.ToExternal("55x"), ct)).Reason);
        Assert.Equal("no agent of queue 'billing' is ready to consult; transfer blind to the queue to wait there", (await rig.Center.ConsultAsync("2001", TransferTarget.ToQueue("billing"), ct)).Reason);
        const string NotPermitted = "agent '2001' may not transfer to or invite outside numbers (callControl.agents[].externalTransfer is off)";
        Assert.Equal(NotPermitted, (await rig.Center.TransferAsync("2001", TransferTarget.ToExternal("13800001111"), ct)).Reason);
        Assert.Equal(NotPermitted, (await rig.Center.ConsultAsync("2001", TransferTarget.ToExternal("13800001111"), ct)).Reason);
        Assert.StartsWith("transfer target queue 'nowhere' is not configured", (await rig.Center.TransferAsync("2001", TransferTarget.ToQueue("nowhere"), ct)).Reason, StringComparison.Ordinal);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);
    }

    [Fact]
    public async Task BlindTransferToAQueue_CallerHearsThatQueuesMusic_ItsAgentAnswers_TheCallRowHasTheChain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        await rig.LoginAsync("2003", ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);

        Assert.True((await rig.Center.TransferAsync("2001", TransferTarget.ToQueue("billing"), ct)).Accepted);

        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        Assert.Equal("jazz", (await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, e => e["Class"] == "jazz"))["Class"]);
        var dial = await rig.PbxEvents.DialToAsync("1003", ct);
        Assert.Equal("[billing] Jane Customer", dial["DestCallerIDName"]);
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        var agentIn = await rig.PbxEvents.WaitAsync("BridgeEnter", dial["DestChannel"]!, ct);
        Assert.Equal(callerIn["BridgeUniqueid"], agentIn["BridgeUniqueid"]);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AgentWentAsync("2003", AgentState.Ringing, AgentState.OnCall, ct);

        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2003", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("{support,billing}|{queue:billing}|2003|answered|2",
            await CallRowAsync(rig, "queues, transfer_chain, agent_id, disposition, (SELECT count(*) FROM recordings r WHERE r.call_id = calls.call_id)", ct));
        Assert.Equal(1L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM queue_events WHERE event = 'BLINDTRANSFER' AND agent = '2001' AND data[1] = 'billing'", ct));
    }

    [Fact]
    public async Task BlindTransferToAReadyAgent_RingsThatAgentsPhone()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, _) = await ConnectedCallAsync(rig, ct);
        await rig.LoginAsync("2002", ct);

        Assert.True((await rig.Center.TransferAsync("2001", TransferTarget.ToAgent("2002"), ct)).Accepted);

        var dial = await rig.PbxEvents.DialToAsync("1002", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", dial["DestChannel"]!, ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("{agent:2002}|2002", await CallRowAsync(rig, "transfer_chain, agent_id", ct));
    }

    [Fact]
    public async Task BlindTransferToAnOutsideNumber_CallerIsBridgedWithIt_AndReleasedWhenItHangsUp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);

        Assert.True((await rig.Center.TransferAsync("2001", TransferTarget.ToExternal("13800001111"), ct)).Accepted);

        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        var dial = await rig.PbxEvents.WaitForAsync<AmiMessage>(
            e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13800001111", "the outside number dialled", ct);
        var outside = dial["DestChannel"]!;
        var outsideIn = await rig.PbxEvents.WaitAsync("BridgeEnter", outside, ct);
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(outsideIn["BridgeUniqueid"], callerIn["BridgeUniqueid"]);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);

        // Every call is recorded (REC-05): the part with the outside number too, in its own bridge recording.
        var callId = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId;
        var agentPart = (await rig.AcdEvents.WaitForAsync<CallRecordingStarted>(_ => true, "the agent's recording", ct)).RecordingId;
        var outsidePart = $"call-{callId}-ext";
        using var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(rig.Pbx).Ari));
        await Eventually.TrueAsync(async () => await IsRecordingLiveAsync(ari, outsidePart, ct), "the outside part recorded live", ct);

        rig.Trunk.HangUp(outside);
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        Assert.Equal($"{{external:13800001111}}|2001|answered|{agentPart}", await CallRowAsync(rig, "transfer_chain, agent_id, disposition, recording_id", ct));
        Assert.Equal("wav", (await ari.Recordings.GetStoredAsync(outsidePart, ct)).Format);
        // Both parts stored once each, both linked to the call: the agent's part (with the agent) and the outside part after it.
        Assert.Equal($"{agentPart}:2001:t {outsidePart}::t", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws(':', recording_id, coalesce(agent_id, ''), ended_at >= started_at), ' ' ORDER BY started_at) FROM recordings WHERE call_id = '{callId}'", ct));
        Assert.Equal($"{outsidePart}.wav", await database.Database.ScalarAsync<string>(
            $"SELECT substring(path from '[^/]+$') FROM recordings WHERE recording_id = '{outsidePart}'", ct));
    }

    private static async Task<bool> IsRecordingLiveAsync(AriClient ari, string name, CancellationToken ct)
    {
        try
        {
            return (await ari.Recordings.GetLiveAsync(name, ct)).State == "recording";
        }
        catch (AriRequestException ex) when (ex.StatusCode == 404)
        {
            return false; // not started yet
        }
    }

    [Fact]
    public async Task ConsultTransferToAColleague_ColleagueHeldForTheConsult_ThenTakesTheCallerInTheSameBridge()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);
        await rig.LoginAsync("2002", ct);

        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToAgent("2002"), ct)).Accepted);

        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 1);
        var consult = await rig.PbxEvents.DialToAsync("1002", ct);
        Assert.Equal("2001", consult["DestCallerIDNum"]);
        await rig.AgentWentAsync("2002", AgentState.Ready, AgentState.Paused, ct);
        var consultIn = await rig.PbxEvents.WaitAsync("BridgeEnter", consult["DestChannel"]!, ct);
        var agentIn = await rig.PbxEvents.WaitAsync("BridgeEnter", agent, ct);
        Assert.Equal(agentIn["BridgeUniqueid"], consultIn["BridgeUniqueid"]);
        Assert.Equal("consult", (await rig.Center.GetAgentAsync("2002", ct))!.PauseReason);

        // A queue call arriving now does not take the consulted colleague.
        Assert.True((await rig.Center.CompleteTransferAsync("2001", ct)).Accepted);

        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        var callerBack = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(consultIn["BridgeUniqueid"], callerBack["BridgeUniqueid"]);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1002-", StringComparison.Ordinal)));
        Assert.True(Assert.Single(rig.AcdEvents.Snapshot().OfType<CallTransferred>()).Attended);

        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("{agent:2002}|2002|agent:2002", await CallRowAsync(rig,
            "transfer_chain, agent_id, (SELECT data[2] FROM queue_events q WHERE q.call_id = calls.call_id AND q.event = 'ATTENDEDTRANSFER')", ct));
    }

    [Fact]
    public async Task ConsultOfAQueue_RingsItsReadyColleague_Cancelled_ColleagueReleasedAndReady_CallerBackWithTheAgent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);
        await rig.LoginAsync("2002", ct);
        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToQueue("support"), ct)).Accepted);
        await rig.AgentWentAsync("2002", AgentState.Ready, AgentState.Paused, ct);
        var consult = (await rig.PbxEvents.DialToAsync("1002", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", consult, ct);

        Assert.True((await rig.Center.CancelConsultAsync("2001", ct)).Accepted);

        await rig.PbxEvents.WaitAsync("Hangup", consult, ct);
        await rig.AgentWentAsync("2002", AgentState.Paused, AgentState.Ready, ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal([true, false], rig.AcdEvents.Snapshot().OfType<CallerHoldChanged>().Select(e => e.OnHold));
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && e["Channel"] == agent);
    }

    [Fact]
    public async Task ThreeWayConferenceWithAnOutsideNumber_AgentLeaves_CallerStaysWithTheOutsideParty()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent) = await ConnectedCallAsync(rig, ct);
        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToExternal("13900002222"), ct)).Accepted);
        var outside = (await rig.PbxEvents.WaitForAsync<AmiMessage>(e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13900002222", "the consult dial", ct))["DestChannel"]!;
        var outsideIn = await rig.PbxEvents.WaitAsync("BridgeEnter", outside, ct);

        Assert.True((await rig.Center.ConferenceAsync("2001", ct)).Accepted);

        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(outsideIn["BridgeUniqueid"], callerIn["BridgeUniqueid"]);

        // The agent hangs up: the caller and the outside party go on (an attended transfer by hang-up).
        rig.Pbx.Phone("1001").Hangup();
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to leave the ACD", ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && e["Channel"] == caller);
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", outside, ct);
        Assert.Equal("{external:13900002222}|answered", await CallRowAsync(rig, "transfer_chain, disposition", ct));
        _ = agent;
    }

    [Fact]
    public async Task Survey_AgentHangsUp_CallerPressesAScore_StoredWithTheCall()
    {
        var ct = TestContext.Current.CancellationToken;
        // The caller's key, not the survey's timeout, ends this survey (the timeout has its own test below):
        // a 10 s timer raced the key press, which under load comes after the hang-up, the bridge's end and
        // the question have gone through ARI.
        await using var rig = await StartAsync(ct, new SurveySettings { Prompt = "ctibridge-survey", ThanksPrompt = "auth-thankyou", Timeout = TimeSpan.FromMinutes(5) });
        var (caller, agent) = await ConnectedCallAsync(rig, ct);

        rig.Pbx.Phone("1001").Hangup();
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.PbxEvents.WaitAsync("BridgeLeave", caller, ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && e["Channel"] == caller);
        rig.Trunk.PressDigits(caller, "0");

        var answer = await rig.AcdEvents.WaitForAsync<SurveyAnswered>(_ => true, "the survey answer", ct);
        Assert.Equal((10, "2001", "support"), (answer.Score, answer.AgentId, answer.Queue));
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("10|agent", await CallRowAsync(rig, "survey_score, released_by", ct));
        Assert.Equal("satisfaction|10|2001", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', question, score, agent_id) FROM survey_answers WHERE call_id = '{answer.CallId}'", ct));
        _ = agent;
    }

    [Fact]
    public async Task Survey_NoKeyPressed_CallerReleasedAfterTheTimeout()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct, new SurveySettings { Timeout = TimeSpan.FromSeconds(1) });
        var (caller, _) = await ConnectedCallAsync(rig, ct);
        rig.Pbx.Phone("1001").Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<SurveyAnswered>());
    }
}
