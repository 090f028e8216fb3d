using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Simulation;

namespace CtiBridge.Core.Tests.Simulation;

/// <summary>
/// The DES with one queue, Poisson arrivals, exponential talk times and <c>leastrecent</c> must agree
/// with Erlang C (no abandons) and Erlang A (exponential patience) within the simulation's 99 %
/// confidence interval (30 batch means after a one-hour warm-up). docs/erlang-validation.md shows the table.
/// </summary>
public sealed class ErlangValidationTests
{
    private const int Batches = 30;
    private static readonly TimeSpan WarmUp = TimeSpan.FromHours(1);

    public static TheoryData<int, double, double, int> ErlangCCases => new()
    {
        { 10, 170, 180, 200 },   // 10 agents, 8.5 Erlang (85 %), AHT 3 min
        { 50, 900, 180, 60 },    // 50 agents, 45 Erlang (90 %)
    };

    public static TheoryData<int, double, double, double, int> ErlangACases => new()
    {
        { 10, 200, 180, 120, 200 }, // 10 agents, 10 Erlang (100 %), patience 2 min
        { 20, 480, 180, 60, 100 },  // 20 agents, 24 Erlang (overloaded), patience 1 min
    };

    private sealed record Visit(DateTimeOffset Arrived, double Wait, QueueVisitOutcome Outcome);

    private static List<Visit> Simulate(SimulationScenario scenario)
    {
        var result = new CallCenterSimulation(scenario).Run();
        var arrived = new Dictionary<string, DateTimeOffset>();
        var visits = new List<Visit>();
        foreach (var e in result.Events)
        {
            if (e is CallEnqueued q)
            {
                arrived[q.CallId] = q.At;
            }
            else if (e is QueueVisitEnded v)
            {
                visits.Add(new Visit(arrived[v.CallId], v.Wait.TotalSeconds, v.Outcome));
            }
        }

        // Every generated call left its single queue exactly once.
        Assert.Equal(result.Calls, visits.Count);
        var start = scenario.Start + WarmUp;
        return [.. visits.Where(v => v.Arrived >= start)];
    }

    private static List<double> PerBatch(List<Visit> visits, DateTimeOffset start, TimeSpan length, Func<List<Visit>, double> metric)
    {
        var batchLength = length / Batches;
        return [.. Enumerable.Range(0, Batches).Select(i => metric(
            [.. visits.Where(v => v.Arrived >= start + (batchLength * i) && v.Arrived < start + (batchLength * (i + 1)))]))];
    }

    private static void AssertWithin(string what, double theory, (double Mean, double HalfWidth) ci, List<string> row)
    {
        row.Add(string.Create(CultureInfo.InvariantCulture, $"{theory:0.0000} | {ci.Mean:0.0000} ± {ci.HalfWidth:0.0000}"));
        Assert.True(Math.Abs(theory - ci.Mean) <= ci.HalfWidth,
            string.Create(CultureInfo.InvariantCulture, $"{what}: theory {theory:0.0000}, simulation {ci.Mean:0.0000} ± {ci.HalfWidth:0.0000} (99 % CI)"));
    }

    [Theory]
    [MemberData(nameof(ErlangCCases))]
    public void LeastRecent_PoissonArrivalsExponentialTalk_MatchesErlangC(int agents, double callsPerHour, double aht, int hours)
    {
        var scenario = SimulationScenarios.SingleQueue(agents, callsPerHour, aht, TimeSpan.FromHours(hours) + WarmUp, seed: 7);
        var visits = Simulate(scenario);
        const double threshold = 20;
        var theory = QueueingTheory.ErlangCMetrics(agents, callsPerHour / 3600, aht, threshold);
        var start = scenario.Start + WarmUp;
        var length = TimeSpan.FromHours(hours);
        var row = new List<string> { $"Erlang C | {agents} | {callsPerHour.ToString(CultureInfo.InvariantCulture)} | {aht.ToString(CultureInfo.InvariantCulture)} | – | {visits.Count}" };

        Assert.All(visits, v => Assert.Equal(QueueVisitOutcome.Answered, v.Outcome));
        AssertWithin("P(wait > 0)", theory.PDelay, QueueingTheory.BatchInterval(PerBatch(visits, start, length, b => b.Count(v => v.Wait > 0) / (double)b.Count)), row);
        AssertWithin("SL(20 s)", theory.ServiceLevel, QueueingTheory.BatchInterval(PerBatch(visits, start, length, b => b.Count(v => v.Wait <= threshold) / (double)b.Count)), row);
        AssertWithin("ASA", theory.MeanWait, QueueingTheory.BatchInterval(PerBatch(visits, start, length, b => b.Average(v => v.Wait))), row);
        WriteRow(row);
    }

    [Theory]
    [MemberData(nameof(ErlangACases))]
    public void LeastRecent_ImpatientCallers_MatchesErlangA(int agents, double callsPerHour, double aht, double patience, int hours)
    {
        var scenario = SimulationScenarios.SingleQueue(agents, callsPerHour, aht, TimeSpan.FromHours(hours) + WarmUp,
            patience: Distribution.Exponential(patience), seed: 11);
        var visits = Simulate(scenario);
        var theory = QueueingTheory.ErlangAMetrics(agents, callsPerHour / 3600, aht, patience);
        var start = scenario.Start + WarmUp;
        var length = TimeSpan.FromHours(hours);
        var row = new List<string> { $"Erlang A | {agents} | {callsPerHour.ToString(CultureInfo.InvariantCulture)} | {aht.ToString(CultureInfo.InvariantCulture)} | {patience.ToString(CultureInfo.InvariantCulture)} | {visits.Count}" };

        AssertWithin("P(wait > 0)", theory.PDelay, QueueingTheory.BatchInterval(PerBatch(visits, start, length, b => b.Count(v => v.Wait > 0) / (double)b.Count)), row);
        AssertWithin("P(abandon)", theory.PAbandon, QueueingTheory.BatchInterval(PerBatch(visits, start, length, b => b.Count(v => v.Outcome == QueueVisitOutcome.Abandoned) / (double)b.Count)), row);
        AssertWithin("mean wait (all callers)", theory.MeanWait, QueueingTheory.BatchInterval(PerBatch(visits, start, length, b => b.Average(v => v.Wait))), row);
        WriteRow(row);
    }

    [Fact]
    public void QueueingTheory_KnownErlangCValue()
    {
        // Textbook: 10 agents, 8 Erlang → P(wait) ≈ 0.4092.
        Assert.Equal(0.4092, QueueingTheory.ErlangC(10, 8), 3);
        // Erlang A with very patient callers tends to Erlang C.
        Assert.Equal(QueueingTheory.ErlangC(10, 8), QueueingTheory.ErlangAMetrics(10, 8.0 / 180, 180, 1e9).PDelay, 4);
    }

    /// <summary>With CTIBRIDGE_ERLANG_TABLE set, rows for docs/erlang-validation.md are appended to that file.</summary>
    private static void WriteRow(List<string> row)
    {
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_ERLANG_TABLE") is { Length: > 0 } path)
        {
            File.AppendAllText(path, "| " + string.Join(" | ", row) + " |" + Environment.NewLine);
        }
    }
}
