using System.Collections.Concurrent;

namespace CtiBridge.PbxSim.Ari;

/// <summary>A WebSocket client subscribed to one or more Stasis applications.</summary>
internal interface IAriSubscriber
{
    /// <summary>Queues one event (a complete JSON text frame) for sending; never blocks.</summary>
    void Send(byte[] json);
}

/// <summary>
/// The Stasis applications that exist because a client holds an <c>/ari/events</c> WebSocket for
/// them (as in Asterisk, an application lives only while such a connection is open).
/// </summary>
internal sealed class AriApplications
{
    private readonly ConcurrentDictionary<string, List<IAriSubscriber>> _apps = new(StringComparer.Ordinal);

    public bool HasApplication(string app) => _apps.TryGetValue(app, out var list) && list.Count > 0;

    public IEnumerable<string> Names => _apps.Where(a => a.Value.Count > 0).Select(a => a.Key).Order(StringComparer.Ordinal);

    public void Subscribe(string app, IAriSubscriber subscriber) =>
        _apps.AddOrUpdate(app, _ => [subscriber], (_, list) => [.. list, subscriber]);

    public void Unsubscribe(IAriSubscriber subscriber)
    {
        foreach (var (app, list) in _apps)
        {
            if (list.Contains(subscriber))
            {
                _apps[app] = list.Where(s => s != subscriber).ToList();
            }
        }
    }

    public void Publish(string app, byte[] json)
    {
        if (_apps.TryGetValue(app, out var list))
        {
            foreach (var subscriber in list)
            {
                subscriber.Send(json);
            }
        }
    }
}
