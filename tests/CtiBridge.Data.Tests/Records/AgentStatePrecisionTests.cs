using CtiBridge.Core.Acd;
using CtiBridge.Data.Records;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Records;

/// <summary>
/// timestamptz keeps microseconds, .NET's clock 0.1 µs: a state that lasted less than a microsecond
/// (two changes within one, as the dialer's preview join did in a CI run) would be a row with
/// <c>ended_at = started_at</c>, refused by the table's check, and would fail its whole batch.
/// </summary>
public sealed class AgentStatePrecisionTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Spans_CountsWholeMicroseconds()
    {
        Assert.False(AgentStateRecord.Spans(T0.AddTicks(1), T0.AddTicks(9)));
        Assert.False(AgentStateRecord.Spans(T0, T0));
        Assert.True(AgentStateRecord.Spans(T0.AddTicks(9), T0.AddTicks(10)));
        var record = new AgentStateRecord { AgentId = "a1", SessionId = "s", StartedAt = T0.AddTicks(2), EndedAt = T0.AddTicks(6), State = Data.Records.AgentState.Available };
        var refused = Assert.Throws<InvalidCallRecordException>(record.Validate);
        Assert.Contains("microsecond", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStateShorterThanAMicrosecond_IsNotWritten_TheBatchIsStored()
    {
        var ct = TestContext.Current.CancellationToken;
        var outbox = new AcdOutbox();
        var engine = new AcdEngine(new AcdConfiguration
        {
            Queues = [new QueueConfiguration { Name = "sales" }],
            Agents = [new AgentProfile { AgentId = "a1", PinHash = AgentPin.Hash("1", iterations: 1), Queues = [new("sales")] }],
        }, outbox, T0);
        engine.Handle(new AgentLogin(T0, "a1", "PJSIP/1001", "1"));
        engine.Handle(new AgentLogout(T0.AddTicks(4), "a1"));
        engine.Handle(new AgentLogin(T0.AddSeconds(1), "a1", "PJSIP/1001", "1"));
        engine.Handle(new AgentLogout(T0.AddSeconds(10), "a1"));

        var mapper = new AcdRecordMapper("precision-test");
        var records = outbox.Events.SelectMany(mapper.Map).ToList();
        await new CallRecordWriter(fixture.Database.DataSource).WriteAsync(records, ct);

        Assert.Equal("available 09:00:01-09:00:10", await fixture.Database.ScalarAsync<string>(
            "SELECT string_agg(state || ' ' || to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI:SS') || '-' || to_char(ended_at AT TIME ZONE 'UTC', 'HH24:MI:SS'), ', ' ORDER BY started_at) FROM agent_state_intervals WHERE agent_id = 'a1'", ct));
    }
    [Fact]
    public void ARestoredLogin_ContinuesItsSession_WhenTheLoginTimeCameBackAtMicrosecondPrecision()
    {
        // The login at 0.1 µs ticks; live_agents gives it back truncated to microseconds (as Npgsql stores it).
        var loggedIn = T0.AddTicks(1234567);
        var fromDatabase = new DateTimeOffset(loggedIn.UtcTicks - (loggedIn.UtcTicks % TimeSpan.TicksPerMicrosecond), TimeSpan.Zero);
        Assert.NotEqual(loggedIn, fromDatabase);
        var configuration = new AcdConfiguration
        {
            Queues = [new QueueConfiguration { Name = "sales" }],
            Agents = [new AgentProfile { AgentId = "a1", PinHash = AgentPin.Hash("1", iterations: 1), Queues = [new("sales")] }],
        };

        var before = new AcdOutbox();
        var engine = new AcdEngine(configuration, before, loggedIn);
        engine.Handle(new AgentLogin(loggedIn, "a1", "PJSIP/1001", "1"));
        engine.Handle(new AgentPause(loggedIn.AddSeconds(5), "a1", "coffee"));
        var first = before.Events.SelectMany(new AcdRecordMapper("before").Map).OfType<AgentStateRecord>().ToList();

        var after = new AcdOutbox();
        var restarted = new AcdEngine(configuration, after, loggedIn.AddSeconds(30));
        restarted.Handle(new AgentRestored(loggedIn.AddSeconds(30), "a1", "PJSIP/1001", PauseReason: "coffee") { LoggedInAt = fromDatabase, StateSince = loggedIn.AddSeconds(5) });
        restarted.Handle(new AgentResume(loggedIn.AddSeconds(40), "a1"));
        var second = after.Events.SelectMany(new AcdRecordMapper("after").Map).OfType<AgentStateRecord>().ToList();

        var sessions = first.Concat(second).Select(r => r.SessionId).Distinct().ToList();
        Assert.Equal(["a1@20261130T090000.123456"], sessions);
    }
}
