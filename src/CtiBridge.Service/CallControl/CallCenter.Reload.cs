using CtiBridge.Core.Acd;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Live reconfiguration of call control: queues, agents (queues, penalties, skills, PINs), DID
/// routes, IVR plans and calendars change without a restart, checked exactly as at start-up.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// The <c>callControl</c> settings running now (those of start-up until a reload or a queue
    /// member change replaced them). Read it again for each use: it is replaced whole, never changed.
    /// </summary>
    public CallControlSettings Settings => Volatile.Read(ref _settings);

    /// <summary>
    /// Replaces the running <c>callControl</c> settings with <paramref name="settings"/> without a
    /// restart. Everything is checked first, as at start-up, and then against the live state (a
    /// queue with calls in it, or a logged-in agent, cannot be removed): when anything is wrong,
    /// the problems are returned, one per setting, and nothing changes. Settings that only a
    /// restart can change (the record journal, the customer lookup, high availability, the stop's
    /// time limit and hand-back switch) keep their running values;
    /// <paramref name="restartNeeded"/> names those that differ.
    /// </summary>
    /// <param name="settings">The new section (not used again by the caller: it becomes the running one).</param>
    /// <param name="restartNeeded">Receives the paths of changed settings that need a restart.</param>
    /// <param name="cancellationToken">Cancels the wait for the loop.</param>
    /// <returns>No problems: the new settings are live (for calls entering from now on; calls in progress go on).</returns>
    public Task<IReadOnlyList<SettingsProblem>> ReloadAsync(CallControlSettings settings, List<string>? restartNeeded = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var changed = new List<string>();
        var outcome = RequestAsync<IReadOnlyList<SettingsProblem>>(at => Apply(settings, changed, at), cancellationToken);
        return restartNeeded is null ? outcome : WithRestartList(outcome, changed, restartNeeded);

        static async Task<IReadOnlyList<SettingsProblem>> WithRestartList(Task<IReadOnlyList<SettingsProblem>> outcome, List<string> changed, List<string> restartNeeded)
        {
            var problems = await outcome.ConfigureAwait(false);
            restartNeeded.AddRange(changed);
            return problems;
        }
    }

    /// <summary>Checks and applies new settings on the loop (so two changes never interleave).</summary>
    private List<SettingsProblem> Apply(CallControlSettings settings, List<string> restartNeeded, DateTimeOffset at)
    {
        var running = _settings;
        var problems = new List<SettingsProblem>();
        CallControlConfiguration.Validate(settings, problems);
        ValidateSites(settings, problems);
        for (var i = 0; i < settings.Queues.Count; i++)
        {
            Live.ScreenPopTemplate.Validate(settings.Queues[i].ScreenPopUrl, $"callControl.queues[{i}].screenPopUrl", problems);
        }

        if (settings.Queues.Count == 0)
        {
            problems.Add(new SettingsProblem("callControl.queues", "lists no queue; call control cannot be switched off while the service runs (restart it without queues instead)"));
        }

        if (settings.RecordJournalDirectory != running.RecordJournalDirectory)
        {
            restartNeeded.Add("callControl.recordJournalDirectory");
        }

        if (settings.RecordJournalMaxMegabytes != running.RecordJournalMaxMegabytes)
        {
            restartNeeded.Add("callControl.recordJournalMaxMegabytes");
        }

        if (!SameLookup(settings.CustomerLookup, running.CustomerLookup))
        {
            restartNeeded.Add("callControl.customerLookup");
        }

        // Read once at start-up: whether call control runs under the HA lease, and how the host stops
        // (the host's stop timeout is sized from callsFinishWithin; handBackCalls picks the stop path).
        if (settings.HighAvailability != running.HighAvailability)
        {
            restartNeeded.Add("callControl.highAvailability");
        }

        if (settings.Shutdown.CallsFinishWithin != running.Shutdown.CallsFinishWithin)
        {
            restartNeeded.Add("callControl.shutdown.callsFinishWithin");
        }

        if (settings.Shutdown.HandBackCalls != running.Shutdown.HandBackCalls)
        {
            restartNeeded.Add("callControl.shutdown.handBackCalls");
        }

        // The leases and Stasis apps are taken at start-up for these servers only.
        if (!settings.Servers.Order(StringComparer.OrdinalIgnoreCase).SequenceEqual(running.Servers.Order(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase))
        {
            restartNeeded.Add("callControl.servers");
        }

        // What runs only from start-up keeps its running value.
        settings.HighAvailability = running.HighAvailability;
        settings.Servers = running.Servers;
        settings.Shutdown = new ShutdownSettings
        {
            CallsFinishWithin = running.Shutdown.CallsFinishWithin, HandBackCalls = running.Shutdown.HandBackCalls, HandBackContext = settings.Shutdown.HandBackContext,
        };
        settings.RecordJournalDirectory = running.RecordJournalDirectory;
        settings.RecordJournalMaxMegabytes = running.RecordJournalMaxMegabytes;
        settings.CustomerLookup = running.CustomerLookup;
        var routes = problems.Count == 0 ? IvrConfiguration.Build(settings, problems) : null;
        if (routes is null || problems.Count > 0)
        {
            LogConfigurationRejected(_logger, problems.Count, string.Join("; ", problems));
            return problems;
        }

        var refused = _engine.Reconfigure(at, CallControlConfiguration.ToAcdConfiguration(settings.OwnPart(_controlled)));
        if (refused.Count > 0)
        {
            var live = refused.Select(p => new SettingsProblem(p.StartsWith("agent ", StringComparison.Ordinal) ? "callControl.agents" : "callControl.queues", p)).ToList();
            LogConfigurationRejected(_logger, live.Count, string.Join("; ", live));
            return live;
        }

        Volatile.Write(ref _settings, settings);
        _agents = settings.OwnPart(_controlled).Agents.ToDictionary(a => a.Id, StringComparer.Ordinal);
        _allAgents = settings.Agents.ToDictionary(a => a.Id, StringComparer.Ordinal);
        _routes = routes;
        LogConfigurationReloaded(_logger, settings.Queues.Count, settings.Agents.Count, routes.PlanByDid.Count + routes.QueueByDid.Count);
        return [];
    }

    /// <summary>
    /// Adds the agent to a queue with a penalty, or changes the penalty when already a member: the
    /// running settings with that one change, applied like a reload (a logged-in agent serves the
    /// queue at once). Like app_queue's AddQueueMember, it lasts until the next reload of the
    /// configuration file or restart; put it in the file to keep it.
    /// </summary>
    /// <returns>No problems: done.</returns>
    public Task<IReadOnlyList<SettingsProblem>> SetQueueMemberAsync(string queue, string agentId, int penalty, CancellationToken cancellationToken = default) =>
        ChangeMembershipAsync(queue, agentId, agent =>
        {
            if (!agent.Queues.Contains(queue, StringComparer.Ordinal))
            {
                agent.Queues.Add(queue);
            }

            if (penalty == 0)
            {
                agent.Penalties.Remove(queue);
            }
            else
            {
                agent.Penalties[queue] = penalty;
            }
        }, cancellationToken);

    /// <summary>
    /// Takes the agent out of a queue (a logged-in agent stops serving it at once; a call already
    /// ringing the agent's phone rings on). Lasts until the next reload of the file or restart.
    /// </summary>
    /// <returns>No problems: done.</returns>
    public Task<IReadOnlyList<SettingsProblem>> RemoveQueueMemberAsync(string queue, string agentId, CancellationToken cancellationToken = default) =>
        ChangeMembershipAsync(queue, agentId, agent =>
        {
            agent.Queues.RemoveAll(q => string.Equals(q, queue, StringComparison.Ordinal));
            agent.Penalties.Remove(queue);
        }, cancellationToken);

    private Task<IReadOnlyList<SettingsProblem>> ChangeMembershipAsync(string queue, string agentId, Action<CallAgentSettings> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(agentId);

        // Read, changed and applied on the loop: two supervisors editing members never lose an edit.
        return RequestAsync<IReadOnlyList<SettingsProblem>>(at =>
        {
            var running = _settings;
            var index = running.Agents.FindIndex(a => a.Id == agentId);
            if (index < 0)
            {
                return [new SettingsProblem("agentId", $"agent '{agentId}' is not configured in callControl.agents")];
            }

            if (!running.Queues.Any(q => q.Name == queue))
            {
                return [new SettingsProblem("queue", $"queue '{queue}' is not configured in callControl.queues{SpellingSuggestion.DidYouMean(queue, running.Queues.Select(q => q.Name))}")];
            }

            var copy = CopyOf(running);
            change(copy.Agents[index]);
            return Apply(copy, [], at);
        }, cancellationToken);
    }

    /// <summary>A copy whose agent list and agents may be changed without touching the running settings.</summary>
    private static CallControlSettings CopyOf(CallControlSettings s)
    {
        var copy = Shallow(s);
        copy.Agents = [.. s.Agents.Select(a =>
        {
            var agent = Shallow(a);
            agent.Queues = [.. a.Queues];
            agent.Penalties = new Dictionary<string, int>(a.Penalties, StringComparer.Ordinal);
            agent.Skills = new Dictionary<string, int>(a.Skills, StringComparer.OrdinalIgnoreCase);
            return agent;
        })];
        return copy;
    }

    /// <summary>Every setting copied (settings added later included); lists and sections shared.</summary>
    private static T Shallow<T>(T source)
        where T : new()
    {
        var copy = new T();
        foreach (var property in typeof(T).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Where(p => p.CanRead && p.CanWrite))
        {
            property.SetValue(copy, property.GetValue(source));
        }

        return copy;
    }

    private static bool SameLookup(CustomerLookupSettings? a, CustomerLookupSettings? b) =>
        a is null ? b is null : b is not null && a.Source == b.Source && a.Url == b.Url && a.Timeout == b.Timeout && a.Authorization == b.Authorization && a.BlockedPrompt == b.BlockedPrompt;

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Call control reconfigured without a restart: {Queues} queue(s), {Agents} agent(s), {Routes} DID route(s)")]
    private static partial void LogConfigurationReloaded(ILogger logger, int queues, int agents, int routes);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Call control configuration rejected ({Count} problem(s)); the running configuration stays: {Problems}")]
    private static partial void LogConfigurationRejected(ILogger logger, int count, string problems);
}
