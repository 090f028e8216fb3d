using CtiBridge.Core.Dialer;
using CtiBridge.Core.Dialer.Simulation;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>
/// Rollout (model-predictive) pacing, an experiment measured on the 50-agent grid (docs/benchmarks.md
/// "Dialer", "Rollout pacing"); campaigns use <see cref="PredictivePacing"/>. At each decision it plays
/// the next <c>horizon</c> seconds out many times over from the campaign's learned distributions and
/// picks the number of new lines k that minimises expected agent idle time plus a price per expected
/// abandon:
/// <list type="bullet">
/// <item>every line in flight is a live answer or not (its chance given how long it has rung), at a
/// time drawn from the live-answer ring times longer than it has rung;</item>
/// <item>every talking agent is free at a time drawn from the recent talks longer than its own, plus
/// the mean wrap-up; agents in wrap-up when it ends; ready agents at once;</item>
/// <item>later decisions are not left out (the deadline queue's flaw): every second of the horizon a
/// base policy dials the lines that replace the expected releases (agents / (mean talk + wrap-up) / p),
/// so the k lines of this decision compete with those later lines for the same agents;</item>
/// <item>the answers take the agents first come, first served, each only an agent free within the
/// connect deadline of it; an agent's idle time runs from its release to the answer it takes (or the
/// horizon's end).</item>
/// </list>
/// The price of an abandon, in agent-seconds of idle time, is <c>priceScale / allowance</c>: the
/// dialer's online controller steers the allowance from the ledger's realised abandons
/// (<see cref="PacingContext.TargetAbandonRate"/>), so the price rises when abandons run above the
/// target and falls when they run below, without per-campaign tuning.
/// </summary>
/// <remarks>
/// Common random numbers: the same draws serve every candidate k, so the comparison between counts is
/// not blurred by sampling noise; the generator is seeded, so a run is reproducible.
/// </remarks>
internal sealed class RolloutPacing : IPacingStrategy
{
    private readonly Random _random;
    private readonly int _samples;
    private readonly double _horizon;
    private readonly double _priceScale;
    private readonly bool _futureDials;
    private readonly ISimulationForesight? _releases;
    private readonly bool _laterDialsReact;
    private readonly bool _answersKnownOnceDialled;

