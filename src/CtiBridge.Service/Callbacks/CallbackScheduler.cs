using CtiBridge.Data.Queries;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Quartz;

namespace CtiBridge.Service.Callbacks;

/// <summary>What the Quartz jobs call back into: thin jobs, the work is in <see cref="CallbackService"/>.</summary>
public interface ICallbackJobs
{
    /// <summary>The due trigger of a callback fired (on whichever cluster node acquired it).</summary>
    Task FireDueAsync(Guid callbackId, CancellationToken cancellationToken);

    /// <summary>The periodic sweep fired: overdue callbacks without a trigger, owner grace, reminders, escalation.</summary>
    Task SweepAsync(CancellationToken cancellationToken);

    /// <summary>
    /// One heartbeat of this node (every <see cref="CallbackSchedulerOptions.HeartbeatInterval"/> of real
    /// time, and once before the node starts firing): counts itself alive, judges the other instances
    /// and offers again what dead ones held. Handles its own errors (the next beat tries again).
    /// </summary>
    Task HeartbeatAsync(CancellationToken cancellationToken);

    /// <summary>The node stops gracefully: it is gone at once for the other instances (they offer again what it held).</summary>
    Task LeaveAsync(CancellationToken cancellationToken);
}

/// <summary>Quartz settings of the callback scheduler (<c>callbacks.scheduler</c>).</summary>
public sealed record CallbackSchedulerOptions
{
    /// <summary>Scheduler name: every instance of one centre uses the same name, so they form one cluster.</summary>
    public string SchedulerName { get; init; } = "ctibridge";

    /// <summary>This node's id in the cluster; null to generate a unique one at start.</summary>
    public string? InstanceId { get; init; }

    /// <summary>Jobs run at once on this node. Default 8.</summary>
    public int Threads { get; init; } = 8;

    /// <summary>How often a node records it is alive. Default 7.5 s.</summary>
    public TimeSpan ClusterCheckinInterval { get; init; } = TimeSpan.FromSeconds(7.5);

