using CtiBridge.PbxSim;
using CtiBridge.Service.Cli;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// An active <c>ctibridge run</c> process whose call-control lease is lost (its lock session ended by the database)
/// stops with exit code 4, not 0: the shipped unit restarts only on failure (<c>Restart=on-failure</c>), so an exit 0
/// left the instance down and the HA pair without a standby (found 2026-12-01). The unit must not list 4 among the
/// codes it does not restart.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class LeaseLostExitTests
{
    [Fact]
    public async Task TheActiveLosesItsLease_ItStopsWithTheLeaseLostExitCode_WhichTheUnitRestarts()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions());
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var instances = new HaProcesses("ctibridge-leaselost-", TimeSpan.FromSeconds(90));
        var process = await instances.StartAsync("a", instances.Settings("a", database, pbx, [("2001", "1001")]), ct);
        await process.WaitReadyAsync(ct); // ready = active: it holds the lease

        var holder = await HaProcesses.LeaseHolderAsync(database, ct);
        Assert.NotNull(holder);
        Assert.Equal(1L, await database.ScalarAsync<long>(
            $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{holder}' AND datname = current_database()", ct));
        var exitCode = await process.WaitForExitAsync(ct);

        Assert.True(exitCode == RunCommand.LeaseLostExitCode, $"exit code {exitCode}, expected {RunCommand.LeaseLostExitCode}: {process.Output}");
        Assert.Contains("Call control lease lost", process.Output, StringComparison.Ordinal);

        var unit = await File.ReadAllLinesAsync(Path.Combine(RepositoryPaths.Root, "packaging", "ctibridge.service"), ct);
        Assert.Contains("Restart=on-failure", unit);
        var notRestarted = unit.Where(l => l.StartsWith("RestartPreventExitStatus=", StringComparison.Ordinal))
            .SelectMany(l => l["RestartPreventExitStatus=".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.DoesNotContain(RunCommand.LeaseLostExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture), notRestarted);
    }
}
