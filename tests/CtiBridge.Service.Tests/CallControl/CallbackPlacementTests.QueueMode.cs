using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>A queue's <c>callbackMode</c> (issue 11: agent-first by default, or customer-first, chosen per queue).</summary>
public sealed partial class CallbackPlacementTests
{
    [Fact]
    public async Task AQueueConfiguredCustomerFirst_PlacesItsCallersCallbacksCustomerFirst_AndARequestNamingAModeKeepsIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2020", "1020")], Customers(talkSeconds: 5), ct, answerAfterMs: 300, loggedIn: [], configure: c =>
        {
            c.Queues[0].ExitKeys = [new QueueExitKeySettings { Key = "1", Target = "callback" }];
            c.Queues[0].CallbackMode = "customerFirst";
        });
        await using var running = rig;

        // Nobody is logged in: the caller presses 1 (callback) and is released. Their callback takes the queue's mode.
        var caller = rig.Trunk.CallIn("4008001", "5552001", "Cy");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5552001", "the caller in the queue", ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        rig.Trunk.PressDigits(caller, "1");
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        var task = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5552001" && e.Caller.Attributes.ContainsKey("callbackId"), "the callback in the queue", ct);
        var owed = (await callbacks.GetAsync(Guid.Parse(task.Caller.Attributes["callbackId"]), ct))!;
        Assert.Equal((CallbackSource.Queue, CallbackMode.CustomerFirst), (owed.Source, owed.Mode));

        // Requests (API/CLI) without a mode take the queue's too; one naming agent-first keeps it.
        var tomorrow = DateTimeOffset.UtcNow.AddDays(1);
        var unnamed = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5552002", "support", tomorrow, null, "no mode", "api:test"), ct);
        var named = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5552003", "support", tomorrow, null, "agent first", "api:test") with { Mode = CallbackMode.AgentFirst }, ct);
        Assert.Equal((CallbackMode.CustomerFirst, CallbackMode.AgentFirst), (unnamed.Callback.Mode, named.Callback.Mode));

        // An agent comes: the customer is called first, then the agent, and the promise is kept. (The customer talks
        // 5 s from their answer: long enough for the agent's phone to ring and answer under load before they hang up.)
        await rig.LoginAsync("2020", ct);
        await CustomerCalledFirstAsync(rig, "1020", ct, trunkChannel: 2); // the first is the caller who pressed 1
        await StateAsync(callbacks, owed.Id, CallbackState.Connected, ct);
        await rig.AgentWentAsync("2020", AgentState.WrapUp, AgentState.Ready, ct);
    }
}
