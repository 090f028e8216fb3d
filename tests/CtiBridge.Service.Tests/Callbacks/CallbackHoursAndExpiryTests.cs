using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Data.Exports;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>
/// <c>callbacks.hours</c> and the <c>expired</c> state on clustered Quartz with a fake clock: a callback
/// fired outside its hours waits for the next opening (not handed to the ACD), a queued one is taken
/// back when the hours close, per-queue hours win over the centre's, and a promise out of reach is
/// closed as expired (withdrawn, reported as lost).
/// </summary>
public sealed class CallbackHoursAndExpiryTests
{
    // Monday 30 November 2026.
    private static readonly DateTimeOffset Monday0900 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BusinessHours Office => BusinessHours.Weekdays(new(9, 0), new(18, 0));

    [Fact]
    public async Task ACallbackFiredAfterClosing_WaitsForTheNextOpening_ThenIsOffered()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(Monday0900.AddHours(8).AddMinutes(50)); // 17:50
        var policy = new CallbackPolicy { Hours = Office };
        Guid id;
        await using (var first = await CallbackNode.StartAsync(db, clock, policy))
        {
            // Due 17:58, inside the hours; the only node stops before it fires.
            var ticket = await first.Service.RequestAsync(CallbackRequest.AgentScheduled("13900000001", "sales", clock.GetUtcNow().AddMinutes(8), null, null, "test"), Ct);
            id = ticket!.Callback.Id;
            Assert.Equal(Monday0900.AddHours(8).AddMinutes(58), ticket.Callback.DueAt);
            await first.Scheduler.StopAsync(Ct);
        }

        // Back at 18:20: the misfired trigger fires at once, but the hours are closed.
        clock.Advance(TimeSpan.FromMinutes(30));
        await using var second = await CallbackNode.StartAsync(db, clock, policy);
        Assert.True(await Pump.UntilAsync(clock, async () => await second.Scheduler.NextFireAsync(id, Ct) == Monday0900.AddDays(1), TimeSpan.FromSeconds(1), 120));

        var waiting = (await second.Service.GetAsync(id, Ct))!;
        Assert.Equal((CallbackState.Scheduled, Monday0900.AddDays(1)), (waiting.State, waiting.DueAt));
        Assert.Empty(second.Placement.Offered);
        var moved = (await second.Service.HistoryAsync(id, Ct))[^1];
        Assert.Equal("rescheduled", moved.Kind);
        Assert.Contains("outside the callback hours", moved.Reason, StringComparison.Ordinal);

