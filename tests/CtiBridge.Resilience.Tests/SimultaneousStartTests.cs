using CtiBridge.PbxSim;
using CtiBridge.Service.Cli;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Two <c>ctibridge run</c> processes of one HA set-up started at the same moment on a fresh database (issues
/// 11/14): both used to insert the callback scheduler's Quartz lock rows (<c>qrtz_locks</c>) inside Quartz's lock
/// transaction, the loser's duplicate key aborted it (<c>Failure obtaining db row lock: 25P02</c>) and that
/// process stopped, with exit code 0. Now the rows are created beforehand by a statement that cannot conflict,
/// and a part that fails stops the process with a non-zero exit code and says why. Bounded: three rounds, every
/// wait limited, the processes killed on the way out.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class SimultaneousStartTests
{
    private const int Rounds = 3;

    [Fact]
    public async Task TwoInstancesStartedAtOnceOnAFreshDatabase_BothComeUp_OneActiveOneStandby()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions());
        for (var round = 1; round <= Rounds; round++)
        {
            await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
            Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM qrtz_locks", ct)); // fresh: nobody has made them yet
            await using var instances = new HaProcesses("ctibridge-twostart-", TimeSpan.FromSeconds(90));
            var starts = new[] { "a", "b" }.Select(name => instances.StartAsync(name, instances.Settings(name, database, pbx, [("2001", "1001")]), ct)).ToList();
            var processes = await Task.WhenAll(starts);
            await Task.WhenAll(processes.Select(p => p.WaitLiveAsync(ct)));

            // Both callback schedulers have started (each logs it once Quartz took its locks), and neither process stopped.
            await instances.EventuallyAsync(
                () => Task.FromResult(processes.All(p => p.Output.Contains("Callback scheduler", StringComparison.Ordinal) && p.Output.Contains("started (Quartz", StringComparison.Ordinal))),
                $"round {round}: both callback schedulers started", ct);
            var ready = await instances.EventuallyAsync(async () =>
            {
                var states = await Task.WhenAll(processes.Select(p => p.IsReadyAsync(ct)));
                return states.Count(r => r) == 1 ? states : null;
            }, $"round {round}: exactly one instance ready (active), the other a standby", ct);
            Assert.All(processes, p => Assert.False(p.HasExited, $"round {round}: {p.Name} stopped: {p.Output}"));
            Assert.DoesNotContain("Failure obtaining db row lock", instances.Output, StringComparison.Ordinal);
            Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM qrtz_locks", ct));
            Assert.Single(ready, r => r);
        }
    }

    [Fact]
    public async Task APartFailingAtStart_StopsTheProcessWithANonZeroExitCode_AndSaysWhy()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions());
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using (var drop = database.DataSource.CreateCommand("DROP TABLE qrtz_locks"))
        {
            await drop.ExecuteNonQueryAsync(ct); // the callback scheduler cannot start without its lock table
        }

        await using var instances = new HaProcesses("ctibridge-failstart-", TimeSpan.FromSeconds(90));
        var process = await instances.StartAsync("a", instances.Settings("a", database, pbx, [("2001", "1001")]), ct);
        var exitCode = await process.WaitForExitAsync(ct);

        Assert.True(exitCode == RunCommand.FailedExitCode, $"exit code {exitCode}, expected {RunCommand.FailedExitCode}: {process.Output}");
        var output = process.Output;
        Assert.True(output.Contains("ctibridge: stopped because CallbackSchedulerService failed", StringComparison.Ordinal) && output.Contains("qrtz_locks", StringComparison.Ordinal),
            $"the reason is not said: {output}");
    }
}
