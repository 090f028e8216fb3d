using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// One agent, one state at a time in the agent-state log (issue 9): an agent logged in to inbound
/// queues cannot join a campaign's nailed-up line, and an agent on a line cannot log in to inbound
/// queues — otherwise call control and the dialer would both log intervals for the same time and the
/// agent report would count the agent's logged-in time twice (occupancy, calls per hour). Real
/// service with call control and the dialer, PbxSim and PostgreSQL.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class InboundAndCampaignTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AgentOnInboundQueuesCannotJoinALine_AgentOnALineCannotLogInToQueues_StateLogHasOneIntervalAtATime()
    {
        var queue = new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(1), MusicOnHold = "default" };
        var journal = Directory.CreateTempSubdirectory("ctibridge-inbound-campaign-").FullName;
        var campaignId = "both-" + Guid.NewGuid().ToString("N")[..8];
        await using var rig = await CampaignLine.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], campaignId, journal, Ct);
        using var admin = await Http.HttpApi.ClientAsync(rig, ApiRole.Admin, Ct);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await CampaignLine.RunAsync(database.Database, campaignId, Ct);

        // 2002 joins the campaign and waits on its nailed-up line.
        var joinedAt = await CampaignLine.JoinAsync(admin, campaignId, "2002", "PJSIP/1002", Ct);

        // On the line: no inbound login (API, and the call center's own check behind the desk-phone login).
        var login = await admin.PostAsJsonAsync("/api/agents/2002/login", new { pin = CallCenterRig.Pin }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, login.StatusCode);
        Assert.Contains("nailed-up line of campaign " + campaignId, await DetailAsync(login), StringComparison.Ordinal);
        Assert.Equal(Core.Acd.AgentState.LoggedOut, (await rig.Center.GetAgentAsync("2002", Ct))!.State);
        Assert.False((await rig.Center.LoginAgentAsync("2002", CallCenterRig.Pin, Ct)).Accepted);

        // Logged in to inbound queues: no joining a line.
        (await admin.PostAsJsonAsync("/api/agents/2001/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode();
        var join = await admin.PostAsJsonAsync($"/api/campaigns/{campaignId}/agents/2001", new { endpoint = "PJSIP/1001" }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, join.StatusCode);
        Assert.Contains("agent 2001 is logged in to inbound queues", await DetailAsync(join), StringComparison.Ordinal);
        Assert.Null(rig.Services.GetRequiredService<Service.Dialer.OutboundDialer>().CampaignOf("2001"));

        // 2002's time on the line, then it leaves; after leaving it may log in to the queues.
        await Task.Delay(TimeSpan.FromSeconds(2), Ct);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/campaigns/{campaignId}/agents/2002", Ct)).StatusCode);
        await WaitAsync(() => Task.FromResult(rig.Services.GetRequiredService<Service.Dialer.OutboundDialer>().CampaignOf("2002") is null), "2002 off the line");
        var leftAt = DateTimeOffset.UtcNow;
        (await admin.PostAsJsonAsync("/api/agents/2002/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode();
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        await rig.StopServiceAsync(); // every open interval is closed and stored

        // The state log: 2002's intervals never overlap, and the agent report counts its logged-in
        // time once: no more than the time from joining to now (it would be about twice that if both
        // parts logged the same seconds), and the dialer's part at most the time on the line.
        var db = database.Database;
        Assert.Equal(0L, await db.ScalarAsync<long>("""
            SELECT count(*) FROM agent_state_intervals a JOIN agent_state_intervals b
              ON a.agent_id = b.agent_id AND a.started_at < b.started_at AND b.started_at < a.ended_at
            WHERE a.agent_id IN ('2001', '2002')
            """, Ct));
        var span = await db.ScalarAsync<double>("SELECT extract(epoch FROM max(ended_at) - min(started_at))::float8 FROM agent_state_intervals WHERE agent_id = '2002'", Ct);
        var day = joinedAt.UtcDateTime.Date;
        var report = await db.ScalarAsync<double>(
            $"SELECT logged_in_seconds::float8 FROM report_agent_activity('{day:yyyy-MM-dd}T00:00Z', '{day.AddDays(2):yyyy-MM-dd}T00:00Z', '1mo') WHERE agent_id = '2002'", Ct);
        Assert.True(report > 0 && report <= span + 0.001, $"2002 logged in {report:F3} s in the report over a span of {span:F3} s");
        Assert.True(span <= (DateTimeOffset.UtcNow - joinedAt).TotalSeconds + 1, $"span {span:F1} s");
        var onLine = await db.ScalarAsync<double>(
            $"SELECT coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)::float8 FROM agent_state_intervals WHERE agent_id = '2002' AND session_id LIKE 'dagent-%'", Ct);
        Assert.True(onLine > 0 && onLine <= (leftAt - joinedAt).TotalSeconds + 1, $"on the line {onLine:F1} s, joined to left {(leftAt - joinedAt).TotalSeconds:F1} s");
    }

    // The same rule across instances (other agents than the test above: the class shares its database): the line is held by a dialer-only instance, the login goes to
    // the instance that runs call control (whose own dialer, here none, knows nothing of the line).
    [Fact]
    public async Task AgentOnALineOfADialerOnlyInstance_CannotLogInToQueuesOnTheCallControlInstance_UntilItLeaves()
    {
        var queue = new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(1), MusicOnHold = "default" };
        var journal = Directory.CreateTempSubdirectory("ctibridge-dialer-only-").FullName;
        var campaignId = "apart-" + Guid.NewGuid().ToString("N")[..8];
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2003", "1003"), ("2004", "1004")], Ct);
        rig.Pbx.Phone("1003").AnswersAfter(TimeSpan.FromMilliseconds(100));
        var dialerOnly = CtiBridgeHost.Build(new CtiBridgeSettings
        {
            Database = new DatabaseSettings { ConnectionString = database.Database.ConnectionString, MigrateOnStart = false },
            Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
            Asterisk = [PbxSimSettings.For(rig.Pbx)],
            Logging = new LogSettings { Level = "Warning" },
            Dialer = new Service.Dialer.DialerSettings { Enabled = true, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.3, RecordJournalDirectory = journal, InstanceId = "dialer-only" },
            Campaigns = [Core.Dialer.CampaignDefinition.Parse($$"""
                { "id": "{{campaignId}}", "agentGroup": "support", "mode": "Progressive", "callerId": "+18005550100",
                  "trunkPrefix": "PJSIP/carrier/", "defaultTimeZone": "America/New_York" }
                """)],
        });
        try
        {
            await dialerOnly.StartAsync(Ct);
            Assert.Null(dialerOnly.Services.GetService<CallCenter>()); // no call control there
            var store = new ApiKeyStore(database.Database.DataSource, TimeProvider.System);
            var token = (await store.CreateAsync("admin-apart", ApiRole.Admin, null, "test", Ct)).Token;
            using var callControl = new HttpClient { BaseAddress = new Uri(rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()) };
            using var dialer = new HttpClient { BaseAddress = new Uri(dialerOnly.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()) };
            callControl.DefaultRequestHeaders.Authorization = dialer.DefaultRequestHeaders.Authorization = new("Bearer", token);
            var campaigns = new Data.Dialer.CampaignStore(database.Database.DataSource, TimeProvider.System);
            await WaitAsync(() => campaigns.SetStateAsync(campaignId, Data.Dialer.CampaignState.Running, "test", Ct), "the file's campaign to be stored");

            // 2003 joins on the dialer-only instance; the call-control instance reads the line from the database.
            await WaitAsync(async () => (await dialer.PostAsJsonAsync($"/api/campaigns/{campaignId}/agents/2003", new { endpoint = "PJSIP/1003" }, Ct)).StatusCode == HttpStatusCode.Accepted,
                "agent 2003 to join the campaign on the dialer-only instance");
            Assert.Equal(1L, await database.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_agent_lines WHERE agent_id = '2003' AND campaign_id = '{campaignId}' AND instance_id = 'dialer-only'", Ct));

            // At once: the login reads the line itself (before, it waited for the set read every second, so this login passed).
            var login = await callControl.PostAsJsonAsync("/api/agents/2003/login", new { pin = CallCenterRig.Pin }, Ct);
            Assert.Equal(HttpStatusCode.Conflict, login.StatusCode);
            Assert.Contains($"nailed-up line of campaign {campaignId} (dialer instance dialer-only)", await DetailAsync(login), StringComparison.Ordinal);
            Assert.Equal(Core.Acd.AgentState.LoggedOut, (await rig.Center.GetAgentAsync("2003", Ct))!.State);
            (await callControl.PostAsJsonAsync("/api/agents/2004/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode(); // others are not held

            // It leaves: once the row is gone the login passes at once, even while the set read every second may still list the line.
            Assert.Equal(HttpStatusCode.NoContent, (await dialer.DeleteAsync($"/api/campaigns/{campaignId}/agents/2003", Ct)).StatusCode);
            await WaitAsync(async () => await database.Database.ScalarAsync<long>("SELECT count(*) FROM dialer_agent_lines WHERE agent_id = '2003'", Ct) == 0, "2003's line to be removed");
            (await callControl.PostAsJsonAsync("/api/agents/2003/login", new { pin = CallCenterRig.Pin }, Ct)).EnsureSuccessStatusCode();
        }
        finally
        {
            await CallCenterRig.StopAsync(dialerOnly);
        }
    }

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("detail").GetString() ?? string.Empty;

    private static Task WaitAsync(Func<Task<bool>> condition, string what) =>
        BoundedWait.WaitUntilAsync(condition, what, TimeSpan.FromSeconds(15), poll: TimeSpan.FromMilliseconds(20));
}
