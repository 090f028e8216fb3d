using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;

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

        services.AddSingleton(provider => new CallCenter(settings.CallControl, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<CallCenter>>()));
        services.AddSingleton(settings.CallControl);
        services.AddHostedService<CallRecordService>();
        services.AddHostedService<CallControlService>();
        return services;
    }
}

/// <summary>Runs the call center's loop and every server's Stasis app.</summary>
internal sealed class CallControlService(
    CallCenter center, IReadOnlyList<AsteriskServer> servers, CtiBridgeSettings settings, TimeProvider timeProvider, ILoggerFactory loggerFactory) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        center.Start();
        var apps = servers.Select(server =>
        {
            var serverSettings = settings.Asterisk.Single(s => s.Name == server.Name);
            return new StasisApp(server.Name, serverSettings.Ari.Application, server.Ari, AsteriskServer.ToAriOptions(serverSettings.Ari), timeProvider, loggerFactory);
        }).ToList();
        try
        {
            await Task.WhenAll(apps.Select(app => app.RunAsync(center, stoppingToken))).ConfigureAwait(false);
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
}
