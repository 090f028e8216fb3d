using CtiBridge.Data.Records;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Records;

/// <summary>The writer against the real PostgreSQL: COPY batches, idempotent replays, revisions, partitions.</summary>
public sealed class CallRecordWriterTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    [Fact]
    public async Task Write_SameBatchTwice_StoresEachCallOnce()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);
        var batch = Enumerable.Range(0, 200).SelectMany(i => Calls.Answered($"dup-{i}", start.AddSeconds(i), "sales", "a1", 5, 60)).ToList();

        await writer.WriteAsync(batch, Ct);
        await writer.WriteAsync(batch, Ct);
        await writer.WriteAsync([.. batch, .. batch], Ct);

        Assert.Equal(200, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'dup-%'", Ct));
        Assert.Equal(200, await Db.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id LIKE 'dup-%'", Ct));
        Assert.Equal(600, await Db.ScalarAsync<long>("SELECT count(*) FROM queue_events WHERE call_id LIKE 'dup-%'", Ct));
    }

    [Fact]
    public async Task Write_CallsOfTwoAsteriskServers_EachRowSaysWhichServer()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2026, 3, 12, 9, 0, 0, TimeSpan.Zero);
        static IEnumerable<CallCenterRecord> On(IEnumerable<CallCenterRecord> records, string? server) =>
            records.Select(r => r is CallRecord call ? call with { AsteriskServer = server } : r);

        await writer.WriteAsync([.. On(Calls.Answered("site-a-1", start, "sales", "a1", 5, 60), "site-a"),
            .. On(Calls.Answered("site-b-1", start, "sales", "b1", 5, 60), "site-b"), .. On(Calls.Answered("site-none-1", start, "sales", "a1", 5, 60), null)], Ct);

        Assert.Equal("site-a", await Db.ScalarAsync<string>("SELECT asterisk_server FROM calls WHERE call_id = 'site-a-1'", Ct));
        Assert.Equal("site-b", await Db.ScalarAsync<string>("SELECT asterisk_server FROM calls WHERE call_id = 'site-b-1'", Ct));
        Assert.Equal(1, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'site-none-1' AND asterisk_server IS NULL", Ct));
    }

    [Fact]
    public async Task Write_HigherRevision_ReplacesRowButOlderReplayDoesNot()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2026, 3, 11, 9, 0, 0, TimeSpan.Zero);
        var first = Calls.Answered("rev-1", start, "sales", "a1", 5, 60);
        var withSurvey = Calls.Answered("rev-1", start, "sales", "a1", 5, 60, wrapUp: 20, revision: 1, survey: 9);

        await writer.WriteAsync(first, Ct);
        await writer.WriteAsync(withSurvey, Ct);
        await writer.WriteAsync(first, Ct);

        Assert.Equal(9, await Db.ScalarAsync<short>("SELECT survey_score FROM calls WHERE call_id = 'rev-1'", Ct));
        Assert.Equal(20.0, await Db.ScalarAsync<double>("SELECT wrap_up_seconds FROM queue_visits WHERE call_id = 'rev-1'", Ct));
        Assert.Equal(5.0, await Db.ScalarAsync<double>("SELECT wait_seconds FROM queue_visits WHERE call_id = 'rev-1'", Ct));
    }

    [Fact]
    public async Task Write_SurveyAnswerWithoutItsCallRow_ScoresTheStoredRow_ALaterRevisionKeepsTheScore()
    {
        // An instance that adopted the caller in the survey never saw the call's row: its batch has the answer only.
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2026, 3, 13, 9, 0, 0, TimeSpan.Zero);
        await writer.WriteAsync(Calls.Answered("adopted-survey-1", start, "sales", "a1", 5, 60), Ct);
        await writer.WriteAsync(Calls.Answered("adopted-survey-2", start, "sales", "a1", 5, 60), Ct);
        SurveyAnswerRecord Answer(string callId, int seconds, short score) => new()
        {
            CallId = callId, Question = "satisfaction", AnsweredAt = start.AddSeconds(seconds), Score = score, ScaleMax = 10, AgentId = "a1", Queue = "sales",
        };

        await writer.WriteAsync([Answer("adopted-survey-1", 100, 3), Answer("adopted-survey-1", 110, 8), Answer("no-such-call", 100, 5)], Ct);

        Assert.Equal(8, await Db.ScalarAsync<short>("SELECT survey_score FROM calls WHERE call_id = 'adopted-survey-1'", Ct));
        Assert.Equal(1, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'adopted-survey-2' AND survey_score IS NULL", Ct));
        Assert.Equal(0, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'no-such-call'", Ct));
        Assert.Equal(3, await Db.ScalarAsync<long>("SELECT count(*) FROM survey_answers WHERE call_id IN ('adopted-survey-1', 'no-such-call')", Ct));

        // The first instance's later revision of the row (e.g. replayed from its journal) has no score: it must not clear it.
        await writer.WriteAsync(Calls.Answered("adopted-survey-1", start, "sales", "a1", 5, 60, wrapUp: 20, revision: 1), Ct);
        Assert.Equal(8, await Db.ScalarAsync<short>("SELECT survey_score FROM calls WHERE call_id = 'adopted-survey-1'", Ct));
        Assert.Equal(20.0, await Db.ScalarAsync<double>("SELECT wrap_up_seconds FROM calls WHERE call_id = 'adopted-survey-1'", Ct));
    }

    [Fact]
    public async Task Write_CallsInAFarMonth_CreatesThatMonthsPartitions()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2024, 7, 31, 23, 59, 0, TimeSpan.Zero);

        await writer.WriteAsync(Calls.Answered("far-1", start, "sales", "a1", 90, 60), Ct);

        Assert.Equal(1, await Db.ScalarAsync<long>("SELECT count(*) FROM calls_p202407", Ct));
        Assert.Equal(2, await Db.ScalarAsync<long>("SELECT count(*) FROM queue_events_p202408", Ct)); // CONNECT and COMPLETECALLER fall in August
    }

    [Fact]
    public async Task Write_AgentStateOverMidnight_IsSplitAtUtcMidnight()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var from = new DateTimeOffset(2026, 3, 12, 22, 0, 0, TimeSpan.Zero);

        await writer.WriteAsync([Calls.State("night", from, from.AddHours(27), AgentState.Paused, "training")], Ct);

        Assert.Equal(3, await Db.ScalarAsync<long>("SELECT count(*) FROM agent_state_intervals WHERE agent_id = 'night'", Ct));
        Assert.Equal(27 * 3600.0, await Db.ScalarAsync<double>("SELECT sum(extract(epoch FROM ended_at - started_at))::float8 FROM agent_state_intervals WHERE agent_id = 'night'", Ct));
    }

    [Fact]
    public async Task Write_InvalidRecord_NamesRecordAndFieldAndStoresNothing()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        var start = new DateTimeOffset(2026, 3, 13, 9, 0, 0, TimeSpan.Zero);
        List<CallCenterRecord> batch = [.. Calls.Answered("ok-1", start, "sales", "a1", 5, 60), new QueueVisitRecord { CallId = "bad-1", Queue = "sales", EnteredAt = start, LeftAt = start.AddSeconds(-1), Outcome = QueueVisitOutcome.Abandoned }];

        var error = await Assert.ThrowsAsync<InvalidCallRecordException>(() => writer.WriteAsync(batch, Ct));

        Assert.Contains("bad-1", error.Message, StringComparison.Ordinal);
        Assert.Contains("LeftAt", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'ok-1'", Ct));
    }

    [Fact]
    public async Task DropExpiredPartitions_RetentionSetting_DropsOnlyMonthsOlderThanIt()
    {
        var writer = new CallRecordWriter(Db.DataSource);
        await writer.WriteAsync(Calls.Answered("old-1", new DateTimeOffset(2023, 1, 15, 9, 0, 0, TimeSpan.Zero), "sales", "a1", 5, 60), Ct);
        await writer.WriteAsync(Calls.Answered("kept-1", new DateTimeOffset(2023, 2, 15, 9, 0, 0, TimeSpan.Zero), "sales", "a1", 5, 60), Ct);
        await using (var set = Db.DataSource.CreateCommand("UPDATE settings SET value = '12'::jsonb WHERE key = 'records.retention_months'"))
        {
            await set.ExecuteNonQueryAsync(Ct);
        }

        // Now = 2024-01-20: with 12 months kept, February 2023 .. January 2024 stay.
        var dropped = new List<string>();
        await using (var drop = Db.DataSource.CreateCommand("SELECT * FROM records_drop_expired_partitions('2024-01-20T00:00:00Z')"))
        await using (var reader = await drop.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                dropped.Add(reader.GetString(0));
            }
        }

        Assert.Contains("calls_p202301", dropped);
        Assert.DoesNotContain("calls_p202302", dropped);
        Assert.Equal(0, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'old-1'", Ct));
        Assert.Equal(1, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'kept-1'", Ct));
    }
}

