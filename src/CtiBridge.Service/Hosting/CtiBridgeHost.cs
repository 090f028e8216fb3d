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
    public static WebApplication Build(CtiBridgeSettings settings, TimeProvider? timeProvider = null)
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
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        builder.AddCtiBridgeHttp();

        var app = builder.Build();
        app.MapCtiBridgeHealth();
        app.MapCtiBridgeApi();
        app.MapCtiBridgeMetrics();
        app.MapWallboardPage();
        return app;
    }
}
