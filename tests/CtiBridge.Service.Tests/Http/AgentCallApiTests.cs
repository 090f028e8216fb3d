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

namespace CtiBridge.Service.Tests.Http;

/// <summary>
/// Call features and supervision over HTTP, against the real call control, PbxSim and PostgreSQL:
/// an agent key works its own call only, a supervisor key any call and supervisions; bad bodies are
/// 400s naming the field, refusals 409s with the reason; everything is audited.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AgentCallApiTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue(string name) => new()
    {
        Name = name, Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private static HttpClient Client(CallCenterRig rig, string token)
    {
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var client = new HttpClient { BaseAddress = new Uri(address) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<string> KeyAsync(ApiRole role, string? agent = null) =>
        (await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync($"{role}-{Guid.NewGuid():N}"[..24], role, agent, "test", Ct)).Token;

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("detail").GetString()!;

    [Fact]
    public async Task AgentKey_HoldsRetrievesMutesAndTransfersItsOwnCall_OtherAgentsKeyIsForbidden_SupervisorListens()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue("support"), [("2001", "1001"), ("2002", "1002")], Ct, configure: c =>
        {
            c.Queues.Add(Queue("billing"));
            c.Agents.Add(new CallAgentSettings { Id = "2003", Extension = "PJSIP/1003", PinHash = CallCenterRig.PinHash, Queues = ["billing"] });
            c.Supervisors.Add(new SupervisorSettings { Id = "9001", Extension = "PJSIP/1901", PinHash = CallCenterRig.PinHash });
        });
        foreach (var phone in new[] { "1001", "1003", "1901" })
        {
            rig.Pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(200));
        }

        using var agent = Client(rig, await KeyAsync(ApiRole.Agent, "2001"));
        using var colleague = Client(rig, await KeyAsync(ApiRole.Agent, "2002"));
        using var supervisor = Client(rig, await KeyAsync(ApiRole.Supervisor));
        using var reporting = Client(rig, await KeyAsync(ApiRole.Reporting));
        await rig.LoginAsync("2001", Ct);
        await rig.LoginAsync("2003", Ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        var agentLeg = (await rig.PbxEvents.DialToAsync("1001", Ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, Ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, Ct);

        // The agent's own key: hold (caller leaves the bridge onto music), retrieve, mute.
        var hold = await agent.PostAsync("/api/agents/2001/call/hold", null, Ct);
        Assert.Equal(HttpStatusCode.OK, hold.StatusCode);
        Assert.Equal("OnCall", (await hold.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("state").GetString());
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, Ct);
        Assert.Equal(HttpStatusCode.OK, (await agent.PostAsync("/api/agents/2001/call/retrieve", null, Ct)).StatusCode);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, Ct, nth: 2);
        Assert.Equal(HttpStatusCode.OK, (await agent.PostAsync("/api/agents/2001/call/mute", null, Ct)).StatusCode);
        await rig.AcdEvents.WaitForAsync<AgentMuteChanged>(e => e.Muted, "mute", Ct);

        // Another agent's key, a reporting key, bad bodies and refusals.
        Assert.Equal(HttpStatusCode.Forbidden, (await colleague.PostAsync("/api/agents/2001/call/hold", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reporting.PostAsync("/api/agents/2001/call/hold", null, Ct)).StatusCode);
        var twoTargets = await agent.PostAsJsonAsync("/api/agents/2001/call/transfer", new { queue = "billing", agent = "2003" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, twoTargets.StatusCode);
        Assert.Contains("exactly one of queue, agent or number", await twoTargets.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        var noDigits = await agent.PostAsJsonAsync("/api/agents/2001/call/dtmf", new { digits = "" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, noDigits.StatusCode);
        var outside = await agent.PostAsJsonAsync("/api/agents/2001/call/transfer", new { number = "13800001111" }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, outside.StatusCode);
        Assert.Equal("agent '2001' may not transfer to or invite outside numbers (callControl.agents[].externalTransfer is off)", await DetailAsync(outside));
        var noConsult = await agent.PostAsync("/api/agents/2001/call/consult/complete", null, Ct);
        Assert.Equal("no consultation in progress", await DetailAsync(noConsult));

        // A supervisor listens: 202, the supervisor's phone rings and is bridged with a snoop on the agent's leg.
        var noSupervisor = await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/listen", new { supervisorId = "" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, noSupervisor.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await agent.PostAsJsonAsync("/api/supervisor/agents/2001/listen", new { supervisorId = "9001" }, Ct)).StatusCode);
        var listen = await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/listen", new { supervisorId = "9001" }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, listen.StatusCode);
        var view = await listen.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal("listen", view.GetProperty("mode").GetString());
        Assert.Equal(rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId, view.GetProperty("callId").GetString());
        var supervisorLeg = (await rig.PbxEvents.DialToAsync("1901", Ct))["DestChannel"]!;
        var snoop = await rig.PbxEvents.WaitAsync("BridgeEnter", "Snoop/", Ct);
        Assert.Equal(agentLeg, rig.Pbx.SnoopOf(snoop["Channel"]!)!.Value.Spied);
        var unknown = await supervisor.PostAsJsonAsync("/api/supervisor/agents/2001/barge", new { supervisorId = "9999" }, Ct);
        Assert.Equal("supervisor '9999' is not configured in callControl.supervisors", await DetailAsync(unknown));

        // The supervisor's key transfers the agent's call blind to billing: the agent's leg and the listening supervisor are released.
        Assert.Equal(HttpStatusCode.OK, (await supervisor.PostAsJsonAsync("/api/agents/2001/call/transfer", new { queue = "billing" }, Ct)).StatusCode);
        await rig.PbxEvents.WaitAsync("Hangup", agentLeg, Ct);
        await rig.PbxEvents.WaitAsync("Hangup", supervisorLeg, Ct);
        await rig.AgentWentAsync("2003", AgentState.Ringing, AgentState.OnCall, Ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2003", AgentState.WrapUp, AgentState.Ready, Ct);

        var audited = await database.Database.ScalarAsync<string>(
            "SELECT string_agg(action || ' ' || outcome, ' | ' ORDER BY id) FROM audit_log WHERE role = 'supervisor' AND action LIKE 'POST%'", Ct);
        Assert.Equal("POST /api/supervisor/agents/2001/listen 400 | POST /api/supervisor/agents/2001/listen 202 | POST /api/supervisor/agents/2001/barge 409 | POST /api/agents/2001/call/transfer 200", audited);
    }
}
