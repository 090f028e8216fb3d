using CtiBridge.Core.Acd;
using CtiBridge.Data.Records;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Records;

/// <summary>
/// A call transferred from one agent to another queue's agent, recorded, and rated afterwards: the
/// engine's events through <see cref="AcdRecordMapper"/> into PostgreSQL give one call row with the
/// transfer chain, both agents' hold/talk summed, the recording linked and the survey score.
/// </summary>
public sealed class TransferRecordTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task TransferredRecordedRatedCall_IsOneCallRowWithChainRecordingAndScore()
    {
        var ct = TestContext.Current.CancellationToken;
        var outbox = new AcdOutbox();
        var pin = AgentPin.Hash("1", iterations: 1);
        var engine = new AcdEngine(new AcdConfiguration
        {
            Queues = [new QueueConfiguration { Name = "sales", WrapUp = TimeSpan.FromSeconds(5) }, new QueueConfiguration { Name = "billing", WrapUp = TimeSpan.FromSeconds(5) }],
            Agents = [new AgentProfile { AgentId = "a1", PinHash = pin, Queues = [new("sales")] }, new AgentProfile { AgentId = "b1", PinHash = pin, Queues = [new("billing")] }],
        }, outbox, T0);
        DateTimeOffset At(double s) => T0.AddSeconds(s);
        engine.Handle(new AgentLogin(At(0), "a1", "PJSIP/1001", "1"));
        engine.Handle(new AgentLogin(At(0), "b1", "PJSIP/1002", "1"));
        engine.Handle(new CallArrived(At(1), "call-1", "sales", new CallerData { CallerNumber = "5551234", Did = "4008001" }));
        engine.Handle(new AgentAnswered(At(3), "call-1", "a1"));
        engine.Note(At(3), new CallRecordingStarted("call-1", "ctibridge/call-1-1", "ctibridge/call-1-1.wav", "wav", "a1"));
        engine.Handle(new CallHoldChanged(At(10), "call-1", true));
        engine.Handle(new CallHoldChanged(At(14), "call-1", false));
        Assert.True(engine.Handle(new CallTransferRequested(At(20), "call-1", TransferTarget.ToQueue("billing"))).Accepted);
        engine.Note(At(20), new CallRecordingEnded("call-1", "ctibridge/call-1-1"));
        engine.Handle(new AgentAnswered(At(22), "call-1", "b1"));
        engine.Handle(new CallHungUp(At(50), "call-1", HangupParty.Agent));
        engine.Handle(new TimeAdvanced(At(60)));
        engine.Note(At(61), new SurveyAnswered("call-1", "billing", "b1", "satisfaction", 9, 10));

        var mapper = new AcdRecordMapper("transfer-test");
        var records = outbox.Events.SelectMany(mapper.Map).ToList();
        Assert.Equal(0, mapper.OpenCalls);
        await new CallRecordWriter(fixture.Database.DataSource).WriteAsync(records, ct);

        var db = fixture.Database;
        Assert.Equal("{sales,billing}|{queue:billing}|b1|41|4|10|ctibridge/call-1-1|9|agent",
            await db.ScalarAsync<string>("SELECT concat_ws('|', queues, transfer_chain, agent_id, talk_seconds + 0, hold_seconds, wrap_up_seconds, recording_id, survey_score, released_by) FROM calls WHERE call_id = 'call-1'", ct));
        Assert.Equal("sales|answered|a1|13|4|5|t;billing|answered|b1|28|0|5|t", await db.ScalarAsync<string>(
            "SELECT string_agg(concat_ws('|', queue, outcome, agent_id, talk_seconds, hold_seconds, wrap_up_seconds, handled), ';' ORDER BY entered_at) FROM queue_visits WHERE call_id = 'call-1'", ct));
        Assert.Equal("ENTERQUEUE,CONNECT,BLINDTRANSFER,ENTERQUEUE,CONNECT,COMPLETEAGENT", await db.ScalarAsync<string>(
            "SELECT string_agg(event, ',' ORDER BY event_time, event) FILTER (WHERE true) FROM (SELECT event, event_time FROM queue_events WHERE call_id = 'call-1' ORDER BY event_time) e", ct));
        Assert.Equal("a1|ctibridge/call-1-1.wav|17", await db.ScalarAsync<string>(
            "SELECT concat_ws('|', agent_id, path, extract(epoch FROM ended_at - started_at)::int) FROM recordings WHERE call_id = 'call-1'", ct));
        Assert.Equal("satisfaction|9|10|b1|billing", await db.ScalarAsync<string>(
            "SELECT concat_ws('|', question, score, scale_max, agent_id, queue) FROM survey_answers WHERE call_id = 'call-1'", ct));
    }
}
