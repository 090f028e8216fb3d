using CtiBridge.Core.Dialer;
using CtiBridge.Core.Dialer.Simulation;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>
/// Predictive pacing with a per-answer deadline queue (an experiment measured on the 50-agent grid,
/// docs/benchmarks.md "Dialer"; it did worse than <see cref="PredictivePacing"/>, which campaigns use). Instead of counting live answers and free
/// agents at one forecast instant, it plays the next seconds out many times over: in each sample
/// every line in flight is a live answer or not (its chance given how long it has rung) at a time
/// drawn from the campaign's live-answer ring times, every busy agent is free at a time drawn from
/// its talk's remaining length (plus the mean wrap-up), and the answers take the agents first come,
/// first served, each answer only an agent free within the connect deadline of it (the rule an
/// abandon is judged by). It dials the largest number of new lines whose extra abandons over the
/// samples stay within <see cref="PacingContext.TargetAbandonRate"/> per live answer they bring.
/// </summary>
/// <remarks>
/// The same random draws are used for every candidate number of new lines (common random numbers),
/// so the comparison between counts is not blurred by sampling noise; the draws come from a seeded
/// generator, so a run is reproducible. What the model leaves out (lines later decisions will add,
/// agents serving a short call and coming back within the horizon) is corrected by the dialer's
/// allowance controller from realised abandons, as for <see cref="PredictivePacing"/>.
/// </remarks>
internal sealed class DeadlineQueuePacing : IPacingStrategy
{
    private readonly Random _random;
    private readonly int _samples;
    private readonly ISimulationForesight? _releases;

    /// <summary>Creates the pacer.</summary>
    /// <param name="samples">Played-out futures per decision (16-4096).</param>
    /// <param name="seed">Seed of the draws (reproducible runs).</param>
    /// <param name="releases">
    /// When set, the busy agents' release times are the simulation's exact ones instead of draws from
    /// the talk-time distribution (how much a perfect forecast of releases would buy this model).
    /// </param>
    public DeadlineQueuePacing(int samples = 128, int seed = 10, ISimulationForesight? releases = null)
    {
        _releases = releases;
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(samples, 4096);
        _samples = samples;
        _random = new Random(seed);
    }

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
        var maxNew = PacingSearch.MaxNewLines(context, p);
        var lineCount = context.Lines.Count;
        var agentCount = context.Agents.Ready + context.Agents.Busy.Count;

        // Per sample: agent release times (sorted), answers of the lines in flight (sorted), and the
        // answers of up to maxNew new lines (sorted by time, with the new line's index).
        var releases = new double[_samples][];
        var answers = new double[_samples][];
        var fresh = new (double Time, int Index)[_samples][];
        var buffer = new List<double>(Math.Max(agentCount, lineCount));
        var freshBuffer = new List<(double, int)>(maxNew);
        for (var s = 0; s < _samples; s++)
        {
            buffer.Clear();
            for (var a = 0; a < context.Agents.Ready; a++)
            {
                buffer.Add(0);
            }

            for (var b = 0; b < context.Agents.Busy.Count; b++)
            {
                var busy = context.Agents.Busy[b];
                var free = _releases is not null ? _releases.ReleasesFromNow[b]
                    : busy.WrapUpRemaining is { } remaining ? remaining.TotalSeconds
                    : est.DrawTalkRemaining(busy.TalkElapsed.TotalSeconds, _random.NextDouble()) + wrap;
                if (!double.IsPositiveInfinity(free))
                {
                    buffer.Add(free);
                }
            }

            buffer.Sort();
            releases[s] = [.. buffer];

            buffer.Clear();
            foreach (var line in context.Lines)
            {
                var elapsed = line.Elapsed.TotalSeconds;
                if (line.State == DialedCallState.WaitingForAgent)
                {
                    buffer.Add(-elapsed);
                    continue;
                }

                if (_random.NextDouble() < est.LiveProbabilityGivenRinging(elapsed))
                {
                    var ring = est.DrawLiveRingAfter(elapsed, _random.NextDouble());
                    if (!double.IsPositiveInfinity(ring))
                    {
                        buffer.Add(ring - elapsed);
                    }
                }
            }

            buffer.Sort();
            answers[s] = [.. buffer];

            freshBuffer.Clear();
            for (var i = 0; i < maxNew; i++)
            {
                if (_random.NextDouble() < p)
                {
                    var ring = est.DrawLiveRingAfter(0, _random.NextDouble());
                    if (!double.IsPositiveInfinity(ring))
                    {
                        freshBuffer.Add((ring, i));
                    }
                }
            }

            freshBuffer.Sort((x, y) => x.Item1.CompareTo(y.Item1));
            fresh[s] = [.. freshBuffer];
        }

        var baseAbandons = Abandons(releases, answers, fresh, 0, deadline);
        var allowed = context.TargetAbandonRate * p * _samples;
        return PacingSearch.Largest(maxNew, n => Abandons(releases, answers, fresh, n, deadline) - baseAbandons <= allowed * n);
    }

    /// <summary>Abandons summed over the samples when the first <paramref name="newLines"/> new lines are dialled.</summary>
    private static long Abandons(double[][] releases, double[][] answers, (double Time, int Index)[][] fresh, int newLines, double deadline)
    {
        long abandons = 0;
        for (var s = 0; s < releases.Length; s++)
        {
            var free = releases[s];
            var old = answers[s];
            var added = fresh[s];
            int agent = 0, i = 0, j = 0;
            while (true)
            {
                while (j < added.Length && added[j].Index >= newLines)
                {
                    j++;
                }

                double at;
                if (i < old.Length && (j >= added.Length || old[i] <= added[j].Time))
                {
                    at = old[i++];
                }
                else if (j < added.Length)
                {
                    at = added[j++].Time;
                }
                else
                {
                    break;
                }

                // First come, first served: the answer takes the agent free soonest, if that is within its deadline.
                if (agent < free.Length && free[agent] <= at + deadline)
                {
                    agent++;
                }
                else
                {
                    abandons++;
                }
            }
        }

        return abandons;
    }
}
