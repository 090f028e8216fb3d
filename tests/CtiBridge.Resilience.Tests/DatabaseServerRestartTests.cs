using CtiBridge.Data.Records;
using CtiBridge.Service.Configuration;
using CtiBridge.TestSupport;
using Npgsql;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The PostgreSQL server itself stopped (<c>pg_ctl stop</c>, cleanly or at once as in a crash) while
/// customers keep calling, then started again: unlike a cut link, every pooled connection dies with
/// the server. The server is a private one of this test (<see cref="PrivatePostgresServer"/>), so the
/// other tests' shared cluster is not touched. Calls go on; the records of the outage are journalled
/// and stored exactly once when the server is back.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DatabaseServerRestartTests : IDisposable
{
    private const int AgentCount = 3;
    private readonly string _journalDirectory = Directory.CreateTempSubdirectory("ctibridge-fault-journal-").FullName;

    public void Dispose() => Directory.Delete(_journalDirectory, recursive: true);

    private string JournalPath => Path.Combine(_journalDirectory, RecordJournal.FileName);

    [Theory]
    [InlineData("fast")]
    [InlineData("immediate")]
    public async Task PostgresServerStoppedAndStartedMidTraffic_CallsGoOn_EveryRecordStoredOnce(string mode)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var server = await PrivatePostgresServer.StartAsync(ct);
        await using var database = await server.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, AgentCount, ct, journalDirectory: _journalDirectory, configureService: ShortTimeouts);
        var answeredBefore = 0;
        DateTimeOffset stoppedAt = default, startedAt = default;
        Task<TimeSpan?> replayed = Task.FromResult<TimeSpan?>(null);

        await CallTraffic.CallInAsync(rig, 16, TimeSpan.FromMilliseconds(150), ct, async n =>
        {
            if (n == 4)
            {
                answeredBefore = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallAnswered>().Count();
                stoppedAt = DateTimeOffset.UtcNow;
                await server.StopAsync(mode, ct);
                Assert.False(await server.AcceptsConnectionsAsync(ct), "the server must be down during the outage");
            }
            else if (n == 12)
            {
                // Calls are answered while the server is down, and the records of those that ended are in the journal.
                await rig.AcdEvents.WaitForAsync<Core.Acd.CallAnswered>(_ => true, "a call answered while PostgreSQL is down", ct, nth: answeredBefore + 2);
                await CallTraffic.EventuallyAsync(() => File.Exists(JournalPath) && new FileInfo(JournalPath).Length > 0, () => "records to reach the journal while PostgreSQL is down", ct);
                await server.StartAgainAsync(ct);
                startedAt = DateTimeOffset.UtcNow;
                replayed = RecoveryReport.TimeUntilAsync(() => !File.Exists(JournalPath) || new FileInfo(JournalPath).Length == 0, TimeSpan.FromSeconds(30), ct);
            }
        });

        await CallTraffic.AssertSettledAsync(rig, Agents, ct);

        // The test's own pooled connections died with the server too.
        database.DataSource.Clear();

        // Replayed while the service runs (a later batch finds the server back), not only at stop.
        await CallTraffic.EventuallyAsync(() => !File.Exists(JournalPath) || new FileInfo(JournalPath).Length == 0, () => "the journal to drain into the restarted PostgreSQL", ct);
        DatabaseFaultTests.ReportJournalReplay(rig, $"PostgreSQL server stopped ({mode})", "the server accepts connections again", stoppedAt, startedAt, await replayed);
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        Assert.False(File.Exists(JournalPath + ".rejected"), "no record may be refused by the database after the replay");
    }

    private static IReadOnlyList<string> Agents => [.. CallTraffic.Agents(AgentCount).Select(a => a.AgentId)];

    // Short timeouts, so a dead server is noticed within seconds rather than the defaults.
    private static void ShortTimeouts(CtiBridgeSettings settings) =>
        settings.Database.ConnectionString = new NpgsqlConnectionStringBuilder(settings.Database.ConnectionString)
        {
            Timeout = 3,
            CommandTimeout = 5,
        }.ConnectionString;
}
