using System.Threading.Channels;
using CtiBridge.Data.Records;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CtiBridge.Data.Tests.Records;

/// <summary>Outages and crashes: the database cut away behind a loopback proxy, the journal, replays.</summary>
public sealed class CallRecordSinkTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly string _journalDirectory = Directory.CreateTempSubdirectory("ctibridge-journal-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    public void Dispose() => Directory.Delete(_journalDirectory, recursive: true);

    private NpgsqlDataSource ThroughProxy(LoopbackProxy proxy) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(Db.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3, CommandTimeout = 10 }.ConnectionString);

    private static LoopbackProxy ProxyTo(TestDatabase db)
    {
        var builder = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        return new LoopbackProxy(builder.Host!, builder.Port);
    }

    private static List<CallCenterRecord> Batch(string prefix, int index, int calls, DateTimeOffset start) =>
        Enumerable.Range(0, calls).SelectMany(i => Calls.Answered($"{prefix}-{index}-{i}", start.AddMinutes(index).AddSeconds(i), "support", $"agent{i % 7}", 3 + (i % 40), 30 + i)).ToList();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_DatabaseCutMidTrafficThenRestored_EveryCallStoredExactlyOnce(bool kindsInParallel)
    {
        var prefix = kindsInParallel ? "outage-par" : "outage-seq";
        await using var proxy = ProxyTo(Db);
        await using var dataSource = ThroughProxy(proxy);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 64 << 20, cancellationToken: Ct);
        using var sink = new CallRecordSink(new CallRecordWriter(dataSource) { WriteKindsInParallel = kindsInParallel }, journal, replayBatchSize: 300);
        var start = new DateTimeOffset(2026, 4, 1, 8, 0, 0, TimeSpan.Zero);
        var outcomes = new List<RecordBatchOutcome>();

        for (var b = 0; b < 30; b++)
        {
            if (b == 10)
            {
                proxy.Cut();
            }

            if (b == 20)
            {
                proxy.Restore();
            }

            outcomes.Add(await sink.WriteAsync(Batch(prefix, b, 50, start), Ct));
        }

        Assert.All(outcomes.Take(10), o => Assert.Equal(RecordBatchOutcome.Stored, o));
        Assert.All(outcomes.Skip(10).Take(10), o => Assert.Equal(RecordBatchOutcome.Journaled, o));
        Assert.All(outcomes.Skip(20), o => Assert.Equal(RecordBatchOutcome.Stored, o));
        Assert.True(journal.IsEmpty);
        Assert.Equal(1500, await Db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id LIKE '{prefix}-%'", Ct));
        Assert.Equal(1500, await Db.ScalarAsync<long>($"SELECT count(DISTINCT call_id) FROM calls WHERE call_id LIKE '{prefix}-%'", Ct));
        Assert.Equal(1500, await Db.ScalarAsync<long>($"SELECT count(*) FROM queue_visits WHERE call_id LIKE '{prefix}-%'", Ct));
        Assert.Equal(4500, await Db.ScalarAsync<long>($"SELECT count(*) FROM queue_events WHERE call_id LIKE '{prefix}-%'", Ct));
    }

    [Fact]
    public async Task Replay_CrashAfterDatabaseWriteBeforeJournalCleared_NoDuplicates()
    {
        var start = new DateTimeOffset(2026, 4, 2, 8, 0, 0, TimeSpan.Zero);
        var writer = new CallRecordWriter(Db.DataSource);
        await using (var journal = await RecordJournal.OpenAsync(_journalDirectory, 64 << 20, cancellationToken: Ct))
        {
            for (var b = 0; b < 4; b++)
            {
                await journal.AppendAsync(Batch("crash", b, 25, start), Ct);
            }

            // The replay stored half of the journal, then the process died before clearing it.
            var stored = 0;
            await foreach (var batch in journal.ReadAsync(50, Ct))
            {
                if (stored++ == 2)
                {
                    break;
                }

                await writer.WriteAsync(batch, Ct);
            }
        }

        await using var reopened = await RecordJournal.OpenAsync(_journalDirectory, 64 << 20, cancellationToken: Ct);
        using var sink = new CallRecordSink(new CallRecordWriter(Db.DataSource), reopened);
        Assert.False(reopened.IsEmpty);

        Assert.True(await sink.ReplayAsync(Ct));

        Assert.True(reopened.IsEmpty);
        Assert.Equal(100, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'crash-%'", Ct));
        Assert.Equal(300, await Db.ScalarAsync<long>("SELECT count(*) FROM queue_events WHERE call_id LIKE 'crash-%'", Ct));
    }

    [Fact]
    public async Task Run_RecordsArriveWhileDatabaseCut_JournaledThenReplayedInOrder()
    {
        await using var proxy = ProxyTo(Db);
        await using var dataSource = ThroughProxy(proxy);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 64 << 20, cancellationToken: Ct);
        using var sink = new CallRecordSink(new CallRecordWriter(dataSource), journal);
        var channel = Channel.CreateUnbounded<CallCenterRecord>();
        var start = new DateTimeOffset(2026, 4, 3, 8, 0, 0, TimeSpan.Zero);
        // Revision 0 first, revision 1 later: replay order decides which one the table keeps.
        var calls = Enumerable.Range(0, 40).SelectMany(i => Calls.Answered($"pump-{i}", start.AddSeconds(i), "support", "a1", 4, 50)).ToList();
        var revised = Enumerable.Range(0, 40).SelectMany(i => Calls.Answered($"pump-{i}", start.AddSeconds(i), "support", "a1", 4, 50, wrapUp: 15, revision: 1)).ToList();
        proxy.Cut();
        foreach (var record in calls.Concat(revised))
        {
            channel.Writer.TryWrite(record);
        }

        channel.Writer.Complete();

        await sink.RunAsync(channel.Reader, batchSize: 64, TimeSpan.FromSeconds(5), new FakeTimeProvider(), Ct);

        Assert.False(journal.IsEmpty);
        proxy.Restore();
        Assert.True(await sink.ReplayAsync(Ct));
        Assert.Equal(40, await Db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'pump-%'", Ct));
        Assert.Equal(40, await Db.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id LIKE 'pump-%' AND wrap_up_seconds = 15", Ct));
    }

    [Fact]
    public async Task Open_TornLastLine_CutOffAndEarlierRecordsKept()
    {
        var start = new DateTimeOffset(2026, 4, 4, 8, 0, 0, TimeSpan.Zero);
        await using (var journal = await RecordJournal.OpenAsync(_journalDirectory, 1 << 20, cancellationToken: Ct))
        {
            await journal.AppendAsync(Batch("torn", 0, 3, start), Ct);
        }

        var path = Path.Combine(_journalDirectory, RecordJournal.FileName);
        var goodLength = new FileInfo(path).Length;
        await File.AppendAllTextAsync(path, "0123456789abcdef {\"$type\":\"call\",\"CallId\":\"half", Ct);

        await using var reopened = await RecordJournal.OpenAsync(_journalDirectory, 1 << 20, cancellationToken: Ct);
        await reopened.AppendAsync(Batch("torn", 1, 1, start), Ct);

        var records = new List<CallCenterRecord>();
        await foreach (var batch in reopened.ReadAsync(100, Ct))
        {
            records.AddRange(batch);
        }

        Assert.Equal(20, records.Count); // 5 records per call: 3 calls kept, then 1 appended after the cut
        Assert.Equal("torn-1-0", Assert.IsType<CallRecord>(records[15]).CallId);
        Assert.True(reopened.SizeBytes > goodLength);
    }

    [Fact]
    public async Task Open_DamagedLineBeforeTheEnd_RefusesWithLineNumber()
    {
        var start = new DateTimeOffset(2026, 4, 5, 8, 0, 0, TimeSpan.Zero);
        await using (var journal = await RecordJournal.OpenAsync(_journalDirectory, 1 << 20, cancellationToken: Ct))
        {
            await journal.AppendAsync(Batch("damaged", 0, 2, start), Ct);
        }

        var path = Path.Combine(_journalDirectory, RecordJournal.FileName);
        var lines = await File.ReadAllLinesAsync(path, Ct);
        lines[1] = lines[1].Replace("support", "sUpport", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(path, lines, Ct);

        var error = await Assert.ThrowsAsync<RecordJournalCorruptException>(() => RecordJournal.OpenAsync(_journalDirectory, 1 << 20, cancellationToken: Ct));

        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
        Assert.Equal(lines.Length, (await File.ReadAllLinesAsync(path, Ct)).Length);
    }

    [Fact]
    public async Task Append_PastAlarmShareThenPastBound_AlarmsThenRefusesWithoutWriting()
    {
        var logger = new FakeLogger();
        var start = new DateTimeOffset(2026, 4, 6, 8, 0, 0, TimeSpan.Zero);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 16 * 1024, logger, alarmFraction: 0.5, cancellationToken: Ct);

        var b = 0;
        while (!journal.IsNearFull)
        {
            await journal.AppendAsync(Batch("full", b++, 1, start), Ct);
        }

        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Error && r.Message.Contains("near full", StringComparison.Ordinal));
        var sizeBefore = journal.SizeBytes;
        var error = await Assert.ThrowsAsync<RecordJournalFullException>(() => journal.AppendAsync(Batch("full", 99, 40, start), Ct));
        Assert.Contains("is full", error.Message, StringComparison.Ordinal);
        Assert.Equal(sizeBefore, journal.SizeBytes);
        Assert.Equal(sizeBefore, new FileInfo(journal.Path).Length);
    }
}

