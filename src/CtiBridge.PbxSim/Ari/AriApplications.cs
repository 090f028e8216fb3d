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
    private readonly object _holdLock = new();
    private List<(string App, byte[] Json)>? _held;

    // Events handed to each application's subscribers (once per subscriber), for a test that must know when a
    // client has read everything sent to it (a fake clock moved only once nothing is in flight).
    private readonly ConcurrentDictionary<string, long> _delivered = new(StringComparer.Ordinal);

    /// <summary>Events handed so far to the subscribers of <paramref name="app"/> (each subscriber counts once per event).</summary>
    public long DeliveredTo(string app) => _delivered.TryGetValue(app, out var count) ? count : 0;

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

    /// <summary>
    /// Fault injection: events published from now on are kept, in order, instead of being sent; they go
    /// to the applications' subscribers of the moment when the returned handle is disposed.
    /// </summary>
    public IDisposable Hold()
    {
        lock (_holdLock)
        {
            _held ??= [];
        }

        return new Release(this);
    }

    /// <summary>The events kept by <see cref="Hold"/> so far (JSON texts, in order).</summary>
    public IReadOnlyList<string> Held
    {
        get
        {
            lock (_holdLock)
            {
                return _held is null ? [] : [.. _held.Select(h => System.Text.Encoding.UTF8.GetString(h.Json))];
            }
        }
    }

    private void ReleaseHeld()
    {
        lock (_holdLock)
        {
            var held = _held ?? [];
            _held = null;
            foreach (var (app, json) in held)
            {
                Deliver(app, json);
            }
        }
    }

    public void Publish(string app, byte[] json)
    {
        lock (_holdLock)
        {
            if (_held is not null)
            {
                _held.Add((app, json));
                return;
            }

            Deliver(app, json);
        }
    }

    private void Deliver(string app, byte[] json)
    {
        if (_apps.TryGetValue(app, out var list))
        {
            foreach (var subscriber in list)
            {
                // Counted before it is queued, so a reader who has taken this many has taken every event sent so far.
                _delivered.AddOrUpdate(app, 1, static (_, count) => count + 1);
                subscriber.Send(json);
            }
        }
    }

    private sealed class Release(AriApplications applications) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                applications.ReleaseHeld();
            }
        }
    }
}
