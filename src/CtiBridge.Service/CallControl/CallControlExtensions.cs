using CtiBridge.Asterisk.Ari;
using CtiBridge.Data.LiveState;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.HighAvailability;
using CtiBridge.Service.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace CtiBridge.Service.CallControl;

/// <summary>Registers live call control when <c>callControl</c> configures queues.</summary>
public static class CallControlExtensions
{
    /// <summary>Adds the <see cref="CallCenter"/> and one Stasis app per Asterisk server.</summary>
    public static IServiceCollection AddCtiBridgeCallControl(this IServiceCollection services, CtiBridgeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.CallControl.IsEnabled)
        {
            return services;
        }

        if (settings.CallControl.CustomerLookup is { } lookup)
        {
            services.AddSingleton<ICustomerLookup>(provider => lookup.Source == "database"
                ? new DatabaseCustomerLookup(lookup, new Data.Customers.CustomerStore(provider.GetRequiredService<NpgsqlDataSource>()), provider.GetRequiredService<ILogger<DatabaseCustomerLookup>>())
                : new HttpCustomerLookup(lookup, provider.GetRequiredService<ILogger<HttpCustomerLookup>>()));
        }

        // Servers split between instances (callControl.servers): this instance's leases, Stasis apps, phones and agents
        // are those of its own servers; null when it controls them all.
        var controlled = settings.CallControl.ControlledServers(settings.Asterisk);
        var split = controlled.Count < settings.Asterisk.Count ? controlled : null;

        // The callback scheduler, when registered, takes the callers' callback requests and voicemails.
        services.AddSingleton(provider => new LiveStateStore(provider.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton(provider => new CallCenter(settings.CallControl,
            provider.GetKeyedService<TimeProvider>(CallCenter.ClockServiceKey) ?? provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<CallCenter>>(),
            provider.GetService<ICustomerLookup>(), provider.GetService<Core.Callbacks.ICallbackRequests>(), split)
        {
            ServerHolder = (server, ct) => CallControlLease.HolderAsync(provider.GetRequiredService<NpgsqlDataSource>(), server, ct),
            LiveState = provider.GetRequiredService<LiveStateStore>(),
            DayFigures = new Data.Records.LiveDayFigures(provider.GetRequiredService<NpgsqlDataSource>()),
            Audit = new Data.Access.AuditLog(provider.GetRequiredService<NpgsqlDataSource>()),
            CallbackDialing = settings.Callbacks.ToDialOptions(),
            Sites = new SiteRouting(settings.Asterisk),
        });

        // Due callbacks are placed by the call center (agent reserved → customer dialled → bridged).
        services.AddSingleton<Callbacks.ICallbackPlacement>(provider => new CallCenterCallbackPlacement(provider));
        services.AddSingleton(settings.CallControl);
        services.AddSingleton<IReadOnlyList<StasisApp>>(provider => provider.GetRequiredService<IReadOnlyList<AsteriskServer>>()
            .Where(server => controlled.Contains(server.Name, StringComparer.OrdinalIgnoreCase)).Select(server =>
        {
            var serverSettings = settings.Asterisk.Single(s => s.Name == server.Name);
            return new StasisApp(server.Name, serverSettings.Ari.Application, server.Ari, AsteriskServer.ToAriOptions(serverSettings.Ari),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>());
        }).ToList());
        // Conversations may finish before the stop completes: the host waits that long, plus time to flush records.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.CallControl.Shutdown.CallsFinishWithin + TimeSpan.FromSeconds(30));
        services.AddSingleton<CtiBridge.Data.Records.RecordWriterLag>(); // read by /metrics
        services.AddHostedService<CallRecordService>();
        services.AddHostedService<LiveStateService>();
        services.AddHostedService<AgentLinesWatcher>(); // agents on a campaign line of any instance cannot log in to queues
        services.AddSingleton<CallControlRole>();
        services.AddHostedService<CallControlService>();
        services.AddHealthChecks().AddCheck<CallControlHealthCheck>("call-control", tags: ["ready"]);
        return services;
    }
}

/// <summary>Whether this instance controls calls now (HA: the holder of every server's lease) or waits as a standby.</summary>
public sealed class CallControlRole
{
    /// <summary>This instance's ID in the leases (the lock connections' application name).</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..Math.Min(63, Environment.MachineName.Length + 20)];

