using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Benchmarks.Ari;

/// <summary>
/// ARI REST round trips on loopback, one at a time and with 200 calls in flight: <c>GET /channels/{id}</c>
/// answered with the recorded Asterisk response. Besides BenchmarkDotNet's per-batch numbers (one operation
/// = one call), every call's latency is kept and p50/p99 per call, plus the fake server's own handling time,
/// are printed at the end of each case (lines starting with <c>// ARI</c>).
/// </summary>
[MemoryDiagnoser]
public class AriRestRoundTripBenchmarks
{
    private const int Batch = 200;
    private FixedAnswerServer? _server;
    private AriClient? _client;
    private readonly List<double> _latencyMs = new(1 << 20);
    private TimeSpan _cpuAtStart;

    /// <summary>Calls in flight at once.</summary>
    [Params(1, 200)]
    public int InFlight { get; set; }

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
        _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
    }

    /// <summary>200 calls of GET /channels/{id}, <see cref="InFlight"/> at a time; one operation = one call.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task RoundTrips()
    {
        var results = new double[Batch];
        var workers = new Task[InFlight];
        var next = -1;
        for (var w = 0; w < InFlight; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < Batch)
                {
                    results[i] = await TimedCallAsync();
                }
            });
        }

        await Task.WhenAll(workers);
        lock (_latencyMs)
        {
            _latencyMs.AddRange(results);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Report($"client round trip, {InFlight} in flight", _latencyMs);
        // CPU, unlike wall time, does not count waiting for a core on a loaded machine: an upper
        // bound of the work per call (client, in-process server and BenchmarkDotNet's own loop).
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
        if (_latencyMs.Count > 0)
        {
            Console.WriteLine($"// ARI CPU per call, {InFlight} in flight: {cpu.TotalMicroseconds / _latencyMs.Count:0.0} µs of process CPU (client + loopback server) over {_latencyMs.Count} calls");
        }

        lock (_server!.HandlingMs)
        {
            Report($"server handling, {InFlight} in flight", _server.HandlingMs);
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
