using BenchmarkDotNet.Attributes;
using CtiBridge.Core.Dialer;
using CtiBridge.Core.Dialer.Simulation;

namespace CtiBridge.Benchmarks.Dialer;

/// <summary>
/// Cost of the dialer: one predictive pacing decision for a 100-agent campaign, and a simulated
/// hour of a 100-agent predictive campaign (all dialer work plus the simulation around it).
/// </summary>
[MemoryDiagnoser]
public class DialerPacingBenchmarks
{
    private PacingContext _context = null!;
    private readonly PredictivePacing _pacing = new();

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var estimator = new PacingEstimator();
        for (var i = 0; i < 1000; i++)
        {
            var live = random.NextDouble() < 0.3;
            estimator.RecordDial(live, TimeSpan.FromSeconds(live ? 5 + (15 * random.NextDouble()) : 3 + (23 * random.NextDouble())));
            if (live)
            {
                estimator.RecordTalk(TimeSpan.FromSeconds(Math.Exp(Math.Log(120) - 0.32 + (0.8 * Normal(random)))));
                estimator.RecordWrapUp(TimeSpan.FromSeconds(10));
            }
        }

        var busy = Enumerable.Range(0, 92)
            .Select(i => i % 10 == 0
                ? new BusyAgent(TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(random.NextDouble() * 10))
                : new BusyAgent(TimeSpan.FromSeconds(random.NextDouble() * 300)))
            .ToArray();
        var lines = Enumerable.Range(0, 60).Select(_ => new PacingLine(DialedCallState.Ringing, TimeSpan.FromSeconds(random.NextDouble() * 25))).ToArray();
        _context = new PacingContext(new AgentSnapshot(100, 8, busy), lines, 300, estimator, 0.025, TimeSpan.FromSeconds(2));
    }

    /// <summary>One decision: 100 agents (8 ready, 92 busy), 60 lines ringing.</summary>
    [Benchmark]
    public int PredictiveDecisionHundredAgents() => _pacing.LinesToDial(_context);

    /// <summary>A simulated hour of 100 agents, p(live) 0.30, talk 120 s: about 9 000 dials.</summary>
    [Benchmark]
    public long SimulatedHourHundredAgents() => DialerSimulation.Run(
        new DialerScenario
        {
            Agents = 100,
            LiveAnswerProbability = 0.3,
            MeanTalkSeconds = 120,
            WarmUp = TimeSpan.FromMinutes(5),
            MinimumMeasured = TimeSpan.FromMinutes(55),
            MaximumMeasured = TimeSpan.FromMinutes(55),
            TargetLiveAnswers = int.MaxValue,
        },
        new SimulatedPacing(DialingMode.Predictive)).Dials;

    private static double Normal(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
}
