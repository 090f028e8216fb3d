using CtiBridge.Service.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;

namespace CtiBridge.Service.Tests.Hosting;

/// <summary>The real CtiBridge host on a loopback port, on a test database of its own.</summary>
public class RunningService : IAsyncLifetime
{
    private WebApplication? _app;

    /// <summary>The Asterisk the service drives.</summary>
    public CtiBridge.PbxSim.PbxSimulator Pbx { get; private set; } = null!;

    /// <summary>The service's database (migrated by the service itself at start-up).</summary>
    public TestDatabase Database { get; private set; } = null!;

    /// <summary>The host, for resolving its services.</summary>
    public WebApplication App => _app ?? throw new InvalidOperationException("Not started.");

    /// <summary>The base address, e.g. http://127.0.0.1:41234.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>A client without credentials.</summary>
    public HttpClient Client(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        }

        return client;
    }

    /// <summary>Changes the service's settings before it starts (a fixture deriving from this one).</summary>
    protected virtual void Configure(CtiBridge.Service.Configuration.CtiBridgeSettings settings)
    {
    }

    /// <summary>The simulated Asterisk's endpoints and dialplan (a fixture deriving from this one); null = PbxSim's defaults.</summary>
    protected virtual CtiBridge.PbxSim.PbxSimOptions? PbxOptions() => null;

    public async ValueTask InitializeAsync()
    {
        Database = await PostgresServer.CreateMigratedDatabaseAsync();
        Pbx = await PbxSimSettings.StartAsync(PbxOptions());
        var settings = PbxSimSettings.Service(Database.ConnectionString, PbxSimSettings.For(Pbx));
        Configure(settings);
        _app = CtiBridgeHost.Build(settings);
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Urls.Single());
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await Pbx.DisposeAsync();
        await Database.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
