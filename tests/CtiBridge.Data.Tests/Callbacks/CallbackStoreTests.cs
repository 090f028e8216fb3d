using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Callbacks;

public sealed class CallbackStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);
    private static readonly CallbackPolicy Policy = new();

    private CallbackStore Store => new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewNumber() => "138" + Random.Shared.NextInt64(10_000_000, 99_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private Task<CallbackTicket> RequestAsync(CallbackRequest request, DateTimeOffset at) =>
        Store.RequestAsync(request, CallbackPlanner.Plan(Policy, request, at), Policy.Priority, Policy.MaxAttempts, at, Ct);

    [Fact]
    public async Task Request_StoresEveryFieldAndACreatedHistoryRow()
    {
        var number = NewNumber();
        var request = CallbackRequest.AgentScheduled(number, "sales", T0.AddDays(1), "1007", "reach the subscriber", "agent:1007")
            with { CustomerName = "Wang", Note = "called 11-29 about the bill", RequiredSkills = ["cantonese"] };

        var ticket = await RequestAsync(request, T0);

        Assert.False(ticket.Merged);
        var c = ticket.Callback;
        Assert.Equal((number, CallbackSource.Scheduled, CallbackState.Scheduled, "sales", "1007"), (c.Number, c.Source, c.State, c.Queue, c.OwnerAgentId));
        Assert.Equal(T0.AddDays(1), c.DueAt);
        Assert.Equal(T0.AddDays(1), c.PromisedAt);
        Assert.Null(c.Deadline);
        Assert.Equal(("Wang", "called 11-29 about the bill"), (c.CustomerName, c.Note));
        Assert.Equal(["cantonese"], c.RequiredSkills);
        Assert.Equal(1, c.Version);
        var history = await Store.HistoryAsync(c.Id, Ct);
        var created = Assert.Single(history);
        Assert.Equal(("created", (CallbackState?)null, CallbackState.Scheduled, "agent:1007"), (created.Kind, created.From, created.To, created.Actor));
    }

    [Fact]
    public async Task ThreeAbandonsFromOneNumber_AreOneCallback_WithTheEarliestDeadline()
    {
        var number = NewNumber();
        var first = await RequestAsync(CallbackRequest.AbandonedCall(number, "sales", "c1", TimeSpan.FromSeconds(40)), T0);
        var second = await RequestAsync(CallbackRequest.AbandonedCall(number, "sales", "c2", TimeSpan.FromSeconds(50)), T0.AddMinutes(2));
        var third = await RequestAsync(CallbackRequest.AbandonedCall(number, "support", "c3", TimeSpan.FromSeconds(60)), T0.AddMinutes(3));

        Assert.False(first.Merged);
        Assert.True(second.Merged);
        Assert.True(third.Merged);
        Assert.Equal(first.Callback.Id, third.Callback.Id);
        Assert.Equal(3, third.Callback.MergedRequests);
        Assert.Equal(T0.AddMinutes(10), third.Callback.Deadline);
        Assert.Equal(T0, third.Callback.DueAt);
        Assert.Single(await Store.OpenForNumberAsync(number, Ct));
        var kinds = (await Store.HistoryAsync(first.Callback.Id, Ct)).Select(h => h.Kind);
        Assert.Equal(["created", "merged", "merged"], kinds);
    }

    [Fact]
    public async Task AMergedEarlierRequest_MovesTheDueTimeForward()
    {
        var number = NewNumber();
        var booked = await RequestAsync(CallbackRequest.AgentScheduled(number, "sales", T0.AddHours(5), null, "tomorrow", "api:crm"), T0);
        var abandoned = await RequestAsync(CallbackRequest.AbandonedCall(number, "sales", "c9", TimeSpan.FromSeconds(30)), T0.AddHours(1));

        Assert.True(abandoned.Merged);
        Assert.Equal(booked.Callback.Id, abandoned.Callback.Id);
        Assert.Equal(T0.AddHours(1), abandoned.Callback.DueAt);
    }

    [Fact]
    public async Task AClosedCallback_DoesNotAbsorbANewRequest()
    {
        var number = NewNumber();
        var first = await RequestAsync(CallbackRequest.AbandonedCall(number, "sales", "c1", TimeSpan.FromSeconds(40)), T0);
        Assert.NotNull(await Store.MoveAsync(first.Callback.Id, CallbackStates.Open, CallbackState.Cancelled, new CallbackChange(T0.AddMinutes(1), "customer asked", "api:crm"), Ct));

        var second = await RequestAsync(CallbackRequest.AbandonedCall(number, "sales", "c2", TimeSpan.FromSeconds(40)), T0.AddMinutes(2));

        Assert.False(second.Merged);
        Assert.NotEqual(first.Callback.Id, second.Callback.Id);
    }

    [Fact]
    public async Task Move_HappensOnce_WhenManyRaceForIt()
    {
        var ticket = await RequestAsync(CallbackRequest.VoicemailLeft(NewNumber(), "sales", "c1", "vm-1"), T0);

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() =>
            Store.MoveAsync(ticket.Callback.Id, [CallbackState.Scheduled], CallbackState.Due, new CallbackChange(T0.AddSeconds(1), "due", $"instance-{i}"), Ct))));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(CallbackState.Due, winner!.State);
        var history = await Store.HistoryAsync(ticket.Callback.Id, Ct);
        Assert.Equal([1, 2], history.Select(h => h.Sequence));
        Assert.Equal((CallbackState?)CallbackState.Scheduled, history[1].From);
    }

    [Fact]
    public async Task Move_RecordsAttemptsDueTimeAndClosing()
    {
        var ticket = await RequestAsync(CallbackRequest.AbandonedCall(NewNumber(), "sales", "c1", TimeSpan.FromSeconds(40)), T0);
        var id = ticket.Callback.Id;
        await Store.MoveAsync(id, [CallbackState.Scheduled], CallbackState.Due, new CallbackChange(T0, "due", "test"), Ct);
        await Store.MoveAsync(id, [CallbackState.Due], CallbackState.Dialing, new CallbackChange(T0.AddSeconds(5), "agent 1007 reserved", "test") { CallId = "cb-call-1" }, Ct);
        var retry = await Store.MoveAsync(id, [CallbackState.Dialing], CallbackState.Retry, new CallbackChange(T0.AddSeconds(40), "no answer", "test") { AddAttempts = 1, DueAt = T0.AddMinutes(5) }, Ct);
        Assert.NotNull(retry);
        Assert.Equal((1, T0.AddMinutes(5), "cb-call-1", (DateTimeOffset?)null), (retry.Attempts, retry.DueAt, retry.LastCallId, retry.ClosedAt));

        var wrong = await Store.MoveAsync(id, [CallbackState.Dialing], CallbackState.Connected, new CallbackChange(T0.AddMinutes(1), "late answer", "test"), Ct);
        Assert.Null(wrong);

        await Store.MoveAsync(id, [CallbackState.Retry], CallbackState.Due, new CallbackChange(T0.AddMinutes(5), "due", "test"), Ct);
        await Store.MoveAsync(id, [CallbackState.Due], CallbackState.Dialing, new CallbackChange(T0.AddMinutes(5), "reserved", "test") { CallId = "cb-call-2" }, Ct);
        var done = await Store.MoveAsync(id, [CallbackState.Dialing], CallbackState.Connected, new CallbackChange(T0.AddMinutes(6), "customer answered", "test") { AddAttempts = 1, CallId = "cb-call-2" }, Ct);

        Assert.NotNull(done);
        Assert.Equal((2, T0.AddMinutes(6)), (done.Attempts, done.ClosedAt));
        Assert.Empty(await Store.OpenForNumberAsync(done.Number, Ct));
        Assert.Equal(7, (await Store.HistoryAsync(id, Ct)).Count);
    }

    [Fact]
    public async Task ListAndOverdue_FilterByStateQueueAndTime()
    {
        var queue = "q-" + Guid.NewGuid().ToString("N")[..8];
        var soon = await RequestAsync(CallbackRequest.AgentScheduled(NewNumber(), queue, T0.AddMinutes(1), "1007", null, "test"), T0);
        var later = await RequestAsync(CallbackRequest.AgentScheduled(NewNumber(), queue, T0.AddHours(1), null, null, "test"), T0);

        var all = await Store.ListAsync(new CallbackFilter { Queue = queue }, Ct);
        var owned = await Store.ListAsync(new CallbackFilter { Queue = queue, OwnerAgentId = "1007" }, Ct);
        var overdue = await Store.OverdueAsync(T0.AddMinutes(2), 1000, Ct);

        Assert.Equal([soon.Callback.Id, later.Callback.Id], all.Select(c => c.Id));
        Assert.Equal([soon.Callback.Id], owned.Select(c => c.Id));
        Assert.Contains(overdue, c => c.Id == soon.Callback.Id);
        Assert.DoesNotContain(overdue, c => c.Id == later.Callback.Id);
    }
}
