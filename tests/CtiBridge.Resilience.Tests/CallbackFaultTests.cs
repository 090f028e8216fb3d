using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Due callbacks while Asterisk (PbxSim) restarts: callbacks are being placed (customers ringing,
/// customers talking with agents, tasks waiting for an agent) when every channel vanishes without an
/// event. What must be kept: every callback is kept (none left Dialing for ever, none closed without
/// the customer having talked to an agent), none is placed twice (one connected attempt each, no
/// attempt after it), every attempt is one outbound <c>calls</c> row, and the agents are Ready again.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class CallbackFaultTests
{
    private const int CallbackCount = 8;

    [Fact]
    public async Task PbxSimRestartsWhileCallbacksArePlaced_EveryCallbackConnectsOnce_NoneLostOrDuplicated()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var agents = CallTraffic.Agents(3);
        await using var rig = await CallCenterRig.StartAsync(database, CallTraffic.Queue(ringSeconds: 5), agents, ct, configureService: s =>
        {
            s.Callbacks.RetryDelay = TimeSpan.FromSeconds(1);
            s.Callbacks.MaxRetryDelay = TimeSpan.FromSeconds(1);
            s.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(5);
            s.Callbacks.CallerId = "4008001";
        });
        foreach (var (_, phone) in agents)
        {
            rig.Pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(200));
        }

        _ = rig.Trunk;
        rig.Pbx.DialledCustomers = new() { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 1, TalkSeconds = 1 };
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        await CallTraffic.EventuallyAsync(() => Task.FromResult(callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal)),
            () => Task.FromResult($"the callback scheduler to run (actor {callbacks.Actor})"), ct);
        foreach (var (agentId, _) in agents)
        {
            await rig.LoginAsync(agentId, ct);
        }

        // Eight callbacks due now, agent-first and customer-first alternately: three agents take three at
        // a time, the others wait as tasks in the queue.
        var ids = new List<Guid>();
        for (var i = 0; i < CallbackCount; i++)
        {
            var request = CallbackRequest.AgentScheduled($"55507{i:D2}", "support", DateTimeOffset.UtcNow, null, "restart test", "api:test")
                with { Mode = i % 2 == 0 ? CallbackMode.AgentFirst : CallbackMode.CustomerFirst };
            ids.Add((await callbacks.CreateAsync(request, ct)).Callback.Id);
        }

        // Mid-placement: a callback connected, another being placed (customers ringing 1 s), then Asterisk restarts.
        await CallTraffic.EventuallyAsync(
            async () => (await StatesAsync(callbacks, ids, ct)) is var states && states.Contains(CallbackState.Connected) && states.Contains(CallbackState.Dialing)
                && rig.Pbx.ChannelNames.Any(n => n.StartsWith("PJSIP/carrier-", StringComparison.Ordinal)),
            async () => $"a first callback connected while others are placed (states {string.Join(",", await StatesAsync(callbacks, ids, ct))})", ct);
        var connectedBefore = new HashSet<Guid>();
        foreach (var id in ids)
        {
            if ((await callbacks.GetAsync(id, ct))!.State == CallbackState.Connected)
            {
                connectedBefore.Add(id);
            }
        }

        var restartedAt = DateTimeOffset.UtcNow;
        rig.Pbx.Restart();

        // Every callback reaches Connected: those whose attempt died with Asterisk are placed again.
        // (Bounded: 60 s for at most three rounds of three agents, a retry delay of 1 s and calls of 1 s.)
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await StatesAsync(callbacks, ids, ct)).All(s => s == CallbackState.Connected))
        {
            Assert.True(DateTime.UtcNow < deadline, "every callback to connect after the restart: " + string.Join(" | ", await StoriesAsync(callbacks, ids, ct)));
            await Task.Delay(100, ct);
        }

        var allConnectedAt = DateTimeOffset.UtcNow;
        await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.ChannelNames.Count == 0),
            () => CallTraffic.StrandedStoryAsync(rig, ct), ct);
        foreach (var (agentId, _) in agents)
        {
            await CallTraffic.EventuallyAsync(async () => (await rig.Center.GetAgentAsync(agentId, ct))!.State == AgentState.Ready,
                async () => $"agent {agentId} is {(await rig.Center.GetAgentAsync(agentId, ct))!.State}, not Ready", ct);
        }

        // None placed twice: one Connected each, nothing after it; a callback connected before the restart
        // was never dialled again.
        var attempts = new Dictionary<Guid, int>();
        foreach (var id in ids)
        {
            var history = (await callbacks.HistoryAsync(id, ct)).Where(h => h.Kind == "transition").ToList();
            Assert.True(history.Count(h => h.To == CallbackState.Connected) == 1 && history[^1].To == CallbackState.Connected,
                $"callback {id}: {string.Join(" → ", history.Select(h => $"{h.To} ({h.Reason})"))}");
            var callback = (await callbacks.GetAsync(id, ct))!;
            if (connectedBefore.Contains(id))
            {
                Assert.Equal(1, callback.Attempts);
            }

            attempts[id] = callback.Attempts;
        }

        // Time to recover (measured, not asserted): from the restart until a callback is connected again, by the
        // stored transitions (the service's clock is the host's).
        var after = new List<CallbackTransition>();
        foreach (var id in ids)
        {
            after.AddRange((await callbacks.HistoryAsync(id, ct)).Where(h => h.Kind == "transition" && h.At > restartedAt));
        }

        var firstConnected = after.Where(h => h.To == CallbackState.Connected).Select(h => (DateTimeOffset?)h.At).Min();
        var firstDialling = after.Where(h => h.To == CallbackState.Dialing).Select(h => (DateTimeOffset?)h.At).Min();
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "callbacks: PbxSim restarted while due callbacks are placed",
            RecoveryReport.Between(restartedAt, firstConnected),
            $"from the restart until the next callback is connected (stored transition); the first one placed after it at {RecoveryReport.Between(restartedAt, firstDialling)}; every callback connected by {RecoveryReport.Between(restartedAt, allConnectedAt)} (polled every 100 ms); {connectedBefore.Count} of {CallbackCount} connected before it, 3 agents"));

        // Every attempt is one outbound row: the counted ones (the one that connected answered), and the
        // attempts Asterisk lost unseen, written as system_lost and not counted against the customer.
        await rig.StopServiceAsync();
        var lost = 0L;
        foreach (var id in ids)
        {
            var rows = await database.ScalarAsync<string>(
                $"SELECT (count(*) - count(*) FILTER (WHERE disposition = 'system_lost'))::text || '|' || count(*) FILTER (WHERE disposition = 'answered')::text FROM calls WHERE callback_id = '{id}' AND direction = 'outbound'", ct);
            Assert.Equal($"{attempts[id].ToString(CultureInfo.InvariantCulture)}|1", rows);
            lost += await database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE callback_id = '{id}' AND disposition = 'system_lost'", ct);
        }

        // (How many attempts the restart caught while customers rang varies with the moment: not asserted.)
        TestContext.Current.SendDiagnosticMessage($"attempts lost with Asterisk and placed again: {lost}");
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE callback_id IS NULL", ct));
    }

    private static async Task<List<CallbackState>> StatesAsync(CallbackService callbacks, List<Guid> ids, CancellationToken ct)
    {
        var states = new List<CallbackState>(ids.Count);
        foreach (var id in ids)
        {
            states.Add((await callbacks.GetAsync(id, ct))!.State);
        }

        return states;
    }

    private static async Task<List<string>> StoriesAsync(CallbackService callbacks, List<Guid> ids, CancellationToken ct)
    {
        var stories = new List<string>(ids.Count);
        foreach (var id in ids)
        {
            var history = await callbacks.HistoryAsync(id, ct);
            stories.Add($"{id}: {string.Join(" → ", history.Where(h => h.Kind == "transition").Select(h => $"{h.To} ({h.Reason})"))}");
        }

        return stories;
    }
}
