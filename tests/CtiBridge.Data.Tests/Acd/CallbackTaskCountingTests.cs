using CtiBridge.Core.Acd;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Reports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Acd;

/// <summary>
/// Callback tasks are not inbound queue visits (docs/metrics.md §3a, D-01/D-06/D-08 count customers
/// calling in): the live statistics (wallboard) and the SQL reports both leave a callback task out of
/// the queue's offered/answered/service level and out of the agent's inbound calls and AHT, while the
/// agent's time on it stays in the state log (in call, occupancy) — the same figures on both sides.
/// </summary>
public sealed class CallbackTaskCountingTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private const double Eps = 1e-3;

    [Fact]
    public async Task CallbackTaskAnsweredBesideAnInboundCall_CountsInNeitherLiveNorSqlQueueFigures_AgentTimeCountsInBoth()
    {
        var ct = TestContext.Current.CancellationToken;
        var outbox = new AcdOutbox();
        var pin = AgentPin.Hash("1", iterations: 1);
        var engine = new AcdEngine(new AcdConfiguration
        {
            Queues = [new QueueConfiguration { Name = "sales", WrapUp = TimeSpan.FromSeconds(5), RingTimeout = TimeSpan.FromSeconds(10) }],
            Agents = [new AgentProfile { AgentId = "a1", PinHash = pin, Queues = [new("sales")] }, new AgentProfile { AgentId = "a2", PinHash = pin, Queues = [new("sales")] }],
        }, outbox, T0);
        DateTimeOffset At(double s) => T0.AddSeconds(s);
        var callback = new CallerData { CallerNumber = "5550199", Attributes = new Dictionary<string, string> { [CallbackTasks.AttributeName] = "cb-1" } };

        engine.Handle(new AgentLogin(At(0), "a1", "PJSIP/1001", "1"));
        engine.Handle(new AgentLogin(At(0), "a2", "PJSIP/1002", "1"));
        // An inbound call: a1 answers after 5 s and talks 60 s.
        engine.Handle(new CallArrived(At(10), "call-1", "sales", new CallerData { CallerNumber = "5551234", Did = "4008001" }));
        Assert.True(engine.Handle(new AgentAnswered(At(15), "call-1", "a1")).Accepted);
        // A callback task: rung to a2, who lets it ring out once (a missed offer of a task), then takes it and talks 60 s.
        Assert.True(engine.Handle(new CallbackQueued(At(20), "cb-1", "sales", callback)).Accepted);
        var t = 30.0;
        engine.Handle(new TimeAdvanced(At(t)));
        while (outbox.Commands.OfType<RingAgent>().Count(r => r.CallId == "cb-1") < 2 && t < 50)
        {
            engine.Handle(new TimeAdvanced(At(t += 1)));
        }

        var rungAgain = outbox.Commands.OfType<RingAgent>().Where(r => r.CallId == "cb-1").ToList();
        Assert.Equal(2, rungAgain.Count);
        Assert.True(engine.Handle(new AgentAnswered(At(t), "cb-1", rungAgain[1].AgentId)).Accepted);
        var taskAnsweredAt = t;
        engine.Handle(new CallHungUp(At(75), "call-1", HangupParty.Caller));
        engine.Handle(new CallHungUp(At(95), "cb-1", HangupParty.Caller));
        engine.Handle(new TimeAdvanced(At(120)));
        var end = At(120);
        Assert.Contains(outbox.Events.OfType<CallOfferEnded>(), e => e.CallId == "cb-1" && e.End == OfferEnd.RingTimeout);

        var live = new AcdStatistics(new MetricsParameters(), T0);
        foreach (var e in outbox.Events)
        {
            live.Apply(e);
        }

        var mapper = new AcdRecordMapper("callback-counting");
        var records = outbox.Events.SelectMany(mapper.Map).ToList();
        records.AddRange(mapper.FlushOpenStates(end));
        Assert.Equal(0, mapper.OpenCalls);
        await new CallRecordWriter(fixture.Database.DataSource).WriteAsync(records, ct);
        var db = fixture.Database;

        // Live: only the inbound call is a queue visit; the task is nobody's inbound call.
        var queue = live.ForQueue("sales");
        Assert.Equal((1, 1, 1), (queue.Offered, queue.Answered, queue.Handled));
        Assert.Equal(5, queue.AverageSpeedOfAnswer!.Value.TotalSeconds, Eps);
        var taskAgent = rungAgain[1].AgentId;
        var taskAgentLive = live.ForAgent(taskAgent, end);
        var inboundAgentLive = live.ForAgent("a1", end);
        Assert.Equal(0, taskAgentLive.Calls);
        Assert.Equal(1, inboundAgentLive.Calls);

        // SQL: the same figures, and no visit, queue_log line or inbound call row of the task.
        var window = $"'{T0:yyyy-MM-dd}T00:00Z', '{T0.AddDays(1):yyyy-MM-dd}T00:00Z'";
        var row = Assert.Single(await Rows.ReadAsync(db, $"SELECT * FROM report_queue_traffic({window}, '1d')", ct));
        Assert.Equal((1L, 1L, 1L), (row.L("offered"), row.L("answered"), row.L("answered_within_sl")));
        Assert.Equal(queue.AverageHandleTime!.Value.TotalSeconds, row.F("aht_seconds"), Eps);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id = 'cb-1'", ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM queue_events WHERE call_id = 'cb-1'", ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'cb-1'", ct));
        Assert.Equal(1L, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'call-1' AND direction = 'inbound'", ct));

        foreach (var agentRow in await Rows.ReadAsync(db, $"SELECT * FROM report_agent_activity({window}, '1d')", ct))
        {
            var agent = (string)agentRow["agent_id"]!;
            var stats = live.ForAgent(agent, end);
            Assert.Equal(stats.Calls, agentRow.L("calls"));
            Assert.Equal(stats.Missed, agentRow.L("missed_calls"));
            Assert.Equal(stats.Talk.TotalSeconds, agentRow.F("talk_seconds"), Eps);
            Assert.Equal(stats.InCall.TotalSeconds, agentRow.F("in_call_seconds"), Eps);
            Assert.Equal(stats.Available.TotalSeconds, agentRow.F("available_seconds"), Eps);
            Assert.Equal(stats.Occupancy!.Value, agentRow.F("occupancy"), Eps);
        }

        // The agent's time on the task is work: in call from its answer to 95 s.
        Assert.Equal("a2", taskAgent);
        Assert.Equal(95 - taskAnsweredAt, taskAgentLive.InCall.TotalSeconds, Eps);
        Assert.Equal(60, inboundAgentLive.Talk.TotalSeconds, Eps);
        Assert.Equal(0, taskAgentLive.Missed); // the task rang out once, but a task's offer is not a missed inbound call
        Assert.True(taskAgentLive.Occupancy > 0.4, $"occupancy of {taskAgent}: {taskAgentLive.Occupancy}");
    }
}