        // Tuesday 09:00: offered, once.
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!second.Placement.Offered.IsEmpty), TimeSpan.FromMinutes(5), 300));
        Assert.Equal(id, Assert.Single(second.Placement.Offered).Id);
        Assert.True(clock.GetUtcNow() >= Monday0900.AddDays(1));
    }

    [Fact]
    public async Task AQueuedCallback_IsTakenBackWhenTheHoursClose_AndAQueueWithItsOwnHoursIsNot()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(Monday0900.AddHours(8).AddMinutes(55)); // 17:55
        var lateShift = BusinessHours.Weekdays(new(9, 0), new(22, 0));
        var policy = new CallbackPolicy { Hours = Office, QueueHours = new Dictionary<string, BusinessHours> { ["night"] = lateShift } };
        await using var node = await CallbackNode.StartAsync(db, clock, policy);
        var sales = await node.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000002", "sales", "c1", "vm-1"), Ct);
        var night = await node.Service.RequestAsync(CallbackRequest.VoicemailLeft("13900000003", "night", "c2", "vm-2"), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(node.Placement.Offered.Count == 2), TimeSpan.FromSeconds(1)));

        // Nobody takes them; at 18:00 the sales hours close, the night queue's do not.
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!node.Placement.Withdrawn.IsEmpty), TimeSpan.FromSeconds(10), 120));

        var (withdrawn, reason) = Assert.Single(node.Placement.Withdrawn);
        Assert.Equal((sales!.Callback.Id, "callback hours closed"), (withdrawn.Id, reason));
        var salesNow = (await node.Service.GetAsync(sales.Callback.Id, Ct))!;
        Assert.Equal((CallbackState.Scheduled, Monday0900.AddDays(1)), (salesNow.State, salesNow.DueAt));
        Assert.Equal(CallbackState.Due, (await node.Service.GetAsync(night!.Callback.Id, Ct))!.State);
        Assert.Null(salesNow.PlacedBy);
    }

    [Fact]
    public async Task APromiseOutOfReach_Expires_IsWithdrawn_AndCountsAsLost()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        var clock = new FakeTimeProvider(Monday0900);
        var policy = new CallbackPolicy { ExpireAfter = TimeSpan.FromMinutes(20) };
        await using var node = await CallbackNode.StartAsync(db, clock, policy);
        var queue = "expiry";
        var abandoned = await node.Service.RequestAsync(CallbackRequest.AbandonedCall("13900000004", queue, "c1", TimeSpan.FromSeconds(40)), Ct);
        var later = await node.Service.RequestAsync(CallbackRequest.AgentScheduled("13900000005", queue, Monday0900.AddHours(2), null, null, "test"), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(node.Placement.Offered.Count == 1), TimeSpan.FromSeconds(1)));

        // Nobody takes the abandoned caller's callback: deadline 09:10, expires at 09:30 (the sweep runs every 30 s).
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(!node.Placement.Withdrawn.IsEmpty), TimeSpan.FromSeconds(10), 300));

        var expired = (await node.Service.GetAsync(abandoned!.Callback.Id, Ct))!;
        Assert.Equal(CallbackState.Expired, expired.State);
        // Not before its expiry (09:30); how soon after depends on when the sweep ran on a busy machine.
        Assert.True(expired.ClosedAt >= Monday0900.AddMinutes(30), $"expired at {expired.ClosedAt:O}");
        Assert.Equal((abandoned.Callback.Id, "expired"), (Assert.Single(node.Placement.Withdrawn).Callback.Id, Assert.Single(node.Placement.Withdrawn).Reason));
        Assert.Contains("out of reach", (await node.Service.HistoryAsync(expired.Id, Ct))[^1].Reason, StringComparison.Ordinal);
        Assert.Equal(CallbackState.Scheduled, (await node.Service.GetAsync(later!.Callback.Id, Ct))!.State);
        Assert.Null(await node.Service.CancelAsync(expired.Id, "too late", "test", Ct));

        // The number is free for a new promise (expired is closed). The new one is for another queue, so the
        // report below (queue "expiry") does not count it: report_callbacks judges "open past its deadline"
        // against the database's real now(), not this test's fake clock, so once the real time passed the fake
        // deadline (2026-11-30 from 09:40 on) it counted as lost, (1, 2). The request runs while the clock is
        // pumped: a Quartz write that fails its lock under load retries on the node's (fake) clock, and a
        // cancel awaited here unpumped once waited for ever.
        var requesting = node.Service.RequestAsync(CallbackRequest.AbandonedCall("13900000004", queue + "-later", "c9", TimeSpan.FromSeconds(40)), Ct);
        Assert.True(await Pump.UntilAsync(clock, () => Task.FromResult(requesting.IsCompleted), TimeSpan.FromSeconds(1), 120));
        var again = await requesting;
        Assert.False(again!.Merged);

        var report = ReportCatalog.Find("callbacks");
        await using var command = ReportCatalog.CreateCommand(db.DataSource, report,
            new ReportParameters { From = Monday0900.Date, To = Monday0900.Date.AddDays(1), Queue = queue });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal("abandoned", reader.GetString(reader.GetOrdinal("source")));
        Assert.Equal((1L, 1L, 1L), (reader.GetInt64(reader.GetOrdinal("requested")), reader.GetInt64(reader.GetOrdinal("expired")),
            reader.GetInt64(reader.GetOrdinal("lost"))));
    }
}
