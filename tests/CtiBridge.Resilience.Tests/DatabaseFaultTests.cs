using CtiBridge.Data.Records;
using CtiBridge.Service.Configuration;
using CtiBridge.TestSupport;
using Npgsql;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// PostgreSQL unreachable while customers keep calling (the service's database path cut or stalled
/// through a loopback proxy), then back. Call control never waits for the database; the records of
/// the outage are spooled to the journal, replayed when the database answers again, and stored
/// exactly once.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DatabaseFaultTests : IDisposable
{
    private const int AgentCount = 3;
    private readonly string _journalDirectory = Directory.CreateTempSubdirectory("ctibridge-fault-journal-").FullName;

    public void Dispose() => Directory.Delete(_journalDirectory, recursive: true);

    private string JournalPath => Path.Combine(_journalDirectory, RecordJournal.FileName);

    [Fact]
    public async Task DatabaseCutMidTraffic_RecordsSpooledToTheJournal_ReplayedOnceWhenItReturns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var proxy = ProxyTo(database);
        await using var rig = await CallTraffic.StartAsync(database, AgentCount, ct, journalDirectory: _journalDirectory, configureService: s => Through(proxy, s));
        DateTimeOffset cutAt = default, restoredAt = default;
        Task<TimeSpan?> replayed = Task.FromResult<TimeSpan?>(null);

        await CallTraffic.CallInAsync(rig, 16, TimeSpan.FromMilliseconds(150), ct, async n =>
        {
            if (n == 4)
            {
                cutAt = DateTimeOffset.UtcNow;
                proxy.Cut();
            }
            else if (n == 12)
            {
                // Calls of the outage ended while the database was away: they are in the journal.
                await CallTraffic.EventuallyAsync(() => File.Exists(JournalPath) && new FileInfo(JournalPath).Length > 0, () => "records to reach the journal while the database is cut", ct);
                restoredAt = DateTimeOffset.UtcNow;
                proxy.Restore();
                replayed = RecoveryReport.TimeUntilAsync(JournalEmpty, TimeSpan.FromSeconds(30), ct);
            }
        });

        await CallTraffic.AssertSettledAsync(rig, Agents, ct);
        // Replayed while the service runs (the next batch after the database returned), not only at stop.
        await CallTraffic.EventuallyAsync(JournalEmpty, () => "the journal to drain into PostgreSQL", ct);
        ReportJournalReplay(rig, "PostgreSQL cut by proxy", "the proxy lets connections through again", cutAt, restoredAt, await replayed);
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        Assert.False(File.Exists(JournalPath + ".rejected"), "no record may be refused by the database after the replay");
    }

    [Fact]
    public async Task DatabaseStalledMidTraffic_CallsGoOn_RecordsStoredOnceWhenItFlowsAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var proxy = ProxyTo(database);
        await using var rig = await CallTraffic.StartAsync(database, AgentCount, ct, journalDirectory: _journalDirectory, configureService: s => Through(proxy, s));
        var answeredBefore = 0;
        DateTimeOffset stalledAt = default, restoredAt = default;
        var endedBefore = 0;
        Task<TimeSpan?> caughtUp = Task.FromResult<TimeSpan?>(null);

        await CallTraffic.CallInAsync(rig, 16, TimeSpan.FromMilliseconds(150), ct, async n =>
        {
            if (n == 4)
            {
                stalledAt = DateTimeOffset.UtcNow;
                proxy.Stall();
                answeredBefore = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallAnswered>().Count();
            }
            else if (n == 12)
            {
                // The database hangs, yet calls are still answered: call control does not wait for it.
                await rig.AcdEvents.WaitForAsync<Core.Acd.CallAnswered>(_ => true, "a call answered during the stall", ct, nth: answeredBefore + 2);
                endedBefore = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallEnded>().Select(e => e.CallId).Distinct().Count();
                restoredAt = DateTimeOffset.UtcNow;
                proxy.Restore();
                // The test reads PostgreSQL directly, not through the proxy.
                caughtUp = RecoveryReport.TimeUntilAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct) >= endedBefore, TimeSpan.FromSeconds(30), ct);
            }
        });

        await CallTraffic.AssertSettledAsync(rig, Agents, ct);

        // Time to recover (measured, never asserted).
        var during = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallAnswered>().Count(e => e.At >= stalledAt && e.At < restoredAt);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "PostgreSQL stalled",
            RecoveryReport.Seconds(await caughtUp),
            $"from the stall's end until every call that had ended by then ({endedBefore}) is in `calls` (the writes that waited went on); call handling: 0 (calls answered during the {RecoveryReport.Between(stalledAt, restoredAt)} stall: {during}); 16 callers at 150 ms, {AgentCount} agents"));
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
    }

    private bool JournalEmpty() => !File.Exists(JournalPath) || new FileInfo(JournalPath).Length == 0;

    // Time to recover of a database outage (measured, never asserted): call handling did not stop (the calls
    // answered during the outage); the records' side recovers when the journal is replayed and empty.
    internal static void ReportJournalReplay(Service.Tests.CallControl.CallCenterRig rig, string fault, string back, DateTimeOffset downAt, DateTimeOffset backAt, TimeSpan? replayed)
    {
        var during = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallAnswered>().Count(e => e.At >= downAt && e.At < backAt);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            fault,
            RecoveryReport.Seconds(replayed),
            $"from the moment {back} until the record journal is replayed into PostgreSQL and empty; call handling: 0 (calls answered during the {RecoveryReport.Between(downAt, backAt)} outage: {during}); 16 callers at 150 ms, {AgentCount} agents"));
    }

    private static IReadOnlyList<string> Agents => [.. CallTraffic.Agents(AgentCount).Select(a => a.AgentId)];

    private static LoopbackProxy ProxyTo(TestDatabase database)
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        return new LoopbackProxy(builder.Host!, builder.Port);
    }

    // The service reaches PostgreSQL through the proxy, with short timeouts so a stall is noticed within seconds.
    private static void Through(LoopbackProxy proxy, CtiBridgeSettings settings) =>
        settings.Database.ConnectionString = new NpgsqlConnectionStringBuilder(settings.Database.ConnectionString)
        {
            Host = "127.0.0.1",
            Port = proxy.Port,
            Timeout = 3,
            CommandTimeout = 5,
        }.ConnectionString;
}
