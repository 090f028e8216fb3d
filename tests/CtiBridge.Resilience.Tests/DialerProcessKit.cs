using System.Net;
using System.Net.Http.Json;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Access;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>The set-up shared by the dialer's process fault tests: PbxSim, a power campaign, a supervisor's token, its agents' joins, a process with its dialer.</summary>
internal static class DialerProcessKit
{
    /// <summary>
    /// PbxSim for a dialer process test: a carrier trunk whose calls go into Stasis, the agents' phones (each answers
    /// after 50 ms and stays on the line), the campaign's abandon message (<paramref name="abandonMessage"/> long, 0.3 s
    /// unless given), and <paramref name="customers"/> as the people the dialer calls.
    /// </summary>
    public static async Task<PbxSimulator> StartPbxAsync(string[] phones, DialledCustomers customers, TimeSpan? abandonMessage = null)
    {
        var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, .. phones.Select(p => new EndpointOptions { Name = p })],
            Sounds = new() { ["acme-abandon"] = (abandonMessage ?? TimeSpan.FromSeconds(0.3)).TotalSeconds },
            Dialplan = new() { ["from-trunk"] = new() { ["_X."] = ["Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] } },
        });
        pbx.DialledCustomers = customers;
        foreach (var phone in phones)
        {
            pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(50));
        }

        return pbx;
    }

    /// <summary>A supervisor's API token (the campaign's agents are joined with it).</summary>
    public static async Task<string> SupervisorTokenAsync(TestDatabase database, string name, CancellationToken ct) =>
        (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync(name, ApiRole.Supervisor, null, "test", ct)).Token;

    /// <summary>An agent joins the campaign on a process, retried while the campaign is not running there yet (refused before its refresh).</summary>
    public static async Task JoinAsync(HaProcesses instances, ServiceProcess process, string token, string campaign, string agent, string phone, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + instances.Bound;
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

    /// <summary>A running power campaign (three lines per free agent) with <paramref name="leads"/> leads.</summary>
    public static async Task<string> CampaignAsync(TestDatabase db, string prefix, int leads, CancellationToken ct)
    {
        var id = prefix + Guid.NewGuid().ToString("N")[..8];
        var definition = CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Power", "powerRatio": 3, "maxAbandonRate": 0.9,
              "callerId": "+18005550100", "callerName": "Acme", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["00:00-24:00"] }, "maxConcurrentLines": 6, "maxAttempts": 3,
              "retrySeconds": { "busy": 1, "noAnswer": 1, "congestion": 1, "machine": 1, "rejected": 1, "abandoned": 1 },
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 15, "wrapUpSeconds": 0.2,
              "defaultTimeZone": "America/New_York" }
            """);
        var store = new CampaignStore(db.DataSource, TimeProvider.System);
        await store.PutAsync(definition, "test", ct);
        var csv = "phone,name\n" + string.Concat(Enumerable.Range(0, leads).Select(i => $"212555{i:D4},Customer {i}\n"));
        var report = await new LeadImporter(db.DataSource, store, TimeProvider.System)
            .ImportAsync(id, new StringReader(csv), new LeadImportOptions { FileName = prefix + ".csv", ImportedBy = "test" }, ct);
        Assert.Equal(leads, report.Imported);
        await store.SetStateAsync(id, CampaignState.Running, "test", ct);
        return id;
    }

    /// <summary>A <c>ctibridge run</c> process with its dialer: its own Stasis app and instance id (<paramref name="instancePrefix"/> + name).</summary>
    public static Task<ServiceProcess> StartAsync(HaProcesses instances, string name, string instancePrefix, TestDatabase database, PbxSimulator pbx, CancellationToken ct)
    {
        // One inbound agent (not logged in: the campaign's agents join its nailed-up lines), and the dialer
        // with each instance its own Stasis app and instance id, as two dialer instances are run (docs/dialer.md).
        var settings = instances.Settings(name, database, pbx, [("2003", "1003")]);
        settings.Dialer = new DialerSettings
        {
            Enabled = true, Application = "ctibridge-dialer-" + name, InstanceId = instancePrefix + name, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.5,
            RecordJournalDirectory = instances.JournalDirectory(name, "dialer"),
        };
        return instances.StartAsync(name, settings, ct);
    }
}
