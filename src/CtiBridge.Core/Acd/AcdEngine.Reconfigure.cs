namespace CtiBridge.Core.Acd;

/// <summary>Taking a new configuration while calls and agents are live (queues, agents, memberships, penalties, skills).</summary>
public sealed partial class AcdEngine
{
    /// <summary>
    /// Replaces the configuration at <paramref name="at"/> without a restart, after firing the
    /// deadlines due up to then. Nothing changes when anything is wrong: the problems are returned
    /// (the same checks as the constructor, plus what the live state forbids) and the old
    /// configuration keeps running.
    /// <list type="bullet">
    /// <item>Queues are added, changed or removed. A changed queue's settings apply to what happens
    /// from now on (the next ring, the next call); deadlines already set for waiting calls (max
    /// wait, announcements) keep their times. A queue is removed only while no call is in it and
    /// no agent is in wrap-up from it.</item>
    /// <item>Agent profiles are added, changed or removed (a logged-in agent cannot be removed). A
    /// logged-in agent joins queues added to the profile, leaves queues taken off it, takes new
    /// penalties and skills at once; queues and skills the agent chose not to serve at login stay
    /// unserved. A phone ringing for a queue the agent left rings on until answered or timed out.</item>
    /// <item>Engine-wide rules (auto-pause, visits, explanation detail, sticky memory) change;
    /// <see cref="AcdConfiguration.Metrics"/> and <see cref="AcdConfiguration.RandomSeed"/> keep
    /// their start-up values (statistics of the day must keep one definition).</item>
    /// </list>
    /// Ready agents then look for waiting calls they may now serve, and queues left without agents
    /// apply their leave-when-empty rule. An <see cref="AcdReconfigured"/> event tells what changed.
    /// </summary>
    /// <param name="at">When (not before <see cref="Now"/>).</param>
    /// <param name="configuration">The new configuration.</param>
    /// <returns>No problems: the new configuration is live.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="at"/> is before <see cref="Now"/>.</exception>
    public IReadOnlyList<string> Reconfigure(DateTimeOffset at, AcdConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        Handle(new TimeAdvanced(at));

        var problems = new List<string>();
        var resolved = CheckConfiguration(configuration, _strategies, problems);
        var newQueues = new HashSet<string>(configuration.Queues.Select(q => q.Name), StringComparer.OrdinalIgnoreCase);
        var newAgents = new HashSet<string>(configuration.Agents.Select(a => a.AgentId), StringComparer.Ordinal);
        foreach (var q in _queues.Values.Where(q => !newQueues.Contains(q.Name)).OrderBy(q => q.Index))
        {
            var calls = _calls.Values.Count(c => ReferenceEquals(c.Queue, q));
            if (calls > 0)
            {
                problems.Add($"queue '{q.Name}': cannot be removed while {calls} call(s) are in it; remove it once it is empty (or send its calls elsewhere first)");
            }

            var wrapping = _agents.Values.Where(a => a.State == AgentState.WrapUp && string.Equals(a.WrapUpQueue, q.Name, StringComparison.OrdinalIgnoreCase)).Select(a => a.Id).ToList();
            if (wrapping.Count > 0)
            {
                problems.Add($"queue '{q.Name}': cannot be removed while agent(s) {string.Join(", ", wrapping)} are in wrap-up from it; try again after their wrap-up");
            }
        }

        foreach (var a in _config.Agents.Select(p => _agents[p.AgentId]).Where(a => !newAgents.Contains(a.Id) && a.State != AgentState.LoggedOut))
        {
            problems.Add($"agent '{a.Id}': cannot be removed while logged in (state {a.State}); log the agent out first");
        }

        if (problems.Count > 0)
        {
            return problems;
        }

        // 1. Queues added or changed (before agents join them).
        var added = new List<string>();
        var changed = new List<string>();
        var touched = new List<Queue>();
        foreach (var (config, strategy, fallback) in resolved)
        {
            if (!_queues.TryGetValue(config.Name, out var q))
            {
                q = new Queue(config, strategy, fallback, _queueIndex++);
                _queues.Add(config.Name, q);
                added.Add(q.Name);
                continue;
            }

            if (SameQueue(q.Config, config))
            {
                continue;
            }

            changed.Add(q.Name);
            touched.Add(q);
            UpdateQueue(q, config, strategy, fallback);
        }

        // 2. Agent profiles.
        var agentsAdded = new List<string>();
        var agentsChanged = new List<string>();
        foreach (var profile in configuration.Agents)
        {
            if (!_agents.TryGetValue(profile.AgentId, out var a))
            {
                _agents.Add(profile.AgentId, new Agent(profile));
                agentsAdded.Add(profile.AgentId);
                continue;
            }

            if (ProfileEquals(a.Profile, profile))
            {
                continue;
            }

            agentsChanged.Add(a.Id);
            var old = a.Profile;
            a.Profile = profile;
            if (a.State != AgentState.LoggedOut)
            {
                ApplyProfile(a, old, touched);
            }
        }

        var agentsRemoved = _config.Agents.Select(p => p.AgentId).Where(id => !newAgents.Contains(id)).ToList();
        foreach (var id in agentsRemoved)
        {
            _agents.Remove(id);
        }

        // 3. Queues removed: no call is in them and every member agent's profile left them in step 2.
        var removed = _queues.Values.Where(q => !newQueues.Contains(q.Name)).OrderBy(q => q.Index).ToList();
        foreach (var q in removed)
        {
            foreach (var m in q.Members.ToList())
            {
                RemoveMembership(m);
            }

            _queues.Remove(q.Name);
        }

        _config = configuration;
        Publish(new AcdReconfigured(added, [.. removed.Select(q => q.Name)], changed, agentsAdded, agentsRemoved, agentsChanged));

        // 4. What the change made possible: queues without agents let callers go; ready agents take calls.
        foreach (var q in touched.Distinct())
        {
            if (_queues.ContainsKey(q.Name))
            {
                CheckLeaveWhenEmpty(q);
            }
        }

        foreach (var p in _config.Agents)
        {
            if (_agents.TryGetValue(p.AgentId, out var a) && a.State == AgentState.Ready && a.Call is null)
            {
                AgentAvailable(a);
            }
        }

        return [];
    }

