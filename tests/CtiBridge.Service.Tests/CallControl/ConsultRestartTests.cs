using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A restart of CtiBridge during a consultation (attended transfer in progress, the colleague talking or still
/// ringing), a three-way conference or a plain hold (issue 8). The calls stay in the Stasis app (no hand-back at stop); the new instance reads the consultation
/// from Asterisk's topology (the consult leg's name says who is consulted) and carries on: the transfer is
/// completed, the conference goes on without the agent. Before, the adopter hung up the agent's leg (its caller
/// was held outside the bridge) or the consulted party, and put the caller back in the queue.
/// PbxSim + PostgreSQL, real clock, bounded waits.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class ConsultRestartTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CallQueueSettings Queue() => new()
    {
        // An answer must never lose against the ring timer: these tests are about what comes after it.
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(60), RetryAfterNoAnswer = TimeSpan.FromSeconds(30),
        WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private async Task<CallCenterRig> StartAsync(CancellationToken ct)
    {
        var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], ct, configure: c =>
        {
            c.Agents[0].ExternalTransfer = true;
            c.Shutdown.HandBackCalls = false; // the calls stay in the Stasis app for the next instance
        });
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3 };
        return rig;
    }

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    /// <summary>A caller talking to agent 2001, its live_calls row written with the agent; returns the caller's and the agent's channels and the call id.</summary>
    private async Task<(string Caller, string Agent, string CallId)> ConnectedCallAsync(CallCenterRig rig, string callerNumber, CancellationToken ct)
    {
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", callerNumber, "Jane Customer");
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.AgentId == "2001", "the call answered", ct);
        var agent = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await RestartRig.WaitForRowsAsync(database.Database, $"SELECT count(*) FROM live_calls WHERE call_id = '{Q(answered.CallId)}' AND agent_id = '2001'", 1, ct);
        return (caller, agent, answered.CallId);
    }

    /// <summary>
    /// The colleague talks with the agent at the restart (<paramref name="answeredBeforeRestart"/>), or their phone is
    /// still ringing then and answers only once the new instance controls the call: either way the consultation is
    /// adopted, the colleague joins the agent, and the transfer completes with one ring of the colleague's phone.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RestartDuringAConsultWithAColleague_TheConsultIsAdopted_TheTransferCompletes_OneCallRowWithTheChain(bool answeredBeforeRestart)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var callerNumber = answeredBeforeRestart ? "5553001" : "5553003";
        var (caller, agent, callId) = await ConnectedCallAsync(rig, callerNumber, ct);
        await rig.LoginAsync("2002", ct);
        if (!answeredBeforeRestart)
        {
            rig.Pbx.Phone("1002").NeverAnswers(); // until the test answers it, after the restart
        }

        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToAgent("2002"), ct)).Accepted);
        var consult = (await rig.PbxEvents.DialToAsync("1002", ct))["DestChannel"]!;
        if (answeredBeforeRestart)
        {
            await rig.PbxEvents.WaitAsync("BridgeEnter", consult, ct);
        }
        else
        {
            await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 2); // the first was in the queue
        }

        await RestartRig.WaitForRowsAsync(database.Database, "SELECT count(*) FROM live_agents WHERE agent_id = '2002' AND pause_reason = 'consult'", 1, ct);

        // The caller is on hold outside the bridge, the agent talks with the colleague or waits for them: the service stops.
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        var adopted = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId, "the call adopted", ct);
        Assert.Equal("2001", adopted.AgentId);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);
        Assert.Equal((AgentState.Paused, "consult"), ((await rig.Center.GetAgentAsync("2002", ct))!.State, (await rig.Center.GetAgentAsync("2002", ct))!.PauseReason));
        if (!answeredBeforeRestart)
        {
            // The colleague answers the ring the first instance started: the new one bridges them with the agent.
            Assert.Equal(0, rig.PbxEvents.Count("BridgeEnter", e => e["Channel"] == consult));
            rig.Pbx.Phone("1002").Answer();
            var consultAnswered = await rig.PbxEvents.WaitAsync("BridgeEnter", consult, ct);
            var agentIn = rig.PbxEvents.Snapshot().Last(e => e.EventName == "BridgeEnter" && e["Channel"] == agent);
            Assert.Equal(agentIn["BridgeUniqueid"], consultAnswered["BridgeUniqueid"]);
        }

        // Nobody was hung up or rung again; the agent completes the transfer from the new instance.
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == agent || e["Channel"] == consult || e["Channel"] == caller));
        Assert.True((await rig.Center.CompleteTransferAsync("2001", ct)).Accepted);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        var callerBack = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        var consultIn = rig.PbxEvents.Snapshot().Last(e => e.EventName == "BridgeEnter" && e["Channel"] == consult);
        Assert.Equal(consultIn["BridgeUniqueid"], callerBack["BridgeUniqueid"]);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1002-", StringComparison.Ordinal)));

        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", consult, ct);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();
        Assert.Equal("{agent:2002}|2002|answered", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws('|', transfer_chain, agent_id, disposition), ',') FROM calls WHERE caller = '{callerNumber}'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    /// <summary>
    /// Hold time across a restart (issue 14): the hold's start and the handling's hold so far are kept with the live call
    /// (<c>live_calls.hold_started_at</c>, <c>hold_seconds</c>), so the adopter counts a hold going on from its real start
    /// and a hold that ended before the restart stays hold. Before, the adopter counted the hold from the adoption and the
    /// earlier hold as talk.
    /// </summary>
    [Fact]
    public async Task RestartWithTheCallerOnHold_HoldCountsFromItsRealStart_AndAnEarlierHoldStaysHold()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callId) = await ConnectedCallAsync(rig, "5553014", ct);

        // A first hold, over before the restart; then a second, going on at the restart.
        Assert.True((await rig.Center.HoldAsync("2001", true, ct)).Accepted);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 2); // the first was in the queue
        Assert.True((await rig.Center.HoldAsync("2001", false, ct)).Accepted);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct, nth: 2);
        Assert.True((await rig.Center.HoldAsync("2001", true, ct)).Accepted);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 3);
        await RestartRig.WaitForRowsAsync(database.Database,
            $"SELECT count(*) FROM live_calls WHERE call_id = '{Q(callId)}' AND hold_started_at IS NOT NULL AND hold_seconds > 0", 1, ct);
        var before = rig.AcdEvents.Snapshot().OfType<CallerHoldChanged>().Where(e => e.CallId == callId).ToList();
        Assert.Equal([true, false, true], before.Select(e => e.OnHold));

        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId, "the call adopted", ct);

        // Adopted on hold since the hold's real start (what a desktop shows as the held caller's wait), not since the adoption.
        var adoptedHold = await rig.AcdEvents.WaitForAsync<CallerHoldChanged>(e => e.CallId == callId && e.OnHold, "the adopted hold", ct, nth: 3);
        Assert.True(adoptedHold.At > before[2].At);
        Assert.Equal(before[2].At.UtcTicks / 10, adoptedHold.Since!.Value.UtcTicks / 10); // PostgreSQL keeps microseconds

        Assert.True((await rig.Center.HoldAsync("2001", false, ct)).Accepted);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct, nth: 3);
        var retrieved = await rig.AcdEvents.WaitForAsync<CallerHoldChanged>(e => e.CallId == callId && !e.OnHold, "the retrieve", ct, nth: 2);
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        // The row's hold is both holds, each from its real start; talk is the rest of the time from the answer.
        var expected = (before[1].At - before[0].At + (retrieved.At - before[2].At)).TotalSeconds;
        var stored = await database.Database.ScalarAsync<double>($"SELECT hold_seconds FROM calls WHERE caller = '5553014'", ct);
        Assert.InRange(stored, expected - 0.001, expected + 0.001);
        var unaccounted = await database.Database.ScalarAsync<double>(
            "SELECT extract(epoch FROM ended_at - answered_at)::double precision - talk_seconds - hold_seconds FROM calls WHERE caller = '5553014'", ct);
        Assert.InRange(unaccounted, -0.001, 0.001);
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    [Fact]
    public async Task RestartWithTheCallerOnHold_TheCallerStaysOnTheMusic_AndTheAgentRetrievesThemIntoTheSameBridge()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callId) = await ConnectedCallAsync(rig, "5553004", ct);
        Assert.True((await rig.Center.HoldAsync("2001", true, ct)).Accepted);
        var left = await rig.PbxEvents.WaitAsync("BridgeLeave", caller, ct);
        Assert.Equal("default", (await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 2))["Class"]); // the first was in the queue

        // The caller hears the queue's music outside the bridge, the agent is alone in it: the service stops.
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        var adopted = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId, "the call adopted", ct);
        Assert.Equal("2001", adopted.AgentId);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);

        // Adopted on hold: nobody hung up, the music not stopped, the caller not put back with the agent nor in the queue.
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == agent || e["Channel"] == caller));
        Assert.Equal(1, rig.PbxEvents.Count("MusicOnHoldStop", e => e["Channel"] == caller));
        Assert.Equal(1, rig.PbxEvents.Count("BridgeEnter", e => e["Channel"] == caller));
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1001-", StringComparison.Ordinal)));
        Assert.True(rig.AcdEvents.Snapshot().OfType<CallerHoldChanged>().Last(e => e.CallId == callId).OnHold);

        // Holding again is nothing new; retrieving takes the caller off the music into the bridge they left.
        Assert.True((await rig.Center.HoldAsync("2001", false, ct)).Accepted);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct, nth: 2);
        var back = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);
        Assert.Equal(left["BridgeUniqueid"], back["BridgeUniqueid"]);
        Assert.False(rig.AcdEvents.Snapshot().OfType<CallerHoldChanged>().Last(e => e.CallId == callId).OnHold);

        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();
        Assert.Equal("2001|answered|t", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(concat_ws('|', agent_id, disposition, hold_seconds > 0), ',') FROM calls WHERE caller = '5553004'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    [Fact]
    public async Task RestartDuringAThreeWayConference_TheConferenceGoesOn_TheAgentLeaves_CallerStaysWithTheOutsideParty()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callId) = await ConnectedCallAsync(rig, "5553002", ct);
        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToExternal("13900003333"), ct)).Accepted);
        var outside = (await rig.PbxEvents.WaitForAsync<AmiMessage>(e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13900003333", "the consult dial", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", outside, ct);
        Assert.True((await rig.Center.ConferenceAsync("2001", ct)).Accepted);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct, nth: 2);

        // Caller, agent and outside party talk together: the service stops.
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId && e.AgentId == "2001", "the call adopted with its agent", ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == agent || e["Channel"] == outside || e["Channel"] == caller));

        // The agent hangs up: the caller and the outside party go on (an attended transfer by hang-up), as without the restart.
        rig.Pbx.Phone("1001").Hangup();
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == callId, "the call to leave the ACD", ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == caller || e["Channel"] == outside));
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", outside, ct);
        await rig.StopServiceAsync();
        Assert.Equal("{external:13900003333}|answered", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws('|', transfer_chain, disposition), ',') FROM calls WHERE caller = '5553002'", ct));
    }
}
