using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Live;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using static CtiBridge.Service.Tests.BoundedWait;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// Preview mode with the dialer on a dialer-only instance and call control on an HA pair (active A,
/// standby B), all on one database and one PbxSim, driven only over HTTP as an agent's desktop
/// talking to the call-control instance would: the agent's join and leave sent to A or B reach the
/// dialer instance; the lead shown before B took over is on B's event stream after the takeover
/// (replayed), and B relays the following pops and decisions.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class PreviewAcrossInstancesTests
{
    private const string Agent = "3003";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task JoinAndLeaveThroughCallControl_ReachTheDialerInstance_TheStandbyReplaysTheShownLeadAtTakeover()
    {
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, new EndpointOptions { Name = Agent }],
            Sounds = new() { ["acme-abandon"] = 0.3 },
        });
        var journals = Directory.CreateTempSubdirectory("ctibridge-preview-across-").FullName;

        // D: the dialer only. A and B: call control under the lease, no dialer.
        var dialerSettings = PbxSimSettings.Service(database.ConnectionString, PbxSimSettings.For(pbx));
        dialerSettings.Dialer = new DialerSettings
        {
            Enabled = true, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.5, InstanceId = "dialer-only",
            RecordJournalDirectory = Path.Combine(journals, "dialer"),
        };
        await using var dialerOnly = CtiBridgeHost.Build(dialerSettings);
        await using var a = CtiBridgeHost.Build(CallControlSettings(database, pbx, Path.Combine(journals, "a")));
        await using var b = CtiBridgeHost.Build(CallControlSettings(database, pbx, Path.Combine(journals, "b")));
        await dialerOnly.StartAsync(Ct);
        await a.StartAsync(Ct);
        var stoppedA = false;
        try
        {
            Assert.Null(dialerOnly.Services.GetService<CallCenter>());
            Assert.Null(a.Services.GetService<OutboundDialer>());
            Assert.True(a.Services.GetRequiredService<CallControlRole>().IsActive);
            var keys = new ApiKeyStore(database.DataSource, TimeProvider.System);
            var supervisorKey = (await keys.CreateAsync("sup-" + Guid.NewGuid().ToString("N")[..8], ApiRole.Supervisor, null, "test", Ct)).Token;
            var agentKey = (await keys.CreateAsync("agt-" + Guid.NewGuid().ToString("N")[..8], ApiRole.Agent, Agent, "test", Ct)).Token;
            using var supervisor = Client(a, supervisorKey);
            using var agentOnA = Client(a, agentKey);
            var dialer = dialerOnly.Services.GetRequiredService<OutboundDialer>();
            var campaign = "pa" + Guid.NewGuid().ToString("N")[..8];
            await CreateCampaignAsync(supervisor, campaign);

            // The join sent to A (no dialer there) is carried out by the dialer-only instance: the line is nailed up there.
            await WaitUntilAsync(async () =>
                (await agentOnA.PostAsJsonAsync($"/api/campaigns/{campaign}/agents/{Agent}", new { endpoint = "PJSIP/" + Agent }, Ct)).StatusCode == HttpStatusCode.Accepted,
                $"agent {Agent} to join {campaign} through A", TimeSpan.FromSeconds(20));
            Assert.Equal(campaign, dialer.CampaignOf(Agent));
            Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_agent_requests WHERE agent_id = '{Agent}' AND action = 'join' AND instance_id = 'dialer-only' AND answered_at IS NOT NULL AND refused IS NULL", Ct));
            Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_agent_lines WHERE agent_id = '{Agent}' AND instance_id = 'dialer-only'", Ct));

            // A lead is shown (A's API answers it); then B starts as the standby, after that screen pop was raised.
            var first = await WaitForPreviewAsync(agentOnA);
            var firstLead = first.GetProperty("leadId").GetString()!;
            using var onB = b.Services.GetRequiredService<LiveEventHub>().Subscribe(e => e.Type == "dialer.preview" && e.AgentId == Agent);
            await b.StartAsync(Ct);
            Assert.False(b.Services.GetRequiredService<CallControlRole>().IsActive);

            // A stops; B takes the lease over. The lead still on the agent's screen is put on B's stream.
            await a.StopAsync(CancellationToken.None);
            stoppedA = true;
            await WaitUntilAsync(() => Task.FromResult(b.Services.GetRequiredService<CallControlRole>().IsActive), "B to take over", TimeSpan.FromSeconds(15));
            var pops = new List<(string Phase, string Lead, long Sequence)>();
            await WaitUntilAsync(() => Task.FromResult(Drain(onB, campaign, pops).Any(p => p.Phase == "offered" && p.Lead == firstLead)),
                $"lead {firstLead}'s offer replayed on B's stream", TimeSpan.FromSeconds(15));

            // Decisions and the leave through B: the skip reaches the dialer, the next offer comes on B's stream, the leave hangs the line up.
            using var agentOnB = Client(b, agentKey);
            Assert.Equal(HttpStatusCode.NoContent, (await agentOnB.PostAsJsonAsync($"/api/dialer/agents/{Agent}/preview/skip", new { leadId = firstLead }, Ct)).StatusCode);
            await WaitUntilAsync(() => Task.FromResult(Drain(onB, campaign, pops).Any(p => p.Phase == "offered" && p.Lead != firstLead)),
                "the next lead offered on B's stream", TimeSpan.FromSeconds(15));
            Assert.Equal(HttpStatusCode.NoContent, (await agentOnB.DeleteAsync($"/api/campaigns/{campaign}/agents/{Agent}", Ct)).StatusCode);
            await WaitUntilAsync(() => Task.FromResult(dialer.CampaignOf(Agent) is null), $"agent {Agent} off the dialer's line", TimeSpan.FromSeconds(15));
            await WaitUntilAsync(() => Task.FromResult(Drain(onB, campaign, pops).Any(p => p.Phase == "skipped:left")),
                "the shown lead given back when the agent left, on B's stream", TimeSpan.FromSeconds(15));

            // In order on B's stream: the replayed offer, the skip, the next offer, the leave.
            Assert.Equal(["offered", "skipped:agent", "offered", "skipped:left"], pops.Select(p => p.Phase));
            Assert.Equal(firstLead, pops[1].Lead);
            Assert.Equal(pops.Select(p => p.Sequence).Order(), pops.Select(p => p.Sequence));
            Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_agent_requests WHERE agent_id = '{Agent}' AND action = 'leave' AND instance_id = 'dialer-only' AND answered_at IS NOT NULL AND refused IS NULL", Ct));
            Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_agent_lines WHERE agent_id = '{Agent}'", Ct));

            // A second leave: the agent is on no line anywhere.
            var again = await agentOnB.DeleteAsync($"/api/campaigns/{campaign}/agents/{Agent}", Ct);
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Contains("in no campaign", await again.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }
        finally
        {
            await b.StopAsync(CancellationToken.None);
            if (!stoppedA)
            {
                await a.StopAsync(CancellationToken.None);
            }

            await dialerOnly.StopAsync(CancellationToken.None);
        }
    }

    private static CtiBridgeSettings CallControlSettings(TestDatabase database, PbxSimulator pbx, string journal)
    {
        var settings = PbxSimSettings.Service(database.ConnectionString, PbxSimSettings.For(pbx));
        settings.CallControl = new CallControlSettings
        {
            HighAvailability = true,
            Queues = [new CallQueueSettings { Name = "sales" }],
            Agents = [new CallAgentSettings { Id = Agent, Extension = "PJSIP/" + Agent, PinHash = AgentPin.Hash("4321", iterations: 1000), Queues = ["sales"] }],
            RecordJournalDirectory = journal,
        };
        return settings;
    }

    private static HttpClient Client(WebApplication host, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri(host.Urls.Single()), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Reads the screen pops of <paramref name="campaign"/> that arrived into <paramref name="pops"/> (phase, with ":reason" when skipped or refused).</summary>
    private static List<(string Phase, string Lead, long Sequence)> Drain(LiveSubscription subscription, string campaign, List<(string Phase, string Lead, long Sequence)> pops)
    {
        while (subscription.Reader.TryRead(out var e))
        {
            using var json = JsonDocument.Parse(e.Json);
            var root = json.RootElement;
            if (root.GetProperty("campaignId").GetString() == campaign)
            {
                var phase = root.GetProperty("phase").GetString() + (root.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? ":" + r.GetString() : "");
                pops.Add((phase, root.GetProperty("leadId").GetString()!, e.Sequence));
            }
        }

        return pops;
    }

    private static async Task CreateCampaignAsync(HttpClient supervisor, string id)
    {
        var file = $$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Preview", "callerId": "+18005550100", "callerName": "Acme",
              "trunkPrefix": "PJSIP/carrier/", "windows": { "*": ["00:00-24:00"] }, "maxConcurrentLines": 4, "maxAttempts": 2,
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 15, "wrapUpSeconds": 0.3,
              "previewSeconds": 300, "previewTimeout": "Skip", "defaultTimeZone": "America/New_York" }
            """;
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PutAsync($"/api/campaigns/{id}", new StringContent(file, Encoding.UTF8, "application/json"), Ct)).StatusCode);
        var csv = "phone,name\n" + string.Concat(Enumerable.Range(0, 3).Select(i => $"2125557{i:D3},Customer {i}\n"));
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsync($"/api/campaigns/{id}/leads", new StringContent(csv, Encoding.UTF8, "text/csv"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsync($"/api/campaigns/{id}/start", null, Ct)).StatusCode);
    }

    private static async Task<JsonElement> WaitForPreviewAsync(HttpClient agentClient)
    {
        JsonElement preview = default;
        await WaitUntilAsync(async () =>
        {
            var reply = await agentClient.GetAsync($"/api/dialer/agents/{Agent}/preview", Ct);
            if (reply.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            preview = await reply.Content.ReadFromJsonAsync<JsonElement>(Ct);
            return true;
        }, $"a preview lead for agent {Agent}", TimeSpan.FromSeconds(20));
        return preview;
    }
}
