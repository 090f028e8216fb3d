// The block-model ceiling of scripts/dialer-bound.cs with the lines committed one block ahead
// (docs/benchmarks.md, "Dialer", "Without foresight of outcomes"). Run through
// scripts/dialer-bound.sh lagged.
//
// Blocks of L = 2.5 s: the live answers of the block [t + L, t + 2L) come from lines dialled before
// t (a live answer rings at least 5 s = 2L), so at t the model's dialer fixes the law of the *next*
// block's answers (a sum of Bernoulli(q <= Q(p, L)), best at a Binomial(m, Q)) without knowing how
// this block's answers fall. Otherwise as scripts/dialer-bound.cs: counted matching, surely-idle
// time only, agents coming free as a Poisson stream known at the block start (this and the next
// block's answers drawn independently are the assumptions that do not favour the dialer, so the
// result is an estimate from above, not a proof). State: idle agents freed one block ago and
// earlier, and the lines committed to this block.
using System.Diagnostics;
using System.Globalization;

var inv = CultureInfo.InvariantCulture;
const double WrapUp = 10;
const double Limit = 0.03;
const double Block = 2.5;
var points = (args.Length > 0 ? args[0] : "0.15:60,0.15:120,0.15:300,0.30:60,0.30:120,0.30:300,0.50:60,0.50:120,0.50:300")
    .Split(',')
    .Select(s => s.Split(':'))
    .Select(s => (P: double.Parse(s[0], inv), Talk: double.Parse(s[1], inv)))
    .ToList();
var agents = args.Length > 1 ? int.Parse(args[1], inv) : 50;
var parallel = args.Length > 2 ? int.Parse(args[2], inv) : 3;

var clock = Stopwatch.StartNew();
var results = new (double Ceiling, double Seconds)[points.Count];
Parallel.For(0, points.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
{
    var (p, talk) = points[i];
    var started = clock.Elapsed;
    var model = new LaggedBlockModel(Block, LaggedBlockModel.MaxAnswerChance(p, Block), Limit / (1 - Limit), agents / (talk + WrapUp));
    results[i] = (model.Ceiling(agents, talk + WrapUp), (clock.Elapsed - started).TotalSeconds);
    Console.Error.WriteLine(string.Create(inv, $"{agents} agents p {p:0.00} talk {talk}: {results[i].Ceiling * 100:0.00} % ({clock.Elapsed.TotalSeconds:0} s)"));
});

Console.WriteLine("| agents | p(live) | talk s | ceiling, lines one 2.5 s block ahead | idle s per call there | run s |");
Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
for (var i = 0; i < points.Count; i++)
{
    var (p, talk) = points[i];
    var c = results[i].Ceiling;
    Console.WriteLine(string.Create(inv, $"| {agents} | {p:0.00} | {talk:0} | {c * 100:0.0} % | {(1 - c) * (talk + WrapUp) / c:0.0} | {results[i].Seconds:0} |"));
}

return 0;

/// <summary>The lagged block model: state = (idle agents freed one block ago, earlier; lines committed to this block).</summary>
internal sealed class LaggedBlockModel
{
    private const int Cap = 8;             // idle agents tracked; more are dropped at a prohibitive cost
    private const double DropCost = 1000;  // agent-seconds
    private readonly double _block;
    private readonly double _alpha;
    private readonly int _maxLines;
    private readonly int[] _f1;
    private readonly int[] _f2;
    private readonly int[,] _index;
    private readonly double[][] _binomial; // _binomial[m][a]
    private readonly double[][] _tail;     // _tail[m][k] = E[(Bin(m, q) - k)+]

    public LaggedBlockModel(double block, double q, double alpha, double maxRate)
    {
        _block = block;
        _alpha = alpha;
        // Lines worth committing to one block: three times the block's answers at the highest rate, and some.
        _maxLines = (int)Math.Min(150, Math.Ceiling(((3 * maxRate * block) + 4) / q));
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
        _binomial = new double[_maxLines + 1][];
        _tail = new double[_maxLines + 1][];
        for (var m = 0; m <= _maxLines; m++)
        {
            var pmf = new double[m + 1];
            for (var a = 0; a <= m; a++)
            {
                pmf[a] = Math.Exp(LogChoose(m, a) + (a * Math.Log(q)) + ((m - a) * Math.Log(1 - q)));
            }

            _binomial[m] = pmf;
            var tail = new double[Cap + 80];
            for (var k = 0; k < tail.Length; k++)
            {
                double t = 0;
                for (var a = k + 1; a <= m; a++)
                {
                    t += (a - k) * pmf[a];
                }

                tail[k] = t;
            }

            _tail[m] = tail;
        }
    }

    /// <summary>As in scripts/dialer-bound.cs: sup over e of P(live answer within (e, e + L] | still ringing at e).</summary>
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

