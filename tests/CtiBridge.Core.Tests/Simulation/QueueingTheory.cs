namespace CtiBridge.Core.Tests.Simulation;

/// <summary>Textbook formulas for M/M/N (Erlang C) and M/M/N+M (Erlang A, exponential patience).</summary>
internal static class QueueingTheory
{
    /// <summary>Erlang B blocking probability by the stable recursion.</summary>
    public static double ErlangB(int agents, double load)
    {
        var b = 1.0;
        for (var k = 1; k <= agents; k++)
        {
            b = load * b / (k + (load * b));
        }

        return b;
    }

    /// <summary>Erlang C probability of waiting.</summary>
    public static double ErlangC(int agents, double load)
    {
        var b = ErlangB(agents, load);
        return agents * b / (agents - (load * (1 - b)));
    }

    /// <summary>Erlang C: P(wait &gt; 0), service level P(wait ≤ T), mean wait (ASA).</summary>
    public static (double PDelay, double ServiceLevel, double MeanWait) ErlangCMetrics(int agents, double lambdaPerSecond, double meanServiceSeconds, double thresholdSeconds)
    {
        var mu = 1 / meanServiceSeconds;
        var load = lambdaPerSecond / mu;
        var c = ErlangC(agents, load);
        var drain = (agents * mu) - lambdaPerSecond;
        return (c, 1 - (c * Math.Exp(-drain * thresholdSeconds)), c / drain);
    }

    /// <summary>Erlang A from the birth-death chain: P(wait &gt; 0), P(abandon), mean wait of all callers.</summary>
    public static (double PDelay, double PAbandon, double MeanWait) ErlangAMetrics(int agents, double lambdaPerSecond, double meanServiceSeconds, double meanPatienceSeconds)
    {
        var mu = 1 / meanServiceSeconds;
        var theta = 1 / meanPatienceSeconds;
        var weights = new List<double> { 1.0 };
        for (var n = 1; n < 100_000; n++)
        {
            var rate = n <= agents ? n * mu : (agents * mu) + ((n - agents) * theta);
            var w = weights[^1] * lambdaPerSecond / rate;
            weights.Add(w);
            if (n > agents && w < 1e-16 * weights.Sum())
            {
                break;
            }
        }

        var total = weights.Sum();
        double pDelay = 0, queueLength = 0;
        for (var n = agents; n < weights.Count; n++)
        {
            pDelay += weights[n] / total;
            queueLength += (n - agents) * weights[n] / total;
        }

        return (pDelay, theta * queueLength / lambdaPerSecond, queueLength / lambdaPerSecond);
    }

    /// <summary>Mean and half-width of a 99 % confidence interval from batch means (Student t).</summary>
    public static (double Mean, double HalfWidth) BatchInterval(IReadOnlyList<double> batches)
    {
        var k = batches.Count;
        var mean = batches.Average();
        var variance = batches.Sum(b => (b - mean) * (b - mean)) / (k - 1);
        return (mean, StudentT995(k - 1) * Math.Sqrt(variance / k));
    }

    private static double StudentT995(int df) => df switch
    {
        >= 120 => 2.617,
        >= 60 => 2.660,
        >= 40 => 2.704,
        >= 30 => 2.750,
        >= 29 => 2.756,
        >= 20 => 2.845,
        _ => 3.169,
    };
}
