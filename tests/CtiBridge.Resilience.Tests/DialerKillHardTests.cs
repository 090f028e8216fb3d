using System.Net;
using System.Net.Http.Json;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Access;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The active instance killed with SIGKILL while the dialer runs: two <c>ctibridge run</c> processes
/// (HA on, each with its dialer and an agent on a nailed-up line, one campaign) on one PostgreSQL and
/// one PbxSim; the active one is killed while its agent talks to a customer. What is kept: no lead is
/// dialled while an earlier attempt of it may be up, nobody who was put through to an agent is dialled
/// again (the connect is written ahead), every attempt is ended and each lead's attempt count matches
/// its attempts, and the standby's dialer carries the campaign to the end (it also takes the call-control
/// lease within 5 s). The dead instance's heartbeat is aged past the 60 s claim lease in the database
/// (as 60 s later) rather than waited for. Bounded: every wait has a limit, the processes are killed on
/// the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DialerKillHardTests : IAsyncDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private readonly List<ServiceProcess> _processes = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("ctibridge-dialer-kill-").FullName;

    [Fact]
    public async Task ActiveProcessKilledHardWhileDialling_NoLeadDialledTwice_AttemptsReconciled_TheStandbysDialerCarriesOn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        string[] phones = ["1001", "1002"];
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, .. phones.Select(p => new EndpointOptions { Name = p })],
            Sounds = new() { ["acme-abandon"] = 0.3 },
            Dialplan = new() { ["from-trunk"] = new() { ["_X."] = ["Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] } },
        });

        // People talk 1.5 s and hang up; some are busy (retried). The agents' phones answer and stay on the line.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 1.5 };
        foreach (var phone in phones)
        {
            pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(50));
        }

        var campaign = await CampaignAsync(database, leads: 24, ct);
        var active = await StartAsync("a", database, pbx, ct);
        await active.WaitReadyAsync(ct);
        var standby = await StartAsync("b", database, pbx, ct);
        await standby.WaitLiveAsync(ct);
        Assert.False(await standby.IsReadyAsync(ct), "the second process must be a call-control standby while the first holds the lease");

        var token = (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync("dialer-kill-test", ApiRole.Supervisor, null, "test", ct)).Token;
        await JoinAsync(active, token, campaign, "2001", "1001", ct);
        await JoinAsync(standby, token, campaign, "2002", "1002", ct);

        // Both dial. The kill comes while the active instance's agent is put through to a customer.
        var connected = await EventuallyAsync(async () => await database.ScalarAsync<string>(
            $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL AND agent_connected_at IS NOT NULL", ct) is { Length: > 0 } id ? id : null,
            "the active instance's agent to be put through to a customer (written ahead)", ct);
        var holderBefore = await LeaseHolderAsync(database, ct);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        active.KillHard();
        await EventuallyAsync(async () => await LeaseHolderAsync(database, ct) is { } holder && holder != holderBefore ? holder : null, "the standby to take the lease", ct);
        var leaseTaken = watch.Elapsed;
        var openAtKill = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL", ct);
        var standbyBefore = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b'", ct);
        TestContext.Current.SendDiagnosticMessage($"kill -9 with the dialer running: lease taken after {leaseTaken.TotalSeconds:0.00} s; {openAtKill} attempt(s) of the killed instance open; the standby had dialled {standbyBefore}");
        Assert.True(leaseTaken <= TimeSpan.FromSeconds(5), $"the standby took the lease {leaseTaken.TotalSeconds:0.00} s after the kill (goal ≤ 5 s)");

        // The dead instance's agent is still on its phone (nobody controls that line now): the agent hangs up.
        // Its customer hangs up after talking. Then, as 60 s later, its heartbeat is stale: its claims are
        // free and the standby's sweep ends its open attempts whose channels are gone.
        await EventuallyAsync(async () => !(await ChannelIdsAsync(pbx)).Contains(connected) ? "gone" : null, "the customer of the killed instance's conversation to hang up", ct);
        pbx.Phone("1001").Hangup();
        await database.ScalarAsync<long>("WITH aged AS (UPDATE dialer_instances SET heartbeat_at = heartbeat_at - interval '10 minutes' WHERE instance_id = 'kill-a' RETURNING 1) SELECT count(*) FROM aged", ct);

        // The standby's dialer carries the campaign to the end.
        await EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", ct) == 0 ? "yes" : null,
            "every lead to be closed by the standby's dialer", ct);
        Assert.True(await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b'", ct) > standbyBefore,
            "the standby's dialer dialled nothing after the kill");

        // The conversation cut by the kill: ended (a lost reply: its outcome died with the instance), its lead
        // reached, and never dialled again.
        Assert.Equal("LostReply", await database.ScalarAsync<string>($"SELECT outcome FROM dialer_attempts WHERE call_id = '{connected}'", ct));
        Assert.Equal("reached", await database.ScalarAsync<string>($"SELECT l.status FROM dialer_leads l JOIN dialer_attempts a USING (lead_id) WHERE a.call_id = '{connected}'", ct));

        // Every attempt ended; no claim left; each lead's count is its attempts.
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND claimed_by IS NOT NULL", ct));
        Assert.Equal(string.Empty, await database.ScalarAsync<string>($"""
            SELECT coalesce(string_agg(format('lead %s: %s attempts counted, %s stored', l.lead_id, l.attempts, n), '; '), '')
            FROM dialer_leads l CROSS JOIN LATERAL (SELECT count(*) AS n FROM dialer_attempts a WHERE a.lead_id = l.lead_id) a
            WHERE l.campaign_id = '{campaign}' AND l.attempts <> a.n
            """, ct));

        // No lead dialled while an earlier attempt of it was up (open attempts count as up until ended), and
        // nobody who was put through to an agent dialled again.
        Assert.Equal(0L, await database.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id AND y.dialed_at < x.ended_at
            WHERE x.campaign_id = '{campaign}'
            """, ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id
            WHERE x.campaign_id = '{campaign}' AND x.agent_connected_at IS NOT NULL
            """, ct));

        // The standby's own attempts are each one outbound call record once it has stopped.
        using (var leave = await standby.Http(token).DeleteAsync($"/api/campaigns/{campaign}/agents/2002", ct))
        {
            Assert.True(leave.IsSuccessStatusCode, $"leave: {(int)leave.StatusCode}");
        }

        await standby.StopAsync(ct);
        var standbyAttempts = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b'", ct);
        Assert.Equal(standbyAttempts, await database.ScalarAsync<long>(
            $"SELECT count(DISTINCT c.call_id) FROM calls c JOIN dialer_attempts a ON a.call_id = c.call_id WHERE a.campaign_id = '{campaign}' AND a.instance_id = 'kill-b'", ct));
    }

    private static async Task JoinAsync(ServiceProcess process, string token, string campaign, string agent, string phone, CancellationToken ct)
    {
        // The campaign starts on the dialer's next refresh; a join before it runs is refused.
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            using var join = await process.Http(token).PostAsJsonAsync($"/api/campaigns/{campaign}/agents/{agent}", new { endpoint = "PJSIP/" + phone }, ct);
            if (join.StatusCode == HttpStatusCode.Accepted)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"agent {agent} could not join on {process.Name}: {(int)join.StatusCode} {await join.Content.ReadAsStringAsync(ct)}");
            await Task.Delay(100, ct);
        }
    }

    // The channels Asterisk has now, as ARI lists them.
    private static async Task<List<string>> ChannelIdsAsync(PbxSimulator pbx)
    {
        using var ari = new CtiBridge.Asterisk.Ari.AriClient(CtiBridge.Service.Hosting.AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari));
        return [.. (await ari.Channels.ListAsync(TestContext.Current.CancellationToken)).Select(c => c.Id)];
    }

    private static async Task<string> CampaignAsync(TestDatabase db, int leads, CancellationToken ct)
    {
        var id = "kill" + Guid.NewGuid().ToString("N")[..8];
        var definition = CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "powerRatio": 1,
              "callerId": "+18005550100", "callerName": "Acme", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["00:00-24:00"] }, "maxConcurrentLines": 4, "maxAttempts": 3,
              "retrySeconds": { "busy": 1, "noAnswer": 1, "congestion": 1, "machine": 1, "rejected": 1, "abandoned": 1 },
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 15, "wrapUpSeconds": 0.2,
              "defaultTimeZone": "America/New_York" }
            """);
        var store = new CampaignStore(db.DataSource, TimeProvider.System);
        await store.PutAsync(definition, "test", ct);
        var csv = "phone,name\n" + string.Concat(Enumerable.Range(0, leads).Select(i => $"212555{i:D4},Customer {i}\n"));
        var report = await new LeadImporter(db.DataSource, store, TimeProvider.System)
            .ImportAsync(id, new StringReader(csv), new LeadImportOptions { FileName = "kill.csv", ImportedBy = "test" }, ct);
        Assert.Equal(leads, report.Imported);
        await store.SetStateAsync(id, CampaignState.Running, "test", ct);
        return id;
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
            Http = new HttpSettings { Urls = "http://127.0.0.1:0" }, // the process binds a free port and logs it
            Asterisk = [PbxSimSettings.For(pbx)],
            Logging = new LogSettings { Level = "Information" },
            CallControl = new CallControlSettings
            {
                HighAvailability = true,
                Queues = [CallTraffic.Queue(ringSeconds: 10)],
                Agents = [new CallAgentSettings { Id = "2003", Extension = "PJSIP/1003", PinHash = CallCenterRig.PinHash, Queues = ["support"] }],
                Dids = [new DidRouteSettings { Number = "4008001", Queue = "support" }],
                RecordJournalDirectory = Path.Combine(_directory, name + "-journal"),
                Shutdown = new ShutdownSettings { HandBackCalls = false, CallsFinishWithin = TimeSpan.Zero },
            },

            // Each instance its own Stasis app and instance id, as two dialer instances are run (docs/dialer.md).
            Dialer = new DialerSettings
            {
                Enabled = true, Application = "ctibridge-dialer-" + name, InstanceId = "kill-" + name, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.5,
                RecordJournalDirectory = Path.Combine(_directory, name + "-dialer"),
            },
        };
        var path = Path.Combine(_directory, name + ".json");
        await File.WriteAllTextAsync(path, ConfigurationFile.Json(settings), ct);
        var process = ServiceProcess.Start(name, path, port: 0);
        _processes.Add(process);
        return process;
    }

    private async Task<T> EventuallyAsync<T>(Func<Task<T?>> value, string what, CancellationToken ct)
        where T : class
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            if (await value() is { } found)
            {
                return found;
            }

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
