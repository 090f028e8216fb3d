using System.Diagnostics.Metrics;
using CtiBridge.Asterisk.Ami;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ami;

public sealed class AmiClientMetricsTests
{
    [Fact]
    public async Task Meter_EventsActionsAndReconnects_AreCounted()
    {
        using var meters = new TestMeterFactory();
        using var events = new MetricCollector<long>(meters, AmiClient.MeterName, "ctibridge.ami.events.received");
        using var actions = new MetricCollector<long>(meters, AmiClient.MeterName, "ctibridge.ami.actions.sent");
        using var reconnects = new MetricCollector<long>(meters, AmiClient.MeterName, "ctibridge.ami.reconnects");
        var clock = new FakeTimeProvider();
        var sessions = 0;
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            if (Interlocked.Increment(ref sessions) == 1)
            {
                await peer.SendAsync("Event: QueueCallerJoin\r\nQueue: support\r\n\r\nEvent: QueueCallerLeave\r\nQueue: support\r\n\r\n", ct);
                await peer.ReadActionAsync(ct);
                return;
            }

            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options(), timeProvider: clock, meterFactory: meters);
        using var subscription = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();
        await subscription.NextAsync();
        await subscription.NextAsync();
        await subscription.NextAsync();

        await Assert.ThrowsAsync<AmiConnectionException>(() => client.PingAsync(TestContext.Current.CancellationToken).Guarded());
        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
        clock.Advance(down.NextAttemptIn!.Value);
        await client.WaitForAsync(AmiConnectionState.Connected, 2);

        Assert.Equal(2, events.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(3, actions.GetMeasurementSnapshot().EvaluateAsCounter()); // login, ping, login
        Assert.Equal(1, reconnects.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
            lock (_meters)
            {
                _meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                foreach (var meter in _meters)
                {
                    meter.Dispose();
                }
            }
        }
    }
}
