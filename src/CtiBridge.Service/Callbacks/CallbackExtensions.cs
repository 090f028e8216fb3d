using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using Npgsql;

namespace CtiBridge.Service.Callbacks;

/// <summary>Registers the callback part: <see cref="CallbackService"/> (also as <see cref="ICallbackRequests"/>) and its clustered Quartz scheduler.</summary>
public static class CallbackExtensions
{
    /// <summary>Adds callbacks when <c>callbacks.enabled</c> (the default).</summary>
    public static IServiceCollection AddCtiBridgeCallbacks(this IServiceCollection services, CtiBridgeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Callbacks.Enabled)
        {
            return services;
        }

        // Quartz opens its own connections: the same database, the same credentials as the data source.
        var connection = new NpgsqlConnectionStringBuilder(settings.Database.ConnectionString) { ApplicationName = "ctibridge-callbacks" };
        if (!string.IsNullOrEmpty(settings.Database.Password))
        {
            connection.Password = settings.Database.Password;
        }

        var connectionString = connection.ConnectionString;
        var queues = settings.CallControl.Queues.Select(q => q.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        services.AddSingleton(provider => new CallbackStore(provider.GetRequiredService<NpgsqlDataSource>()));
        services.AddSingleton<ICallbackObserver, LoggingCallbackObserver>();
        services.AddSingleton<ICallbackObserver>(provider => new CallbackMetrics(
            provider.GetService<Live.DomainMetrics>(), provider.GetRequiredService<CallbackStore>(), provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton(provider => new CallbackService(
            provider.GetRequiredService<CallbackStore>(), settings.Callbacks.ToPolicy(), provider.GetRequiredService<TimeProvider>(),
            provider.GetService<ICallbackPlacement>() ?? ActivatorUtilities.CreateInstance<WithoutCallControlPlacement>(provider),
            provider.GetServices<ICallbackObserver>(), provider.GetRequiredService<ILogger<CallbackService>>(),
            queues.Count == 0 ? null : queues.Contains,
            // The queue's callbackMode as running now (a reload applies to the next request), read from call control
            // when it runs here, else from the file this instance started with.
            queue => CallControl.CallControlConfiguration.QueueCallbackMode(provider.GetService<CallControl.CallCenter>()?.Settings ?? settings.CallControl, queue)));
        services.AddSingleton<ICallbackRequests>(provider => provider.GetRequiredService<CallbackService>());
        services.AddHostedService(provider => new CallbackSchedulerService(
            provider.GetRequiredService<CallbackService>(), connectionString, provider.GetRequiredService<DatabaseSchemaState>(),
            new CallbackSchedulerOptions
            {
                Threads = settings.Callbacks.SchedulerThreads, SweepInterval = settings.Callbacks.SweepInterval,
                HeartbeatInterval = settings.Callbacks.HeartbeatInterval, InstanceDeadAfter = settings.Callbacks.InstanceDeadAfter,
            },
            provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<CallbackSchedulerService>>()));
        services.AddHostedService(provider => new CallbackNoticeStream(provider, provider.GetRequiredService<ILogger<CallbackNoticeStream>>()));
        return services;
    }
}

/// <summary>Starts the Quartz node once the schema is current; stops it (jobs finished, triggers kept) on shutdown.</summary>
internal sealed partial class CallbackSchedulerService(
    CallbackService callbacks, string connectionString, DatabaseSchemaState schema, CallbackSchedulerOptions options,
    TimeProvider timeProvider, ILogger<CallbackSchedulerService> logger) : BackgroundService
{
    private CallbackScheduler? _scheduler;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await schema.WhenCurrentAsync(stoppingToken).ConfigureAwait(false);
        _scheduler = await CallbackScheduler.CreateAsync(connectionString, options, callbacks, timeProvider, stoppingToken).ConfigureAwait(false);
        callbacks.AttachScheduler(_scheduler);
        await _scheduler.StartAsync(stoppingToken).ConfigureAwait(false);
        LogStarted(logger, _scheduler.InstanceId);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_scheduler is { } s)
        {
            await s.StopAsync(cancellationToken).ConfigureAwait(false);
            await s.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback scheduler {InstanceId} started (Quartz, clustered on PostgreSQL)")]
    private static partial void LogStarted(ILogger logger, string instanceId);
}
