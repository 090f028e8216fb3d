using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A restart of CtiBridge during a consultation (attended transfer in progress) or a three-way conference
/// (issue 8). The calls stay in the Stasis app (no hand-back at stop); the new instance reads the consultation
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

    private async Task WaitForRowsAsync(string sql, long expected, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        while (await database.Database.ScalarAsync<long>(sql, ct) != expected)
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>A caller talking to agent 2001, its live_calls row written with the agent; returns the caller's and the agent's channels and the call id.</summary>
    private async Task<(string Caller, string Agent, string CallId)> ConnectedCallAsync(CallCenterRig rig, string callerNumber, CancellationToken ct)
    {
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", callerNumber, "Jane Customer");
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.AgentId == "2001", "the call answered", ct);
        var agent = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await WaitForRowsAsync($"SELECT count(*) FROM live_calls WHERE call_id = '{Q(answered.CallId)}' AND agent_id = '2001'", 1, ct);
        return (caller, agent, answered.CallId);
    }

    [Fact]
    public async Task RestartDuringAConsultWithAColleague_TheConsultIsAdopted_TheTransferCompletes_OneCallRowWithTheChain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var (caller, agent, callId) = await ConnectedCallAsync(rig, "5553001", ct);
        await rig.LoginAsync("2002", ct);
        Assert.True((await rig.Center.ConsultAsync("2001", TransferTarget.ToAgent("2002"), ct)).Accepted);
        var consult = (await rig.PbxEvents.DialToAsync("1002", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", consult, ct);
        await WaitForRowsAsync("SELECT count(*) FROM live_agents WHERE agent_id = '2002' AND pause_reason = 'consult'", 1, ct);

        // The caller is on hold outside the bridge, the agent and the colleague talk: the service stops.
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        var adopted = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId, "the call adopted", ct);
        Assert.Equal("2001", adopted.AgentId);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);
        Assert.Equal((AgentState.Paused, "consult"), ((await rig.Center.GetAgentAsync("2002", ct))!.State, (await rig.Center.GetAgentAsync("2002", ct))!.PauseReason));

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
            $"SELECT string_agg(concat_ws('|', transfer_chain, agent_id, disposition), ',') FROM calls WHERE caller = '5553001'", ct));
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
