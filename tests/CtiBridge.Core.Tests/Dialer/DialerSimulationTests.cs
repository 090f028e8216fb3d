using CtiBridge.Core.Dialer;
using CtiBridge.Core.Dialer.Simulation;

namespace CtiBridge.Core.Tests.Dialer;

public sealed class DialerSimulationTests(ITestOutputHelper output)
{
    private static readonly DialerScenario TwentyAgents = new()
    {
        Agents = 20,
        LiveAnswerProbability = 0.3,
        MeanTalkSeconds = 120,
        TargetLiveAnswers = 1500,
        MinimumMeasured = TimeSpan.FromHours(1),
        Seed = 3,
    };

    [Fact]
    public void Run_SameSeed_SameResult()
    {
        var scenario = TwentyAgents with { TargetLiveAnswers = 300, MinimumMeasured = TimeSpan.FromMinutes(20) };
        var first = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive));
        var second = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive));

        Assert.Equal((first.Occupancy, first.Abandons, first.Dials), (second.Occupancy, second.Abandons, second.Dials));
    }

    [Fact]
    public void Run_ProgressiveTeam_NeverAbandons()
    {
        var result = DialerSimulation.Run(TwentyAgents with { TargetLiveAnswers = 500 }, new SimulatedPacing(DialingMode.Progressive));

        Assert.Equal(0, result.Abandons);
        Assert.InRange(result.Occupancy, 0.5, 0.9);
    }

    [Fact]
    public void Grid_TwentyAgentsAt30PercentLiveAnswers_PredictiveBusierThanBestFixedRatioUnder3Percent()
    {
        var row = DialerGrid.Run(TwentyAgents);
        output.WriteLine(DialerGrid.ToMarkdown([row]));

        Assert.True(row.Power.AbandonRate <= 0.03);
        Assert.True(row.Predictive.AbandonRate <= 0.03, $"predictive abandoned {row.Predictive.AbandonRate:P2}");
        Assert.True(row.Predictive.Occupancy >= row.Power.Occupancy, $"predictive {row.Predictive.Occupancy:P1} < power {row.Power.Occupancy:P1}");
        Assert.True(row.Progressive.Occupancy < row.Power.Occupancy);
    }

    /// <summary>
    /// The full scenario grid of docs/benchmarks.md (several minutes; not part of the suite). Run with
    /// <c>-- --filter-method '*DialerGridReport*' --explicit only</c>; CTIBRIDGE_DIALER_GRID=reduced runs a small subset.
    /// </summary>
    [Fact(Explicit = true)]
    public void DialerGridReport_FullGrid_PrintsTableAndMeetsGoals()
    {
        var reduced = Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID") == "reduced";
        var scenarios = reduced
            ? DialerGrid.Scenarios([5, 50], [0.15, 0.5], [120], 2000)
            : DialerGrid.Scenarios(DialerGrid.FullAgents, DialerGrid.FullLiveAnswerProbabilities, DialerGrid.FullMeanTalkSeconds, 4000);
        var rows = new List<DialerGridRow>();
        foreach (var scenario in scenarios)
        {
            var row = DialerGrid.Run(scenario);
            rows.Add(row);
            output.WriteLine(DialerGrid.ToMarkdown([row]).Split('\n')[2]);
        }

        var table = DialerGrid.ToMarkdown(rows);
        output.WriteLine(table);
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID_OUT") is { Length: > 0 } path)
        {
            File.WriteAllText(path, table);
        }

        Assert.All(rows, r => Assert.True(r.Predictive.AbandonRate <= 0.03, $"{r.Scenario}: predictive abandoned {r.Predictive.AbandonRate:P2}"));
        Assert.All(rows, r => Assert.True(r.Predictive.Occupancy >= r.Power.Occupancy, $"{r.Scenario}: predictive {r.Predictive.Occupancy:P1} < tuned power {r.Power.Occupancy:P1}"));
    }

    /// <summary>
    /// The nine 50-agent points with predictive pacing as campaigns use it and with the time-slotted
    /// forecast of agent releases (<see cref="SlottedPredictivePacing"/>), docs/benchmarks.md "Dialer".
    /// Several minutes; not part of the suite: <c>-- --filter-method '*SlottedForecastReport*' --explicit only</c>
    /// (CTIBRIDGE_DIALER_GRID=reduced: two points; CTIBRIDGE_DIALER_GRID_OUT=file writes the table).
    /// </summary>
    [Fact(Explicit = true)]
    public void SlottedForecastReport_FiftyAgents_PrintsBothPacings() =>
        CompareOnFiftyAgents("slotted", () => new SlottedPredictivePacing());

    /// <summary>
    /// The nine 50-agent points with predictive pacing as campaigns use it and with the per-answer
    /// deadline queue (<see cref="DeadlineQueuePacing"/>), docs/benchmarks.md "Dialer". Several minutes;
    /// not part of the suite: <c>-- --filter-method '*DeadlineQueueReport*' --explicit only</c>
    /// (CTIBRIDGE_DIALER_GRID=reduced: two points; CTIBRIDGE_DIALER_GRID_OUT=file writes the table).
    /// </summary>
    [Fact(Explicit = true)]
    public void DeadlineQueueReport_FiftyAgents_PrintsBothPacings() =>
        CompareOnFiftyAgents("deadline queue", () => new DeadlineQueuePacing());

    /// <summary>
    /// The nine 50-agent points with predictive pacing as campaigns use it and with a larger
    /// estimator window (less noise in the live-answer probability and a near-exact talk-time
    /// distribution), alone and with a higher abandon target; docs/benchmarks.md "Dialer". Not part of
    /// the suite: <c>-- --filter-method '*EstimatorWindowReport*' --explicit only</c>
    /// (CTIBRIDGE_DIALER_GRID_OUT=file writes the table).
    /// </summary>
    [Fact(Explicit = true)]
    public void EstimatorWindowReport_FiftyAgents_PrintsEachVariant() => ReportVariantsOnFiftyAgents(
    [
        ("main (window 1 000)", new SimulatedPacing(DialingMode.Predictive)),
        ("window 8 000", new SimulatedPacing(DialingMode.Predictive, EstimatorWindow: 8000)),
        ("window 8 000, share 0.92", new SimulatedPacing(DialingMode.Predictive, EstimatorWindow: 8000, TargetShareOfLimit: 0.92)),
    ]);

    /// <summary>
    /// The nine 50-agent points with predictive pacing given the abandon budget the tuned ratios use:
    /// aiming at 97 % of the limit with the limit guard off (as the ratios are measured), i.e. how much
    /// of the gap is the budget and how much the model; docs/benchmarks.md "Dialer". Not part of the
    /// suite: <c>-- --filter-method '*AbandonBudgetReport*' --explicit only</c>.
    /// </summary>
    [Fact(Explicit = true)]
    public void AbandonBudgetReport_FiftyAgents_PrintsEachVariant() => ReportVariantsOnFiftyAgents(
    [
        ("share 0.97, guard off", new SimulatedPacing(DialingMode.Predictive, EnforceAbandonLimit: false, TargetShareOfLimit: 0.97)),
    ], limit: 0.035);

    /// <summary>
    /// The nine 50-agent points with the allowance steered towards the target share only (no collapse
    /// of the target as the headroom shrinks; the limit guard still holds the limit), at 85 % and 92 %
    /// of the limit; docs/benchmarks.md "Dialer". Not part of the suite:
    /// <c>-- --filter-method '*SteadyTargetReport*' --explicit only</c>.
    /// </summary>
    [Fact(Explicit = true)]
    public void SteadyTargetReport_FiftyAgents_PrintsEachVariant() => ReportVariantsOnFiftyAgents(
    [
        ("steady target 0.85", new SimulatedPacing(DialingMode.Predictive, SteerOnHeadroom: false)),
        ("steady target 0.92", new SimulatedPacing(DialingMode.Predictive, SteerOnHeadroom: false, TargetShareOfLimit: 0.92)),
    ]);

    [Fact]
    public void Run_ClairvoyantOracle_AbandonsNobodyAndKeepsAgentsBusierThanPredictive()
    {
        var scenario = TwentyAgents with { TargetLiveAnswers = 800, MinimumMeasured = TimeSpan.FromMinutes(30) };
        var oracle = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive, Foresight: f => new ClairvoyantPacing(f), FatesKnownAhead: true));
        var predictive = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive));
        output.WriteLine($"oracle {oracle.Occupancy:P1} / {oracle.AbandonRate:P2}, predictive {predictive.Occupancy:P1} / {predictive.AbandonRate:P2}");

        Assert.True(oracle.LiveAnswers >= 800);
        Assert.Equal(0, oracle.Abandons);
        Assert.True(oracle.Occupancy > predictive.Occupancy, $"oracle {oracle.Occupancy:P1} <= predictive {predictive.Occupancy:P1}");
    }

    [Fact]
    public void Run_FatesNotKnownAhead_OracleIsRefusedWithTheReason()
    {
        var scenario = TwentyAgents with { TargetLiveAnswers = 50, MinimumMeasured = TimeSpan.FromMinutes(1) };

        var error = Assert.Throws<InvalidOperationException>(() => DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive, Foresight: f => new ClairvoyantPacing(f))));
        Assert.Contains("FatesKnownAhead", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Abandons_AnswersPlayedOutFirstComeFirstServed_CountsOnlyThoseNoAgentTakesWithinTheDeadline()
    {
        // One agent ready now, one free at 10 s (wrap-up 5 s): the answer at 1 s takes the first (talk 3 s: free
        // again at 9 s); the one at 2 s is abandoned (the agents are free at 9 and 10 s, after its 4 s deadline);
        // the one at 8 s takes the first agent at 9 s. With the second agent free at 3.5 s nobody is abandoned.
        KnownAnswer[] answers = [new(1, 3), new(2, 30), new(8, 30)];

        Assert.Equal(1, ClairvoyantPacing.Abandons([0, 10], answers, deadline: 2, wrapUp: 5));
        Assert.Equal(0, ClairvoyantPacing.Abandons([0, 3.5], answers, deadline: 2, wrapUp: 5));
    }

    [Fact]
    public void RolloutPlayOut_AnswersTakeTheSoonestFreeAgent_CountsIdleTimeAndAbandons()
    {
        // Agents free at 0 and 10 s, answers at 1, 2 and 8 s: the first takes the ready agent after 1 s of idle,
        // the second finds nobody within 2 s, the third takes the agent freed at 10 s (no idle). A new line
        // answering at 0.5 s takes the ready agent first and leaves the answer at 1 s without one.
        double[][] releases = [[0, 10]];
        double[][] answers = [[1, 2, 8]];
        (double, int)[][] fresh = [[(0.5, 0)]];

        Assert.Equal((1.0, 1L), RolloutPacing.PlayOut(releases, answers, fresh, newLines: 0, deadline: 2, horizon: 25));
        Assert.Equal((0.5, 2L), RolloutPacing.PlayOut(releases, answers, fresh, newLines: 1, deadline: 2, horizon: 25));
        Assert.Equal((45.0, 0L), RolloutPacing.PlayOut([[0, 5]], [[]], [[]], newLines: 0, deadline: 2, horizon: 25));
    }

    /// <summary>
    /// Issue 10's "+3 points at 50 agents" against an upper bound: the nine 50-agent points with
    /// predictive pacing as campaigns use it, the clairvoyant oracle (<see cref="ClairvoyantPacing"/>),
    /// and <see cref="ReleaseMatchingPacing"/> with releases forecast from the talk-time distribution and
    /// with the exact ones; docs/benchmarks.md "Dialer". Not part of the suite:
    /// <c>-- --filter-method '*OracleBoundReport*' --explicit only</c> (CTIBRIDGE_DIALER_GRID_OUT=file writes the table).
    /// </summary>
    [Fact(Explicit = true)]
    public void OracleBoundReport_FiftyAgents_PrintsEachVariant() => ReportVariantsOnFiftyAgents(
    [
        ("main", new SimulatedPacing(DialingMode.Predictive)),
        ("clairvoyant oracle", new SimulatedPacing(DialingMode.Predictive, Foresight: f => new ClairvoyantPacing(f), FatesKnownAhead: true)),
        ("releases over ring times, forecast", new SimulatedPacing(DialingMode.Predictive, Strategy: new ReleaseMatchingPacing())),
        ("releases over ring times, exact", new SimulatedPacing(DialingMode.Predictive, Foresight: f => new ReleaseMatchingPacing(f))),
    ]);

    /// <summary>
    /// <see cref="DeadlineQueuePacing"/> with the busy agents' exact release times instead of draws
    /// (what a perfect forecast of releases buys the per-answer queue model); docs/benchmarks.md
    /// "Dialer". Slow (the queue is played out 128 times per decision); not part of the suite:
    /// <c>-- --filter-method '*ExactReleaseQueueReport*' --explicit only</c> (CTIBRIDGE_DIALER_GRID=reduced: two points).
    /// </summary>
    [Fact(Explicit = true)]
    public void ExactReleaseQueueReport_FiftyAgents_PrintsBothPacings() =>
        CompareOnFiftyAgents("deadline queue, exact releases", null, f => new DeadlineQueuePacing(releases: f));

    /// <summary>
    /// The 50-agent points with predictive pacing as campaigns use it and with rollout pacing
    /// (<see cref="RolloutPacing"/>: expected idle time plus a ledger-steered price per abandon, later
    /// decisions' lines included); docs/benchmarks.md "Dialer", "Rollout pacing". Slow; not part of the
    /// suite: <c>-- --filter-method '*RolloutReport*' --explicit only</c>. CTIBRIDGE_DIALER_POINTS picks
    /// points as "p:talk" pairs (e.g. "0.15:120 0.50:300"; all nine when unset), CTIBRIDGE_DIALER_ANSWERS
    /// the live answers per point (4 000), CTIBRIDGE_DIALER_HOURS the least simulated hours measured (2), CTIBRIDGE_DIALER_PARALLEL the runs at once (2),
    /// CTIBRIDGE_DIALER_VARIANTS the variants by name (separated by ";"), CTIBRIDGE_DIALER_GRID_OUT=file writes the table.
    /// </summary>
    [Fact(Explicit = true)]
    public void RolloutReport_FiftyAgents_PrintsEachVariant()
    {
        (string Name, Func<SimulatedPacing> Pacing)[] variants =
        [
            ("main", () => new SimulatedPacing(DialingMode.Predictive)),
            ("rollout", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing())),
            ("rollout, no later dials", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing(futureDials: false))),
            ("rollout, exact releases", () => new SimulatedPacing(DialingMode.Predictive, Foresight: f => new RolloutPacing(releases: f))),
            ("rollout, fates known once dialled", () => new SimulatedPacing(DialingMode.Predictive, Foresight: f => new RolloutPacing(releases: f, answersKnownOnceDialled: true))),
            ("rollout, horizon 35 s", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing(horizon: 35))),
            ("rollout, price x4", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing(priceScale: 10))),
            ("rollout, price /4", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing(priceScale: 0.625))),
            ("rollout, later dials react", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing(laterDialsReact: true))),
            ("rollout, share 0.95", () => new SimulatedPacing(DialingMode.Predictive, Strategy: new RolloutPacing(), TargetShareOfLimit: 0.95)),
        ];

        // CTIBRIDGE_DIALER_VARIANTS picks some by name, separated by semicolons (main and rollout when unset).
        var chosen = Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_VARIANTS") is { Length: > 0 } names
            ? names.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : ["main", "rollout"];
        ReportVariantsInParallel([.. chosen.Select(name => variants.Single(v => v.Name == name))]);
    }

    /// <summary>
    /// Giving up unanswered lines at the 15 s minimum ring time (docs/benchmarks.md "Giving up unanswered
    /// lines"): predictive as campaigns use it (lines that rang 15 s given up when at most one agent is free),
    /// without it (as before), and with a fixed 15 s ring timeout instead. Not part of the suite:
    /// <c>-- --filter-method '*GiveUpReport*' --explicit only</c>; the CTIBRIDGE_DIALER_* variables of
    /// <see cref="RolloutReport_FiftyAgents_PrintsEachVariant"/> apply (CTIBRIDGE_DIALER_AGENTS: the team size, 50;
    /// CTIBRIDGE_DIALER_SEED: the scenarios' seed, 1).
    /// </summary>
    [Fact(Explicit = true)]
    public void GiveUpReport_FiftyAgents_PrintsEachVariant()
    {
        (string Name, Func<SimulatedPacing> Pacing)[] variants =
        [
            ("main", () => new SimulatedPacing(DialingMode.Predictive)),
            ("no give-up", () => new SimulatedPacing(DialingMode.Predictive, GiveUpRingingLines: false)),
            ("ring timeout 15 s, no give-up", () => new SimulatedPacing(DialingMode.Predictive, RingTimeout: TimeSpan.FromSeconds(15), GiveUpRingingLines: false)),
            ("share 0.92", () => new SimulatedPacing(DialingMode.Predictive, TargetShareOfLimit: 0.92)),
            ("no abandon budget", () => new SimulatedPacing(DialingMode.Predictive, AbandonBudget: false)),
        ];
        var chosen = Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_VARIANTS") is { Length: > 0 } names
            ? names.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : ["main", "no give-up", "ring timeout 15 s, no give-up"];
        ReportVariantsInParallel([.. chosen.Select(name => variants.Single(v => v.Name == name))]);
    }

    private void ReportVariantsInParallel((string Name, Func<SimulatedPacing> Pacing)[] variants)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var answers = int.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_ANSWERS"), inv, out var a) ? a : 4000;
        var parallel = int.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_PARALLEL"), inv, out var n) ? n : 2;
        var team = int.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_AGENTS"), inv, out var t) ? t : 50;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_SEED"), inv, out var sd) ? sd : 1;
        var scenarios = Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_POINTS") is { Length: > 0 } points
            ? [.. points.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(point => point.Split(':')).SelectMany(pt =>
                DialerGrid.Scenarios([team], [double.Parse(pt[0], inv)], [double.Parse(pt[1], inv)], answers, seed))]
            : DialerGrid.Scenarios([team], DialerGrid.FullLiveAnswerProbabilities, DialerGrid.FullMeanTalkSeconds, answers, seed).ToList();
        if (double.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_HOURS"), inv, out var hours))
        {
            scenarios = [.. scenarios.Select(s => s with { MinimumMeasured = TimeSpan.FromHours(hours) })];
        }

        var runs = scenarios.SelectMany(s => variants.Select(v => (Scenario: s, v.Name, v.Pacing))).ToList();
        var results = new SimulationResult[runs.Count];
        var progress = Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID_OUT") is { Length: > 0 } outPath ? outPath + ".progress" : null;
        var gate = new object();
        Parallel.For(0, runs.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
        {
            var r = results[i] = DialerSimulation.Run(runs[i].Scenario, runs[i].Pacing());
            if (progress is not null)
            {
                lock (gate)
                {
                    File.AppendAllText(progress, string.Create(inv, $"{DateTimeOffset.UtcNow:HH:mm:ss} {runs[i].Scenario}, {runs[i].Name}: {r.Occupancy * 100:0.0} / {r.AbandonRate * 100:0.00}, {r.LiveAnswers} answers, dialer {r.DialerCpu.TotalSeconds:0} s\n"));
                }
            }
        });

        var table = new System.Text.StringBuilder("| p(live) | talk s | " + string.Join(" | ", variants.Select(v => v.Name + " occ / abandon")) + " | dialer time per variant |\n|---:|---:|" + string.Concat(variants.Select(_ => "---|")) + "---|\n");
        for (var i = 0; i < runs.Count; i += variants.Length)
        {
            var row = results.Skip(i).Take(variants.Length).ToList();
            var line = string.Create(inv, $"| {runs[i].Scenario.LiveAnswerProbability:0.00} | {runs[i].Scenario.MeanTalkSeconds:0} | {string.Join(" | ", row.Select(r => string.Create(inv, $"{r.Occupancy * 100:0.0} / {r.AbandonRate * 100:0.00}")))} | {string.Join(", ", row.Select(r => string.Create(inv, $"{r.DialerCpu.TotalSeconds:0} s")))} for {row[0].Simulated.TotalHours:0.0} h |");
            output.WriteLine(line);
            table.Append(line).Append('\n');
        }

        if (Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID_OUT") is { Length: > 0 } path)
        {
            File.WriteAllText(path, table.ToString());
        }

        // A measurement, not a goal check: the limit must hold whatever the pacing forecasts.
        Assert.All(Enumerable.Range(0, runs.Count), i => Assert.True(results[i].AbandonRate <= 0.03, $"{runs[i].Scenario}, {runs[i].Name}: abandoned {results[i].AbandonRate:P2}"));
    }

    private void ReportVariantsOnFiftyAgents((string Name, SimulatedPacing Pacing)[] variants, double limit = 0.03)
    {
        var table = new System.Text.StringBuilder("| p(live) | talk s | " + string.Join(" | ", variants.Select(v => v.Name + " occ / abandon")) + " |\n|---:|---:|" + string.Concat(variants.Select(_ => "---|")) + "\n");
        var results = new List<(DialerScenario Scenario, string Name, SimulationResult Result)>();
        foreach (var scenario in DialerGrid.Scenarios([50], DialerGrid.FullLiveAnswerProbabilities, DialerGrid.FullMeanTalkSeconds, 4000))
        {
            var cells = new List<string>();
            foreach (var (name, pacing) in variants)
            {
                var result = DialerSimulation.Run(scenario, pacing);
                results.Add((scenario, name, result));
                cells.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{result.Occupancy * 100:0.0} / {result.AbandonRate * 100:0.00}"));
            }

            var line = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"| {scenario.LiveAnswerProbability:0.00} | {scenario.MeanTalkSeconds:0} | {string.Join(" | ", cells)} |");
            output.WriteLine(line);
            table.Append(line).Append('\n');
        }

        if (Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID_OUT") is { Length: > 0 } path)
        {
            File.WriteAllText(path, table.ToString());
        }

        // A measurement, not a goal check: the abandon rate must stay under the limit the variant is held to.
        Assert.All(results, r => Assert.True(r.Result.AbandonRate <= limit, $"{r.Scenario}, {r.Name}: abandoned {r.Result.AbandonRate:P2}"));
    }

    private void CompareOnFiftyAgents(string name, Func<IPacingStrategy>? strategy, Func<ISimulationForesight, IPacingStrategy>? foresight = null)
    {
        var reduced = Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID") == "reduced";
        var scenarios = reduced
            ? DialerGrid.Scenarios([50], [0.15, 0.5], [60], 2000)
            : DialerGrid.Scenarios([50], DialerGrid.FullLiveAnswerProbabilities, DialerGrid.FullMeanTalkSeconds, 4000);
        var table = new System.Text.StringBuilder($"| p(live) | talk s | predictive occ / abandon | {name} occ / abandon | {name} − predictive | dialer time |\n|---:|---:|---|---|---:|---:|\n");
        var results = new List<(DialerScenario Scenario, SimulationResult Result)>();
        foreach (var scenario in scenarios)
        {
            var predictive = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive));
            var other = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive, Strategy: strategy?.Invoke(), Foresight: foresight));
            results.Add((scenario, other));
            var line = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"| {scenario.LiveAnswerProbability:0.00} | {scenario.MeanTalkSeconds:0} | {predictive.Occupancy * 100:0.0} / {predictive.AbandonRate * 100:0.00} | {other.Occupancy * 100:0.0} / {other.AbandonRate * 100:0.00} | {(other.Occupancy - predictive.Occupancy) * 100:+0.0;-0.0;0.0} | {other.DialerCpu.TotalSeconds:0.0} s / {other.Simulated.TotalHours:0.0} h |");
            output.WriteLine(line);
            table.Append(line).Append('\n');
        }

        if (Environment.GetEnvironmentVariable("CTIBRIDGE_DIALER_GRID_OUT") is { Length: > 0 } path)
        {
            File.WriteAllText(path, table.ToString());
        }

        // A measurement, not a goal check: the limit must hold whatever the pacing forecasts.
        Assert.All(results, r => Assert.True(r.Result.AbandonRate <= 0.03, $"{r.Scenario}: {name} abandoned {r.Result.AbandonRate:P2}"));
    }
}
