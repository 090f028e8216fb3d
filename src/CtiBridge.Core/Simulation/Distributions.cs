namespace CtiBridge.Core.Simulation;

/// <summary>A distribution of durations in seconds, sampled from the simulation's seeded random source.</summary>
public abstract record Distribution
{
    /// <summary>Draws one value (seconds, never negative).</summary>
    public abstract double Sample(Random random);

    /// <summary>The mean (seconds).</summary>
    public abstract double Mean { get; }

    /// <summary>Exponential with the given mean.</summary>
    public static Distribution Exponential(double mean) => new ExponentialDistribution(mean);

    /// <summary>Always the same value.</summary>
    public static Distribution Fixed(double seconds) => new FixedDistribution(seconds);

    /// <summary>Uniform between two values.</summary>
    public static Distribution Uniform(double min, double max) => new UniformDistribution(min, max);

    /// <summary>Log-normal with the given mean and standard deviation (handle times are often log-normal).</summary>
    public static Distribution LogNormal(double mean, double standardDeviation) => new LogNormalDistribution(mean, standardDeviation);
}

/// <summary>Exponential distribution.</summary>
/// <param name="MeanSeconds">Mean.</param>
public sealed record ExponentialDistribution(double MeanSeconds) : Distribution
{
    /// <inheritdoc />
    public override double Mean => MeanSeconds;

    /// <inheritdoc />
    public override double Sample(Random random) => -MeanSeconds * Math.Log(1 - random.NextDouble());
}

/// <summary>Fixed value.</summary>
/// <param name="Seconds">The value.</param>
public sealed record FixedDistribution(double Seconds) : Distribution
{
    /// <inheritdoc />
    public override double Mean => Seconds;

    /// <inheritdoc />
    public override double Sample(Random random) => Seconds;
}

/// <summary>Uniform distribution.</summary>
/// <param name="Min">Lower bound.</param>
/// <param name="Max">Upper bound.</param>
public sealed record UniformDistribution(double Min, double Max) : Distribution
{
    /// <inheritdoc />
    public override double Mean => (Min + Max) / 2;

    /// <inheritdoc />
    public override double Sample(Random random) => Min + ((Max - Min) * random.NextDouble());
}

/// <summary>Log-normal distribution given by its own mean and standard deviation.</summary>
/// <param name="MeanSeconds">Mean.</param>
/// <param name="StandardDeviation">Standard deviation.</param>
public sealed record LogNormalDistribution(double MeanSeconds, double StandardDeviation) : Distribution
{
    /// <inheritdoc />
    public override double Mean => MeanSeconds;

    /// <inheritdoc />
    public override double Sample(Random random)
    {
        var sigma2 = Math.Log(1 + (StandardDeviation * StandardDeviation / (MeanSeconds * MeanSeconds)));
        var mu = Math.Log(MeanSeconds) - (sigma2 / 2);

        // Box-Muller: one normal draw from two uniforms.
        var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return Math.Exp(mu + (Math.Sqrt(sigma2) * z));
    }
}
