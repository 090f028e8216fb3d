namespace CtiBridge.Core.Acd;

/// <summary>
/// Live statistics per queue and per agent, maintained incrementally from the engine's event
/// stream with the definitions of docs/metrics.md (version 3). A visit counts in the period that
/// contains its queue-entry time; ratios are computed over visits that have left the queue.
/// It can also be fed any recorded event stream (<see cref="Apply(AcdEvent)"/>) to recount.
/// </summary>
public sealed class AcdStatistics
{
    private readonly MetricsParameters _parameters;
    private readonly Dictionary<string, QueueCounters> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, AgentCounters> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<(string CallId, string AgentId), (DateTimeOffset Entered, string? Server)> _answeredVisitEntry = [];

    // The same queue figures per Asterisk server (the caller's server, CallerData.Site), all queues together.
    private readonly Dictionary<string, QueueCounters> _servers = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _serverOfCall = new(StringComparer.Ordinal);

    // Callback tasks are not inbound queue visits (CallbackTasks, docs/metrics.md §3a): their events are
    // left out of every queue and agent call figure; the agent's state time on them still counts.
    private readonly HashSet<string> _callbackTasks = new(StringComparer.Ordinal);
    private readonly HashSet<(string CallId, string AgentId)> _callbackHandlings = [];

