using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Benchmarks.Ari;

/// <summary>
/// ARI REST round trips on loopback with 200 calls in flight: <c>GET /channels/{id}</c> answered with the
/// recorded Asterisk response. Besides BenchmarkDotNet's per-batch numbers, every call's latency is kept
/// and the p50/p99 per call (and the fake server's own handling time) are printed at the end of the run.
/// </summary>
[MemoryDiagnoser]
public class AriRestRoundTripBenchmarks
{
    private const int InFlight = 200;
    private FixedAnswerServer? _server;
    private AriClient? _client;
    private readonly List<double> _latencyMs = new(1 << 20);

    [GlobalSetup]
    public void Setup()
    {
        var response = File.ReadAllBytes(Path.Combine(AriRecordings.Directory, "rest", "31-channel-get.http"));
        _server = new FixedAnswerServer(response);
        _client = new AriClient(new AriClientOptions
        {
            BaseAddress = new Uri($"http://127.0.0.1:{_server.Port}/ari"),
            UserName = "ctibridge",
            Password = "ctibridge-secret",
        });
        RoundTrips().GetAwaiter().GetResult();
        _latencyMs.Clear();
        _server.HandlingMs.Clear();
    }

    /// <summary>200 concurrent GET /channels/{id}; one operation = one call.</summary>
    [Benchmark(OperationsPerInvoke = InFlight)]
    public async Task RoundTrips()
    {
        var calls = new Task<double>[InFlight];
        for (var i = 0; i < InFlight; i++)
        {
            calls[i] = TimedCallAsync();
        }

        var results = await Task.WhenAll(calls);
        lock (_latencyMs)
        {
            _latencyMs.AddRange(results);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Report("client round trip", _latencyMs);
        lock (_server!.HandlingMs)
        {
            Report("server handling", _server.HandlingMs);
        }

        _client?.Dispose();
        _server.Dispose();
    }

    private async Task<double> TimedCallAsync()
    {
        var started = Stopwatch.GetTimestamp();
        await _client!.Channels.GetAsync("1795365690.89");
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    private static void Report(string what, List<double> samples)
    {
        if (samples.Count == 0)
        {
            return;
        }

        var sorted = samples.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine($"// ARI {what}: n={sorted.Length} p50={P(0.50):0.000} ms p99={P(0.99):0.000} ms max={sorted[^1]:0.000} ms");
    }

    /// <summary>HTTP/1.1 keep-alive server that answers every request with the same recorded bytes.</summary>
    private sealed class FixedAnswerServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly byte[] _response;
        private readonly CancellationTokenSource _stop = new();

        public FixedAnswerServer(byte[] response)
        {
            _response = response;
            _listener.Start(1024);
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public List<double> HandlingMs { get; } = new(1 << 20);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    socket.NoDelay = true;
                    _ = ServeAsync(socket);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            var buffer = new byte[16 * 1024];
            var filled = 0;
            try
            {
                while (true)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled), _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                    int end;
                    // GET requests have no body: every head is one request.
                    while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) >= 0)
                    {
                        var started = Stopwatch.GetTimestamp();
                        end += 4;
                        Buffer.BlockCopy(buffer, end, buffer, 0, filled - end);
                        filled -= end;
                        await socket.SendAsync(_response, _stop.Token);
                        var handled = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                        lock (HandlingMs)
                        {
                            HandlingMs.Add(handled);
                        }
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            finally
            {
                socket.Dispose();
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
