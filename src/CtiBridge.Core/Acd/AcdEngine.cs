using System.Globalization;

namespace CtiBridge.Core.Acd;

/// <summary>
/// The ACD: a deterministic state machine. Inputs (<see cref="AcdInput"/>) go in through
/// <see cref="Handle(AcdInput)"/>; commands (<see cref="AcdCommand"/>) and domain events
/// (<see cref="AcdEvent"/>) come out through <see cref="IAcdOutput"/>, synchronously and in order.
/// The engine keeps its own deadlines (ring timeouts, wrap-up ends, announcements, max waits) and
/// fires them when an input's time passes them; <see cref="NextDueTime"/> tells the host when to
/// send <see cref="TimeAdvanced"/>. No clock, no I/O, no threads: one caller at a time.
/// </summary>
public sealed partial class AcdEngine
{
    private const int LineScanLimit = 8;

    private readonly DistributionStrategies _strategies;
    private AcdConfiguration _config;
    private readonly IAcdOutput _output;
    private readonly Random _random;
    private readonly Dictionary<string, Queue> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Agent> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Agent> _byExtension = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Call> _calls = new(StringComparer.Ordinal);
    private readonly PriorityQueue<DueTimer, (DateTimeOffset Due, int Rank, long Seq)> _timers = new();
    private readonly Dictionary<string, string> _lastAgentByCaller = new(StringComparer.Ordinal);
    private readonly Queue<string> _lastAgentOrder = new();
    private readonly Dictionary<string, List<Call>> _heldForAgent = new(StringComparer.Ordinal);
    private readonly List<RoutingCandidate> _candidates = [];
    private readonly List<Membership> _candidateMembers = [];
    private long _timerSeq;
    private long _eventSeq;
    private long _callSeq;
    private long _joinSeq;
    private int _queueIndex;

    /// <summary>Builds an engine; validates the configuration and throws <see cref="AcdConfigurationException"/> listing every problem.</summary>
    /// <param name="configuration">Queues, agents and rules.</param>
    /// <param name="output">Receives commands and events.</param>
    /// <param name="start">Engine time at start.</param>
    /// <param name="strategies">Strategy registry; null for the built-ins.</param>
    public AcdEngine(AcdConfiguration configuration, IAcdOutput output, DateTimeOffset start, DistributionStrategies? strategies = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(output);
        _config = configuration;
        _output = output;
        _random = new Random(configuration.RandomSeed);
        Now = start;
        _strategies = strategies ?? new DistributionStrategies();
        Statistics = new AcdStatistics(configuration.Metrics, start);

        var problems = new List<string>();
        foreach (var (q, strategy, fallback) in CheckConfiguration(configuration, _strategies, problems))
        {
            _queues.Add(q.Name, new Queue(q, strategy, fallback, _queueIndex++));
        }

        foreach (var a in configuration.Agents)
        {
            if (!string.IsNullOrWhiteSpace(a.AgentId))
            {
                _agents.TryAdd(a.AgentId, new Agent(a));
            }
        }

        if (problems.Count > 0)
        {
            throw new AcdConfigurationException("The ACD configuration is invalid:" + Environment.NewLine + "- " + string.Join(Environment.NewLine + "- ", problems));
        }
    }

    /// <summary>
    /// Checks a configuration (for the constructor and <see cref="Reconfigure"/>): one problem per
    /// mistake; returns the queues whose strategies resolved.
    /// </summary>
    private static List<(QueueConfiguration Config, IDistributionStrategy Strategy, IDistributionStrategy Fallback)> CheckConfiguration(
        AcdConfiguration configuration, DistributionStrategies strategies, List<string> problems)
    {
        var resolved = new List<(QueueConfiguration, IDistributionStrategy, IDistributionStrategy)>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var q in configuration.Queues)
        {
            if (string.IsNullOrWhiteSpace(q.Name))
            {
                problems.Add($"queue #{index + 1}: the name is empty");
                continue;
            }

            if (!names.Add(q.Name))
            {
                problems.Add($"queue '{q.Name}': defined twice");
                continue;
            }

            index++;
            IDistributionStrategy strategy, fallback;
            try
            {
                strategy = strategies.Resolve(q.Strategy, $"queue '{q.Name}' (Strategy)");
                fallback = strategies.Resolve(q.StickyFallbackStrategy, $"queue '{q.Name}' (StickyFallbackStrategy)");
            }
            catch (UnknownStrategyException e)
            {
                problems.Add(e.Message);
                continue;
            }

            if (q.RingTimeout <= TimeSpan.Zero)
            {
                problems.Add($"queue '{q.Name}': RingTimeout must be positive (is {q.RingTimeout})");
            }

            if (q.WrapUp < TimeSpan.Zero)
            {
                problems.Add($"queue '{q.Name}': WrapUp must not be negative (is {q.WrapUp})");
            }

            if (q.Weight <= 0)
            {
                problems.Add($"queue '{q.Name}': Weight must be positive (is {q.Weight})");
            }

            resolved.Add((q, strategy, fallback));
        }

