using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Restart recovery (issue 8) end to end against PbxSim and PostgreSQL: the service is stopped
/// mid-call and a new one started on the same PbxSim and database. Agents come back as they were,
/// the connected call goes on with its agent, the waiting caller keeps its place and original
/// enqueue time, and every call ends exactly once in the records.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class RestartRecoveryTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task ServiceRestartedMidCall_AgentsRestored_ConnectedCallContinues_WaitingCallerKeepsPlace_EachCallRecordedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        await using var rig = await RestartRig.StartWithOneReadyOneAtLunchAsync(db, ct);

        // Call 1 is answered by 2001; call 2 waits (2001 talks, 2002 is at lunch).
        var caller1 = rig.Trunk.CallIn("4008001", "5550001", "First");
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "call 1 answered", ct);
        var agentLeg = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller1, ct);
        var caller2 = rig.Trunk.CallIn("4008001", "5550002", "Second");
        var enqueued2 = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550002", "call 2 enqueued", ct);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_calls", 2, ct);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_agents WHERE pause_reason = 'lunch'", 1, ct);

        // Stop mid-call; the calls stay up in PbxSim. A new service takes over.
        await rig.StopServiceAsync();
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == caller1 || e["Channel"] == caller2 || e["Channel"] == agentLeg));

        // A ring the stopped instance left in the live state (as a kill -9 while a phone rang would): stale once
        // the agents are restored, so the adoption clears it (the status commands would show Ringing for good).
        await using (var stale = db.DataSource.CreateCommand("UPDATE live_agents SET ringing_call_id = 'left-by-the-previous-owner', ringing_since = now() WHERE agent_id = '2002'"))
        {
            Assert.Equal(1, await stale.ExecuteNonQueryAsync(ct));
        }

        await rig.StartServiceAgainAsync(ct);

        var adopted1 = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == answered.CallId, "call 1 adopted", ct);
        Assert.Equal("2001", adopted1.AgentId);
        Assert.Equal(Micros(answered.At), Micros(adopted1.AnsweredAt!.Value));
        var adopted2 = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == enqueued2.CallId, "call 2 adopted", ct);
        Assert.Null(adopted2.AgentId);
        Assert.Equal(Micros(enqueued2.At), Micros(adopted2.EnqueuedAt));
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);
        var paused = (await rig.Center.GetAgentAsync("2002", ct))!;
        Assert.Equal(AgentState.Paused, paused.State);
        Assert.Equal("lunch", paused.PauseReason);
        var (status, _) = Assert.Single(await rig.Center.GetQueuesAsync(ct));
        Assert.Equal(1, status.Waiting);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_agents WHERE ringing_call_id IS NULL AND ringing_since IS NULL", 2, ct);

        // The connected call goes on: caller 1 hangs up, the agent's leg is released by the new
        // instance, 2001 wraps up and gets the waiting caller 2 next.
        rig.Trunk.HangUp(caller1);
        await rig.PbxEvents.WaitAsync("Hangup", agentLeg, ct);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == answered.CallId, "call 1 ended", ct);
        var second = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId == enqueued2.CallId, "call 2 answered", ct);
        Assert.Equal("2001", second.AgentId);
        Assert.Equal(Micros(enqueued2.At), Micros(second.EnqueuedAt));
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller2, ct);
        rig.Trunk.HangUp(caller2);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued2.CallId, "call 2 ended", ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);
        await rig.StopServiceAsync();

        // Records: each call once, with the times the first instance saw.
        foreach (var id in new[] { answered.CallId, enqueued2.CallId })
        {
            Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{id}'", ct));
            Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM queue_visits WHERE call_id = '{id}'", ct));
            Assert.Equal("answered|2001|support", await db.ScalarAsync<string>($"SELECT concat_ws('|', c.disposition, c.agent_id, v.queue) FROM calls c JOIN queue_visits v USING (call_id) WHERE call_id = '{id}'", ct));
        }

        Assert.Equal(Micros(answered.At), Micros(await db.ScalarAsync<DateTime>($"SELECT answered_at FROM calls WHERE call_id = '{answered.CallId}'", ct)));
        Assert.Equal(Micros(enqueued2.At), Micros(await db.ScalarAsync<DateTime>($"SELECT enqueued_at FROM calls WHERE call_id = '{enqueued2.CallId}'", ct)));
        Assert.True(await db.ScalarAsync<bool>($"SELECT wait_seconds >= extract(epoch FROM answered_at - enqueued_at) - 0.001 AND handled IS NOT FALSE FROM calls c LEFT JOIN (SELECT call_id, bool_and(handled) AS handled FROM queue_visits GROUP BY call_id) v USING (call_id) WHERE call_id = '{enqueued2.CallId}'", ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
        Assert.Equal(2L, await db.ScalarAsync<long>("SELECT count(*) FROM live_agents", ct));
    }

    [Fact]
    public async Task ServiceRestarted_WrapUpTimeLeftAndAPauseWaitingForTheCallsEnd_AreKept()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        var queue = RestartRig.Queue();
        queue.WrapUp = TimeSpan.FromMinutes(5); // outlasts the test: only the agents end it
        await using var rig = await RestartRig.StartAsync(db, ct, queue);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        // 2001 talks to caller 1, who hangs up: 2001 is in wrap-up.
        var caller1 = rig.Trunk.CallIn("4008001", "5550011", "Wrapped");
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller1, ct);
        rig.Trunk.HangUp(caller1);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        var wrapUpEnds = (await rig.Center.GetAgentAsync("2001", ct))!.WrapUpEndsAt!.Value;

        // 2002 talks to caller 2 and asks for a pause on the call: it waits for the call's end.
        await rig.LoginAsync("2002", ct);
        var caller2 = rig.Trunk.CallIn("4008001", "5550012", "Talking");
        var answered2 = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.AgentId == "2002", "call 2 answered", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller2, ct);
        Assert.True((await rig.Center.PauseAgentAsync("2002", "meeting", ChangeSource.Supervisor, ct)).Accepted);
        Assert.True((await rig.Center.GetAgentAsync("2002", ct))!.PendingPause);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_agents WHERE agent_id = '2001' AND wrap_up_until IS NOT NULL AND wrap_up_queue = 'support'", 1, ct);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_agents WHERE agent_id = '2002' AND pending_pause_reason = 'meeting' AND NOT pending_logout AND pending_source = 'Supervisor'", 1, ct);

        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == answered2.CallId, "call 2 adopted", ct);

        // Before: 2001 came back ready (a call could ring at once) and 2002's pause was forgotten.
        var wrapping = (await rig.Center.GetAgentAsync("2001", ct))!;
        Assert.Equal(AgentState.WrapUp, wrapping.State);
        Assert.Equal(Micros(wrapUpEnds), Micros(wrapping.WrapUpEndsAt!.Value));
        var talking = (await rig.Center.GetAgentAsync("2002", ct))!;
        Assert.Equal((AgentState.OnCall, true), (talking.State, talking.PendingPause));

        // A new caller waits: nobody is free. 2001 ends the wrap-up and gets the call.
        var caller3 = rig.Trunk.CallIn("4008001", "5550013", "Next");
        var enqueued3 = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550013", "call 3 enqueued", ct);
        Assert.Equal(1, Assert.Single(await rig.Center.GetQueuesAsync(ct)).Status.Waiting);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallOffered>(), e => e.CallId == enqueued3.CallId);
        Assert.True((await rig.Center.EndWrapUpAsync("2001", ct)).Accepted);
        Assert.Equal("2001", (await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.CallId == enqueued3.CallId, "call 3 offered", ct)).AgentId);

        // Caller 2 hangs up: 2002 wraps up, then is paused with the reason and source asked for before the restart.
        rig.Trunk.HangUp(caller2);
        await rig.AgentWentAsync("2002", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.True((await rig.Center.EndWrapUpAsync("2002", ct)).Accepted);
        var paused = await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Paused, ct);
        Assert.Equal(("meeting", ChangeSource.Supervisor), (paused.Reason, paused.Source));
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_agents WHERE agent_id = '2002' AND pause_reason = 'meeting' AND pending_pause_reason IS NULL AND wrap_up_until IS NULL", 1, ct);

        await rig.PbxEvents.WaitAsync("BridgeEnter", caller3, ct);
        rig.Trunk.HangUp(caller3);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued3.CallId, "call 3 ended", ct);
        await rig.StopServiceAsync();
    }

    private static long Micros(DateTimeOffset at) => at.UtcTicks / 10;

    private static long Micros(DateTime utc) => utc.Ticks / 10;
}
