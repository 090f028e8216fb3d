using CtiBridge.Core.Acd;
using CtiBridge.Data.LiveState;
using CtiBridge.Data.Records;
using CtiBridge.TestSupport;
using RecordDisposition = CtiBridge.Data.Records.CallDisposition;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A caller outside a queue's <c>live_ivr_calls</c> row is kept, marked ended, until the call's record is stored (migration
/// 0046): an IVR-only call's <c>calls</c> row, a survey's answer. The record writer deletes it in the transaction that stores
/// the record, or the mark deletes it when the record was stored first; an instance adopting the server writes the record of
/// a marked row that has none, once. Before, call control deleted the row at the end, and an instance killed with the record
/// still in its writer's memory lost it (issue 14; the real kill: <c>KillHardIvrRecordTests</c>). The rows are written as
/// call control writes them (<see cref="LiveStateStore.PutIvrCall"/>, <see cref="LiveStateStore.EndIvrCall"/>), the records
/// as the record writer does (<see cref="CallRecordWriter"/>).
/// </summary>
public sealed class EndedIvrCallRowsTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task IvrOnlyCallEnded_RowKeptMarkedWithItsRecord_NotAdopted_UntilTheRecordIsStored_ThenGoneWithIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        await ApplyAsync([LiveStateStore.PutIvrCall(server, InMenu(callId, server), T0)], ct);
        await ApplyAsync(LiveStateStore.EndIvrCall(callId, T0.AddSeconds(20), Record(callId, server), recording: null), ct);

        Assert.Equal("ivr_abandoned|caller", await ScalarAsync<string>($"SELECT concat_ws('|', disposition, released_by) FROM live_ivr_calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(T0.AddSeconds(20).UtcDateTime, await ScalarAsync<DateTime>($"SELECT ended_at FROM live_ivr_calls WHERE call_id = '{callId}'", ct));
        Assert.Empty(await new LiveStateStore(database.Database.DataSource).TakeOverIvrCallsAsync(server, ct)); // ended: not adopted

        await new CallRecordWriter(database.Database.DataSource).WriteAsync([Record(callId, server)], ct);
        Assert.Equal(0L, await RowsAsync(callId, ct));
    }

    [Fact]
    public async Task RecordStoredBeforeTheEndIsMarked_TheMarkDeletesTheRow()
    {
        // The two writers are on different connections: the record writer may store the record before the live state
        // writer has marked the end (its delete then finds the row live and leaves it); the mark's own look deletes it.
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        await ApplyAsync([LiveStateStore.PutIvrCall(server, InMenu(callId, server), T0)], ct);
        await new CallRecordWriter(database.Database.DataSource).WriteAsync([Record(callId, server)], ct);
        Assert.Equal(1L, await RowsAsync(callId, ct));

        await ApplyAsync(LiveStateStore.EndIvrCall(callId, T0.AddSeconds(20), Record(callId, server), recording: null), ct);
        Assert.Equal(0L, await RowsAsync(callId, ct));
    }

    [Fact]
    public async Task RecordDiedWithItsInstance_TheAdopterWritesItFromTheRow_WithItsOutsideCallsRecording_Once()
    {
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        var recording = new RecordingRecord
        {
            RecordingId = $"call-{callId}-ext", StartedAt = T0.AddSeconds(8), CallId = callId, LegId = callId + "-ext", EndedAt = T0.AddSeconds(20),
            Path = $"/var/spool/ctibridge/call-{callId}-ext.wav", Format = "wav",
        };
        var record = Record(callId, server) with { Disposition = RecordDisposition.IvrCompleted, Callee = "5559999", ReleasedBy = ReleasedBy.System, RecordingId = recording.RecordingId };
        await ApplyAsync([LiveStateStore.PutIvrCall(server, InMenu(callId, server) with { Stage = LiveIvrStage.External, ExternalNumber = "5559999" }, T0)], ct);
        await ApplyAsync(LiveStateStore.EndIvrCall(callId, T0.AddSeconds(20), record, recording), ct);
        var store = new LiveStateStore(database.Database.DataSource);

        var ended = Assert.Single(await store.EndedUnrecordedIvrCallsAsync(server, ct));
        Assert.Equal(callId, ended.CallId);

        // Written twice (two adopters racing, or the adopter's writer replaying): one row each.
        var writer = new CallRecordWriter(database.Database.DataSource);
        await writer.WriteAsync(ended.ToRecords(), ct);
        await writer.WriteAsync(ended.ToRecords(), ct);

        Assert.Equal(1L, await ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal($"ivr_completed|system|5550042|4008001|5559999|{recording.RecordingId}|{server}|f", await ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, released_by, caller, did, callee, recording_id, asterisk_server, end_estimated) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(T0.UtcDateTime, await ScalarAsync<DateTime>($"SELECT started_at FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(T0.AddSeconds(20).UtcDateTime, await ScalarAsync<DateTime>($"SELECT ended_at FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal($"{recording.Path}|wav|{T0.AddSeconds(8).UtcDateTime:yyyy-MM-dd HH:mm:ss}", await ScalarAsync<string>(
            $"SELECT concat_ws('|', path, format, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')) FROM recordings WHERE call_id = '{callId}'", ct));
        Assert.Equal(0L, await RowsAsync(callId, ct));
        Assert.Empty(await store.EndedUnrecordedIvrCallsAsync(server, ct));
    }

    [Fact]
    public async Task SurveyAnswerDiedWithItsInstance_RowKeptUntilTheAnswerIsStored_TheAdopterWritesIt_AndTheCallsScore()
    {
        // A survey's caller: the call's row came from the queue's records (stored at the agent's hang-up); the answer's
        // records were in the killed instance's writer. The row keeps the answer until its survey_answers row is stored.
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        await new CallRecordWriter(database.Database.DataSource).WriteAsync([Record(callId, server) with { Disposition = RecordDisposition.Answered, AnsweredAt = T0.AddSeconds(5), AgentId = "2001" }], ct);
        await ApplyAsync(
            [
                LiveStateStore.PutIvrCall(server, InMenu(callId, server) with { Stage = LiveIvrStage.Survey, Plan = null, Node = null, LeftAcd = true, Queue = "support", AgentId = "2001" }, T0.AddSeconds(30)),
                LiveStateStore.SurveyIvrCall(callId, "csat", 9, 10, T0.AddSeconds(36)),
            ],
            ct);
        await ApplyAsync(LiveStateStore.EndIvrCall(callId, T0.AddSeconds(38), record: null, recording: null), ct);
        Assert.Equal(1L, await RowsAsync(callId, ct)); // its answer not stored yet
        var store = new LiveStateStore(database.Database.DataSource);

        var ended = Assert.Single(await store.EndedUnrecordedIvrCallsAsync(server, ct));
        Assert.Null(ended.Call);
        await new CallRecordWriter(database.Database.DataSource).WriteAsync(ended.ToRecords(), ct);

        Assert.Equal("csat|9|10|2001|support", await ScalarAsync<string>(
            $"SELECT concat_ws('|', question, score, scale_max, agent_id, queue) FROM survey_answers WHERE call_id = '{callId}'", ct));
        Assert.Equal(9, await ScalarAsync<short>($"SELECT survey_score FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(0L, await RowsAsync(callId, ct));
        Assert.Empty(await store.EndedUnrecordedIvrCallsAsync(server, ct));
    }

    private static (string CallId, string Server) NewCall() => ("ivr-ended-" + Guid.NewGuid().ToString("N"), "srv-" + Guid.NewGuid().ToString("N")[..8]);

    private static LiveIvrCall InMenu(string callId, string server) =>
        new(callId, "chan-" + callId, LiveIvrStage.Ivr, T0, new CallerData { CallerNumber = "5550042", Did = "4008001", Site = server })
        {
            Plan = "main", Node = "welcome", IvrPath = ["main/welcome"],
        };

    /// <summary>The row call control writes for a caller who hung up in the menu at +20 s.</summary>
    private static CallRecord Record(string callId, string server) => new()
    {
        CallId = callId, StartedAt = T0, Direction = CallDirection.Inbound, Did = "4008001", Caller = "5550042", AsteriskServer = server,
        EndedAt = T0.AddSeconds(20), Disposition = RecordDisposition.IvrAbandoned, ReleasedBy = ReleasedBy.Caller,
    };

    private Task ApplyAsync(IReadOnlyList<Npgsql.NpgsqlBatchCommand> commands, CancellationToken ct) =>
        new LiveStateStore(database.Database.DataSource).ApplyAsync(commands, ct);

    private Task<long> RowsAsync(string callId, CancellationToken ct) => ScalarAsync<long>($"SELECT count(*) FROM live_ivr_calls WHERE call_id = '{callId}'", ct);

    private Task<T> ScalarAsync<T>(string sql, CancellationToken ct) => database.Database.ScalarAsync<T>(sql, ct);
}
