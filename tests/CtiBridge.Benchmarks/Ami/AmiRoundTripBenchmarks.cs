using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Benchmarks.Ami;

/// <summary>
/// Action round trips over loopback (Ping → Pong): one at a time, and 1 000 in flight at once.
/// Every latency is recorded; p50/p99 are printed at the end (BenchmarkDotNet's mean is per batch).
/// </summary>
[MemoryDiagnoser]
public class AmiRoundTripBenchmarks
{
    public const int Actions = 1000;

    private readonly List<double> _sequential = [];
    private readonly List<double> _inFlight = [];
    private AmiLoopbackServer _server = null!;
    private AmiClient _client = null!;
    private int _invocation;
    private readonly Dictionary<string, (TimeSpan Cpu, int Batches)> _cpu = [];
    private TimeSpan _cpuAtStart;

    // Run with --warmupCount 30 (docs/benchmarks.md): BenchmarkDotNet runs one jitting and 30
    // warm-up invocations first, while the JIT tiers the code up; their latencies are not kept.
    private bool Measuring => _invocation > 31;

    [GlobalSetup]
    public void Setup()
    {
        _server = new AmiLoopbackServer([]);
        _client = new AmiClient(new AmiClientOptions
        {
            Port = _server.Port,
            Username = "ctibridge",
            Secret = "ctibridge-secret",
            Authentication = AmiAuthentication.Plain,
            PingInterval = TimeSpan.Zero,
        });
        _client.StartAsync().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _invocation = 0;
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        Print("one at a time", _sequential);
        Print($"{Actions} in flight", _inFlight);
        _sequential.Clear();
        _inFlight.Clear();
        foreach (var (name, (cpu, batches)) in _cpu)
        {
            // Process CPU (client and the in-process server) per measured batch of 1 000 actions: unlike
            // wall time it does not grow while the process waits for a core on a loaded machine.
            Console.WriteLine($"// AMI round trip {name}: {cpu.TotalMilliseconds / batches:F2} ms of process CPU per {Actions} actions ({batches} batches)");
        }

        _cpu.Clear();
    }

    [IterationSetup]
    public void CountInvocation()
    {
        _invocation++;
        _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
    }

    [Benchmark(OperationsPerInvoke = Actions)]
    public async Task OneAtATime()
    {
        for (var i = 0; i < Actions; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await _client.SendAsync(new AmiAction("Ping"));
            var elapsed = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            if (Measuring)
            {
                _sequential.Add(elapsed);
            }
        }

        RecordCpu("one at a time");
    }

    [Benchmark(OperationsPerInvoke = Actions)]
    public async Task ThousandInFlight()
    {
        var tasks = new Task<double>[Actions];
        for (var i = 0; i < Actions; i++)
        {
            tasks[i] = Timed(_client.SendAsync(new AmiAction("Ping")), Stopwatch.GetTimestamp());
        }

        var latencies = await Task.WhenAll(tasks);
        if (Measuring)
        {
            _inFlight.AddRange(latencies);
        }

        RecordCpu($"{Actions} in flight");

        static async Task<double> Timed(Task<AmiMessage> send, long start)
        {
            await send;
            return Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
    }

    private void RecordCpu(string name)
    {
        if (Measuring)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
            _cpu[name] = _cpu.TryGetValue(name, out var sum) ? (sum.Cpu + cpu, sum.Batches + 1) : (cpu, 1);
        }
    }

    private static void Print(string name, List<double> latencies)
    {
        if (latencies.Count == 0)
        {
            return;
        }

        latencies.Sort();
        Console.WriteLine(
            $"// AMI round trip {name}: p50 {latencies[latencies.Count / 2]:F1} µs, p99 {latencies[(int)(latencies.Count * 0.99)]:F1} µs, " +
            $"max {latencies[^1]:F1} µs over {latencies.Count:N0} actions (warm-up excluded)");
    }
}
