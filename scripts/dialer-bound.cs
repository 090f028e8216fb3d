#!/usr/bin/env dotnet
#:include dialer-block-model.cs
// An optimistic estimate of the best occupancy a dialer that does not see outcomes ahead can reach
// in the issue-10 scenario grid at <= 3 % abandon: the exact optimum of a relaxed block model
// (docs/benchmarks.md, "Dialer", "Without foresight of outcomes"). Run through scripts/dialer-bound.sh.
//
// The model (each point favours the dialer over the simulation, except the one marked *):
//   * Time is cut into blocks of L <= 5 s. Every live answer of a block comes from a line dialled
//     before the block starts (a live answer rings at least 5 s). Given what a dialer can know of a
//     line (it still rings after e s), it answers in the block with a chance of at most
//     Q(p, L) = sup_e P(live answer in (e, e + L] | ringing at e), independently of the others, so
//     the block's answers are a sum of independent Bernoulli(q_i <= Q). The model's dialer picks
//     that law freshly at every block start, knowing the block's agent releases (the simulation's
//     dialer commits lines 5-20 s ahead, their answers spread over 15 s). The minimum over such laws
//     is at a Binomial(m, Q): the expectation is multilinear in the q_i, so its minimum over the
//     box [0, Q]^n sits at a vertex.
//   * Matching is counted, not timed: an agent freed anywhere in the block (its 2 s grace for a
//     waiting answer included) takes any answer of the block.
//   * Idle time is only what is surely idle: nothing in the block an agent comes free in, L - 2 s in
//     the next block, L s in every block after that, if no answer takes it.
//   * (*) Agents come free as a Poisson stream at the connection rate c that the occupancy implies
//     (occupancy = c (talk + wrap-up) / agents): 50 agents ending lognormal talks are close to one,
//     but the simulation's dialer knows releases 10 s ahead (wrap-up), the model only at the block
//     start, so this point is not a relaxation; hence "estimate", not "bound".
// For each point the largest occupancy rho is found whose idle time N (1 - rho) per second the
// model can meet at c = N rho / (talk + wrap-up) with abandons <= 3 % of live answers (Lagrangian
// dual of the constrained MDP, value iteration; min over the block lengths tried).
// What both block models share is in scripts/dialer-block-model.cs.
using System.Diagnostics;
using System.Globalization;

var inv = CultureInfo.InvariantCulture;
double[] probabilities = [0.15, 0.30, 0.50];
double[] talks = [60, 120, 300];
var agentCounts = args.Length > 0 ? args[0].Split(',').Select(a => int.Parse(a, inv)).ToArray() : [50];
var blocks = args.Length > 1 ? args[1].Split(',').Select(b => double.Parse(b, inv)).ToArray() : [5.0, 2.5];
const double WrapUp = 10;
const double Limit = 0.03;

var clock = Stopwatch.StartNew();
Console.WriteLine("| agents | p(live) | talk s | " + string.Join(" | ", blocks.Select(b => string.Create(inv, $"ceiling, {b} s blocks"))) + " | ceiling (min) | idle s per call there |");
Console.WriteLine("|---:|---:|---:|" + string.Concat(blocks.Select(_ => "---:|")) + "---:|---:|");
foreach (var n in agentCounts)
{
    foreach (var p in probabilities)
    {
        foreach (var talk in talks)
        {
            var cells = new List<double>();
            foreach (var block in blocks)
            {
                var model = new BlockModel(block, BlockModelParts.MaxAnswerChance(p, block), Limit / (1 - Limit));
                cells.Add(model.Ceiling(n, talk + WrapUp));
            }

            var min = cells.Min();
            var idlePerCall = (1 - min) * (talk + WrapUp) / min;
            Console.WriteLine(string.Create(inv, $"| {n} | {p:0.00} | {talk:0} | {string.Join(" | ", cells.Select(c => (c * 100).ToString("0.0", inv) + " %"))} | {min * 100:0.0} % | {idlePerCall:0.0} |"));
            Console.Error.WriteLine(string.Create(inv, $"{n} agents p {p:0.00} talk {talk}: {min * 100:0.00} % ({clock.Elapsed.TotalSeconds:0} s)"));
        }
    }
}

return 0;

/// <summary>The block model: state = idle agents freed one block ago (f1) and earlier (f2).</summary>
internal sealed class BlockModel
{
    private const int Cap = 12;            // idle agents tracked; more are dropped at a high cost
    private const double DropCost = 1000;  // agent-seconds: the optimum must not rely on drops
    private const int MaxLines = 400;      // m; the stopping rule ends the search well before
    private readonly double _block;
    private readonly double _alpha;
    private readonly int[] _f1;
    private readonly int[] _f2;
    private readonly int[,] _index;
    private readonly double[][] _binomial; // _binomial[m][a]
    private readonly double[][] _tail;     // _tail[m][k] = E[(Bin(m, q) - k)+]
    private readonly int _maxAvail;
    private double[]? _warm;               // the last values, to start the next value iteration from

