using System.Diagnostics;
using System.Net.Http.Json;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// High availability with real processes: two <c>ctibridge run</c> processes on one PostgreSQL and
/// one PbxSim, the active one killed with SIGKILL (<c>kill -9</c>) while two callers talk and three
/// wait. The standby takes the lease within 5 s, adopts the five calls and serves them to the end;
/// each call is stored exactly once. Bounded: every wait has a limit, the processes are killed on
/// the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class KillHardTests : IAsyncDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly List<ServiceProcess> _processes = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("ctibridge-kill-").FullName;

    [Fact]
    public async Task ActiveProcessKilledHard_StandbyTakesTheLeaseWithin5s_AdoptsTheCalls_EachStoredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Dialplan = new() { ["from-trunk"] = new() { ["_X."] = ["Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] } },
        });
        string[] agents = ["2001", "2002"];
        foreach (var phone in new[] { "1001", "1002" })
        {
            pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(100)); // and talks until the test hangs up
        }

        var active = await StartAsync("a", database, pbx, ct);
        await active.WaitReadyAsync(ct);
        var standby = await StartAsync("b", database, pbx, ct);
        await standby.WaitLiveAsync(ct);
        Assert.False(await standby.IsReadyAsync(ct), "the second process must be a standby while the first holds the lease");

        var token = (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync("kill-test", ApiRole.Supervisor, null, "test", ct)).Token;
        foreach (var agent in agents)
        {
            using var login = await active.Http(token).PostAsJsonAsync($"/api/agents/{agent}/login", new { pin = CallCenterRig.Pin }, ct);
            Assert.True(login.IsSuccessStatusCode, $"login of {agent}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync(ct)}");
        }

        var trunk = pbx.Trunk("carrier");
        for (var i = 1; i <= 5; i++)
        {
            trunk.CallIn("4008001", $"55500{i:00}", $"Caller {i}");
        }

        // The active process has stored the five calls' live state (two talking): what the standby adopts.
        await EventuallyAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct) == 5
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_calls WHERE agent_id IS NOT NULL", ct) == 2, "5 live calls, 2 talking, in PostgreSQL", ct);
        var holderBefore = await LeaseHolderAsync(database, ct);
        Assert.NotNull(holderBefore);

        var watch = Stopwatch.StartNew();
        active.KillHard();
        await EventuallyAsync(async () => await LeaseHolderAsync(database, ct) is { } holder && holder != holderBefore, "the standby to take the lease", ct);
        var leaseTaken = watch.Elapsed;
        await standby.WaitReadyAsync(ct);
        var serving = watch.Elapsed;
        TestContext.Current.SendDiagnosticMessage($"kill -9: lease taken after {leaseTaken.TotalSeconds:0.00} s, standby ready after {serving.TotalSeconds:0.00} s");
        Assert.True(leaseTaken <= TimeSpan.FromSeconds(5), $"the standby took the lease {leaseTaken.TotalSeconds:0.00} s after the kill (goal ≤ 5 s)");

        // Every caller is still up (adopted, not lost); the two conversations end, the three waiting are served.
        // (Ready means the standby has adopted the calls: a conversation bridged at the kill goes on and is hung up
        // here; an agent leg not yet bridged was hung up by the standby, which rings the agent again.)
        Assert.Equal(5, pbx.ChannelNames.Count(n => n.StartsWith("PJSIP/carrier-", StringComparison.Ordinal)));
        foreach (var phone in new[] { "1001", "1002" })
        {
            pbx.Phone(phone).AnswersLikeAPerson(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400));
            try
            {
                pbx.Phone(phone).Hangup();
            }
            catch (InvalidOperationException)
            {
                // No call on the phone at this moment (its leg was hung up, the new ring not placed yet).
            }
        }

        await EventuallyAsync(() => Task.FromResult(pbx.ChannelNames.Count == 0), $"every call to end (still up: {string.Join(", ", pbx.ChannelNames)})", ct);
        await standby.StopAsync(ct);

        Assert.Equal(5L, await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct));
        Assert.Equal(5L, await database.ScalarAsync<long>("SELECT count(DISTINCT call_id) FROM calls", ct));
        Assert.Equal(5L, await database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE disposition = 'answered'", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls c WHERE NOT EXISTS (SELECT 1 FROM queue_visits v WHERE v.call_id = c.call_id)", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    // The lock connections are named ctibridge-lease:<instance> (docs/high-availability.md).
    private static async Task<string?> LeaseHolderAsync(TestDatabase database, CancellationToken ct) =>
        await database.ScalarAsync<string>(
            "SELECT coalesce(min(application_name), '') FROM pg_stat_activity WHERE application_name LIKE 'ctibridge-lease:%' AND datname = current_database()", ct) is { Length: > 0 } name
            ? name
            : null;

    private async Task<ServiceProcess> StartAsync(string name, TestDatabase database, PbxSimulator pbx, CancellationToken ct)
    {
        var settings = new CtiBridgeSettings
        {
            Database = new DatabaseSettings { ConnectionString = database.ConnectionString, MigrateOnStart = false },
            Http = new HttpSettings { Urls = "http://127.0.0.1:0" }, // the process binds a free port and logs it: no port race with other tests
            Asterisk = [PbxSimSettings.For(pbx)],
            Logging = new LogSettings { Level = "Information" }, // a failure prints the processes' output: rings with their leg names, adoption
            CallControl = new CallControlSettings
            {
                HighAvailability = true,
                Queues = [CallTraffic.Queue(ringSeconds: 10)],
                Agents = [.. new[] { ("2001", "1001"), ("2002", "1002") }.Select(a => new CallAgentSettings { Id = a.Item1, Extension = "PJSIP/" + a.Item2, PinHash = CallCenterRig.PinHash, Queues = ["support"] })],
                Dids = [new DidRouteSettings { Number = "4008001", Queue = "support" }],
                RecordJournalDirectory = Path.Combine(_directory, name + "-journal"),
                ExternalEndpoint = "PJSIP/carrier/{number}",

                // With a standby, calls are left for it to adopt rather than handed back to the dialplan.
                Shutdown = new ShutdownSettings { HandBackCalls = false, CallsFinishWithin = TimeSpan.Zero },
            },
        };
        var path = Path.Combine(_directory, name + ".json");
        await File.WriteAllTextAsync(path, ConfigurationFile.Json(settings), ct);
        var process = ServiceProcess.Start(name, path, port: 0);
        _processes.Add(process);
        return process;
    }

    private async Task EventuallyAsync(Func<Task<bool>> condition, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Still not true after {Bound.TotalSeconds} s: {what}. Process output:\n{string.Join("\n", _processes.Select(p => p.Output))}");
            }

            await Task.Delay(50, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        await Task.Yield();
        Directory.Delete(_directory, recursive: true);
    }
}