    /// <summary>Equal settings (records compare lists by reference; configurations built anew every reload must not all look changed).</summary>
    private static bool SameQueue(QueueConfiguration a, QueueConfiguration b)
    {
        // The lists taken from b, so the record comparison sees only a's own values (and Hours by reference).
        return a with
        {
            MemberOrder = b.MemberOrder, VipCallerNumbers = b.VipCallerNumbers, DidPriorities = b.DidPriorities,
            Overflow = b.Overflow, PenaltySteps = b.PenaltySteps, ExitKeys = b.ExitKeys,
        } == b
            && a.MemberOrder.SequenceEqual(b.MemberOrder, StringComparer.Ordinal)
            && a.VipCallerNumbers.Order(StringComparer.Ordinal).SequenceEqual(b.VipCallerNumbers.Order(StringComparer.Ordinal), StringComparer.Ordinal)
            && a.Overflow.SequenceEqual(b.Overflow)
            && a.PenaltySteps.SequenceEqual(b.PenaltySteps)
            && SameEntries(a.DidPriorities, b.DidPriorities)
            && SameEntries(a.ExitKeys, b.ExitKeys);
    }

    private static bool SameEntries<TKey, TValue>(IReadOnlyDictionary<TKey, TValue> a, IReadOnlyDictionary<TKey, TValue> b) =>
        a.Count == b.Count && a.All(e => b.TryGetValue(e.Key, out var v) && EqualityComparer<TValue>.Default.Equals(e.Value, v));

    private static bool ProfileEquals(AgentProfile a, AgentProfile b) =>
        a.AgentId == b.AgentId && a.Name == b.Name && a.PinHash == b.PinHash
        && a.Queues.SequenceEqual(b.Queues)
        && a.Skills.Count == b.Skills.Count && a.Skills.All(s => b.Skills.TryGetValue(s.Key, out var level) && level == s.Value);

    private static int MemberOrderOf(Queue q, Agent a) =>
        q.OrderIndex.TryGetValue(a.Id, out var i) ? i : 1_000_000 + (int)Math.Min(a.JoinOrder, 1_000_000_000);

