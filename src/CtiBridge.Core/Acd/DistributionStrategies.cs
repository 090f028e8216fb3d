using System.Globalization;

namespace CtiBridge.Core.Acd;

/// <summary>
/// An eligible agent as a strategy sees it: the numbers strategies rank by. Built by the engine
/// for the agents that are ready, have the call's skills and a penalty the call allows.
/// </summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Penalty">Member penalty (tier) in this queue.</param>
/// <param name="MemberOrder">Fixed order in the queue (configured <see cref="QueueConfiguration.MemberOrder"/> first, then login order).</param>
/// <param name="JoinOrder">Order in which members joined the queue (login order).</param>
/// <param name="IdleSince">End of the agent's last call (or login): longest idle = earliest.</param>
/// <param name="CallsAnswered">Calls answered from this queue in this session.</param>
/// <param name="TalkTime">Talk time of this session, all queues.</param>
/// <param name="SkillScore">Sum of the agent's levels in the call's required skills (0 when none required).</param>
/// <param name="IsPreferred">True for the call's preferred agent (last agent of the caller, or assigned agent).</param>
public readonly record struct RoutingCandidate(
    string AgentId, int Penalty, int MemberOrder, long JoinOrder, DateTimeOffset IdleSince,
    int CallsAnswered, TimeSpan TalkTime, int SkillScore, bool IsPreferred);

/// <summary>Per-queue memory a strategy may keep between decisions (round-robin position).</summary>
public sealed class QueueStrategyMemory
{
    /// <summary>Order key of the member rung last (rrmemory / rrordered).</summary>
    public long? LastRungOrder { get; set; }
}

/// <summary>What a strategy knows about the decision besides the candidates.</summary>
/// <param name="Queue">Queue name.</param>
/// <param name="Now">Engine time.</param>
/// <param name="Random">The engine's seeded random source.</param>
/// <param name="Memory">The queue's strategy memory.</param>
/// <param name="PreferredAgentId">The call's preferred agent, if any.</param>
/// <param name="PreferredAgentCanServe">The preferred agent is logged in and a member of the queue.</param>
/// <param name="PreferredHoldUntil">Until when the call waits for its preferred agent.</param>
/// <param name="Fallback">The queue's fallback strategy (for <c>sticky</c>).</param>
public readonly record struct StrategyContext(
    string Queue, DateTimeOffset Now, Random Random, QueueStrategyMemory Memory,
    string? PreferredAgentId, bool PreferredAgentCanServe, DateTimeOffset PreferredHoldUntil, IDistributionStrategy Fallback);

/// <summary>A strategy's answer.</summary>
/// <param name="Index">Index of the chosen candidate, or -1.</param>
/// <param name="RingAll">Ring every candidate (ringall).</param>
/// <param name="Why">Why, in words (goes into the routing explanation).</param>
public readonly record struct StrategyChoice(int Index, bool RingAll, string Why)
{
    /// <summary>Ring one candidate.</summary>
    public static StrategyChoice One(int index, string why) => new(index, false, why);

    /// <summary>Ring all candidates.</summary>
    public static StrategyChoice All(string why) => new(-1, true, why);

    /// <summary>Ring nobody now; the call keeps waiting.</summary>
    public static StrategyChoice None(string why) => new(-1, false, why);

    /// <summary>True when somebody is to be rung.</summary>
    public bool HasWinner => RingAll || Index >= 0;
}

/// <summary>
/// A distribution strategy, selected by name per queue (like YARP's <c>ILoadBalancingPolicy</c>).
/// Implementations must be deterministic given the context (use <see cref="StrategyContext.Random"/>).
/// </summary>
public interface IDistributionStrategy
{
    /// <summary>The name used in queue configuration.</summary>
    string Name { get; }

    /// <summary>True when only the lowest penalty tier among eligible agents is passed in (app_queue behaviour).</summary>
    bool UsesPenaltyTiers { get; }

    /// <summary>Chooses among eligible candidates (never empty).</summary>
    StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates);
}

/// <summary>The strategies known by name; built-ins plus any registered.</summary>
public sealed class DistributionStrategies
{
    private readonly Dictionary<string, IDistributionStrategy> _byName = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates the registry with the built-in strategies.</summary>
    public DistributionStrategies()
    {
        Register(new RingAllStrategy());
        Register(new LeastRecentStrategy());
        Register(new FewestCallsStrategy());
        Register(new RandomStrategy());
        Register(new RoundRobinStrategy("rrmemory", byConfiguredOrder: false));
        Register(new RoundRobinStrategy("rrordered", byConfiguredOrder: true));
        Register(new LinearStrategy());
        Register(new WeightedRandomStrategy());
        Register(new LeastTalkTimeStrategy());
        Register(new SkillsStrategy());
        Register(new StickyStrategy());
    }

