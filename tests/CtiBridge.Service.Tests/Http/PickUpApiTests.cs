using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Live;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Live;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Http;

/// <summary>
/// Call pickup over HTTP (<c>POST /api/agents/{id}/call/pickup</c>) against the real call control,
/// PbxSim and PostgreSQL: the picker's phone rings, and answered takes the call ringing a colleague;
/// a phone that does not answer leaves the agent ready and the call ringing on; refusals are 409s
/// with the reason; <c>call.pickedUp</c> reaches the event stream and a webhook.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class PickUpApiTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private const string Secret = "webhook-test-secret-0123456789"; // the receiver checks signatures with this one

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue(string name) => new()
    {
        // The first agent's phone rings on, unanswered, until picked up.
        Name = name, Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(60), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("detail").GetString()!;

    [Fact]
    public async Task PickUp_PickersPhoneRingsAndTakesTheCall_UnansweredRingLeavesTheAgentReady_EventOnStreamAndWebhook()
    {
        await using var receiver = await WebhookTests.Receiver.StartAsync(failFirst: 0);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue("support"), [("2001", "1001"), ("2002", "1002")], Ct,
            configure: c =>
            {
                c.Queues.Add(Queue("billing"));
                c.Agents.Add(new CallAgentSettings { Id = "2003", Extension = "PJSIP/1003", PinHash = CallCenterRig.PinHash, Queues = ["billing"] });
            },
            configureService: s => s.Webhooks =
            [
                new WebhookSettings { Name = "crm", Url = receiver.Url, Secret = Secret, Events = ["call.pickedUp"], RetryDelay = TimeSpan.FromMilliseconds(50), MaxAttempts = 5 },
            ]);
        using var picker = await HttpApi.ClientAsync(rig, ApiRole.Agent, Ct, "2002");
        using var otherAgent = await HttpApi.ClientAsync(rig, ApiRole.Agent, Ct, "2001");
        using var crm = await HttpApi.ClientAsync(rig, ApiRole.Integration, Ct);
        await using var events = await SseClient.ConnectAsync(crm, "/api/events?types=call.pickedUp", Ct);
        // Registered; it rings and nobody answers (a phone left to PbxSim's default answers after 1 s, which under
        // load came before the pickups and took the call: the 409 "nothing is ringing" seen once).
        rig.Pbx.Phone("1001").NeverAnswers();
        await rig.LoginAsync("2001", Ct);
        await rig.LoginAsync("2003", Ct);

        // Nothing ringing yet, and a logged-out picker: refused with the reason.
        var notLoggedIn = await picker.PostAsJsonAsync("/api/agents/2002/call/pickup", new { }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, notLoggedIn.StatusCode);
        Assert.Equal("agent '2002' is not logged in", await DetailAsync(notLoggedIn));
        var nothing = await crm.PostAsync("/api/agents/2003/call/pickup", null, Ct);
        Assert.Equal("nothing is ringing in the queues of agent '2003' to pick up", await DetailAsync(nothing));

        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane");
        var ringingLeg = (await rig.PbxEvents.DialToAsync("1001", Ct))["DestChannel"]!;
        await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Ringing, Ct);
        var callId = rig.AcdEvents.Snapshot().OfType<CallOffered>().Single().CallId;
        await rig.LoginAsync("2002", Ct);

        // Another agent's key, an unknown call, an agent of another queue.
        Assert.Equal(HttpStatusCode.Forbidden, (await otherAgent.PostAsync("/api/agents/2002/call/pickup", null, Ct)).StatusCode);
        var unknown = await picker.PostAsJsonAsync("/api/agents/2002/call/pickup", new { callId = "no-such-call" }, Ct);
        Assert.Equal("call 'no-such-call' is not ringing an agent; nothing to pick up", await DetailAsync(unknown));
        var otherQueue = await crm.PostAsJsonAsync("/api/agents/2003/call/pickup", new { callId }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, otherQueue.StatusCode);
        Assert.Equal($"agent '2003' does not serve queue 'support' of call '{callId}'", await DetailAsync(otherQueue));

        // The picker's phone rejects the pickup ring: the agent is ready again (no miss), the call rings 2001 on.
        rig.Pbx.Phone("1002").Rejects(TimeSpan.FromMilliseconds(100));
        var first = await picker.PostAsJsonAsync("/api/agents/2002/call/pickup", new { callId }, Ct);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(callId, (await first.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("callId").GetString());
        var held = await rig.AgentWentAsync("2002", AgentState.Ready, AgentState.Paused, Ct);
        Assert.Equal((PauseReasons.PickUp, ChangeSource.System), (held.Reason, held.Source));
        var rejected = (await rig.PbxEvents.DialToAsync("1002", Ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("Hangup", rejected, Ct);
        await rig.AgentWentAsync("2002", AgentState.Paused, AgentState.Ready, Ct);
        Assert.Equal(AgentState.Ringing, (await rig.Center.GetAgentAsync("2001", Ct))!.State);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallPickedUp>());

        // Now it answers: the call is picked up on that channel; 2001's ring stops without a miss.
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        var second = await picker.PostAsync("/api/agents/2002/call/pickup", null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var pickerRing = await rig.PbxEvents.DialToAsync("1002", Ct, nth: 2);
        Assert.Equal("[support] Jane", pickerRing["DestCallerIDName"]);
        var picked = await rig.AcdEvents.WaitForAsync<CallPickedUp>(_ => true, "the call to be picked up", Ct);
        Assert.Equal(("2002", "support", "2001", callId), (picked.AgentId, picked.Queue, string.Join(',', picked.RingingAgentIds), picked.CallId));
        await rig.AgentWentAsync("2002", AgentState.Paused, AgentState.OnCall, Ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.Ready, Ct);
        await rig.PbxEvents.WaitAsync("Hangup", ringingLeg, Ct);
        var callerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, Ct);
        var pickerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", pickerRing["DestChannel"]!, Ct);
        Assert.Equal(callerInBridge["BridgeUniqueid"], pickerInBridge["BridgeUniqueid"]);
        var figures = (await rig.Center.GetAgentsAsync(Ct)).ToDictionary(a => a.Status.AgentId, a => a.Statistics);
        Assert.Equal((0, 0), (figures["2001"].Missed, figures["2001"].Calls));
        Assert.Equal((0, 1), (figures["2002"].Missed, figures["2002"].Calls));

        // The event stream and the webhook carry call.pickedUp.
        var streamed = await events.WaitForAsync("call.pickedUp", _ => true, Ct);
        Assert.Equal(("2002", callId, "support"), (streamed.GetProperty("agentId").GetString(), streamed.GetProperty("callId").GetString(), streamed.GetProperty("queue").GetString()));
        Assert.Equal(["2001"], streamed.GetProperty("ringingAgentIds").EnumerateArray().Select(v => v.GetString()));
        await receiver.WaitForAsync(r => r.Accepted && r.Event == "call.pickedUp", Ct);
        var hooked = Assert.Single(receiver.Requests, r => r.Accepted);
        Assert.True(hooked.SignatureValid);
        Assert.Equal(callId, hooked.Body.GetProperty("callId").GetString());

        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2002", AgentState.OnCall, AgentState.WrapUp, Ct);
        await rig.StopServiceAsync();
        var id = callId.Replace("'", "''", StringComparison.Ordinal);
        Assert.Equal("support|answered|2002", await database.Database.ScalarAsync<string>($"SELECT concat_ws('|', queue, outcome, agent_id) FROM queue_visits WHERE call_id = '{id}'", Ct));
        var audited = await database.Database.ScalarAsync<string>(
            "SELECT string_agg(outcome::text, ',' ORDER BY id) FROM audit_log WHERE action = 'POST /api/agents/2002/call/pickup'", Ct);
        Assert.Equal("409,403,409,202,202", audited);
    }
}
