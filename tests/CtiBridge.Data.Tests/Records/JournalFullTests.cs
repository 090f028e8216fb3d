using System.Threading.Channels;
using CtiBridge.Data.Records;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CtiBridge.Data.Tests.Records;

/// <summary>
/// The record spool's disk nearly full (a small journal bound) while PostgreSQL is unreachable: the
/// alarm is raised, the writer does not die when the journal is full, and every record reaches the
/// database once it returns (fault suite, docs/reliability.md).
/// </summary>
public sealed class JournalFullTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly string _journalDirectory = Directory.CreateTempSubdirectory("ctibridge-journal-full-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_journalDirectory, recursive: true);

    [Fact]
    public async Task Run_DatabaseCutAndJournalFull_AlarmsHoldsTheRestAndStoresEveryRecordOnceWhenTheDatabaseReturns()
    {
        var db = fixture.Database;
        var logger = new FakeLogger<CallRecordSink>();
        var target = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        await using var proxy = new LoopbackProxy(target.Host!, target.Port);
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3, CommandTimeout = 10 }.ConnectionString);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 16 * 1024, logger, cancellationToken: Ct);
        using var sink = new CallRecordSink(new CallRecordWriter(dataSource), journal, logger);
        var time = new FakeTimeProvider();
        var records = Channel.CreateUnbounded<CallCenterRecord>();
        var start = new DateTimeOffset(2026, 4, 7, 8, 0, 0, TimeSpan.Zero);
        // ≈ 120 calls × 5 records: several times what the 16 KB journal holds.
        var calls = Enumerable.Range(0, 120).SelectMany(i => Calls.Answered($"spool-{i}", start.AddSeconds(i), "support", $"a{i % 5}", 4, 60)).ToList();

        proxy.Cut();
        var run = sink.RunAsync(records.Reader, batchSize: 10, TimeSpan.FromSeconds(5), time, Ct);
        foreach (var record in calls)
        {
            records.Writer.TryWrite(record);
        }

        await UntilAsync(() => logger.Collector.GetSnapshot().Any(r => r.Id.Id == 9118), "the held-in-memory alarm");
        var log = logger.Collector.GetSnapshot();
        Assert.Contains(log, r => r.Level == LogLevel.Error && r.Message.StartsWith("ALARM: record journal", StringComparison.Ordinal));
        Assert.Contains(log, r => r.Level == LogLevel.Critical && r.Message.Contains("is full", StringComparison.Ordinal));
        Assert.True(journal.IsNearFull);
        Assert.True(journal.SizeBytes <= journal.MaxBytes);
        Assert.False(run.IsCompleted, "the writer must keep going when the journal is full, not end");

        // Still down after a retry: nothing changes, nothing is dropped.
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(run.IsCompleted);

        proxy.Restore();
        var back = System.Diagnostics.Stopwatch.StartNew();
        records.Writer.Complete();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!run.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(run, Task.Delay(50, Ct));
        }

        await run;
        ReportRecovery("PostgreSQL down, record journal nearly full (16 KB bound)", back.Elapsed, 120);
        Assert.True(journal.IsEmpty);
        Assert.Equal(120, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'spool-%'", Ct));
        Assert.Equal(120, await db.ScalarAsync<long>("SELECT count(DISTINCT call_id) FROM calls WHERE call_id LIKE 'spool-%'", Ct));
        Assert.Equal(calls.Count(r => r is QueueVisitRecord), await db.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id LIKE 'spool-%'", Ct));
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 9119);
        Assert.False(File.Exists(journal.RejectedPath));
    }

    /// <summary>
    /// The journal's disk really full (writes fail with ENOSPC: the journal file is a link to
    /// <c>/dev/full</c>) long before the journal's own bound, while PostgreSQL is unreachable: the writer
    /// holds the records in memory instead of ending; once the disk has room they are journaled, and once
    /// the database returns every record is stored once. Before, the IOException ended the writer and
    /// every later record was lost.
    /// </summary>
    [Fact]
    public async Task Run_DatabaseCutAndJournalDiskFull_HoldsTheRecords_JournalsThemWhenTheDiskHasRoom_StoresEachOnce()
    {
        Assert.SkipUnless(File.Exists("/dev/full"), "needs /dev/full (Linux)");
        var db = fixture.Database;
        var logger = new FakeLogger<CallRecordSink>();
        var target = new NpgsqlConnectionStringBuilder(db.ConnectionString);
        await using var proxy = new LoopbackProxy(target.Host!, target.Port);
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3, CommandTimeout = 10 }.ConnectionString);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 64 << 20, logger, cancellationToken: Ct);
        File.CreateSymbolicLink(journal.Path, "/dev/full");
        using var sink = new CallRecordSink(new CallRecordWriter(dataSource), journal, logger);
        var time = new FakeTimeProvider();
        var records = Channel.CreateUnbounded<CallCenterRecord>();
        var start = new DateTimeOffset(2026, 4, 7, 8, 0, 0, TimeSpan.Zero);
        var calls = Enumerable.Range(0, 30).SelectMany(i => Calls.Answered($"diskfull-{i}", start.AddSeconds(i), "support", $"a{i % 5}", 4, 60)).ToList();

        proxy.Cut();
        var run = sink.RunAsync(records.Reader, batchSize: 10, TimeSpan.FromSeconds(5), time, Ct);
        foreach (var record in calls)
        {
            records.Writer.TryWrite(record);
        }

        await UntilAsync(() => logger.Collector.GetSnapshot().Any(r => r.Id.Id == 9104), "the disk-full log line");
        await UntilAsync(() => logger.Collector.GetSnapshot().Any(r => r.Id.Id == 9118), "the held-in-memory alarm");
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Level == LogLevel.Critical && r.Message.Contains("could not be written", StringComparison.Ordinal));
        Assert.True(journal.IsEmpty, "nothing may be counted as journaled on a disk that took nothing");
        Assert.False(run.IsCompleted, "the writer must keep going when the journal's disk is full, not end");

        // The disk has room again (the link gone, a real file next time): the held batch and the rest go to the journal.
        File.Delete(journal.Path);
        var room = System.Diagnostics.Stopwatch.StartNew();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (journal.SizeBytes == 0 || records.Reader.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the held records were not journaled once the disk had room");
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(run, Task.Delay(50, Ct));
        }

        var roomAgain = room.Elapsed;

        Assert.False(run.IsCompleted);
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'diskfull-%'", Ct));

        proxy.Restore();
        var back = System.Diagnostics.Stopwatch.StartNew();
        records.Writer.Complete();
        deadline = DateTime.UtcNow.AddSeconds(60);
        while (!run.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(run, Task.Delay(50, Ct));
        }

        await run;
        ReportRecovery($"PostgreSQL down, record journal's disk really full (ENOSPC), then room again ({RecoveryReport.Seconds(roomAgain)} until the held records were journaled)", back.Elapsed, 30);
        Assert.True(journal.IsEmpty);
        Assert.Equal(30, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'diskfull-%'", Ct));
        Assert.Equal(30, await db.ScalarAsync<long>("SELECT count(DISTINCT call_id) FROM calls WHERE call_id LIKE 'diskfull-%'", Ct));
        Assert.Equal(calls.Count(r => r is QueueVisitRecord), await db.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id LIKE 'diskfull-%'", Ct));
        Assert.False(File.Exists(journal.RejectedPath));
    }

    // Time to recover (measured, never asserted): from the database back until every record is stored and the
    // journal is empty (the sink's run ends then). The sink retries a held batch every 5 s; here that interval
    // runs on a fake clock the test advances every 50 ms while it waits, so the time is the sink's work once the
    // database is back: in a deployment the first retry comes up to 5 s after the database returns.
    private static void ReportRecovery(string fault, TimeSpan stored, int calls) =>
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            fault,
            RecoveryReport.Seconds(stored),
            $"from the database back until all {calls} calls' records (held in memory and journaled) are stored and the journal is empty; the sink's 5 s retry on a fake clock advanced every 50 ms, so a deployment adds up to 5 s before the first retry; the record sink alone (no call traffic), batches of 10"));

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Still waiting after 30 s for {what}.");
            await Task.Delay(20, Ct);
        }
    }
}