    public BlockModel(double block, double q, double alpha)
    {
        _block = block;
        _alpha = alpha;
        (_f1, _f2, _index) = BlockModelParts.IdleStates(Cap);
        _maxAvail = Cap + 60;
        _binomial = BlockModelParts.Binomials(MaxLines, q);
        _tail = new double[MaxLines + 1][];
        for (var m = 0; m <= MaxLines; m++)
        {
            var pmf = _binomial[m];
            var tail = new double[_maxAvail + 1];
            var mean = m * q;
            double below = 0, belowMass = 0;
            for (var k = 0; k <= _maxAvail; k++)
            {
                // E[(A - k)+] = E[A] - k - E[(A - k) 1{A < k}]... computed as mean - k + sum_{a<k} (k - a) pmf[a].
                if (k > 0 && k - 1 <= m)
                {
                    belowMass += pmf[k - 1];
                    below += (k - 1) * pmf[k - 1];
                }

                tail[k] = mean - k + ((k * belowMass) - below);
                tail[k] = Math.Max(0, tail[k]);
            }

            _tail[m] = tail;
        }
    }

    /// <summary>The largest occupancy whose idle time the model can meet (bisection on occupancy, ~0.01 points).</summary>
    public double Ceiling(int agents, double cycleSeconds)
    {
        _warm = null;
        return BlockModelParts.Ceiling(agents, cycleSeconds, _block, lowest: 0.5, steps: 12, MinIdlePerBlock);
    }

    /// <summary>Min idle agent-seconds per block with abandons at most alpha x served: max over nu of the Lagrangian's optimum.</summary>
    private double MinIdlePerBlock(double rate)
    {
        var releases = Poisson(rate * _block);
        return BlockModelParts.MaxOverPrice(nu => Gain(releases, nu), highest: 4000, iterations: 16);
    }

    private static double[] Poisson(double mean)
    {
        var pmf = new List<double> { Math.Exp(-mean) };
        double total = pmf[0];
        while (1 - total > 1e-10 && pmf.Count < 55)
        {
            pmf.Add(pmf[^1] * mean / pmf.Count);
            total += pmf[^1];
        }

        pmf[^1] += Math.Max(0, 1 - total);
        return [.. pmf];
    }

    /// <summary>Optimal average cost per block of idle + nu (lost - alpha served) + drops (value iteration, lower bracket).</summary>
    private double Gain(double[] releases, double nu) =>
        BlockModelParts.AverageCost(
            _f1.Length,
            (v, next) =>
            {
                for (var s = 0; s < next.Length; s++)
                {
                    next[s] = Bellman(s, v, releases, nu);
                }
            },
            maxIterations: 4000,
            tolerance: 1e-5,
            ref _warm);

    private double Bellman(int s, double[] v, double[] releases, double nu)
    {
        int f1 = _f1[s], f2 = _f2[s], f = f1 + f2;
        var servedCredit = nu * _alpha;
        double total = 0;
        var after = new double[f + releases.Length + 1];
        for (var r = 0; r < releases.Length; r++)
        {
            var avail = f + r;
            var lowest = double.PositiveInfinity;
            for (var j = 0; j <= avail; j++)
            {
                var (cost, nextState) = BlockModelParts.Match(j, f1, f2, r, _block, servedCredit, Cap, DropCost, _index);
                cost += v[nextState];
                // after[a] = min over j <= a of cost(j) + nu (a - j).
                after[j] = j == 0 ? cost : Math.Min(after[j - 1] + nu, cost);
                lowest = Math.Min(lowest, after[j]);
            }

            var best = double.PositiveInfinity;
            for (var m = 0; m <= MaxLines; m++)
            {
                var tail = _tail[m][Math.Min(avail, _maxAvail)];
                if (lowest + (nu * tail) >= best)
                {
                    break; // E[(A - avail)+] only grows with m, so no larger m can do better
                }

                var pmf = _binomial[m];
                double e = 0, mass = 0;
                var top = Math.Min(m, avail);
                for (var a = 0; a <= top; a++)
                {
                    e += pmf[a] * after[a];
                    mass += pmf[a];
                }

                e += ((1 - mass) * after[avail]) + (nu * tail);
                best = Math.Min(best, e);
            }

            total += releases[r] * best;
        }

        return total;
    }
}
