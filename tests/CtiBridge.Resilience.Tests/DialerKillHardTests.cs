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
/// lease within 5 s). The dead instance's attempts are swept only once its heartbeat is older than the
/// 60 s claim lease (the test waits for that, about a minute), and each attempt is one <c>calls</c> row,
/// the cut ones <c>system_lost</c>. Bounded: every wait has a limit, the processes are killed on the way
/// out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DialerKillHardTests : IAsyncDisposable
{
    private readonly HaProcesses _instances = new("ctibridge-dialer-kill-", TimeSpan.FromSeconds(120));

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
        var connected = await _instances.EventuallyAsync(async () => await database.ScalarAsync<string>(
            $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL AND agent_connected_at IS NOT NULL", ct) is { Length: > 0 } id ? id : null,
            "the active instance's agent to be put through to a customer (written ahead)", ct);
        var holderBefore = await HaProcesses.LeaseHolderAsync(database, ct);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        active.KillHard();
        await _instances.EventuallyAsync(async () => await HaProcesses.LeaseHolderAsync(database, ct) is { } holder && holder != holderBefore ? holder : null, "the standby to take the lease", ct);
        var leaseTaken = watch.Elapsed;
        var openAtKill = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL", ct);
        var cutByTheKill = await database.ScalarAsync<string>($"SELECT string_agg(call_id, ',') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL", ct);
        var standbyBefore = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b'", ct);
        TestContext.Current.SendDiagnosticMessage($"kill -9 with the dialer running: lease taken after {leaseTaken.TotalSeconds:0.00} s; {openAtKill} attempt(s) of the killed instance open; the standby had dialled {standbyBefore}");
        Assert.True(leaseTaken <= TimeSpan.FromSeconds(5), $"the standby took the lease {leaseTaken.TotalSeconds:0.00} s after the kill (goal ≤ 5 s)");

        // The dead instance's agent is still on its phone (nobody controls that line now): the agent hangs up.
        // Its customer hangs up after talking. Once the killed instance's last heartbeat is older than the
        // claim lease (60 s: waited for, not faked), its claims are free and the standby's sweep (with each of
        // its heartbeats, every 20 s) ends its open attempts whose channels are gone.
        await _instances.EventuallyAsync(async () => !(await ChannelIdsAsync(pbx)).Contains(connected) ? "gone" : null, "the customer of the killed instance's conversation to hang up", ct);
        pbx.Phone("1001").Hangup();
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>(
            $"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL", ct) == 0 ? "yes" : null,
            "the standby's sweep to end the killed instance's open attempts once its heartbeat is 60 s old", ct);
        var swept = watch.Elapsed;
        var sweptAfterHeartbeat = await database.ScalarAsync<double>(
            $"SELECT extract(epoch FROM a.ended_at - i.heartbeat_at)::float8 FROM dialer_attempts a, dialer_instances i WHERE a.call_id = '{connected}' AND i.instance_id = 'kill-a'", ct);
        TestContext.Current.SendDiagnosticMessage($"the killed instance's open attempts were ended {swept.TotalSeconds:0.0} s after the kill, {sweptAfterHeartbeat:0.0} s after its last heartbeat");
        Assert.True(sweptAfterHeartbeat >= LeadHopper.ClaimLease.TotalSeconds, $"the sweep ended the killed instance's attempt {sweptAfterHeartbeat:0.0} s after its last heartbeat, before the {LeadHopper.ClaimLease.TotalSeconds} s claim lease ran out");

        // The standby's dialer carries the campaign to the end.
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", ct) == 0 ? "yes" : null,
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

        // The killed instance's attempts cut by the kill (ended by the standby's sweep as lost replies) are
        // each one outbound call record too, written by that sweep: system_lost, released by the system;
        // the conversation with the agent it was put through to.
        var cut = $"string_to_array('{cutByTheKill}', ',')";
        Assert.Equal(openAtKill, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM dialer_attempts WHERE call_id = ANY({cut}) AND outcome = 'LostReply'", ct));
        Assert.Equal(openAtKill, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM calls WHERE call_id = ANY({cut}) AND disposition = 'system_lost' AND released_by = 'system' AND direction = 'outbound'", ct));
        Assert.Equal(openAtKill, await database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = ANY({cut})", ct));
        Assert.Equal($"system_lost 2001 {campaign} lead", await database.ScalarAsync<string>(
            $"SELECT format('%s %s %s %s', disposition, agent_id, campaign_id, CASE WHEN lead_id IS NOT NULL THEN 'lead' END) FROM calls WHERE call_id = '{connected}'", ct));
    }

    private async Task JoinAsync(ServiceProcess process, string token, string campaign, string agent, string phone, CancellationToken ct)
    {
        // The campaign starts on the dialer's next refresh; a join before it runs is refused.
        var deadline = DateTime.UtcNow + _instances.Bound;
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

    private Task<ServiceProcess> StartAsync(string name, TestDatabase database, PbxSimulator pbx, CancellationToken ct)
    {
        // One inbound agent (not logged in: the campaign's agents join its nailed-up lines), and the dialer
        // with each instance its own Stasis app and instance id, as two dialer instances are run (docs/dialer.md).
        var settings = _instances.Settings(name, database, pbx, [("2003", "1003")]);
        settings.Dialer = new DialerSettings
        {
            Enabled = true, Application = "ctibridge-dialer-" + name, InstanceId = "kill-" + name, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.5,
            RecordJournalDirectory = _instances.JournalDirectory(name, "dialer"),
        };
        return _instances.StartAsync(name, settings, ct);
    }

    public ValueTask DisposeAsync() => _instances.DisposeAsync();
}
