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
    /// The call is recorded at the real hang-up (when AMI reported it), not at the resync: before, its end,
    /// its wait or talk and the agent's time on the call ran on to the resync, the gap's length too late.
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
        DateTimeOffset reconnectAllowedAt;
        (DateTimeOffset, DateTimeOffset) realEndBounds;

        // The events WebSocket drops and its reconnect waits: the gap is open while the caller hangs up.
        using (rig.Pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/events"))
        {
            var heldBefore = rig.Pbx.AriRequestsHeld;
            rig.Pbx.DropAriConnections();
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore),
                () => Task.FromResult("call control to try to reconnect its events"), ct);
            var beforeHangUp = DateTimeOffset.UtcNow;
            rig.Trunk.HangUp(caller);
            Assert.DoesNotContain(caller, rig.Pbx.ChannelNames);
            var hangup = await rig.PbxEvents.WaitAsync("Hangup", caller, ct); // on AMI, which stayed up
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Center.SawAmiHangup("pbx1", hangup["Uniqueid"]!)),
                () => Task.FromResult("call control's own AMI connection to read the caller's Hangup"), ct);
            Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallEnded>(), e => e.CallId == enqueued.CallId); // nothing seen on ARI

            // Reconnected after this moment: the resync runs later than the hang-up by at least the rest of the gap.
            reconnectAllowedAt = DateTimeOffset.UtcNow;
            realEndBounds = (beforeHangUp, reconnectAllowedAt);
        }

        // Reconnected: the resync finds the caller gone. Before, the call was system-lost (waiting) or
        // completed with nobody as the releasing party (talking).
        await AssertEndedAsTheCallersHangUpAsync(rig, database, enqueued, stage, ct);
        await AssertEndedWithinAsync(rig, database, enqueued, stage, realEndBounds, estimated: false, ct);
    }

    /// <summary>
    /// The caller hangs up during the events gap while AMI is down too: nothing reports the end. The call is
    /// lost (its end unknowable), but it is recorded at the last moment it was known up (the gap's start), not
    /// at the resync, and its end is marked as an estimate (<c>calls.end_estimated</c>) so a report can tell.
    /// Its wait or talk and the agent's time on the call follow that end.
    /// </summary>
    [Theory]
    [InlineData("waiting")]
    [InlineData("talking")]
    public async Task CallerHangsUpDuringTheEventsGap_AmiDownToo_CallEndsAtTheGapsStart_MarkedEstimated(string stage)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, agents: 1, ct);
        var (caller, enqueued) = await CallAtStageAsync(rig, stage, ct);

        // AMI goes down and stays down (logins refused) for the whole gap.
        rig.Pbx.RefuseAmiLogins = true;
        rig.Pbx.DropAmiConnections();
        (DateTimeOffset, DateTimeOffset) realEndBounds;
        using (rig.Pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/events"))
        {
            var heldBefore = rig.Pbx.AriRequestsHeld;
            var beforeGap = DateTimeOffset.UtcNow;
            rig.Pbx.DropAriConnections();
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore),
                () => Task.FromResult("call control to try to reconnect its events"), ct);
            var beforeHangUp = DateTimeOffset.UtcNow;
            rig.Trunk.HangUp(caller);
            Assert.DoesNotContain(caller, rig.Pbx.ChannelNames);
            realEndBounds = (beforeGap, beforeHangUp); // the gap's start: after the drop, before the (unseen) hang-up
        }

        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the call to end", ct);
        Assert.True(ended.EndEstimated);
        rig.Pbx.RefuseAmiLogins = false;
        if (stage == "waiting")
        {
            Assert.Single(rig.AcdEvents.Snapshot().OfType<CallSystemLost>(), e => e.CallId == enqueued.CallId);
            Assert.True((await rig.Center.ResumeAgentAsync("2001", ct)).Accepted);
        }

        await CallTraffic.AssertSettledAsync(rig, ["2001"], ct);
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        await AssertEndedWithinAsync(rig, database, enqueued, stage, realEndBounds, estimated: true, ct);
    }

    /// <summary>
    /// The agent answers as the events WebSocket goes down: the leg enters the Stasis app, but its StasisStart (the
    /// answer) is lost with the connection (PbxSim holds the events, the connection drops, the held events go to no
    /// subscriber). While the app has no events connection a leg cannot enter it at all (Asterisk unregisters the app),
    /// so this is how an answer is lost in a gap. Before, the ACD still had the agent ringing, timed the ring out and
    /// hung up a phone that had answered; the resync now finds the answered leg in the app and takes it as the
    /// answer: the agent is connected and bridged with the caller, and the call is answered by that agent.
    /// </summary>
    [Fact]
    public async Task AgentAnswersDuringTheEventsGap_TheResyncTakesItAsTheAnswer_CallerAndAgentBridged()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, agents: 1, ct, queue: CallTraffic.Queue(ringSeconds: 120));
        rig.Pbx.Phone("1001").NeverAnswers(); // answered by the test, inside the gap
        var caller = rig.Trunk.CallIn("4008001", "5550001", "Customer");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to enter the queue", ct);
        var ring = await rig.PbxEvents.DialToAsync("1001", ct);

        var events = rig.Pbx.HoldAriEvents();
        rig.Pbx.Phone("1001").Answer();
        await rig.PbxEvents.WaitAsync("Newstate", ring["DestChannel"]!, ct, e => e["ChannelStateDesc"] == "Up");
        using (rig.Pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/events"))
        {
            var heldBefore = rig.Pbx.AriRequestsHeld;
            rig.Pbx.DropAriConnections();
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore),
                () => Task.FromResult("call control to try to reconnect its events"), ct);
            Assert.Contains(rig.Pbx.HeldAriEvents, e => e.Contains("\"StasisStart\"", StringComparison.Ordinal));
            events.Dispose(); // no subscriber now: the agent leg's StasisStart is lost
        }

        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId == enqueued.CallId, "the resync to take the agent's answer", ct);
        Assert.Equal("2001", answered.AgentId);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallOfferEnded>(), e => e.CallId == enqueued.CallId && e.End == OfferEnd.RingTimeout);
        rig.Trunk.HangUp(caller);

        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the call to end", ct);
        Assert.Equal(CallDisposition.Answered, ended.Disposition);
        await CallTraffic.AssertSettledAsync(rig, ["2001"], ct);
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        Assert.Equal("answered|2001", await database.ScalarAsync<string>("SELECT concat_ws('|', disposition, agent_id) FROM calls", ct));
    }

    /// <summary>
    /// The call's end, as the ACD published it and as the records hold it, lies within <paramref name="bounds"/>
    /// (so not at the resync, which came later): its row's end and end_estimated, the visit's wait (waiting) or the
    /// talk time and the agent's time on the call (talking) all end there.
    /// </summary>
    private static async Task AssertEndedWithinAsync(CallCenterRig rig, TestDatabase database, CallEnqueued enqueued, string stage,
        (DateTimeOffset From, DateTimeOffset To) bounds, bool estimated, CancellationToken ct)
    {
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the call to end", ct);
        Assert.InRange(ended.At, bounds.From, bounds.To);
        Assert.Equal(estimated, ended.EndEstimated);
        var events = rig.AcdEvents.Snapshot();
        if (stage == "waiting")
        {
            var left = Assert.Single(events.OfType<QueueVisitEnded>(), e => e.CallId == enqueued.CallId);
            Assert.Equal(ended.At, left.At);
            Assert.Equal(ended.At - enqueued.At, left.Wait);
        }
        else
        {
            var answered = Assert.Single(events.OfType<CallAnswered>(), e => e.CallId == enqueued.CallId);
            var completed = Assert.Single(events.OfType<CallCompleted>(), e => e.CallId == enqueued.CallId);
            Assert.Equal(ended.At, completed.At);
            Assert.Equal(ended.At - answered.At, completed.Talk + completed.Hold);

            // The agent's time on the call ends with it: wrap-up from the real end, not from the resync.
            var wrapUp = Assert.Single(events.OfType<AgentStateChanged>(), e => e.AgentId == "2001" && e.From == AgentState.OnCall);
            Assert.Equal(ended.At, wrapUp.At);
            var onCallEnd = await database.ScalarAsync<DateTime>(
                $"SELECT ended_at FROM agent_state_intervals WHERE agent_id = '2001' AND state = 'in_call' AND started_at <= '{ended.At.UtcDateTime:O}' ORDER BY started_at DESC LIMIT 1", ct);
            AssertSameMicrosecond(ended.At, onCallEnd);
        }

        var row = await database.ScalarAsync<DateTime>($"SELECT ended_at FROM calls WHERE call_id = '{enqueued.CallId}'", ct);
        AssertSameMicrosecond(ended.At, row);
        Assert.Equal(estimated, await database.ScalarAsync<bool>($"SELECT end_estimated FROM calls WHERE call_id = '{enqueued.CallId}'", ct));
    }

    // PostgreSQL keeps microseconds; .NET times have 100 ns ticks.
    private static void AssertSameMicrosecond(DateTimeOffset expected, DateTime stored) =>
        Assert.Equal(expected.UtcTicks / 10, new DateTimeOffset(DateTime.SpecifyKind(stored, DateTimeKind.Utc)).UtcTicks / 10);

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