    /// <summary>Creates empty statistics for a period starting at <paramref name="periodStart"/>.</summary>
    public AcdStatistics(MetricsParameters parameters, DateTimeOffset periodStart)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        PeriodStart = periodStart;
    }

    /// <summary>Version of docs/metrics.md these statistics implement.</summary>
    public const int DefinitionsVersion = 3;

    /// <summary>Start of the current period (visits entering before it are not counted).</summary>
    public DateTimeOffset PeriodStart { get; private set; }

    /// <summary>Starts a new period (e.g. at midnight for "today" totals); agent state time restarts at <paramref name="start"/>.</summary>
    public void StartPeriod(DateTimeOffset start)
    {
        PeriodStart = start;
        foreach (var q in _queues.Values.Concat(_servers.Values))
        {
            q.Reset();
        }

        foreach (var a in _agents.Values)
        {
            a.Reset(start);
        }
    }

    /// <summary>Folds one event into the counters.</summary>
    public void Apply(AcdEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        switch (e)
        {
            case CallEnqueued x when CallbackTasks.IsCallbackTask(x.Caller):
                _callbackTasks.Add(x.CallId);
                break;
            case QueueVisitEnded x when _callbackTasks.Contains(x.CallId):
                if (x is CallAnswered answeredTask)
                {
                    _callbackHandlings.Add((x.CallId, answeredTask.AgentId));
                }

                break;
            case CallHandlingEnded x when _callbackHandlings.Remove((x.CallId, x.AgentId)):
                break;
            case CallOfferEnded x when _callbackTasks.Contains(x.CallId):
                break;
            case CallEnded x:
                _callbackTasks.Remove(x.CallId);
                _serverOfCall.Remove(x.CallId);
                break;
            case CallEnqueued x:
                if (x.Caller.Site is { } site)
                {
                    _serverOfCall[x.CallId] = site;
                }

                if (x.At >= PeriodStart)
                {
                    Queue(x.Queue).Offered++;
                    if (ServerCounters(x.CallId) is { } offeredOn)
                    {
                        offeredOn.Offered++;
                    }
                }

                break;
            case CallAdopted x when x.Caller.Site is { } adoptedOn:
                _serverOfCall[x.CallId] = adoptedOn;
                break;
            case QueueVisitEnded x when x.EnqueuedAt >= PeriodStart:
                CountVisitEnd(Queue(x.Queue), x);
                if (ServerCounters(x.CallId) is { } endedOn)
                {
                    CountVisitEnd(endedOn, x);
                }

                if (x is CallAnswered answered)
                {
                    _answeredVisitEntry[(x.CallId, answered.AgentId)] = (x.EnqueuedAt, _serverOfCall.GetValueOrDefault(x.CallId));
                    Agent(answered.AgentId).Calls++;
                }

                break;
            case CallHandlingEnded x:
                if (_answeredVisitEntry.Remove((x.CallId, x.AgentId), out var entered) && entered.Entered >= PeriodStart)
                {
                    CountHandling(Queue(x.Queue), x);
                    if (entered.Server is { } handledOn)
                    {
                        CountHandling(Server(handledOn), x);
                    }
                }

                var ha = Agent(x.AgentId);
                ha.Talk += x.Talk;
                ha.Hold += x.Hold;
                ha.WrapUp += x.WrapUp;
                ha.Handled++;
                break;
            case CallOfferEnded { End: OfferEnd.RingTimeout or OfferEnd.Declined } x:
                Agent(x.AgentId).Missed++;
                break;
            case AgentLoggedIn x:
                Agent(x.AgentId).Logins++;
                break;
            case AgentStateChanged x:
                Agent(x.AgentId).Change(x.To, x.At, x.Reason);
                break;
        }
    }

    /// <summary>Statistics of one queue for the current period.</summary>
    public QueueStatistics ForQueue(string queue)
    {
        var q = Queue(queue);
        return new QueueStatistics(queue, q.Offered, q.Answered, q.AnsweredWithinThreshold, q.Abandoned, q.ShortAbandoned, q.Overflowed,
            q.SystemLost, q.SumWaitAnswered, q.MaxWait, q.Handled, q.SumTalk, q.SumHold, q.SumWrapUp);
    }

    /// <summary>
    /// The queue figures of every queue together for the calls on one Asterisk server (the caller's
    /// server), for the current period; <see cref="QueueStatistics.Queue"/> holds the server's name.
    /// </summary>
    public QueueStatistics ForServer(string server)
    {
        var q = Server(server);
        return new QueueStatistics(server, q.Offered, q.Answered, q.AnsweredWithinThreshold, q.Abandoned, q.ShortAbandoned, q.Overflowed,
            q.SystemLost, q.SumWaitAnswered, q.MaxWait, q.Handled, q.SumTalk, q.SumHold, q.SumWrapUp);
    }

    /// <summary>Asterisk servers seen so far (callers' servers).</summary>
    public IEnumerable<string> ServerNames => _servers.Keys;

    private QueueCounters? ServerCounters(string callId) => _serverOfCall.TryGetValue(callId, out var server) ? Server(server) : null;

    private QueueCounters Server(string name)
    {
        if (!_servers.TryGetValue(name, out var q))
        {
            _servers[name] = q = new QueueCounters();
        }

        return q;
    }

    private void CountVisitEnd(QueueCounters q, QueueVisitEnded x)
    {
        q.MaxWait = x.Wait > q.MaxWait ? x.Wait : q.MaxWait;
        switch (x.Outcome)
        {
            case QueueVisitOutcome.Answered:
                q.Answered++;
                q.SumWaitAnswered += x.Wait;
                if (x.Wait <= _parameters.ServiceLevelThreshold)
                {
                    q.AnsweredWithinThreshold++;
                }

                break;
            case QueueVisitOutcome.Abandoned:
                q.Abandoned++;
                if (x.Wait < _parameters.ShortAbandonThreshold)
                {
                    q.ShortAbandoned++;
                }

                break;
            case QueueVisitOutcome.SystemLost:
                q.SystemLost++;
                break;
            default:
                q.Overflowed++;
                break;
        }
    }

    private static void CountHandling(QueueCounters q, CallHandlingEnded x)
    {
        q.Handled++;
        q.SumTalk += x.Talk;
        q.SumHold += x.Hold;
        q.SumWrapUp += x.WrapUp;
    }

    /// <summary>Statistics of one agent for the current period, with the current state counted up to <paramref name="now"/>.</summary>
    public AgentStatistics ForAgent(string agentId, DateTimeOffset now)
    {
        var a = Agent(agentId);
        var times = (TimeSpan[])a.StateTime.Clone();
        var pauses = new Dictionary<string, TimeSpan>(a.PauseTime, StringComparer.Ordinal);
        if (a.State != AgentState.LoggedOut && now > a.Since)
        {
            times[(int)a.State] += now - a.Since;
            if (a.State == AgentState.Paused)
            {
                pauses[a.PauseReason ?? string.Empty] = pauses.GetValueOrDefault(a.PauseReason ?? string.Empty) + (now - a.Since);
            }
        }

        return new AgentStatistics(agentId, a.Logins, a.Calls, a.Missed, a.Handled, a.Talk, a.Hold, a.WrapUp,
            times[(int)AgentState.Ready], times[(int)AgentState.Ringing], times[(int)AgentState.OnCall], times[(int)AgentState.WrapUp],
            times[(int)AgentState.Paused], pauses);
    }

    /// <summary>Queue names seen so far.</summary>
    public IEnumerable<string> QueueNames => _queues.Keys;

    /// <summary>Agent IDs seen so far.</summary>
    public IEnumerable<string> AgentIds => _agents.Keys;

    private QueueCounters Queue(string name)
    {
        if (!_queues.TryGetValue(name, out var q))
        {
            _queues[name] = q = new QueueCounters();
        }

        return q;
    }

    private AgentCounters Agent(string id)
    {
        if (!_agents.TryGetValue(id, out var a))
        {
            _agents[id] = a = new AgentCounters();
        }

        return a;
    }

    private sealed class QueueCounters
    {
        public int Offered;
        public int Answered;
        public int AnsweredWithinThreshold;
        public int Abandoned;
        public int ShortAbandoned;
        public int Overflowed;
        public int SystemLost;
        public TimeSpan SumWaitAnswered;
        public TimeSpan MaxWait;
        public int Handled;
        public TimeSpan SumTalk;
        public TimeSpan SumHold;
        public TimeSpan SumWrapUp;

        public void Reset()
        {
            Offered = Answered = AnsweredWithinThreshold = Abandoned = ShortAbandoned = Overflowed = SystemLost = Handled = 0;
            SumWaitAnswered = MaxWait = SumTalk = SumHold = SumWrapUp = TimeSpan.Zero;
        }
    }

    private sealed class AgentCounters
    {
        public int Logins;
        public int Calls;
        public int Missed;
        public int Handled;
        public TimeSpan Talk;
        public TimeSpan Hold;
        public TimeSpan WrapUp;
        public TimeSpan[] StateTime = new TimeSpan[6];
        public Dictionary<string, TimeSpan> PauseTime = new(StringComparer.Ordinal);
        public AgentState State = AgentState.LoggedOut;
        public DateTimeOffset Since;
        public string? PauseReason;

        public void Change(AgentState to, DateTimeOffset at, string reason)
        {
            if (State != AgentState.LoggedOut && at > Since)
            {
                StateTime[(int)State] += at - Since;
                if (State == AgentState.Paused)
                {
                    PauseTime[PauseReason ?? string.Empty] = PauseTime.GetValueOrDefault(PauseReason ?? string.Empty) + (at - Since);
                }
            }

            State = to;
            Since = at;
            PauseReason = to == AgentState.Paused ? reason : null;
        }

        public void Reset(DateTimeOffset start)
        {
            Logins = Calls = Missed = Handled = 0;
            Talk = Hold = WrapUp = TimeSpan.Zero;
            StateTime = new TimeSpan[6];
            PauseTime = new(StringComparer.Ordinal);
            if (Since < start)
            {
                Since = start;
            }
        }
    }
}

