using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// An agent's calls are every call the agent handled (docs/metrics.md §6, definitions version 3):
/// a dialer agent's campaign calls count as calls on the wallboard and in <c>report_agent_activity</c>
/// alike, next to an inbound agent's queue call (issue 9: dialer agents showed 0 calls at 64-83 %
/// occupancy). Real service with call control and the dialer, PbxSim and PostgreSQL.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AgentCallsLiveAndReportTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task CampaignCallsCountAsTheDialerAgentsCalls_OnTheWallboardAndInTheReport_BesideAnInboundCall()
    {
        var queue = new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default" };
        var journal = Directory.CreateTempSubdirectory("ctibridge-agent-calls-").FullName;
        var campaignId = "calls-" + Guid.NewGuid().ToString("N")[..8];
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], Ct, configureService: s =>
            s.Dialer = new Service.Dialer.DialerSettings { Enabled = true, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.3, RecordJournalDirectory = journal });
        using var admin = await Http.HttpApi.ClientAsync(rig, ApiRole.Admin, Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 1 };

        // A progressive campaign with two leads; 2002 works it on its nailed-up line.
        var file = $$"""
            { "id": "{{campaignId}}", "agentGroup": "support", "mode": "Progressive", "callerId": "+18005550100",
              "trunkPrefix": "PJSIP/carrier/", "windows": { "*": ["00:00-24:00"] }, "maxConcurrentLines": 1, "maxAttempts": 1,
              "ringTimeoutSeconds": 15, "wrapUpSeconds": 0.3, "defaultTimeZone": "America/New_York" }
            """;
        Assert.Equal(HttpStatusCode.OK, (await admin.PutAsync($"/api/campaigns/{campaignId}", new StringContent(file, Encoding.UTF8, "application/json"), Ct)).StatusCode);
        var upload = await admin.PostAsync($"/api/campaigns/{campaignId}/leads", new StringContent("phone,name\n2125557001,One\n2125557002,Two\n", Encoding.UTF8, "text/csv"), Ct);
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/api/campaigns/{campaignId}/start", null, Ct)).StatusCode);
        await CampaignLine.JoinAsync(admin, campaignId, "2002", "PJSIP/1002", Ct);

        // 2001 takes one inbound call on the queue.
        await rig.LoginAsync("2001", Ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        await rig.AcdEvents.WaitForAsync<CallAnswered>(a => a.AgentId == "2001", "2001 to answer the inbound call", Ct);
        await Task.Delay(TimeSpan.FromMilliseconds(500), Ct);
        rig.Trunk.HangUp(caller);

        // Both leads reached and talked to by 2002; their call rows written.
        var db = database.Database;
        await WaitAsync(async () => await db.ScalarAsync<long>(
                $"SELECT count(*) FROM calls WHERE campaign_id = '{campaignId}' AND agent_id = '2002' AND disposition = 'answered'", Ct) == 2,
            "two campaign calls talked on by 2002 in the call records");

        // The wallboard: 2002 has 2 calls today (campaign calls), 2001 has 1 (inbound).
        JsonElement agents = default;
        await WaitAsync(async () =>
        {
            agents = (await admin.GetFromJsonAsync<JsonElement>("/api/wallboard", Ct)).GetProperty("agents");
            return Agent(agents, "2002").GetProperty("callsToday").GetInt32() == 2 && Agent(agents, "2001").GetProperty("callsToday").GetInt32() == 1;
        }, "the wallboard to show 2002's campaign calls and 2001's inbound call");
        Assert.Equal((0, 2), (Agent(agents, "2002").GetProperty("inboundCallsToday").GetInt32(), Agent(agents, "2002").GetProperty("outboundCallsToday").GetInt32()));
        Assert.Equal((1, 0), (Agent(agents, "2001").GetProperty("inboundCallsToday").GetInt32(), Agent(agents, "2001").GetProperty("outboundCallsToday").GetInt32()));
        Assert.Equal(3, (await admin.GetFromJsonAsync<JsonElement>("/api/wallboard", Ct)).GetProperty("definitionsVersion").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/campaigns/{campaignId}/agents/2002", Ct)).StatusCode);
        await rig.StopServiceAsync(); // every record written

        // The report: the same calls, and the dialer agent's calls per hour are no longer 0.
        var day = DateTime.UtcNow.Date;
        var rows = await db.ScalarAsync<string>($"""
            SELECT string_agg(format('%s:%s/%s/%s', agent_id, sum_calls, sum_in, sum_out), ' ' ORDER BY agent_id) FROM (
              SELECT agent_id, sum(calls) AS sum_calls, sum(inbound_calls) AS sum_in, sum(outbound_calls) AS sum_out
              FROM report_agent_activity('{day.AddDays(-1):yyyy-MM-dd}T00:00Z', '{day.AddDays(2):yyyy-MM-dd}T00:00Z', '1mo')
              WHERE agent_id IN ('2001', '2002') GROUP BY agent_id) r
            """, Ct);
        Assert.Equal("2001:1/1/0 2002:2/0/2", rows);
        Assert.True(await db.ScalarAsync<double>($"""
            SELECT sum(calls_per_hour) FROM report_agent_activity('{day.AddDays(-1):yyyy-MM-dd}T00:00Z', '{day.AddDays(2):yyyy-MM-dd}T00:00Z', '1mo', '2002')
            """, Ct) > 0);
    }

    private static JsonElement Agent(JsonElement agents, string id) => agents.EnumerateArray().Single(a => a.GetProperty("agentId").GetString() == id);

    private static Task WaitAsync(Func<Task<bool>> condition, string what) => BoundedWait.WaitUntilAsync(condition, what, TimeSpan.FromSeconds(30));
}