    /// <summary>Names known, sorted.</summary>
    public IReadOnlyList<string> Names => [.. _byName.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Adds or replaces a strategy.</summary>
    public void Register(IDistributionStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        _byName[strategy.Name] = strategy;
    }

    /// <summary>Finds a strategy by name, or throws with the known names and a did-you-mean suggestion.</summary>
    /// <exception cref="UnknownStrategyException">No strategy has that name.</exception>
    public IDistributionStrategy Resolve(string name, string? where = null)
    {
        if (name is not null && _byName.TryGetValue(name, out var s))
        {
            return s;
        }

        var suggestion = name is null ? null : _byName.Keys.MinBy(k => EditDistance(k.ToUpperInvariant(), name.ToUpperInvariant()));
        var hint = suggestion is not null && EditDistance(suggestion.ToUpperInvariant(), name!.ToUpperInvariant()) <= Math.Max(2, name.Length / 3)
            ? $" Did you mean '{suggestion}'?"
            : string.Empty;
        throw new UnknownStrategyException(
            $"Unknown distribution strategy '{name}'{(where is null ? string.Empty : " in " + where)}.{hint} Known strategies: {string.Join(", ", Names)}.");
    }

    private static int EditDistance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            prev[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (prev, cur) = (cur, prev);
        }

        return prev[b.Length];
    }
}

/// <summary>A queue names a strategy nobody registered.</summary>
public sealed class UnknownStrategyException(string message) : ArgumentException(message);

internal static class StrategyText
{
    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s";
}

/// <summary>The scan the ordering strategies share: one pass, keep the better candidate.</summary>
internal static class CandidateScan
{
    /// <summary>Index of the candidate no other beats; on a tie the earlier one stays.</summary>
    public static int Best(ReadOnlySpan<RoutingCandidate> candidates, Func<RoutingCandidate, RoutingCandidate, bool> isBetter)
    {
        var best = 0;
        for (var i = 1; i < candidates.Length; i++)
        {
            if (isBetter(candidates[i], candidates[best]))
            {
                best = i;
            }
        }

        return best;
    }
}

/// <summary><c>ringall</c>: ring every eligible agent of the lowest tier at once; the first to answer wins.</summary>
public sealed class RingAllStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "ringall";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates) =>
        StrategyChoice.All($"ringall: ring all {candidates.Length} eligible agent(s) of the lowest tier");
}

/// <summary><c>leastrecent</c>: the agent idle longest (whose last call ended earliest).</summary>
public sealed class LeastRecentStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "leastrecent";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var best = CandidateScan.Best(candidates, static (c, b) => c.IdleSince < b.IdleSince || (c.IdleSince == b.IdleSince && c.JoinOrder < b.JoinOrder));

        return StrategyChoice.One(best, $"leastrecent: idle longest ({StrategyText.Seconds(context.Now - candidates[best].IdleSince)})");
    }
}

/// <summary><c>fewestcalls</c>: the agent who answered the fewest calls from this queue; ties by longest idle.</summary>
public sealed class FewestCallsStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "fewestcalls";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var best = CandidateScan.Best(candidates, static (c, b) => c.CallsAnswered < b.CallsAnswered || (c.CallsAnswered == b.CallsAnswered && c.IdleSince < b.IdleSince));

        return StrategyChoice.One(best, $"fewestcalls: fewest calls answered from this queue ({candidates[best].CallsAnswered})");
    }
}

/// <summary><c>random</c>: any eligible agent, uniformly.</summary>
public sealed class RandomStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "random";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates) =>
        StrategyChoice.One(context.Random.Next(candidates.Length), $"random: drawn among {candidates.Length} eligible agent(s)");
}

/// <summary>
/// <c>rrmemory</c> / <c>rrordered</c>: round robin that remembers the last agent rung and continues
/// with the next one in member order (login order for rrmemory, configured order for rrordered).
/// </summary>
public sealed class RoundRobinStrategy : IDistributionStrategy
{
    private readonly bool _byConfiguredOrder;

    /// <summary>Creates the strategy under a name.</summary>
    public RoundRobinStrategy(string name, bool byConfiguredOrder)
    {
        Name = name;
        _byConfiguredOrder = byConfiguredOrder;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var last = context.Memory.LastRungOrder ?? long.MinValue;
        int next = -1, first = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var key = Key(candidates[i]);
            if (key < Key(candidates[first]))
            {
                first = i;
            }

            if (key > last && (next < 0 || key < Key(candidates[next])))
            {
                next = i;
            }
        }

