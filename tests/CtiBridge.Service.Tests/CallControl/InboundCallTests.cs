using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Inbound calls end to end: a customer on a PbxSim trunk dials a DID, CtiBridge's Stasis app queues
/// the call and rings agents' desk phones in PbxSim. Asserts what PbxSim saw (the caller's and the
/// agent's experience, over AMI) and what the ACD core decided (agent states).
/// Real clock with short ring and wrap-up times; every wait is event-driven and bounded.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class InboundCallTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CallQueueSettings Queue(string strategy = "leastrecent", double ringSeconds = 5, double wrapUpSeconds = 0.5, double retrySeconds = 30) => new()
    {
        Name = "support",
        Strategy = strategy,
        RingTimeout = TimeSpan.FromSeconds(ringSeconds),
        RetryAfterNoAnswer = TimeSpan.FromSeconds(retrySeconds),
        WrapUp = TimeSpan.FromSeconds(wrapUpSeconds),
        MusicOnHold = "default",
    };

    [Fact]
    public async Task InboundCall_ReadyAgentAnswers_CallerHearsMohThenIsBridgedAndAgentWrapsUpToReady()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(300));
        await rig.LoginAsync("2001", ct);
        await rig.AgentWentAsync("2001", AgentState.LoggedOut, AgentState.Ready, ct);

        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");

        // The caller: answered, music on hold of the queue's class, then bridged (MOH stopped).
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        var moh = await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        Assert.Equal("default", moh["Class"]);

        // The agent's desk phone rings with the queue name before the caller's name.
        var dial = await rig.PbxEvents.DialToAsync("1001", ct);
        Assert.Equal("[support] Jane Customer", dial["DestCallerIDName"]);
        Assert.Equal("5551234", dial["DestCallerIDNum"]);
        var agentChannel = dial["DestChannel"]!;

        var callerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var agentInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", agentChannel, ct);
        Assert.Equal(callerInBridge["BridgeUniqueid"], agentInBridge["BridgeUniqueid"]);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);

        // The caller hangs up: the agent's phone is released, the agent wraps up, then is ready again.
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", agentChannel, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);

        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        Assert.Equal(CallDisposition.Answered, ended.Disposition);
        var states = rig.AcdEvents.Snapshot().OfType<AgentStateChanged>().Where(e => e.AgentId == "2001").Select(e => e.To).ToList();
        Assert.Equal([AgentState.Ready, AgentState.Ringing, AgentState.OnCall, AgentState.WrapUp, AgentState.Ready], states);
        var completed = Assert.Single(rig.AcdEvents.Snapshot().OfType<CallCompleted>());
        Assert.Equal(HangupParty.Caller, completed.ReleasedBy);

        // Stopping drains the records: the call and its queue visit are in PostgreSQL exactly once.
        await rig.StopServiceAsync();
        var db = database.Database;
        var id = ended.CallId.Replace("'", "''", StringComparison.Ordinal);
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{id}'", ct));
        Assert.Equal("4008001|5551234|2001|t", await db.ScalarAsync<string>($"SELECT concat_ws('|', did, caller, agent_id, answered_at IS NOT NULL) FROM calls WHERE call_id = '{id}'", ct));
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM queue_visits WHERE call_id = '{id}'", ct));
        Assert.Equal("support|answered|2001", await db.ScalarAsync<string>($"SELECT concat_ws('|', queue, outcome, agent_id) FROM queue_visits WHERE call_id = '{id}'", ct));
    }

    [Fact]
    public async Task InboundCall_FirstAgentDoesNotAnswer_RingTimeoutRingsTheNextAgent()
    {
        var ct = TestContext.Current.CancellationToken;
        // The call center runs on a fake clock: 2001's ring times out when the test advances it, and 2002's
        // ring (answered after 200 ms of PbxSim's real time) cannot time out at all, however slow the machine.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(strategy: "rrmemory", ringSeconds: 2), [("2001", "1001"), ("2002", "1002")], ct,
            callControlClock: clock);
        rig.Pbx.Phone("1001").NeverAnswers();
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);

        var caller = rig.Trunk.CallIn("4008001", "5550100", "Rob");

        var first = await rig.PbxEvents.DialToAsync("1001", ct);
        var firstLeg = first["DestChannel"]!;
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1002-", StringComparison.Ordinal)));
        var offerEnded = await Eventually.AdvancingAsync(clock, TimeSpan.FromSeconds(2),
            () => rig.AcdEvents.Snapshot().OfType<CallOfferEnded>().FirstOrDefault(e => e.AgentId == "2001"), "2001's ring to time out", ct);
        Assert.Equal(OfferEnd.RingTimeout, offerEnded.End);
        await rig.PbxEvents.WaitAsync("Hangup", firstLeg, ct);

        var second = await rig.PbxEvents.DialToAsync("1002", ct);
        Assert.Equal("[support] Rob", second["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", second["DestChannel"]!, ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.Ready, ct);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1001-", StringComparison.Ordinal)));

        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2002", AgentState.OnCall, AgentState.WrapUp, ct);
        await Eventually.AdvancingAsync(clock, TimeSpan.FromSeconds(0.5),
            () => rig.AcdEvents.Snapshot().OfType<AgentStateChanged>().FirstOrDefault(e => e.AgentId == "2002" && e is { From: AgentState.WrapUp, To: AgentState.Ready }),
            "2002's wrap-up to end", ct);
    }

    /// <summary>
    /// Agent 2001's phone answers busy (cause 17) to three calls in a row; each call rings 2002 at once. Whether
    /// 2001 is then auto-paused (3 unanswered rings) depends on the queue's <c>autoPauseBusy</c>, as app_queue's
    /// <c>autopausebusy</c>: by default not (a busy phone is not an absent agent), with it set yes.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BusyPhone_ThreeCallsInARow_AutoPausesTheAgentOnlyWithAutoPauseBusy(bool autoPauseBusy)
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.AutoPauseBusy = autoPauseBusy;
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], ct);
        rig.Pbx.Phone("1001").StaysBusy();
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", ct); // idle longest: leastrecent rings 2001 first every time
        await rig.LoginAsync("2002", ct);

        for (var i = 1; i <= 3; i++)
        {
            var caller = rig.Trunk.CallIn("4008001", $"555070{i}", "Busy " + i);
            var missed = await rig.AcdEvents.WaitForAsync<CallOfferEnded>(e => e.AgentId == "2001", $"2001's busy ring {i}", ct, nth: i);
            Assert.Equal(OfferEnd.Declined, missed.End);
            await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct, nth: i);
            rig.Trunk.HangUp(caller);
            await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct, nth: i);
        }

        var agent = (await rig.Center.GetAgentAsync("2001", ct))!;
        Assert.Equal(autoPauseBusy ? AgentState.Paused : AgentState.Ready, agent.State);
        Assert.Equal(autoPauseBusy ? PauseReasons.NoAnswer : null, agent.PauseReason);
    }

    [Fact]
    public async Task RingTimeout_SameAgentRungAgain_TheStoppedLegEndingLaterIsNotADecline()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(ringSeconds: 3, retrySeconds: 0), [("2001", "1001")], ct);
        var phone = rig.Pbx.Phone("1001").NeverAnswers();
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5550010", "Patient");

        // The first ring times out; with no retry wait the same agent is rung again at once (a new
        // leg), and the first leg's hang-up arrives after that: it must not count as a decline.
        var firstLeg = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("Hangup", firstLeg, ct);
        var secondLeg = (await rig.PbxEvents.DialToAsync("1001", ct, nth: 2))["DestChannel"]!;
        phone.Answer();
        await rig.PbxEvents.WaitAsync("BridgeEnter", secondLeg, ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);

        Assert.Equal([OfferEnd.RingTimeout], rig.AcdEvents.Snapshot().OfType<CallOfferEnded>().Select(e => e.End));
        Assert.Equal(2, rig.AcdEvents.Snapshot().OfType<CallOffered>().Count(e => e.AgentId == "2001"));
    }

    [Fact]
    public async Task TwoCallsOneAgent_SecondCallWaitsOnMohUntilTheFirstEndsAndWrapUpPasses()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(wrapUpSeconds: 1), [("2001", "1001")], ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        var alice = rig.Trunk.CallIn("4008001", "5550001", "Alice");
        var aliceDial = await rig.PbxEvents.DialToAsync("1001", ct, e => e["DestCallerIDName"] == "[support] Alice");
        await rig.PbxEvents.WaitAsync("BridgeEnter", alice, ct);

        var bob = rig.Trunk.CallIn("4008001", "5550002", "Bob");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", bob, ct);
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550002", "Bob's call to queue", ct);

        rig.Trunk.HangUp(alice);
        await rig.PbxEvents.WaitAsync("Hangup", aliceDial["DestChannel"]!, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => e["DestCallerIDName"] == "[support] Bob"));

        // After wrap-up the agent is ready, and only then is Bob's call offered.
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        var bobDial = await rig.PbxEvents.DialToAsync("1001", ct, e => e["DestCallerIDName"] == "[support] Bob");
        await rig.PbxEvents.WaitAsync("BridgeEnter", bobDial["DestChannel"]!, ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", bob, ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", bob, ct);

        var events = rig.AcdEvents.Snapshot();
        var readyAgain = events.OfType<AgentStateChanged>().Where(e => e.AgentId == "2001" && e.From == AgentState.WrapUp).Select(e => e.Sequence).First();
        var bobOffered = events.OfType<CallOffered>().Where(e => e.CallId != events.OfType<CallOffered>().First().CallId).Select(e => e.Sequence).First();
        Assert.True(bobOffered > readyAgain, "Bob's call must be offered only after the agent's wrap-up ended");

        rig.Trunk.HangUp(bob);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);
        Assert.Equal(2, rig.AcdEvents.Snapshot().OfType<CallEnded>().Count(e => e.Disposition == CallDisposition.Answered));
    }

    [Fact]
    public async Task ConnectedCall_AgentHangsUp_CallerIsReleasedAndAgentWrapsUp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        var phone = rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5550005", "Eve");
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);
        phone.Hangup();

        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        var completed = await rig.AcdEvents.WaitForAsync<CallCompleted>(_ => true, "the call to complete", ct);
        Assert.Equal(HangupParty.Agent, completed.ReleasedBy);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
    }

    /// <summary>
    /// The agent's line fails mid-conversation (Asterisk ends it with cause 38, network out of order, as after an
    /// RTP timeout; a hang-up would carry 16): the caller is released and the call is recorded answered and
    /// released by the system, not by the agent (docs/sites.md: the same for a dropped inter-site trunk).
    /// </summary>
    [Fact]
    public async Task ConnectedCall_AgentsLineDrops_RecordedReleasedBySystem_NotByTheAgent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        var phone = rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5550015", "Dropped");
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);
        phone.Drop(38);

        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        var completed = await rig.AcdEvents.WaitForAsync<CallCompleted>(_ => true, "the call to complete", ct);
        Assert.Null(completed.ReleasedBy);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        Assert.Equal(CallDisposition.Answered, ended.Disposition);
        await rig.StopServiceAsync();
        Assert.Equal("answered|system", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', disposition, released_by) FROM calls WHERE caller = '5550015'", ct));
    }

    [Fact]
    public async Task WaitingCaller_HangsUpBeforeAnyAgent_IsAnAbandonStoredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);

        var caller = rig.Trunk.CallIn("4008001", "5550006", "Impatient");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        rig.Trunk.HangUp(caller);

        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        Assert.Equal(CallDisposition.Abandoned, ended.Disposition);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", _ => true));
        await rig.StopServiceAsync();
        var id = ended.CallId.Replace("'", "''", StringComparison.Ordinal);
        Assert.Equal("support|abandoned", await database.Database.ScalarAsync<string>($"SELECT string_agg(concat_ws('|', queue, outcome), ',') FROM queue_visits WHERE call_id = '{id}'", ct));
        Assert.Equal(1L, await database.Database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{id}'", ct));
    }

    [Fact]
    public async Task CallerHangsUpWhileAgentRings_RingingLegIsStoppedAndAgentIsReadyWithoutWrapUp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        rig.Pbx.Phone("1001").NeverAnswers();
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5550011", "Quick");
        var leg = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        rig.Trunk.HangUp(caller);

        await rig.PbxEvents.WaitAsync("Hangup", leg, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.Ready, ct);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        Assert.Equal(CallDisposition.Abandoned, ended.Disposition);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is AgentStateChanged { To: AgentState.WrapUp });
        Assert.Equal(0, rig.PbxEvents.Count("BridgeEnter", _ => true));
    }

    [Fact]
    public async Task UnregisteredDeskPhone_OriginateFails_NextAgentRingsAtOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        // Phone 1009 never registered (no device state change either, so the agent is not paused for it first).
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(strategy: "rrmemory", ringSeconds: 30), [("2001", "1009"), ("2002", "1002")], ct);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);

        var caller = rig.Trunk.CallIn("4008001", "5550007", "Max");

        // Well before the 30 s ring timeout: the failed originate counts as a decline.
        var declined = await rig.AcdEvents.WaitForAsync<CallOfferEnded>(e => e.AgentId == "2001", "agent 2001's offer to end", ct);
        Assert.Equal(OfferEnd.Declined, declined.End);
        await rig.PbxEvents.DialToAsync("1002", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1009-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task DeskPhoneUnregisters_AgentPausedPhoneUnavailable_NotRung_ReadyAgainWhenItReturns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(strategy: "rrmemory", ringSeconds: 30), [("2001", "1001"), ("2002", "1002")], ct);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);

        // AMI DeviceStateChange PJSIP/1001 UNAVAILABLE: 2001 leaves routing, by the system.
        rig.Pbx.Phone("1001").Registered(false);
        var paused = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, ct);
        Assert.Equal((PauseReasons.PhoneUnavailable, ChangeSource.System), (paused.Reason, paused.Source));
        var caller = rig.Trunk.CallIn("4008001", "5550007", "Max");
        await rig.PbxEvents.DialToAsync("1002", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is CallOffered { AgentId: "2001" });

        // Back (NOT_INUSE): ready again, by the system; an agent paused for another reason is left paused.
        rig.Pbx.Phone("1001").Registered(true);
        var back = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, ct);
        Assert.Equal(ChangeSource.System, back.Source);
        Assert.True((await rig.Center.PauseAgentAsync("2001", "meal", ct)).Accepted);
        rig.Pbx.Phone("1001").Registered(false);
        rig.Pbx.Phone("1001").Registered(true);
        await rig.PbxEvents.WaitForAsync<CtiBridge.Asterisk.Ami.AmiMessage>(e => e.EventName == "DeviceStateChange" && e["State"] == "NOT_INUSE", "the phone back", ct, nth: 2);
        Assert.Equal("meal", (await rig.Center.GetAgentAsync("2001", ct))!.PauseReason);
    }

    [Fact]
    public async Task AsteriskRestartsMidCall_ChannelsVanishUnseen_CallIsSystemLostAndAgentFreedForTheNextCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        var first = rig.Trunk.CallIn("4008001", "5550008", "Lost");
        await rig.PbxEvents.WaitAsync("BridgeEnter", first, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);

        // Every channel disappears without a single event; the ARI WebSocket drops and reconnects.
        rig.Pbx.Restart();

        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the lost call to end", ct);
        var completed = Assert.Single(rig.AcdEvents.Snapshot().OfType<CallCompleted>());
        Assert.Null(completed.ReleasedBy);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);

        // After the restart the app is registered again and the agent takes the next call.
        var second = rig.Trunk.CallIn("4008001", "5550009", "Next");
        await rig.PbxEvents.WaitAsync("BridgeEnter", second, ct);
        Assert.NotEqual(ended.CallId, (await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId != ended.CallId, "the next call to be answered", ct)).CallId);
    }

    [Fact]
    public async Task StasisEntries_UnknownDidAndUnknownAgentLeg_AreReleasedAndCallControlKeepsWorking()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));

        // A DID nobody routes: released without music, never queued.
        var stray = rig.Trunk.CallIn("4009999", "5550003", "Stray");
        await rig.PbxEvents.WaitAsync("Hangup", stray, ct);
        Assert.Equal(0, rig.PbxEvents.Count("MusicOnHoldStart", e => e["Channel"] == stray));

        // A channel that claims to be an agent leg of a call that does not exist.
        var phone = rig.Pbx.Phone("1009").AnswersAfter(TimeSpan.Zero);
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(Hosting.PbxSimSettings.For(rig.Pbx).Ari)))
        {
            await ari.Channels.OriginateAsync("PJSIP/1009", app: "ctibridge", appArgs: "agent,no-such-call,2001", channelId: "orphan-leg", cancellationToken: ct);
        }

        await rig.PbxEvents.WaitAsync("Hangup", "PJSIP/1009-", ct);
        Assert.Empty(phone.Channels);

        // The loop is alive: a real call still goes through.
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5550004", "Real");
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", ct))!.State);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is CallEnqueued { Caller.CallerNumber: "5550003" });

        // Readiness includes the Stasis app (a call flowed, so its events connection is up).
        var health = await rig.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Name == "call-control", ct);
        Assert.Equal(HealthStatus.Healthy, health.Status);
    }

    [Fact]
    public async Task CallControlHealth_StasisAppNotConnected_IsUnhealthyNamingServerAndApp()
    {
        var options = new AriClientOptions { BaseAddress = new Uri("http://127.0.0.1:9/ari"), UserName = "ctibridge", Password = "x" };
        using var ari = new AriClient(options);
        await using var app = new StasisApp("pbx1", "ctibridge", ari, options, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);

        var result = await new CallControlHealthCheck([app]).CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal("pbx1: Stasis app ctibridge events notstarted", result.Description);
    }

    [Fact]
    public async Task Start_RecordJournalDirectoryIsAFile_FailsNamingTheSetting()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Path.GetTempFileName();
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, journalDirectory: file));

            Assert.StartsWith($"callControl.recordJournalDirectory '{file}' cannot hold the call-record journal: ", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task PausedAgent_IsNotRung_ResumeRingsTheWaitingCallAndEndWrapUpFreesTheAgentEarly()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(wrapUpSeconds: 60), [("2001", "1001")], ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        Assert.True((await rig.Center.PauseAgentAsync("2001", PauseReasons.Break, ct)).Accepted);

        var caller = rig.Trunk.CallIn("4008001", "5550012", "Waits");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550012", "the call to queue", ct);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", _ => true));
        Assert.Equal(AgentState.Paused, (await rig.Center.GetAgentAsync("2001", ct))!.State);

        Assert.True((await rig.Center.ResumeAgentAsync("2001", ct)).Accepted);
        await rig.PbxEvents.DialToAsync("1001", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);

        // A 60 s wrap-up, ended by the agent at once.
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.True((await rig.Center.EndWrapUpAsync("2001", ct)).Accepted);
        var ready = await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal(ChangeSource.Agent, ready.Source);
    }

    [Fact]
    public async Task Login_WrongPinOrUnknownAgent_IsRefusedWithTheReason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);

        var wrongPin = await rig.Center.LoginAgentAsync("2001", "0000", ct);
        var unknown = await rig.Center.LoginAgentAsync("2999", CallCenterRig.Pin, ct);

        Assert.False(wrongPin.Accepted);
        Assert.DoesNotContain("0000", wrongPin.Reason, StringComparison.Ordinal);
        Assert.Equal("agent '2999' is not configured in callControl.agents", unknown.Reason);
        Assert.Equal(AgentState.LoggedOut, (await rig.Center.GetAgentAsync("2001", ct))!.State);
    }
}
