using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// The ARI client's instruments on the <c>CtiBridge.Asterisk.Ari</c> meter: REST requests and errors by
/// status, request duration, events received, event lag (Asterisk's event timestamp to decode) and
/// reconnects. Route tags are path templates, so cardinality stays bounded.
/// </summary>
public sealed class AriMetrics : IDisposable
{
    /// <summary>The meter name to enable in OpenTelemetry / prometheus exporters.</summary>
    public const string MeterName = "CtiBridge.Asterisk.Ari";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _errors;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _events;
    private readonly Histogram<double> _eventLag;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _gaps;
    private readonly UpDownCounter<long> _queued;

    /// <summary>Creates the instruments, on a meter from <paramref name="meterFactory"/> when given.</summary>
    /// <param name="meterFactory">The host's meter factory, or null for a private meter.</param>
    public AriMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _requests = _meter.CreateCounter<long>("ctibridge.ari.requests", "{request}", "ARI REST requests completed, tagged by method, route and status.");
        _errors = _meter.CreateCounter<long>("ctibridge.ari.request.errors", "{request}", "ARI REST requests that failed, tagged by status (HTTP code, timeout or transport).");
        _duration = _meter.CreateHistogram<double>("ctibridge.ari.request.duration", "s", "ARI REST request duration.");
        _events = _meter.CreateCounter<long>("ctibridge.ari.events", "{event}", "ARI WebSocket messages received, tagged by type.");
        _eventLag = _meter.CreateHistogram<double>("ctibridge.ari.event.lag", "s", "Time from Asterisk's event timestamp to decoding here (includes clock skew).");
        _reconnects = _meter.CreateCounter<long>("ctibridge.ari.reconnects", "{attempt}", "ARI events WebSocket connect attempts after the first.");
        _gaps = _meter.CreateCounter<long>("ctibridge.ari.event.gaps", "{gap}", "Times the events stream reconnected and events may have been missed.");
        _queued = _meter.CreateUpDownCounter<long>("ctibridge.ari.events.queued", "{event}", "ARI events decoded but not yet taken by the consumer.");
    }

    /// <summary>The meter the instruments live on (tests listen to this instance only).</summary>
    internal Meter Meter => _meter;

    internal void RequestCompleted(string method, string route, int status, double seconds)
    {
        if (!_requests.Enabled && !_duration.Enabled && !_errors.Enabled)
        {
            // Nobody listens: skip building (and boxing) the tags on every call.
            return;
        }

        var tags = new TagList { { "method", method }, { "route", route }, { "status", BoxedStatus(status) } };
        _requests.Add(1, tags);
        _duration.Record(seconds, tags);
        if (status is < 200 or > 299)
        {
            _errors.Add(1, new TagList { { "method", method }, { "route", route }, { "status", status.ToString(System.Globalization.CultureInfo.InvariantCulture) } });
        }
    }

    // The usual statuses boxed once, not on every call.
    private static readonly object Status200 = 200;
    private static readonly object Status204 = 204;

    private static object BoxedStatus(int status) => status switch
    {
        200 => Status200,
        204 => Status204,
        _ => status,
    };

    internal void RequestFailed(string method, string route, string reason) =>
        _errors.Add(1, new TagList { { "method", method }, { "route", route }, { "status", reason } });

    internal void EventReceived(string type, double? lagSeconds)
    {
        _events.Add(1, new KeyValuePair<string, object?>("type", type));
        if (lagSeconds is { } lag)
        {
            _eventLag.Record(lag);
        }
    }

    internal void Reconnecting() => _reconnects.Add(1);

    internal void Gap() => _gaps.Add(1);

    internal void Queued(long delta) => _queued.Add(delta);

    /// <summary>Disposes the meter if this instance created it.</summary>
    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