    private static void UpdateQueue(Queue q, QueueConfiguration config, IDistributionStrategy strategy, IDistributionStrategy fallback)
    {
        var old = q.Config;
        q.Config = config;
        if (!string.Equals(old.Strategy, config.Strategy, StringComparison.Ordinal))
        {
            // Round-robin memory of another strategy means nothing to the new one.
            q.Strategy = strategy;
            q.Memory = new QueueStrategyMemory();
        }

        q.Fallback = fallback;
        if (!old.MemberOrder.SequenceEqual(config.MemberOrder))
        {
            q.OrderIndex = Queue.OrderIndexOf(config);
            foreach (var m in q.Members)
            {
                m.MemberOrder = MemberOrderOf(q, m.Agent);
            }
        }

        if (old.HandleTimeWindow != config.HandleTimeWindow)
        {
            // Keep the most recent handle times that fit the new window.
            var recent = new List<TimeSpan>(q.HandleTimeCount);
            for (var i = 0; i < q.HandleTimeCount; i++)
            {
                recent.Add(q.HandleTimes[(q.HandleTimeNext - q.HandleTimeCount + i + q.HandleTimes.Length) % q.HandleTimes.Length]);
            }

            q.HandleTimes = new TimeSpan[Math.Max(1, config.HandleTimeWindow)];
            q.HandleTimeCount = 0;
            q.HandleTimeNext = 0;
            q.HandleTimeSum = TimeSpan.Zero;
            foreach (var t in recent.Skip(Math.Max(0, recent.Count - q.HandleTimes.Length)))
            {
                q.AddHandleTime(t);
            }
        }
    }

    /// <summary>A logged-in agent's profile changed: join, leave and re-weigh queues, take the new skills.</summary>
    private void ApplyProfile(Agent a, AgentProfile old, List<Queue> touched)
    {
        var oldQueues = new HashSet<string>(old.Queues.Select(m => m.Queue), StringComparer.OrdinalIgnoreCase);
        var wanted = a.Profile.Queues
            .Where(m => a.ChosenQueues is null || a.ChosenQueues.Contains(m.Queue) || !oldQueues.Contains(m.Queue))
            .ToList();
        a.ChosenQueues?.UnionWith(wanted.Select(m => m.Queue));
        var changed = false;
        foreach (var m in a.Memberships.ToList())
        {
            var keep = wanted.FirstOrDefault(w => string.Equals(w.Queue, m.Queue.Name, StringComparison.OrdinalIgnoreCase));
            if (keep is null)
            {
                RemoveMembership(m);
                touched.Add(m.Queue);
                changed = true;
            }
            else if (keep.Penalty != m.Penalty)
            {
                m.Penalty = keep.Penalty;
                changed = true;
            }
        }

        foreach (var w in wanted)
        {
            var q = _queues[w.Queue];
            if (a.MembershipIn(q) is not null)
            {
                continue;
            }

            var m = new Membership(a, q, w.Penalty, MemberOrderOf(q, a));
            a.Memberships = [.. a.Memberships, m];
            q.Members.Add(m);
            q.StateCounts[(int)a.State]++;
            if (a.State == AgentState.Ready)
            {
                m.ReadyIndex = q.Ready.Count;
                q.Ready.Add(m);
            }

            changed = true;
        }

        var skills = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, level) in a.Profile.Skills)
        {
            if (a.ChosenSkills is null || a.ChosenSkills.Contains(name) || !old.Skills.ContainsKey(name))
            {
                skills[name] = level;
            }
        }

        a.ChosenSkills?.UnionWith(skills.Keys);
        if (skills.Count != a.Skills.Count || skills.Any(s => !a.Skills.TryGetValue(s.Key, out var level) || level != s.Value))
        {
            a.Skills = skills;
            changed = true;
        }

        if (changed)
        {
            Publish(new AgentQueuesChanged(a.Id, [.. a.Memberships.Select(m => new QueueMembership(m.Queue.Name, m.Penalty))], skills));
        }
    }

    private static void RemoveMembership(Membership m)
    {
        var a = m.Agent;
        var q = m.Queue;
        if (m.ReadyIndex >= 0)
        {
            RemoveReady(m);
        }

        q.Members.Remove(m);
        q.StateCounts[(int)a.State]--;
        a.Memberships = [.. a.Memberships.Where(x => !ReferenceEquals(x, m))];
    }
}
