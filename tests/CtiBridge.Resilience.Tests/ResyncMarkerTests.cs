using CtiBridge.Core.Acd;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// After an ARI events gap, call control reads Asterisk's channels (REST) and ends the calls whose
/// channels vanished in the gap as lost. A caller who hangs up just after the reconnect is missing
/// from that snapshot too, but its StasisEnd is on the new events connection: its end is knowable and
/// must be recorded as what it was, not as lost. Nothing orders a REST answer with the events, so the
/// resync waits for a marker (an ARI user event sent after the snapshot, queued by Asterisk behind
/// that StasisEnd). This case places the hang-up in that window deterministically: PbxSim holds the
/// snapshot's request until the caller has hung up, and holds the events until the snapshot is read.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class ResyncMarkerTests
{
    [Theory]
    [InlineData("waiting")]
    [InlineData("talking")]
    public async Task CallerHangsUpBetweenReconnectAndResync_CallEndsAsTheCallersHangUp_NotAsLost(string stage)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, agents: 1, ct);
        var (caller, enqueued) = await CallAtStageAsync(rig, stage, ct);

        // The resync's snapshot starts with the app's channel list: it waits until the caller is gone.
        using (var snapshotHeld = rig.Pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/applications/ctibridge"))
        {
            var heldBefore = rig.Pbx.AriRequestsHeld;
            rig.Pbx.DropAriConnections();
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore),
                () => Task.FromResult("call control to reconnect and ask for the resync snapshot"), ct);

            // Reconnected, resync on its way: the caller hangs up now. Its StasisEnd waits with PbxSim,
            // as if the events WebSocket lagged behind the REST answers.
            using var eventsHeld = rig.Pbx.HoldAriEvents();
            rig.Trunk.HangUp(caller);
            Assert.DoesNotContain(caller, rig.Pbx.ChannelNames);
            Assert.Contains(rig.Pbx.HeldAriEvents, e => e.Contains("\"StasisEnd\"", StringComparison.Ordinal));

            // The snapshot is read without the caller. Before the marker, call control reconciled at
            // once and ended the call as lost; now it sends the marker and waits for it.
            snapshotHeld.Dispose();
            await CallTraffic.EventuallyAsync(
                () => Task.FromResult(rig.AcdEvents.Snapshot().OfType<CallEnded>().Any(e => e.CallId == enqueued.CallId)
                    || rig.Pbx.HeldAriEvents.Any(e => e.Contains("CtiBridgeResync", StringComparison.Ordinal))),
                () => Task.FromResult("call control to read the snapshot and either end the call or send its resync marker"), ct);

            // The events flow again: the StasisEnd first, then the marker behind it.
        }

        // Before the marker: waiting, the call was system-lost instead of abandoned; talking, it was
        // completed with nobody as the releasing party instead of the caller.
        await AssertEndedAsTheCallersHangUpAsync(rig, database, enqueued, stage, ct);
    }

    /// <summary>
    /// A caller who hangs up DURING the events gap (the events WebSocket is down: its StasisEnd goes
    /// nowhere) was recorded as lost. But AMI, a connection of its own, stays up and sees the Hangup with
    /// its cause: the resync reads AMI's events up to the snapshot (an AMI UserEvent marker) and ends the
    /// call as the caller's hang-up. PbxSim holds the events WebSocket's reconnect until the caller is gone.
    /// </summary>
    [Theory]
    [InlineData("waiting")]
    [InlineData("talking")]
    public async Task CallerHangsUpDuringTheEventsGap_AmiSawTheHangUp_CallEndsAsTheCallersHangUp_NotAsLost(string stage)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, agents: 1, ct);
        var (caller, enqueued) = await CallAtStageAsync(rig, stage, ct);

        // The events WebSocket drops and its reconnect waits: the gap is open while the caller hangs up.
        using (rig.Pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/events"))
        {
            var heldBefore = rig.Pbx.AriRequestsHeld;
            rig.Pbx.DropAriConnections();
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore),
                () => Task.FromResult("call control to try to reconnect its events"), ct);
            rig.Trunk.HangUp(caller);
            Assert.DoesNotContain(caller, rig.Pbx.ChannelNames);
            await rig.PbxEvents.WaitAsync("Hangup", caller, ct); // on AMI, which stayed up
            Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallEnded>(), e => e.CallId == enqueued.CallId); // nothing seen on ARI
        }

        // Reconnected: the resync finds the caller gone. Before, the call was system-lost (waiting) or
        // completed with nobody as the releasing party (talking).
        await AssertEndedAsTheCallersHangUpAsync(rig, database, enqueued, stage, ct);
    }

    /// <summary>
    /// One caller brought to the stage the gap hits: <c>waiting</c> in the queue (the only agent paused,
    /// so nobody is offered the call) or <c>talking</c> to the agent (answered and bridged).
    /// </summary>
    private static async Task<(string Caller, CallEnqueued Enqueued)> CallAtStageAsync(CallCenterRig rig, string stage, CancellationToken ct)
    {
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        if (stage == "waiting")
        {
            Assert.True((await rig.Center.PauseAgentAsync("2001", "break", ct)).Accepted);
        }

        var caller = rig.Trunk.CallIn("4008001", "5550001", "Customer");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to enter the queue", ct);
        if (stage == "talking")
        {
            await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "the call to be answered", ct);
            await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        }

        return (caller, enqueued);
    }

    /// <summary>
    /// The call ended as what it was, not as lost: abandoned (waiting) or answered and released by the
    /// caller (talking). The agent goes on as after any call, and the records hold the call once, as it ended.
    /// </summary>
    private static async Task AssertEndedAsTheCallersHangUpAsync(CallCenterRig rig, TestDatabase database, CallEnqueued enqueued, string stage, CancellationToken ct)
    {
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the call to end", ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallSystemLost>(), e => e.CallId == enqueued.CallId);
        if (stage == "waiting")
        {
            Assert.Equal(CallDisposition.Abandoned, ended.Disposition);
            Assert.True((await rig.Center.ResumeAgentAsync("2001", ct)).Accepted);
        }
        else
        {
            Assert.Equal(CallDisposition.Answered, ended.Disposition);
            var completed = Assert.Single(rig.AcdEvents.Snapshot().OfType<CallCompleted>(), e => e.CallId == enqueued.CallId);
            Assert.Equal(HangupParty.Caller, completed.ReleasedBy);
        }

        await CallTraffic.AssertSettledAsync(rig, ["2001"], ct);
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        Assert.Equal(stage == "waiting" ? "abandoned" : "answered", await database.ScalarAsync<string>("SELECT string_agg(disposition, ',') FROM calls", ct));
    }
}
