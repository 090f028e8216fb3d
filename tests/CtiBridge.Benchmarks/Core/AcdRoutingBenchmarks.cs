using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace CtiBridge.Benchmarks.Core;

/// <summary>
/// Routing decision cost under steady load (docs/benchmarks.md, "ACD core"): all agents busy, a
/// backlog of waiting calls over 20 queues and 50 skills. One operation = one engine input
/// (hang-up, offer on agent available, answer, arrival). The per-input percentiles of every
/// input timed during the run are printed at the end of each case.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class AcdRoutingBenchmarks
{
    private const int CyclesPerInvoke = 4_000;

    private LoadedAcd _acd = null!;

    [Params(100, 1_000, 10_000)]
    public int Agents { get; set; }

    [Params(5_000)]
    public int WaitingCalls { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _acd = new LoadedAcd(Agents, WaitingCalls);
        Console.WriteLine($"// setup: {Agents} agents on calls, {_acd.Waiting} calls waiting");
    }

    /// <summary>4 000 cycles of hang-up → offer → answer → arrival: 3 inputs per cycle (times are per input).</summary>
    [Benchmark(OperationsPerInvoke = CyclesPerInvoke * 3)]
    public int SteadyStateInputs()
    {
        var inputs = 0;
        for (var i = 0; i < CyclesPerInvoke; i++)
        {
            inputs += _acd.Cycle();
        }

        return inputs;
    }

    [GlobalCleanup]
    public void Report()
    {
        Console.WriteLine($"// per-input latency, {Agents} agents / {WaitingCalls} waiting (still {_acd.Waiting}): {_acd.Percentiles()}");
    }
}