/// <summary>A queue's statistics (docs/metrics.md §4) over visits that entered in the period.</summary>
/// <param name="Queue">Queue.</param>
/// <param name="Offered">O: visits (every entry, including those still waiting).</param>
/// <param name="Answered">A.</param>
/// <param name="AnsweredWithinThreshold">A_T: answered with wait ≤ T.</param>
/// <param name="Abandoned">Ab.</param>
/// <param name="ShortAbandoned">Ab_s: abandoned with wait &lt; S.</param>
/// <param name="Overflowed">Ov: timeout, exit empty/full/closed, exit key.</param>
/// <param name="SystemLost">L.</param>
/// <param name="SumWaitAnswered">Σ wait of answered visits.</param>
/// <param name="LongestWait">Max wait over visits that left the queue.</param>
/// <param name="Handled">A_h: answered visits whose handling (wrap-up) has ended.</param>
/// <param name="SumTalk">Σ talk of handled calls.</param>
/// <param name="SumHold">Σ hold of handled calls.</param>
/// <param name="SumWrapUp">Σ wrap-up of handled calls.</param>
public sealed record QueueStatistics(
    string Queue, int Offered, int Answered, int AnsweredWithinThreshold, int Abandoned, int ShortAbandoned, int Overflowed, int SystemLost,
    TimeSpan SumWaitAnswered, TimeSpan LongestWait, int Handled, TimeSpan SumTalk, TimeSpan SumHold, TimeSpan SumWrapUp)
{
    /// <summary>Visits that have left the queue: A + Ab + Ov + L.</summary>
    public int Ended => Answered + Abandoned + Overflowed + SystemLost;

    /// <summary>Long abandons Ab_l = Ab − Ab_s.</summary>
    public int LongAbandoned => Abandoned - ShortAbandoned;

    /// <summary>Service level A_T ÷ (O − Ab_s) over ended visits; null when the denominator is 0.</summary>
    public double? ServiceLevel => Ended - ShortAbandoned > 0 ? (double)AnsweredWithinThreshold / (Ended - ShortAbandoned) : null;

    /// <summary>Abandon rate Ab_l ÷ (O − Ab_s) over ended visits; null when the denominator is 0.</summary>
    public double? AbandonRate => Ended - ShortAbandoned > 0 ? (double)LongAbandoned / (Ended - ShortAbandoned) : null;

    /// <summary>Answer rate A ÷ O over ended visits; null when none ended.</summary>
    public double? AnswerRate => Ended > 0 ? (double)Answered / Ended : null;

    /// <summary>ASA: Σ wait(answered) ÷ A; null when A = 0.</summary>
    public TimeSpan? AverageSpeedOfAnswer => Answered > 0 ? SumWaitAnswered / Answered : null;

    /// <summary>AHT: Σ (talk + hold + wrap-up) ÷ A_h; null when A_h = 0.</summary>
    public TimeSpan? AverageHandleTime => Handled > 0 ? (SumTalk + SumHold + SumWrapUp) / Handled : null;
}

