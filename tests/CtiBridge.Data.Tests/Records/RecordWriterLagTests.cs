using CtiBridge.Data.Records;
using CtiBridge.TestSupport;
using Npgsql;

namespace CtiBridge.Data.Tests.Records;

/// <summary>The writer lag behind <c>ctibridge_record_writer_lag_seconds</c>: records pending until they are in PostgreSQL.</summary>
public sealed class RecordWriterLagTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly string _journalDirectory = Directory.CreateTempSubdirectory("ctibridge-lag-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_journalDirectory, recursive: true);

    private static List<CallCenterRecord> Batch(string prefix, int calls, DateTimeOffset start) =>
        Enumerable.Range(0, calls).SelectMany(i => Calls.Answered($"{prefix}-{i}", start.AddSeconds(i), "support", "a1", 4, 40)).ToList();

    private static void HandOver(RecordWriterLag lag, IEnumerable<CallCenterRecord> records, DateTimeOffset at)
    {
        foreach (var _ in records)
        {
            lag.Arrived(at);
        }
    }

    [Fact]
    public async Task Lag_DatabaseCutThenRestored_OldestJournaledRecordAgesUntilReplayed()
    {
        var builder = new NpgsqlConnectionStringBuilder(fixture.Database.ConnectionString);
        await using var proxy = new LoopbackProxy(builder.Host!, builder.Port);
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.Database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3, CommandTimeout = 10 }.ConnectionString);
        await using var journal = await RecordJournal.OpenAsync(_journalDirectory, 64 << 20, cancellationToken: Ct);
        var lag = new RecordWriterLag();
        using var sink = new CallRecordSink(new CallRecordWriter(dataSource), journal, lag: lag);
        var t0 = new DateTimeOffset(2026, 5, 1, 8, 0, 0, TimeSpan.Zero);

        var stored = Batch("lag-a", 10, t0);
        HandOver(lag, stored, t0);
        Assert.Equal(stored.Count, lag.Pending);
        Assert.Equal(TimeSpan.FromSeconds(3), lag.Age(t0.AddSeconds(3)));
        Assert.Equal(RecordBatchOutcome.Stored, await sink.WriteAsync(stored, Ct));
        Assert.Equal(0, lag.Pending);
        Assert.Equal(TimeSpan.Zero, lag.Age(t0.AddSeconds(3)));

        proxy.Cut();
        var first = Batch("lag-b", 10, t0.AddMinutes(1));
        var second = Batch("lag-c", 5, t0.AddMinutes(2));
        HandOver(lag, first, t0.AddMinutes(1));
        Assert.Equal(RecordBatchOutcome.Journaled, await sink.WriteAsync(first, Ct));
        HandOver(lag, second, t0.AddMinutes(2));
        Assert.Equal(RecordBatchOutcome.Journaled, await sink.WriteAsync(second, Ct));
        Assert.Equal(first.Count + second.Count, lag.Pending);
        Assert.Equal(TimeSpan.FromMinutes(4), lag.Age(t0.AddMinutes(5))); // the oldest journaled record, not the newest

        Assert.False(await sink.ReplayAsync(Ct));
        Assert.Equal(first.Count + second.Count, lag.Pending);

        proxy.Restore();
        Assert.True(await sink.ReplayAsync(Ct));
        Assert.Equal(0, lag.Pending);
        Assert.Null(lag.OldestArrival);
        Assert.Equal(25, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE call_id LIKE 'lag-%'", Ct));
    }

    [Fact]
    public void Done_PartOfARun_KeepsTheRestWithTheirArrival()
    {
        var lag = new RecordWriterLag();
        var t0 = new DateTimeOffset(2026, 5, 1, 8, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 3; i++)
        {
            lag.Arrived(t0);
        }

        lag.Arrived(t0.AddSeconds(10));
        lag.Arrived(t0.AddSeconds(10));

        lag.Done(2);
        Assert.Equal(3, lag.Pending);
        Assert.Equal(t0, lag.OldestArrival);
        lag.Done(1);
        Assert.Equal(t0.AddSeconds(10), lag.OldestArrival);
        lag.Done(5); // more than pending (an earlier run's journal replayed): empties, never negative
        Assert.Equal(0, lag.Pending);
        Assert.Null(lag.OldestArrival);
        lag.Arrived(t0.AddSeconds(20));
        Assert.Equal(1, lag.Pending);
        Assert.Equal(t0.AddSeconds(20), lag.OldestArrival);
    }
}
