using CtiBridge.Core.Dialer;
using CtiBridge.Core.Dialer.Simulation;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>
/// An oracle dialer for the upper bound of docs/benchmarks.md "Dialer": it knows how every dial will
/// end (person or not, ring time, talk time) and when every busy agent will be ready, from the
/// simulation itself (<see cref="ISimulationForesight"/>, <see cref="SimulatedPacing.FatesKnownAhead"/>).
/// It still dials the leads in the hopper's order, at the simulation's decision moments (every
/// second and when an agent becomes ready), through the same <see cref="CampaignDialer"/>, line cap
/// and 2 s connect rule. Each decision dials the next leads in order as long as every live answer
/// among them would find an agent within the connect deadline (played out first come, first served
/// against the agents' known release times, the releases of the calls it connects included); at the
/// first that would not, it stops and waits for a later decision. So it abandons nobody and never
/// keeps an agent waiting for a call it could have placed earlier (short of reordering leads).
/// </summary>
/// <remarks>
/// Greedy, so not the best a clairvoyant dialer can do: its occupancy is a lower estimate of the
/// clairvoyant optimum, which bounds every real dialer from above. An occupancy above the tuned
/// ratio + 3 points therefore shows only that this bound cannot prove the goal infeasible there.
/// </remarks>
internal sealed class ClairvoyantPacing(ISimulationForesight foresight) : IPacingStrategy
{
    /// <inheritdoc />
    public int LinesToDial(PacingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.LinesAvailable <= 0 || context.Agents.LoggedIn <= 0)
        {
            return 0;
        }

        var deadline = context.ConnectDeadline.TotalSeconds;
        var free = new List<double>(context.Agents.Ready + foresight.ReleasesFromNow.Count);
        free.AddRange(Enumerable.Repeat(0.0, context.Agents.Ready));
        free.AddRange(foresight.ReleasesFromNow);
        var answers = foresight.LiveAnswersInFlight.ToList();
        var abandons = Abandons(free, answers, deadline, foresight.WrapUpSeconds);
        var n = 0;
        while (n < context.LinesAvailable)
        {
            var fate = foresight.NextDial(n);
            if (fate.Live)
            {
                answers.Add(new KnownAnswer(fate.RingSeconds, fate.TalkSeconds));
                if (Abandons(free, answers, deadline, foresight.WrapUpSeconds) > abandons)
                {
                    break;
                }
            }

            n++;
        }

        return n;
    }

    /// <summary>
    /// The answers played out against the agents, first come, first served: each takes the agent free
    /// soonest if that is within the deadline (an agent it takes is free again after the talk and the
    /// wrap-up), else it is abandoned.
    /// </summary>
    internal static int Abandons(IEnumerable<double> agentsFree, IEnumerable<KnownAnswer> answers, double deadline, double wrapUp)
    {
        var free = new PriorityQueue<double, double>();
        foreach (var at in agentsFree)
        {
            free.Enqueue(at, at);
        }

        var abandons = 0;
        foreach (var answer in answers.OrderBy(a => a.AnswerIn))
        {
            if (free.TryPeek(out var agentAt, out _) && agentAt <= answer.AnswerIn + deadline)
            {
                free.Dequeue();
                var next = Math.Max(agentAt, answer.AnswerIn) + answer.TalkSeconds + wrapUp;
                free.Enqueue(next, next);
            }
            else
            {
                abandons++;
            }
        }

        return abandons;
    }
}

/// <summary>
/// <see cref="PredictivePacing"/>'s model with each busy agent counted by when it will be ready, at
/// every ring time a new line's live answer may have instead of at one forecast instant: an agent ready
/// in f seconds counts as the share of live answers that ring at least f − deadline (as agents in
/// wrap-up already do). With <paramref name="foresight"/> the release times are the simulation's exact
/// ones (what a perfect forecast of talk ends would give); without, a talking agent's release is
/// taken from the campaign's talk-time distribution given how long it has talked, plus the mean wrap-up
/// (the "releases expected over the next 5–22 s" of docs/benchmarks.md "Dialer"). Test-side only.
/// </summary>
internal sealed class ReleaseMatchingPacing(ISimulationForesight? foresight = null) : IPacingStrategy
{
    private static readonly double[] RingQuantiles = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95];

    /// <inheritdoc />
    public int LinesToDial(PacingContext context)
    {
        if (PacingSearch.Degenerate(context) is { } lines)
        {
            return lines;
        }

        var est = context.Estimator;
        var deadline = context.ConnectDeadline.TotalSeconds;
        var wrap = est.MeanWrapUpSeconds;
        double agents = context.Agents.Ready;
        var busy = context.Agents.Busy;
        for (var i = 0; i < busy.Count; i++)
        {
            if (foresight is not null)
            {
                agents += est.LiveRingSurvival(foresight.ReleasesFromNow[i] - deadline);
            }
            else if (busy[i].WrapUpRemaining is { } remaining)
            {
                agents += est.LiveRingSurvival(remaining.TotalSeconds - deadline);
            }
            else
            {
                // P(ring >= release - deadline) = mean over ring times r of P(talk ends within r + deadline - wrap-up).
                double share = 0;
                foreach (var q in RingQuantiles)
                {
                    share += est.TalkEndsWithin(busy[i].TalkElapsed.TotalSeconds, est.LiveRingQuantile(q) + deadline - wrap);
                }

                agents += share / RingQuantiles.Length;
            }
        }

        return PredictivePacing.LinesForAgents(context, agents);
    }
}
