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
        var doomed = await CallbackNode.StartAsync(db, clock, instanceId: "node-doomed");
        await using var survivor = await CallbackNode.StartAsync(db, clock, instanceId: "node-survivor", start: false);

        // Both become due on the doomed node (the survivor's Quartz is not running yet); one is being dialled there.
        var queued = await doomed.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000011", "sales", "c1", "vm-1"), Ct);
        var dialled = await doomed.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000012", "sales", "c2", "vm-2"), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(doomed.Placement.Offered.Count == 2), TimeSpan.FromSeconds(1)));
        Assert.Equal("node-doomed", (await doomed.Service.GetAsync(queued!.Callback.Id, Ct))!.PlacedBy);
        Assert.NotNull(await doomed.Service.AgentReservedAsync(dialled!.Callback.Id, "1007", "cb-1", Ct));

        // The doomed node dies without a word (its Quartz stops checking in); the survivor runs on.
        await doomed.Scheduler.DisposeAsync();
        await survivor.Scheduler.StartAsync(Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(survivor.Placement.Offered.Count >= 2), TimeSpan.FromSeconds(5), 120));
        clock.Advance(TimeSpan.FromMinutes(2));
        await Task.Delay(300, Ct);

        Assert.Equal(new[] { queued.Callback.Id, dialled.Callback.Id }.Order(), survivor.Placement.Offered.Select(c => c.Id).Order());
        var again = (await survivor.Service.GetAsync(dialled.Callback.Id, Ct))!;
        Assert.Equal((CallbackState.Due, 1, "node-survivor"), (again.State, again.Attempts, again.PlacedBy));
        Assert.Equal(0, (await survivor.Service.GetAsync(queued.Callback.Id, Ct))!.Attempts);
        Assert.Equal(2, await CountAsync(db, "SELECT count(*) FROM callback_events WHERE kind = 'reoffered'"));

        // The dead node's late reserve (a stalled, not dead, instance) is refused; the survivor's is not.
        Assert.Null(await doomed.Service.AgentReservedAsync(queued.Callback.Id, "1008", "cb-late", Ct));
        Assert.NotNull(await survivor.Service.AgentReservedAsync(queued.Callback.Id, "1009", "cb-2", Ct));
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
