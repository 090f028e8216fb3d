namespace CtiBridge.Core.Dialer;

/// <summary>A line the campaign has up, as pacing sees it.</summary>
/// <param name="State">Ringing or waiting for an agent (connected lines are not offered to pacing).</param>
/// <param name="Elapsed">Ringing: time since dialled. Waiting: time since the person answered.</param>
public readonly record struct PacingLine(DialedCallState State, TimeSpan Elapsed);

/// <summary>Everything a pacing decision may look at.</summary>
/// <param name="Agents">The campaign's agents now.</param>
/// <param name="Lines">Lines ringing or waiting for an agent.</param>
/// <param name="LinesAvailable">How many more lines may be opened now (line cap minus every call up).</param>
/// <param name="Estimator">The campaign's recent statistics.</param>
/// <param name="TargetAbandonRate">
/// Abandons the new lines may add per live answer they bring (predictive pacing); the dialer
/// adjusts it online so that the realised abandon rate settles under the policy limit.
/// </param>
/// <param name="ConnectDeadline">The policy's connect deadline (2 s under the TSR).</param>
public sealed record PacingContext(
    AgentSnapshot Agents,
    IReadOnlyList<PacingLine> Lines,
    int LinesAvailable,
    PacingEstimator Estimator,
    double TargetAbandonRate,
    TimeSpan ConnectDeadline);

/// <summary>Decides how many new lines to dial now. Implementations never exceed <see cref="PacingContext.LinesAvailable"/>.</summary>
public interface IPacingStrategy
{
    /// <summary>New lines to dial now (0 or more, at most <see cref="PacingContext.LinesAvailable"/>).</summary>
    int LinesToDial(PacingContext context);
}

/// <summary>One line per ready agent: each ringing line has an agent set aside, so nothing is ever abandoned.</summary>
public sealed class ProgressivePacing : IPacingStrategy
{
    /// <summary>The shared instance.</summary>
    public static ProgressivePacing Instance { get; } = new();

    /// <inheritdoc />
    public int LinesToDial(PacingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var wanted = context.Agents.Ready - context.Lines.Count;
        return Math.Clamp(wanted, 0, context.LinesAvailable);
    }
}

/// <summary>A fixed number of lines per ready agent (the classic "power" or "ratio" dialer).</summary>
public sealed class PowerPacing : IPacingStrategy
{
    /// <summary>Creates a power pacer with <paramref name="ratio"/> lines per ready agent.</summary>
    public PowerPacing(double ratio)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ratio, 1.0);
        Ratio = ratio;
    }

    /// <summary>Lines per ready agent.</summary>
    public double Ratio { get; }

    /// <inheritdoc />
    public int LinesToDial(PacingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var wanted = (int)Math.Floor((Ratio * context.Agents.Ready) + 1e-9) - context.Lines.Count;
        return Math.Clamp(wanted, 0, context.LinesAvailable);
    }
}

/// <summary>
/// Predictive pacing. It forecasts how many agents will be free by the time a new line could be
/// answered (ready agents, wrap-ups ending by then, talks likely to end by then from the
/// campaign's talk-time distribution), takes the distribution of live answers still to come from
/// the lines in flight (each line's chance given how long it has rung, a Poisson-binomial), and
/// dials the largest number of new lines whose extra expected live answers beyond those agents
/// stay under <see cref="PacingContext.TargetAbandonRate"/> per live answer they bring.
/// </summary>
/// <remarks>
/// The forecast instant is the 30th percentile of live-answer ring times plus the connect
/// deadline: early answers are the ones that find nobody. The variance term is what keeps a
/// five-agent team from being over-dialled where a fixed ratio per agent would; the dialer steers
/// the allowance from realised abandons so model bias is corrected from the campaign's own results.
/// </remarks>
public sealed class PredictivePacing : IPacingStrategy
{
    private const double ForecastQuantile = 0.3;

