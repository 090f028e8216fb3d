using CtiBridge.Asterisk.Ari;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

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
            services.AddSingleton<ICustomerLookup>(provider => new HttpCustomerLookup(lookup, provider.GetRequiredService<ILogger<HttpCustomerLookup>>()));
        }

        // The callback scheduler, when registered, takes the callers' callback requests and voicemails.
        services.AddSingleton(provider => new CallCenter(settings.CallControl, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<CallCenter>>(),
            provider.GetService<ICustomerLookup>(), provider.GetService<Core.Callbacks.ICallbackRequests>()));
        services.AddSingleton(settings.CallControl);
        services.AddSingleton<IReadOnlyList<StasisApp>>(provider => provider.GetRequiredService<IReadOnlyList<AsteriskServer>>().Select(server =>
        {
            var serverSettings = settings.Asterisk.Single(s => s.Name == server.Name);
            return new StasisApp(server.Name, serverSettings.Ari.Application, server.Ari, AsteriskServer.ToAriOptions(serverSettings.Ari),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>());
        }).ToList());
        // Conversations may finish before the stop completes: the host waits that long, plus time to flush records.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.CallControl.Shutdown.CallsFinishWithin + TimeSpan.FromSeconds(30));
        services.AddHostedService<CallRecordService>();
        services.AddHostedService<CallControlService>();
        services.AddHealthChecks().AddCheck<CallControlHealthCheck>("call-control", tags: ["ready"]);
        return services;
    }
}

/// <summary>Runs the call center's loop and every server's Stasis app.</summary>
internal sealed class CallControlService(CallCenter center, IReadOnlyList<StasisApp> apps, IReadOnlyList<AsteriskServer> servers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        center.Start();
        try
        {
            // Desk phones' AMI device states take unreachable agents out of routing (and back).
            await Task.WhenAll(apps.Select(app => app.RunAsync(center, stoppingToken))
                .Concat(servers.Select(server => center.WatchPhonesAsync(server.Ami, server.Name, stoppingToken)))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The graceful stop: calls are handed back or finish (<see cref="CallCenter.DrainAsync"/>) while the apps still run, then the apps close.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (ExecuteTask is not null)
            {
                await center.DrainAsync(cancellationToken).ConfigureAwait(false);
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
}

/// <summary>Ready when every server's Stasis app receives events (otherwise no call can be served there).</summary>
internal sealed class CallControlHealthCheck(IReadOnlyList<StasisApp> apps) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = apps.Where(a => a.EventsState != AriEventConnectionState.Connected)
            .Select(a => $"{a.Server}: Stasis app {a.Name} events {a.EventsState.ToString().ToLowerInvariant()}").ToList();
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy($"{apps.Count} Stasis app(s) receiving events")
            : HealthCheckResult.Unhealthy(string.Join("; ", problems)));
    }
}
