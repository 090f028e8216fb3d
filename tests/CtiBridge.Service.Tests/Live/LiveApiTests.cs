using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Live;

/// <summary>
/// The live surface against the real call control, PbxSim and PostgreSQL: event stream with screen
/// pops per agent, live calls, supervisor actions, reports, click-to-dial and the domain metrics.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class LiveApiTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private const string PopTemplate = "https://crm.example.com/pop?number={callerNumber}&did={did}&queue={queue}&call={callId}&agent={agentId}&ivr={ivrPath}";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue(string name = "support") => new()
    {
        Name = name, Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
        ScreenPopUrl = PopTemplate,
    };

    internal static HttpClient Client(CallCenterRig rig, string token)
    {
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var client = new HttpClient { BaseAddress = new Uri(address), Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<string> KeyAsync(ApiRole role, string? agent = null) => (await NamedKeyAsync(role, agent)).Token;

    // The class's tests share one database: a test reading audit_log filters by its own key's name
    // (the actor), or it would count the rows another test of the class wrote before it.
    private async Task<(string Name, string Token)> NamedKeyAsync(ApiRole role, string? agent = null)
    {
        var name = $"{role}-{Guid.NewGuid():N}"[..24];
        var key = await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync(name, role, agent, "test", Ct);
        return (name, key.Token);
    }

    [Fact]
    public async Task EventStream_AgentKeySeesOnlyItsOwnAgent_AndGetsTheScreenPopWithTheUrlFilledIn()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], Ct);
        using var agentHttp = Client(rig, await KeyAsync(ApiRole.Agent, "2001"));
        using var crmHttp = Client(rig, await KeyAsync(ApiRole.Integration));
        await using var desk = await SseClient.ConnectAsync(agentHttp, "/api/events", Ct);
        await using var crm = await SseClient.ConnectAsync(crmHttp, "/api/events", Ct);
        var otherAgentsStream = await agentHttp.GetAsync("/api/events?agentId=2002", HttpCompletionOption.ResponseHeadersRead, Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));

        await rig.LoginAsync("2002", Ct);
        Assert.True((await rig.Center.PauseAgentAsync("2002", "break", Ct)).Accepted);
        await rig.LoginAsync("2001", Ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        var ringing = await desk.WaitForAsync("screenPop", e => e.GetProperty("phase").GetString() == "ringing", Ct);
        var connected = await desk.WaitForAsync("screenPop", e => e.GetProperty("phase").GetString() == "connected", Ct);
        var enqueued = await crm.WaitForAsync("call.enqueued", _ => true, Ct);
        var otherPaused = await crm.WaitForAsync("agent.state", e => e.GetProperty("agentId").GetString() == "2002" && e.GetProperty("to").GetString() == "Paused", Ct);
        rig.Trunk.HangUp(caller);
        await desk.WaitForAsync("call.completed", _ => true, Ct);

        var callId = connected.GetProperty("callId").GetString()!;
        Assert.Equal(
            $"https://crm.example.com/pop?number=5551234&did=4008001&queue=support&call={callId}&agent=2001&ivr=",
            connected.GetProperty("url").GetString());
        Assert.Equal("Jane Customer", connected.GetProperty("caller").GetProperty("name").GetString());
        Assert.Equal(callId, ringing.GetProperty("callId").GetString());
        Assert.Equal("5551234", enqueued.GetProperty("callerNumber").GetString());
        Assert.Equal("break", otherPaused.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, otherAgentsStream.StatusCode);
        Assert.All(desk.Seen, frame => Assert.Equal("2001", frame.Data.GetProperty("agentId").GetString()));
        Assert.Contains(desk.Seen, f => f.Event == "agent.state" && f.Data.GetProperty("to").GetString() == "OnCall");
        Assert.DoesNotContain(desk.Seen, f => f.Event == "call.enqueued");
    }

    [Fact]
    public async Task ScreenPop_CallerRegionPlaceholder_FilledFromTheNumberPrefixTable()
    {
        await using (var insert = database.Database.DataSource.CreateCommand(
            "INSERT INTO number_prefixes (prefix, region) VALUES ('555', 'Springfield'), ('55512', 'Springfield Downtown') ON CONFLICT (prefix) DO NOTHING"))
        {
            await insert.ExecuteNonQueryAsync(Ct);
        }

        var queue = Queue();
        queue.ScreenPopUrl = "https://crm.example.com/pop?number={callerNumber}&region={callerRegion}&call={callId}";
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], Ct);
        // The table is read when the service starts (then every 5 minutes): wait for that load, bounded.
        var regions = rig.Services.GetRequiredService<CtiBridge.Data.Customers.CallerRegions>();
        for (var i = 0; i < 100 && regions.Count < 2; i++)
        {
            await Task.Delay(50, Ct);
        }

        Assert.True(regions.Count >= 2, "the prefix table was not loaded at start");
        using var agentHttp = Client(rig, await KeyAsync(ApiRole.Agent, "2001"));
        await using var desk = await SseClient.ConnectAsync(agentHttp, "/api/events?types=screenPop", Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", Ct);

        var first = rig.Trunk.CallIn("4008001", "5551234", "Downtown Caller");
        var downtown = await desk.WaitForAsync("screenPop", e => e.GetProperty("phase").GetString() == "ringing", Ct);
        await desk.WaitForAsync("screenPop", e => e.GetProperty("phase").GetString() == "connected" && e.GetProperty("callId").GetString() == downtown.GetProperty("callId").GetString(), Ct);
        rig.Trunk.HangUp(first);
        var second = rig.Trunk.CallIn("4008001", "7770000", "Unknown Region");
        var unknown = await desk.WaitForAsync("screenPop", e => e.GetProperty("caller").GetProperty("number").GetString() == "7770000", Ct);
        rig.Trunk.HangUp(second);

        Assert.Equal(
            $"https://crm.example.com/pop?number=5551234&region=Springfield%20Downtown&call={downtown.GetProperty("callId").GetString()}",
            downtown.GetProperty("url").GetString());
        Assert.Equal(
            $"https://crm.example.com/pop?number=7770000&region=&call={unknown.GetProperty("callId").GetString()}",
            unknown.GetProperty("url").GetString());
    }

    [Fact]
    public async Task LiveCalls_ShowAWaitingCallThenTheAgentConnected_AndMetricsCountIt()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct);
        using var supervisor = Client(rig, await KeyAsync(ApiRole.Supervisor));
        using var reporting = Client(rig, await KeyAsync(ApiRole.Reporting));
        await using var events = await SseClient.ConnectAsync(supervisor, "/api/events", Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", Ct);
        Assert.True((await rig.Center.PauseAgentAsync("2001", "break", Ct)).Accepted);

        var caller = rig.Trunk.CallIn("4008001", "5559876", "Waiting Caller");
        await events.WaitForAsync("call.enqueued", _ => true, Ct);
        var waiting = await reporting.GetFromJsonAsync<JsonElement>("/api/calls", Ct);
        var metricsWhileWaiting = await reporting.GetStringAsync("/metrics", Ct);
        await supervisor.PostAsync("/api/agents/2001/resume", null, Ct);
        await events.WaitForAsync("call.answered", _ => true, Ct);
        var connected = await reporting.GetFromJsonAsync<JsonElement>("/api/calls", Ct);
        rig.Trunk.HangUp(caller);
        await events.WaitForAsync("call.ended", _ => true, Ct);
        var after = await reporting.GetFromJsonAsync<JsonElement>("/api/calls", Ct);
        var metrics = await reporting.GetStringAsync("/metrics", Ct);

        Assert.Equal(1, waiting.GetArrayLength());
        Assert.Equal("Waiting", waiting[0].GetProperty("state").GetString());
        Assert.Equal("5559876", waiting[0].GetProperty("callerNumber").GetString());
        Assert.Equal("Connected", connected[0].GetProperty("state").GetString());
        Assert.Equal("2001", connected[0].GetProperty("agentId").GetString());
        Assert.Equal(0, after.GetArrayLength());
        Assert.Contains("ctibridge_queue_waiting_calls{queue=\"support\"} 1", metricsWhileWaiting, StringComparison.Ordinal);
        Assert.Contains("ctibridge_agents{state=\"Paused\"} 1", metricsWhileWaiting, StringComparison.Ordinal);
        Assert.Contains("ctibridge_server_waiting_calls{server=\"pbx1\"} 1", metricsWhileWaiting, StringComparison.Ordinal);
        Assert.Contains("ctibridge_server_agents{server=\"pbx1\",state=\"Paused\"} 1", metricsWhileWaiting, StringComparison.Ordinal);
        Assert.Contains("ctibridge_queue_visits_total{queue=\"support\",event=\"offered\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_queue_visits_total{queue=\"support\",event=\"answered\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_ami_connected{server=\"pbx1\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_server_queue_visits_today{server=\"pbx1\",event=\"offered\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_server_queue_visits_today{server=\"pbx1\",event=\"answered\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_ari_events_connected{server=\"pbx1\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_record_journal_bytes", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_record_writer_lag_seconds", metrics, StringComparison.Ordinal);

        // Once the call is in PostgreSQL and nothing newer is waiting, the writer reports no lag: the
        // pending count must come back to zero (an accounting leak would keep it up for good).
        var caughtUp = false;
        for (var i = 0; i < 100 && !caughtUp; i++)
        {
            var scrape = await reporting.GetStringAsync("/metrics", Ct);
            caughtUp = scrape.Contains("\nctibridge_record_writer_pending_records 0\n", StringComparison.Ordinal)
                && scrape.Contains("\nctibridge_record_writer_lag_seconds 0\n", StringComparison.Ordinal)
                && await database.Database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE caller = '5559876'", Ct) == 1;
            if (!caughtUp)
            {
                await Task.Delay(100, Ct);
            }
        }

        Assert.True(caughtUp, "the record writer never reported zero pending records with the call stored");
    }

    [Fact]
    public async Task Supervisor_ForcesPauseAndLogout_RecordedAsSupervisorAndAudited()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct);
        var (supervisorName, supervisorToken) = await NamedKeyAsync(ApiRole.Supervisor);
        using var supervisor = Client(rig, supervisorToken);
        await rig.LoginAsync("2001", Ct);

        var noReason = await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/pause", new { }, Ct);
        var pause = await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/pause", new { reason = "coaching" }, Ct);
        var paused = await pause.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var forced = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, Ct);
        var logout = await supervisor.PostAsync("/api/supervisor/agents/2001/logout", null, Ct);
        var loggedOut = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.LoggedOut, Ct);
        var unknown = await supervisor.PostAsync("/api/supervisor/agents/9999/logout", null, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.Equal("Paused", paused.GetProperty("state").GetString());
        Assert.Equal("coaching", paused.GetProperty("pauseReason").GetString());
        Assert.Equal(ChangeSource.Supervisor, forced.Source);
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        Assert.Equal(ChangeSource.Supervisor, loggedOut.Source);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var audited = await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(action || ' ' || outcome, ' | ' ORDER BY id) FROM audit_log WHERE actor = '{supervisorName}' AND target = '2001' AND role = 'supervisor' AND action LIKE '%/supervisor/%'", Ct);
        Assert.Equal("POST /api/supervisor/agents/2001/pause 400 | POST /api/supervisor/agents/2001/pause 200 | POST /api/supervisor/agents/2001/logout 200", audited);
    }

    [Fact]
    public async Task Supervisor_ResumesAndPausesOverTheApi_RecordedAsSupervisor_TheAgentsOwnKeyAsAgent()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct);
        var (supervisorName, supervisorToken) = await NamedKeyAsync(ApiRole.Supervisor);
        using var supervisor = Client(rig, supervisorToken);
        using var desk = Client(rig, await KeyAsync(ApiRole.Agent, "2001"));
        await rig.LoginAsync("2001", Ct);

        // The supervisor's own endpoint: a forced pause, then a forced resume.
        var pause = await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/pause", new { reason = "coaching" }, Ct);
        var forcedPause = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, Ct);
        var resume = await supervisor.PostAsync("/api/supervisor/agents/2001/resume", null, Ct);
        var forcedResume = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, Ct);
        var notPaused = await supervisor.PostAsync("/api/supervisor/agents/2001/resume", null, Ct);

        // The agent endpoints with a supervisor's key: the supervisor's change too.
        await supervisor.PostAsJsonAsync("/api/agents/2001/pause", new { reason = "meeting" }, Ct);
        var pausedBySupervisor = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, Ct, nth: 2);
        var resumeAsAgentEndpoint = await supervisor.PostAsync("/api/agents/2001/resume", null, Ct);
        var resumedBySupervisor = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, Ct, nth: 2);

        // The agent's own key: the agent's change.
        await desk.PostAsJsonAsync("/api/agents/2001/pause", new { reason = "break" }, Ct);
        var pausedByAgent = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, Ct, nth: 3);
        await desk.PostAsync("/api/agents/2001/resume", null, Ct);
        var resumedByAgent = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, Ct, nth: 3);
        await supervisor.PostAsync("/api/agents/2001/logout", null, Ct);
        var loggedOut = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.LoggedOut, Ct);

        Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        Assert.Equal(ChangeSource.Supervisor, forcedPause.Source);
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        Assert.Equal("Ready", (await resume.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("state").GetString());
        Assert.Equal(ChangeSource.Supervisor, forcedResume.Source);
        Assert.Equal(HttpStatusCode.Conflict, notPaused.StatusCode);
        Assert.Equal(ChangeSource.Supervisor, pausedBySupervisor.Source);
        Assert.Equal(HttpStatusCode.OK, resumeAsAgentEndpoint.StatusCode);
        Assert.Equal(ChangeSource.Supervisor, resumedBySupervisor.Source);
        Assert.Equal(ChangeSource.Agent, pausedByAgent.Source);
        Assert.Equal(ChangeSource.Agent, resumedByAgent.Source);
        Assert.Equal(ChangeSource.Supervisor, loggedOut.Source);

        // Audited with the supervisor as actor, whichever endpoint was used.
        var audited = await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(action || ' ' || outcome, ' | ' ORDER BY id) FROM audit_log WHERE actor = '{supervisorName}' AND target = '2001' AND role = 'supervisor' AND action LIKE '%/resume%'", Ct);
        Assert.Equal("POST /api/supervisor/agents/2001/resume 200 | POST /api/supervisor/agents/2001/resume 409 | POST /api/agents/2001/resume 200", audited);
    }

    [Fact]
    public async Task ClickToDial_RingsTheAgentsPhoneThenDialsTheNumberInTheDialplan_AgentPausedMeanwhile()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct);
        using var desk = Client(rig, await KeyAsync(ApiRole.Agent, "2001"));
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));

        var loggedOut = await desk.PostAsJsonAsync("/api/agents/2001/dial", new { number = "5550100" }, Ct);
        await rig.LoginAsync("2001", Ct);
        var badNumber = await desk.PostAsJsonAsync("/api/agents/2001/dial", new { number = "555-0100; Hangup" }, Ct);
        var dial = await desk.PostAsJsonAsync("/api/agents/2001/dial", new { number = "5550100" }, Ct);
        var dialled = await rig.PbxEvents.WaitAsync("Newexten", "PJSIP/1001", Ct, e => e["Exten"] == "5550100" && e["Context"] == "from-internal");
        var agent = await desk.GetFromJsonAsync<JsonElement>("/api/agents/2001", Ct);

        Assert.Equal(HttpStatusCode.Conflict, loggedOut.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badNumber.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, dial.StatusCode);
        Assert.Equal("outbound", (await dial.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("pausedAs").GetString());
        Assert.NotNull(dialled);
        Assert.Equal("Paused", agent.GetProperty("state").GetString());
        Assert.Equal("outbound", agent.GetProperty("pauseReason").GetString());
    }

    [Fact]
    public async Task Reports_AfterAnAnsweredCall_JsonAndCsvShowIt_BadQueriesAreProblems()
    {
        // A queue of its own: the other tests of this class write records to the same database.
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue("billing"), [("2001", "1001")], Ct);
        using var reporting = Client(rig, await KeyAsync(ApiRole.Reporting));
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", Ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, Ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, Ct);
        var day = DateTimeOffset.UtcNow.Date;
        var window = $"from={day:yyyy-MM-dd}&to={day.AddDays(2):yyyy-MM-dd}&interval=1d&queue=billing";

        // The records reach PostgreSQL in the writer's next batch: bounded wait for them.
        JsonElement rows = default;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            rows = await reporting.GetFromJsonAsync<JsonElement>($"/api/reports/queue-traffic?{window}", Ct);
            if (rows.GetArrayLength() > 0 && rows[0].GetProperty("answered").GetInt64() == 1)
            {
                break;
            }

            await Task.Delay(100, Ct);
        }

        var csv = await reporting.GetAsync($"/api/reports/queue-traffic?{window}&format=csv", Ct);
        var list = await reporting.GetFromJsonAsync<JsonElement>("/api/reports", Ct);
        var unknown = await reporting.GetAsync($"/api/reports/nope?{window}", Ct);
        var noFrom = await reporting.GetAsync("/api/reports/queue-traffic?to=2026-01-01", Ct);
        var queueOnStateLog = await reporting.GetAsync($"/api/reports/agent-state-log?from={day:yyyy-MM-dd}&to={day.AddDays(1):yyyy-MM-dd}&queue=support", Ct);

        Assert.Equal("billing", rows[0].GetProperty("queue").GetString());
        Assert.Equal(1, rows[0].GetProperty("offered").GetInt64());
        Assert.Equal(1, rows[0].GetProperty("answered").GetInt64());
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync(Ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("interval_start,queue,offered,answered", lines[0], StringComparison.Ordinal);
        Assert.Equal(2, lines.Length);
        Assert.Contains(list.EnumerateArray(), r => r.GetProperty("name").GetString() == "agent-activity");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("queue-traffic", (await unknown.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noFrom.StatusCode);
        Assert.True((await noFrom.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("errors").TryGetProperty("from", out _));
        Assert.Equal(HttpStatusCode.BadRequest, queueOnStateLog.StatusCode);
    }
}
