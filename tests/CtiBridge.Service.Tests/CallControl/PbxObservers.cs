using CtiBridge.Asterisk.Ami;
using CtiBridge.PbxSim;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>The tests' own AMI connections to PbxSims, each feeding a <see cref="PbxEventLog"/> (what each server did, for the asserts).</summary>
internal sealed class PbxObservers : IAsyncDisposable
{
    private readonly List<(AmiClient Client, AmiEventSubscription Events)> _observers = [];

    /// <summary>Connects to <paramref name="sim"/>'s AMI and logs every event it sends into <paramref name="log"/>.</summary>
    public async Task ObserveAsync(PbxSimulator sim, PbxEventLog log, CancellationToken ct)
    {
        var client = new AmiClient(
            new AmiClientOptions { Host = "127.0.0.1", Port = sim.AmiEndPoint.Port, Username = "ctibridge", Secret = "ctibridge-secret" },
            NullLogger<AmiClient>.Instance, TimeProvider.System);
        var events = client.SubscribeEvents(null);
        log.Start(events);
        _observers.Add((client, events));
        await client.StartAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (client, events) in _observers)
        {
            events.Dispose();
            await client.DisposeAsync();
        }

        _observers.Clear();
    }
}
