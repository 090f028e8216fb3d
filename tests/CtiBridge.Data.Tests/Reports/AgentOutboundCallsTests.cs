using CtiBridge.Data.Records;
using CtiBridge.TestSupport;
using static CtiBridge.Data.Tests.Records.Calls;

namespace CtiBridge.Data.Tests.Reports;

/// <summary>
/// Campaign (dialer) and callback calls count as the agent's calls (docs/metrics.md §6, version 3):
/// a hand-built hour with a dialer agent and an inbound agent who also takes a callback, every
/// figure worked out by hand. Before version 3 the dialer agent showed 0 calls at 18 % occupancy.
/// </summary>
public sealed class AgentOutboundCallsTests : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private const double Eps = 1e-9;
    private static readonly DateTimeOffset H = new(2026, 11, 9, 10, 0, 0, TimeSpan.Zero);
    private readonly TestDatabase _db;

    public AgentOutboundCallsTests(MigratedDatabaseFixture fixture) => _db = fixture.Database;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DateTimeOffset At(double seconds) => H.AddSeconds(seconds);

    private static CallRecord Outbound(string callId, double start, double? answer, double end, string? agent, CallDisposition disposition,
        double talk = 0, double wrapUp = 0, int revision = 0, string? campaign = null, string? callback = null, string? queue = null) => new()
        {
            CallId = callId, StartedAt = At(start), Revision = revision, Direction = CallDirection.Outbound, Caller = "4001234567", Callee = "13800138000",
            Queues = queue is null ? [] : [queue], AnsweredAt = answer is { } a ? At(a) : null, EndedAt = At(end), TalkSeconds = talk, WrapUpSeconds = wrapUp,
            Disposition = disposition, AgentId = agent, ReleasedBy = answer is null ? null : ReleasedBy.Caller, CampaignId = campaign, CallbackId = callback,
            LeadId = campaign is null ? null : "lead-" + callId,
        };

    public async ValueTask InitializeAsync()
    {
        if (await _db.ScalarAsync<long>("SELECT count(*) FROM calls", Ct) > 0)
        {
            return;
        }

        var writer = new CallRecordWriter(_db.DataSource);
        List<CallCenterRecord> records =
        [
            // d1 works a campaign 10:00-11:00: two calls talked, a third abandoned (no agent came), a voice broadcast reached a person.
            State("d1", At(0), At(300), AgentState.Available, session: "dagent-1"),
            State("d1", At(300), At(540), AgentState.Outbound, session: "dagent-1"),
            State("d1", At(540), At(600), AgentState.WrapUp, session: "dagent-1"),
            State("d1", At(600), At(1200), AgentState.Available, session: "dagent-1"),
            State("d1", At(1200), At(1500), AgentState.Outbound, session: "dagent-1"),
            State("d1", At(1500), At(1560), AgentState.WrapUp, session: "dagent-1"),
            State("d1", At(1560), At(3600), AgentState.Available, session: "dagent-1"),
            // dc-1: answered 10:05:10, talked 230 s, then 60 s of wrap-up (the row written again, revision 1).
            Outbound("dc-1", 300, 310, 540, "d1", CallDisposition.Answered, talk: 230, campaign: "spring"),
            // dc-2: answered 10:20:20, talked 280 s; its wrap-up row not written yet: a call, not yet in AHT.
            Outbound("dc-2", 1200, 1220, 1500, "d1", CallDisposition.Answered, talk: 280, campaign: "spring"),
            Outbound("dc-3", 2000, 2010, 2015, null, CallDisposition.Abandoned, campaign: "spring"),
            Outbound("vb-1", 2100, 2105, 2130, null, CallDisposition.Answered, campaign: "broadcast"),

            // a1 on inbound: a callback from the sales queue at 10:31 (120 s, 30 s wrap-up) and an inbound call at 10:40:10.
            State("a1", At(0), At(1860), AgentState.Available),
            State("a1", At(1860), At(1980), AgentState.InCall),
            State("a1", At(1980), At(2010), AgentState.WrapUp),
            State("a1", At(2010), At(2410), AgentState.Available),
            State("a1", At(2410), At(2510), AgentState.InCall),
            State("a1", At(2510), At(2530), AgentState.WrapUp),
            State("a1", At(2530), At(3600), AgentState.Available),
            Outbound("cb-1", 1800, 1860, 1980, "a1", CallDisposition.Answered, talk: 120, wrapUp: 30, revision: 1, callback: "42", queue: "sales"),
            // An earlier attempt of another callback that nobody answered: the agent was on it, but it is no call.
            Outbound("cb-2", 1500, null, 1530, "a1", CallDisposition.NoAnswer, callback: "43", queue: "sales"),
            .. Answered("in-1", At(2400), "sales", "a1", wait: 10, talk: 100, wrapUp: 20),
        ];
        await writer.WriteAsync(records, Ct);
        // The dialer writes dc-1 again when the wrap-up ends; a replay of the first row changes nothing.
        await writer.WriteAsync([Outbound("dc-1", 300, 310, 540, "d1", CallDisposition.Answered, talk: 230, wrapUp: 60, revision: 1, campaign: "spring")], Ct);
        await writer.WriteAsync([Outbound("dc-1", 300, 310, 540, "d1", CallDisposition.Answered, talk: 230, campaign: "spring")], Ct);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<List<Dictionary<string, object?>>> Q(string sql) => Rows.ReadAsync(_db, sql, Ct);

    private static Dictionary<string, object?> Agent(List<Dictionary<string, object?>> rows, string agent) => rows.Single(r => (string)r["agent_id"]! == agent);

    [Theory]
    [InlineData("'2026-11-09T10:00Z', '2026-11-09T11:00Z'")] // aligned: inbound calls from the 15-minute rollup
    [InlineData("timestamptz '2026-11-09T10:00Z' - interval '1 microsecond', timestamptz '2026-11-09T11:00Z' + interval '1 microsecond'")] // raw
    public async Task OneHour_DialerAndCallbackCallsCountAsTheAgentsCalls(string window)
    {
        var rows = await Q($"SELECT * FROM report_agent_activity({window}, '1d')");
        Assert.Equal(2, rows.Count);

        var d1 = Agent(rows, "d1");
        Assert.Equal((2L, 0L, 2L), (d1.L("calls"), d1.L("inbound_calls"), d1.L("outbound_calls")));
        Assert.Equal(510, d1.F("talk_seconds"), Eps);
        Assert.Equal(60, d1.F("wrap_up_seconds"), Eps);
        Assert.Equal(290, d1.F("aht_seconds"), Eps); // dc-1 only: dc-2's wrap-up is not known yet
        Assert.Equal(2.0, d1.F("calls_per_hour"), Eps); // D-14: 2 calls in one logged-in hour
        Assert.Equal(660.0 / 3600, d1.F("occupancy"), Eps); // (240 + 60 + 300 + 60) / 3600, as before
        Assert.Equal(0, d1.L("missed_calls"));
        Assert.Equal(3, d1.L("definitions_version"));

        var a1 = Agent(rows, "a1");
        Assert.Equal((2L, 1L, 1L), (a1.L("calls"), a1.L("inbound_calls"), a1.L("outbound_calls")));
        Assert.Equal(220, a1.F("talk_seconds"), Eps);
        Assert.Equal(50, a1.F("wrap_up_seconds"), Eps);
        Assert.Equal((150 + 120) / 2.0, a1.F("aht_seconds"), Eps);
        Assert.Equal(2.0, a1.F("calls_per_hour"), Eps);

        // Ranking: both took 2 calls; a1's lower AHT ranks first.
        Assert.Equal(1, a1.L("answer_rank"));
        Assert.Equal(2, d1.L("answer_rank"));
    }

    [Fact]
    public async Task QuarterHours_OutboundCallsCountAtTheirAnswer()
    {
        var rows = await Q("SELECT * FROM report_agent_activity('2026-11-09T10:00Z', '2026-11-09T11:00Z', '15m', 'd1')");

        Assert.Equal(4, rows.Count);
        Assert.Equal([1L, 1L, 0L, 0L], rows.Select(r => r.L("outbound_calls")));
        Assert.Equal(230, rows[0].F("talk_seconds"), Eps);
        Assert.Equal(280, rows[1].F("talk_seconds"), Eps);
        Assert.Null(rows[1]["aht_seconds"]);
    }

    [Fact]
    public async Task QueueFilter_KeepsCallbackCallsOfThatQueue_CampaignCallsHaveNoQueue()
    {
        var rows = await Q("SELECT * FROM report_agent_activity('2026-11-09T10:00Z', '2026-11-09T11:00Z', '1h', p_queue => 'sales')");

        Assert.Equal((2L, 1L, 1L), (Agent(rows, "a1").L("calls"), Agent(rows, "a1").L("inbound_calls"), Agent(rows, "a1").L("outbound_calls")));
        Assert.Equal(0L, Agent(rows, "d1").L("calls")); // still listed: state time is not per queue
        Assert.Empty(await Q("SELECT * FROM report_agent_activity('2026-11-09T10:00Z', '2026-11-09T11:00Z', '1h', p_queue => 'support') WHERE calls > 0"));
    }

    [Fact]
    public async Task AgentOutboundCalls_IsTheOneDefinition_OneRowPerCallTalkedOn()
    {
        var rows = await Q("SELECT * FROM agent_outbound_calls('2026-11-09T00:00Z', '2026-11-10T00:00Z') ORDER BY call_id");

        Assert.Equal(["cb-1", "dc-1", "dc-2"], rows.Select(r => (string)r["call_id"]!));
        Assert.Equal([true, true, false], rows.Select(r => (bool)r["handled"]!));
        Assert.Equal("42", rows[0]["callback_id"]);
        Assert.Equal("spring", rows[1]["campaign_id"]);
        Assert.Equal(60, rows[1].F("wrap_up_seconds"), Eps); // the replayed revision 0 did not overwrite revision 1
    }
}
