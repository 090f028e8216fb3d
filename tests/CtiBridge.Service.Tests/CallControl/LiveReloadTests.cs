using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
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
    private static readonly TimeSpan ReloadLimit = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("ctibridge-reload-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue(string name = "support") => new()
    {
        Name = name, Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Waits (bounded) for the next reload attempt to finish and returns its outcome.</summary>
    private static async Task<ConfigurationReloadResult> NextReloadAsync(ConfigurationReload reload, Func<Task> cause)
    {
        var done = new TaskCompletionSource<ConfigurationReloadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnCompleted(ConfigurationReloadResult r) => done.TrySetResult(r);
        reload.Completed += OnCompleted;
        try
        {
            await cause();
            return await done.Task.WaitAsync(ReloadLimit, Ct);
        }
        finally
        {
            reload.Completed -= OnCompleted;
        }
    }

    [Fact]
    public async Task WatchedFile_GoodEditIsLive_BadEditRejectedWithOneLinePerProblem_OldKeepsServing()
    {
        var file = Path.Combine(_directory, "ctibridge.json");
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], Ct, configurationFile: file);
        var reload = rig.Services.GetRequiredService<ConfigurationReload>();
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", Ct);

        // A new queue with its own DID; agent 2001 (logged in) joins it with penalty 2 and gets a skill.
        var applied = await NextReloadAsync(reload, () => ConfigurationFile.EditAsync(file, root =>
        {
            var cc = root["callControl"]!;
            cc["queues"]!.AsArray().Add(JsonNode.Parse("""{ "name": "sales", "strategy": "leastrecent", "ringTimeout": "00:00:10", "wrapUp": "00:00:00.5" }"""));
            cc["dids"]!.AsArray().Add(JsonNode.Parse("""{ "number": "4008002", "queue": "sales" }"""));
            var agent = cc["agents"]![0]!;
            agent["queues"]!.AsArray().Add("sales");
            agent["penalties"] = JsonNode.Parse("""{ "sales": 2 }""");
            agent["skills"] = JsonNode.Parse("""{ "english": 80 }""");
        }, Ct));

        Assert.True(applied.Applied, string.Join('\n', applied.Problems));
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
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configurationFile: file,
            configure: cc =>
            {
                cc.Queues.Add(Queue("sales"));
                cc.Dids.Add(new DidRouteSettings { Number = "4008002", Queue = "sales" });
                cc.Agents[0].Queues.Add("sales");
            });
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
        using var admin = Client(rig, await KeyAsync(ApiRole.Admin));
        using var supervisor = Client(rig, await KeyAsync(ApiRole.Supervisor));
        using var reporting = Client(rig, await KeyAsync(ApiRole.Reporting));
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

    private static HttpClient Client(CallCenterRig rig, string token)
    {
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var client = new HttpClient { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<string> KeyAsync(ApiRole role) =>
        (await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync($"{role}-{Guid.NewGuid():N}"[..24], role, null, "test", Ct)).Token;
}