/// <summary>Partition maintenance on a fake clock: ahead-of-time creation and retention drops.</summary>
public sealed class RecordPartitionMaintenanceTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_FarFutureClock_CreatesMonthsAheadAndDropsExpiredMonths()
    {
        var db = fixture.Database;
        await new CallRecordWriter(db.DataSource).WriteAsync(Calls.Answered("maint-old", new DateTimeOffset(2031, 1, 10, 9, 0, 0, TimeSpan.Zero), "sales", "a1", 5, 60), Ct);
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2033, 3, 15, 0, 0, 0, TimeSpan.Zero));

        var result = await new RecordPartitionMaintenance(db.DataSource, clock).RunAsync(Ct);

        Assert.Equal(8 * 4, result.PartitionsCreated); // 8 record tables x March..June 2033
        Assert.True(await db.ScalarAsync<bool>("SELECT to_regclass('calls_p203306') IS NOT NULL", Ct));
        Assert.Contains("calls_p203101", result.PartitionsDropped); // 25 months kept: March 2031 .. March 2033
        Assert.DoesNotContain(result.PartitionsDropped, p => string.CompareOrdinal(p[^6..], "203103") >= 0);
        Assert.Equal(0, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id = 'maint-old'", Ct));

        var again = await new RecordPartitionMaintenance(db.DataSource, clock).RunAsync(Ct);
        Assert.Equal(0, again.PartitionsCreated);
        Assert.Empty(again.PartitionsDropped);
    }
}
