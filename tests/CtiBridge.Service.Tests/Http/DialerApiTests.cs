using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Http;

/// <summary>Campaigns, lead uploads and the do-not-call workflow over real HTTP, stored in the real PostgreSQL.</summary>
public sealed class DialerApiTests(RunningService service) : IClassFixture<RunningService>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpClient> ClientAsync(ApiRole role, string? agent = null, string? name = null)
    {
        var store = service.App.Services.GetRequiredService<ApiKeyStore>();
        var created = await store.CreateAsync(name ?? $"{role}-{Guid.NewGuid():N}"[..24], role, agent, "test", Ct);
        return service.Client(created.Token);
    }

    private static string CampaignFile(string id) => $$"""
        { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100", "callerName": "Acme",
          "trunkPrefix": "PJSIP/carrier/", "defaultCountryCode": "1", "defaultTimeZone": "America/New_York" }
        """;

    [Fact]
    public async Task Campaign_PutStartPauseStop_ListedWithItsState_AndEveryChangeAudited()
    {
        using var supervisor = await ClientAsync(ApiRole.Supervisor);
        using var reporting = await ClientAsync(ApiRole.Reporting);
        var id = "api" + Guid.NewGuid().ToString("N")[..8];

        // A broken file: every problem listed, nothing stored.
        var bad = await supervisor.PutAsync($"/api/campaigns/{id}", new StringContent($$"""{ "id": "{{id}}", "agentGroup": "sales", "mode": "Sideways", "colour": 1 }""", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("campaign", await bad.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await reporting.GetAsync($"/api/campaigns/{id}", Ct)).StatusCode);

        // Reporting may read but not change.
        Assert.Equal(HttpStatusCode.Forbidden, (await reporting.PutAsync($"/api/campaigns/{id}", new StringContent(CampaignFile(id), Encoding.UTF8, "application/json"), Ct)).StatusCode);
        var put = await supervisor.PutAsync($"/api/campaigns/{id}", new StringContent(CampaignFile(id), Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        foreach (var (verb, state) in new[] { ("start", "Running"), ("pause", "Paused"), ("stop", "Stopped"), ("start", "Running") })
        {
            var changed = await supervisor.PostAsync($"/api/campaigns/{id}/{verb}", null, Ct);
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            Assert.Equal(state, (await changed.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("state").GetString());
        }

        var list = await reporting.GetFromJsonAsync<JsonElement>("/api/campaigns", Ct);
        var listed = Assert.Single(list.EnumerateArray(), c => c.GetProperty("id").GetString() == id);
        Assert.Equal("Running", listed.GetProperty("state").GetString());
        Assert.Equal("Progressive", listed.GetProperty("mode").GetString());
        var detail = await reporting.GetFromJsonAsync<JsonElement>($"/api/campaigns/{id}", Ct);
        Assert.Equal("+18005550100", detail.GetProperty("definition").GetProperty("callerId").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await supervisor.PostAsync("/api/campaigns/no-such-campaign/start", null, Ct)).StatusCode);

        Assert.Equal(5L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE target = '{id}' AND actor LIKE 'api:Supervisor-%'", Ct));
    }

    [Fact]
    public async Task LeadUpload_BrokenRows_PerRowErrorsAndNothingImported_SkipBadImportsTheGoodOnes()
    {
        using var supervisor = await ClientAsync(ApiRole.Supervisor);
        var id = "up" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PutAsync($"/api/campaigns/{id}", new StringContent(CampaignFile(id), Encoding.UTF8, "application/json"), Ct)).StatusCode);
        const string Csv = "phone,name\n(212) 555-0100,Ann\nnot a number,Bob\n2125550102,Cy\n";

        var strict = await supervisor.PostAsync($"/api/campaigns/{id}/leads", new StringContent(Csv, Encoding.UTF8, "text/csv"), Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, strict.StatusCode);
        var report = await strict.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.False(report.GetProperty("committed").GetBoolean());
        var reject = Assert.Single(report.GetProperty("rejects").EnumerateArray());
        Assert.Equal(3, reject.GetProperty("line").GetInt32());
        Assert.Equal("phone", reject.GetProperty("column").GetString());
        Assert.Equal(0L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}'", Ct));

        var lenient = await supervisor.PostAsync($"/api/campaigns/{id}/leads?skipBad=true", new StringContent(Csv, Encoding.UTF8, "text/csv"), Ct);
        Assert.Equal(HttpStatusCode.OK, lenient.StatusCode);
        Assert.Equal(2, (await lenient.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("imported").GetInt32());
        Assert.Equal(2L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}'", Ct));

        var empty = await supervisor.PostAsync($"/api/campaigns/{id}/leads", new StringContent("", Encoding.UTF8, "text/csv"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Contains("empty", await empty.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DoNotCall_AgentRequests_RequesterCannotDecide_AnotherSupervisorApproves()
    {
        using var agent = await ClientAsync(ApiRole.Agent, "1001");
        var supervisorName = "sup-a-" + Guid.NewGuid().ToString("N")[..8];
        using var supervisorA = await ClientAsync(ApiRole.Supervisor, name: supervisorName);
        using var supervisorB = await ClientAsync(ApiRole.Supervisor);
        var number = "+1212555" + Random.Shared.Next(1000, 9999).ToString(System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal(HttpStatusCode.BadRequest, (await agent.PostAsJsonAsync("/api/dnc/requests", new { number = "12345", reason = "asked" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await agent.GetAsync("/api/dnc/requests", Ct)).StatusCode);

        // A supervisor's own request must be decided by another supervisor.
        var own = await supervisorA.PostAsJsonAsync("/api/dnc/requests", new { number, reason = "customer asked on call 42" }, Ct);
        Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        var requestId = (await own.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.Conflict, (await supervisorA.PostAsJsonAsync($"/api/dnc/requests/{requestId}/approve", new { note = "mine" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await agent.PostAsJsonAsync($"/api/dnc/requests/{requestId}/approve", new { }, Ct)).StatusCode);

        var pending = await supervisorB.GetFromJsonAsync<JsonElement>("/api/dnc/requests?pending=true", Ct);
        Assert.Contains(pending.EnumerateArray(), r => r.GetProperty("id").GetInt64() == requestId);
        var approved = await supervisorB.PostAsJsonAsync($"/api/dnc/requests/{requestId}/approve", new { note = "ok" }, Ct);
        Assert.Equal(HttpStatusCode.OK, approved.StatusCode);
        Assert.Equal(1L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM dnc_numbers WHERE phone_number = '{number}'", Ct));
        Assert.Equal(HttpStatusCode.Conflict, (await supervisorB.PostAsJsonAsync($"/api/dnc/requests/{requestId}/reject", new { }, Ct)).StatusCode);

        // An agent files a request too; the dialer is off on this instance, so joining a campaign is 503.
        Assert.Equal(HttpStatusCode.Created, (await agent.PostAsJsonAsync("/api/dnc/requests", new { number, action = "remove", reason = "asked to be called again" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await agent.PostAsJsonAsync("/api/campaigns/x/agents/1001", new { endpoint = "PJSIP/1001" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await agent.PostAsJsonAsync("/api/campaigns/x/agents/1002", new { endpoint = "PJSIP/1002" }, Ct)).StatusCode);
    }

    [Fact]
    public async Task Disposition_CallBackLater_BecomesTheAgentsDialerCallback_OnlyTheAgentOfTheCallMaySetIt()
    {
        using var supervisor = await ClientAsync(ApiRole.Supervisor);
        using var agent = await ClientAsync(ApiRole.Agent, "1001");
        using var otherAgent = await ClientAsync(ApiRole.Agent, "1002");
        var id = "cb" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PutAsync($"/api/campaigns/{id}", new StringContent(CampaignFile(id), Encoding.UTF8, "application/json"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsync($"/api/campaigns/{id}/leads", new StringContent("phone\n2125550177\n", Encoding.UTF8, "text/csv"), Ct)).StatusCode);

        // A call agent 1001 talked on (as the dialer stores it).
        var callId = id + "-1";
        await service.Database.ScalarAsync<int>($"""
            INSERT INTO dialer_attempts (campaign_id, lead_id, call_id, instance_id, phone_number, dialed_at, answered_at, answered_by, agent_id, agent_connected_at, ended_at, outcome)
            SELECT '{id}', lead_id, '{callId}', 'test', phone_number, now() - interval '3 minutes', now() - interval '170 seconds', 'HumanAnswer', '1001',
                   now() - interval '169 seconds', now() - interval '1 minute', 'HumanAnswer'
            FROM dialer_leads WHERE campaign_id = '{id}'
            RETURNING 1
            """, Ct);
        var callbackAt = DateTimeOffset.UtcNow.AddDays(1);

        Assert.Equal(HttpStatusCode.Forbidden, (await otherAgent.PostAsJsonAsync($"/api/dialer/calls/{callId}/disposition", new { disposition = "call-back", callbackAt }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await agent.PostAsJsonAsync("/api/dialer/calls/no-such-call/disposition", new { disposition = "sale" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await agent.PostAsJsonAsync($"/api/dialer/calls/{callId}/disposition", new { disposition = "" }, Ct)).StatusCode);

        var set = await agent.PostAsJsonAsync($"/api/dialer/calls/{callId}/disposition", new { disposition = "call-back", callbackAt }, Ct);
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var callbackId = (await set.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("callbackId").GetGuid();

        // The callback scheduler owns the call back: a dialer callback of the agent, in the campaign's group; the campaign does not dial the lead again.
        Assert.Equal(1L, await service.Database.ScalarAsync<long>($"""
            SELECT count(*) FROM callbacks
            WHERE callback_id = '{callbackId}' AND source = 'dialer' AND number = '+12125550177' AND owner_agent_id = '1001'
              AND queue = 'sales' AND campaign_id = '{id}' AND origin_call_id = '{callId}'
            """, Ct));
        Assert.Equal("call-back", await service.Database.ScalarAsync<string>($"SELECT disposition FROM dialer_attempts WHERE call_id = '{callId}'", Ct));
        Assert.Equal(0L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND next_attempt_at IS NOT NULL", Ct));
    }

    [Fact]
    public async Task Leads_MovedToAnotherCampaignAndGivenToAnotherAgent_ReportedPerLead_Audited()
    {
        using var supervisor = await ClientAsync(ApiRole.Supervisor);
        using var agent = await ClientAsync(ApiRole.Agent, "2001");
        var from = "mv" + Guid.NewGuid().ToString("N")[..8];
        var to = "mv" + Guid.NewGuid().ToString("N")[..8];
        foreach (var id in new[] { from, to })
        {
            Assert.Equal(HttpStatusCode.OK, (await supervisor.PutAsync($"/api/campaigns/{id}", new StringContent(CampaignFile(id), Encoding.UTF8, "application/json"), Ct)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsync($"/api/campaigns/{from}/leads", new StringContent("phone\n2125550300\n2125550301\n2125550302\n", Encoding.UTF8, "text/csv"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsync($"/api/campaigns/{to}/leads", new StringContent("phone\n2125550302\n", Encoding.UTF8, "text/csv"), Ct)).StatusCode);
        Task<long> LeadAsync(string number) => service.Database.ScalarAsync<long>($"SELECT lead_id FROM dialer_leads WHERE campaign_id = '{from}' AND phone_number = '+1{number}'", Ct);
        var (a, b, c) = (await LeadAsync("2125550300"), await LeadAsync("2125550301"), await LeadAsync("2125550302"));

        // Agents do not reassign; a selection is required; an unknown target is a 404.
        Assert.Equal(HttpStatusCode.Forbidden, (await agent.PostAsJsonAsync($"/api/campaigns/{from}/leads/assign", new { toAgent = "2001", leadIds = new[] { a } }, Ct)).StatusCode);
        var unselected = await supervisor.PostAsJsonAsync($"/api/campaigns/{from}/leads/move", new { toCampaign = to }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, unselected.StatusCode);
        Assert.Contains("say which leads", await unselected.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await supervisor.PostAsJsonAsync($"/api/campaigns/{from}/leads/move", new { toCampaign = "no-such", leadIds = new[] { a } }, Ct)).StatusCode);

        // Agent 2001's leads go to 2002.
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsJsonAsync($"/api/campaigns/{from}/leads/assign", new { toAgent = "2001", leadIds = new[] { a, b } }, Ct)).StatusCode);
        var assigned = await (await supervisor.PostAsJsonAsync($"/api/campaigns/{from}/leads/assign", new { toAgent = "2002", ownedBy = "2001" }, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(2, assigned.GetProperty("changed").GetInt32());
        Assert.Equal(2L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{from}' AND assigned_agent = '2002'", Ct));

        // Moved with their owner; the number the target already has stays, reported.
        var moved = await supervisor.PostAsJsonAsync($"/api/campaigns/{from}/leads/move", new { toCampaign = to, statuses = new[] { "open" }, keepOwner = true }, Ct);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        var report = await moved.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(2, report.GetProperty("changed").GetInt32());
        var notMoved = Assert.Single(report.GetProperty("notChanged").EnumerateArray());
        Assert.Equal(c, notMoved.GetProperty("leadId").GetInt64());
        Assert.Equal("duplicate", notMoved.GetProperty("reason").GetString());
        Assert.Equal(2L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{to}' AND assigned_agent = '2002' AND lead_id IN ({a}, {b})", Ct));
        Assert.Equal(1L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE action = 'leads move' AND target = '{from}' AND actor LIKE 'api:Supervisor-%'", Ct));
        Assert.Equal(2L, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE action = 'leads assign' AND target = '{from}'", Ct));
    }
}
