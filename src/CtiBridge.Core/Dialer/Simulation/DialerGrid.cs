using System.Globalization;
using System.Text;

namespace CtiBridge.Core.Dialer.Simulation;

/// <summary>One row of the scenario grid: progressive, the best fixed power ratio, and predictive.</summary>
/// <param name="Scenario">The scenario.</param>
/// <param name="Progressive">Progressive result.</param>
/// <param name="PowerRatio">The best fixed ratio found offline for this scenario (abandon at most 3 %).</param>
/// <param name="Power">That ratio's result.</param>
/// <param name="Predictive">Predictive result (no per-scenario tuning).</param>
public sealed record DialerGridRow(DialerScenario Scenario, SimulationResult Progressive, double PowerRatio, SimulationResult Power, SimulationResult Predictive)
{
    /// <summary>Predictive occupancy minus the tuned power occupancy, in percentage points.</summary>
    public double PredictiveGainPoints => (Predictive.Occupancy - Power.Occupancy) * 100;
}

/// <summary>The scenario grid (agents x live-answer probability x mean talk time), run through <see cref="DialerSimulation"/>.</summary>
public static class DialerGrid
{
    /// <summary>Agents per scenario in the full grid.</summary>
    public static IReadOnlyList<int> FullAgents { get; } = [5, 10, 20, 50];

    /// <summary>Live-answer probabilities in the full grid.</summary>
    public static IReadOnlyList<double> FullLiveAnswerProbabilities { get; } = [0.15, 0.30, 0.50];

    /// <summary>Mean talk times (seconds) in the full grid.</summary>
    public static IReadOnlyList<double> FullMeanTalkSeconds { get; } = [60, 120, 300];

    /// <summary>Every combination of the given values, each with the same run length and seed.</summary>
    public static IEnumerable<DialerScenario> Scenarios(IEnumerable<int> agents, IEnumerable<double> probabilities, IEnumerable<double> talks, int targetLiveAnswers, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(agents);
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(talks);
        var ps = probabilities.ToList();
        var ts = talks.ToList();
        foreach (var a in agents)
        {
            foreach (var p in ps)
            {
                foreach (var t in ts)
                {
                    yield return new DialerScenario { Agents = a, LiveAnswerProbability = p, MeanTalkSeconds = t, TargetLiveAnswers = targetLiveAnswers, Seed = seed };
                }
            }
        }
    }

    /// <summary>Runs one scenario with the three pacings (power tuned offline first).</summary>
    public static DialerGridRow Run(DialerScenario scenario)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        var progressive = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Progressive));
        var (ratio, power) = DialerSimulation.TunePowerRatio(scenario);
        var predictive = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive));
        return new DialerGridRow(scenario, progressive, ratio, power, predictive);
    }

    /// <summary>The rows as a Markdown table (occupancy and abandon rate per pacing).</summary>
    public static string ToMarkdown(IEnumerable<DialerGridRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var sb = new StringBuilder();
        sb.Append("| agents | p(live) | talk s | progressive occ / abandon | tuned power ratio | power occ / abandon | predictive occ / abandon | predictive − power |\n");
        sb.Append("|---:|---:|---:|---|---:|---|---|---:|\n");
        foreach (var r in rows)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"| {r.Scenario.Agents} | {r.Scenario.LiveAnswerProbability:0.00} | {r.Scenario.MeanTalkSeconds:0} | {Cell(r.Progressive)} | {r.PowerRatio:0.00} | {Cell(r.Power)} | {Cell(r.Predictive)} | {r.PredictiveGainPoints:+0.0;-0.0;0.0} |\n");
        }

        return sb.ToString();
    }

    private static string Cell(SimulationResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.Occupancy * 100:0.0} % / {r.AbandonRate * 100:0.00} %");
}
