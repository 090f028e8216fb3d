using CtiBridge.Data.Customers;
using CtiBridge.Data.Webhooks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using Prometheus;

namespace CtiBridge.Service.Live;

/// <summary>Registers the live part: event hub, wallboard feed, webhooks and their dead letters, domain metrics.</summary>
public static class LiveExtensions
{
    /// <summary>Adds the live part (the hub, wallboard and webhooks only when call control is on).</summary>
    public static IServiceCollection AddCtiBridgeLive(this IServiceCollection services, CtiBridgeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        services.AddSingleton<DomainMetrics>();
        services.AddSingleton<WebhookDeadLetters>();
        if (!settings.CallControl.IsEnabled)
        {
            return services;
        }

        services.AddSingleton<CallerRegions>();
        services.AddHostedService<CallerRegionRefresh>();
        services.AddSingleton(provider =>
        {
            var hub = new LiveEventHub(provider.GetRequiredService<CallCenter>(), settings.CallControl, provider.GetRequiredService<ILogger<LiveEventHub>>(),
                provider.GetRequiredService<CallerRegions>());
            hub.DomainEvent += provider.GetRequiredService<DomainMetrics>().Count;
            return hub;
        });
        services.AddHostedService(provider => provider.GetRequiredService<LiveEventHub>());
        services.AddSingleton<WallboardFeed>();
        services.AddHostedService(provider => provider.GetRequiredService<WallboardFeed>());
        if (settings.Webhooks.Count > 0)
        {
            services.AddSingleton(provider => new WebhookDispatcher(
                settings.Webhooks, provider.GetRequiredService<LiveEventHub>(), provider.GetRequiredService<WebhookDeadLetters>(),
                provider.GetRequiredService<DomainMetrics>(), provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<WebhookDispatcher>>()));
            services.AddHostedService(provider => provider.GetRequiredService<WebhookDispatcher>());
        }

        return services;
    }

    /// <summary>Maps <c>/metrics</c>: the process and runtime metrics, then the host's own.</summary>
    public static WebApplication MapCtiBridgeMetrics(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/metrics", async (HttpContext context, DomainMetrics domain) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
            await domain.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        }).ExcludeFromDescription();
        return app;
    }
}
