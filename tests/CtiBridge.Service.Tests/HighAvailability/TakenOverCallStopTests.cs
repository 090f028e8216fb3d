using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.HighAvailability;

/// <summary>
/// Calls the HA standby took over (adopted from the Stasis app and the live state), then the
/// standby is stopped gracefully (issue 12): an adopted conversation is a conversation (it may
/// finish within the limit, and is cut at the limit as answered / released by the system), an
/// adopted waiting call goes back to the dialplan at once (system-lost), and each call is in the
/// records exactly once with the times the first instance saw.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class TakenOverCallStopTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly TimeSpan FinishWithin = TimeSpan.FromSeconds(8);

    [Fact]
    public async Task StandbyTookOverCalls_GracefulStop_ConversationsFinishOrAreCutAsAnswered_WaitingCallHandedBack_EachRecordedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;

        // The standby lets conversations go on for 8 s at a graceful stop.
        await using var pair = await HaPair.StartAsync(db, "ctibridge-takeover-stop", ct, c => c.Shutdown = new ShutdownSettings { CallsFinishWithin = FinishWithin });
        var rig = pair.Active;
        var standbyRole = pair.StandbyRole;
        var standbyEvents = pair.StandbyEvents;

        // Two conversations (2001, 2002) and one caller waiting (2003 is paused).
        var first = rig.Trunk.CallIn("4008001", "5550701", "Finishes");
        await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "the first call answered", ct);
        var second = rig.Trunk.CallIn("4008001", "5550702", "Cut at the limit");
        await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "the second call answered", ct, nth: 2);
        var waiting = rig.Trunk.CallIn("4008001", "5550703", "Waiting");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the third call enqueued", ct, nth: 3);
        await WaitAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct) == 3
            && await db.ScalarAsync<long>("SELECT count(*) FROM live_calls WHERE agent_id IS NOT NULL", ct) == 2, "the live state of 3 calls", ct);
        var answeredAt = rig.AcdEvents.Snapshot().OfType<CallAnswered>().ToDictionary(a => a.CallId, a => a.At);
        var secondAgentLeg = (await rig.PbxEvents.DialToAsync(
            rig.AcdEvents.Snapshot().OfType<CallAnswered>().Skip(1).First().AgentId == "2001" ? "1001" : "1002", ct))["DestChannel"]!;

        // The active instance's lock session ends: the standby takes over and adopts the three calls.
        await pair.EndActiveLeaseAsync(db, ct);
        await WaitAsync(() => Task.FromResult(standbyRole.IsActive), "the standby to take over", ct);
        await standbyEvents.WaitForAsync<CallAdopted>(_ => true, "three calls adopted", ct, nth: 3);
        Assert.Equal(2, standbyEvents.Snapshot().OfType<CallAdopted>().Count(e => e.AgentId is not null));

        // Graceful stop of the standby: the waiting caller goes back to the dialplan at once,
        // the conversations are not touched.
        var stop = pair.StopStandbyAsync();
        await rig.PbxEvents.WaitAsync("Newexten", waiting, ct, e => e["Context"] == "ctibridge-fallback" && e["Extension"] == "4008001");
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == first || e["Channel"] == second));
        Assert.DoesNotContain(standbyEvents.Snapshot().OfType<CallEnded>(), e => e.CallId != CallIdOf(rig, "5550703"));

        // The first conversation ends within the limit (the caller hangs up); the second is cut at the limit.
        rig.Trunk.HangUp(first);
        await standbyEvents.WaitForAsync<CallEnded>(e => e.CallId == CallIdOf(rig, "5550701"), "the first conversation to end", ct);
        Assert.False(stop.IsCompleted, "the stop did not wait for the second conversation");
        await stop.WaitAsync(FinishWithin + TimeSpan.FromSeconds(50), ct);
        await rig.PbxEvents.WaitAsync("Newexten", second, ct, e => e["Context"] == "ctibridge-fallback");
        await rig.PbxEvents.WaitAsync("Hangup", secondAgentLeg, ct);

        // Each call once in the records, counted as what it was: answered (by the caller / cut by
        // the system), or lost by the system for the one not yet with anyone — with the first instance's times.
        Assert.Equal("answered|caller|2", await RowAsync(db, "5550701", ct));
        Assert.Equal("answered|system|2", await RowAsync(db, "5550702", ct));
        Assert.Equal("system_lost||2", await RowAsync(db, "5550703", ct));
        Assert.Equal("answered,answered,system_lost", await db.ScalarAsync<string>(
            "SELECT string_agg(v.outcome, ',' ORDER BY c.caller) FROM queue_visits v JOIN calls c USING (call_id) WHERE c.caller LIKE '555070%'", ct));
        foreach (var (callId, at) in answeredAt)
        {
            Assert.Equal(at.UtcTicks / 10, (await db.ScalarAsync<DateTime>($"SELECT answered_at FROM calls WHERE call_id = '{callId}'", ct)).Ticks / 10);
        }

        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
        rig.Trunk.HangUp(second);
        rig.Trunk.HangUp(waiting);
    }

    private static string CallIdOf(CallCenterRig rig, string callerNumber) =>
        rig.AcdEvents.Snapshot().OfType<CallEnqueued>().Single(e => e.Caller.CallerNumber == callerNumber).CallId;

    /// <summary>disposition|released_by|number of rows of the caller's call (each call must have one row; "2" = one call row + one visit row).</summary>
    private static Task<string> RowAsync(TestDatabase db, string caller, CancellationToken ct) => db.ScalarAsync<string>(
        $"SELECT concat_ws('|', max(disposition), coalesce(max(released_by), ''), count(*) + (SELECT count(*) FROM queue_visits v JOIN calls c2 USING (call_id) WHERE c2.caller = '{caller}')) FROM calls WHERE caller = '{caller}'", ct);

    private static Task WaitAsync(Func<Task<bool>> condition, string what, CancellationToken ct) => HaPair.WaitAsync(condition, what, ct);
}
