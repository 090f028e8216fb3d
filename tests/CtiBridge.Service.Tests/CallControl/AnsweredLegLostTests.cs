using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// An agent's phone that hangs up after answering, before it is bridged with the caller (a desk phone put down
/// at once, a line dropped at the pick-up): the caller is not released with it, as it was. The answer counts only
/// once the agent's leg is in the call's bridge, so until then the leg's end is a ring-no-answer of the agent (a
/// missed call, RINGNOANSWER), and the caller, still in its first queue visit with its entry time, is offered to
/// the next agent (REQUIREMENTS ACD-16: on no answer, the next idle agent). PbxSim holds the bridge's
/// <c>addChannel</c> requests so the hang-up falls exactly in that window.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AnsweredLegLostTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AgentHangsUpBetweenAnswerAndBridge_CallerKeptInItsVisit_AgentCountsANoAnswer_NextAgentTakesTheCall()
    {
        // No retry of 2001 within the test, however slow the machine: the call can only go to the next agent.
        var queue = new CallQueueSettings
        {
            Name = "support", Strategy = "leastrecent", WrapUp = TimeSpan.Zero, MusicOnHold = "default", RetryAfterNoAnswer = TimeSpan.FromMinutes(10),
        };
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", Ct);
        await rig.LoginAsync("2002", Ct);
        Assert.True((await rig.Center.PauseAgentAsync("2002", "lunch", Ct)).Accepted);

        string caller;
        CallEnqueued enqueued;
        using (rig.Pbx.HoldAriRequests((method, path) => method == "POST" && path.EndsWith("/addChannel", StringComparison.Ordinal)))
        {
            caller = rig.Trunk.CallIn("4008001", "5550077", "Kept");
            enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550077", "the call enqueued", Ct);
            var agentLeg = (await rig.PbxEvents.DialToAsync("1001", Ct))["DestChannel"]!;

            // 2001 answers; its leg waits to be put in the call's bridge. Then the desk phone hangs up.
            await Eventually.TrueAsync(() => rig.Pbx.AriRequestsHeld >= 1, "the answered leg's addChannel to be held", Ct);
            rig.Pbx.Phone("1001").Hangup();
            await rig.PbxEvents.WaitAsync("Hangup", agentLeg, Ct);
            var missed = await rig.AcdEvents.WaitForAsync<CallOfferEnded>(e => e.CallId == enqueued.CallId && e.AgentId == "2001", "2001's offer to end", Ct);
            Assert.Equal(OfferEnd.Declined, missed.End);
        }

        // 2001 is ready again (a no-answer, not the end of a call: no wrap-up, no completed call), the caller still waits.
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.Ready, Ct);
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == caller));
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is CallAnswered or CallCompleted or CallEnded);
        Assert.Equal(1, (await rig.Center.GetQueuesAsync(Ct)).Single().Status.Waiting);

        // The next agent takes it, in the same queue visit, its wait counted from the first entry.
        Assert.True((await rig.Center.ResumeAgentAsync("2002", Ct)).Accepted);
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId == enqueued.CallId, "the call answered", Ct);
        Assert.Equal(("2002", 1, enqueued.At), (answered.AgentId, answered.Visit, answered.EnqueuedAt));
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, Ct);
        rig.Trunk.HangUp(caller);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the call ended", Ct);

        // The records: one call answered by 2002 after one visit; 2001's missed ring in the queue log.
        var id = enqueued.CallId;
        await Eventually.TrueAsync(async () => await database.Database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{id}'", Ct) == 1, "the call record", Ct);
        Assert.Equal("answered|2002", await database.Database.ScalarAsync<string>($"SELECT concat_ws('|', disposition, agent_id) FROM calls WHERE call_id = '{id}'", Ct));
        Assert.Equal("support|answered|2002", await database.Database.ScalarAsync<string>($"SELECT string_agg(concat_ws('|', queue, outcome, agent_id), ',') FROM queue_visits WHERE call_id = '{id}'", Ct));
        await Eventually.TrueAsync(async () => await database.Database.ScalarAsync<long>(
            $"SELECT count(*) FROM queue_events WHERE call_id = '{id}' AND agent = '2001' AND event = 'RINGNOANSWER'", Ct) == 1, "2001's RINGNOANSWER", Ct);
    }
}
