using System.Globalization;
using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Simulation;

/// <summary>
/// Discrete-event simulation driving the very same <see cref="AcdEngine"/> with simulated time:
/// Poisson arrivals, caller patience, talk times, agents answering (or not) and working their
/// shifts. No wall clock: a busy hour runs in as much CPU as its events need. Deterministic for a
/// given scenario and seed.
/// </summary>
public sealed class CallCenterSimulation : IAcdOutput
{
    private readonly SimulationScenario _scenario;
    private readonly IAcdOutput? _observer;
    private readonly Random _random;
    private readonly PriorityQueue<SimEvent, (DateTimeOffset At, long Seq)> _agenda = new();
    private readonly List<AcdCommand> _commands = [];
    private readonly List<AcdEvent> _events = [];
    private readonly Dictionary<string, SimCall> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Call, string Agent), long> _ringTokens = [];
    private readonly Dictionary<string, SimulatedAgent> _agents = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _end;
    private long _seq;
    private long _callNumber;
    private long _ringToken;

    /// <summary>Creates the simulation; <paramref name="observer"/> (optional) sees every command and event too.</summary>
    public CallCenterSimulation(SimulationScenario scenario, IAcdOutput? observer = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        _scenario = scenario;
        _observer = observer;
        _random = new Random(scenario.Seed);
        _end = scenario.Start + scenario.Duration;
        Engine = new AcdEngine(scenario.Acd, this, scenario.Start);

        foreach (var a in scenario.Agents)
        {
            _agents[a.AgentId] = a;
            foreach (var s in a.Shifts)
            {
                Add(scenario.Start + s.From, new SimEvent(SimKind.Login, a, null, 0, null));
                Add(scenario.Start + s.To, new SimEvent(SimKind.Logout, a, null, 0, null));
            }

            foreach (var b in a.Breaks)
            {
                Add(scenario.Start + b.At, new SimEvent(SimKind.Pause, a, null, 0, b.Reason));
                Add(scenario.Start + b.At + b.Length, new SimEvent(SimKind.Resume, a, null, 0, null));
            }
        }

        foreach (var stream in scenario.Traffic)
        {
            ScheduleNextArrival(stream, scenario.Start);
        }
    }

    private enum SimKind
    {
        Arrival,
        Answer,
        HangUp,
        Abandon,
        Login,
        Logout,
        Pause,
        Resume,
    }

    private sealed record SimEvent(SimKind Kind, SimulatedAgent? Agent, SimCall? Call, long Token, string? Text, CallTraffic? Stream = null);

    private sealed class SimCall(string id, CallTraffic stream)
    {
        public string Id { get; } = id;

        public CallTraffic Stream { get; } = stream;

        public bool Connected { get; set; }

        public bool Ended { get; set; }
    }

    /// <summary>The engine being driven (statistics, queue status).</summary>
    public AcdEngine Engine { get; }

    /// <summary>Simulated time now.</summary>
    public DateTimeOffset Now => Engine.Now;

    /// <summary>Inputs given to the engine so far (events the engine processed, timers excluded).</summary>
    public long InputsHandled { get; private set; }

    /// <summary>Deadline firings given to the engine so far (<see cref="TimeAdvanced"/> inputs).</summary>
    public long TimeAdvances { get; private set; }

    /// <summary>Calls generated so far.</summary>
    public long CallsGenerated => _callNumber;

    /// <summary>Domain events recorded (when <see cref="SimulationScenario.RecordEvents"/>).</summary>
    public IReadOnlyList<AcdEvent> Events => _events;

    /// <summary>Runs to the end and returns the result.</summary>
    public SimulationResult Run()
    {
        while (Step())
        {
        }

        return Result();
    }

    /// <summary>The result so far.</summary>
    public SimulationResult Result() => new(Engine.Statistics, _events, _callNumber, InputsHandled, TimeAdvances, Now);

    /// <summary>
    /// Processes the next thing that happens (an engine deadline or a simulated event). Returns false
    /// when arrivals have stopped and every call has left the ACD.
    /// </summary>
    public bool Step()
    {
        var engineDue = Engine.NextDueTime;
        var hasEvent = _agenda.TryPeek(out var next, out var at);
        if (Now >= _end && _calls.Count == 0)
        {
            return false;
        }

        if (engineDue is { } due && (!hasEvent || due <= at.At))
        {
            TimeAdvances++;
            Engine.Handle(new TimeAdvanced(due));
        }
        else if (hasEvent)
        {
            _agenda.Dequeue();
            Apply(next!, at.At);
        }
        else
        {
            return false;
        }

        Drain();
        return true;
    }

    private void Add(DateTimeOffset at, SimEvent e) => _agenda.Enqueue(e, (at, ++_seq));

    private void ScheduleNextArrival(CallTraffic stream, DateTimeOffset from)
    {
        if (stream.CallsPerHour <= 0)
        {
            return;
        }

        // Non-homogeneous Poisson by thinning: draw at the peak rate, keep with rate/peak.
        var peak = stream.HourlyShape is { Count: > 0 } shape ? shape.Max() : 1.0;
        var t = from;
        while (true)
        {
            t += TimeSpan.FromSeconds(-Math.Log(1 - _random.NextDouble()) * 3600 / (stream.CallsPerHour * peak));
            if (t >= _end)
            {
                return;
            }

            var factor = stream.HourlyShape is { Count: 24 } s ? s[t.Hour] : 1.0;
            if (_random.NextDouble() * peak <= factor)
            {
                Add(t, new SimEvent(SimKind.Arrival, null, null, 0, null, stream));
                return;
            }
        }
    }

    private void Handle(AcdInput input)
    {
        InputsHandled++;
        Engine.Handle(input);
    }

    private void Apply(SimEvent e, DateTimeOffset at)
    {
        switch (e.Kind)
        {
            case SimKind.Arrival:
                Arrive(e.Stream!, at);
                ScheduleNextArrival(e.Stream!, at);
                break;
            case SimKind.Answer:
                if (_ringTokens.TryGetValue((e.Call!.Id, e.Agent!.AgentId), out var token) && token == e.Token && !e.Call.Ended)
                {
                    _ringTokens.Remove((e.Call.Id, e.Agent.AgentId));
                    Handle(new AgentAnswered(at, e.Call.Id, e.Agent.AgentId));
                }

                break;
            case SimKind.HangUp:
                if (!e.Call!.Ended)
                {
                    Handle(new CallHungUp(at, e.Call.Id, e.Token == 1 ? HangupParty.Agent : HangupParty.Caller));
                }

                break;
            case SimKind.Abandon:
                if (!e.Call!.Ended && !e.Call.Connected)
                {
                    Handle(new CallHungUp(at, e.Call.Id));
                }

                break;
            case SimKind.Login:
                Handle(new AgentLogin(at, e.Agent!.AgentId, e.Agent.Extension, e.Agent.Pin));
                break;
            case SimKind.Logout:
                Handle(new AgentLogout(at, e.Agent!.AgentId));
                break;
            case SimKind.Pause:
                Handle(new AgentPause(at, e.Agent!.AgentId, e.Text!));
                break;
            case SimKind.Resume:
                Handle(new AgentResume(at, e.Agent!.AgentId));
                break;
        }
    }

    private void Arrive(CallTraffic stream, DateTimeOffset at)
    {
        var id = "sim-" + (++_callNumber).ToString(CultureInfo.InvariantCulture);
        var call = new SimCall(id, stream);
        _calls.Add(id, call);
        IReadOnlyList<string> skills = [];
        if (stream.SkillMix.Count > 0)
        {
            var total = stream.SkillMix.Sum(m => m.Weight);
            var pick = _random.NextDouble() * total;
            foreach (var (s, w) in stream.SkillMix)
            {
                skills = s;
                pick -= w;
                if (pick < 0)
                {
                    break;
                }
            }
        }

        var caller = new CallerData
        {
            CallerNumber = "1" + _random.Next(Math.Max(1, stream.CallerPool)).ToString("D9", CultureInfo.InvariantCulture),
            Did = stream.Did,
            IsVip = stream.VipShare > 0 && _random.NextDouble() < stream.VipShare,
            RequiredSkills = skills,
        };
        if (stream.Patience is { } patience)
        {
            Add(at + TimeSpan.FromSeconds(patience.Sample(_random)), new SimEvent(SimKind.Abandon, null, call, 0, null));
        }

        Handle(new CallArrived(at, id, stream.Queue, caller));
    }

    /// <summary>Turns the commands of the last step into simulated reactions.</summary>
    private void Drain()
    {
        // Commands may be appended while reacting (none are today), so index rather than foreach.
        for (var i = 0; i < _commands.Count; i++)
        {
            switch (_commands[i])
            {
                case RingAgent r:
                    var token = ++_ringToken;
                    _ringTokens[(r.CallId, r.AgentId)] = token;
                    if (_scenario.NoAnswerProbability <= 0 || _random.NextDouble() >= _scenario.NoAnswerProbability)
                    {
                        var delay = TimeSpan.FromSeconds(_scenario.AnswerDelay.Sample(_random));
                        if (delay < r.RingTimeout && _calls.TryGetValue(r.CallId, out var rc) && _agents.TryGetValue(r.AgentId, out var agent))
                        {
                            Add(Now + delay, new SimEvent(SimKind.Answer, agent, rc, token, null));
                        }
                    }

                    break;
                case StopRinging s:
                    _ringTokens.Remove((s.CallId, s.AgentId));
                    break;
                case ConnectAgent c when _calls.TryGetValue(c.CallId, out var call):
                    call.Connected = true;
                    var byAgent = _random.NextDouble() < _scenario.AgentHangupShare ? 1 : 0;
                    Add(Now + TimeSpan.FromSeconds(call.Stream.TalkTime.Sample(_random)), new SimEvent(SimKind.HangUp, null, call, byAgent, null));
                    break;
            }
        }

        _commands.Clear();
    }

    /// <inheritdoc />
    void IAcdOutput.Execute(AcdCommand command)
    {
        _commands.Add(command);
        _observer?.Execute(command);
    }

    /// <inheritdoc />
    void IAcdOutput.Publish(AcdEvent domainEvent)
    {
        if (domainEvent is CallEnded ended && _calls.Remove(ended.CallId, out var call))
        {
            call.Ended = true;
        }

        if (_scenario.RecordEvents)
        {
            _events.Add(domainEvent);
        }

        _observer?.Publish(domainEvent);
    }
}

/// <summary>What a simulation run produced.</summary>
/// <param name="Statistics">Live statistics at the end.</param>
/// <param name="Events">Every domain event (empty unless recorded).</param>
/// <param name="Calls">Calls generated.</param>
/// <param name="Inputs">Inputs handled by the engine (timers excluded).</param>
/// <param name="TimeAdvances">Deadline firings handled.</param>
/// <param name="EndedAt">Simulated time at the end.</param>
public sealed record SimulationResult(AcdStatistics Statistics, IReadOnlyList<AcdEvent> Events, long Calls, long Inputs, long TimeAdvances, DateTimeOffset EndedAt);
