// What the two block models of the dialer ceiling share: scripts/dialer-bound.cs (the next block's
// answers chosen at its start) and scripts/dialer-bound-lagged.cs (lines fixed one block ahead) both
// include this file (#:include); it is not a program of its own. Each model keeps what differs: its
// state, its Bellman step, its search ranges and precision.
using System.Runtime.CompilerServices;

/// <summary>The parts of the block model common to both dialer ceilings (docs/benchmarks.md, "Dialer", "Without foresight of outcomes").</summary>
internal static class BlockModelParts
{
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

    /// <summary>
    /// The idle-agent states: f1 agents freed one block ago and f2 earlier, f1 + f2 at most <paramref name="cap"/>,
    /// numbered; <c>Index[f1, f2]</c> is a state's number.
    /// </summary>
    public static (int[] F1, int[] F2, int[,] Index) IdleStates(int cap)
    {
        var f1 = new List<int>();
        var f2 = new List<int>();
        var index = new int[cap + 1, cap + 1];
        for (var a = 0; a <= cap; a++)
        {
            for (var b = 0; a + b <= cap; b++)
            {
                index[a, b] = f1.Count;
                f1.Add(a);
                f2.Add(b);
            }
        }

        return ([.. f1], [.. f2], index);
    }

    /// <summary>The law of a block's answers from m lines, each answering with chance <paramref name="q"/>: <c>result[m][a]</c> for m up to <paramref name="maxLines"/>.</summary>
    public static double[][] Binomials(int maxLines, double q)
    {
        var binomial = new double[maxLines + 1][];
        for (var m = 0; m <= maxLines; m++)
        {
            var pmf = new double[m + 1];
            for (var a = 0; a <= m; a++)
            {
                pmf[a] = Math.Exp(LogChoose(m, a) + (a * Math.Log(q)) + ((m - a) * Math.Log(1 - q)));
            }

            binomial[m] = pmf;
        }

        return binomial;
    }

    /// <summary>
    /// j of a block's answers matched to the agents available: idle ones first, oldest first (this dominates any
    /// other order), then the r freed in the block. The cost is the surely idle time of those left (L for the
    /// older, L - 2 s for those freed one block ago) less <paramref name="credit"/> per answer served, plus
    /// <paramref name="dropCost"/> for each idle agent beyond <paramref name="cap"/>; <c>Next</c> is the state after.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double Cost, int Next) Match(int j, int f1, int f2, int r, double block, double credit, int cap, double dropCost, int[,] index)
    {
        var j2 = Math.Min(j, f2);
        var j1 = Math.Min(j - j2, f1);
        var jr = j - j2 - j1;
        int u2 = f2 - j2, u1 = f1 - j1, ur = r - jr;
        var cost = (block * u2) + ((block - 2) * u1) - (credit * j);
        var old = u2 + u1;
        var young = ur;
        if (old + young > cap)
        {
            var drop = old + young - cap;
            cost += dropCost * drop;
            var fromOld = Math.Min(drop, old);
            old -= fromOld;
            young -= drop - fromOld;
        }

        return (cost, index[young, old]);
    }

    /// <summary>
    /// The largest occupancy (bisection over [<paramref name="lowest"/>, 1] in <paramref name="steps"/> steps) whose idle
    /// agent-seconds per block, <paramref name="minIdlePerBlock"/> at the connection rate that occupancy implies,
    /// fit in the agents' idle time; returns the first occupancy shown out of reach, to the bisection's precision.
    /// </summary>
    public static double Ceiling(int agents, double cycleSeconds, double block, double lowest, int steps, Func<double, double> minIdlePerBlock)
    {
        double lo = lowest, hi = 1.0;
        for (var step = 0; step < steps; step++)
        {
            var rho = (lo + hi) / 2;
            var rate = agents * rho / cycleSeconds;
            if (minIdlePerBlock(rate) / block <= agents * (1 - rho))
            {
                lo = rho;
            }
            else
            {
                hi = rho;
            }
        }

        return hi;
    }

    /// <summary>
    /// The maximum over the price per abandon nu in [0, <paramref name="highest"/>] of the Lagrangian's optimum
    /// <paramref name="gain"/>(nu), which is concave in nu: golden-section search, <paramref name="iterations"/> steps.
    /// </summary>
    public static double MaxOverPrice(Func<double, double> gain, double highest, int iterations)
    {
        double a = 0, b = highest;
        const double Phi = 0.6180339887498949;
        var x1 = b - (Phi * (b - a));
        var x2 = a + (Phi * (b - a));
        var g1 = gain(x1);
        var g2 = gain(x2);
        for (var it = 0; it < iterations; it++)
        {
            if (g1 < g2)
            {
                a = x1;
                x1 = x2;
                g1 = g2;
                x2 = a + (Phi * (b - a));
                g2 = gain(x2);
            }
            else
            {
                b = x2;
                x2 = x1;
                g2 = g1;
                x1 = b - (Phi * (b - a));
                g1 = gain(x1);
            }
        }

        return Math.Max(g1, g2);
    }

    /// <summary>
    /// The optimal average cost per block by relative value iteration (damped by half), from <paramref name="warm"/>
    /// when given: <paramref name="step"/> fills the next values from the current ones; stops when the spread of the
    /// differences is under <paramref name="tolerance"/> (relative) or after <paramref name="maxIterations"/>. Returns
    /// the lower bracket; <paramref name="warm"/> is left at the final values, to start the next search from.
    /// </summary>
    public static double AverageCost(int states, Action<double[], double[]> step, int maxIterations, double tolerance, ref double[]? warm)
    {
        var v = warm is null ? new double[states] : (double[])warm.Clone();
        var next = new double[states];
        double lo = 0;
        for (var it = 0; it < maxIterations; it++)
        {
            step(v, next);
            lo = double.PositiveInfinity;
            var hi = double.NegativeInfinity;
            for (var s = 0; s < states; s++)
            {
                var d = next[s] - v[s];
                lo = Math.Min(lo, d);
                hi = Math.Max(hi, d);
            }

            if (hi - lo < tolerance * Math.Max(1, Math.Abs(lo)))
            {
                break;
            }

            var anchor = next[0];
            for (var s = 0; s < states; s++)
            {
                v[s] = (0.5 * v[s]) + (0.5 * (next[s] - anchor));
            }
        }

        warm = v;
        return lo;
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
