namespace CtiBridge.Core.Acd;

/// <summary>
/// Live statistics per queue and per agent, maintained incrementally from the engine's event
/// stream with the definitions of docs/metrics.md (version 3). A visit counts in the period that
/// contains its queue-entry time; ratios are computed over visits that have left the queue.
/// It can also be fed any recorded event stream (<see cref="Apply(AcdEvent)"/>) to recount.
/// </summary>
public sealed class AcdStatistics
{
    private MetricsParameters _parameters;
    private readonly Dictionary<string, QueueCounters> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, AgentCounters> _agents = new(StringComparer.Ordinal);
    // Answered visits whose handling has not ended: queue figures count the handling by the visit's
    // entry time, the agent's by the answer time (docs/metrics.md §2), as the reports do.
    private readonly Dictionary<(string CallId, string AgentId), (DateTimeOffset Entered, DateTimeOffset Answered, string? Server)> _answeredVisitEntry = [];

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
            case CallAdopted x:
                Adopt(x);
                break;
            case QueueVisitEnded x:
                if (x.EnqueuedAt >= PeriodStart)
                {
                    CountVisitEnd(Queue(x.Queue), x);
                    if (ServerCounters(x.CallId) is { } endedOn)
                    {
                        CountVisitEnd(endedOn, x);
                    }
                }

                if (x is CallAnswered answered)
                {
                    // An agent's call belongs to the day of its answer (a call queued before midnight and answered after is the new day's).
                    _answeredVisitEntry[(x.CallId, answered.AgentId)] = (x.EnqueuedAt, answered.At, _serverOfCall.GetValueOrDefault(x.CallId));
                    if (answered.At >= PeriodStart)
                    {
                        Agent(answered.AgentId).Calls++;
                    }
                }

                break;
            case CallHandlingEnded x:
                var known = _answeredVisitEntry.Remove((x.CallId, x.AgentId), out var entered);
                if (known && entered.Entered >= PeriodStart)
                {
                    CountHandling(Queue(x.Queue), x);
                    if (entered.Server is { } handledOn)
                    {
                        CountHandling(Server(handledOn), x);
                    }
                }

                if (!known || entered.Answered >= PeriodStart)
                {
                    var ha = Agent(x.AgentId);
                    ha.Talk += x.Talk;
                    ha.Hold += x.Hold;
                    ha.WrapUp += x.WrapUp;
                    ha.Handled++;
                }

