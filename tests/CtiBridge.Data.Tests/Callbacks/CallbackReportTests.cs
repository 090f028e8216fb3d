using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Data.Exports;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Callbacks;

/// <summary>report_callbacks against a hand-counted day (times in the past, so "open past its deadline" is settled).</summary>
public sealed class CallbackReportTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly CallbackPolicy Policy = new();

    private CallbackStore Store => new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<Guid> RequestAsync(CallbackRequest request, DateTimeOffset at) =>
        (await Store.RequestAsync(request, CallbackPlanner.Plan(Policy, request, at), Policy.Priority, Policy.MaxAttempts, at, Ct)).Callback.Id;

    private async Task ConnectAsync(Guid id, DateTimeOffset at)
    {
        await Store.MoveAsync(id, [CallbackState.Scheduled], CallbackState.Due, new CallbackChange(at.AddMinutes(-1), "due", "test"), Ct);
        await Store.MoveAsync(id, [CallbackState.Due], CallbackState.Dialing, new CallbackChange(at.AddSeconds(-30), "reserved", "test"), Ct);
        Assert.NotNull(await Store.MoveAsync(id, [CallbackState.Dialing], CallbackState.Connected, new CallbackChange(at, "answered", "test") { AddAttempts = 1 }, Ct));
    }

    [Fact]
    public async Task PromisedKeptLateAndLost_AreCountedPerSource()
    {
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        string N(int i) => "1500000" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture);
        var a1 = await RequestAsync(CallbackRequest.AbandonedCall(N(1), queue, "c1", TimeSpan.FromSeconds(40)), T0);
        await ConnectAsync(a1, T0.AddMinutes(5));                                   // on time (deadline +10 min)
        var a2 = await RequestAsync(CallbackRequest.AbandonedCall(N(2), queue, "c2", TimeSpan.FromSeconds(40)), T0.AddHours(1));
        await RequestAsync(CallbackRequest.AbandonedCall(N(2), queue, "c2b", TimeSpan.FromSeconds(40)), T0.AddHours(1).AddMinutes(1)); // merged
        await ConnectAsync(a2, T0.AddHours(1).AddMinutes(15));                      // late
        await RequestAsync(CallbackRequest.AbandonedCall(N(3), queue, "c3", TimeSpan.FromSeconds(40)), T0.AddHours(2)); // open, past deadline: lost
        var a4 = await RequestAsync(CallbackRequest.AbandonedCall(N(4), queue, "c4", TimeSpan.FromSeconds(40)), T0.AddHours(3));
        await Store.MoveAsync(a4, CallbackStates.Open, CallbackState.ResolvedByInbound, new CallbackChange(T0.AddHours(3).AddMinutes(2), "called in", "test"), Ct);
        var a5 = await RequestAsync(CallbackRequest.AbandonedCall(N(5), queue, "c5", TimeSpan.FromSeconds(40)), T0.AddHours(4));
        await Store.MoveAsync(a5, CallbackStates.Open, CallbackState.Failed, new CallbackChange(T0.AddHours(4).AddMinutes(30), "3 x no answer", "test"), Ct);
        var s1 = await RequestAsync(CallbackRequest.AgentScheduled(N(6), queue, T0.AddHours(2), "1007", null, "agent:1007"), T0);
        await ConnectAsync(s1, T0.AddHours(2).AddMinutes(5));                       // on time (within 10 min of the promise)

        var report = ReportCatalog.Find("callbacks");
        await using var command = ReportCatalog.CreateCommand(fixture.Database.DataSource, report,
            new ReportParameters { From = T0.Date, To = T0.Date.AddDays(1), Queue = queue });
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new Dictionary<string, Dictionary<string, object?>>();
        while (await reader.ReadAsync(Ct))
        {
            var row = Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => reader.IsDBNull(i) ? null : reader.GetValue(i));
            rows[(string)row["source"]!] = row;
        }

        Assert.Equal(["abandoned", "scheduled"], rows.Keys.Order());
        var ab = rows["abandoned"];
        Assert.Equal(
            (5L, 6L, 2L, 1L, 1L, 1L, 0L, 1L, 1L, 1L, 2L),
            ((long)ab["requested"]!, (long)ab["merged_requests"]!, (long)ab["connected"]!, (long)ab["connected_on_time"]!,
             (long)ab["connected_late"]!, (long)ab["failed"]!, (long)ab["cancelled"]!, (long)ab["resolved_by_inbound"]!,
             (long)ab["still_open"]!, (long)ab["open_past_deadline"]!, (long)ab["lost"]!));
        Assert.Equal(0.5, (double)ab["kept_rate"]!, 9);
        Assert.Equal(0.25, (double)ab["on_time_rate"]!, 9);
        Assert.Equal(10.0, (double)ab["avg_minutes_to_connect"]!, 6);
        var sc = rows["scheduled"];
        Assert.Equal((1L, 1L, 0L, 1.0), ((long)sc["connected_on_time"]!, (long)sc["requested"]!, (long)sc["lost"]!, (double)sc["on_time_rate"]!));
    }
}
