using System.Collections.Concurrent;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>Records what the scheduler handed to "the ACD".</summary>
internal sealed class RecordingPlacement : ICallbackPlacement
{
    public ConcurrentQueue<Callback> Offered { get; } = new();

    public ConcurrentQueue<(Callback Callback, string Reason)> Withdrawn { get; } = new();

    public Task OfferAsync(Callback callback, CancellationToken cancellationToken)
    {
        Offered.Enqueue(callback);
        return Task.CompletedTask;
    }

    public Task WithdrawAsync(Callback callback, string reason, CancellationToken cancellationToken)
    {
        Withdrawn.Enqueue((callback, reason));
        return Task.CompletedTask;
    }
}

internal sealed class RecordingObserver : ICallbackObserver
{
    public ConcurrentQueue<Callback> Reminders { get; } = new();

    public ConcurrentQueue<Callback> Escalations { get; } = new();

    public void Changed(Callback callback, string reason)
    {
    }

    public void Reminder(Callback callback) => Reminders.Enqueue(callback);

    public void Escalated(Callback callback) => Escalations.Enqueue(callback);
}

/// <summary>
/// One CtiBridge node's callback part: the service, its placement recorder and a clustered Quartz
/// scheduler on the test database, all on a shared fake clock.
/// </summary>
internal sealed class CallbackNode : IAsyncDisposable
{
    private CallbackNode(CallbackService service, CallbackScheduler scheduler, RecordingPlacement placement, RecordingObserver observer)
    {
        Service = service;
        Scheduler = scheduler;
        Placement = placement;
        Observer = observer;
    }

    public CallbackService Service { get; }

    public CallbackScheduler Scheduler { get; }

    public RecordingPlacement Placement { get; }

    public RecordingObserver Observer { get; }

    /// <summary>Liveness for tests that kill a node: heartbeats every 200 ms, dead after 2 s of real time standing still.</summary>
    public static readonly CallbackSchedulerOptions QuickDeath = new() { HeartbeatInterval = TimeSpan.FromMilliseconds(200), InstanceDeadAfter = TimeSpan.FromSeconds(2) };

    public static async Task<CallbackNode> StartAsync(TestDatabase database, TimeProvider clock, CallbackPolicy? policy = null, string? instanceId = null, bool start = true,
        CallbackSchedulerOptions? options = null)
    {
        var placement = new RecordingPlacement();
        var observer = new RecordingObserver();
        var service = new CallbackService(new CallbackStore(database.DataSource), policy ?? new CallbackPolicy(), clock, placement, [observer], NullLogger<CallbackService>.Instance);
        var scheduler = await CallbackScheduler.CreateAsync(database.ConnectionString,
            (options ?? new CallbackSchedulerOptions()) with { InstanceId = instanceId, SweepInterval = TimeSpan.FromSeconds(30) }, service, clock, TestContext.Current.CancellationToken);
        service.AttachScheduler(scheduler);
        if (start)
        {
            await scheduler.StartAsync(TestContext.Current.CancellationToken);
        }

        return new CallbackNode(service, scheduler, placement, observer);
    }

    public async ValueTask DisposeAsync() => await Scheduler.DisposeAsync();
}

internal static class Pump
{
    /// <summary>
    /// Advances the fake clock in steps and lets Quartz's threads run until the condition holds;
    /// bounded in steps (and so in time). Returns whether it held.
    /// </summary>
    public static async Task<bool> UntilAsync(FakeTimeProvider clock, Func<Task<bool>> condition, TimeSpan step, int maxSteps = 600)
    {
        for (var i = 0; i < maxSteps; i++)
        {
            if (await condition())
            {
                return true;
            }

            clock.Advance(step);
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }

        return await condition();
    }
}
