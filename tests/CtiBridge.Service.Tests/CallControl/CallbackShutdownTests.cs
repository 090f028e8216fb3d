using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Callbacks;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Stopping the service while callbacks are being placed, against PbxSim and PostgreSQL. A class of
/// its own: a callback left due here would be placed by the next test's service on a shared database.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CallbackShutdownTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue() => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    [Fact]
    public async Task Stop_WithACallbackTalkingAndOneWaiting_TheTalkIsCutAtTheLimit_TheWaitingOneStaysDue_RowsWritten()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct,
            configure: cc => cc.Shutdown = new ShutdownSettings { CallsFinishWithin = TimeSpan.FromSeconds(1) },
            configureService: s => s.Callbacks.CallerId = "4008001");
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        _ = rig.Trunk;
        rig.Pbx.DialledCustomers = new CtiBridge.PbxSim.DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 120 };
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        await WaitUntilAsync(() => Task.FromResult(callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal)), "the callback scheduler to run");
        await rig.LoginAsync("2001", Ct);

        // One callback connected (agent-first), a second one waiting in the queue for the busy agent.
        var talking = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550401", "support", DateTimeOffset.UtcNow, null, "talking", "api:test"), Ct);
        await WaitUntilAsync(async () => (await callbacks.GetAsync(talking.Callback.Id, Ct))?.State == CallbackState.Connected, "the first callback to connect");
        var waiting = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550402", "support", DateTimeOffset.UtcNow, null, "waiting", "api:test"), Ct);
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.CallId.Contains(waiting.Callback.Id.ToString("N"), StringComparison.Ordinal), "the second callback queued", Ct);

        await rig.StopServiceAsync().WaitAsync(StopLimit, Ct);

        // The conversation was cut at the limit by the system (no DID to hand it back to); the customer's line was hung up.
        var db = database.Database;
        Assert.Equal("outbound|answered|system|2001", await db.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws('|', direction, disposition, released_by, agent_id), ' ; ') FROM calls WHERE callback_id = '{talking.Callback.Id}'", Ct));
        var stored = new CtiBridge.Data.Callbacks.CallbackStore(db.DataSource);
        Assert.Equal(CallbackState.Connected, (await stored.GetAsync(talking.Callback.Id, Ct))!.State);
        await rig.PbxEvents.WaitForAsync<CtiBridge.Asterisk.Ami.AmiMessage>(
            e => e.EventName == "Hangup" && (e["Channel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal), "the customer's line to be hung up", Ct);

        // The one nobody had dialled yet is still due (for the next start or another instance), with no attempt counted.
        var due = (await stored.GetAsync(waiting.Callback.Id, Ct))!;
        Assert.Equal((CallbackState.Due, 0), (due.State, due.Attempts));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE callback_id = '{waiting.Callback.Id}'", Ct));
    }

    private static Task WaitUntilAsync(Func<Task<bool>> done, string what) =>
        BoundedWait.WaitUntilAsync(done, what, TimeSpan.FromSeconds(20), poll: TimeSpan.FromMilliseconds(50));
}
