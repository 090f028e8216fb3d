using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Live;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Benchmarks.Service;

/// <summary>
/// Live-event fan-out: the service's <see cref="LiveEventHub"/> publishes events that every one of
/// <see cref="Clients"/> Server-Sent Events clients receives over loopback HTTP (Kestrel, the same
/// <c>ServerSentEvents</c> writer as <c>/api/events</c>). One invocation publishes
/// <see cref="Events"/> events at <see cref="EventsPerSecond"/> and waits until every client has
/// every event. Each event carries its publish timestamp; the clients record publish-to-receive
/// latency, printed as p50 / p99 / max with the delivery throughput at the end.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
public class LiveFanOutBenchmarks
{
    public const int Events = 500;
    public const int EventsPerSecond = 250;

    private readonly List<double> _latenciesMs = [];
    private readonly List<double> _deliveriesPerSecond = [];
    private WebApplication _app = null!;
    private CallCenter _center = null!;
    private LiveEventHub _hub = null!;
    private List<Client> _clients = [];
    private long _sequence;

    [Params(100, 1000)]
    public int Clients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var settings = new CallControlSettings { Queues = [new CallQueueSettings { Name = "support" }] };
        _center = new CallCenter(settings, TimeProvider.System, NullLogger<CallCenter>.Instance);
        _hub = new LiveEventHub(_center, settings, NullLogger<LiveEventHub>.Instance);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapGet("/events", async (HttpContext context) =>
        {
            using var subscription = _hub.Subscribe();
            await ServerSentEvents.StartAsync(context.Response, context.RequestAborted);
            await ServerSentEvents.PumpAsync(context.Response, subscription.Reader, TimeProvider.System, context.RequestAborted);
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = new Uri(_app.Urls.Single()), Timeout = Timeout.InfiniteTimeSpan };
        _clients = Enumerable.Range(0, Clients).Select(_ => new Client(http)).ToList();
        Task.WhenAll(_clients.Select(c => c.ConnectAsync())).GetAwaiter().GetResult();
        while (_hub.SubscriberCount < Clients)
        {
            Thread.Sleep(10);
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        await _app.StopAsync();
        await _app.DisposeAsync();
        await _center.DisposeAsync();
        _latenciesMs.Sort();
        var at = (double q) => _latenciesMs[Math.Min(_latenciesMs.Count - 1, (int)(q * _latenciesMs.Count))];
        Console.WriteLine($"// Live fan-out to {Clients} SSE clients, {Events} events at {EventsPerSecond}/s: latency p50 {at(0.5):F1} ms, p99 {at(0.99):F1} ms, max {_latenciesMs[^1]:F1} ms over {_latenciesMs.Count:N0} deliveries; {_deliveriesPerSecond.Average():N0} deliveries/s while publishing");
        _latenciesMs.Clear();
        _deliveriesPerSecond.Clear();
    }

    [Benchmark]
    public async Task PublishAndDeliverToEveryClient()
    {
        var targets = _clients.Select(c => c.ExpectAsync(Events)).ToList();
        var started = Stopwatch.GetTimestamp();
        var interval = Stopwatch.Frequency / EventsPerSecond;
        for (var i = 0; i < Events; i++)
        {
            var due = started + (i * interval);
            while (Stopwatch.GetTimestamp() < due)
            {
                await Task.Yield();
            }

            var sequence = Interlocked.Increment(ref _sequence);
            var json = Encoding.UTF8.GetBytes($"{{\"type\":\"agent.state\",\"sequence\":{sequence},\"sent\":{Stopwatch.GetTimestamp()}}}");
            _hub.Publish(new LiveEvent(sequence, "agent.state", "2001", null, json));
        }

        await Task.WhenAll(targets);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        _deliveriesPerSecond.Add(Events * (double)Clients / seconds);
        foreach (var client in _clients)
        {
            _latenciesMs.AddRange(client.TakeLatencies());
        }
    }

    /// <summary>One SSE client: reads frames and records each event's publish-to-receive time.</summary>
    private sealed class Client(HttpClient http) : IDisposable
    {
        private readonly List<double> _latencies = new(Events * 4);
        private StreamReader _reader = null!;
        private HttpResponseMessage _response = null!;

        public async Task ConnectAsync()
        {
            _response = await http.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead);
            _reader = new StreamReader(await _response.Content.ReadAsStreamAsync());
        }

        public async Task ExpectAsync(int count)
        {
            var received = 0;
            while (received < count)
            {
                var line = await _reader.ReadLineAsync() ?? throw new EndOfStreamException("The event stream ended.");
                var sent = line.IndexOf("\"sent\":", StringComparison.Ordinal);
                if (!line.StartsWith("data: ", StringComparison.Ordinal) || sent < 0)
                {
                    continue;
                }

                var now = Stopwatch.GetTimestamp();
                var end = line.IndexOf('}', sent);
                var at = long.Parse(line.AsSpan(sent + 7, end - sent - 7), CultureInfo.InvariantCulture);
                _latencies.Add((now - at) * 1000.0 / Stopwatch.Frequency);
                received++;
            }
        }

        public List<double> TakeLatencies()
        {
            var taken = _latencies.ToList();
            _latencies.Clear();
            return taken;
        }

        public void Dispose()
        {
            _reader.Dispose();
            _response.Dispose();
        }
    }
}