        foreach (var q in configuration.Queues)
        {
            foreach (var rule in q.Overflow)
            {
                if (rule.Target.Kind == OverflowTargetKind.Queue && (rule.Target.Destination is null || !names.Contains(rule.Target.Destination)))
                {
                    problems.Add($"queue '{q.Name}': overflow rule {rule.Condition} goes to unknown queue '{rule.Target.Destination}'");
                }

                if (rule.Condition == OverflowCondition.WaitExceeded && (rule.After is null || rule.After <= TimeSpan.Zero))
                {
                    problems.Add($"queue '{q.Name}': overflow rule WaitExceeded needs a positive After");
                }

                if (rule.Condition == OverflowCondition.NoAnswer && (rule.Attempts is null || rule.Attempts < 1))
                {
                    problems.Add($"queue '{q.Name}': overflow rule NoAnswer needs Attempts >= 1");
                }
            }

            foreach (var (key, target) in q.ExitKeys)
            {
                if (target.Kind == OverflowTargetKind.Queue && (target.Destination is null || !names.Contains(target.Destination)))
                {
                    problems.Add($"queue '{q.Name}': exit key '{key}' goes to unknown queue '{target.Destination}'");
                }
            }
        }

        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in configuration.Agents)
        {
            if (string.IsNullOrWhiteSpace(a.AgentId))
            {
                problems.Add("an agent profile has an empty AgentId");
                continue;
            }

            if (!ids.Add(a.AgentId))
            {
                problems.Add($"agent '{a.AgentId}': defined twice");
            }

            if (!AgentPin.IsWellFormed(a.PinHash))
            {
                problems.Add($"agent '{a.AgentId}': PinHash is not a hash made by AgentPin.Hash");
            }

            foreach (var m in a.Queues)
            {
                if (!names.Contains(m.Queue))
                {
                    problems.Add($"agent '{a.AgentId}': member of unknown queue '{m.Queue}'");
                }
            }
        }

        return resolved;
    }

    /// <summary>Engine time: the time of the last input or fired deadline.</summary>
    public DateTimeOffset Now { get; private set; }

    /// <summary>Live statistics, maintained from the engine's own event stream.</summary>
    public AcdStatistics Statistics { get; }

    /// <summary>The earliest pending deadline, or null. The host arms one timer for it and sends <see cref="TimeAdvanced"/>.</summary>
    public DateTimeOffset? NextDueTime
    {
        get
        {
            while (_timers.TryPeek(out var t, out var due))
            {
                if (IsLive(t))
                {
                    return due.Due;
                }

                _timers.Dequeue();
            }

            return null;
        }
    }

    /// <summary>Number of calls the engine holds (waiting, ringing or connected).</summary>
    public int LiveCalls => _calls.Count;

    /// <summary>Applies one input at its time, after firing every deadline due up to then.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input's time is before <see cref="Now"/>.</exception>
    public InputOutcome Handle(AcdInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.At < Now)
        {
            throw new ArgumentOutOfRangeException(nameof(input), input.At,
                $"{input.GetType().Name} at {input.At:O} is earlier than the engine time {Now:O}; inputs must come in time order.");
        }

        FireDue(input.At);
        Now = input.At;
        return input switch
        {
            TimeAdvanced => InputOutcome.Ok,
            AgentLogin x => Login(x),
            AgentLogout x => Logout(x),
            AgentPause x => Pause(x),
            AgentResume x => Resume(x),
            WrapUpEnd x => EndWrapUpEarly(x),
            WrapUpExtend x => ExtendWrapUp(x),
            AgentMute x => Mute(x),
            CallArrived x => Arrive(x),
            CallArrivedForAgent x => ArriveForAgent(x),
            AgentAnswered x => Answer(x),
            CallPickUp x => PickUp(x),
            AgentDeclined x => Decline(x),
            CallHungUp x => HangUp(x),
            CallLost x => Lose(x),
            CallHoldChanged x => HoldChanged(x),
            CallerPressedKey x => KeyPressed(x),
            CallbackQueued x => QueueCallback(x),
            CallbackWithdrawn x => WithdrawCallback(x),
            CallTransferRequested x => Transfer(x),
            AgentRestored x => Restore(x),
            CallAdoption x => Adopt(x),
            _ => throw new ArgumentException($"Unknown ACD input type {input.GetType().Name}.", nameof(input)),
        };
    }

    /// <summary>
    /// Notes a fact the PBX side established (a recording started, a survey answered) in the
    /// engine's ordered event stream at <paramref name="at"/>, after the deadlines due up to then,
    /// so every consumer sees it in order with the engine's own events.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The time is before <see cref="Now"/>.</exception>
    public void Note(DateTimeOffset at, AcdEvent fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        Handle(new TimeAdvanced(at));
        Publish(fact);
    }

    /// <summary>The agent's status, or null for an unknown agent ID.</summary>
    public AgentStatus? GetAgent(string agentId)
    {
        if (!_agents.TryGetValue(agentId, out var a))
        {
            return null;
        }

        return new AgentStatus(a.Id, a.State, a.StateSince, a.Extension, a.State == AgentState.Paused ? a.PauseReason : null,
            a.Call?.Id ?? (a.State == AgentState.WrapUp ? a.WrapUpCallId : null), a.Muted,
            [.. a.Memberships.Select(m => new QueueMembership(m.Queue.Name, m.Penalty))],
            a.Pending == PendingChange.Pause, a.Pending == PendingChange.Logout,
            a.State == AgentState.WrapUp ? a.WrapUpEndsAt : null);
    }

    /// <summary>All agents' statuses, in configuration order.</summary>
    public IEnumerable<AgentStatus> GetAgents() => _config.Agents.Select(p => GetAgent(p.AgentId)!);

    /// <summary>The queue's live status.</summary>
    /// <exception cref="ArgumentException">Unknown queue.</exception>
    public QueueStatus GetQueueStatus(string queue)
    {
        var q = QueueOrThrow(queue);
        // Callback tasks are not customers' calls (docs/metrics.md §3a): counted apart, and not in the longest wait.
        var longest = TimeSpan.Zero;
        var tasksWaiting = 0;
        foreach (var line in q.LineList)
        {
            foreach (var c in line.Calls)
            {
                if (CallbackTasks.IsCallbackTask(c.Caller))
                {
                    tasksWaiting++;
                }
                else
                {
                    longest = Max(longest, Now - c.VisitEnqueuedAt);
                }
            }
        }

        foreach (var c in _calls.Values)
        {
            if (c.Phase == CallPhase.Ringing && ReferenceEquals(c.Queue, q) && !CallbackTasks.IsCallbackTask(c.Caller))
            {
                longest = Max(longest, Now - c.VisitEnqueuedAt);
            }
        }

        // The expected wait of a new call counts the tasks too: they take the same agents.
        return new QueueStatus(q.Name, q.Waiting - tasksWaiting, longest, q.LoggedIn, q.Ready.Count, q.Serving, q.AverageHandleTime,
            ExpectedWait(q, q.Waiting + 1)) { CallbacksWaiting = tasksWaiting };
    }

    /// <summary>Calls waiting in the queue, in service order.</summary>
    public IReadOnlyList<WaitingCall> GetWaitingCalls(string queue)
    {
        var q = QueueOrThrow(queue);
        var all = q.LineList.SelectMany(l => l.Calls)
            .OrderByDescending(c => c.Priority).ThenBy(c => c.OrderTime).ThenBy(c => c.Seq).ToList();
        return [.. all.Select((c, i) => new WaitingCall(c.Id, q.Name, i + 1, c.Priority, c.VisitEnqueuedAt, c.Caller))];
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private Queue QueueOrThrow(string queue) =>
        _queues.TryGetValue(queue, out var q) ? q : throw new ArgumentException($"Unknown queue '{queue}'.", nameof(queue));

    // ---------------------------------------------------------------- output

    private void Publish(AcdEvent e)
    {
        // Stamped in place (no copy): events are fresh objects the engine has not shared yet.
        e.Sequence = ++_eventSeq;
        e.At = Stamp;
        Statistics.Apply(e);
        _output.Publish(e);
    }

    private void Execute(AcdCommand c) => _output.Execute(c);

    // ---------------------------------------------------------------- timers

    // At equal due times, rechecks of waiting calls (retry delay or sticky wait over, penalty
    // widened) run first: they restore "no waiting call has an eligible ready agent" before any
    // other deadline of that instant routes a later call to the same agent.
    private void Schedule(DateTimeOffset due, TimerKind kind, Call? call, Agent? agent, long version) =>
        _timers.Enqueue(new DueTimer(kind, call, agent, version), (due, kind is TimerKind.Recheck or TimerKind.PenaltyStep ? 0 : 1, ++_timerSeq));

    private static bool IsLive(in DueTimer t) => t.Kind switch
    {
        TimerKind.RingTimeout => t.Call!.Phase == CallPhase.Ringing && t.Call.OfferVersion == t.Version,
        TimerKind.WrapUpEnd => t.Agent!.State == AgentState.WrapUp && t.Agent.WrapUpVersion == t.Version,
        TimerKind.WaitExceeded => t.Call!.Phase is CallPhase.Waiting or CallPhase.Ringing && t.Call.VisitVersion == t.Version,
        _ => t.Call!.Phase == CallPhase.Waiting && t.Call.VisitVersion == t.Version,
    };

    private void FireDue(DateTimeOffset until)
    {
        while (_timers.TryPeek(out var t, out var due) && due.Due <= until)
        {
            _timers.Dequeue();
            if (!IsLive(t))
            {
                continue;
            }

            Now = due.Due;
            switch (t.Kind)
            {
                case TimerKind.RingTimeout:
                    RingTimedOut(t.Call!);
                    break;
                case TimerKind.WrapUpEnd:
                    FinishWrapUp(t.Agent!, "wrap-up ended", ChangeSource.System);
                    break;
                case TimerKind.WaitExceeded:
                    OverflowFromQueue(t.Call!, OverflowCondition.WaitExceeded, null);
                    break;
                case TimerKind.PositionAnnouncement:
                    AnnouncePositionOf(t.Call!);
                    if (t.Call!.Queue.Config.Experience.PositionAnnouncementPeriod is { } period && period > TimeSpan.Zero)
                    {
                        Schedule(Now + period, TimerKind.PositionAnnouncement, t.Call, null, t.Version);
                    }

                    break;
                case TimerKind.PeriodicPrompt:
                    var exp = t.Call!.Queue.Config.Experience;
                    Execute(new PlayPrompt(t.Call.Id, exp.PeriodicPrompt!));
                    Schedule(Now + exp.PeriodicPromptPeriod, TimerKind.PeriodicPrompt, t.Call, null, t.Version);
                    break;
                case TimerKind.PenaltyStep:
                    AdvancePenalty(t.Call!);
                    TryRouteCall(t.Call!, RoutingTrigger.WaitRulesChanged);
                    break;
                case TimerKind.Recheck:
                    TryRouteCall(t.Call!, RoutingTrigger.WaitRulesChanged);
                    break;
                default:
                    throw new InvalidOperationException($"Unhandled timer {t.Kind}.");
            }
        }
    }

    // ---------------------------------------------------------------- agent state

    private void SetState(Agent a, AgentState to, string reason, ChangeSource source, string? callId = null, string? queue = null)
    {
        var from = a.State;
        foreach (var m in a.Memberships)
        {
            var q = m.Queue;
            q.StateCounts[(int)from]--;
            q.StateCounts[(int)to]++;
            if (from == AgentState.Ready && to != AgentState.Ready)
            {
                RemoveReady(m);
            }
            else if (to == AgentState.Ready && from != AgentState.Ready)
            {
                m.ReadyIndex = q.Ready.Count;
                q.Ready.Add(m);
            }
        }

        a.State = to;
        a.StateSince = Stamp;
        a.PauseReason = to == AgentState.Paused ? reason : null;
        Publish(new AgentStateChanged(a.Id, from, to, reason, source, callId, queue));
    }

    private static void RemoveReady(Membership m)
    {
        var list = m.Queue.Ready;
        var last = list[^1];
        list[m.ReadyIndex] = last;
        last.ReadyIndex = m.ReadyIndex;
        list.RemoveAt(list.Count - 1);
        m.ReadyIndex = -1;
    }

    private InputOutcome Login(AgentLogin x, bool pinChecked = false, AgentRestored? wrapUp = null, DateTimeOffset? restoredLoginAt = null)
    {
        InputOutcome Refuse(LoginRefusal r, string why)
        {
            Publish(new AgentLoginRefused(x.AgentId, x.Extension, r));
            return InputOutcome.Refused(why);
        }

        if (!_agents.TryGetValue(x.AgentId, out var a))
        {
            return Refuse(LoginRefusal.UnknownAgent, $"login refused: unknown agent ID '{x.AgentId}'");
        }

        if (!pinChecked && !AgentPin.Verify(x.Pin ?? string.Empty, a.Profile.PinHash))
        {
            return Refuse(LoginRefusal.WrongPin, $"login refused for agent '{x.AgentId}': wrong PIN");
        }

        if (a.State != AgentState.LoggedOut)
        {
            return Refuse(LoginRefusal.AlreadyLoggedIn, $"login refused: agent '{x.AgentId}' is already logged in at extension {a.Extension}");
        }

        if (string.IsNullOrWhiteSpace(x.Extension))
        {
            return Refuse(LoginRefusal.ExtensionInUse, $"login refused for agent '{x.AgentId}': no extension given");
        }

        // Two sites may number their phones alike: a phone is in use on its own site only.
        var phoneKey = a.Profile.Site is { } site ? $"{site.ToUpperInvariant()}\u0001{x.Extension}" : x.Extension;
        if (_byExtension.TryGetValue(phoneKey, out var other))
        {
            return Refuse(LoginRefusal.ExtensionInUse, $"login refused: extension {x.Extension} is in use by agent '{other.Id}'");
        }

        var permitted = a.Profile.Queues;
        var chosen = new List<QueueMembership>();
        if (x.Queues is null)
        {
            chosen.AddRange(permitted);
        }
        else
        {
            foreach (var name in x.Queues)
            {
                var m = permitted.FirstOrDefault(p => string.Equals(p.Queue, name, StringComparison.OrdinalIgnoreCase));
                if (m is null)
                {
                    return Refuse(LoginRefusal.QueueNotPermitted,
                        $"login refused for agent '{x.AgentId}': queue '{name}' is not in the agent's profile (permitted: {string.Join(", ", permitted.Select(p => p.Queue))})");
                }

                if (!chosen.Contains(m))
                {
                    chosen.Add(m);
                }
            }
        }

        var skills = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in x.Skills ?? [.. a.Profile.Skills.Keys])
        {
            if (!a.Profile.Skills.TryGetValue(name, out var level))
            {
                return Refuse(LoginRefusal.SkillNotPermitted,
                    $"login refused for agent '{x.AgentId}': skill '{name}' is not in the agent's profile (has: {string.Join(", ", a.Profile.Skills.Keys)})");
            }

            skills[name] = level;
        }

        a.Extension = x.Extension;
        a.PhoneKey = phoneKey;
        _byExtension[phoneKey] = a;
        a.Skills = skills;
        a.JoinOrder = ++_joinSeq;
        a.IdleSince = Stamp;
        a.TalkTime = TimeSpan.Zero;
        a.ConsecutiveNoAnswers = 0;
        a.Pending = PendingChange.None;
        a.ChosenQueues = x.Queues is null ? null : new HashSet<string>(chosen.Select(m => m.Queue), StringComparer.OrdinalIgnoreCase);
        a.ChosenSkills = x.Skills is null ? null : new HashSet<string>(skills.Keys, StringComparer.OrdinalIgnoreCase);
        a.Memberships = [.. chosen.Select(m =>
        {
            var q = _queues[m.Queue];
            return new Membership(a, q, m.Penalty, MemberOrderOf(q, a));
        })];
        foreach (var m in a.Memberships)
        {
            m.Queue.Members.Add(m);
            m.Queue.StateCounts[(int)AgentState.LoggedOut]++;
        }

        Publish(new AgentLoggedIn(a.Id, x.Extension, [.. a.Memberships.Select(m => new QueueMembership(m.Queue.Name, m.Penalty))], skills) { RestoredLoginAt = restoredLoginAt });
        if (x.PauseReason is not null)
        {
            SetState(a, AgentState.Paused, x.PauseReason, ChangeSource.Agent);
        }
        else if (wrapUp is { WrapUpEndsAt: { } endsAt, WrapUpCallId: { } wrapCallId, WrapUpQueue: { } wrapQueue } && _queues.TryGetValue(wrapQueue, out var wrapIn))
        {
            ResumeWrapUp(a, endsAt, wrapCallId, wrapIn.Name);
        }
        else
        {
            SetState(a, AgentState.Ready, "logged in", ChangeSource.Agent);
            AgentAvailable(a);
        }

        return InputOutcome.Ok;
    }

    private bool TryGetAgent(string agentId, out Agent agent, out InputOutcome refusal)
    {
        if (!_agents.TryGetValue(agentId, out agent!))
        {
            refusal = InputOutcome.Refused($"unknown agent ID '{agentId}'");
            return false;
        }

        if (agent.State == AgentState.LoggedOut)
        {
            refusal = InputOutcome.Refused($"agent '{agentId}' is not logged in");
            return false;
        }

        refusal = InputOutcome.Ok;
        return true;
    }

    private InputOutcome Logout(AgentLogout x)
    {
        if (!TryGetAgent(x.AgentId, out var a, out var refusal))
        {
            return refusal;
        }

        var reason = x.Reason ?? (x.Source == ChangeSource.Supervisor ? "forced logout by supervisor" : "logged out");
        switch (a.State)
        {
            case AgentState.OnCall:
                a.Pending = PendingChange.Logout;
                a.PendingSource = x.Source;
                a.PendingPauseReason = reason;
                Publish(new AgentPendingChanged(a.Id, reason, Logout: true, x.Source));
                return InputOutcome.Ok;
            case AgentState.WrapUp:
                EndHandling(a);
                break;
        }

        var call = a.State == AgentState.Ringing ? WithdrawOffer(a) : null;
        CompleteLogout(a, reason, x.Source);
        if (call is not null)
        {
            RouteWithdrawnCall(call);
        }

        return InputOutcome.Ok;
    }

    private void CompleteLogout(Agent a, string reason, ChangeSource source)
    {
        SetState(a, AgentState.LoggedOut, reason, source);
        foreach (var m in a.Memberships)
        {
            m.Queue.Members.Remove(m);
            m.Queue.StateCounts[(int)AgentState.LoggedOut]--;
        }

        var left = a.Memberships;
        a.Memberships = [];
        if (a.PhoneKey is not null)
        {
            _byExtension.Remove(a.PhoneKey);
        }

        a.PhoneKey = null;

        a.Extension = null;
        a.Pending = PendingChange.None;
        a.Muted = false;
        foreach (var m in left)
        {
            CheckLeaveWhenEmpty(m.Queue);
        }
    }

    private InputOutcome Pause(AgentPause x)
    {
        if (!TryGetAgent(x.AgentId, out var a, out var refusal))
        {
            return refusal;
        }

        if (string.IsNullOrWhiteSpace(x.ReasonCode))
        {
            return InputOutcome.Refused($"pause of agent '{x.AgentId}' needs a reason code");
        }

        switch (a.State)
        {
            case AgentState.OnCall:
                a.Pending = PendingChange.Pause;
                a.PendingPauseReason = x.ReasonCode;
                a.PendingSource = x.Source;
                Publish(new AgentPendingChanged(a.Id, x.ReasonCode, Logout: false, x.Source));
                return InputOutcome.Ok;
            case AgentState.WrapUp:
                EndHandling(a);
                break;
        }

        var call = a.State == AgentState.Ringing ? WithdrawOffer(a) : null;
        SetState(a, AgentState.Paused, x.ReasonCode, x.Source, call?.Id, call?.Queue.Name);
        foreach (var m in a.Memberships)
        {
            CheckLeaveWhenEmpty(m.Queue);
        }

        if (call is not null)
        {
            RouteWithdrawnCall(call);
        }

        return InputOutcome.Ok;
    }

    private InputOutcome Resume(AgentResume x)
    {
        if (!TryGetAgent(x.AgentId, out var a, out var refusal))
        {
            return refusal;
        }

        if (a.Pending == PendingChange.Pause)
        {
            a.Pending = PendingChange.None;
            Publish(new AgentPendingChanged(a.Id, null, Logout: false, x.Source));
            return InputOutcome.Ok;
        }

        if (a.State != AgentState.Paused)
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not paused (state {a.State})");
        }

        SetState(a, AgentState.Ready, x.Source == ChangeSource.Supervisor ? "resumed by supervisor" : "resumed", x.Source);
        AgentAvailable(a);
        return InputOutcome.Ok;
    }

    private InputOutcome EndWrapUpEarly(WrapUpEnd x)
    {
        if (!TryGetAgent(x.AgentId, out var a, out var refusal))
        {
            return refusal;
        }

        if (a.State != AgentState.WrapUp)
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not in wrap-up (state {a.State})");
        }

        FinishWrapUp(a, "wrap-up ended by agent", ChangeSource.Agent);
        return InputOutcome.Ok;
    }

    private InputOutcome ExtendWrapUp(WrapUpExtend x)
    {
        if (!TryGetAgent(x.AgentId, out var a, out var refusal))
        {
            return refusal;
        }

        if (a.State != AgentState.WrapUp)
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not in wrap-up (state {a.State})");
        }

        if (x.By <= TimeSpan.Zero)
        {
            return InputOutcome.Refused($"wrap-up extension for agent '{x.AgentId}' must be positive (is {x.By})");
        }

        a.WrapUpEndsAt += x.By;
        Schedule(a.WrapUpEndsAt, TimerKind.WrapUpEnd, null, a, ++a.WrapUpVersion);
        Publish(new AgentWrapUpTimed(a.Id, a.WrapUpCallId!, a.WrapUpQueue!, a.WrapUpEndsAt));
        return InputOutcome.Ok;
    }

    private InputOutcome Mute(AgentMute x)
    {
        if (!TryGetAgent(x.AgentId, out var a, out var refusal))
        {
            return refusal;
        }

        if (a.State != AgentState.OnCall)
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not on a call (state {a.State}); mute applies to a call");
        }

        if (a.Muted != x.Muted)
        {
            a.Muted = x.Muted;
            Publish(new AgentMuteChanged(a.Id, x.Muted));
        }

        return InputOutcome.Ok;
    }

    /// <summary>Ends wrap-up (by timer or by the agent) and applies any pending pause/logout.</summary>
    private void FinishWrapUp(Agent a, string reason, ChangeSource source)
    {
        EndHandling(a);
        AfterHandling(a, reason, source);
    }

    private void EndHandling(Agent a)
    {
        var wrap = Stamp - a.WrapUpStartedAt;
        a.WrapUpVersion++;
        if (a.WrapUpRestored)
        {
            // Wrap-up carried over a restart: the handling's talk and hold were the previous engine's, whose records ended with it.
            a.WrapUpRestored = false;
            return;
        }

        var q = _queues[a.WrapUpQueue!];
        var e = new CallHandlingEnded(a.WrapUpCallId!, q.Name, a.Id, a.WrapUpTalk, a.WrapUpHold, wrap);
        q.AddHandleTime(e.HandleTime);
        Publish(e);
    }

    private void AfterHandling(Agent a, string reason, ChangeSource source)
    {
        var pending = a.Pending;
        a.Pending = PendingChange.None;
        a.IdleSince = Stamp;
        switch (pending)
        {
            case PendingChange.Logout:
                CompleteLogout(a, a.PendingPauseReason ?? "logged out", a.PendingSource);
                break;
            case PendingChange.Pause:
                SetState(a, AgentState.Paused, a.PendingPauseReason!, a.PendingSource);
                foreach (var m in a.Memberships)
                {
                    CheckLeaveWhenEmpty(m.Queue);
                }

                break;
            default:
                SetState(a, AgentState.Ready, reason, source);
                AgentAvailable(a);
                break;
        }
    }

    // ---------------------------------------------------------------- calls in

    private InputOutcome Arrive(CallArrived x) => Admit(x.CallId, x.Queue, x.Caller, Now, isCallback: false);

    private InputOutcome QueueCallback(CallbackQueued x) =>
        Admit(x.CallId, x.Queue, x.Caller, x.PlaceInLineSince is { } since && since < Now ? since : Now, isCallback: true,
            x.OwnerAgentId is { Length: > 0 } owner && x.OwnerUntil is { } until && until > Now ? (owner, until) : null);

    private InputOutcome Admit(string callId, string queue, CallerData? callerData, DateTimeOffset orderTime, bool isCallback,
        (string Agent, DateTimeOffset Until)? owner = null, Agent? direct = null, OverflowTarget? directFallback = null)
    {
        if (string.IsNullOrWhiteSpace(callId))
        {
            return InputOutcome.Refused("call arrived without a call id");
        }

        if (!_queues.TryGetValue(queue ?? string.Empty, out var q))
        {
            return InputOutcome.Refused($"call '{callId}' arrived for unknown queue '{queue}' (known: {string.Join(", ", _queues.Keys)})");
        }

        if (_calls.ContainsKey(callId))
        {
            return InputOutcome.Refused($"call '{callId}' is already in the ACD");
        }

        var caller = callerData ?? new CallerData();
        var skills = caller.RequiredSkills.Where(s => !string.IsNullOrWhiteSpace(s))
            .Select(s => s.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToArray();
        var call = new Call(callId, caller, skills, string.Join('+', skills).ToUpperInvariant(), ++_callSeq, orderTime)
        {
            IsCallback = isCallback, OwnerAgentId = owner?.Agent, OwnedUntil = owner?.Until ?? default, DirectFallback = directFallback,
        };
        _calls.Add(call.Id, call);
        Enqueue(call, q, direct);
        return InputOutcome.Ok;
    }

    private InputOutcome WithdrawCallback(CallbackWithdrawn x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call) || !call.IsCallback)
        {
            return InputOutcome.Refused($"'{x.CallId}' is not a callback task in the ACD");
        }

        if (call.Phase is not (CallPhase.Waiting or CallPhase.Ringing))
        {
            return InputOutcome.Refused($"callback task '{x.CallId}' is already with an agent");
        }

        OverflowFromQueue(call, OverflowCondition.CallerKey, OverflowTarget.ToCallbackOffer());
        return InputOutcome.Ok;
    }

    private static int PriorityOf(Call call, Queue q)
    {
        var c = q.Config;
        var p = call.Caller.Priority ?? c.DefaultPriority;
        if (call.Caller.Did is { } did && c.DidPriorities.TryGetValue(did, out var dp))
        {
            p = Math.Max(p, dp);
        }

        if (call.Caller.IsVip || (call.Caller.CallerNumber is { } n && c.VipCallerNumbers.Contains(n)))
        {
            p = Math.Max(p, c.VipPriority);
        }

        return p;
    }

    private void Enqueue(Call call, Queue q, Agent? direct = null, CallAdoption? adopted = null)
    {
        call.Queue = q;
        call.Visit = adopted is null ? call.Visit + 1 : Math.Max(1, adopted.Visit);
        call.VisitVersion++;
        call.VisitEnqueuedAt = adopted is null ? Now : call.OrderTime;
        call.Priority = PriorityOf(call, q);
        call.RoutingSite = q.Config.SpansSites ? null : call.Caller.Site;
        call.Phase = CallPhase.Waiting;
        call.Attempts = 0;
        call.NoAnswers = 0;
        call.Excluded = null;
        var cfg = q.Config;

        OverflowCondition? refused = null;
        if (call.IsCallback)
        {
            // Hours and limits were applied when the callback was scheduled; nobody is on the line to overflow.
        }
        else if (adopted is not null)
        {
            // Admitted by the engine that enqueued it; hours and limits are not applied twice.
        }
        else if (cfg.Hours is { } hours && !hours.IsOpen(Now))
        {
            refused = OverflowCondition.Closed;
        }
        else if (cfg.MaxWaiting > 0 && q.Waiting >= cfg.MaxWaiting)
        {
            refused = OverflowCondition.QueueFull;
        }
        else if (cfg.RefuseJoinWhen is { } join && IsEmpty(q, join))
        {
            refused = OverflowCondition.NoAgents;
        }

        if (refused is { } condition)
        {
            Publish(new CallEnqueued(call.Id, q.Name, call.Visit, call.Priority, q.Waiting + 1, call.Caller));
            OverflowFromQueue(call, condition, null);
            return;
        }

        var line = q.LineFor(call.Priority, call.SkillsKey, call.Skills, call.RoutingSite);
        line.Calls.Add(call);
        call.Line = line;
        q.Waiting++;
        var position = PositionOf(call);
        Publish(adopted is null ? new CallEnqueued(call.Id, q.Name, call.Visit, call.Priority, position, call.Caller) : Adopted(call, adopted));

        var exp = cfg.Experience;
        if (call.IsCallback)
        {
            if (call.OwnerAgentId is not null && Now < call.OwnedUntil)
            {
                // The owner's time ends: the queue's other agents may take it from then.
                Schedule(call.OwnedUntil, TimerKind.Recheck, call, null, call.VisitVersion);
            }

            TryRouteCall(call, RoutingTrigger.CallEnqueued);
            return;
        }

        Execute(new StartMusicOnHold(call.Id, exp.MusicOnHoldClass));
        if (exp.JoinPrompt is not null)
        {
            Execute(new PlayPrompt(call.Id, exp.JoinPrompt));
        }

        // Sticky: the assigned agent, else the agent who served this number last.
        call.PreferredAgentId = call.Caller.AssignedAgentId
            ?? (call.Caller.CallerNumber is { } num && _lastAgentByCaller.TryGetValue(num, out var last) ? last : null);
        call.PreferredUntil = call.VisitEnqueuedAt + cfg.StickyWait;

        call.MaxPenalty = cfg.InitialMaxPenalty;
        call.NextPenaltyStep = 0;
        AdvancePenalty(call);

        foreach (var rule in cfg.Overflow)
        {
            if (rule.Condition == OverflowCondition.WaitExceeded)
            {
                Schedule(call.VisitEnqueuedAt + rule.After!.Value, TimerKind.WaitExceeded, call, null, call.VisitVersion);
                break;
            }
        }

        // A transfer to a named agent rings that agent first; unanswered, the call waits in line as usual.
        bool routed;
        if (direct is { State: AgentState.Ready, Call: null } && direct.MembershipIn(q) is not null)
        {
            Offer(call, [direct]);
            routed = true;
        }
        else if (adopted is not null && TakeDirectFallback(call) is { } fallback)
        {
            // Adopted for one named agent who cannot take it now: to the route's fallback, as at its arrival.
            OverflowFromQueue(call, OverflowCondition.NoAnswer, fallback);
            return;
        }
        else
        {
            routed = TryRouteCall(call, RoutingTrigger.CallEnqueued);
        }

        if (!routed && call.Phase == CallPhase.Waiting && exp.AnnouncePositionOnJoin)
        {
            AnnouncePositionOf(call);
        }

        if (exp.PositionAnnouncementPeriod is { } period && period > TimeSpan.Zero)
        {
            Schedule(Now + period, TimerKind.PositionAnnouncement, call, null, call.VisitVersion);
        }

        if (exp.PeriodicPrompt is not null && exp.PeriodicPromptPeriod > TimeSpan.Zero)
        {
            Schedule(Now + exp.PeriodicPromptPeriod, TimerKind.PeriodicPrompt, call, null, call.VisitVersion);
        }

        if (call.PreferredAgentId is not null && call.Phase == CallPhase.Waiting && q.Strategy is StickyStrategy)
        {
            if (!_heldForAgent.TryGetValue(call.PreferredAgentId, out var held))
            {
                _heldForAgent[call.PreferredAgentId] = held = [];
            }

            held.Add(call);
            Schedule(call.PreferredUntil, TimerKind.Recheck, call, null, call.VisitVersion);
        }
    }

    /// <summary>Applies penalty steps whose time has come and schedules the next one.</summary>
    private void AdvancePenalty(Call call)
    {
        var steps = call.Queue.Config.PenaltySteps;
        var wait = Now - call.VisitEnqueuedAt;
        while (call.NextPenaltyStep < steps.Count && steps[call.NextPenaltyStep].After <= wait)
        {
            call.MaxPenalty = Math.Max(call.MaxPenalty ?? 0, steps[call.NextPenaltyStep].MaxPenalty);
            call.NextPenaltyStep++;
        }

        if (call.NextPenaltyStep < steps.Count)
        {
            call.MaxPenalty ??= 0;
            Schedule(call.VisitEnqueuedAt + steps[call.NextPenaltyStep].After, TimerKind.PenaltyStep, call, null, call.VisitVersion);
        }
    }

    private static bool IsEmpty(Queue q, EmptyQueueCondition condition) => condition switch
    {
        EmptyQueueCondition.NoAgentsLoggedIn => q.LoggedIn == 0,
        _ => q.Serving == 0,
    };

    private void CheckLeaveWhenEmpty(Queue q)
    {
        if (q.Config.LeaveWhen is not { } condition || q.Waiting == 0 || !IsEmpty(q, condition))
        {
            return;
        }

        // Callback tasks have nobody on the line to send elsewhere: they wait for the agents' return.
        foreach (var call in q.LineList.SelectMany(l => l.Calls).Where(c => !c.IsCallback).ToList())
        {
            OverflowFromQueue(call, OverflowCondition.NoAgents, null);
        }
    }

    private static int PositionOf(Call call)
    {
        var position = 1;
        foreach (var line in call.Queue.LineList)
        {
            if (line.Calls.Count == 0)
            {
                continue;
            }

            if (line.Priority > call.Priority)
            {
                position += line.Calls.Count;
            }
            else if (line.Priority == call.Priority)
            {
                if (ReferenceEquals(line, call.Line) && ReferenceEquals(line.Calls.Max, call))
                {
                    position += line.Calls.Count - 1;
                }
                else if (!ReferenceEquals(line, call.Line) && CallOrder.Instance.Compare(line.Calls.Max, call) < 0)
                {
                    position += line.Calls.Count; // a new arrival is behind every call of the other lines: O(1)
                }
                else if (CallOrder.Instance.Compare(line.Calls.Min, call) < 0)
                {
                    position += line.Calls.GetViewBetween(line.Calls.Min!, call).Count - (ReferenceEquals(line, call.Line) ? 1 : 0);
                }
            }
        }

        return position;
    }

    /// <summary>Expected wait at a position: the calls ahead beyond the ready agents, served by the serving agents at the recent handle time.</summary>
    private static TimeSpan? ExpectedWait(Queue q, int position)
    {
        if (q.Serving == 0)
        {
            return null;
        }

        var ahead = Math.Max(0, position - q.Ready.Count);
        return q.AverageHandleTime * ahead / q.Serving;
    }

    private void AnnouncePositionOf(Call call)
    {
        var q = call.Queue;
        var position = PositionOf(call);
        Execute(new AnnouncePosition(call.Id, q.Name, position, q.Config.Experience.AnnounceExpectedWait ? ExpectedWait(q, position) : null));
    }

    // ---------------------------------------------------------------- routing

    private static bool HasSkills(Agent a, string[] skills, out int score)
    {
        score = 0;
        foreach (var s in skills)
        {
            if (!a.Skills.TryGetValue(s, out var level))
            {
                return false;
            }

            score += level;
        }

        return true;
    }

    /// <summary>Tries to ring eligible ready agents for a waiting call; records the decision either way.</summary>
    private bool TryRouteCall(Call call, RoutingTrigger trigger)
    {
        if (call.Phase != CallPhase.Waiting)
        {
            return false;
        }

        var q = call.Queue;
        var limit = _config.ExplanationDetailLimit;
        var verdicts = new List<CandidateVerdict>();
        var skipped = new Dictionary<SkipReason, int>();
        // Details are formatted only for the agents listed (a queue may have thousands of members).
        void Skip(Agent a, SkipReason reason, Membership? m)
        {
            skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
            if (verdicts.Count < limit)
            {
                verdicts.Add(new CandidateVerdict(a.Id, false, reason, SkipDetail(call, a, reason, m)));
            }
        }

        _candidates.Clear();
        _candidateMembers.Clear();
        var preferredCanServe = false;
        if (call.PreferredAgentId is { } pid && _agents.TryGetValue(pid, out var preferred) && preferred.State != AgentState.LoggedOut)
        {
            preferredCanServe = preferred.MembershipIn(q) is not null && preferred.State != AgentState.Paused;
        }

        foreach (var m in q.Ready)
        {
            var a = m.Agent;
            if (!OnSite(a, call.RoutingSite))
            {
                Skip(a, SkipReason.OtherSite, m);
            }
            else if (!HasSkills(a, call.Skills, out var score))
            {
                Skip(a, SkipReason.MissingSkill, m);
            }
            else if (call.MaxPenalty is { } max && m.Penalty > max)
            {
                Skip(a, SkipReason.PenaltyNotYetAllowed, m);
            }
            else if (call.IsExcluded(a, Now))
            {
                Skip(a, SkipReason.DidNotAnswerRecently, m);
            }
            else if (call.HeldForOwnerOtherThan(a, Now))
            {
                Skip(a, SkipReason.HeldForPreferredAgent, m);
            }
            else
            {
                _candidateMembers.Add(m);
                _candidates.Add(new RoutingCandidate(a.Id, m.Penalty, m.MemberOrder, a.JoinOrder, a.IdleSince, m.CallsAnswered, a.TalkTime, score,
                    call.PreferredAgentId is not null && string.Equals(a.Id, call.PreferredAgentId, StringComparison.Ordinal)));
            }
        }

        if (q.Strategy.UsesPenaltyTiers && _candidates.Count > 1)
        {
            var min = int.MaxValue;
            foreach (var c in _candidates)
            {
                min = Math.Min(min, c.Penalty);
            }

            for (var i = _candidates.Count - 1; i >= 0; i--)
            {
                if (_candidates[i].Penalty > min)
                {
                    Skip(_candidateMembers[i].Agent, SkipReason.LowerTierAvailable, _candidateMembers[i]);
                    _candidates.RemoveAt(i);
                    _candidateMembers.RemoveAt(i);
                }
            }
        }

        // Members that are not ready: named when the queue is small, counted always.
        if (q.Members.Count - q.Ready.Count <= limit)
        {
            foreach (var m in q.Members)
            {
                if (m.Agent.State != AgentState.Ready)
                {
                    Skip(m.Agent, ReasonFor(m.Agent.State), m);
                }
            }
        }
        else
        {
            AddCount(skipped, SkipReason.Paused, q.StateCounts[(int)AgentState.Paused]);
            AddCount(skipped, SkipReason.WrapUp, q.StateCounts[(int)AgentState.WrapUp]);
            AddCount(skipped, SkipReason.RingingElsewhere, q.StateCounts[(int)AgentState.Ringing]);
            AddCount(skipped, SkipReason.OnCall, q.StateCounts[(int)AgentState.OnCall]);
        }

        StrategyChoice choice;
        if (_candidates.Count == 0)
        {
            choice = StrategyChoice.None(q.Members.Count == 0 ? "no agent of the queue is logged in" : "no eligible agent is ready; the call waits");
        }
        else
        {
            var ctx = new StrategyContext(q.Name, Now, _random, q.Memory, call.PreferredAgentId, preferredCanServe, call.PreferredUntil, q.Fallback);
            choice = q.Strategy.Choose(ctx, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_candidates));
        }

        var chosen = new List<Agent>();
        if (choice.RingAll)
        {
            chosen.AddRange(_candidateMembers.Select(m => m.Agent));
        }
        else if (choice.Index >= 0)
        {
            chosen.Add(_candidateMembers[choice.Index].Agent);
        }

        var chosenVerdicts = new List<CandidateVerdict>(chosen.Count + verdicts.Count + _candidates.Count);
        foreach (var a in chosen)
        {
            chosenVerdicts.Add(new CandidateVerdict(a.Id, true, null, $"idle {StrategyText.Seconds(Now - a.IdleSince)}"));
        }

        for (var i = 0; i < _candidateMembers.Count; i++)
        {
            var a = _candidateMembers[i].Agent;
            if (!chosen.Contains(a))
            {
                skipped[SkipReason.NotPreferredByStrategy] = skipped.GetValueOrDefault(SkipReason.NotPreferredByStrategy) + 1;
                if (chosenVerdicts.Count < limit)
                {
                    chosenVerdicts.Add(new CandidateVerdict(a.Id, false, SkipReason.NotPreferredByStrategy, $"idle {StrategyText.Seconds(Now - a.IdleSince)}"));
                }
            }
        }

        chosenVerdicts.AddRange(verdicts);
        if (!choice.HasWinner && call.PreferredAgentId is not null && preferredCanServe && Now < call.PreferredUntil && q.Strategy is StickyStrategy)
        {
            skipped[SkipReason.HeldForPreferredAgent] = skipped.GetValueOrDefault(SkipReason.HeldForPreferredAgent) + _candidates.Count;
        }

        Publish(new RoutingDecision(call.Id, q.Name, q.Strategy.Name, trigger, [.. chosen.Select(a => a.Id)], choice.Why, chosenVerdicts, skipped));
        if (chosen.Count == 0)
        {
            return false;
        }

        Offer(call, chosen);
        return true;
    }

    private string? SkipDetail(Call call, Agent a, SkipReason reason, Membership? m) => reason switch
    {
        SkipReason.MissingSkill => "needs " + string.Join('+', call.Skills),
        SkipReason.OtherSite => $"agent on {a.Profile.Site}, call on {call.RoutingSite}; the queue does not span sites",
        SkipReason.PenaltyNotYetAllowed => string.Create(CultureInfo.InvariantCulture,
            $"penalty {m!.Penalty} > {call.MaxPenalty} allowed after {StrategyText.Seconds(Now - call.VisitEnqueuedAt)}"),
        SkipReason.DidNotAnswerRecently => "retry delay after ring-no-answer",
        SkipReason.LowerTierAvailable => string.Create(CultureInfo.InvariantCulture, $"penalty {m!.Penalty}, a lower tier has agents"),
        SkipReason.Paused => a.PauseReason,
        _ => null,
    };

    private static void AddCount(Dictionary<SkipReason, int> skipped, SkipReason reason, int n)
    {
        if (n > 0)
        {
            skipped[reason] = skipped.GetValueOrDefault(reason) + n;
        }
    }

    private static SkipReason ReasonFor(AgentState s) => s switch
    {
        AgentState.Paused => SkipReason.Paused,
        AgentState.WrapUp => SkipReason.WrapUp,
        AgentState.Ringing => SkipReason.RingingElsewhere,
        _ => SkipReason.OnCall,
    };

    /// <summary>
    /// An agent became ready: take the best waiting call across the agent's queues — highest
    /// priority first, then longest weighted wait — that the agent may serve.
    /// </summary>
    private void AgentAvailable(Agent a)
    {
        if (a.State != AgentState.Ready)
        {
            return;
        }

        if (_freedMeanwhile is { } later)
        {
            later.Add(a); // an end stamped in the past: offered calls now, after it (EndAt)
            return;
        }

        Call? best = null;
        double bestWait = 0;
        string why = string.Empty;

        // Calls waiting for this agent in particular (sticky) come first.
        if (_heldForAgent.TryGetValue(a.Id, out var held))
        {
            held.RemoveAll(c => c.Phase != CallPhase.Waiting || Now >= c.PreferredUntil || c.Queue.Strategy is not StickyStrategy);
            foreach (var c in held)
            {
                var m = a.MembershipIn(c.Queue);
                if (m is not null && CanServe(a, m, c) && (best is null || Better(c, Weighted(c), best, bestWait)))
                {
                    best = c;
                    bestWait = Weighted(c);
                    why = $"agent {a.Id} is the caller's preferred agent";
                }
            }

            if (held.Count == 0)
            {
                _heldForAgent.Remove(a.Id);
            }
        }

        if (best is null)
        {
            var lines = 0;
            foreach (var m in a.Memberships)
            {
                foreach (var line in m.Queue.LineList)
                {
                    if (line.Calls.Count == 0 || (best is not null && line.Priority < best.Priority))
                    {
                        continue;
                    }

                    if (!HasSkills(a, line.Skills, out _) || !OnSite(a, line.Site))
                    {
                        continue;
                    }

                    lines++;
                    var c = FirstServable(a, m, line);
                    if (c is not null && (best is null || Better(c, Weighted(c), best, bestWait)))
                    {
                        best = c;
                        bestWait = Weighted(c);
                    }
                }
            }

            if (best is not null)
            {
                why = string.Create(CultureInfo.InvariantCulture,
                    $"agent {a.Id} became ready; call has the highest priority ({best.Priority}) then the longest weighted wait ({bestWait:0.#} s) among {lines} line(s) of queues {string.Join(", ", a.Memberships.Select(x => x.Queue.Name))}");
            }
        }

        if (best is null)
        {
            return;
        }

        var q = best.Queue;
        Publish(new RoutingDecision(best.Id, q.Name, q.Strategy.Name, RoutingTrigger.AgentAvailable, [a.Id], why,
            [new CandidateVerdict(a.Id, true, null, $"idle {StrategyText.Seconds(Now - a.IdleSince)}")], new Dictionary<SkipReason, int>()));
        if (q.Strategy is RoundRobinStrategy)
        {
            var m = a.MembershipIn(q)!;
            q.Memory.LastRungOrder = q.Strategy.Name == "rrordered" ? m.MemberOrder : a.JoinOrder;
        }

        Offer(best, [a]);
    }

    private double Weighted(Call c) => (Now - c.OrderTime).TotalSeconds * c.Queue.Config.Weight;

    private static bool Better(Call c, double wait, Call best, double bestWait) =>
        c.Priority != best.Priority ? c.Priority > best.Priority
        : wait != bestWait ? wait > bestWait
        : c.Seq < best.Seq;

    private bool CanServe(Agent a, Membership m, Call c) =>
        !(c.MaxPenalty is { } max && m.Penalty > max) && !c.IsExcluded(a, Now) && !c.HeldForOwnerOtherThan(a, Now) && HasSkills(a, c.Skills, out _) && OnSite(a, c.RoutingSite);

    /// <summary>
    /// Whether the agent may take a call restricted to <paramref name="site"/>: any agent when the
    /// call is not restricted, and agents without a site (a single-site deployment) always.
    /// </summary>
    private static bool OnSite(Agent a, string? site) =>
        site is null || a.Profile.Site is not { } own || string.Equals(own, site, StringComparison.OrdinalIgnoreCase);

    /// <summary>The first call of a line this agent may take, looking a few calls deep past exclusions and sticky holds.</summary>
    private Call? FirstServable(Agent a, Membership m, Line line)
    {
        var head = line.Calls.Min!;
        if (Servable(head))
        {
            return head;
        }

        if (head.MaxPenalty is { } max && m.Penalty > max)
        {
            return null; // calls behind waited less: their penalty limit is no wider
        }

        var n = 0;
        foreach (var c in line.Calls)
        {
            if (++n > LineScanLimit)
            {
                break;
            }

            if (Servable(c))
            {
                return c;
            }
        }

        return null;

        bool Servable(Call c) =>
            !(c.MaxPenalty is { } mp && m.Penalty > mp)
            && !c.IsExcluded(a, Now)
            && !c.HeldForOwnerOtherThan(a, Now)
            && !(c.Queue.Strategy is StickyStrategy && c.PreferredAgentId is { } p && p != a.Id && Now < c.PreferredUntil && PreferredCanServe(c));
    }

    private bool PreferredCanServe(Call c) =>
        c.PreferredAgentId is { } pid && _agents.TryGetValue(pid, out var p) && p.State is not AgentState.LoggedOut and not AgentState.Paused && p.MembershipIn(c.Queue) is not null;

    private void Offer(Call call, List<Agent> agents)
    {
        var q = call.Queue;
        RemoveFromLine(call);
        call.Phase = CallPhase.Ringing;
        call.OfferVersion++;
        call.RingStartedAt = Now;
        call.Attempts++;
        foreach (var a in agents)
        {
            if (a.State != AgentState.Ready || a.Call is not null)
            {
                throw new InvalidOperationException($"ACD invariant broken: offering call {call.Id} to agent {a.Id} in state {a.State}.");
            }

            a.Call = call;
            call.Ringing.Add(a);
            Publish(new CallOffered(call.Id, q.Name, a.Id, call.Attempts));
            SetState(a, AgentState.Ringing, "call offered", ChangeSource.System, call.Id, q.Name);
            Execute(new RingAgent(call.Id, a.Id, a.Extension!, q.Name, q.Config.RingTimeout, call.Caller));
        }

        Schedule(Now + q.Config.RingTimeout, TimerKind.RingTimeout, call, null, call.OfferVersion);
    }

    private static void RemoveFromLine(Call call)
    {
        if (call.Line is { } line)
        {
            line.Calls.Remove(call);
            call.Line = null;
            call.Queue.Waiting--;
        }
    }

    private static void ReturnToLine(Call call)
    {
        // Same order key (first entry time, arrival sequence): the call is back at the head of its line.
        var q = call.Queue;
        call.Phase = CallPhase.Waiting;
        var line = q.LineFor(call.Priority, call.SkillsKey, call.Skills, call.RoutingSite);
        line.Calls.Add(call);
        call.Line = line;
        q.Waiting++;
    }

    /// <summary>Stops ringing every agent for the call (not a miss of theirs); returns them, now ready.</summary>
    private List<Agent> WithdrawAll(Call call, string reason, Agent? except = null)
    {
        var freed = new List<Agent>();
        foreach (var a in call.Ringing)
        {
            if (ReferenceEquals(a, except))
            {
                continue;
            }

            a.Call = null;
            Execute(new StopRinging(call.Id, a.Id, a.Extension!));
            Publish(new CallOfferEnded(call.Id, call.Queue.Name, a.Id, OfferEnd.Withdrawn, Stamp - call.RingStartedAt));
            SetState(a, AgentState.Ready, reason, ChangeSource.System, call.Id, call.Queue.Name);
            freed.Add(a);
        }

        call.Ringing.Clear();
        if (except is not null)
        {
            call.Ringing.Add(except);
        }

        return freed;
    }

    /// <summary>
    /// A ringing agent pauses or logs out: stop ringing (not a miss of theirs). Returns the call when
    /// it went back to the head of its line and needs routing once the agent's new state is set.
    /// </summary>
    private Call? WithdrawOffer(Agent a)
    {
        var call = a.Call!;
        a.Call = null;
        call.Ringing.Remove(a);
        Execute(new StopRinging(call.Id, a.Id, a.Extension!));
        Publish(new CallOfferEnded(call.Id, call.Queue.Name, a.Id, OfferEnd.Withdrawn, Now - call.RingStartedAt));
        if (call.Ringing.Count > 0)
        {
            return null;
        }

        call.OfferVersion++;
        ReturnToLine(call);
        return call;
    }

    private void RingTimedOut(Call call) => MissOffer(call, call.Ringing.ToList(), OfferEnd.RingTimeout);

    private InputOutcome Decline(AgentDeclined x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call) || call.Phase != CallPhase.Ringing
            || !_agents.TryGetValue(x.AgentId, out var a) || !call.Ringing.Contains(a))
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not being rung for call '{x.CallId}'");
        }

        MissOffer(call, [a], OfferEnd.Declined, busy: x.Busy);
        return InputOutcome.Ok;
    }

    /// <summary>Agents were rung and did not answer (timeout or decline): a missed call of each.</summary>
    private void MissOffer(Call call, List<Agent> missed, OfferEnd end, bool busy = false)
    {
        var q = call.Queue;
        var retryUntil = Now + q.Config.RetryAfterNoAnswer;
        var freed = new List<Agent>();
        foreach (var a in missed)
        {
            a.Call = null;
            call.Ringing.Remove(a);
            Execute(new StopRinging(call.Id, a.Id, a.Extension!));
            Publish(new CallOfferEnded(call.Id, q.Name, a.Id, end, Now - call.RingStartedAt));
            // A busy phone is not an absent agent (app_queue's autopausebusy=no): it does not count toward auto-pause.
            var counts = !busy || q.Config.AutoPauseBusy;
            if (counts)
            {
                a.ConsecutiveNoAnswers++;
            }

            call.Excluded ??= [];
            call.Excluded.RemoveAll(e => e.Until <= Now);
            call.Excluded.Add((a, retryUntil));
            if (counts && _config.AutoPauseAfterConsecutiveNoAnswers > 0 && a.ConsecutiveNoAnswers >= _config.AutoPauseAfterConsecutiveNoAnswers)
            {
                a.ConsecutiveNoAnswers = 0;
                SetState(a, AgentState.Paused, PauseReasons.NoAnswer, ChangeSource.System, call.Id, q.Name);
                foreach (var m in a.Memberships)
                {
                    CheckLeaveWhenEmpty(m.Queue);
                }
            }
            else
            {
                SetState(a, AgentState.Ready, end == OfferEnd.Declined ? "declined call" : "ring no answer", ChangeSource.System, call.Id, q.Name);
                freed.Add(a);
            }
        }

        if (call.Ringing.Count == 0 && call.Phase == CallPhase.Ringing)
        {
            call.OfferVersion++;
            call.NoAnswers++;
            ReturnToLine(call);
            if (TakeDirectFallback(call) is { } fallback)
            {
                // A call for one named agent, who did not answer: it goes where its route says.
                OverflowFromQueue(call, OverflowCondition.NoAnswer, fallback, alsoFreed: freed);
                return;
            }

            var rule = call.IsCallback ? null : q.Config.Overflow.FirstOrDefault(r => r.Condition == OverflowCondition.NoAnswer && call.NoAnswers >= r.Attempts);
            if (rule is not null)
            {
                OverflowFromQueue(call, OverflowCondition.NoAnswer, rule.Target, alsoFreed: freed);
                return;
            }
            else
            {
                TryRouteCall(call, RoutingTrigger.OfferEnded);
            }
        }

        // Whenever an exclusion ends, the call (if waiting then) must get its chance at those agents.
        if (call.Phase is CallPhase.Waiting or CallPhase.Ringing)
        {
            Schedule(retryUntil, TimerKind.Recheck, call, null, call.VisitVersion);
        }

        foreach (var a in freed)
        {
            AgentAvailable(a);
        }
    }

    private InputOutcome Answer(AgentAnswered x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call) || call.Phase != CallPhase.Ringing
            || !_agents.TryGetValue(x.AgentId, out var a) || !call.Ringing.Contains(a))
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not being rung for call '{x.CallId}'; the answer is ignored");
        }

        var others = WithdrawAll(call, "another agent answered", except: a);
        ConnectAnswered(call, a, others);
        return InputOutcome.Ok;
    }

    /// <summary>The agent <paramref name="a"/> has the call (answered, or picked up); the others rung for it were withdrawn.</summary>
    private void ConnectAnswered(Call call, Agent a, List<Agent> others, string reason = "answered call")
    {
        var q = call.Queue;
        call.Ringing.Clear();
        call.Phase = CallPhase.Connected;
        call.Agent = a;
        call.AnsweredAt = Now;
        call.Hold = TimeSpan.Zero;
        call.HoldStartedAt = null;
        a.ConsecutiveNoAnswers = 0;
        if (a.MembershipIn(q) is { } membership)
        {
            // Absent when the agent left the queue (reconfiguration) while the phone rang.
            membership.CallsAnswered++;
        }
        Publish(new CallAnswered(call.Id, q.Name, call.Visit, call.VisitEnqueuedAt, Now - call.VisitEnqueuedAt, a.Id));
        SetState(a, AgentState.OnCall, reason, ChangeSource.Agent, call.Id, q.Name);
        if (q.Config.Experience.AnnounceAgentId)
        {
            Execute(new AnnounceAgentId(call.Id, a.Id));
        }

        Execute(new ConnectAgent(call.Id, a.Id, a.Extension!));
        if (call.Caller.CallerNumber is { } number)
        {
            RememberLastAgent(number, a.Id);
        }

        foreach (var o in others)
        {
            AgentAvailable(o);
        }
    }

    private void RememberLastAgent(string number, string agentId)
    {
        if (_lastAgentByCaller.TryAdd(number, agentId))
        {
            _lastAgentOrder.Enqueue(number);
            while (_lastAgentOrder.Count > _config.StickyMemorySize)
            {
                _lastAgentByCaller.Remove(_lastAgentOrder.Dequeue());
            }
        }
        else
        {
            _lastAgentByCaller[number] = agentId;
        }
    }

    private InputOutcome HangUp(CallHungUp x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call))
        {
            return InputOutcome.Refused($"call '{x.CallId}' is not in the ACD");
        }

        EndAt(call, x.EndedAt, x.EndEstimated, () =>
        {
            if (call.Phase == CallPhase.Connected)
            {
                Complete(call, x.By);
            }
            else
            {
                LeaveUnanswered(call, lostDetail: null);
            }
        });
        return InputOutcome.Ok;
    }

    private InputOutcome Lose(CallLost x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call))
        {
            return InputOutcome.Refused($"call '{x.CallId}' is not in the ACD");
        }

        EndAt(call, x.EndedAt, x.EndEstimated, () =>
        {
            if (call.Phase == CallPhase.Connected)
            {
                Complete(call, null);
            }
            else
            {
                LeaveUnanswered(call, x.Detail ?? "lost");
            }
        });
        return InputOutcome.Ok;
    }

    // An end learned late (CallHungUp.EndedAt): what the ending publishes and the durations it counts are stamped
    // at this time instead of Now. The engine's clock stays at Now (inputs keep their order); agents it frees are
    // offered calls at Now, after the ending (an offer cannot be in the past).
    private DateTimeOffset? _backdate;
    private bool _endEstimated;
    private List<Agent>? _freedMeanwhile;

    /// <summary>The time what is being done now is recorded at: <see cref="Now"/>, or a late-learned end.</summary>
    private DateTimeOffset Stamp => _backdate ?? Now;

    /// <summary>
    /// Runs <paramref name="ending"/> as of <paramref name="endedAt"/> when that is before Now, kept after the
    /// call's last known moment (its visit's entry, its answer, its hold, its agents' last changes): nothing the
    /// engine did with the call meanwhile is put before an end.
    /// </summary>
    private void EndAt(Call call, DateTimeOffset? endedAt, bool estimated, Action ending)
    {
        if (endedAt is not { } end || end >= Now)
        {
            _endEstimated = estimated;
            try
            {
                ending();
            }
            finally
            {
                _endEstimated = false;
            }

            return;
        }

        end = Max(end, call.VisitEnqueuedAt);
        if (call.Phase == CallPhase.Connected)
        {
            end = Max(end, call.AnsweredAt);
            end = call.HoldStartedAt is { } held ? Max(end, held) : end;
            end = call.Agent is { } agent ? Max(end, agent.StateSince) : end;
        }

        foreach (var ringing in call.Ringing)
        {
            end = Max(end, ringing.StateSince);
        }

        _backdate = end;
        _endEstimated = estimated;
        _freedMeanwhile = [];
        var freed = _freedMeanwhile;
        try
        {
            ending();
        }
        finally
        {
            _backdate = null;
            _endEstimated = false;
            _freedMeanwhile = null;
        }

        foreach (var a in freed)
        {
            AgentAvailable(a);
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    /// <summary>The caller hung up (or the call was lost) before an answer.</summary>
    private void LeaveUnanswered(Call call, string? lostDetail)
    {
        var q = call.Queue;
        var position = call.Phase == CallPhase.Waiting ? PositionOf(call) : 1;
        RemoveFromLine(call);
        var freed = call.Phase == CallPhase.Ringing ? WithdrawAll(call, "caller hung up") : [];
        call.Phase = CallPhase.Ended;
        call.VisitVersion++;
        var wait = Stamp - call.VisitEnqueuedAt;
        if (lostDetail is null)
        {
            Publish(new CallAbandoned(call.Id, q.Name, call.Visit, call.VisitEnqueuedAt, wait, position));
            End(call, CallDisposition.Abandoned);
        }
        else
        {
            Publish(new CallSystemLost(call.Id, q.Name, call.Visit, call.VisitEnqueuedAt, wait, lostDetail));
            End(call, CallDisposition.SystemLost);
        }

        foreach (var a in freed)
        {
            AgentAvailable(a);
        }
    }

    private void End(Call call, CallDisposition disposition)
    {
        call.Phase = CallPhase.Ended;
        _calls.Remove(call.Id);
        Publish(new CallEnded(call.Id, disposition, call.Visit) { EndEstimated = _endEstimated });
    }

    /// <summary>A connected call ended: completion, then wrap-up (the agent's, whatever the queue).</summary>
    private void Complete(Call call, HangupParty? by, bool endCall = true)
    {
        var a = call.Agent!;
        var q = call.Queue;
        if (call.HoldStartedAt is { } h)
        {
            call.Hold += Stamp - h;
            call.HoldStartedAt = null;
        }

        var talk = Stamp - call.AnsweredAt - call.Hold;
        a.TalkTime += talk;
        a.Call = null;
        a.Muted = false;
        call.Agent = null;
        Publish(new CallCompleted(call.Id, q.Name, a.Id, talk, call.Hold, by));
        if (endCall)
        {
            End(call, CallDisposition.Answered);
        }
        else
        {
            call.Phase = CallPhase.Ended; // between the agent and the transfer target
        }

        a.WrapUpCallId = call.Id;
        a.WrapUpQueue = q.Name;
        a.WrapUpTalk = talk;
        a.WrapUpHold = call.Hold;
        a.WrapUpStartedAt = Stamp;
        var wrap = q.Config.WrapUp;
        if (a.Pending == PendingChange.Logout || wrap == TimeSpan.Zero)
        {
            EndHandling(a);
            AfterHandling(a, "call ended", ChangeSource.System);
            return;
        }

        a.WrapUpEndsAt = Stamp + wrap;
        SetState(a, AgentState.WrapUp, "call ended", ChangeSource.System, call.Id, q.Name);
        Publish(new AgentWrapUpTimed(a.Id, call.Id, q.Name, a.WrapUpEndsAt));
        if (_backdate is not null && a.WrapUpEndsAt <= Now)
        {
            // Ended late (after an events gap) and its wrap-up is over already: it ended when it was due.
            var ended = _backdate;
            _backdate = a.WrapUpEndsAt;
            FinishWrapUp(a, "wrap-up ended", ChangeSource.System);
            _backdate = ended;
            return;
        }

        Schedule(a.WrapUpEndsAt < Now ? Now : a.WrapUpEndsAt, TimerKind.WrapUpEnd, null, a, ++a.WrapUpVersion);
    }

    private InputOutcome Transfer(CallTransferRequested x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call) || call.Phase != CallPhase.Connected)
        {
            return InputOutcome.Refused($"call '{x.CallId}' is not connected to an agent; only a connected call can be transferred");
        }

        var from = call.Agent!;
        var target = x.Target ?? throw new ArgumentException("A transfer needs a target.", nameof(x));
        Queue? queue = null;
        Agent? direct = null;
        switch (target.Kind)
        {
            case TransferTargetKind.Queue:
                if (!_queues.TryGetValue(target.Destination ?? string.Empty, out queue))
                {
                    return InputOutcome.Refused($"transfer target queue '{target.Destination}' is not configured (known: {string.Join(", ", _queues.Keys)})");
                }

                break;
            case TransferTargetKind.Agent:
                if (!_agents.TryGetValue(target.Destination ?? string.Empty, out direct))
                {
                    return InputOutcome.Refused($"transfer target agent '{target.Destination}' is not configured");
                }

                if (ReferenceEquals(direct, from))
                {
                    return InputOutcome.Refused($"agent '{from.Id}' already has call '{call.Id}'; transfer it to someone else");
                }

                // A consulted colleague was held (paused "consult") while talking to the transferring agent.
                var consulted = x.Attended && direct.State == AgentState.Paused && direct.PauseReason == PauseReasons.Consult;
                if (direct.State != AgentState.Ready && !consulted)
                {
                    return InputOutcome.Refused($"transfer target agent '{direct.Id}' is not ready (state {direct.State})");
                }

                if (direct.Memberships.Length == 0)
                {
                    return InputOutcome.Refused($"transfer target agent '{direct.Id}' serves no queue");
                }

                queue = direct.MembershipIn(call.Queue) is not null ? call.Queue : direct.Memberships[0].Queue;
                break;
            case TransferTargetKind.External:
                if (string.IsNullOrWhiteSpace(target.Destination))
                {
                    return InputOutcome.Refused("an external transfer needs a number");
                }

                break;
            case TransferTargetKind.Supervisor:
                if (string.IsNullOrWhiteSpace(target.Destination))
                {
                    return InputOutcome.Refused("a take-over needs the supervisor's ID");
                }

                break;
            default:
                return InputOutcome.Refused($"unknown transfer target kind {target.Kind}");
        }

        if (queue is not null && call.Visit >= _config.MaxQueueVisitsPerCall)
        {
            return InputOutcome.Refused($"call '{call.Id}' has been in {call.Visit} queues, the most allowed (MaxQueueVisitsPerCall)");
        }

        Publish(new CallTransferred(call.Id, call.Queue.Name, from.Id, target, x.Attended));
        Execute(new TransferCall(call.Id, from.Id, target, x.Attended));
        Complete(call, HangupParty.Agent, endCall: queue is null);
        if (queue is not null && _calls.ContainsKey(call.Id))
        {
            if (direct is { State: AgentState.Paused })
            {
                // Straight from consult to this call: no other call may take the colleague in between.
                SetState(direct, AgentState.Ready, "consult transfer", ChangeSource.Agent);
            }

            Enqueue(call, queue, direct);
        }

        return InputOutcome.Ok;
    }

    private InputOutcome HoldChanged(CallHoldChanged x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call) || call.Phase != CallPhase.Connected)
        {
            return InputOutcome.Refused($"call '{x.CallId}' is not connected to an agent; hold applies to a connected call");
        }

        if (x.OnHold == call.HoldStartedAt.HasValue)
        {
            return InputOutcome.Ok;
        }

        if (x.OnHold)
        {
            call.HoldStartedAt = x.Since is { } since && since < Now ? Max(since, call.AnsweredAt) : Now;
        }
        else
        {
            call.Hold += Now - call.HoldStartedAt!.Value;
            call.HoldStartedAt = null;
        }

        Publish(new CallerHoldChanged(call.Id, call.Agent!.Id, x.OnHold) { Since = call.HoldStartedAt });
        return InputOutcome.Ok;
    }

    private InputOutcome KeyPressed(CallerPressedKey x)
    {
        if (!_calls.TryGetValue(x.CallId, out var call) || call.Phase is not (CallPhase.Waiting or CallPhase.Ringing))
        {
            return InputOutcome.Refused($"call '{x.CallId}' is not waiting in a queue");
        }

        if (call.IsCallback)
        {
            return InputOutcome.Refused($"'{x.CallId}' is a callback task: nobody is on the line to press a key");
        }

        if (!call.Queue.Config.ExitKeys.TryGetValue(x.Digit, out var target))
        {
            return InputOutcome.Refused($"key '{x.Digit}' does nothing in queue '{call.Queue.Name}' (exit keys: {string.Join(", ", call.Queue.Config.ExitKeys.Keys)})");
        }

        OverflowFromQueue(call, OverflowCondition.CallerKey, target);
        return InputOutcome.Ok;
    }

    /// <summary>The call leaves its queue by an overflow rule: into another queue, or out of the ACD.</summary>
    private void OverflowFromQueue(Call call, OverflowCondition condition, OverflowTarget? target, List<Agent>? alsoFreed = null)
    {
        var q = call.Queue;
        target ??= q.Config.Overflow.FirstOrDefault(r => r.Condition == condition)?.Target ?? OverflowTarget.ToDisconnect();
        RemoveFromLine(call);
        var freed = call.Phase == CallPhase.Ringing ? WithdrawAll(call, "call left the queue") : [];
        if (alsoFreed is not null)
        {
            freed.AddRange(alsoFreed);
        }

        call.Phase = CallPhase.Ended; // between queues: in no line, ringing nobody
        call.VisitVersion++;
        var outcome = condition switch
        {
            OverflowCondition.WaitExceeded or OverflowCondition.NoAnswer => QueueVisitOutcome.Timeout,
            OverflowCondition.CallerKey => QueueVisitOutcome.ExitKey,
            _ => QueueVisitOutcome.ExitEmpty,
        };
        Publish(new CallOverflowed(call.Id, q.Name, call.Visit, call.VisitEnqueuedAt, Now - call.VisitEnqueuedAt, outcome, condition, target));

        // Agents freed by this call leaving look for waiting calls first: calls already waiting in
        // the target queue are ahead of this one.
        foreach (var a in freed)
        {
            AgentAvailable(a);
        }

        if (target.Kind == OverflowTargetKind.Queue && call.Visit < _config.MaxQueueVisitsPerCall)
        {
            Enqueue(call, _queues[target.Destination!]);
        }
        else
        {
            if (target.Kind == OverflowTargetKind.Queue)
            {
                target = OverflowTarget.ToDisconnect();
            }

            call.Phase = CallPhase.Ended;
            Execute(new OverflowCall(call.Id, q.Name, condition, target));
            End(call, target.Kind == OverflowTargetKind.Voicemail ? CallDisposition.Voicemail : CallDisposition.Overflowed);
        }
    }
}

/// <summary>The ACD configuration is invalid; the message lists every problem found.</summary>
public sealed class AcdConfigurationException(string message) : Exception(message);
