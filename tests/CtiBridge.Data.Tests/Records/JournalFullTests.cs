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
        records.Writer.Complete();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!run.IsCompleted && DateTime.UtcNow < deadline)
        {
            time.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(run, Task.Delay(50, Ct));
        }

        await run;
        Assert.True(journal.IsEmpty);
        Assert.Equal(120, await db.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'spool-%'", Ct));
        Assert.Equal(120, await db.ScalarAsync<long>("SELECT count(DISTINCT call_id) FROM calls WHERE call_id LIKE 'spool-%'", Ct));
        Assert.Equal(calls.Count(r => r is QueueVisitRecord), await db.ScalarAsync<long>("SELECT count(*) FROM queue_visits WHERE call_id LIKE 'spool-%'", Ct));
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 9119);
        Assert.False(File.Exists(journal.RejectedPath));
    }

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
