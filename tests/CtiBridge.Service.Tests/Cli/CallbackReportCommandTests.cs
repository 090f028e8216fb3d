using System.Globalization;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Cli;

/// <summary>
/// <c>ctibridge report callbacks</c> called by name, as an operator would (issue 11): callbacks promised, kept and late
/// per source, and abandoned-call compliance with the 10-minute rule, from a hand-counted day in PostgreSQL.
/// </summary>
public sealed class CallbackReportCommandTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Day = new(2026, 10, 5, 8, 0, 0, TimeSpan.Zero);
    private static readonly CallbackPolicy Policy = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private CallbackStore Store => new(fixture.Database.DataSource);

    /// <summary>A request stored at <paramref name="at"/>; kept <paramref name="keptAfter"/> later (dialled and connected), or left open.</summary>
    private async Task PromiseAsync(CallbackRequest request, DateTimeOffset at, TimeSpan? keptAfter)
    {
        var id = (await Store.RequestAsync(request, CallbackPlanner.Plan(Policy, request, at), Policy.Priority, Policy.MaxAttempts, at, Ct)).Callback.Id;
        if (keptAfter is not { } after)
        {
            return;
        }

        var kept = at + after;
        await Store.MoveAsync(id, [CallbackState.Scheduled], CallbackState.Due, new CallbackChange(kept.AddMinutes(-1), "due", "test"), Ct);
        await Store.MoveAsync(id, [CallbackState.Due], CallbackState.Dialing, new CallbackChange(kept.AddSeconds(-20), "agent reserved", "test"), Ct);
        Assert.NotNull(await Store.MoveAsync(id, [CallbackState.Dialing], CallbackState.Connected, new CallbackChange(kept, "answered", "test") { AddAttempts = 1 }, Ct));
    }

    [Fact]
    public async Task ReportCallbacks_ByName_PrintsPromisedKeptLatePerSource_AndTheTenMinuteCompliance()
    {
        var queue = "q" + Guid.NewGuid().ToString("N")[..8];
        var other = "q" + Guid.NewGuid().ToString("N")[..8];
        string N(int i) => "1600000" + i.ToString("D4", CultureInfo.InvariantCulture);
        var waited = TimeSpan.FromSeconds(45);
        await PromiseAsync(CallbackRequest.AbandonedCall(N(1), queue, "a1", waited), Day, TimeSpan.FromMinutes(4));                      // on time
        await PromiseAsync(CallbackRequest.AbandonedCall(N(2), queue, "a2", waited), Day.AddHours(1), TimeSpan.FromMinutes(12));         // late
        await PromiseAsync(CallbackRequest.AbandonedCall(N(3), queue, "a3", waited), Day.AddHours(2), null);                             // open past the deadline: lost
        await PromiseAsync(CallbackRequest.AbandonedCall(N(4), queue, "a4", waited), Day.AddHours(3), TimeSpan.FromMinutes(9));          // on time
        await PromiseAsync(CallbackRequest.VoicemailLeft(N(5), queue, "v1", "vm-1"), Day.AddHours(4), TimeSpan.FromMinutes(30));         // on time (2 h)
        await PromiseAsync(CallbackRequest.AgentScheduled(N(6), queue, Day.AddHours(6), "2001", "at two", "agent:2001"), Day.AddHours(5),
            TimeSpan.FromMinutes(75));                                                                                                // promised +15 min: late
        await PromiseAsync(CallbackRequest.AbandonedCall(N(7), other, "a5", waited), Day, null);                                         // another queue

        var run = await CommandLineRun.AgainstAsync(fixture.Database.ConnectionString,
            "report", "callbacks", "--from", "2026-10-05", "--to", "2026-10-06", "--queue", queue);

        Assert.Equal((0, string.Empty), (run.ExitCode, run.Error));
        var lines = run.Output.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToDictionary(r => r["source"]);
        Assert.Equal(["abandoned", "scheduled", "voicemail"], rows.Keys.Order());
        Assert.All(rows.Values, r => Assert.Equal((queue, "2026-10-05"), (r["queue"], r["interval_start"][..10])));

        string Counts(string source, params string[] columns) => string.Join(' ', columns.Select(c => $"{c}={rows[source][c]}"));
        Assert.Equal("requested=4 connected=3 connected_on_time=2 connected_late=1 still_open=1 open_past_deadline=1 lost=1",
            Counts("abandoned", "requested", "connected", "connected_on_time", "connected_late", "still_open", "open_past_deadline", "lost"));
        // Abandoned-call compliance with the 10-minute rule: 2 of the 4 abandoned callers called back within 10 minutes.
        Assert.Equal((0.75, 0.5), (double.Parse(rows["abandoned"]["kept_rate"], CultureInfo.InvariantCulture),
            double.Parse(rows["abandoned"]["on_time_rate"], CultureInfo.InvariantCulture)));
        Assert.Equal("requested=1 connected=1 connected_on_time=1 connected_late=0 lost=0",
            Counts("voicemail", "requested", "connected", "connected_on_time", "connected_late", "lost"));
        Assert.Equal("requested=1 connected=1 connected_on_time=0 connected_late=1 lost=0",
            Counts("scheduled", "requested", "connected", "connected_on_time", "connected_late", "lost"));
    }
}
