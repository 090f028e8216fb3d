using CtiBridge.Service.Http;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Agents' states across a real <c>kill -9</c> of the active <c>ctibridge run</c> process (issue 14: "adopts … the
/// agents' states"; invariant "agents' states restored"). Before the kill five agents are each in a different
/// state: 2001 talking (with a pause asked for during the call), 2002 in wrap-up, 2003 paused with reason
/// <c>lunch</c>, 2004 ready, 2005 logged in and out again. After the standby has taken over, its HTTP API and
/// <c>live_agents</c> must show each agent as it was: the same state since the same moment, the pause's
/// reason, the wrap-up ending when it was due, the talking agent on the same call (and paused after it, as
/// asked), the logged-out agent not logged in. The records must show each agent's time without a hole or an
/// overlap at the takeover: the state the agent was in at the kill is one interval from its real start.
/// Bounded: every wait has a limit; the processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class KillHardAgentStatesTests
{
    // Long enough to outlast the steps between 2002's call end and the takeover on a loaded machine, short
    // enough to see it end on the standby within the waits' bound.
    private static readonly TimeSpan WrapUp = TimeSpan.FromSeconds(25);

    [Fact]
    public async Task ActiveProcessKilledHard_EveryAgentsStateIsTheSameOnTheStandby_AndItsTimeHasNoHole()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await KillHardRig.StartAsync("kill-agents", [.. AgentIds.Zip(Phones)], TimeSpan.FromSeconds(90), ct, settings =>
        {
            settings.CallControl.Queues[0].WrapUp = WrapUp;
            settings.CallControl.ExternalEndpoint = "PJSIP/carrier/{number}";
        });
        var (database, pbx, active, standby) = (rig.Database, rig.Pbx, rig.Active, rig.Standby);
        foreach (var phone in Phones)
        {
            pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(100)); // and talks until the test hangs up
        }

        var api = rig.AgentsOn(active);
        var trunk = rig.Carrier;

        // 2001 talks (only 2001 is logged in when its caller calls), and asks for a pause during the call.
        await api.LoginAsync("2001", ct);
        var talker = trunk.CallIn("4008001", "5550001", "Talking caller");
        var talking = await api.WaitAsync("2001", a => a.State == "OnCall", "2001 on a call", ct);
        await api.PostAsync("2001", "pause", new { reason = "meeting" }, ct);

        // 2003 paused with a reason, 2005 logged in and out again.
        await api.LoginAsync("2003", ct);
        await api.PostAsync("2003", "pause", new { reason = "lunch" }, ct);
        await api.LoginAsync("2005", ct);
        await api.PostAsync("2005", "logout", null, ct);

        // 2002 takes a call and hangs up: wrap-up. Then 2004 logs in (nobody waits, so it stays ready).
        await api.LoginAsync("2002", ct);
        trunk.CallIn("4008001", "5550002", "Wrapped-up caller");
        await api.WaitAsync("2002", a => a.State == "OnCall", "2002 on a call", ct);
        pbx.Phone("1002").Hangup();
        await api.WaitAsync("2002", a => a.State == "WrapUp", "2002 in wrap-up", ct);
        await api.LoginAsync("2004", ct);

        // What the standby will find: every change stored in live_agents (the pending pause, the wrap-up, the pause, the logout).
        await rig.EventuallyAsync(async () =>
            await database.ScalarAsync<long>("SELECT count(*) FROM live_agents") == 4
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_agents WHERE agent_id = '2001' AND pending_pause_reason = 'meeting'", ct) == 1
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_agents WHERE agent_id = '2002' AND wrap_up_until IS NOT NULL", ct) == 1
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_agents WHERE agent_id = '2003' AND pause_reason = 'lunch'", ct) == 1
            // 2002's ended call stored by the active's record writer (a record still in a killed instance's journal is
            // replayed only when that instance starts again: not what this test is about).
            && await database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE agent_id = '2002'", ct) == 1,
            "the agents' states stored in live_agents, 2002's call in calls", ct);
        var before = new Dictionary<string, AgentEndpoints.AgentView>();
        foreach (var agent in AgentIds)
        {
            before[agent] = await api.GetAsync(agent, ct);
        }

        Assert.Equal(["OnCall", "WrapUp", "Paused", "Ready", "LoggedOut"], AgentIds.Select(a => before[a].State));
        Assert.True(before["2002"].WrapUpEndsAt > DateTimeOffset.UtcNow, $"2002's wrap-up ({before["2002"].WrapUpEndsAt:O}) ended before the kill: the machine is too slow for this test's {WrapUp.TotalSeconds} s wrap-up");

        var stored = await database.ScalarAsync<string>(
            "SELECT string_agg(format('%s %s since %s', agent_id, state, to_char(state_since AT TIME ZONE 'UTC', 'HH24:MI:SS.US')), '; ' ORDER BY agent_id) FROM live_agents", ct);
        void SameSince(string agent, AgentEndpoints.AgentView after) => Assert.True(Micros(before[agent].Since) == Micros(after.Since),
            $"agent {agent} {after.State} since {after.Since:HH:mm:ss.ffffff} on the standby, {before[agent].State} since {before[agent].Since:HH:mm:ss.ffffff} before the kill (live_agents then: {stored}). The standby's lines on {agent}:\n{string.Join("\n", standby.Output.Split('\n').Where(l => l.Contains(agent, StringComparison.Ordinal)))}");
        active.KillHard();
        await standby.WaitReadyAsync(ct); // ready = the calls and agents found are adopted
        api = rig.AgentsOn(standby);

        // Each agent as it was, on the standby's API: same state, since the same moment.
        var after = new Dictionary<string, AgentEndpoints.AgentView>();
        foreach (var agent in AgentIds)
        {
            after[agent] = await api.GetAsync(agent, ct);
        }

        var wrapping = before["2002"].WrapUpEndsAt > DateTimeOffset.UtcNow - TimeSpan.FromSeconds(1); // still wrapping now (else it ended meanwhile: checked in the records)
        Assert.Equal(("OnCall", talking.CallId, true), (after["2001"].State, after["2001"].CallId, after["2001"].PendingPause));
        SameSince("2001", after["2001"]);
        if (wrapping)
        {
            Assert.Equal(("WrapUp", Micros(before["2002"].WrapUpEndsAt)), (after["2002"].State, Micros(after["2002"].WrapUpEndsAt)));
            SameSince("2002", after["2002"]);
        }

        Assert.Equal(("Paused", "lunch"), (after["2003"].State, after["2003"].PauseReason));
        SameSince("2003", after["2003"]);
        Assert.Equal("Ready", after["2004"].State);
        SameSince("2004", after["2004"]);
        Assert.Equal("LoggedOut", after["2005"].State);

        // live_agents as the standby keeps it: the same four agents, the pause's reason, the wrap-up's end, the pending pause.
        Assert.Equal("2001,2002,2003,2004", await database.ScalarAsync<string>("SELECT string_agg(agent_id, ',' ORDER BY agent_id) FROM live_agents", ct));
        Assert.Equal("lunch", await database.ScalarAsync<string>("SELECT pause_reason FROM live_agents WHERE agent_id = '2003'", ct));
        Assert.Equal("meeting", await database.ScalarAsync<string>("SELECT pending_pause_reason FROM live_agents WHERE agent_id = '2001'", ct));

        // The wrap-up ends when it was due (not a new wrap-up from the takeover), then 2002 is ready.
        var ready = await api.WaitAsync("2002", a => a.State == "Ready", "2002 ready after its wrap-up", ct);
        Assert.True(Micros(ready.Since) >= Micros(before["2002"].WrapUpEndsAt), $"2002 ready at {ready.Since:O}, before its wrap-up's end {before["2002"].WrapUpEndsAt:O}");

        // The talking agent's call goes on to its end on the standby; then 2001 wraps up and is paused, as asked during the call.
        Assert.Contains(talker, pbx.ChannelNames);
        pbx.Phone("1001").Hangup();
        await api.WaitAsync("2001", a => a.State == "WrapUp", "2001 in wrap-up after the adopted call", ct);
        await api.PostAsync("2001", "wrapup/end", null, ct);
        var paused = await api.WaitAsync("2001", a => a.State == "Paused", "2001 paused after the call, as asked during it", ct);
        Assert.Equal("meeting", paused.PauseReason);
        Assert.Equal("LoggedOut", (await api.GetAsync("2005", ct)).State);

        await rig.EventuallyAsync(() => Task.FromResult(pbx.ChannelNames.Count == 0), $"every call to end (still up: {string.Join(", ", pbx.ChannelNames)})", ct);
        await standby.StopAsync(ct);

        // The records: the two calls once each, answered by their agents.
        Assert.Equal("2001,2002", await database.ScalarAsync<string>("SELECT string_agg(agent_id, ',' ORDER BY agent_id) FROM calls WHERE disposition = 'answered'", ct));
        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct));

        // Each agent's time: no two intervals overlap, no hole between the first and the last (2005's ended at its logout),
        // and the state an agent was in at the kill is one interval from its real start (not cut at the kill, not restarted at the takeover).
        foreach (var agent in AgentIds)
        {
            await rig.AssertTimeWholeAsync(agent, ct);
        }

        foreach (var (agent, state, reason) in new[] { ("2001", "in_call", (string?)null), ("2003", "paused", "lunch"), ("2004", "available", null) })
        {
            var count = await database.ScalarAsync<long>(
                $"SELECT count(*) FROM agent_state_intervals WHERE agent_id = '{agent}' AND state = '{state}' AND started_at = '{KillHardRig.StoredTime(before[agent].Since!.Value)}'::timestamptz"
                + (reason is null ? string.Empty : $" AND reason = '{reason}'"), ct);
            Assert.True(count == 1, $"agent {agent}: no '{state}' interval from {before[agent].Since:O} (the state it was in at the kill)");
        }

        Assert.Equal(1L, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM agent_state_intervals WHERE agent_id = '2002' AND state = 'wrap_up' AND started_at = '{KillHardRig.StoredTime(before["2002"].Since!.Value)}'::timestamptz AND ended_at >= '{KillHardRig.StoredTime(before["2002"].WrapUpEndsAt!.Value)}'::timestamptz", ct));
    }

    private static readonly string[] AgentIds = ["2001", "2002", "2003", "2004", "2005"];
    private static readonly string[] Phones = ["1001", "1002", "1003", "1004", "1005"];

    private static long? Micros(DateTimeOffset? at) => at?.UtcTicks / 10;
}
