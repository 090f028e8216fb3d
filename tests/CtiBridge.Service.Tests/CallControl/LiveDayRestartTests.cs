using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The wallboard's "today" survives a restart (docs/metrics.md §2): the restarted service reads the
/// day's figures from the call records and adopts the calls in progress, so once the day's calls have
/// ended its live figures equal the daily SQL reports, against PbxSim and PostgreSQL.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class LiveDayRestartTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private const double Eps = 1e-3;

    [Fact]
    public async Task TrafficThenARestartMidCall_TheDayTotalsAfterwardsEqualTheReports()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        await using var rig = await RestartRig.StartWithOneReadyOneAtLunchAsync(db, ct);

        // Before the restart: one call answered and finished; one caller gives up while 2001 is paused.
        var first = rig.Trunk.CallIn("4008001", "5550010", "Done Before");
        var firstAnswered = await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "call 0 answered", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", first, ct);
        rig.Trunk.HangUp(first);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.True((await rig.Center.PauseAgentAsync("2001", "coffee", ct)).Accepted);
        var quitter = rig.Trunk.CallIn("4008001", "5550011", "Gives Up");
        var quitterQueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550011", "the quitter queued", ct);
        rig.Trunk.HangUp(quitter);
        await rig.AcdEvents.WaitForAsync<CallAbandoned>(e => e.CallId == quitterQueued.CallId, "the quitter abandoned", ct);
        Assert.True((await rig.Center.ResumeAgentAsync("2001", ct)).Accepted);

        // At the restart: call 1 talks with 2001, call 2 waits (2002 is at lunch).
        var caller1 = rig.Trunk.CallIn("4008001", "5550001", "First");
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId != firstAnswered.CallId, "call 1 answered", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller1, ct);
        var caller2 = rig.Trunk.CallIn("4008001", "5550002", "Second");
        var enqueued2 = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5550002", "call 2 enqueued", ct);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_calls", 2, ct);
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == enqueued2.CallId, "call 2 adopted", ct);

        // Right after the restart the figures are the day's, not zero: what the records hold plus the adopted waiting call.
        var (_, restarted) = Assert.Single(await rig.Center.GetQueuesAsync(ct));
        Assert.Equal((4, 2, 1), (restarted.Offered, restarted.Answered, restarted.Abandoned));

        // After it: both calls end with 2001.
        rig.Trunk.HangUp(caller1);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == answered.CallId, "call 1 ended", ct);
        await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId == enqueued2.CallId, "call 2 answered", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller2, ct);
        rig.Trunk.HangUp(caller2);
        await rig.AcdEvents.WaitForAsync<CallHandlingEnded>(e => e.CallId == enqueued2.CallId, "call 2 handled", ct);
        var (_, live) = Assert.Single(await rig.Center.GetQueuesAsync(ct));
        var liveAgent = (await rig.Center.GetAgentsAsync(ct)).Single(a => a.Status.AgentId == "2001").Statistics;
        await rig.StopServiceAsync(); // every record written

        var day = DateTime.UtcNow.Date;
        var window = $"'{day:yyyy-MM-dd}T00:00Z', '{day.AddDays(1):yyyy-MM-dd}T00:00Z', '1d'";
        var queue = Assert.Single(await ReadAsync(db, $"SELECT offered, answered, answered_within_sl, abandoned, abandoned_short, overflowed, system_lost, asa_seconds, aht_seconds, longest_wait_seconds FROM report_queue_traffic({window}, 'support')", ct));
        Assert.Equal((4, 3, 1), (live.Offered, live.Answered, live.Abandoned));
        Assert.Equal([live.Offered, live.Answered, live.AnsweredWithinThreshold, live.Abandoned, live.ShortAbandoned, live.Overflowed, live.SystemLost],
            queue.Take(7).Select(Convert.ToInt64));
        Assert.Equal(live.AverageSpeedOfAnswer!.Value.TotalSeconds, Convert.ToDouble(queue[7]), Eps);
        Assert.Equal(live.AverageHandleTime!.Value.TotalSeconds, Convert.ToDouble(queue[8]), Eps);
        Assert.Equal(live.LongestWait.TotalSeconds, Convert.ToDouble(queue[9]), Eps);
        var agent = Assert.Single(await ReadAsync(db, $"SELECT logins, inbound_calls, missed_calls, talk_seconds, wrap_up_seconds FROM report_agent_activity({window}, '2001')", ct));
        Assert.Equal((1L, 3L), (liveAgent.Logins, liveAgent.Calls)); // one session: the restore continues the login; three calls answered
        Assert.Equal([liveAgent.Logins, liveAgent.Calls, liveAgent.Missed], agent.Take(3).Select(Convert.ToInt64));
        Assert.Equal(liveAgent.Talk.TotalSeconds, Convert.ToDouble(agent[3]), Eps);
        Assert.Equal(liveAgent.WrapUp.TotalSeconds, Convert.ToDouble(agent[4]), Eps);
    }

    private static async Task<List<object[]>> ReadAsync(TestDatabase db, string sql, CancellationToken ct)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<object[]>();
        while (await reader.ReadAsync(ct))
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row);
        }

        return rows;
    }
}