/// <summary>A record the database refuses for good does not block or lose the rest of the journal.</summary>
public sealed class JournalRejectionTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly string _journalDirectory = Directory.CreateTempSubdirectory("ctibridge-journal-").FullName;

    public void Dispose() => Directory.Delete(_journalDirectory, recursive: true);

    [Fact]
    public async Task Replay_RecordTheDatabaseRefuses_OthersStoredRefusedKeptAside()
    {
        var ct = TestContext.Current.CancellationToken;
        var start = new DateTimeOffset(2026, 4, 7, 8, 0, 0, TimeSpan.Zero);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 1 << 20, cancellationToken: ct);
        var good = Enumerable.Range(0, 5).SelectMany(i => Calls.Answered($"rej-{i}", start.AddMinutes(i), "sales", "a1", 5, 60)).ToList();
        // PostgreSQL text cannot hold a NUL character: refused on every try, not an outage.
        var bad = (CallRecord)Calls.Answered("rej-bad", start.AddMinutes(9), "sales", "a1", 5, 60)[0] with { Caller = "138\0" };
        await journal.AppendAsync([.. good.Take(5), bad, .. good.Skip(5)], ct);
        using var sink = new CallRecordSink(new CallRecordWriter(fixture.Database.DataSource), journal);

        Assert.True(await sink.ReplayAsync(ct));

        Assert.True(journal.IsEmpty);
        Assert.Equal(5, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'rej-%'", ct));
        Assert.Equal(5, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id LIKE 'rej-%'", ct));
        var rejected = await File.ReadAllLinesAsync(journal.RejectedPath, ct);
        Assert.Contains("rej-bad", Assert.Single(rejected), StringComparison.Ordinal);
    }
}
