using System.Diagnostics.Metrics;

namespace CtiBridge.Asterisk.Ami;

/// <summary>The AMI client's instruments, on the meter <see cref="MeterName"/>.</summary>
internal sealed class AmiMetrics : IDisposable
{
    public const string MeterName = "CtiBridge.Asterisk.Ami";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public AmiMetrics(IMeterFactory? meterFactory, Func<long> pendingActions, Func<long> eventBacklog)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        EventsReceived = _meter.CreateCounter<long>("ctibridge.ami.events.received", "{event}", "AMI events read from Asterisk.");
        ActionsSent = _meter.CreateCounter<long>("ctibridge.ami.actions.sent", "{action}", "AMI actions written to Asterisk.");
        Reconnects = _meter.CreateCounter<long>("ctibridge.ami.reconnects", "{connection}", "AMI connections re-established after a break.");
        _meter.CreateObservableUpDownCounter("ctibridge.ami.actions.pending", pendingActions, "{action}", "AMI actions waiting for their answer.");
        _meter.CreateObservableUpDownCounter("ctibridge.ami.events.backlog", eventBacklog, "{event}", "AMI events delivered to subscriptions and not yet read.");
    }

    public Counter<long> EventsReceived { get; }

    public Counter<long> ActionsSent { get; }

    public Counter<long> Reconnects { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
