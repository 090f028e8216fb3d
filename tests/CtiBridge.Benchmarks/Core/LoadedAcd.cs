using System.Diagnostics;
using System.Globalization;
using CtiBridge.Core.Acd;

namespace CtiBridge.Benchmarks.Core;

/// <summary>
/// An ACD under steady load: every agent on a call, a backlog of waiting calls, 20 queues and
/// 50 skills. One <see cref="Cycle"/> = an agent hangs up, takes the best waiting call (offer +
/// answer), and a new call arrives, so the backlog stays constant. Every engine input is timed
/// individually for percentiles.
/// </summary>
internal sealed class LoadedAcd : IAcdOutput
{
    private readonly AcdEngine _engine;
    private readonly Queue<string> _onCall = new();
    private readonly List<(string Call, string Agent)> _rung = [];
    private readonly string[] _queues;
    private readonly string[] _skills;
    private readonly List<AgentProfile> _profiles;
    private readonly int _backlog;
    private int _openVisits;
    private readonly Random _random = new(42);
    private DateTimeOffset _now = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);
    private long _callNumber;
    private long[] _ticks = new long[1 << 20];
    private int _samples;

    public LoadedAcd(int agents, int waitingCalls, int queues = 20, int skills = 50)
    {
        _queues = [.. Enumerable.Range(0, queues).Select(i => "q" + i.ToString(CultureInfo.InvariantCulture))];
        _skills = [.. Enumerable.Range(0, skills).Select(i => "s" + i.ToString(CultureInfo.InvariantCulture))];
        _backlog = waitingCalls;
        var pin = AgentPin.Hash("0000", iterations: 1);
        var profiles = _profiles = Enumerable.Range(0, agents).Select(i => new AgentProfile
        {
            AgentId = "A" + i.ToString(CultureInfo.InvariantCulture),
            PinHash = pin,
            Queues = [.. new[] { i % queues, (i * 7 + 3) % queues, (i * 13 + 5) % queues }.Distinct().Select((q, k) => new QueueMembership(_queues[q], k))],
            Skills = new[] { i % skills, (i * 3 + 1) % skills, (i * 11 + 7) % skills }.Distinct().ToDictionary(s => _skills[s], s => 1 + (s % 10)),
        }).ToList();
        var strategies = new[] { "leastrecent", "fewestcalls", "rrmemory", "linear", "skills", "least-talk-time", "random", "wrandom", "ringall", "rrordered" };
        var config = new AcdConfiguration
        {
            Queues = [.. _queues.Select((q, k) => new QueueConfiguration
            {
                Name = q,
                Strategy = strategies[k % strategies.Length],
                WrapUp = TimeSpan.Zero,
                RingTimeout = TimeSpan.FromHours(1),
                Experience = new CallerExperience { AnnouncePositionOnJoin = false, PositionAnnouncementPeriod = null },
            })],
            Agents = profiles,
        };
        _engine = new AcdEngine(config, this, _now);
        foreach (var p in profiles)
        {
            Input(new AgentLogin(Tick(), p.AgentId, "x" + p.AgentId, "0000"));
            AnswerRung();
        }

        // Fill every agent, then build the backlog.
        while (_onCall.Count < agents || _openVisits < waitingCalls)
        {
            NewCall();
            AnswerRung();
        }

        _samples = 0;
    }

    public long Inputs { get; private set; }

    public int Waiting => _queues.Sum(q => _engine.GetQueueStatus(q).Waiting);

    private int WaitingElsewhere() => _queues.Skip(1).Sum(q => _engine.GetQueueStatus(q).Waiting);

    private DateTimeOffset Tick() => _now = _now.AddMilliseconds(1);

    /// <summary>One steady-state cycle; returns the number of engine inputs it took.</summary>
    public int Cycle()
    {
        var before = Inputs;
        if (_onCall.TryDequeue(out var call))
        {
            Input(new CallHungUp(Tick(), call, HangupParty.Agent));
            AnswerRung();
        }

        // Keep the backlog where it is: a new call only when one left.
        if (_openVisits < _backlog)
        {
            NewCall();
            AnswerRung();
        }

        return (int)(Inputs - before);
    }

    private void NewCall()
    {
        var id = "c" + (++_callNumber).ToString(CultureInfo.InvariantCulture);
        var roll = _random.Next(100);

        // A queue and (half the time) a skill of some agent: every call can be served by someone.
        var profile = _profiles[_random.Next(_profiles.Count)];
        var queue = profile.Queues[_random.Next(profile.Queues.Count)].Queue;
        IReadOnlyList<string> skills = roll < 50 ? [] : [profile.Skills.Keys.ElementAt(_random.Next(profile.Skills.Count))];
        Input(new CallArrived(Tick(), id, queue, new CallerData
        {
            CallerNumber = "1" + _random.Next(1_000_000).ToString(CultureInfo.InvariantCulture),
            IsVip = roll % 20 == 0,
            RequiredSkills = skills,
        }));
    }

    private void AnswerRung()
    {
        while (_rung.Count > 0)
        {
            var (call, agent) = _rung[^1];
            _rung.RemoveAt(_rung.Count - 1);
            if (_engine.Handle(new TimeAdvanced(_now)).Accepted && Input(new AgentAnswered(Tick(), call, agent)).Accepted)
            {
                _onCall.Enqueue(call);
                _rung.RemoveAll(r => r.Call == call); // ringall: the others stopped ringing
            }
        }
    }

    private InputOutcome Input(AcdInput input)
    {
        var start = Stopwatch.GetTimestamp();
        var outcome = _engine.Handle(input);
        var elapsed = Stopwatch.GetTimestamp() - start;
        Inputs++;
        if (_samples == _ticks.Length)
        {
            Array.Resize(ref _ticks, _ticks.Length * 2);
        }

        _ticks[_samples++] = elapsed;
        return outcome;
    }

    /// <summary>p50 / p99 / p99.9 / max of the inputs timed since construction or the last reset, in microseconds.</summary>
    public string Percentiles()
    {
        if (_samples == 0)
        {
            return "no samples";
        }

        var sorted = _ticks.AsSpan(0, _samples).ToArray();
        Array.Sort(sorted);
        double Us(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))] * 1e6 / Stopwatch.Frequency;
        return string.Create(CultureInfo.InvariantCulture,
            $"inputs {_samples}: p50 {Us(0.50):0.0} µs, p99 {Us(0.99):0.0} µs, p99.9 {Us(0.999):0.0} µs, max {Us(1.0):0.0} µs");
    }

    public void ResetSamples() => _samples = 0;

    void IAcdOutput.Execute(AcdCommand command)
    {
        if (command is RingAgent r)
        {
            _rung.Add((r.CallId, r.AgentId));
        }
    }

    void IAcdOutput.Publish(AcdEvent domainEvent)
    {
        if (domainEvent is CallEnqueued)
        {
            _openVisits++;
        }
        else if (domainEvent is QueueVisitEnded)
        {
            _openVisits--;
        }
    }
}