    /// <summary>Creates the pacer.</summary>
    /// <param name="samples">Played-out futures per decision (16-4096).</param>
    /// <param name="horizon">Seconds played out ahead.</param>
    /// <param name="priceScale">Price of an abandon = priceScale / allowance, in agent-seconds of idle time.</param>
    /// <param name="futureDials">False: leave later decisions' lines out (a myopic rollout, to see what the base policy adds).</param>
    /// <param name="seed">Seed of the draws.</param>
    /// <param name="releases">
    /// When set, the busy agents' release times are the simulation's exact ones instead of draws (the
    /// policy then knows when every agent is free, but still not which lines a person answers, or when).
    /// </param>
    /// <param name="laterDialsReact">
    /// True: the base policy's later lines are dialled one after another at the replacement rate, and every line
    /// dialled now takes the place of the next of them (later decisions dial less when this one dials more), so
    /// the choice is between dialling a line now and dialling it a little later.
    /// </param>
    /// <param name="answersKnownOnceDialled">
    /// With <paramref name="releases"/>: the lines in flight are no longer guessed but taken from the simulation
    /// (which of them a person answers, and when), i.e. a dialer that learns each line's fate the moment it
    /// dials it, but still not before (a measure of how much of the gap the lines in flight are).
    /// </param>
    public RolloutPacing(int samples = 200, double horizon = 25, double priceScale = 2.5, bool futureDials = true, int seed = 11, ISimulationForesight? releases = null, bool laterDialsReact = false, bool answersKnownOnceDialled = false)
    {
        if (answersKnownOnceDialled && releases is null)
        {
            throw new ArgumentException("the answers of the lines in flight come from the simulation's foresight: give releases too", nameof(answersKnownOnceDialled));
        }

        _answersKnownOnceDialled = answersKnownOnceDialled;
        _releases = releases;
        _laterDialsReact = laterDialsReact;
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(samples, 4096);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(horizon, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(priceScale, 0);
        _samples = samples;
        _horizon = horizon;
        _priceScale = priceScale;
        _futureDials = futureDials;
#pragma warning disable CA5394 // Simulation randomness: seeded and reproducible on purpose.
        _random = new Random(seed);
#pragma warning restore CA5394
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
        var cycle = Math.Max(1, est.MeanTalkSeconds + wrap);
        var agentCount = context.Agents.Ready + context.Agents.Busy.Count;

        // Agents likely free within the horizon, twice over, as lines: more new lines than that are never worth it.
        var wrapping = 0;
        foreach (var busy in context.Agents.Busy)
        {
            if (busy.WrapUpRemaining is not null)
            {
                wrapping++;
            }
        }

        var freeSoon = context.Agents.Ready + wrapping + ((agentCount - wrapping - context.Agents.Ready) * _horizon / cycle) + 2;
        var maxNew = Math.Min(PacingSearch.MaxNewLines(context, p), (int)Math.Ceiling(2 * freeSoon / p) + 10);
        var futureRate = agentCount / cycle / p;

        var knownAnswers = _answersKnownOnceDialled ? _releases!.LiveAnswersInFlight : null;
        var releases = new double[_samples][];
        var answers = new double[_samples][];
        var fresh = new (double Time, int Index)[_samples][];
        var replaced = new (double Time, int Index)[_samples][];
        var buffer = new List<double>(Math.Max(agentCount, context.Lines.Count) + 64);
        var freshBuffer = new List<(double, int)>(64);
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
                if (free < _horizon)
                {
                    buffer.Add(free);
                }
            }

            buffer.Sort();
            releases[s] = [.. buffer];

            buffer.Clear();
            if (knownAnswers is not null)
            {
                foreach (var answer in knownAnswers)
                {
                    if (answer.AnswerIn < _horizon)
                    {
                        buffer.Add(answer.AnswerIn);
                    }
                }
            }

            foreach (var line in knownAnswers is null ? context.Lines : [])
            {
                var elapsed = line.Elapsed.TotalSeconds;
                if (line.State == DialedCallState.WaitingForAgent)
                {
                    buffer.Add(-elapsed);
                    continue;
                }

                if (_random.NextDouble() < est.LiveProbabilityGivenRinging(elapsed))
                {
                    var at = est.DrawLiveRingAfter(elapsed, _random.NextDouble()) - elapsed;
                    if (at < _horizon)
                    {
                        buffer.Add(at);
                    }
                }
            }

            freshBuffer.Clear();
            if (_futureDials && _laterDialsReact)
            {
                // Later lines at even steps from 1 s on; the first k of them are the ones this decision's k lines replace.
                var later = (int)((_horizon - 1) * futureRate);
                for (var i = 0; i < later; i++)
                {
                    if (_random.NextDouble() < p)
                    {
                        var at = 1 + (i / futureRate) + est.DrawLiveRingAfter(0, _random.NextDouble());
                        if (at < _horizon)
                        {
                            freshBuffer.Add((at, i));
                        }
                    }
                }
            }

            freshBuffer.Sort((x, y) => x.Item1.CompareTo(y.Item1));
            replaced[s] = [.. freshBuffer];

            if (_futureDials && !_laterDialsReact)
            {
                // The base policy: the lines later decisions dial to replace the expected releases.
                for (var second = 1; second < _horizon; second++)
                {
                    var dials = (int)futureRate + (_random.NextDouble() < futureRate - (int)futureRate ? 1 : 0);
                    for (var d = 0; d < dials; d++)
                    {
                        if (_random.NextDouble() < p)
                        {
                            var at = second + est.DrawLiveRingAfter(0, _random.NextDouble());
                            if (at < _horizon)
                            {
                                buffer.Add(at);
                            }
                        }
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
                    var at = est.DrawLiveRingAfter(0, _random.NextDouble());
                    if (at < _horizon)
                    {
                        freshBuffer.Add((at, i));
                    }
                }
            }

            freshBuffer.Sort((x, y) => x.Item1.CompareTo(y.Item1));
            fresh[s] = [.. freshBuffer];
        }

        var allowance = context.TargetAbandonRate;
        var price = allowance <= 0 ? double.PositiveInfinity : _priceScale / allowance;
        var costs = new Dictionary<int, (double Idle, long Abandons)>();
        (double Idle, long Abandons) Cost(int n)
        {
            if (!costs.TryGetValue(n, out var c))
            {
                c = PlayOut(releases, answers, fresh, n, deadline, _horizon, replaced);
                costs[n] = c;
            }

            return c;
        }

        // The n-th line is worth dialling now while it lowers idle time + price x abandons (bisection:
        // each further line saves less idle time and risks more abandons).
        return PacingSearch.Largest(maxNew, n =>
        {
            var (idleWith, abandonsWith) = Cost(n);
            var (idleWithout, abandonsWithout) = Cost(n - 1);
            var extraAbandons = abandonsWith - abandonsWithout;
            var idleSaved = idleWithout - idleWith;
            return double.IsPositiveInfinity(price) ? extraAbandons <= 0 && idleSaved > 0 : idleSaved > price * extraAbandons;
        });
    }

    /// <summary>
    /// Idle agent-seconds and abandons summed over the samples when the first <paramref name="newLines"/>
    /// new lines are dialled: answers take the agent free soonest, first come first served, if it is
    /// free within <paramref name="deadline"/> of the answer; agents nobody takes are idle to the horizon.
    /// </summary>
    internal static (double Idle, long Abandons) PlayOut(double[][] releases, double[][] answers, (double Time, int Index)[][] fresh, int newLines, double deadline, double horizon, (double Time, int Index)[][]? replaced = null)
    {
        double idle = 0;
        long abandons = 0;
        for (var s = 0; s < releases.Length; s++)
        {
            var free = releases[s];
            var old = answers[s];
            var added = fresh[s];
            var later = replaced?[s] ?? [];
            int agent = 0, i = 0, j = 0, l = 0;
            while (true)
            {
                while (j < added.Length && added[j].Index >= newLines)
                {
                    j++;
                }

                while (l < later.Length && later[l].Index < newLines)
                {
                    l++;
                }

                // The earliest of the three: old answers, this decision's new lines, the later lines not replaced.
                var at = double.PositiveInfinity;
                var from = -1;
                if (i < old.Length)
                {
                    (at, from) = (old[i], 0);
                }

                if (j < added.Length && added[j].Time < at)
                {
                    (at, from) = (added[j].Time, 1);
                }

                if (l < later.Length && later[l].Time < at)
                {
                    (at, from) = (later[l].Time, 2);
                }

                switch (from)
                {
                    case 0: i++; break;
                    case 1: j++; break;
                    case 2: l++; break;
                    default: break;
                }

                if (from < 0)
                {
                    break;
                }

                if (agent < free.Length && free[agent] <= at + deadline)
                {
                    idle += Math.Max(0, at - free[agent]);
                    agent++;
                }
                else
                {
                    abandons++;
                }
            }

            for (; agent < free.Length; agent++)
            {
                idle += Math.Max(0, horizon - free[agent]);
            }
        }

        return (idle, abandons);
    }
}