/// <summary>An agent's statistics (docs/metrics.md §6).</summary>
/// <param name="AgentId">Agent.</param>
/// <param name="Logins">Login sessions.</param>
/// <param name="Calls">Inbound queue calls answered (the ACD's events; the service adds the agent's outbound calls from the call records, docs/metrics.md §6).</param>
/// <param name="Missed">Rung and not answered (RINGNOANSWER).</param>
/// <param name="Handled">Calls whose handling (wrap-up) ended.</param>
/// <param name="Talk">Σ talk of handled calls.</param>
/// <param name="Hold">Σ hold of handled calls.</param>
/// <param name="WrapUp">Σ wrap-up of handled calls.</param>
/// <param name="Available">Time Ready.</param>
/// <param name="Ringing">Time Ringing.</param>
/// <param name="InCall">Time OnCall.</param>
/// <param name="WrapUpState">Time in WrapUp state.</param>
/// <param name="Paused">Time Paused.</param>
/// <param name="PauseByReason">Paused time per reason code.</param>
public sealed record AgentStatistics(
    string AgentId, int Logins, int Calls, int Missed, int Handled, TimeSpan Talk, TimeSpan Hold, TimeSpan WrapUp,
    TimeSpan Available, TimeSpan Ringing, TimeSpan InCall, TimeSpan WrapUpState, TimeSpan Paused, IReadOnlyDictionary<string, TimeSpan> PauseByReason)
{
    /// <summary>Logged-in time: every state.</summary>
    public TimeSpan LoggedIn => Available + Ringing + InCall + WrapUpState + Paused;

    /// <summary>Occupancy (D-04): (in call + wrap-up) ÷ (in call + wrap-up + available + ringing); null when 0.</summary>
    public double? Occupancy
    {
        get
        {
            var busy = InCall + WrapUpState;
            var all = busy + Available + Ringing;
            return all > TimeSpan.Zero ? busy / all : null;
        }
    }

    /// <summary>Calls per logged-in hour (D-14); null when not logged in.</summary>
    public double? CallsPerHour => LoggedIn > TimeSpan.Zero ? Calls / LoggedIn.TotalHours : null;

    /// <summary>AHT of the agent: Σ handle ÷ handled; null when none.</summary>
    public TimeSpan? AverageHandleTime => Handled > 0 ? (Talk + Hold + WrapUp) / Handled : null;
}
