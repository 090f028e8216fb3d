using System.Diagnostics.Metrics;
using System.Text;
using CtiBridge.Asterisk.Ari;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ari;

public sealed class AriTelemetryTests
{
    [Fact]
    public async Task Metrics_RequestsAndErrors_AreCountedByRouteAndStatus()
    {
        var ct = TestContext.Current.CancellationToken;
        var exchanges = AriFixtures.RestExchanges();
        var ok = exchanges.Single(e => e.Label.StartsWith("03-", StringComparison.Ordinal)).Response;
        var notFound = exchanges.Single(e => e.Label.StartsWith("15-", StringComparison.Ordinal)).Response;
        await using var server = new LoopbackHttpServer(r => Task.FromResult(r.Path.EndsWith("ping", StringComparison.Ordinal) ? ok : notFound));
        using var metrics = new AriMetrics();
        using var requests = new MetricCollector<long>(metrics.Meter, "ctibridge.ari.requests");
        using var errors = new MetricCollector<long>(metrics.Meter, "ctibridge.ari.request.errors");
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = "u", Password = "p" }, metrics: metrics);

        await client.Asterisk.PingAsync(ct);
        await Assert.ThrowsAsync<AriRequestException>(() => client.Channels.GetAsync("no-such-channel", ct));

        var measured = requests.GetMeasurementSnapshot();
        Assert.Equal(2, measured.Count);
        Assert.Contains(measured, m => (string?)m.Tags["route"] == "/channels/{channelId}" && (int?)m.Tags["status"] == 404);
        var error = Assert.Single(errors.GetMeasurementSnapshot());
        Assert.Equal("404", error.Tags["status"]);
        Assert.Equal("GET", error.Tags["method"]);
    }

    [Fact]
    public async Task Metrics_EventReceived_RecordsLagFromAsteriskTimestamp()
    {
        var ct = TestContext.Current.CancellationToken;
        var frame = LoopbackWebSocketServer.RecordedFrames("inbound-call")[0];
        await using var server = new LoopbackWebSocketServer(async (c, t) =>
        {
            await c.AcceptAsync(t);
            await c.SendAsync(frame, t);
            await c.ReadFrameAsync(t);
        });
        // The first inbound-call event is stamped 16:42:35.513; the fake clock says 16:42:36.013.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 16, 42, 36, 13, TimeSpan.Zero));
        using var metrics = new AriMetrics();
        using var lag = new MetricCollector<double>(metrics.Meter, "ctibridge.ari.event.lag");
        using var received = new MetricCollector<long>(metrics.Meter, "ctibridge.ari.events");
        await using var events = new AriEventConnection(new AriClientOptions { BaseAddress = server.AriBase, UserName = "u", Password = "p" }, clock, metrics: metrics);
        await events.StartAsync(ct);
        await foreach (var unused in events.ReadAllAsync(ct))
        {
            break;
        }

        Assert.Equal(0.5, Assert.Single(lag.GetMeasurementSnapshot()).Value, 3);
        Assert.Equal("StasisStart", Assert.Single(received.GetMeasurementSnapshot()).Tags["type"]);
    }

    [Fact]
    public async Task Logs_FailuresAndConnections_NeverContainThePassword()
    {
        var ct = TestContext.Current.CancellationToken;
        const string password = "S3cret-Agent-Pass";
        var unauthorized = await File.ReadAllBytesAsync(Path.Combine(AriFixtures.Directory, "ws-upgrade-unauthorized.raw"), ct);
        var restUnauthorized = AriFixtures.RestExchanges().Single(e => e.Label.StartsWith("14-", StringComparison.Ordinal)).Response;
        await using var rest = new LoopbackHttpServer(_ => Task.FromResult(restUnauthorized));
        await using var ws = new LoopbackWebSocketServer((c, t) => c.SendAsync(unauthorized, t));
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(collector)));
        var options = new AriClientOptions { BaseAddress = rest.AriBase, UserName = "ctibridge", Password = password };
        using var client = new AriClient(options, loggerFactory: loggerFactory);
        await using var events = new AriEventConnection(options with { BaseAddress = ws.AriBase }, loggerFactory: loggerFactory);

        await Assert.ThrowsAsync<AriRequestException>(() => client.Channels.ListAsync(ct));
        await Assert.ThrowsAsync<AriWebSocketUpgradeException>(() => events.StartAsync(ct));

        var logs = collector.GetSnapshot();
        Assert.NotEmpty(logs);
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("ctibridge:" + password));
        Assert.All(logs, l =>
        {
            Assert.DoesNotContain(password, l.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(base64, l.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(password, l.Exception?.ToString() ?? "", StringComparison.Ordinal);
        });
        Assert.Contains(logs, l => l.Message.Contains("401", StringComparison.Ordinal));
    }
}
