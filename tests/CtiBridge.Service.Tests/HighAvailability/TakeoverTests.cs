using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.HighAvailability;

/// <summary>
/// HA takeover end to end (issue 14): two service instances on one PostgreSQL and one PbxSim. Only
/// the lease holder controls calls; when its lease is lost mid-traffic (its lock session ended by
/// the database, as when its host dies), it stops call control at once and the standby takes over
/// within 5 s, adopts the calls in the Stasis app and the agents' states, and every call that
/// entered ends exactly once in the records.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class TakeoverTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ActiveLosesItsLeaseMidTraffic_StandbyTakesOverWithin5s_EveryCallEndsOnceAndNoCallHasTwoControllers()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        await using var pair = await HaPair.StartAsync(db, "ctibridge-takeover", ct);
        var rig = pair.Active;
        var activeRole = pair.ActiveRole;
        var standbyRole = pair.StandbyRole;
        var standbyCenter = pair.StandbyCenter;
        var standbyEvents = pair.StandbyEvents;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct); // a standby retries every second
            Assert.False(standbyRole.IsActive, "the standby took control while the active instance held the lease");

            // Traffic: 6 callers; two agents take calls, 2003 is paused, the rest wait.
            var callers = new Dictionary<string, string>(StringComparer.Ordinal);
            for (var i = 1; i <= 6; i++)
            {
                var number = $"55500{i:00}";
                callers[number] = rig.Trunk.CallIn("4008001", number, $"Caller {i}");
            }

            await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the sixth call enqueued", ct, nth: 6);
            await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "two calls answered", ct, nth: 2);
            await WaitAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct) == 6
                && await db.ScalarAsync<long>("SELECT count(*) FROM live_calls WHERE agent_id IS NOT NULL", ct) == 2, "the live state of 6 calls", ct);

            // The active instance's lock session ends (as when its host dies): it must stop at once.
            var lostAt = DateTimeOffset.UtcNow;
            await pair.EndActiveLeaseAsync(db, ct);
            await WaitAsync(() => Task.FromResult(standbyRole.IsActive), "the standby to take over", ct);
            Assert.True(standbyRole.ActiveSince!.Value - lostAt < TimeSpan.FromSeconds(5), $"takeover took {(standbyRole.ActiveSince.Value - lostAt).TotalSeconds:F1} s");
            Assert.False(activeRole.IsActive);
            var adopted = await standbyEvents.WaitForAsync<CallAdopted>(_ => true, "six calls adopted", ct, nth: 6);
            Assert.Equal(2, standbyEvents.Snapshot().OfType<CallAdopted>().Count(e => e.AgentId is not null));
            var paused = (await standbyCenter.GetAgentAsync("2003", ct))!;
            Assert.Equal((AgentState.Paused, "training"), (paused.State, paused.PauseReason));

            // No call had two controllers: the old instance published nothing once the standby was active.
            var activeSince = standbyRole.ActiveSince.Value;
            Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e.At >= activeSince);

            // The standby serves the traffic to the end: connected callers hang up, waiting ones get agents.
            var enqueued = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().ToList();
            var ended = new HashSet<string>(StringComparer.Ordinal);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(Bound);
            while (ended.Count < enqueued.Count)
            {
                foreach (var answered in standbyEvents.Snapshot().OfType<CallAnswered>().Select(a => a.CallId)
                    .Concat(standbyEvents.Snapshot().OfType<CallAdopted>().Where(a => a.AgentId is not null).Select(a => a.CallId)))
                {
                    var number = enqueued.Single(e => e.CallId == answered).Caller.CallerNumber!;
                    if (callers.Remove(number, out var channel))
                    {
                        rig.Trunk.HangUp(channel);
                    }
                }

                ended.UnionWith(standbyEvents.Snapshot().OfType<CallEnded>().Select(e => e.CallId));
                await Task.Delay(50, bound.Token);
            }

            Assert.Empty(callers);
            Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallEnded>());
        }
        finally
        {
            await pair.StopStandbyAsync();
        }

        // Every call that entered ends exactly once in the records.
        var ids = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().Select(e => e.CallId).ToList();
        Assert.Equal(6, ids.Count);
        var list = string.Join(",", ids.Select(id => $"'{id}'"));
        Assert.Equal(6L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id IN ({list})", ct));
        Assert.Equal(6L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id IN ({list}) AND disposition = 'answered'", ct));
        Assert.Equal(6L, await db.ScalarAsync<long>($"SELECT count(*) FROM queue_visits WHERE call_id IN ({list})", ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    private static Task WaitAsync(Func<Task<bool>> condition, string what, CancellationToken ct) => HaPair.WaitAsync(condition, what, ct);
}