    /// <summary>A trigger later than this is a misfire (fires at once, FireNow). Default 60 s.</summary>
    public TimeSpan MisfireThreshold { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Period of the sweep job. Default 30 s.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the node counts a heartbeat in <c>callback_instances</c>, on real time (never the
    /// centre's clock: liveness is whether the process runs). Default 5 s.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// An instance whose heartbeat count another instance has watched stand still this long (real time)
    /// is dead, and the callbacks it held are offered again. At least twice <see cref="HeartbeatInterval"/>. Default 20 s.
    /// </summary>
    public TimeSpan InstanceDeadAfter { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long an idle node waits before looking for triggers again. Default 1 s (Quartz's minimum): a callback made due by another node is fired within about this.</summary>
    public TimeSpan IdleWaitTime { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Quartz.NET on PostgreSQL (ADO job store, clustered, tables from our migration 0010): one durable
/// job "callback-due" with one simple trigger per open callback (named after the callback id, so a
/// reschedule replaces it), and the recurring "callback-sweep". Triggers fire once on one node of the
/// cluster; after downtime a trigger that missed its time fires at once (misfire: FireNow).
/// </summary>
public sealed class CallbackScheduler : IAsyncDisposable
{
    /// <summary>Quartz table prefix.</summary>
    public const string TablePrefix = "qrtz_";

    internal static readonly JobKey DueJob = new("callback-due", "callbacks");
    internal static readonly JobKey SweepJob = new("callback-sweep", "callbacks");
    internal const string CallbackIdKey = "callbackId";
    private const string TriggerGroup = "callbacks";

    private readonly ISchedulerFactory _factory;
    private readonly IScheduler _scheduler;
    private readonly CallbackSchedulerOptions _options;
    private readonly ICallbackJobs _jobs;
    private readonly CancellationTokenSource _stopping = new();
    private Task _heartbeat = Task.CompletedTask;

    private CallbackScheduler(ISchedulerFactory factory, IScheduler scheduler, CallbackSchedulerOptions options, ICallbackJobs jobs)
    {
        _factory = factory;
        _scheduler = scheduler;
        _options = options;
        _jobs = jobs;
    }

    /// <summary>How long another instance's heartbeat count may stand still before it is dead (<see cref="CallbackSchedulerOptions.InstanceDeadAfter"/>).</summary>
    public TimeSpan InstanceDeadAfter => _options.InstanceDeadAfter;

    /// <summary>This node's id in the cluster.</summary>
    public string InstanceId => _scheduler.SchedulerInstanceId;

    /// <summary>The cluster's name (every node of one centre shares it).</summary>
    public string SchedulerName => _scheduler.SchedulerName;

    /// <summary>Builds (not yet started) a clustered scheduler on the database.</summary>
    public static async Task<CallbackScheduler> CreateAsync(string connectionString, CallbackSchedulerOptions options, ICallbackJobs jobs, TimeProvider timeProvider, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(jobs);
        if (options.HeartbeatInterval <= TimeSpan.Zero || options.InstanceDeadAfter < options.HeartbeatInterval * 2)
        {
            throw new ArgumentException(
                $"Callback scheduler: HeartbeatInterval must be positive and InstanceDeadAfter at least twice it (are {options.HeartbeatInterval} and {options.InstanceDeadAfter}).", nameof(options));
        }

        await EnsureLockRowsAsync(connectionString, options.SchedulerName, cancellationToken).ConfigureAwait(false);
        var factory = QuartzSchedulerBuilder.Create(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = options.SchedulerName;
                s.InstanceId = options.InstanceId ?? $"{Environment.MachineName}-{Guid.NewGuid():N}";
                s.IdleWaitTime = options.IdleWaitTime;
                s.DefaultMisfireHandling = DefaultMisfireHandling.FireAndProceed;
            });
            q.UseTimeProvider(timeProvider);
            q.UseDefaultThreadPool(options.Threads);
            q.Services.AddSingleton(jobs);
            q.UsePersistentStore(store =>
            {
                store.UsePostgres(connectionString);
                store.UseClustering(c =>
                {
                    c.CheckinInterval = options.ClusterCheckinInterval;
                    c.CheckinMisfireThreshold = options.ClusterCheckinInterval * 2;
                });
                store.ConfigureStore(s =>
                {
                    s.TablePrefix = TablePrefix;
                    s.SchemaProvisioning = SchemaProvisioning.Validate;
                    s.MisfireThreshold = options.MisfireThreshold;

                    // A transient database failure of a store write (deadlock, serialization failure, timeout) is
                    // retried at once, not after a wait: Quartz waits on the scheduler's TimeProvider, and with a
                    // fake clock (the tests) a write awaited while nobody moves the clock hung for ever (seen under
                    // load). A deadlock's victim is already rolled back, so waiting buys nothing in production either.
                    s.TransientRetryInterval = TimeSpan.Zero;
                });

                // The same for the cluster lock (a row of qrtz_locks taken with SELECT … FOR UPDATE): a failed
                // attempt was tried again after 1 s of the store's TimeProvider, so a fake clock hung it for ever
                // (CallbackSchedulerTests.ALockRowThatFailsOnce_…). Tried again at once instead.
                store.UseLockHandler<LockRowRetriedAtOnce>();
            });
        }).Build();
        var scheduler = await factory.GetScheduler(cancellationToken).ConfigureAwait(false);
        var self = new CallbackScheduler(factory, scheduler, options, jobs);
        await self.EnsureJobsAsync(options, timeProvider, cancellationToken).ConfigureAwait(false);
        return self;
    }

    /// <summary>
    /// Creates the cluster's Quartz lock rows (<c>qrtz_locks</c>) if they are missing, in a statement of their own
    /// that cannot conflict: two instances started at once on a fresh database otherwise both insert them inside
    /// Quartz's lock transaction, and the loser's transaction is aborted (25P02) and the instance stopped.
    /// </summary>
    internal static async Task EnsureLockRowsAsync(string connectionString, string schedulerName, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(NamedQueries.Get("quartz_locks_ensure"), connection);
        command.Parameters.AddWithValue("scheduler", schedulerName);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts the heartbeat (the first beat before anything fires, so the node's row exists before it
    /// holds any callback) and then firing triggers.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _jobs.HeartbeatAsync(cancellationToken).ConfigureAwait(false);
        _heartbeat = BeatAsync(_stopping.Token);
        await _scheduler.Start(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops firing (waits for running jobs) and the heartbeat, and leaves the cluster (the other
    /// instances offer again at once what this one held); the triggers stay in the database for the
    /// next start or another node.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _scheduler.Shutdown(waitForJobsToComplete: true, cancellationToken).ConfigureAwait(false);
        await StopHeartbeatAsync().ConfigureAwait(false);
        await _jobs.LeaveAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates or replaces the due trigger of a callback.</summary>
    public async Task ScheduleDueAsync(Guid callbackId, DateTimeOffset dueAt, CancellationToken cancellationToken = default)
    {
        var trigger = TriggerBuilder.Create()
            .WithIdentity(callbackId.ToString(), TriggerGroup)
            .ForJob(DueJob)
            .UsingJobData(CallbackIdKey, callbackId.ToString())
            .StartAt(dueAt)
            .WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build();
        await _scheduler.ScheduleJob(trigger, ScheduleJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates or replaces the due triggers of many callbacks in one store operation.</summary>
    public async Task ScheduleDueAsync(IReadOnlyCollection<(Guid CallbackId, DateTimeOffset DueAt)> callbacks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callbacks);
        if (callbacks.Count == 0)
        {
            return;
        }

        var detail = await _scheduler.GetJobDetail(DueJob, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The callback-due job is missing from the Quartz store.");
        var triggers = callbacks.Select(c => (ITrigger)TriggerBuilder.Create()
            .WithIdentity(c.CallbackId.ToString(), TriggerGroup)
            .ForJob(DueJob)
            .UsingJobData(CallbackIdKey, c.CallbackId.ToString())
            .StartAt(c.DueAt)
            .WithSimpleSchedule(s => s.WithMisfireInstruction(SimpleTriggerMisfireInstruction.FireNow))
            .Build()).ToList();
        await _scheduler.ScheduleJobs(new Dictionary<IJobDetail, IReadOnlyCollection<ITrigger>> { [detail] = triggers }, ScheduleJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the due trigger of a callback (cancelled, resolved, placed); false when there was none.</summary>
    public Task<bool> UnscheduleAsync(Guid callbackId, CancellationToken cancellationToken = default) =>
        _scheduler.UnscheduleJob(new TriggerKey(callbackId.ToString(), TriggerGroup), cancellationToken).AsTask();

    /// <summary>The due time of a callback's trigger, or null when it has none.</summary>
    public async Task<DateTimeOffset?> NextFireAsync(Guid callbackId, CancellationToken cancellationToken = default)
    {
        var trigger = await _scheduler.GetTrigger(new TriggerKey(callbackId.ToString(), TriggerGroup), cancellationToken).ConfigureAwait(false);
        return trigger?.NextFireTimeUtc;
    }

    /// <summary>
    /// Stops without leaving (as a crash would: the heartbeat stops, running jobs are not waited for,
    /// the others find the node dead after <see cref="CallbackSchedulerOptions.InstanceDeadAfter"/>);
    /// after <see cref="StopAsync"/> only releases what is left.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await StopHeartbeatAsync().ConfigureAwait(false);
        if (_scheduler.Status is not (SchedulerStatus.Shutdown or SchedulerStatus.ShuttingDown))
        {
            await _scheduler.Shutdown(waitForJobsToComplete: false).ConfigureAwait(false);
        }

        if (_factory is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        // Real time on purpose (see HeartbeatInterval): a fake or stepped centre clock must not speed up,
        // slow down or skip the heartbeat.
        using var timer = new PeriodicTimer(_options.HeartbeatInterval, TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await _jobs.HeartbeatAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopped
        }
    }

    private async Task StopHeartbeatAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        await _heartbeat.ConfigureAwait(false);
    }

    private async Task EnsureJobsAsync(CallbackSchedulerOptions options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var due = JobBuilder.Create<CallbackDueJob>().WithIdentity(DueJob).StoreDurably().RequestRecovery().Build();
        await _scheduler.AddJob(due, AddJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
        var sweep = JobBuilder.Create<CallbackSweepJob>().WithIdentity(SweepJob).StoreDurably().Build();
        var sweepTrigger = TriggerBuilder.Create(timeProvider)
            .WithIdentity("callback-sweep", TriggerGroup)
            .ForJob(SweepJob)
            .StartAt(timeProvider.GetUtcNow())
            .WithSimpleSchedule(s => s.WithInterval(options.SweepInterval).RepeatForever().WithMisfireInstruction(SimpleTriggerMisfireInstruction.NextWithRemainingCount))
            .Build();
        await _scheduler.ScheduleJob(sweep, [sweepTrigger], ScheduleJobOptions.Replacing, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Fires when a callback is due: hands the id to <see cref="ICallbackJobs.FireDueAsync"/>.</summary>
internal sealed class CallbackDueJob(ICallbackJobs jobs) : IJob
{
    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var text = context.MergedJobDataMap.GetString(CallbackScheduler.CallbackIdKey);
        if (!Guid.TryParse(text, out var id))
        {
            throw new JobExecutionException($"Callback trigger {context.Trigger.Key} carries no callback id ('{text}').");
        }

        await jobs.FireDueAsync(id, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The periodic sweep; one at a time across the cluster.</summary>
[DisallowConcurrentExecution]
internal sealed class CallbackSweepJob(ICallbackJobs jobs) : IJob
{
    public ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        new(jobs.SweepAsync(cancellationToken));
}

/// <summary>
/// Quartz's row lock (<c>SELECT … FOR UPDATE</c> on <c>qrtz_locks</c>) without the wait between attempts: Quartz 4.7
/// waits its <c>RetryPeriod</c> (1 s) on the store's TimeProvider, which in tests is a fake clock nobody moves while
/// the lock is awaited (the request hung). In production the wait buys nothing on PostgreSQL either: a failed
/// statement aborts its transaction, so the attempts after it fail at once with 25P02 whatever the wait.
/// </summary>
internal sealed class LockRowRetriedAtOnce : Quartz.Impl.AdoJobStore.SelectForUpdateLockHandler
{
    /// <summary>Built by Quartz's container with the store's database provider.</summary>
    public LockRowRetriedAtOnce(Quartz.Impl.AdoJobStore.Common.IDbProvider dbProvider)
        : base(dbProvider)
    {
        RetryPeriod = TimeSpan.Zero;
    }
}
