using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace CtiBridge.Benchmarks.PbxSim;

/// <summary>
/// PbxSim under the load the issue asks it to carry: 1 000 registered phones, 50 new calls per second,
/// about 300 calls up at once, with one AMI client (events on) and one ARI WebSocket client reading
/// every event over loopback. Model time runs on a manual clock, 60 s of it per invocation (3 000
/// calls: half ring a phone and are bridged over AMI, half enter the Stasis app over ARI); the
/// invocation ends when both clients have read every event. Wall time below 60 s means PbxSim is
/// faster than real time at that load; the cleanup prints events/s and CPU use.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
[MemoryDiagnoser]
public class PbxSimLoadBenchmarks
{
    private readonly List<string> _results = [];

    [Benchmark]
    public async Task FiftyCallsPerSecond_ThreeHundredConcurrent_AmiAndAriStreaming() =>
        _results.Add((await PbxSimLoad.RunAsync(new PbxSimLoadSettings())).ToString());

    [GlobalCleanup]
    public void Report()
    {
        foreach (var line in _results)
        {
            Console.WriteLine(line);
        }
    }
}
