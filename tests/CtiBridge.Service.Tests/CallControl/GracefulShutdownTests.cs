using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Stopping the service with calls up, against PbxSim and PostgreSQL: new calls and waiting calls go
/// back to the dialplan at once (ARI continue into ctibridge-fallback at the DID), a conversation
/// may finish within the limit, one still going at the limit is handed back too, and every call is
/// in the records once the stop returns.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class GracefulShutdownTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue() => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private static async Task<(CallCenterRig Rig, string Talking, string AgentChannel)> OneTalkingAsync(MigratedDatabaseFixture database, TimeSpan finishWithin, string callerNumber)
    {
        var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct,
            configure: cc => cc.Shutdown = new ShutdownSettings { CallsFinishWithin = finishWithin });
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", Ct);
        var talking = rig.Trunk.CallIn("4008001", callerNumber, "Talking Caller");
        var dial = await rig.PbxEvents.DialToAsync("1001", Ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, Ct);
        return (rig, talking, dial["DestChannel"]!);
    }

    [Fact]
    public async Task Stop_WaitingAndNewCallsGoBackToTheDialplan_TheConversationFinishes_RecordsWritten()
    {
        var (rig, talking, _) = await OneTalkingAsync(database, TimeSpan.FromSeconds(45), "5550101");
        await using var _ = rig;
        var waiting = rig.Trunk.CallIn("4008001", "5550102", "Waiting Caller");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550102", "the second call to wait", Ct);

        var stop = rig.StopServiceAsync();

        // The waiting caller is back in the dialplan, at the fallback for its DID, still on the line.
        await rig.PbxEvents.WaitAsync("Newexten", waiting, Ct, e => e["Context"] == "ctibridge-fallback" && e["Extension"] == "4008001");
        var lost = await rig.AcdEvents.WaitForAsync<CallSystemLost>(e => e.CallId == enqueued.CallId, "the waiting call handed back", Ct);
        Assert.Equal("handed back to the dialplan: CtiBridge stopped", lost.Detail);

        // A call arriving now is not taken: straight to the fallback, never answered by CtiBridge.
        var late = rig.Trunk.CallIn("4008001", "5550103", "Late Caller");
        await rig.PbxEvents.WaitAsync("Newexten", late, Ct, e => e["Context"] == "ctibridge-fallback");
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallEnqueued>(), e => e.Caller.CallerNumber == "5550103");

        // The conversation goes on: the stop waits for it.
        Assert.False(stop.IsCompleted);
        rig.Trunk.HangUp(talking);
        await stop.WaitAsync(StopLimit, Ct);

        var db = database.Database;
        Assert.Equal("answered|caller", await db.ScalarAsync<string>(
            "SELECT concat_ws('|', disposition, released_by) FROM calls WHERE caller = '5550101'", Ct));
        Assert.Equal("system_lost", await db.ScalarAsync<string>(
            "SELECT outcome FROM queue_visits v JOIN calls c USING (call_id) WHERE c.caller = '5550102'", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE caller = '5550103'", Ct));
        rig.Trunk.HangUp(waiting);
        rig.Trunk.HangUp(late);
    }

    [Fact]
    public async Task Stop_ConversationStillGoingAtTheLimit_CallerHandedBack_AgentReleased()
    {
        var (rig, talking, agentChannel) = await OneTalkingAsync(database, TimeSpan.FromSeconds(1), "5550201");
        await using var _ = rig;

        await rig.StopServiceAsync().WaitAsync(StopLimit, Ct);

        await rig.PbxEvents.WaitAsync("Newexten", talking, Ct, e => e["Context"] == "ctibridge-fallback" && e["Extension"] == "4008001");
        await rig.PbxEvents.WaitAsync("Hangup", agentChannel, Ct);
        var completed = Assert.Single(rig.AcdEvents.Snapshot().OfType<CallCompleted>());
        Assert.Null(completed.ReleasedBy);
        Assert.Equal("answered|system", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', disposition, released_by) FROM calls WHERE caller = '5550201'", Ct));
        rig.Trunk.HangUp(talking);
    }

    [Fact]
    public async Task Stop_WithASupervisorListening_CallerHandedBack_SupervisorAndSnoopReleased_LegRecorded()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configure: cc =>
        {
            cc.Shutdown = new ShutdownSettings { CallsFinishWithin = TimeSpan.FromSeconds(1) };
            cc.Supervisors.Add(new SupervisorSettings { Id = "9001", Extension = "PJSIP/1901", PinHash = CallCenterRig.PinHash });
        });
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1901").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", Ct);
        var talking = rig.Trunk.CallIn("4008001", "5550301", "Supervised Caller");
        var agent = (await rig.PbxEvents.DialToAsync("1001", Ct))["DestChannel"]!;
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, Ct);
        Assert.True((await rig.Center.SuperviseAsync("9001", "2001", SupervisionMode.Listen, Ct)).Accepted);
        var supervisor = (await rig.PbxEvents.DialToAsync("1901", Ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", supervisor, Ct);
        var snoop = (await rig.PbxEvents.WaitAsync("BridgeEnter", "Snoop/", Ct))["Channel"]!;

        await rig.StopServiceAsync().WaitAsync(StopLimit, Ct);

        // The caller goes back to the dialplan; the agent, the supervisor and the snoop are released.
        await rig.PbxEvents.WaitAsync("Newexten", talking, Ct, e => e["Context"] == "ctibridge-fallback" && e["Extension"] == "4008001");
        await rig.PbxEvents.WaitAsync("Hangup", agent, Ct);
        await rig.PbxEvents.WaitAsync("Hangup", supervisor, Ct);
        await rig.PbxEvents.WaitAsync("Hangup", snoop, Ct);

        // Written before the stop returned: the call (cut by the system at the limit) and the supervisor's leg, ended.
        Assert.Equal("answered|system", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', disposition, released_by) FROM calls WHERE caller = '5550301'", Ct));
        Assert.Equal("9001|PJSIP/1901|t|t", await database.Database.ScalarAsync<string>("""
            SELECT string_agg(concat_ws('|', l.agent_id, l.channel, l.answered_at IS NOT NULL, l.ended_at >= l.answered_at), ' ; ')
            FROM call_legs l JOIN calls c ON c.call_id = l.call_id WHERE c.caller = '5550301' AND l.party = 'supervisor'
            """, Ct));
        rig.Trunk.HangUp(talking);
    }
}