    /// <inheritdoc />
    public int LinesToDial(PacingContext context)
    {
        if (PacingSearch.Degenerate(context) is { } lines)
        {
            return lines;
        }

        var est = context.Estimator;
        var horizon = est.LiveRingQuantile(ForecastQuantile) + context.ConnectDeadline.TotalSeconds;
        var wrap = est.MeanWrapUpSeconds;
        double agents = context.Agents.Ready;
        foreach (var busy in context.Agents.Busy)
        {
            // An agent in wrap-up serves a new line if its live answer comes late enough: P(ring >= remaining - deadline).
            agents += busy.WrapUpRemaining is { } remaining
                ? est.LiveRingSurvival(remaining.TotalSeconds - context.ConnectDeadline.TotalSeconds)
                : est.TalkEndsWithin(busy.TalkElapsed.TotalSeconds, horizon - wrap);
        }

        return LinesForAgents(context, agents);
    }

    /// <summary>
    /// The largest number of new lines whose extra expected live answers beyond <paramref name="agents"/>
    /// (agents counted free for them) stay within the context's allowance per live answer they bring.
    /// </summary>
    internal static int LinesForAgents(PacingContext context, double agents)
    {
        var est = context.Estimator;
        var p = est.LiveAnswerProbability;

        // Live answers still to come from the lines in flight (Poisson-binomial distribution).
        var inFlight = new double[context.Lines.Count + 1];
        inFlight[0] = 1;
        var top = 0;
        foreach (var line in context.Lines)
        {
            var q = line.State == DialedCallState.WaitingForAgent ? 1 : est.LiveProbabilityGivenRinging(line.Elapsed.TotalSeconds);
            top++;
            for (var x = top; x >= 1; x--)
            {
                inFlight[x] = (inFlight[x] * (1 - q)) + (inFlight[x - 1] * q);
            }

            inFlight[0] *= 1 - q;
        }

        var baseExcess = Excess(inFlight, 0, p, agents);
        var allowed = context.TargetAbandonRate;

        // The excess grows with every line, so the largest acceptable count is found by bisection.
        return PacingSearch.Largest(PacingSearch.MaxNewLines(context, p), n => Excess(inFlight, n, p, agents) - baseExcess <= allowed * n * p);
    }

    /// <summary>E[(X - agents)+] where X = in-flight live answers + Binomial(newLines, p).</summary>
    internal static double Excess(double[] inFlight, int newLines, double p, double agents)
    {
        var binomial = new double[newLines + 1];
        binomial[0] = Math.Pow(1 - p, newLines);
        for (var k = 1; k <= newLines; k++)
        {
            binomial[k] = binomial[k - 1] * (newLines - k + 1) / k * p / (1 - p);
        }

        double excess = 0;
        for (var x = 0; x < inFlight.Length; x++)
        {
            if (inFlight[x] < 1e-12)
            {
                continue;
            }

            for (var k = Math.Max(0, (int)Math.Floor(agents) - x); k <= newLines; k++)
            {
                var over = x + k - agents;
                if (over > 0)
                {
                    excess += over * inFlight[x] * binomial[k];
                }
            }
        }

        return excess;
    }
}

/// <summary>
/// What every model-based pacing shares: the cases that need no model (no line or agent, no
/// live-answer estimate), the most new lines worth looking at, and the search for the largest
/// acceptable count.
/// </summary>
internal static class PacingSearch
{
    /// <summary>
    /// The answer when no model is needed, else null: nothing while no line may be opened, nobody is
    /// logged in or no live answer was seen; one line per ready agent when every dial is answered.
    /// </summary>
    internal static int? Degenerate(PacingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var p = context.Estimator.LiveAnswerProbability;
        if (context.LinesAvailable <= 0 || context.Agents.LoggedIn <= 0 || p <= 0 || p >= 1)
        {
            return p >= 1 ? Math.Clamp(context.Agents.Ready - context.Lines.Count, 0, context.LinesAvailable) : 0;
        }

        return null;
    }

    /// <summary>The most new lines worth considering: twice the lines that would bring a live answer for every agent and one more.</summary>
    internal static int MaxNewLines(PacingContext context, double p) =>
        (int)Math.Min(context.LinesAvailable, Math.Ceiling((context.Agents.Ready + context.Agents.Busy.Count + 1) / p * 2));

    /// <summary>The largest n in [0, <paramref name="max"/>] that is <paramref name="acceptable"/>, for a test that holds up to some n and fails above it (bisection).</summary>
    internal static int Largest(int max, Func<int, bool> acceptable)
    {
        int lo = 0, hi = max;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) >>> 1;
            if (acceptable(mid))
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }
}