                break;
            case CallOfferEnded { End: OfferEnd.RingTimeout or OfferEnd.Declined } x:
                Agent(x.AgentId).Missed++;
                break;
            case AgentLoggedIn { RestoredLoginAt: null } x:
                // A login restored after a restart or takeover continues the session counted before it
                // (docs/metrics.md: logins are sessions starting in the interval), as the records do.
                Agent(x.AgentId).Logins++;
                break;
            case AgentStateChanged x:
                Agent(x.AgentId).Change(x.To, x.At, x.Reason);
                break;
        }
    }

    /// <summary>
    /// A call taken over from the instance before (restart, HA takeover). That instance's records hold
    /// what the call did before (<see cref="Seed"/>); what it does from now on counts here: a waiting
    /// call's visit is offered in this period (its entry was never written: a visit is written when it
    /// ends), and a connected call's handling counts when it ends, as if answered here.
    /// </summary>
    private void Adopt(CallAdopted x)
    {
        if (x.Caller.Site is { } adoptedOn)
        {
            _serverOfCall[x.CallId] = adoptedOn;
        }

        if (CallbackTasks.IsCallbackTask(x.Caller))
        {
            _callbackTasks.Add(x.CallId);
            if (x.AgentId is { } taskAgent)
            {
                _callbackHandlings.Add((x.CallId, taskAgent));
            }

            return;
        }

        if (x.AgentId is { } agentId && x.AnsweredAt is { } answeredAt)
        {
            _answeredVisitEntry[(x.CallId, agentId)] = (x.EnqueuedAt, answeredAt, x.Caller.Site);
        }
        else if (x.EnqueuedAt >= PeriodStart)
        {
            Queue(x.Queue).Offered++;
            if (ServerCounters(x.CallId) is { } offeredOn)
            {
                offeredOn.Offered++;
            }
        }
    }

    /// <summary>
    /// Starts the period at <paramref name="seed"/>'s start (the local midnight of today) and adds the
    /// figures the call records already hold for it (written by this service before a restart, or by
    /// the instance this one took over from), so "today" is the whole day, not the time since this
    /// start. Figures counted here since the day began are kept (those of an earlier day are not). The thresholds become
    /// the database's (<c>metrics.*</c> settings), as the reports use them.
    /// </summary>
    public void Seed(StatisticsSeed seed)
    {
        ArgumentNullException.ThrowIfNull(seed);
        if (seed.PeriodStart > PeriodStart)
        {
            // Counted since an earlier day (a standby created before midnight takes over after it): that day is over.
            StartPeriod(seed.PeriodStart);
        }

        PeriodStart = seed.PeriodStart;
        _parameters = seed.Parameters;
        foreach (var q in seed.Queues)
        {
            Queue(q.Queue).Add(q);
        }

        foreach (var q in seed.Servers)
        {
            Server(q.Queue).Add(q);
        }

        foreach (var a in seed.Agents)
        {
            Agent(a.AgentId).Add(a);
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

        public void Add(QueueStatistics q)
        {
            Offered += q.Offered;
            Answered += q.Answered;
            AnsweredWithinThreshold += q.AnsweredWithinThreshold;
            Abandoned += q.Abandoned;
            ShortAbandoned += q.ShortAbandoned;
            Overflowed += q.Overflowed;
            SystemLost += q.SystemLost;
            SumWaitAnswered += q.SumWaitAnswered;
            MaxWait = q.LongestWait > MaxWait ? q.LongestWait : MaxWait;
            Handled += q.Handled;
            SumTalk += q.SumTalk;
            SumHold += q.SumHold;
            SumWrapUp += q.SumWrapUp;
        }

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

        public void Add(AgentStatistics a)
        {
            Logins += a.Logins;
            Calls += a.Calls;
            Missed += a.Missed;
            Handled += a.Handled;
            Talk += a.Talk;
            Hold += a.Hold;
            WrapUp += a.WrapUp;
            StateTime[(int)AgentState.Ready] += a.Available;
            StateTime[(int)AgentState.Ringing] += a.Ringing;
            StateTime[(int)AgentState.OnCall] += a.InCall;
            StateTime[(int)AgentState.WrapUp] += a.WrapUpState;
            StateTime[(int)AgentState.Paused] += a.Paused;
            foreach (var (reason, time) in a.PauseByReason)
            {
                PauseTime[reason] = PauseTime.GetValueOrDefault(reason) + time;
            }
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

/// <summary>
/// What the call records already hold for the current day (docs/metrics.md §2, "today"), to start
/// the live statistics from after a restart or a takeover (<see cref="AcdStatistics.Seed"/>).
/// </summary>
/// <param name="PeriodStart">Start of the day (local midnight in <c>reports.time_zone</c>).</param>
/// <param name="Parameters">The thresholds the reports use (<c>metrics.*</c> settings).</param>
/// <param name="Queues">Per queue, the visits that entered today and have ended.</param>
/// <param name="Servers">The same per Asterisk server (the caller's), <see cref="QueueStatistics.Queue"/> holding its name.</param>
/// <param name="Agents">Per agent: logins, inbound calls answered today, missed calls, handling and state time so far.</param>
public sealed record StatisticsSeed(
    DateTimeOffset PeriodStart, MetricsParameters Parameters, IReadOnlyList<QueueStatistics> Queues, IReadOnlyList<QueueStatistics> Servers,
    IReadOnlyList<AgentStatistics> Agents);
