using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>
/// Quartz (clustered ADO store on PostgreSQL) driving callbacks. Time: Quartz runs on the same
/// FakeTimeProvider as the service (IQuartzBuilder.UseTimeProvider); tests advance it in steps and
/// let Quartz's threads run (Pump.UntilAsync), so "10 minutes of downtime" takes no real 10 minutes.
/// Every test gets its own database (Quartz state is per database).
/// </summary>
public sealed class CallbackSchedulerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Number(int i) => "1390000" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<long> CountAsync(TestDatabase db, string sql) => await db.ScalarAsync<long>(sql, Ct);

    [Fact]
    public async Task ADueCallback_IsHandedToTheAcd_Once()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock);

        var ticket = await node.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(1), "sales", T0.AddMinutes(2), null, "tomorrow", "test"), Ct);
        Assert.NotNull(ticket);
        Assert.Equal(T0.AddMinutes(2), await node.Scheduler.NextFireAsync(ticket.Callback.Id, Ct));
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!node.Placement.Offered.IsEmpty), TimeSpan.FromSeconds(5)));

        var offered = Assert.Single(node.Placement.Offered);
        Assert.Equal((ticket.Callback.Id, CallbackState.Due), (offered.Id, offered.State));
        Assert.True(clock.GetUtcNow() >= T0.AddMinutes(2));
        var history = await node.Service.HistoryAsync(ticket.Callback.Id, Ct);
        var due = Assert.Single(history, h => h.Kind == "transition");
        Assert.Equal((CallbackState?)CallbackState.Scheduled, due.From);
        Assert.StartsWith("scheduler:", due.Actor, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AfterDowntime_EveryMissedCallbackFiresOnceOnRestart()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        const int count = 200;
        var ids = new List<Guid>();
        await using (var first = await CallbackNode.StartAsync(db, clock))
        {
            for (var i = 0; i < count; i++)
            {
                var t = await first.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(i), "sales", T0.AddMinutes(1).AddSeconds(i % 30), null, null, "test"), Ct);
                ids.Add(t!.Callback.Id);
            }

            await first.Scheduler.StopAsync(Ct);
            Assert.Empty(first.Placement.Offered);
        }

        // The whole centre is down for 10 minutes: every trigger misfires (threshold 60 s).
        clock.Advance(TimeSpan.FromMinutes(10));
        await using var second = await CallbackNode.StartAsync(db, clock);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(second.Placement.Offered.Count >= count), TimeSpan.FromSeconds(1)));
        // The first firing hands the others on at once; their own triggers then fire and find nothing to do (bounded wait).
        Assert.True(await Pump.UntilAsync(clock, async () => await CountAsync(db, "SELECT count(*) FROM qrtz_triggers WHERE trigger_group = 'callbacks' AND trigger_name <> 'callback-sweep'") == 0, TimeSpan.FromSeconds(1)));
        clock.Advance(TimeSpan.FromMinutes(1));
        await Task.Delay(200, Ct);

        Assert.Equal(count, second.Placement.Offered.Count);
        Assert.Equal(ids.Order(), second.Placement.Offered.Select(c => c.Id).Order());
        Assert.Equal(count, await CountAsync(db, "SELECT count(*) FROM callback_events WHERE kind = 'transition' AND to_state = 'due'"));
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM qrtz_triggers WHERE trigger_group = 'callbacks' AND trigger_name <> 'callback-sweep'"));
    }

    /// <summary>
    /// A Quartz store write that fails transiently (SQLSTATE 40001, as a deadlock or serialization failure under
    /// load) is retried at once. Quartz waits its transient-retry interval on the scheduler's TimeProvider: with the
    /// default (1 s) and a fake clock nobody moves while the write is awaited, the request hung for ever. The first
    /// insert of a callback's trigger fails once (a database trigger raises 40001); the request still completes, with
    /// its trigger stored, and the clock never moved.
    /// </summary>
    [Fact]
    public async Task AQuartzWriteThatFailsTransiently_IsRetriedAtOnce_NotAfterAWaitOnTheFakeClock()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock);
        await using (var failOnce = db.DataSource.CreateCommand("""
            CREATE SEQUENCE test_trigger_failures;
            CREATE FUNCTION test_fail_first_callback_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.trigger_group = 'callbacks' AND NEW.trigger_name <> 'callback-sweep' AND nextval('test_trigger_failures') = 1 THEN
                    RAISE EXCEPTION 'test: transient failure of a trigger write' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_fail_first_callback_trigger BEFORE INSERT ON qrtz_triggers FOR EACH ROW EXECUTE FUNCTION test_fail_first_callback_trigger();
            """))
        {
            await failOnce.ExecuteNonQueryAsync(Ct);
        }

        // Bounded in real time: before the fix this wait ran out (the retry waited 1 s of a clock that never moves).
        var ticket = await node.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(7), "sales", T0.AddMinutes(5), null, "retried", "test"), Ct)
            .WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(T0, clock.GetUtcNow());
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT last_value FROM test_trigger_failures", Ct)); // the failed insert, then the retried one
        Assert.Equal(T0.AddMinutes(5), await node.Scheduler.NextFireAsync(ticket!.Callback.Id, Ct));
    }

    /// <summary>
    /// Quartz's other wait: its cluster lock is a row of <c>qrtz_locks</c> taken with <c>SELECT … FOR UPDATE</c> and
    /// inserted the first time a lock is used. When taking or inserting it fails, Quartz 4.7's lock handler tries again
    /// after its <c>RetryPeriod</c> (1 s) on the store's TimeProvider: with a fake clock nobody moved, this request hung
    /// (found by this test, 2026-11-30). CtiBridge's handler (<c>LockRowRetriedAtOnce</c>) does not wait. The tries
    /// after a failure run in PostgreSQL's aborted transaction and fail too (25P02), so Quartz reports the trigger
    /// not written; the request still stands (the record is the source of truth) and the sweep hands the callback on
    /// once due. Shown here: the lock row is missing and its first insert fails (a database trigger raises 40001); the
    /// request completes in bounded real time, the fake clock never moved, and the callback is handed on exactly once.
    /// </summary>
    [Fact]
    public async Task ALockRowThatFailsOnce_NeitherHangsOnTheFakeClock_NorLosesTheCallback()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock, start: false); // nothing else takes the lock meanwhile
        await using (var failOnce = db.DataSource.CreateCommand("""
            DELETE FROM qrtz_locks;
            CREATE SEQUENCE test_lock_failures;
            CREATE FUNCTION test_fail_first_lock_row() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('test_lock_failures') = 1 THEN
                    RAISE EXCEPTION 'test: transient failure of the lock row' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_fail_first_lock_row BEFORE INSERT ON qrtz_locks FOR EACH ROW EXECUTE FUNCTION test_fail_first_lock_row();
            """))
        {
            await failOnce.ExecuteNonQueryAsync(Ct);
        }

        // Bounded in real time: a retry waiting on the scheduler's clock would never end here.
        var ticket = await node.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(8), "sales", T0.AddMinutes(5), null, "lock failed", "test"), Ct)
            .WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(T0, clock.GetUtcNow());
        Assert.True(await db.ScalarAsync<long>("SELECT last_value FROM test_lock_failures", Ct) >= 1, "the lock row's insert was tried and failed");
        Assert.Equal("scheduled", await db.ScalarAsync<string>($"SELECT state FROM callbacks WHERE callback_id = '{ticket!.Callback.Id}'", Ct));

        // Kept whichever way: handed on once due, by its trigger or (not written) by the sweep from the record.
        await node.Scheduler.StartAsync(Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!node.Placement.Offered.IsEmpty), TimeSpan.FromSeconds(10)));
        Assert.Equal(ticket.Callback.Id, Assert.Single(node.Placement.Offered).Id);
    }

    // Was explicit: in CI it offered 75-141 callbacks twice, because the orphan sweep judged Quartz's check-in stamps
    // (fake clock) taken at real-time intervals. Liveness is now heartbeat counts over real elapsed time
    // (callback_instances, CallbackInstanceWatch): no clock is compared, see WallClockJumps_ReofferNothing.
    [Fact]
    public async Task TwoInstancesOnOneDatabase_PlaceEachCallbackOnce()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var a = await CallbackNode.StartAsync(db, clock, instanceId: "node-a");
        await using var b = await CallbackNode.StartAsync(db, clock, instanceId: "node-b");
        const int count = 300;
        for (var i = 0; i < count; i++)
        {
            var node = i % 2 == 0 ? a : b;
            await node.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(i), "sales", T0.AddSeconds(30 + (i % 20)), null, null, "test"), Ct);
        }

        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(a.Placement.Offered.Count + b.Placement.Offered.Count >= count), TimeSpan.FromSeconds(1)));

        // Two minutes in 5 s steps, so both nodes check in to the cluster as time passes: one jump of two
        // minutes let the first node to check in see the other 2 min behind (dead) and offer its callbacks again.
        for (var step = 0; step < 24; step++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(25, Ct);
        }

        await Task.Delay(300, Ct);

        var all = a.Placement.Offered.Concat(b.Placement.Offered).Select(c => c.Id).ToList();
        Assert.Equal(count, all.Count);
        Assert.Equal(count, all.Distinct().Count());
        Assert.Equal(count, await CountAsync(db, "SELECT count(*) FROM callback_events WHERE kind = 'transition' AND to_state = 'due'"));
        Assert.Equal(2, await CountAsync(db, "SELECT count(*) FROM qrtz_scheduler_state WHERE sched_name = 'ctibridge'"));
    }

    /// <summary>
    /// The centre's clock jumps minutes at once, again and again, while two live nodes hold due callbacks
    /// and watch each other for longer than their dead-after limit (2 s of real time, heartbeats every
    /// 200 ms): neither is taken for dead, nothing is offered again. With the old Quartz check-in
    /// comparison the first jump of more than 22.5 s made the node that checked in last look dead.
    /// </summary>
    [Fact]
    public async Task WallClockJumps_ReofferNothing()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var a = await CallbackNode.StartAsync(db, clock, instanceId: "node-a", options: CallbackNode.QuickDeath);
        await using var b = await CallbackNode.StartAsync(db, clock, instanceId: "node-b", options: CallbackNode.QuickDeath);
        const int count = 40;
        for (var i = 0; i < count; i++)
        {
            await (i % 2 == 0 ? a : b).Service.RequestAsync(CallbackRequest.AgentScheduled(Number(i), "sales", T0.AddSeconds(10 + i), null, null, "test"), Ct);
        }

        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(a.Placement.Offered.Count + b.Placement.Offered.Count >= count), TimeSpan.FromSeconds(1)));
        var beatsBefore = await CountAsync(db, "SELECT min(beats) FROM callback_instances");

        // Three times the dead-after limit of real time, the clock jumping 3 minutes every 100 ms.
        var watched = System.Diagnostics.Stopwatch.StartNew();
        while (watched.Elapsed < CallbackNode.QuickDeath.InstanceDeadAfter * 3)
        {
            clock.Advance(TimeSpan.FromMinutes(3));
            await Task.Delay(100, Ct);
        }

        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM callback_events WHERE kind = 'reoffered'"));
        var all = a.Placement.Offered.Concat(b.Placement.Offered).Select(c => c.Id).ToList();
        Assert.Equal(count, all.Distinct().Count());
        Assert.Equal(count, all.Count);
        Assert.Equal(count, await CountAsync(db, "SELECT count(*) FROM callbacks WHERE state = 'due' AND placed_by IN ('node-a', 'node-b')"));
        // Both kept beating and looking at each other the whole time (the judgement was made, and said alive).
        Assert.Equal(2, await CountAsync(db, "SELECT count(*) FROM callback_instances"));
        Assert.True(await CountAsync(db, "SELECT min(beats) FROM callback_instances") >= beatsBefore + 10);
    }

    [Fact]
    public async Task ALostTrigger_IsFoundByTheSweep()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock);
        var ticket = await node.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(7), "sales", T0.AddMinutes(1), null, null, "test"), Ct);
        // As if the process died between committing the record and storing the trigger.
        Assert.True(await node.Scheduler.UnscheduleAsync(ticket!.Callback.Id, Ct));

        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!node.Placement.Offered.IsEmpty), TimeSpan.FromSeconds(5)));

        Assert.Equal(ticket.Callback.Id, Assert.Single(node.Placement.Offered).Id);
    }

    [Fact]
    public async Task AnOverdueAbandonCallback_EscalatesOnce_AndAReminderPrecedesAScheduledOne()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock);
        var abandoned = await node.Service.RequestAsync(CallbackRequest.AbandonedCall(Number(1), "sales", "c1", TimeSpan.FromSeconds(45)), Ct);
        var booked = await node.Service.RequestAsync(CallbackRequest.AgentScheduled(Number(2), "sales", T0.AddMinutes(20), "1007", "the bill", "agent:1007"), Ct);

        // Nobody takes the abandoned caller's callback (it stays due): past the 10-minute deadline it escalates.
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!node.Observer.Escalations.IsEmpty && !node.Observer.Reminders.IsEmpty), TimeSpan.FromSeconds(10)));
        clock.Advance(TimeSpan.FromMinutes(2));
        await Task.Delay(200, Ct);

        Assert.Equal(abandoned!.Callback.Id, Assert.Single(node.Observer.Escalations).Id);
        var reminder = Assert.Single(node.Observer.Reminders);
        Assert.Equal(booked!.Callback.Id, reminder.Id);
        Assert.NotNull((await node.Service.GetAsync(abandoned.Callback.Id, Ct))!.EscalatedAt);
    }

    [Fact]
    public async Task ShortAbandon_IsNoCallback_AndCallingInAgainResolvesTheOpenOne()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock, start: false);

        Assert.Null(await node.Service.RequestAsync(CallbackRequest.AbandonedCall(Number(1), "sales", "c1", TimeSpan.FromSeconds(3)), Ct));
        Assert.Null(await node.Service.RequestAsync(CallbackRequest.AbandonedCall("", "sales", "c2", TimeSpan.FromSeconds(30)), Ct));
        var ticket = await node.Service.RequestAsync(CallbackRequest.AbandonedCall(Number(1), "sales", "c3", TimeSpan.FromSeconds(30)), Ct);
        Assert.NotNull(await node.Scheduler.NextFireAsync(ticket!.Callback.Id, Ct));

        Assert.Equal(1, await node.Service.ResolveByInboundAsync(Number(1), "c4", Ct));

        var closed = await node.Service.GetAsync(ticket.Callback.Id, Ct);
        Assert.Equal(CallbackState.ResolvedByInbound, closed!.State);
        Assert.Null(await node.Scheduler.NextFireAsync(ticket.Callback.Id, Ct));
        Assert.Equal(0, await node.Service.ResolveByInboundAsync(Number(1), "c5", Ct));
    }

    [Fact]
    public async Task BadRequests_AreClearErrors_AndStoreNothing()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock, start: false);

        var noNumber = await Assert.ThrowsAsync<ArgumentException>(() => node.Service.RequestAsync(CallbackRequest.AgentScheduled(" ", "sales", T0.AddHours(1), null, null, "test"), Ct));
        var letters = await Assert.ThrowsAsync<ArgumentException>(() => node.Service.RequestAsync(CallbackRequest.VoicemailLeft("call-me", "sales", "c1", "vm"), Ct));
        var noDue = await Assert.ThrowsAsync<ArgumentException>(() => node.Service.RequestAsync(new CallbackRequest { Number = "123", Source = CallbackSource.Scheduled, Queue = "sales" }, Ct));

        Assert.Contains("Number is empty", noNumber.Message, StringComparison.Ordinal);
        Assert.Contains("'call-me'", letters.Message, StringComparison.Ordinal);
        Assert.Contains("DueAt", noDue.Message, StringComparison.Ordinal);
        var checkedQueues = new CallbackService(new CallbackStore(db.DataSource), new CallbackPolicy(), clock, node.Placement, [],
            Microsoft.Extensions.Logging.Abstractions.NullLogger<CallbackService>.Instance, q => q == "sales");
        var unknownQueue = await Assert.ThrowsAsync<ArgumentException>(() => checkedQueues.RequestAsync(CallbackRequest.VoicemailLeft("123", "slaes", "c1", "vm"), Ct));
        Assert.Contains("Queue 'slaes' is not configured", unknownQueue.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(db, "SELECT count(*) FROM callbacks"));
    }

    [Fact]
    public async Task Attempts_RetryWithBackoff_ThenFail_AndAConnectedCallbackIsClosed()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        var policy = new CallbackPolicy { MaxAttempts = 2, RetryDelay = TimeSpan.FromMinutes(5) };
        await using var node = await CallbackNode.StartAsync(db, clock, policy);
        var ticket = await node.Service.RequestAsync(CallbackRequest.VoicemailLeft(Number(3), "sales", "c1", "vm-1"), Ct);
        var id = ticket!.Callback.Id;
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(node.Placement.Offered.Count == 1), TimeSpan.FromSeconds(1)));

        Assert.NotNull(await node.Service.AgentReservedAsync(id, "1007", "cb-1", Ct));
        var retry = await node.Service.AttemptEndedAsync(id, "cb-1", CallbackAttemptOutcome.NoAnswer, Ct);
        Assert.Equal((CallbackState.Retry, 1), (retry!.State, retry.Attempts));
        Assert.Equal(clock.GetUtcNow().AddMinutes(5), retry.DueAt);

        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(node.Placement.Offered.Count == 2), TimeSpan.FromSeconds(10)));
        Assert.NotNull(await node.Service.AgentReservedAsync(id, "1008", "cb-2", Ct));
        var failed = await node.Service.AttemptEndedAsync(id, "cb-2", CallbackAttemptOutcome.Busy, Ct);
        Assert.Equal((CallbackState.Failed, 2), (failed!.State, failed.Attempts));

        var other = await node.Service.RequestAsync(CallbackRequest.VoicemailLeft(Number(4), "sales", "c2", "vm-2"), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(node.Placement.Offered.Count == 3), TimeSpan.FromSeconds(1)));
        await node.Service.AgentReservedAsync(other!.Callback.Id, "1007", "cb-3", Ct);
        var missed = await node.Service.AttemptEndedAsync(other.Callback.Id, "cb-3", CallbackAttemptOutcome.AgentMissed, Ct);
        Assert.Equal((CallbackState.Due, 0), (missed!.State, missed.Attempts));
        Assert.Equal(4, node.Placement.Offered.Count);
        await node.Service.AgentReservedAsync(other.Callback.Id, "1008", "cb-4", Ct);
        var connected = await node.Service.ConnectedAsync(other.Callback.Id, "cb-4", Ct);
        Assert.Equal((CallbackState.Connected, 1), (connected!.State, connected.Attempts));
    }

    [Fact]
    public async Task RescheduleAndCancel_MoveTheTrigger_AndWithdrawFromTheAcd()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock);
        var ticket = await node.Service.RequestAsync(CallbackRequest.VoicemailLeft(Number(5), "sales", "c1", "vm-1"), Ct);
        var id = ticket!.Callback.Id;
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(node.Placement.Offered.Count == 1), TimeSpan.FromSeconds(1)));

        var later = clock.GetUtcNow().AddHours(2);
        var moved = await node.Service.RescheduleAsync(id, later, "api:crm", Ct);
        Assert.Equal((CallbackState.Scheduled, later), (moved!.State, moved.DueAt));
        Assert.Equal(later, await node.Scheduler.NextFireAsync(id, Ct));
        Assert.Equal("rescheduled", Assert.Single(node.Placement.Withdrawn).Reason);

        var cancelled = await node.Service.CancelAsync(id, "customer asked", "api:crm", Ct);
        Assert.Equal(CallbackState.Cancelled, cancelled!.State);
        Assert.Null(await node.Scheduler.NextFireAsync(id, Ct));
        Assert.Null(await node.Service.CancelAsync(id, "again", "api:crm", Ct));
        var list = await node.Service.ListAsync(new CallbackFilter { States = CallbackStates.Open }, Ct);
        Assert.Empty(list);
    }
}
