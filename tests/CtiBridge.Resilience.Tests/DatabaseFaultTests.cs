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

        await CallTraffic.CallInAsync(rig, 16, TimeSpan.FromMilliseconds(150), ct, async n =>
        {
            if (n == 4)
            {
                proxy.Cut();
            }
            else if (n == 12)
            {
                // Calls of the outage ended while the database was away: they are in the journal.
                await CallTraffic.EventuallyAsync(() => File.Exists(JournalPath) && new FileInfo(JournalPath).Length > 0, () => "records to reach the journal while the database is cut", ct);
                proxy.Restore();
            }
        });

        await CallTraffic.AssertSettledAsync(rig, Agents, ct);
        // Replayed while the service runs (the next batch after the database returned), not only at stop.
        await CallTraffic.EventuallyAsync(() => !File.Exists(JournalPath) || new FileInfo(JournalPath).Length == 0, () => "the journal to drain into PostgreSQL", ct);
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

        await CallTraffic.CallInAsync(rig, 16, TimeSpan.FromMilliseconds(150), ct, async n =>
        {
            if (n == 4)
            {
                proxy.Stall();
                answeredBefore = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallAnswered>().Count();
            }
            else if (n == 12)
            {
                // The database hangs, yet calls are still answered: call control does not wait for it.
                await rig.AcdEvents.WaitForAsync<Core.Acd.CallAnswered>(_ => true, "a call answered during the stall", ct, nth: answeredBefore + 2);
                proxy.Restore();
            }
        });

        await CallTraffic.AssertSettledAsync(rig, Agents, ct);
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
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
