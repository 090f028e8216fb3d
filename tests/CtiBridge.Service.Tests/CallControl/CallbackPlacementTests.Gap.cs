using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A callback's join lost in an ARI events gap (issue 14): an agent-first callback is connected when the customer
/// enters the agent's bridge (ChannelEnteredBridge). When that join happens while the events WebSocket is down, the
/// event goes nowhere; before, the callback stayed unconnected and, when the call ended, was retried although the
/// customer had been put through. The gap's resync now lists the bridges (and AMI's BridgeEnter, for a party who
/// joined and left inside the gap) and applies the join.
/// </summary>
public sealed partial class CallbackPlacementTests
{
    [Theory]
    [InlineData("in the bridge at the resync")]
    [InlineData("gone by the resync")]
    public async Task AgentFirst_TheCustomersJoinLostInAnEventsGap_IsAppliedAtTheResync_ConnectedOnce_NotRetried(string customer)
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2001", "1001")], Customers(talkSeconds: 600), ct);
        await using var running = rig;
        await rig.AgentWentAsync("2001", AgentState.LoggedOut, AgentState.Ready, ct);

        // The customer's join is held (the agent's is the first addChannel of the callback's bridge, the customer's the second).
        var adds = 0;
        var addHold = rig.Pbx.HoldAriRequests((method, path) => method == "POST" && path.EndsWith("/addChannel", StringComparison.Ordinal) && Interlocked.Increment(ref adds) == 2);
        var heldBefore = rig.Pbx.AriRequestsHeld;
        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550701", "support", DateTimeOffset.UtcNow, null, "join in a gap", "api:test"), ct);
        var dialled = await rig.PbxEvents.WaitForAsync<CtiBridge.Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal), "the customer to be dialled", ct);
        var customerChannel = dialled["DestChannel"]!;
        await UntilAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore), "the customer to answer and call control to ask for their join", ct);

        // The events stop being delivered, the join goes through, and the events connection drops with the join's
        // ChannelEnteredBridge undelivered: it is lost with the connection (AMI, a connection of its own, sees it).
        var events = rig.Pbx.HoldAriEvents();
        addHold.Dispose();
        await rig.PbxEvents.WaitAsync("BridgeEnter", customerChannel, ct);
        using (rig.Pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/events"))
        {
            heldBefore = rig.Pbx.AriRequestsHeld;
            rig.Pbx.DropAriConnections();
            await UntilAsync(() => Task.FromResult(rig.Pbx.AriRequestsHeld > heldBefore), "call control to try to reconnect its events", ct);
            events.Dispose(); // no subscriber now: the held events (the join among them) are lost
            if (customer == "gone by the resync")
            {
                // Joined and left inside the gap: only AMI saw either.
                rig.Trunk.HangUp(customerChannel);
                await rig.PbxEvents.WaitAsync("Hangup", customerChannel, ct);
            }
        }

        // Reconnected: the resync finds the customer in the agent's bridge (or AMI's BridgeEnter): connected, once.
        var connected = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Connected, ct);
        Assert.Equal(1, connected.Attempts);
        if (customer == "in the bridge at the resync")
        {
            rig.Trunk.HangUp(customerChannel);
        }

        // The call ends as a kept promise: the agent wraps up and is ready; nobody is dialled again.
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await UntilAsync(async () => await Db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE callback_id = '{ticket.Callback.Id}'", ct) == 1,
            "the attempt's call row", ct);
        Assert.Equal("answered|2001", await Db.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id) FROM calls WHERE callback_id = '{ticket.Callback.Id}'", ct));
        var history = await callbacks.HistoryAsync(ticket.Callback.Id, ct);
        Assert.Equal([CallbackState.Due, CallbackState.Dialing, CallbackState.Connected], history.Where(h => h.Kind == "transition").Select(h => h.To));
        Assert.Equal(CallbackState.Connected, (await callbacks.GetAsync(ticket.Callback.Id, ct))!.State);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal)));
    }

    /// <summary>A bounded poll (20 s) until <paramref name="condition"/> holds.</summary>
    private static async Task UntilAsync(Func<Task<bool>> condition, string what, CancellationToken ct)
    {
        for (var i = 0; i < 400; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50, ct);
        }

        throw new TimeoutException($"Waited 20 s for {what}.");
    }
}