    /// <summary>True while this instance holds the leases and runs call control.</summary>
    public bool IsActive { get; internal set; }

    /// <summary>When this instance took over call control (null while standby).</summary>
    public DateTimeOffset? ActiveSince { get; internal set; }
}

/// <summary>
/// Runs call control; with <c>callControl.highAvailability</c> under the <see cref="CallControlLease"/>
/// of every Asterisk server it controls (issue 14; all, or those of callControl.servers): a standby waits here until it holds them all, then adopts the calls and agents
/// (CallCenter.Recovery.cs) and runs. When a lease is lost, call control stops at once — the loop
/// ends and every ARI request still queued is cancelled — and the instance stops, to come back
/// (systemd restarts it) as a standby: it never acts on a server whose lease it does not hold.
/// On a normal stop, call control stops before the leases are released, so a standby never
/// overlaps with it either.
/// </summary>
internal sealed partial class CallControlService(
    CallCenter center, IReadOnlyList<StasisApp> apps, IReadOnlyList<AsteriskServer> servers, CtiBridgeSettings settings, CallControlRole role, TimeProvider timeProvider,
    IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory, DatabaseSchemaState? schema = null, Callbacks.CallbackService? callbacks = null) : BackgroundService
{
    /// <summary>How often an instance that controls part of the servers looks for callbacks handed off to them (real time).</summary>
    internal static readonly TimeSpan HandOffClaimInterval = TimeSpan.FromSeconds(0.5);

    private readonly ILogger _logger = loggerFactory.CreateLogger<CallControlService>();
    private readonly CancellationTokenSource _stopDeadline = new();
    private Task<int>? _drain;

    // Checked four times a second: a holder whose lock session was ended (terminated, database
    // restarted) learns it at its next check, which fails at once. A check that is only slow (a
    // starved host) stops nothing; one whose path stalls counts itself lost when no check has been
    // answered for 3.5 s since the last answered one was sent, before PostgreSQL can end the silent
    // session and free the lock (4 s, LockSessionTiming). A standby waits in the lock's queue and is
    // granted it as the holder's session ends.
    // Worst-case takeover when the holder is cut off: 4 + the grace below = 4.75 s.
    internal static readonly CallControlLeaseOptions LeaseOptions = new()
    {
        RetryInterval = TimeSpan.FromSeconds(0.5),
        CheckInterval = TimeSpan.FromSeconds(0.25),
        SlowCheck = TimeSpan.FromSeconds(2),
        ServerIdleTimeout = TimeSpan.FromSeconds(4),
        StopMargin = TimeSpan.FromSeconds(0.5),
    };

    /// <summary>
    /// A standby that takes a lease another instance held until just now waits this long before it
    /// acts: a holder whose session was ended under it (not cut off) may act until its next check.
    /// </summary>
    internal static readonly TimeSpan TakeoverGrace = LeaseOptions.CheckInterval + TimeSpan.FromSeconds(0.5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var holds = new List<LeaseHold>();
        try
        {
            // On a new database the migrations run alongside: recovery must not read live_agents
            // before they exist. An unreachable database does not hold call control back.
            if (schema is not null)
            {
                await schema.WhenCheckedAsync(stoppingToken).ConfigureAwait(false);
            }

            // Without HA nobody else may control these servers: no lease, so a database outage does not stop call control.
            // In name order, so two instances never each hold a part and wait for the rest.
            IEnumerable<string> leased = settings.CallControl.HighAvailability ? apps.Select(a => a.Server).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal) : [];
            // While it waits, a standby runs a takeover's reads once (acting on nothing, the Stasis app left to the active
            // instance): the takeover then finds their connections open and their code compiled. Stopped when the leases
            // are held, so it never competes with the takeover itself (docs/high-availability.md).
            using var standbyWork = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            if (settings.CallControl.HighAvailability)
            {
                _ = Task.WhenAll(apps.Select(app => center.RehearseTakeoverAsync(app, standbyWork.Token)));
            }

            foreach (var server in leased)
            {
                var lease = new CallControlLease(settings.Database.ConnectionString, server, role.InstanceId, LeaseOptions, timeProvider,
                    loggerFactory.CreateLogger<CallControlLease>());
                LogStandby(_logger, server, role.InstanceId);
                holds.Add(await lease.AcquireAsync(stoppingToken).ConfigureAwait(false));
            }

            await standbyWork.CancelAsync().ConfigureAwait(false);

            // Today's figures so far are read during the grace (before any event counts): reading acts on no call, and
            // the grace then costs nothing more.
            var grace = holds.Any(h => h.Attempts > 1) ? TakeoverGrace : TimeSpan.Zero;
            using var leaseLost = CancellationTokenSource.CreateLinkedTokenSource([stoppingToken, .. holds.Select(h => h.Lost)]);
            await Task.WhenAll(Task.Delay(grace, timeProvider, stoppingToken), center.LoadStatisticsDayAsync(leaseLost.Token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await ReleaseAsync(holds).ConfigureAwait(false);
            await DisposeAppsAsync().ConfigureAwait(false);
            return;
        }

        using var lost = CancellationTokenSource.CreateLinkedTokenSource([stoppingToken, .. holds.Select(h => h.Lost)]);
        using var stopAtOnce = lost.Token.Register(() =>
        {
            // No ARI request, no event from the moment the lease is in doubt.
            role.IsActive = false;
            _ = center.DisposeAsync().AsTask();
        });
        role.IsActive = true;
        role.ActiveSince = timeProvider.GetUtcNow();
        if (holds.Count > 0)
        {
            // A takeover's phases, each logged with its own event id (docs/high-availability.md, "Where a takeover's time
            // goes"): the lease (1470), this start, the Stasis app registered (830), the reads (1473), the adoption (876).
            LogActing(_logger, string.Join(", ", holds.Select(h => h.Server)), holds.Max(h => h.Attempts) > 1 ? TakeoverGrace.TotalMilliseconds : 0,
                string.Join(", ", servers.Where(s => center.Controls(s.Name)).Select(s => $"{s.Name}: {s.Ami.State.State}")));
        }

        center.UseStasisApps(apps);
        center.ReadStoredStateAhead(apps, lost.Token); // overlaps the Stasis apps' connect (1473 says how long it took)
        center.Start();

        // The stop is asked for before any service stops: calls start going back now, alongside the
        // dialer's own wait, not after the services stopped before this one.
        using var drainAtStop = settings.CallControl.Shutdown.HandBackCalls ? lifetime.ApplicationStopping.Register(() => StartDrain()) : default;
        try
        {
            // Desk phones' AMI device states take unreachable agents out of routing (and back); AMI's hang-ups
            // tell how a channel ended during an ARI events gap.
            await Task.WhenAll(apps.Select(app => app.RunAsync(center, lost.Token))
                .Concat(servers.Where(server => center.Controls(server.Name)).Select(server => center.WatchPhonesAsync(server.Ami, server.Name, lost.Token)))
                .Concat(servers.Where(server => center.Controls(server.Name)).Select(server => center.WatchHangupsAsync(server.Ami, server.Name, lost.Token)))
                .Append(ClaimHandedOffCallbacksAsync(lost.Token))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested)
        {
        }
        finally
        {
            // Call control ends before any lease is released: no moment with two controllers.
            role.IsActive = false;
            await center.DisposeAsync().ConfigureAwait(false);
            await DisposeAppsAsync().ConfigureAwait(false);
            if (!stoppingToken.IsCancellationRequested)
            {
                LogLeaseLost(_logger, string.Join("; ", holds.Where(h => h.Lost.IsCancellationRequested).Select(h => h.LostReason)));
                await LetGoOfCallbacksAsync().ConfigureAwait(false);

                // Not a clean stop: exit 0 would leave the instance down under the shipped unit (Restart=on-failure),
                // and the pair without a standby.
                Environment.ExitCode = Cli.RunCommand.LeaseLostExitCode;
                lifetime.StopApplication();
            }

            await ReleaseAsync(holds).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Servers split between instances, or high availability: while call control runs, the due callbacks another
    /// instance handed off to this instance's servers (one of another part, a standby, or an instance whose lease was
    /// lost) are claimed and queued here (docs/sites.md, docs/high-availability.md). Real time, like the callback
    /// heartbeat: whether a hand-off is picked up must not wait for a fake or stepped clock. Ends with call control.
    /// </summary>
    private async Task ClaimHandedOffCallbacksAsync(CancellationToken cancellationToken)
    {
        if (callbacks is null || (center.ControlledServers is null && !settings.CallControl.HighAvailability))
        {
            return;
        }

        using var timer = new PeriodicTimer(HandOffClaimInterval, TimeProvider.System);
        try
        {
            do
            {
                try
                {
                    _ = await callbacks.ClaimHandedOffAsync([.. apps.Select(a => a.Server).Where(center.Controls)], cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    LogClaimFailed(_logger, ex); // the database may be away a while: the next round tries again
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // call control stopped
        }
    }

    /// <summary>
    /// The lease was lost: the callbacks this instance holds (due, or dialing: their attempts were cut with call
    /// control) are let go at once, so the instance now controlling the servers places them, even while this
    /// process's callback scheduler still runs and would otherwise look alive and keep holding them.
    /// </summary>
    private async Task LetGoOfCallbacksAsync()
    {
        if (callbacks is null)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await callbacks.LetGoOfHeldAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // The others judge it dead by its heartbeat, which has stopped, and offer its callbacks again then.
            LogLetGoFailed(_logger, ex);
        }
    }

    /// <summary>The graceful stop: calls are handed back or finish (<see cref="CallCenter.DrainAsync"/>) while the apps still run, then the apps close.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (ExecuteTask is not null && settings.CallControl.Shutdown.HandBackCalls)
            {
                using var deadline = cancellationToken.Register(_stopDeadline.Cancel);
                await StartDrain().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // The call center's loop had already stopped: nothing left to hand back.
        }
        finally
        {
            await base.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _stopDeadline.Dispose();
        base.Dispose();
    }

    /// <summary>The graceful stop, started once: at the stop request, or when this service is stopped.</summary>
    private Task<int> StartDrain() => LazyInitializer.EnsureInitialized(ref _drain, () => Task.Run(() => center.DrainAsync(_stopDeadline.Token)));

    private async Task DisposeAppsAsync()
    {
        foreach (var app in apps)
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task ReleaseAsync(List<LeaseHold> holds)
    {
        foreach (var hold in holds)
        {
            await hold.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1471, Level = LogLevel.Information, Message = "Call control of {Servers} starts on this instance after a grace of {GraceMilliseconds} ms (AMI {AmiStates})")]
    private static partial void LogActing(ILogger logger, string servers, double graceMilliseconds, string amiStates);

    [LoggerMessage(EventId = 877, Level = LogLevel.Information, Message = "Call control of Asterisk server {Server}: instance {Instance} waits for the lease (standby until it holds it)")]
    private static partial void LogStandby(ILogger logger, string server, string instance);

    [LoggerMessage(EventId = 889, Level = LogLevel.Warning, Message = "Letting go of this instance's callbacks after the lease loss failed: the others take them once its heartbeat is judged stopped")]
    private static partial void LogLetGoFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 879, Level = LogLevel.Warning, Message = "Claiming the callbacks handed off to this instance's servers failed (tried again shortly)")]
    private static partial void LogClaimFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 878, Level = LogLevel.Critical, Message = "Call control lease lost ({Reason}): call control stopped at once; this instance stops and comes back as a standby")]
    private static partial void LogLeaseLost(ILogger logger, string reason);
}

/// <summary>
/// Ready when every server's Stasis app receives events and has adopted what it found at start
/// (otherwise no call can be served there, and after a takeover the agents are not restored yet).
/// </summary>
internal sealed class CallControlHealthCheck(IReadOnlyList<StasisApp> apps) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = apps.Where(a => a.EventsState != AriEventConnectionState.Connected)
            .Select(a => $"{a.Server}: Stasis app {a.Name} events {a.EventsState.ToString().ToLowerInvariant()}")
            .Concat(apps.Where(a => a.EventsState == AriEventConnectionState.Connected && !a.Recovered)
                .Select(a => $"{a.Server}: Stasis app {a.Name} still adopting the calls and agents found at start")).ToList();
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy($"{apps.Count} Stasis app(s) receiving events")
            : HealthCheckResult.Unhealthy(string.Join("; ", problems)));
    }
}
