using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Http;
using CtiBridge.Service.Live;

namespace CtiBridge.Service.Hosting;

/// <summary>Builds the CtiBridge service: one <c>Add…</c> per part, then the endpoints.</summary>
public static class CtiBridgeHost
{
    /// <summary>Creates the host for validated settings.</summary>
    /// <param name="settings">The validated settings.</param>
    /// <param name="timeProvider">The clock (a fake one in tests); null for the system clock.</param>
    /// <param name="configureServices">Changes to the services after the parts are added (tests put stand-ins here).</param>
    /// <param name="configurationFile">The file <paramref name="settings"/> came from: watched, and reloaded by <c>POST /api/config/reload</c>; null for none.</param>
    public static WebApplication Build(CtiBridgeSettings settings, TimeProvider? timeProvider = null, Action<IServiceCollection>? configureServices = null, string? configurationFile = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseUrls(settings.Http.Urls);
        builder.Host.UseSystemd();
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(timeProvider ?? TimeProvider.System);
        builder.AddCtiBridgeLogging(settings.Logging);
        builder.Services.AddCtiBridgeDatabase(settings.Database);
        builder.Services.AddCtiBridgeAsterisk(settings.Asterisk);
        builder.Services.AddCtiBridgeCallControl(settings);
        builder.Services.AddCtiBridgeCallbacks(settings);
        builder.Services.AddCtiBridgeLive(settings);
        builder.Services.AddCtiBridgeDialer(settings);
        builder.Services.AddSingleton(provider => new ConfiguredCampaigns(settings.Campaigns, provider.GetRequiredService<Npgsql.NpgsqlDataSource>(),
            provider.GetRequiredService<DatabaseSchemaState>(), provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ConfiguredCampaigns>>()));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<ConfiguredCampaigns>());
        builder.Services.AddSingleton(provider => new ConfigurationReload(settings, configurationFile, provider.GetService<CallCenter>(), provider.GetRequiredService<ILogger<ConfigurationReload>>(),
            campaigns: provider.GetRequiredService<ConfiguredCampaigns>()));
        builder.Services.AddHostedService<ConfigurationWatcher>();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        builder.AddCtiBridgeHttp();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        app.MapCtiBridgeHealth();
        app.MapCtiBridgeApi();
        app.MapCtiBridgeMetrics();
        app.MapWallboardPage();
        return app;
    }
}
