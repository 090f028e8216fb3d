using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Hosting;

/// <summary>The service keeps the record partitions ahead of the clock, daily.</summary>
public sealed class RecordMaintenanceTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private CtiBridge.PbxSim.PbxSimulator _pbx = null!;

    public async ValueTask InitializeAsync()
    {
        _database = await PostgresServer.CreateEmptyDatabaseAsync(TestContext.Current.CancellationToken);
        _pbx = await PbxSimSettings.StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _pbx.DisposeAsync();
        await _database.DisposeAsync();
    }

    private Task<long> PartitionsOfCallsAsync(string month) =>
        _database.ScalarAsync<long>($"SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'calls' AND c.relname = 'calls_p{month}'", TestContext.Current.CancellationToken);

    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, int seconds = 20)
    {
        // Bounded: the migration and one maintenance run take well under a second on loopback.
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        return true;
    }

    [Fact]
    public async Task Start_ClockYearsAhead_CreatesThatMonthsPartitionsThenNextDaysRunKeepsAhead()
    {
        // The migration creates partitions around the real date; a clock in 2031 needs new ones.
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 5, 31, 12, 0, 0, TimeSpan.Zero));
        var settings = new CtiBridgeSettings
        {
            Database = new DatabaseSettings { ConnectionString = _database.ConnectionString },
            Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
            Asterisk = [PbxSimSettings.For(_pbx)],
            Logging = new LogSettings { Level = "Warning" },
        };
        await using var app = CtiBridgeHost.Build(settings, clock);
        await app.StartAsync(TestContext.Current.CancellationToken);

        await WaitUntilAsync(async () => await PartitionsOfCallsAsync("203108") > 0);
        var augustAtStart = await PartitionsOfCallsAsync("203108");
        var septemberAtStart = await PartitionsOfCallsAsync("203109");
        // The service arms its daily delay just after the first run; a day advanced before that
        // moment would be missed, so advance a day at a time until the next run has happened.
        for (var day = 0; day < 10; day++)
        {
            clock.Advance(RecordMaintenanceService.Interval);
            if (await WaitUntilAsync(async () => await PartitionsOfCallsAsync("203109") > 0, seconds: 2))
            {
                break;
            }
        }

        Assert.Equal(1, augustAtStart);
        Assert.Equal(0, septemberAtStart);
        Assert.Equal(1, await PartitionsOfCallsAsync("203109"));
        await app.StopAsync(TestContext.Current.CancellationToken);
    }
}