        var chosen = next >= 0 ? next : first;
        context.Memory.LastRungOrder = Key(candidates[chosen]);
        return StrategyChoice.One(chosen, next >= 0
            ? $"{Name}: next in turn after the agent rung last"
            : $"{Name}: wrapped around to the first in turn");
    }

    private long Key(in RoutingCandidate c) => _byConfiguredOrder ? c.MemberOrder : c.JoinOrder;
}

/// <summary><c>linear</c>: hunting in fixed member order, always from the top.</summary>
public sealed class LinearStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "linear";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var best = CandidateScan.Best(candidates, static (c, b) => c.MemberOrder < b.MemberOrder);

        return StrategyChoice.One(best, $"linear: first free agent in member order (position {candidates[best].MemberOrder + 1})");
    }
}

/// <summary>
/// <c>wrandom</c>: random weighted by penalty as app_queue does it: each agent draws
/// <c>random mod ((1 + penalty) × 1000)</c> and the lowest draw wins, so low penalties win more often.
/// All penalties the call allows take part (no tiering).
/// </summary>
public sealed class WeightedRandomStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "wrandom";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => false;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var best = -1;
        var bestDraw = long.MaxValue;
        for (var i = 0; i < candidates.Length; i++)
        {
            long draw = context.Random.Next((1 + Math.Max(0, candidates[i].Penalty)) * 1000);
            if (draw < bestDraw)
            {
                bestDraw = draw;
                best = i;
            }
        }

        return StrategyChoice.One(best, $"wrandom: lowest penalty-weighted draw ({bestDraw}) among {candidates.Length} agent(s)");
    }
}

/// <summary><c>least-talk-time</c>: even workload, the agent with the least talk time this session; ties by longest idle.</summary>
public sealed class LeastTalkTimeStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "least-talk-time";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var best = CandidateScan.Best(candidates, static (c, b) => c.TalkTime < b.TalkTime || (c.TalkTime == b.TalkTime && c.IdleSince < b.IdleSince));

        return StrategyChoice.One(best, $"least-talk-time: least talk time this session ({StrategyText.Seconds(candidates[best].TalkTime)})");
    }
}

/// <summary><c>skills</c>: the highest level in the call's required skills; ties by longest idle.</summary>
public sealed class SkillsStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "skills";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => true;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        var best = CandidateScan.Best(candidates, static (c, b) => c.SkillScore > b.SkillScore || (c.SkillScore == b.SkillScore && c.IdleSince < b.IdleSince));

        return StrategyChoice.One(best, $"skills: best skill level for the call (score {candidates[best].SkillScore}), then longest idle");
    }
}

/// <summary>
/// <c>sticky</c>: the caller's preferred agent (the agent who last served this number, or the
/// customer's assigned agent) when ready; while that agent is logged in but busy the call waits
/// for them until <see cref="QueueConfiguration.StickyWait"/>, then the fallback strategy decides.
/// </summary>
public sealed class StickyStrategy : IDistributionStrategy
{
    /// <inheritdoc />
    public string Name => "sticky";

    /// <inheritdoc />
    public bool UsesPenaltyTiers => false;

    /// <inheritdoc />
    public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates)
    {
        for (var i = 0; i < candidates.Length; i++)
        {
            if (candidates[i].IsPreferred)
            {
                return StrategyChoice.One(i, "sticky: the caller's preferred agent is ready");
            }
        }

        if (context.PreferredAgentId is not null && context.PreferredAgentCanServe && context.Now < context.PreferredHoldUntil)
        {
            return StrategyChoice.None($"sticky: waiting for preferred agent {context.PreferredAgentId} until {StrategyText.Seconds(context.PreferredHoldUntil - context.Now)} from now");
        }

        // The fallback ranks with tiers when it wants them: keep only the lowest tier here.
        if (context.Fallback.UsesPenaltyTiers)
        {
            var min = int.MaxValue;
            foreach (var c in candidates)
            {
                min = Math.Min(min, c.Penalty);
            }

            var tier = new List<int>();
            var sub = new RoutingCandidate[candidates.Length];
            var n = 0;
            for (var i = 0; i < candidates.Length; i++)
            {
                if (candidates[i].Penalty == min)
                {
                    tier.Add(i);
                    sub[n++] = candidates[i];
                }
            }

            var inner = context.Fallback.Choose(context, sub.AsSpan(0, n));
            var why = "sticky: no preferred agent in time; " + inner.Why;
            return inner.RingAll ? StrategyChoice.All(why) : inner.Index >= 0 ? StrategyChoice.One(tier[inner.Index], why) : StrategyChoice.None(why);
        }

        var choice = context.Fallback.Choose(context, candidates);
        return choice with { Why = "sticky: no preferred agent in time; " + choice.Why };
    }
}
