using CtiBridge.Core.Acd;
using CtiBridge.Data.LiveState;
using CtiBridge.Data.Records;
using CtiBridge.TestSupport;
using CallDisposition = CtiBridge.Core.Acd.CallDisposition;
using RecordDisposition = CtiBridge.Data.Records.CallDisposition;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// An inbound call's <c>live_calls</c> row is kept, marked ended, until the call's record is stored (migration 0044):
/// the record writer deletes it in the transaction that stores the record, or the mark deletes it when the record was
/// stored first; an instance adopting the server writes the record of a marked row that has none, once. Before, the live
/// state writer deleted the row at the end, and an instance killed with the record still in its writer's memory lost the
/// record (issue 14). The events are written as the live state writer writes them (<see cref="LiveStateStore.ChangesOf(AcdEvent)"/>),
/// the records as the record writer does (<see cref="CallRecordWriter"/>).
/// </summary>
public sealed class EndedCallRowsTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task EndedCall_RowKeptMarkedWithItsEnd_UntilItsRecordIsStored_ThenGoneWithIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        await WriteAsync(Talked(callId, server), ct);

        Assert.Equal(1L, await ScalarAsync<long>($"SELECT count(*) FROM live_calls WHERE call_id = '{callId}' AND ended_at IS NOT NULL", ct));
        Assert.Equal("answered|agent|20", await ScalarAsync<string>(
            $"SELECT disposition || '|' || released_by || '|' || talk_seconds::text FROM live_calls WHERE call_id = '{callId}'", ct));
        Assert.DoesNotContain(await new LiveStateStore(database.Database.DataSource).TakeOverCallsAsync(server, ct), c => c.CallId == callId); // ended: not adopted

        await new CallRecordWriter(database.Database.DataSource).WriteAsync([Record(callId)], ct);
        Assert.Equal(0L, await RowsAsync(callId, ct));
    }

    [Fact]
    public async Task RecordStoredBeforeTheEndIsMarked_TheMarkDeletesTheRow()
    {
        // The two writers are on different connections: the record writer may store the record before the live state
        // writer has marked the end (its delete then finds the row live and leaves it); the mark's own look deletes it.
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        var events = Talked(callId, server);
        await WriteAsync(events[..^1], ct);
        await new CallRecordWriter(database.Database.DataSource).WriteAsync([Record(callId)], ct);
        Assert.Equal(1L, await RowsAsync(callId, ct));

        await WriteAsync(events[^1..], ct);
        Assert.Equal(0L, await RowsAsync(callId, ct));
    }

    [Fact]
    public async Task RecordDiedWithItsInstance_TheAdopterWritesItFromTheRow_WithItsRealEndAndOutcome_Once()
    {
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        await WriteAsync(Talked(callId, server), ct);
        var store = new LiveStateStore(database.Database.DataSource);

        var ended = Assert.Single(await store.EndedUnrecordedCallsAsync(server, ct));
        Assert.Equal(callId, ended.CallId);

        // Written twice (two adopters racing, or the adopter's writer replaying): one row.
        var writer = new CallRecordWriter(database.Database.DataSource);
        await writer.WriteAsync(ended.ToRecords(), ct);
        await writer.WriteAsync(ended.ToRecords(), ct);

        Assert.Equal(1L, await ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal("answered|2001|agent|5|20|" + server, await ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id, released_by, wait_seconds::text, talk_seconds::text, asterisk_server) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(T0.AddSeconds(30).UtcDateTime, await ScalarAsync<DateTime>($"SELECT ended_at FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(T0.UtcDateTime, await ScalarAsync<DateTime>($"SELECT started_at FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal("answered|2001", await ScalarAsync<string>($"SELECT outcome || '|' || agent_id FROM queue_visits WHERE call_id = '{callId}'", ct));
        Assert.Equal(0L, await RowsAsync(callId, ct));
        Assert.Empty(await store.EndedUnrecordedCallsAsync(server, ct));
    }

    [Fact]
    public async Task AbandonedCaller_RecordWrittenFromTheRow_WithTheVisitsRealOutcome()
    {
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        await WriteAsync(
            [At(Enqueued(callId, server), T0), At(new CallAbandoned(callId, "support", 1, T0, TimeSpan.FromSeconds(12), 1), T0.AddSeconds(12)),
             At(new CallEnded(callId, CallDisposition.Abandoned, 1), T0.AddSeconds(12))],
            ct);

        var ended = Assert.Single(await new LiveStateStore(database.Database.DataSource).EndedUnrecordedCallsAsync(server, ct));
        await new CallRecordWriter(database.Database.DataSource).WriteAsync(ended.ToRecords(), ct);

        Assert.Equal("abandoned|12", await ScalarAsync<string>($"SELECT disposition || '|' || wait_seconds::text FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal("abandoned", await ScalarAsync<string>($"SELECT outcome FROM queue_visits WHERE call_id = '{callId}'", ct));
        Assert.Equal(T0.AddSeconds(12).UtcDateTime, await ScalarAsync<DateTime>($"SELECT ended_at FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(0L, await RowsAsync(callId, ct));
    }

    [Fact]
    public async Task RecordStoredJustBeforeTheKill_RowLeftMarked_NothingWrittenAgain()
    {
        // The instance stored the record and died before the row's delete committed: the adopter writes nothing, and
        // the record that was stored (talk 20 s) is the one kept.
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        var events = Talked(callId, server);
        await WriteAsync(events[..^1], ct);
        await new CallRecordWriter(database.Database.DataSource).WriteAsync([Record(callId)], ct);
        await using (var mark = database.Database.DataSource.CreateCommand(
            $"UPDATE live_calls SET ended_at = '{T0.AddSeconds(30):O}', disposition = 'answered' WHERE call_id = '{callId}'"))
        {
            await mark.ExecuteNonQueryAsync(ct);
        }


        Assert.Empty(await new LiveStateStore(database.Database.DataSource).EndedUnrecordedCallsAsync(server, ct));
        Assert.Equal(1L, await ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal(0L, await RowsAsync(callId, ct)); // the ended row whose record is stored is gone with the adoption's read
    }

    [Fact]
    public async Task RecoveredRecord_CarriesTheTransferChain_TheRecording_AndTheSurveyScore_AsTheMapperWritesThem()
    {
        // Answered by 2001 and recorded, transferred to the billing queue, answered there by 2002, the survey answered while
        // the record is still unstored: the row written from live_calls is the mapper's row (but the wrap-up, which comes with
        // the handling's end and its own records), and the recording's row is stored too. Before migration 0046 the row
        // lacked the transfer chain, the recording and the score.
        var ct = TestContext.Current.CancellationToken;
        var (callId, server) = NewCall();
        var events = TransferredRecordedSurveyed(callId, server);
        await WriteAsync(events, ct);

        var ended = Assert.Single(await new LiveStateStore(database.Database.DataSource).EndedUnrecordedCallsAsync(server, ct));
        var recovered = ended.ToRecords();
        var mapper = new AcdRecordMapper("carried");
        var mapped = events.SelectMany(mapper.Map).OfType<CallRecord>().Last();
        var call = Assert.Single(recovered.OfType<CallRecord>());
        Assert.Equal(mapped with { Revision = 0, WrapUpSeconds = 0, TransferChain = [], Queues = [] }, call with { TransferChain = [], Queues = [] });
        Assert.Equal(mapped.TransferChain, call.TransferChain);
        Assert.Equal(mapped.Queues, call.Queues);

        await new CallRecordWriter(database.Database.DataSource).WriteAsync(recovered, ct);
        Assert.Equal("{queue:billing}|rec-1|9|2002|answered", await ScalarAsync<string>(
            $"SELECT concat_ws('|', transfer_chain::text, recording_id, survey_score, agent_id, disposition) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal("/rec/rec-1.wav|wav|2001", await ScalarAsync<string>(
            $"SELECT concat_ws('|', path, format, agent_id) FROM recordings WHERE recording_id = 'rec-1' AND call_id = '{callId}'", ct));
        Assert.Equal(0L, await RowsAsync(callId, ct));
    }

    /// <summary>
    /// Queued at T0 in support, answered by 2001 at +5 s and recorded, transferred to billing at +20 s, answered there by 2002
    /// at +25 s, the caller hung up at +40 s; the survey answered (9) at +45 s.
    /// </summary>
    private static AcdEvent[] TransferredRecordedSurveyed(string callId, string server)
    {
        var caller = new CallerData
        {
            CallerNumber = "5550042", Site = server,
            Attributes = new Dictionary<string, string> { [LiveStateStore.ServerAttribute] = server, [LiveStateStore.ChannelAttribute] = "chan-" + callId },
        };
        return
        [
            At(new CallEnqueued(callId, "support", 1, 0, 1, caller), T0),
            At(new CallAnswered(callId, "support", 1, T0, TimeSpan.FromSeconds(5), "2001"), T0.AddSeconds(5)),
            At(new CallRecordingStarted(callId, "rec-1", "/rec/rec-1.wav", "wav", "2001"), T0.AddSeconds(5)),
            At(new CallTransferred(callId, "support", "2001", TransferTarget.ToQueue("billing"), Attended: false), T0.AddSeconds(20)),
            At(new CallCompleted(callId, "support", "2001", TimeSpan.FromSeconds(15), TimeSpan.Zero, HangupParty.Agent), T0.AddSeconds(20)),
            At(new CallEnqueued(callId, "billing", 2, 0, 1, caller), T0.AddSeconds(20)),
            At(new CallAnswered(callId, "billing", 2, T0.AddSeconds(20), TimeSpan.FromSeconds(5), "2002"), T0.AddSeconds(25)),
            At(new CallCompleted(callId, "billing", "2002", TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(3), HangupParty.Caller), T0.AddSeconds(40)),
            At(new CallEnded(callId, CallDisposition.Answered, 2), T0.AddSeconds(40)),
            At(new SurveyAnswered(callId, "billing", "2002", "csat", 9, 10), T0.AddSeconds(45)),
        ];
    }

    private static (string CallId, string Server) NewCall() => ("ended-" + Guid.NewGuid().ToString("N"), "srv-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Queued at T0, answered by 2001 at +5 s, talked 20 s, the agent hung up at +30 s (with 5 s of hold).</summary>
    private static AcdEvent[] Talked(string callId, string server) =>
    [
        At(Enqueued(callId, server), T0),
        At(new CallAnswered(callId, "support", 1, T0, TimeSpan.FromSeconds(5), "2001"), T0.AddSeconds(5)),
        At(new CallCompleted(callId, "support", "2001", TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(5), HangupParty.Agent), T0.AddSeconds(30)),
        At(new CallEnded(callId, CallDisposition.Answered, 1), T0.AddSeconds(30)),
    ];

    private static CallEnqueued Enqueued(string callId, string server) => new(callId, "support", 1, 0, 1, new CallerData
    {
        CallerNumber = "5550042",
        Attributes = new Dictionary<string, string> { [LiveStateStore.ServerAttribute] = server, [LiveStateStore.ChannelAttribute] = "chan-" + callId },
    });

    // The engine stamps an event's time when it publishes it (the setter is the core's own); these are stamped as it would.
    private static T At<T>(T acdEvent, DateTimeOffset at) where T : AcdEvent
    {
        typeof(AcdEvent).GetProperty(nameof(AcdEvent.At))!.SetValue(acdEvent, at);
        return acdEvent;
    }

    /// <summary>The record the call's own instance writes at its end (the mapper's row), talk 20 s.</summary>
    private static CallRecord Record(string callId) => new()
    {
        CallId = callId, StartedAt = T0, Direction = CallDirection.Inbound, Queues = ["support"], EnqueuedAt = T0, AnsweredAt = T0.AddSeconds(5),
        EndedAt = T0.AddSeconds(30), WaitSeconds = 5, TalkSeconds = 20, HoldSeconds = 5, Disposition = RecordDisposition.Answered,
        AgentId = "2001", ReleasedBy = ReleasedBy.Agent,
    };

    private Task WriteAsync(AcdEvent[] events, CancellationToken ct) =>
        new LiveStateStore(database.Database.DataSource).ApplyAsync([.. events.SelectMany(e => LiveStateStore.ChangesOf(e))], ct);

    private Task<long> RowsAsync(string callId, CancellationToken ct) => ScalarAsync<long>($"SELECT count(*) FROM live_calls WHERE call_id = '{callId}'", ct);

    private Task<T> ScalarAsync<T>(string sql, CancellationToken ct) => database.Database.ScalarAsync<T>(sql, ct);
}
