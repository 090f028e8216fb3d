using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>Registers the outbound dialer when <c>dialer.enabled</c> is true.</summary>
public static class DialerExtensions
{
    /// <summary>
    /// Adds the <see cref="OutboundDialer"/> (a singleton the HTTP API can ask for stats and agent
    /// joins) and the hosted service that runs it.
    /// </summary>
    public static IServiceCollection AddCtiBridgeDialer(this IServiceCollection services, CtiBridgeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Dialer.Enabled)
        {
            return services;
        }

        services.AddSingleton(provider =>
        {
            var servers = provider.GetRequiredService<IReadOnlyList<AsteriskServer>>();
            var name = settings.Dialer.Server ?? settings.Asterisk.FirstOrDefault()?.Name;
            var server = servers.FirstOrDefault(s => s.Name == name)
                ?? throw new InvalidOperationException($"dialer.server '{name}' is not one of the configured asterisk servers ({string.Join(", ", servers.Select(s => s.Name))})");
            var serverSettings = settings.Asterisk.Single(s => s.Name == server.Name);
            return new OutboundDialer(settings.Dialer, server.Ari, AsteriskServer.ToAriOptions(serverSettings.Ari), provider.GetRequiredService<NpgsqlDataSource>(),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILoggerFactory>());
        });
        services.AddHostedService<OutboundDialerService>();
        return services;
    }
}

/// <summary>Starts the dialer with the service and stops it with it.</summary>
internal sealed class OutboundDialerService(OutboundDialer dialer) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await dialer.StartAsync(stoppingToken).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await dialer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
