using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CtiBridge.Core.Simulation;

namespace CtiBridge.Benchmarks.Core;

/// <summary>
/// A simulated busy hour (DES, same engine as production): 100 seats (the seed figure) and 1 000
/// seats over 20 queues and 50 skills, ~90 % occupancy, impatient callers, ring-no-answers,
/// position announcements every 60 s. One operation = the whole hour.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class AcdBusyHourBenchmarks
{
    [Params(100, 1_000)]
    public int Seats { get; set; }

    [Benchmark]
    public long SimulatedBusyHour()
    {
        var sim = new CallCenterSimulation(SimulationScenarios.BusyHour(Seats, seed: 1));
        var result = sim.Run();
        return result.Calls + result.Inputs;
    }

    [GlobalCleanup]
    public void Report()
    {
        var result = new CallCenterSimulation(SimulationScenarios.BusyHour(Seats, seed: 1)).Run();
        var stats = result.Statistics;
        var offered = stats.QueueNames.Sum(q => stats.ForQueue(q).Offered);
        var answered = stats.QueueNames.Sum(q => stats.ForQueue(q).Answered);
        var abandoned = stats.QueueNames.Sum(q => stats.ForQueue(q).Abandoned);
        Console.WriteLine($"// busy hour, {Seats} seats: {result.Calls} calls, {result.Inputs} inputs + {result.TimeAdvances} deadline firings; offered {offered}, answered {answered}, abandoned {abandoned}");
    }
}
