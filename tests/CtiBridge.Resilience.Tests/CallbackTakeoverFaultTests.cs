using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Due callbacks under an HA takeover (issues 11 and 14): the active instance A is placing callbacks (customers
/// talking with agents, customers ringing, tasks waiting for an agent, more becoming due) when its lease is lost
/// (its lock session ended by the database, as when its host dies); the standby B takes over. What must be kept:
/// every callback connects exactly once (none lost, none connected twice, nothing after its connection); one
/// connected before the takeover is never dialled again (PbxSim's call log); a callback is never dialled more
/// often than it has counted attempts (an attempt cut by the takeover is counted and placed again by B); each
/// callback has one answered <c>calls</c> row; the agents are Ready on B and no channel is left in PbxSim.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class CallbackTakeoverFaultTests
{
    private const int DueNow = 10;
    private const int DueDuringTakeover = 4;

    [Fact]
    public async Task ActiveLosesItsLeaseWhileCallbacksArePlaced_TheStandbyPlacesTheRest_EachConnectedOnce_NoneDialledTwiceAfterConnecting()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var agents = CallTraffic.Agents(3);
        await using var rig = await CallCenterRig.StartAsync(database, CallTraffic.Queue(ringSeconds: 5), agents, ct, configure: c => c.HighAvailability = true,
            configureService: s =>
            {
                s.Callbacks.RetryDelay = TimeSpan.FromSeconds(1);
                s.Callbacks.MaxRetryDelay = TimeSpan.FromSeconds(1);
                s.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(5);
                s.Callbacks.CallerId = "4008001";
                s.Callbacks.MaxAttempts = 10; // attempts cut by the takeover count: none may fail for it here
            });
        foreach (var (_, phone) in agents)
        {
            rig.Pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(200));
        }

        _ = rig.Trunk;
        rig.Pbx.DialledCustomers = new() { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 1, TalkSeconds = 2 };
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        await CallTraffic.EventuallyAsync(() => Task.FromResult(callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal)),
            () => Task.FromResult($"A's callback scheduler to run (actor {callbacks.Actor})"), ct);
        foreach (var (agentId, _) in agents)
        {
            await rig.LoginAsync(agentId, ct);
        }

        // The standby B: the same configuration and database, a journal of its own; it waits for the lease.
        var activeInstance = rig.Services.GetRequiredService<CallControlRole>().InstanceId;
        rig.Settings.CallControl.RecordJournalDirectory = Path.Combine(Path.GetTempPath(), "ctibridge-callback-takeover", Guid.NewGuid().ToString("N"));
        await using var standby = CtiBridgeHost.Build(rig.Settings);
        await standby.StartAsync(ct);
        var standbyRole = standby.Services.GetRequiredService<CallControlRole>();
        var store = new CallbackStore(database.DataSource);
        try
        {
            // Ten callbacks due now (agent-first and customer-first alternately: three agents take three at a time),
            // four more due a few seconds later, around the takeover.
            var numbers = new Dictionary<Guid, string>();
            for (var i = 0; i < DueNow + DueDuringTakeover; i++)
            {
                var number = $"55508{i:D2}";
                var due = DateTimeOffset.UtcNow + (i < DueNow ? TimeSpan.Zero : TimeSpan.FromSeconds(4));
                var request = CallbackRequest.AgentScheduled(number, "support", due, null, "takeover test", "api:test")
                    with { Mode = i % 2 == 0 ? CallbackMode.AgentFirst : CallbackMode.CustomerFirst };
                numbers[(await callbacks.CreateAsync(request, ct)).Callback.Id] = number;
            }

            var ids = numbers.Keys.ToList();

            // Mid-placement: a callback connected, another being dialled; then A's lock session ends.
            await CallTraffic.EventuallyAsync(
                async () => (await StatesAsync(store, ids, ct)) is var states && states.Contains(CallbackState.Connected) && states.Contains(CallbackState.Dialing),
                async () => $"a callback connected while others are dialled (states {string.Join(",", await StatesAsync(store, ids, ct))})", ct);
            var connectedBefore = new HashSet<Guid>();
            foreach (var id in ids)
            {
                if ((await store.GetAsync(id, ct))!.State == CallbackState.Connected)
                {
                    connectedBefore.Add(id);
                }
            }

            var lostAt = DateTimeOffset.UtcNow;
            Assert.Equal(1L, await database.ScalarAsync<long>(
                $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'ctibridge-lease:{activeInstance}'", ct));
            await CallTraffic.EventuallyAsync(() => Task.FromResult(standbyRole.IsActive), () => Task.FromResult("the standby to take over"), ct);
            var takeover = standbyRole.ActiveSince!.Value - lostAt;
            Assert.True(takeover < TimeSpan.FromSeconds(5), $"takeover took {takeover.TotalSeconds:F1} s");

            // B places the rest: every callback connects (bounded: a re-offer after A's stop, rounds of three calls of ~3 s).
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (!(await StatesAsync(store, ids, ct)).All(s => s == CallbackState.Connected))
            {
                Assert.True(DateTime.UtcNow < deadline, "every callback to connect after the takeover: " + string.Join(" | ", await StoriesAsync(store, ids, ct)));
                await Task.Delay(100, ct);
            }

            var allConnectedAt = DateTimeOffset.UtcNow;
            await CallTraffic.EventuallyAsync(() => Task.FromResult(rig.Pbx.ChannelNames.Count == 0),
                () => Task.FromResult("channels left in PbxSim: " + string.Join(", ", rig.Pbx.ChannelNames)), ct);
            var center = standby.Services.GetRequiredService<CallCenter>();
            foreach (var (agentId, _) in agents)
            {
                await CallTraffic.EventuallyAsync(async () => (await center.GetAgentAsync(agentId, ct))!.State == AgentState.Ready,
                    async () => $"agent {agentId} is {(await center.GetAgentAsync(agentId, ct))!.State} on B, not Ready", ct);
            }

            // PbxSim's call log: how often each customer was dialled through the trunk.
            var dials = rig.PbxEvents.Snapshot()
                .Where(e => e.EventName == "DialBegin" && (e["DialString"] ?? string.Empty).StartsWith("carrier/", StringComparison.Ordinal))
                .GroupBy(e => e["DialString"]!["carrier/".Length..]).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            var cut = 0;
            foreach (var id in ids)
            {
                var history = (await store.HistoryAsync(id, ct)).Where(h => h.Kind == "transition").ToList();
                Assert.True(history.Count(h => h.To == CallbackState.Connected) == 1 && history[^1].To == CallbackState.Connected,
                    $"callback {id}: {string.Join(" → ", history.Select(h => $"{h.To} ({h.Reason})"))}");
                var callback = (await store.GetAsync(id, ct))!;
                var dialled = dials.GetValueOrDefault(numbers[id]);
                Assert.True(dialled >= 1 && dialled <= callback.Attempts,
                    $"callback {id} ({numbers[id]}): dialled {dialled} times for {callback.Attempts} counted attempts");
                if (connectedBefore.Contains(id))
                {
                    Assert.Equal((1, 1), (dialled, callback.Attempts)); // connected before the takeover: never dialled again
                }

                cut += callback.Attempts - 1;
            }

            // Time to recover (measured, not asserted): from the lease's loss until the new active instance connects a
            // callback, by the stored transitions (the services' clock is the host's).
            var after = new List<CallbackTransition>();
            foreach (var id in ids)
            {
                after.AddRange((await store.HistoryAsync(id, ct)).Where(h => h.Kind == "transition" && h.At > standbyRole.ActiveSince!.Value));
            }

            var firstConnected = after.Where(h => h.To == CallbackState.Connected).Select(h => (DateTimeOffset?)h.At).Min();
            var firstDialling = after.Where(h => h.To == CallbackState.Dialing).Select(h => (DateTimeOffset?)h.At).Min();
            TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
                "callbacks: the active instance's lease lost while due callbacks are placed",
                RecoveryReport.Between(lostAt, firstConnected),
                $"from the lease's session ended until the standby, active since {RecoveryReport.Seconds(takeover)}, connects a callback (stored transition); its first one placed at {RecoveryReport.Between(lostAt, firstDialling)}; every callback connected by {RecoveryReport.Between(lostAt, allConnectedAt)} (polled every 100 ms); {connectedBefore.Count} of {DueNow + DueDuringTakeover} connected before it, 3 agents"));

            await standby.StopAsync(CancellationToken.None);
            foreach (var id in ids)
            {
                Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE callback_id = '{id}' AND disposition = 'answered'", ct));
            }

            Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM live_callback_calls", ct));
            TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture,
                $"takeover {takeover.TotalSeconds:F1} s; {connectedBefore.Count} connected before it; attempts cut by it and placed again: {cut}"));
        }
        finally
        {
            await standby.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<List<CallbackState>> StatesAsync(CallbackStore store, List<Guid> ids, CancellationToken ct)
    {
        var states = new List<CallbackState>(ids.Count);
        foreach (var id in ids)
        {
            states.Add((await store.GetAsync(id, ct))!.State);
        }

        return states;
    }

    private static async Task<List<string>> StoriesAsync(CallbackStore store, List<Guid> ids, CancellationToken ct)
    {
        var stories = new List<string>(ids.Count);
        foreach (var id in ids)
        {
            var history = await store.HistoryAsync(id, ct);
            stories.Add($"{id}: {string.Join(" → ", history.Where(h => h.Kind == "transition").Select(h => $"{h.To} ({h.Reason})"))}");
        }

        return stories;
    }
}
