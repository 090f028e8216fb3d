using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.HighAvailability;

/// <summary>
/// A callback conversation across an HA takeover (issues 11 and 14): instance A places a customer-first callback
/// (customer dialled first, then the reserved agent rung and joined) and loses its lease mid-talk; the standby B
/// takes over within 5 s and adopts the conversation from <c>live_callback_calls</c>: the agent stays on the call,
/// the talk goes on until the agent hangs up on B, the customer was dialled once (PbxSim's log), the callback is
/// connected once, and the attempt has one <c>calls</c> row and one recording, written by B.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CallbackTakeoverTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task CustomerFirstCallbackTalking_WhenTheActiveLosesItsLease_TheStandbyAdoptsIt_TalkGoesOn_KeptOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        await using var pair = await HaPair.StartAsync(db, "ctibridge-callback-takeover", ct);
        var rig = pair.Active;
        _ = rig.Trunk;
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 600 };
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        await HaPair.WaitAsync(() => Task.FromResult(callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal)), "A's callback scheduler", ct);
        var ticket = await callbacks.CreateAsync(
            CallbackRequest.AgentScheduled("5550701", "support", DateTimeOffset.UtcNow, null, "takeover mid-talk", "api:test") with { Mode = CallbackMode.CustomerFirst }, ct);
        var dial = await rig.PbxEvents.WaitForAsync<AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal), "the customer dialled", ct);
        var customer = dial["DestChannel"]!;
        await HaPair.WaitAsync(async () => await db.ScalarAsync<long>(
            $"SELECT count(*) FROM live_callback_calls WHERE callback_id = '{ticket.Callback.Id}' AND stage = 'talking' AND recording_started_at IS NOT NULL", ct) == 1,
            "the conversation stored", ct);
        var callId = await db.ScalarAsync<string>($"SELECT call_id FROM live_callback_calls WHERE callback_id = '{ticket.Callback.Id}'", ct);
        var agentId = await db.ScalarAsync<string>($"SELECT agent_id FROM live_callback_calls WHERE call_id = '{callId}'", ct);
        var phone = HaPair.Agents.Single(a => a.AgentId == agentId).Phone;
        var agentLeg = (await rig.PbxEvents.DialToAsync(phone, ct))["DestChannel"]!;
        var connectedAt = await db.ScalarAsync<DateTime>($"SELECT connected_at FROM live_callback_calls WHERE call_id = '{callId}'", ct);

        // A's lock session ends (as when its host dies): B takes over within 5 s and adopts the conversation.
        var lostAt = DateTimeOffset.UtcNow;
        await pair.EndActiveLeaseAsync(db, ct);
        await HaPair.WaitAsync(() => Task.FromResult(pair.StandbyRole.IsActive), "the standby to take over", ct);
        Assert.True(pair.StandbyRole.ActiveSince!.Value - lostAt < TimeSpan.FromSeconds(5), $"takeover took {(pair.StandbyRole.ActiveSince.Value - lostAt).TotalSeconds:F1} s");
        var adopted = await pair.StandbyEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId, "the callback call adopted by B", ct);
        Assert.Equal(agentId, adopted.AgentId);
        Assert.Equal(AgentState.OnCall, (await pair.StandbyCenter.GetAgentAsync(agentId, ct))!.State);
        var takenOverAt = DateTime.UtcNow;

        // The talk goes on with B: nothing hung up; the agent ends it, B releases the customer.
        await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == customer || e["Channel"] == agentLeg));
        rig.Pbx.Phone(phone).Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", customer, ct);
        await pair.StandbyEvents.WaitForAsync<CallEnded>(e => e.CallId == callId, "the callback call ended on B", ct);
        await pair.StopStandbyAsync();

        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal)));
        Assert.Equal("connected|1|1", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', c.state, c.attempts, (SELECT count(*) FROM callback_events e WHERE e.callback_id = c.callback_id AND e.to_state = 'connected')) FROM callbacks c WHERE callback_id = '{ticket.Callback.Id}'", ct));
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(DISTINCT call_id) FROM calls WHERE callback_id = '{ticket.Callback.Id}'", ct));
        var row = $"SELECT * FROM calls WHERE call_id = '{callId}' ORDER BY revision DESC LIMIT 1";
        Assert.Equal($"outbound|answered|{agentId}|agent|call-{callId}-1", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', direction, disposition, agent_id, released_by, recording_id) FROM ({row}) r", ct));
        Assert.Equal(connectedAt.Ticks / 10, (await db.ScalarAsync<DateTime>($"SELECT answered_at FROM ({row}) r", ct)).Ticks / 10);
        Assert.True(await db.ScalarAsync<DateTime>($"SELECT ended_at FROM ({row}) r", ct) > takenOverAt, "the talk ended before the takeover");
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM recordings WHERE call_id = '{callId}'", ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM live_callback_calls", ct));
    }
}