    /// <summary>The largest occupancy (in [0.85, 1], to ~0.03 points) whose idle time the model can meet.</summary>
    public double Ceiling(int agents, double cycleSeconds)
    {
        double lo = 0.85, hi = 1.0;
        double[]? warm = null;
        for (var step = 0; step < 9; step++)
        {
            var rho = (lo + hi) / 2;
            var idle = MinIdlePerBlock(agents * rho / cycleSeconds, ref warm);
            if (idle / _block <= agents * (1 - rho))
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

    private double MinIdlePerBlock(double rate, ref double[]? warm)
    {
        var pmf = new List<double> { Math.Exp(-rate * _block) };
        var total = pmf[0];
        while (1 - total > 1e-9 && pmf.Count < 30)
        {
            pmf.Add(pmf[^1] * rate * _block / pmf.Count);
            total += pmf[^1];
        }

        pmf[^1] += Math.Max(0, 1 - total);
        var releases = pmf.ToArray();

        // Max over the price per abandon of the Lagrangian's optimum (concave): golden section.
        double a = 0, b = 3000;
        const double Phi = 0.6180339887498949;
        var x1 = b - (Phi * (b - a));
        var x2 = a + (Phi * (b - a));
        var g1 = Gain(releases, x1, ref warm);
        var g2 = Gain(releases, x2, ref warm);
        for (var it = 0; it < 11; it++)
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

    private double Gain(double[] releases, double nu, ref double[]? warm)
    {
        var count = _f1.Length * (_maxLines + 1);
        var v = warm is null ? new double[count] : (double[])warm.Clone();
        var next = new double[count];
        double lo = 0;
        for (var it = 0; it < 2000; it++)
        {
            for (var f = 0; f < _f1.Length; f++)
            {
                Bellman(f, v, next, releases, nu);
            }

            lo = double.PositiveInfinity;
            var hi = double.NegativeInfinity;
            for (var s = 0; s < count; s++)
            {
                var d = next[s] - v[s];
                lo = Math.Min(lo, d);
                hi = Math.Max(hi, d);
            }

            if (hi - lo < 1e-4 * Math.Max(1, Math.Abs(lo)))
            {
                break;
            }

            var anchor = next[0];
            for (var s = 0; s < count; s++)
            {
                v[s] = (0.5 * v[s]) + (0.5 * (next[s] - anchor));
            }
        }

        warm = v;
        return lo;
    }

    /// <summary>One Bellman step for every state with idle agents <paramref name="fi"/> (all commitments m).</summary>
    private void Bellman(int fi, double[] v, double[] next, double[] releases, double nu)
    {
        int f1 = _f1[fi], f2 = _f2[fi], f = f1 + f2;
        var stride = _maxLines + 1;
        var credit = nu * _alpha;
        var result = new double[stride];
        var maxAvail = f + releases.Length;
        var baseCost = new double[maxAvail + 1];
        var nextIndex = new int[maxAvail + 1];
        var after = new double[maxAvail + 1];
        var bestForM = new double[stride];
        for (var r = 0; r < releases.Length; r++)
        {
            var avail = f + r;
            for (var j = 0; j <= avail; j++)
            {
                // j answers matched, oldest agents first.
                var j2 = Math.Min(j, f2);
                var j1 = Math.Min(j - j2, f1);
                var jr = j - j2 - j1;
                int u2 = f2 - j2, u1 = f1 - j1, ur = r - jr;
                var cost = (_block * u2) + ((_block - 2) * u1) - (credit * j);
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

                baseCost[j] = cost;
                nextIndex[j] = _index[young, old];
            }

            // The next block's lines m' are chosen before this block's answers (Binomial(m, Q)) fall.
            Array.Fill(bestForM, double.PositiveInfinity);
            for (var mp = 0; mp <= _maxLines; mp++)
            {
                for (var j = 0; j <= avail; j++)
                {
                    var c = baseCost[j] + v[(nextIndex[j] * stride) + mp];
                    after[j] = j == 0 ? c : Math.Min(after[j - 1] + nu, c);
                }

                for (var m = 0; m <= _maxLines; m++)
                {
                    var pmf = _binomial[m];
                    double e = 0, mass = 0;
                    var top = Math.Min(m, avail);
                    for (var a = 0; a <= top; a++)
                    {
                        e += pmf[a] * after[a];
                        mass += pmf[a];
                    }

                    e += (1 - mass) * after[avail];
                    if (e < bestForM[m])
                    {
                        bestForM[m] = e;
                    }
                }
            }

            for (var m = 0; m <= _maxLines; m++)
            {
                // Answers beyond the agents are lost: nu per answer over avail.
                result[m] += releases[r] * (bestForM[m] + (nu * _tail[m][avail]));
            }
        }

        for (var m = 0; m <= _maxLines; m++)
        {
            next[(fi * stride) + m] = result[m];
        }
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
