using System.Diagnostics;
using System.Net.Http.Json;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.HighAvailability;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Servers split between instances (docs/sites.md) under a real <c>kill -9</c>: three <c>ctibridge run</c>
/// processes on one PostgreSQL and two PbxSims: One controls site-a, Two site-b, and a third waits as site-b's
/// standby. A caller talks on each site when Two is killed with SIGKILL. The standby takes site-b over (lease,
/// agents, the adopted call) while One keeps site-a's lease and serves a new caller during the takeover; a new
/// caller on site-b is served by the standby. Each call is stored exactly once, on its server. Bounded: every
/// wait has a limit, the processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class SplitKillHardTests
{
    [Fact]
    public async Task OnePartsActiveKilledHard_ItsStandbyTakesThatPartOver_TheOtherPartServesOn_EachCallStoredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var a = await PbxSimSettings.StartAsync(TwoSites.PbxOptions(TwoSites.SiteA));
        await using var b = await PbxSimSettings.StartAsync(TwoSites.PbxOptions(TwoSites.SiteB));
        await using var processes = new HaProcesses("ctibridge-split-kill-", TimeSpan.FromSeconds(120)); // disposed first (kills what still runs); three processes start: a loaded machine needs the longer bound
        foreach (var sim in new[] { a, b })
        {
            sim.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100)); // and talks until the test hangs up
            sim.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
        }

        // One after the other, as KillHardTests does: two instances starting at once on a fresh database can race
        // for Quartz's lock rows (noted in docs/reliability.md).
        var one = await processes.StartAsync("one", Settings(processes, "one", TwoSites.SiteA, database, a, b), ct);
        await one.WaitReadyAsync(ct);
        var two = await processes.StartAsync("two", Settings(processes, "two", TwoSites.SiteB, database, a, b), ct);
        await two.WaitReadyAsync(ct);
        var standby = await processes.StartAsync("two-standby", Settings(processes, "two-standby", TwoSites.SiteB, database, a, b), ct);
        await standby.WaitLiveAsync(ct);
        Assert.False(await standby.IsReadyAsync(ct), "site-b's second process must be its standby while Two holds the lease");
        var holderA = await CallControlLease.HolderAsync(database.DataSource, TwoSites.SiteA, ct);
        var holderB = await CallControlLease.HolderAsync(database.DataSource, TwoSites.SiteB, ct);
        Assert.NotNull(holderA);
        Assert.NotNull(holderB);
        Assert.NotEqual(holderA, holderB);

        var token = (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync("split-kill", ApiRole.Supervisor, null, "test", ct)).Token;
        foreach (var (process, agent) in new[] { (one, "a1"), (one, "a2"), (two, "b1"), (two, "b2") })
        {
            using var login = await process.Http(token).PostAsJsonAsync($"/api/agents/{agent}/login", new { pin = CallCenterRig.Pin }, ct);
            Assert.True(login.IsSuccessStatusCode, $"login of {agent}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync(ct)}");
        }

        // One caller talking on each site, in the live state both parts keep (what B's standby adopts).
        var callers = new List<(PbxSimulator Sim, string Channel)> { (a, a.Trunk("carrier").CallIn("4008001", "5550001", "Caller A1")), (b, b.Trunk("carrier").CallIn("4008001", "5550002", "Caller B1")) };
        await processes.EventuallyAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_calls WHERE answered_at IS NOT NULL", ct) == 2
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_agents", ct) == 4, "a caller talking on each site and the four agents in the live state", ct);

        var watch = Stopwatch.StartNew();
        two.KillHard();

        // From the kill on, measured side by side: One answering a new caller on site-a (a2) while site-b is taken over
        // (One untouched), the standby taking site-b's lease, and it being ready (the calls and agents adopted).
        callers.Add((a, a.Trunk("carrier").CallIn("4008001", "5550003", "Caller A2")));
        var oneServes = Task.Run(async () =>
        {
            await processes.EventuallyAsync(async () => await AnsweredAsync(database, "5550003", ct), "One to answer a new caller on site-a during site-b's takeover", ct);
            return watch.Elapsed;
        }, ct);
        var leaseTakes = Task.Run(async () =>
        {
            await processes.EventuallyAsync(async () => await CallControlLease.HolderAsync(database.DataSource, TwoSites.SiteB, ct) is { } holder && holder != holderB, "the standby to take site-b's lease", ct);
            return watch.Elapsed;
        }, ct);
        var readies = Task.Run(async () =>
        {
            await standby.WaitReadyAsync(ct);
            return watch.Elapsed;
        }, ct);

        // Serving again on site-b: from the kill on, a new caller every 250 ms until one is queued there (a caller the
        // dialplan finds no Stasis app for is hung up by it), then answered by b2, restored Ready on the standby. Callers
        // who reach the app while the standby still adopts are queued when it is done: the first of them is the one b2 answers.
        string? queued = null;
        for (var i = 0; i < 60 && queued is null; i++)
        {
            callers.Add((b, b.Trunk("carrier").CallIn("4008001", $"55591{i:00}", "Caller B" + i)));
            await Task.Delay(250, ct);
            queued = await database.ScalarAsync<string>("SELECT coalesce(min(caller_number), '') FROM live_calls WHERE caller_number LIKE '55591%'", ct) is { Length: > 0 } first ? first : null;
        }

        Assert.NotNull(queued);
        var servingAgain = watch.Elapsed;
        var oneServed = await oneServes;
        var leaseTaken = await leaseTakes;
        var ready = await readies;
        var answered = await processes.EventuallyAsync(
            async () => await database.ScalarAsync<string>("SELECT coalesce(min(caller_number), '') FROM live_calls WHERE caller_number LIKE '55591%' AND answered_at IS NOT NULL", ct) is { Length: > 0 } taken ? taken : null,
            "the standby to answer a new caller on site-b", ct);
        var answeredB = watch.Elapsed;
        var timings =
            $"split kill -9 of site-b's active: site-a's new caller answered by One at {oneServed.TotalSeconds:0.00} s; site-b lease taken at {leaseTaken.TotalSeconds:0.00} s, "
            + $"standby ready (adopted) at {ready.TotalSeconds:0.00} s, a new caller on site-b queued by {servingAgain.TotalSeconds:0.00} s and answered at {answeredB.TotalSeconds:0.00} s";
        TestContext.Current.SendDiagnosticMessage(timings);

        // scripts/measure-takeover.sh collects the runs' timings in this file (docs/reliability.md).
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_TAKEOVER_OUT") is { Length: > 0 } file)
        {
            await File.AppendAllTextAsync(file, timings + "\n", ct);
        }
        Assert.True(leaseTaken <= TimeSpan.FromSeconds(5), $"site-b's standby took the lease {leaseTaken.TotalSeconds:0.00} s after the kill (goal ≤ 5 s)");
        Assert.Equal(holderA, await CallControlLease.HolderAsync(database.DataSource, TwoSites.SiteA, ct));
        Assert.True(await one.IsReadyAsync(ct), "One must stay ready through site-b's takeover");

        // Both first callers are still up: site-a's never left One, site-b's was adopted by the standby.
        Assert.Contains(a.ChannelNames, n => n == callers[0].Channel);
        Assert.Contains(b.ChannelNames, n => n == callers[1].Channel);
        Assert.Equal("b1", await database.ScalarAsync<string>("SELECT agent_id FROM live_calls WHERE caller_number = '5550002'", ct));

        foreach (var (sim, channel) in callers.Where(c => c.Sim.ChannelNames.Contains(c.Channel)))
        {
            sim.Trunk("carrier").HangUp(channel);
        }

        await processes.EventuallyAsync(() => Task.FromResult(a.ChannelNames.Count == 0 && b.ChannelNames.Count == 0),
            $"every call to end (still up: {string.Join(", ", a.ChannelNames.Concat(b.ChannelNames))})", ct);
        await standby.StopAsync(ct);
        await one.StopAsync(ct);

        // Each call that entered a queue is stored once, on its own server: the first callers and the new ones answered.
        // (The loop's other site-b callers who reached the app are stored too, each once: only they may be there besides these.)
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM (SELECT caller FROM calls GROUP BY caller HAVING count(*) > 1) twice", ct));
        Assert.Equal(
            $"{TwoSites.SiteA}:5550001:answered|{TwoSites.SiteA}:5550003:answered|{TwoSites.SiteB}:5550002:answered|{TwoSites.SiteB}:{answered}:answered",
            await database.ScalarAsync<string>(
                "SELECT string_agg(asterisk_server || ':' || caller || ':' || disposition, '|' ORDER BY asterisk_server, caller) FROM calls "
                + $"WHERE caller IN ('5550001', '5550002', '5550003', '{answered}')", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE caller NOT IN ('5550001', '5550002', '5550003') AND (caller NOT LIKE '55591%' OR asterisk_server <> 'site-b')", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls c WHERE NOT EXISTS (SELECT 1 FROM queue_visits v WHERE v.call_id = c.call_id)", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    private static async Task<bool> AnsweredAsync(TestDatabase database, string number, CancellationToken ct) =>
        await database.ScalarAsync<long>($"SELECT count(*) FROM live_calls WHERE caller_number = '{number}' AND answered_at IS NOT NULL", ct) > 0;

    private static CtiBridgeSettings Settings(HaProcesses processes, string name, string server, TestDatabase database, PbxSimulator a, PbxSimulator b)
    {
        var settings = new CtiBridgeSettings
        {
            Database = new DatabaseSettings { ConnectionString = database.ConnectionString, MigrateOnStart = false },
            Http = new HttpSettings { Urls = "http://127.0.0.1:0" }, // the process binds a free port and logs it
            Asterisk = [PbxSimSettings.For(a, TwoSites.SiteA), PbxSimSettings.For(b, TwoSites.SiteB)],
            Logging = new LogSettings { Level = "Information" },
            CallControl = new CallControlSettings
            {
                Servers = [server],
                HighAvailability = true,
                Queues = [new CallQueueSettings { Name = "local", WrapUp = TimeSpan.Zero }],
                Agents = [TwoSites.Agent("a1", "1001", TwoSites.SiteA, "local"), TwoSites.Agent("a2", "1002", TwoSites.SiteA, "local"),
                          TwoSites.Agent("b1", "1001", TwoSites.SiteB, "local"), TwoSites.Agent("b2", "1002", TwoSites.SiteB, "local")],
                Dids = [new DidRouteSettings { Number = "4008001", Queue = "local" }],
                RecordJournalDirectory = processes.JournalDirectory(name),
                ExternalEndpoint = "PJSIP/carrier/{number}",

                // With a standby, calls are left for it to adopt rather than handed back to the dialplan.
                Shutdown = new ShutdownSettings { HandBackCalls = false, CallsFinishWithin = TimeSpan.Zero },
            },
        };
        settings.Callbacks.AbandonedMinimumWait = TimeSpan.FromHours(1); // no callback for a caller the dialplan hung up
        return settings;
    }
}
