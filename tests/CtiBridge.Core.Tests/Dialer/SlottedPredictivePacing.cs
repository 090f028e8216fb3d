using CtiBridge.Core.Dialer;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>
/// Predictive pacing with a time-slotted forecast of agent releases (an experiment measured on the
/// scenario grid, docs/benchmarks.md "Dialer"; it did worse than <see cref="PredictivePacing"/>, which campaigns use).
/// Instead of one forecast instant, it looks at several moments t ahead (quantiles of the
/// live-answer ring time) and compares the live answers expected by t with the agents free by
/// t + the connect deadline: lines in flight count with their chance of a live answer within t
/// given how long they have rung (a Poisson-binomial), new lines with p × P(ring ≤ t); ready agents
/// count 1, agents in wrap-up count once their wrap-up ends by then, talking agents with their
/// chance to end the talk (plus the mean wrap-up) by then. It dials the largest number of new lines
/// whose extra expected excess at the worst of those moments stays within the allowance.
/// </summary>
internal sealed class SlottedPredictivePacing : IPacingStrategy
{
    private static readonly double[] SlotQuantiles = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0];

    /// <inheritdoc />
    public int LinesToDial(PacingContext context)
    {
        if (PacingSearch.Degenerate(context) is { } lines)
        {
            return lines;
        }

        var est = context.Estimator;
        var p = est.LiveAnswerProbability;

        var deadline = context.ConnectDeadline.TotalSeconds;
        var wrap = est.MeanWrapUpSeconds;
        var slots = new List<(double[] InFlight, double NewLineChance, double Agents, double BaseExcess)>(SlotQuantiles.Length);
        foreach (var q in SlotQuantiles)
        {
            var t = est.LiveRingQuantile(q);
            double agents = context.Agents.Ready;
            foreach (var busy in context.Agents.Busy)
            {
                agents += busy.WrapUpRemaining is { } remaining
                    ? (remaining.TotalSeconds <= t + deadline ? 1 : 0)
                    : est.TalkEndsWithin(busy.TalkElapsed.TotalSeconds, t + deadline - wrap);
            }

            var inFlight = new double[context.Lines.Count + 1];
            inFlight[0] = 1;
            var top = 0;
            foreach (var line in context.Lines)
            {
                var chance = line.State == DialedCallState.WaitingForAgent ? 1 : LiveWithin(est, line.Elapsed.TotalSeconds, t);
                top++;
                for (var x = top; x >= 1; x--)
                {
                    inFlight[x] = (inFlight[x] * (1 - chance)) + (inFlight[x - 1] * chance);
                }

                inFlight[0] *= 1 - chance;
            }

            var newLineChance = p * (1 - est.LiveRingSurvival(t));
            slots.Add((inFlight, newLineChance, agents, PredictivePacing.Excess(inFlight, 0, newLineChance, agents)));
        }

        var allowed = context.TargetAbandonRate;
        return PacingSearch.Largest(PacingSearch.MaxNewLines(context, p), n =>
        {
            var worst = 0.0;
            foreach (var s in slots)
            {
                worst = Math.Max(worst, PredictivePacing.Excess(s.InFlight, n, s.NewLineChance, s.Agents) - s.BaseExcess);
            }

            return worst <= allowed * n * p;
        });
    }

    /// <summary>P(a live answer within <paramref name="within"/> s | still ringing after <paramref name="elapsed"/> s).</summary>
    private static double LiveWithin(PacingEstimator est, double elapsed, double within)
    {
        var alive = est.LiveRingSurvival(elapsed);
        return alive <= 0 ? 0 : est.LiveProbabilityGivenRinging(elapsed) * Math.Clamp((alive - est.LiveRingSurvival(elapsed + within)) / alive, 0, 1);
    }
}
