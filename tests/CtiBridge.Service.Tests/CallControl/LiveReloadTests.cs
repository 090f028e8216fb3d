using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.Http;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Configuration changes without a restart, against the real host, PbxSim and PostgreSQL: the
/// watched file, the API, and queue members; a bad change is rejected with one line per problem
/// and the running configuration keeps serving calls.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class LiveReloadTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("ctibridge-reload-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue(string name = "support") => new()
    {
        Name = name, Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static Task<ConfigurationReloadResult> NextReloadAsync(ConfigurationReload reload, Func<Task> cause) => ConfigurationFile.NextReloadAsync(reload, cause, Ct);

    /// <summary>Edits the watched <paramref name="file"/> and waits for the reload it causes; the reload must be applied (else its problems are the failure).</summary>
    private static async Task<ConfigurationReloadResult> AppliedAsync(CallCenterRig rig, string file, Action<JsonNode> edit)
    {
        var result = await NextReloadAsync(rig.Services.GetRequiredService<ConfigurationReload>(), () => ConfigurationFile.EditAsync(file, edit, Ct));
        Assert.True(result.Applied, string.Join('\n', result.Problems));
        return result;
    }

    /// <summary>
    /// The service on the watched <paramref name="file"/> with two queues, support (DID 4008001) and sales
    /// (DID 4008002), and agent 2001 (phone 1001, logged out) a member of both.
    /// </summary>
    private Task<CallCenterRig> StartWithSalesAsync(string file) =>
        CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configurationFile: file,
            configure: cc =>
            {
                cc.Queues.Add(Queue("sales"));
                cc.Dids.Add(new DidRouteSettings { Number = "4008002", Queue = "sales" });
                cc.Agents[0].Queues.Add("sales");
            });

    [Fact]
    public async Task WatchedFile_GoodEditIsLive_BadEditRejectedWithOneLinePerProblem_OldKeepsServing()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], Ct, configurationFile: file);
        var reload = rig.Services.GetRequiredService<ConfigurationReload>();
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", Ct);

        // A new queue with its own DID; agent 2001 (logged in) joins it with penalty 2 and gets a skill.
        var applied = await AppliedAsync(rig, file, root =>
        {
            var cc = root["callControl"]!;
            cc["queues"]!.AsArray().Add(JsonNode.Parse("""{ "name": "sales", "strategy": "leastrecent", "ringTimeout": "00:00:10", "wrapUp": "00:00:00.5" }"""));
            cc["dids"]!.AsArray().Add(JsonNode.Parse("""{ "number": "4008002", "queue": "sales" }"""));
            var agent = cc["agents"]![0]!;
            agent["queues"]!.AsArray().Add("sales");
            agent["penalties"] = JsonNode.Parse("""{ "sales": 2 }""");
            agent["skills"] = JsonNode.Parse("""{ "english": 80 }""");
        });

        Assert.Empty(applied.RestartNeeded);
        var joined = await rig.AcdEvents.WaitForAsync<AgentQueuesChanged>(e => e.AgentId == "2001", "agent 2001 to join sales", Ct);
        Assert.Equal([new QueueMembership("support"), new QueueMembership("sales", 2)], joined.Queues);
        Assert.Equal(80, joined.Skills["english"]);
        Assert.Equal(["sales"], (await rig.AcdEvents.WaitForAsync<AcdReconfigured>(_ => true, "the reconfiguration", Ct)).QueuesAdded);

        // A call on the new DID reaches the new queue and the agent who joined it.
        var first = rig.Trunk.CallIn("4008002", "5550001", "First Caller");
        var offered = await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.Queue == "sales", "a sales call offered", Ct);
        Assert.Equal("2001", offered.AgentId);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, Ct);
        rig.Trunk.HangUp(first);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, Ct);

        // A bad edit: two mistakes, each named on its own line; nothing changes.
        var rejected = await NextReloadAsync(reload, () => ConfigurationFile.EditAsync(file, root =>
        {
            var cc = root["callControl"]!;
            cc["queues"]![1]!["strategy"] = "leastrecnt";
            cc["agents"]![1]!["queues"]!.AsArray().Add("salse");
        }, Ct));

        Assert.False(rejected.Applied);
        Assert.Equal(2, rejected.Problems.Count);
        Assert.Contains(rejected.Problems, p => p.StartsWith("callControl.queues[1].strategy: 'leastrecnt' is not a strategy", StringComparison.Ordinal) && p.EndsWith("did you mean 'leastrecent'?", StringComparison.Ordinal));
        Assert.Contains("callControl.agents[1].queues[1]: queue 'salse' is not configured in callControl.queues; did you mean 'sales'?", rejected.Problems);
        Assert.Equal("leastrecent", rig.Center.Settings.Queues[1].Strategy);

        // The old configuration still serves the new queue.
        var second = rig.Trunk.CallIn("4008002", "5550002", "Second Caller");
        var again = await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.Queue == "sales", "the second sales call offered", Ct, nth: 2);
        Assert.Equal("2001", again.AgentId);
        rig.Trunk.HangUp(second);
        Assert.Single(rig.AcdEvents.Snapshot().OfType<AcdReconfigured>());
    }

    [Fact]
    public async Task RemovingAQueueWithACallWaiting_IsRefusedLive_AndTheCallIsStillServed()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        await using var rig = await StartWithSalesAsync(file);
        var reload = rig.Services.GetRequiredService<ConfigurationReload>();
        var caller = rig.Trunk.CallIn("4008002", "5550003", "Waiting Caller");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Queue == "sales", "the call to wait in sales", Ct);

        var result = await NextReloadAsync(reload, () => ConfigurationFile.EditAsync(file, root =>
        {
            var cc = root["callControl"]!;
            cc["queues"]!.AsArray().RemoveAt(1);
            cc["dids"]!.AsArray().RemoveAt(1);
            cc["agents"]![0]!["queues"]!.AsArray().RemoveAt(1);
        }, Ct));

        Assert.False(result.Applied);
        Assert.Equal("callControl.queues: queue 'sales': cannot be removed while 1 call(s) are in it; remove it once it is empty (or send its calls elsewhere first)", Assert.Single(result.Problems));
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", Ct);
        var offered = await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.Queue == "sales", "the waiting call offered", Ct);
        Assert.Equal("2001", offered.AgentId);
        rig.Trunk.HangUp(caller);
    }

    [Fact]
    public async Task Api_ReplaceCallControl_AndQueueMembers_AdminAndSupervisorOnly_Audited()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], Ct,
            configure: cc => cc.Queues.Add(Queue("sales")));
        using var admin = await HttpApi.ClientAsync(rig, ApiRole.Admin, Ct);
        using var supervisor = await HttpApi.ClientAsync(rig, ApiRole.Supervisor, Ct);
        using var reporting = await HttpApi.ClientAsync(rig, ApiRole.Reporting, Ct);
        await rig.LoginAsync("2002", Ct);

        // No file: nothing to reload.
        var noFile = await admin.PostAsync("/api/config/reload", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, noFile.StatusCode);

        // Queue members: the supervisor adds 2002 to sales with penalty 3; the agent serves it at once.
        var added = await supervisor.PutAsJsonAsync("/api/queues/sales/members/2002", new { penalty = 3 }, Ct);
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        var view = await added.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal((3, true, "Ready"), (view.GetProperty("penalty").GetInt32(), view.GetProperty("serving").GetBoolean(), view.GetProperty("state").GetString()));
        Assert.Equal(1, (await rig.Center.GetQueuesAsync(Ct)).Single(q => q.Status.Queue == "sales").Status.LoggedIn);
        var members = await reporting.GetFromJsonAsync<JsonElement>("/api/queues/sales/members", Ct);
        Assert.Equal("2002", Assert.Single(members.EnumerateArray()).GetProperty("agentId").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await reporting.PutAsJsonAsync("/api/queues/sales/members/2001", new { penalty = 1 }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await supervisor.PutAsJsonAsync("/api/queues/salse/members/2002", new { penalty = 1 }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await supervisor.PutAsJsonAsync("/api/queues/sales/members/2002", new { penalty = -1 }, Ct)).StatusCode);

        var removed = await supervisor.DeleteAsync("/api/queues/sales/members/2002", Ct);
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.Equal(0, (await rig.Center.GetQueuesAsync(Ct)).Single(q => q.Status.Queue == "sales").Status.LoggedIn);
        Assert.Equal(HttpStatusCode.NotFound, (await supervisor.DeleteAsync("/api/queues/sales/members/2002", Ct)).StatusCode);

        // The whole section over the API: a bad one is rejected with the problems listed, a good one is live.
        var section = JsonNode.Parse(ConfigurationFile.Json(new CtiBridgeSettings { CallControl = rig.Center.Settings }))!["callControl"]!;
        section["queues"]![0]!["ringTimeout"] = "00:00:00";
        var bad = await admin.PutAsync("/api/config/call-control", new StringContent(section.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("callControl.queues[0].ringTimeout: 00:00:00 must be longer than zero", Assert.Single(problem.GetProperty("problems").EnumerateArray()).GetString());
        Assert.Equal(TimeSpan.FromSeconds(10), rig.Center.Settings.Queues[0].RingTimeout);

        section["queues"]![0]!["ringTimeout"] = "00:00:20";
        Assert.Equal(HttpStatusCode.Forbidden, (await supervisor.PutAsync("/api/config/call-control", new StringContent(section.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), Ct)).StatusCode);
        var good = await admin.PutAsync("/api/config/call-control", new StringContent(section.ToJsonString(), System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(20), rig.Center.Settings.Queues[0].RingTimeout);
        Assert.Equal(["support"], (await rig.AcdEvents.WaitForAsync<AcdReconfigured>(e => e.QueuesChanged.Count > 0, "support changed", Ct)).QueuesChanged);

        var audited = await database.Database.ScalarAsync<string>(
            "SELECT string_agg(action || ' ' || outcome, ' | ' ORDER BY id) FROM audit_log WHERE action LIKE '% /api/config/%' OR action LIKE '% /api/queues/sales/members/%'", Ct);
        Assert.Contains("PUT /api/queues/sales/members/2002 200", audited, StringComparison.Ordinal);
        Assert.Contains("DELETE /api/queues/sales/members/2002 204", audited, StringComparison.Ordinal);
        Assert.Contains("PUT /api/config/call-control 422", audited, StringComparison.Ordinal);
        Assert.Contains("PUT /api/config/call-control 200", audited, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RestartOnlySettings_ChangedByAReload_AreNamedInTheAnswerAndKeepTheirRunningValues()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configurationFile: file);
        using var admin = await HttpApi.ClientAsync(rig, ApiRole.Admin, Ct);

        // Every setting read only at start-up, changed at once, beside a live one (the ring timeout).
        await ConfigurationFile.EditAsync(file, root =>
        {
            var cc = root["callControl"]!;
            cc["highAvailability"] = true;
            cc["shutdown"]!["callsFinishWithin"] = "00:00:07";
            cc["shutdown"]!["handBackCalls"] = false;
            cc["recordJournalMaxMegabytes"] = 99;
            cc["recordJournalDirectory"] = Path.Combine(_directory, "journal");
            cc["customerLookup"] = JsonNode.Parse("""{ "url": "http://127.0.0.1:9/lookup?number={callerNumber}" }""");
            cc["queues"]![0]!["ringTimeout"] = "00:00:12";
            root["logging"]!["level"] = "Error";
            root["dialer"]!["planIntervalSeconds"] = 2;
            root["callbacks"]!["maxAttempts"] = 7;
            root["clickToDial"]!["context"] = "from-crm";
        }, Ct);
        var answer = await admin.PostAsync("/api/config/reload", null, Ct);

        Assert.True(answer.StatusCode == HttpStatusCode.OK, await answer.Content.ReadAsStringAsync(Ct));
        var view = await answer.Content.ReadFromJsonAsync<JsonElement>(Ct);
        string[] expected =
        [
            "callControl.customerLookup", "callControl.highAvailability", "callControl.recordJournalDirectory", "callControl.recordJournalMaxMegabytes",
            "callControl.shutdown.callsFinishWithin", "callControl.shutdown.handBackCalls", "callbacks", "clickToDial", "dialer", "logging",
        ];
        Assert.Equal(expected, view.GetProperty("restartNeeded").EnumerateArray().Select(e => e.GetString()!).Order(StringComparer.Ordinal));
        var message = view.GetProperty("message").GetString()!;
        Assert.Contains("callControl.highAvailability", message, StringComparison.Ordinal);
        Assert.Contains("only after a restart", message, StringComparison.Ordinal);

        // The live change is live; the restart-only ones keep what the service started with.
        var running = rig.Center.Settings;
        Assert.Equal(TimeSpan.FromSeconds(12), running.Queues[0].RingTimeout);
        Assert.False(running.HighAvailability);
        Assert.Equal((TimeSpan.Zero, true), (running.Shutdown.CallsFinishWithin, running.Shutdown.HandBackCalls));
        Assert.Equal(256, running.RecordJournalMaxMegabytes);
        Assert.Null(running.CustomerLookup);

        // Only highAvailability changed back: it alone is named again (the others still differ from the running values too).
        var again = await AppliedAsync(rig, file, root => root["callControl"]!["highAvailability"] = false);
        Assert.DoesNotContain("callControl.highAvailability", again.RestartNeeded);
        Assert.Contains("callControl.shutdown.handBackCalls", again.RestartNeeded);
    }

    [Fact]
    public async Task EmptyQueueRules_ChangedLive_ApplyToTheCallWaitingAndToTheNextCaller()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        await using var rig = await StartWithSalesAsync(file);

        // No agent logged in and no rule: the caller waits.
        var waiting = rig.Trunk.CallIn("4008002", "5550011", "Waiting Caller");
        var entered = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Queue == "sales", "the call to wait in sales", Ct);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallOverflowed>());

        // leaveWhen set on sales: the waiting caller leaves now (app_queue leavewhenempty).
        await AppliedAsync(rig, file, root => root["callControl"]!["queues"]![1]!["leaveWhen"] = "noAgentsLoggedIn");
        var overflowed = await rig.AcdEvents.WaitForAsync<CallOverflowed>(e => e.CallId == entered.CallId, "the waiting call to leave sales", Ct);
        Assert.Equal(OverflowCondition.NoAgents, overflowed.Condition);

        // refuseJoinWhen set on support: the next caller is refused at once; before the change a caller joined.
        var joined = rig.Trunk.CallIn("4008001", "5550012", "Joins");
        var first = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Queue == "support", "a support call to join", Ct);
        await AppliedAsync(rig, file, root => root["callControl"]!["queues"]![0]!["refuseJoinWhen"] = "noAgentsLoggedIn");
        Assert.Equal("noAgentsLoggedIn", rig.Center.Settings.Queues[0].RefuseJoinWhen);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallOverflowed>(), e => e.CallId == first.CallId);
        var refused = rig.Trunk.CallIn("4008001", "5550013", "Refused");
        var second = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Queue == "support" && e.CallId != first.CallId, "the second support call", Ct);
        var turnedAway = await rig.AcdEvents.WaitForAsync<CallOverflowed>(e => e.CallId == second.CallId, "the second support call to be refused", Ct);
        Assert.Equal((OverflowCondition.NoAgents, TimeSpan.Zero), (turnedAway.Condition, turnedAway.Wait));
        rig.Trunk.HangUp(waiting);
        rig.Trunk.HangUp(joined);
        rig.Trunk.HangUp(refused);
    }

    [Fact]
    public async Task QueueWeight_ChangedLive_DecidesWhichWaitingCallTheAgentTakes()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        await using var rig = await StartWithSalesAsync(file);

        // The support caller has waited longer; with equal weights the agent would take that call first.
        var older = rig.Trunk.CallIn("4008001", "5550021", "Older Support Caller");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Queue == "support", "the support call to wait", Ct);
        var newer = rig.Trunk.CallIn("4008002", "5550022", "Newer Sales Caller");
        var sales = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Queue == "sales", "the sales call to wait", Ct);

        // sales weighs 100 times as much: its caller's wait counts 100 times (app_queue weight).
        await AppliedAsync(rig, file, root => root["callControl"]!["queues"]![1]!["weight"] = 100);
        Assert.Equal(["sales"], (await rig.AcdEvents.WaitForAsync<AcdReconfigured>(_ => true, "the reconfiguration", Ct)).QueuesChanged);
        await rig.LoginAsync("2001", Ct);

        var offered = await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.AgentId == "2001", "the first call offered to 2001", Ct);
        Assert.Equal((sales.CallId, "sales"), (offered.CallId, offered.Queue));
        rig.Trunk.HangUp(older);
        rig.Trunk.HangUp(newer);
    }

    [Fact]
    public async Task Campaigns_InTheFile_AreStoredAtStartAndOnReload_StateKept_BadOneRejected()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        static CtiBridge.Core.Dialer.CampaignDefinition Campaign(string id, int maxAttempts = 5) => CtiBridge.Core.Dialer.CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "support", "mode": "Progressive", "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
              "maxAttempts": {{maxAttempts}}, "defaultTimeZone": "America/New_York" }
            """);
        var id = $"file-{Guid.NewGuid():N}"[..16];
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configurationFile: file,
            configureService: s => s.Campaigns = [Campaign(id)]);
        var store = new CtiBridge.Data.Dialer.CampaignStore(database.Database.DataSource, TimeProvider.System);

        // Stored at start-up (stopped, as every new campaign), once the schema is known current.
        var stored = await Eventually(() => store.GetAsync(id, Ct), c => c is not null, "the file's campaign to be stored");
        Assert.Equal((CtiBridge.Data.Dialer.CampaignState.Stopped, 5), (stored!.State, stored.Definition.MaxAttempts));
        Assert.True(await store.SetStateAsync(id, CtiBridge.Data.Dialer.CampaignState.Running, "supervisor", Ct));

        // A changed definition and a new campaign: both stored; the running one keeps running.
        var second = id + "-b";
        var result = await AppliedAsync(rig, file, root =>
        {
            root["campaigns"]![0]!["maxAttempts"] = 3;
            root["campaigns"]!.AsArray().Add(JsonNode.Parse(Campaign(second).ToJson()));
        });
        Assert.Equal([$"campaigns: '{id}' stored; the dialers take the new definition at their next campaign refresh", $"campaigns: '{second}' stored; the dialers take the new definition at their next campaign refresh"], result.Notes);
        var changed = await store.GetAsync(id, Ct);
        Assert.Equal((CtiBridge.Data.Dialer.CampaignState.Running, 3), (changed!.State, changed.Definition.MaxAttempts));
        Assert.NotNull(await store.GetAsync(second, Ct));
        Assert.Equal(1, await database.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE action = 'campaign put' AND target = '{second}' AND actor = 'configuration file'", Ct));

        // A bad campaign: the whole file is rejected, one line per problem, the stored campaigns stay as they were.
        var rejected = await NextReloadAsync(rig.Services.GetRequiredService<ConfigurationReload>(), () => ConfigurationFile.EditAsync(file, root =>
        {
            root["campaigns"]![0]!["maxAttempts"] = 4;
            root["campaigns"]![1]!["policy"] = "US-TRS";
            root["campaigns"]![1]!["agentGroup"] = "suport";
        }, Ct));
        Assert.False(rejected.Applied);
        Assert.Equal(["campaigns[1]: policy 'US-TRS' is unknown (US-TSR or UK-Ofcom)"], rejected.Problems);
        Assert.Equal(3, (await store.GetAsync(id, Ct))!.Definition.MaxAttempts);

        // Taken out of the file: it stays in the database as it is, and the answer says so.
        var removed = await AppliedAsync(rig, file, root =>
        {
            root["campaigns"]!.AsArray().RemoveAt(1);
            root["campaigns"]![0]!["maxAttempts"] = 3;
        });
        Assert.Equal([$"campaigns: '{second}' is no longer in the file; it stays in the database as it is (stop it with POST /api/campaigns/{second}/stop)"], removed.Notes);
        Assert.NotNull(await store.GetAsync(second, Ct));
    }

    /// <summary>Polls <paramref name="read"/> until <paramref name="done"/> (bounded: 15 s).</summary>
    private static async Task<T> Eventually<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(15));
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            try
            {
                await Task.Delay(50, limit.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Still waiting after 15 s for {what}.");
            }
        }
    }
}
