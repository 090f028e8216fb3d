#!/usr/bin/env dotnet
#:include dialer-block-model.cs
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
// earlier, and the lines committed to this block. What both block models share is in
// scripts/dialer-block-model.cs.
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
    var model = new LaggedBlockModel(Block, BlockModelParts.MaxAnswerChance(p, Block), Limit / (1 - Limit), agents / (talk + WrapUp));
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
    private double[]? _warm;               // the last values, to start the next value iteration from

    public LaggedBlockModel(double block, double q, double alpha, double maxRate)
    {
        _block = block;
        _alpha = alpha;
        // Lines worth committing to one block: three times the block's answers at the highest rate, and some.
        _maxLines = (int)Math.Min(150, Math.Ceiling(((3 * maxRate * block) + 4) / q));
        (_f1, _f2, _index) = BlockModelParts.IdleStates(Cap);
        _binomial = BlockModelParts.Binomials(_maxLines, q);
        _tail = new double[_maxLines + 1][];
        for (var m = 0; m <= _maxLines; m++)
        {
            var pmf = _binomial[m];
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

    /// <summary>The largest occupancy (in [0.85, 1], to ~0.03 points) whose idle time the model can meet.</summary>
    public double Ceiling(int agents, double cycleSeconds)
    {
        _warm = null;
        return BlockModelParts.Ceiling(agents, cycleSeconds, _block, lowest: 0.85, steps: 9, MinIdlePerBlock);
    }

    private double MinIdlePerBlock(double rate)
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
        return BlockModelParts.MaxOverPrice(nu => Gain(releases, nu), highest: 3000, iterations: 11);
    }

    private double Gain(double[] releases, double nu) =>
        BlockModelParts.AverageCost(
            _f1.Length * (_maxLines + 1),
            (v, next) =>
            {
                for (var f = 0; f < _f1.Length; f++)
                {
                    Bellman(f, v, next, releases, nu);
                }
            },
            maxIterations: 2000,
            tolerance: 1e-4,
            ref _warm);

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
                (baseCost[j], nextIndex[j]) = BlockModelParts.Match(j, f1, f2, r, _block, credit, Cap, DropCost, _index);
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
}
