using CtiBridge.Core.Callbacks;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>
/// Nothing owed is lost when an instance dies: a callback held (due or dialing) by an instance that
/// stops checking in to the Quartz cluster is offered again by another one, exactly once, and the dead
/// instance can no longer reserve it; an abandoned caller whose request was not stored before the
/// process died (their <c>live_calls</c> row is still marked) is requested by the sweep, once.
/// Fake clock shared by the nodes and Quartz.
/// </summary>
public sealed class CallbackRecoveryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 10, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<long> CountAsync(TestDatabase db, string sql) => await db.ScalarAsync<long>(sql, Ct);

    [Fact]
    public async Task CallbacksHeldByACrashedInstance_AreOfferedAgainByTheOther_Once()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        var doomed = await CallbackNode.StartAsync(db, clock, instanceId: "node-doomed", options: CallbackNode.QuickDeath);
        await using var survivor = await CallbackNode.StartAsync(db, clock, instanceId: "node-survivor", start: false, options: CallbackNode.QuickDeath);

        // Both become due on the doomed node (the survivor's Quartz is not running yet); one is being dialled there.
        var queued = await doomed.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000011", "sales", "c1", "vm-1"), Ct);
        var dialled = await doomed.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000012", "sales", "c2", "vm-2"), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(doomed.Placement.Offered.Count == 2), TimeSpan.FromSeconds(1)));
        Assert.Equal("node-doomed", (await doomed.Service.GetAsync(queued!.Callback.Id, Ct))!.PlacedBy);
        Assert.NotNull(await doomed.Service.AgentReservedAsync(dialled!.Callback.Id, "1007", "cb-1", Ct));

        // The doomed node dies without a word (its heartbeat count stops; its row stays, as after a kill);
        // the survivor watches the count stand still for 2 s of real time, then offers again what it held.
        await doomed.Scheduler.DisposeAsync();
        await survivor.Scheduler.StartAsync(Ct);
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM callback_events WHERE kind = 'reoffered'"));
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(survivor.Placement.Offered.Count >= 2), TimeSpan.FromSeconds(5), 400));
        clock.Advance(TimeSpan.FromMinutes(2));
        await Task.Delay(300, Ct);

        Assert.Equal(new[] { queued.Callback.Id, dialled.Callback.Id }.Order(), survivor.Placement.Offered.Select(c => c.Id).Order());
        var again = (await survivor.Service.GetAsync(dialled.Callback.Id, Ct))!;
        Assert.Equal((CallbackState.Due, 1, "node-survivor"), (again.State, again.Attempts, again.PlacedBy));
        Assert.Equal(0, (await survivor.Service.GetAsync(queued.Callback.Id, Ct))!.Attempts);
        Assert.Equal(2, await CountAsync(db, "SELECT count(*) FROM callback_events WHERE kind = 'reoffered'"));
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM callback_instances WHERE instance_id = 'node-doomed'")); // holds nothing now: its row went

        // The dead node's late reserve (a stalled, not dead, instance) is refused; the survivor's is not.
        Assert.Null(await doomed.Service.AgentReservedAsync(queued.Callback.Id, "1008", "cb-late", Ct));
        Assert.NotNull(await survivor.Service.AgentReservedAsync(queued.Callback.Id, "1009", "cb-2", Ct));
    }

    [Fact]
    public async Task CancelledOrRescheduledOnAnotherInstance_LeavesTheHoldersAcdWithinAHeartbeat()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var holder = await CallbackNode.StartAsync(db, clock, instanceId: "node-holder", options: CallbackNode.QuickDeath);
        await using var other = await CallbackNode.StartAsync(db, clock, instanceId: "node-other", start: false, options: CallbackNode.QuickDeath);
        var cancelled = (await holder.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000041", "sales", "c1", "vm-1"), Ct))!.Callback.Id;
        var moved = (await holder.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000042", "sales", "c2", "vm-2"), Ct))!.Callback.Id;
        var kept = (await holder.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000043", "sales", "c3", "vm-3"), Ct))!.Callback.Id;
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(holder.Placement.Offered.Count == 3), TimeSpan.FromSeconds(1)));

        // The API on the other instance changes two of them; the holder's ACD still has them queued.
        Assert.NotNull(await other.Service.CancelAsync(cancelled, "customer asked", "api:crm", Ct));
        Assert.NotNull(await other.Service.RescheduleAsync(moved, clock.GetUtcNow().AddHours(1), "api:crm", Ct));

        // The holder's next heartbeat (every 200 ms of real time here) withdraws them; bounded real wait.
        for (var i = 0; i < 100 && holder.Placement.Withdrawn.Count < 2; i++)
        {
            await Task.Delay(100, Ct);
        }

        Assert.Equal(
            new[] { (cancelled, "cancelled (changed elsewhere)"), (moved, "rescheduled (changed elsewhere)") }.Order(),
            holder.Placement.Withdrawn.Select(w => (w.Callback.Id, w.Reason)).Order());
        await Task.Delay(500, Ct); // a few more beats: withdrawn once each, and the kept one stays
        Assert.Equal(2, holder.Placement.Withdrawn.Count);
        Assert.DoesNotContain(holder.Placement.Withdrawn, w => w.Callback.Id == kept);
        Assert.NotNull(await holder.Service.AgentReservedAsync(kept, "1007", "cb-1", Ct));
    }

    [Fact]
    public async Task AGracefullyStoppedInstance_IsGoneAtOnce_ItsCallbacksOfferedAgain()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        var leaving = await CallbackNode.StartAsync(db, clock, instanceId: "node-leaving");
        await using var staying = await CallbackNode.StartAsync(db, clock, instanceId: "node-staying", start: false);
        var held = await leaving.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000031", "sales", "c1", "vm-1"), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(leaving.Placement.Offered.Count == 1), TimeSpan.FromSeconds(1)));

        // A graceful stop leaves (its heartbeat row goes): the other's first beat, at its start, offers the callback
        // again without waiting for any dead-after limit (the default 20 s here).
        await leaving.Scheduler.StopAsync(Ct);
        await leaving.DisposeAsync();
        await staying.Scheduler.StartAsync(Ct);

        Assert.Equal(held!.Callback.Id, Assert.Single(staying.Placement.Offered).Id);
        Assert.Equal("node-staying", (await staying.Service.GetAsync(held.Callback.Id, Ct))!.PlacedBy);
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM callback_instances WHERE instance_id = 'node-leaving'"));
    }

    [Fact]
    public async Task AnAbandonWhoseRequestWasNotStored_IsRequestedByTheSweep_Once()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock, start: false);
        var hungUp = T0.AddSeconds(-40);

        // The process died between the hang-up (row marked) and the request: three callers' rows are left.
        // A: owed a callback. B: its request was stored just before the crash. C: withheld number. D: short wait.
        var existing = await node.Service.RequestAsync(CallbackRequest.AbandonedCall("13900000022", "sales", "call-b", TimeSpan.FromSeconds(50)), Ct);
        await using (var insert = db.DataSource.CreateCommand("""
            INSERT INTO live_calls (call_id, server, channel_id, queue, visit, queues, started_at, first_enqueued_at, enqueued_at,
                caller_number, caller_name, is_vip, required_skills, ivr_path, attribute_names, attribute_values, updated_at, abandoned_at)
            SELECT id, 'pbx1', 'chan-' || id, 'sales', 1, ARRAY['sales'], @hung - wait, @hung - wait, @hung - wait,
                number, 'Ann', false, '{}', '{}', '{}', '{}', @hung, @hung
            FROM (VALUES ('call-a', '13900000021', interval '45 s'), ('call-b', '13900000022', interval '50 s'),
                         ('call-c', NULL, interval '60 s'), ('call-d', '13900000024', interval '2 s')) AS t(id, number, wait)
            """))
        {
            insert.Parameters.AddWithValue("hung", hungUp);
            await insert.ExecuteNonQueryAsync(Ct);
        }

        await node.Service.SweepAsync(Ct);
        await node.Service.SweepAsync(Ct);

        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM live_calls"));
        var a = Assert.Single(await node.Service.ListAsync(new Data.Callbacks.CallbackFilter { Number = "13900000021" }, Ct));
        Assert.Equal(("call-a", CallbackSource.Abandoned, hungUp.AddMinutes(10), 1), (a.OriginCallId, a.Source, a.Deadline!.Value, a.MergedRequests));
        Assert.Equal("Ann", a.CustomerName);
        Assert.Equal(1, (await node.Service.GetAsync(existing!.Callback.Id, Ct))!.MergedRequests);
        Assert.Equal(2, await CountAsync(db, "SELECT count(*) FROM callbacks"));
    }
}
