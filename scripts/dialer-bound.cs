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
                var model = new BlockModel(block, BlockModel.MaxAnswerChance(p, block), Limit / (1 - Limit));
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

    public BlockModel(double block, double q, double alpha)
    {
        _block = block;
        _alpha = alpha;
        var f1 = new List<int>();
        var f2 = new List<int>();
        _index = new int[Cap + 1, Cap + 1];
        for (var a = 0; a <= Cap; a++)
        {
            for (var b = 0; a + b <= Cap; b++)
            {
                _index[a, b] = f1.Count;
                f1.Add(a);
                f2.Add(b);
            }
        }

        _f1 = [.. f1];
        _f2 = [.. f2];
        _maxAvail = Cap + 60;
        _binomial = new double[MaxLines + 1][];
        _tail = new double[MaxLines + 1][];
        for (var m = 0; m <= MaxLines; m++)
        {
            var pmf = new double[m + 1];
            for (var a = 0; a <= m; a++)
            {
                pmf[a] = Math.Exp(LogChoose(m, a) + (a * Math.Log(q)) + ((m - a) * Math.Log(1 - q)));
            }

            _binomial[m] = pmf;
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

    /// <summary>
    /// Sup over a line's elapsed ring time e of P(live answer within (e, e + L] | still ringing at e):
    /// live answers ring uniform 5-20 s, other outcomes end uniform 3-26 s (issue 10's grid).
    /// Evaluated on a 1 ms grid plus a margin larger than the function can rise between points.
    /// </summary>
    public static double MaxAnswerChance(double p, double block)
    {
        double best = 0;
        for (var e = 0.0; e <= 20; e += 0.001)
        {
            var liveLeft = Math.Clamp((20 - Math.Max(e, 5)) / 15, 0, 1);
            var otherLeft = Math.Clamp((26 - Math.Max(e, 3)) / 23, 0, 1);
            var within = Math.Clamp((Math.Min(e + block, 20) - Math.Max(e, 5)) / 15, 0, 1);
            var ringing = (p * liveLeft) + ((1 - p) * otherLeft);
            if (ringing > 0)
            {
                best = Math.Max(best, p * within / ringing);
            }
        }

        return Math.Min(1, best + 0.002);
    }

    /// <summary>The largest occupancy whose idle time the model can meet (bisection on occupancy).</summary>
    public double Ceiling(int agents, double cycleSeconds)
    {
        double lo = 0.5, hi = 1.0;
        double[]? warm = null;
        for (var step = 0; step < 12; step++)
        {
            var rho = (lo + hi) / 2;
            var rate = agents * rho / cycleSeconds;
            var idleNeeded = MinIdlePerBlock(rate, ref warm);
            if (idleNeeded / _block <= agents * (1 - rho))
            {
                lo = rho;
            }
            else
            {
                hi = rho;
            }
        }

        return hi; // the first occupancy shown out of reach, to the bisection's precision (~0.01 points)
    }

    /// <summary>Min idle agent-seconds per block with abandons at most alpha x served: max over nu of the Lagrangian's optimum.</summary>
    private double MinIdlePerBlock(double rate, ref double[]? warm)
    {
        var releases = Poisson(rate * _block);
        // The Lagrangian's optimum is concave in nu: golden-section search for its maximum.
        double a = 0, b = 4000;
        const double Phi = 0.6180339887498949;
        var x1 = b - (Phi * (b - a));
        var x2 = a + (Phi * (b - a));
        var g1 = Gain(releases, x1, ref warm);
        var g2 = Gain(releases, x2, ref warm);
        for (var it = 0; it < 16; it++)
        {
            if (g1 < g2)
            {
                a = x1;
                x1 = x2;
                g1 = g2;
                x2 = a + (Phi * (b - a));
                g2 = Gain(releases, x2, ref warm);
            }
            else
            {
                b = x2;
                x2 = x1;
                g2 = g1;
                x1 = b - (Phi * (b - a));
                g1 = Gain(releases, x1, ref warm);
            }
        }

        return Math.Max(g1, g2);
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
    private double Gain(double[] releases, double nu, ref double[]? warm)
    {
        var n = _f1.Length;
        var v = warm is null ? new double[n] : (double[])warm.Clone();
        var next = new double[n];
        double lo = 0, hi = 0;
        for (var it = 0; it < 4000; it++)
        {
            lo = double.PositiveInfinity;
            hi = double.NegativeInfinity;
            for (var s = 0; s < n; s++)
            {
                next[s] = Bellman(s, v, releases, nu);
                var d = next[s] - v[s];
                lo = Math.Min(lo, d);
                hi = Math.Max(hi, d);
            }

            if (hi - lo < 1e-5 * Math.Max(1, Math.Abs(lo)))
            {
                break;
            }

            var anchor = next[0];
            for (var s = 0; s < n; s++)
            {
                v[s] = (0.5 * v[s]) + (0.5 * (next[s] - anchor));
            }
        }

        warm = v;
        return lo;
    }

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
                // j answers matched, oldest agents first (dominates any other order).
                var j2 = Math.Min(j, f2);
                var j1 = Math.Min(j - j2, f1);
                var jr = j - j2 - j1;
                int u2 = f2 - j2, u1 = f1 - j1, ur = r - jr;
                var cost = (_block * u2) + ((_block - 2) * u1) - (servedCredit * j);
                var old = u2 + u1;
                var young = ur;
                if (old + young > Cap)
                {
                    var drop = old + young - Cap;
                    cost += DropCost * drop;
                    var fromOld = Math.Min(drop, old);
                    old -= fromOld;
                    young -= drop - fromOld;
                }

                cost += v[_index[young, old]];
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

    private static double LogChoose(int n, int k) => LogFactorial(n) - LogFactorial(k) - LogFactorial(n - k);

    private static double LogFactorial(int n)
    {
        double s = 0;
        for (var i = 2; i <= n; i++)
        {
            s += Math.Log(i);
        }

        return s;
    }
}
