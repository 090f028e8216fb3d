using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Simulation;

/// <summary>
/// A discrete-event simulation scenario: the ACD configuration, traffic per queue, agents with
/// their shifts, and how agents and callers behave. Seeded: the same scenario gives the same run.
/// </summary>
public sealed record SimulationScenario
{
    /// <summary>The ACD configuration driven (queues and agent profiles).</summary>
    public required AcdConfiguration Acd { get; init; }

    /// <summary>Simulated start time.</summary>
    public DateTimeOffset Start { get; init; } = new(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);

    /// <summary>How long calls keep arriving. The run ends when arrivals stop and every call has left.</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>Calls arriving, per queue.</summary>
    public required IReadOnlyList<CallTraffic> Traffic { get; init; }

    /// <summary>Agents logging in and out.</summary>
    public required IReadOnlyList<SimulatedAgent> Agents { get; init; }

    /// <summary>Time an agent takes to answer a ringing phone.</summary>
    public Distribution AnswerDelay { get; init; } = Distribution.Fixed(0);

    /// <summary>Probability that an agent lets a ringing phone ring out.</summary>
    public double NoAnswerProbability { get; init; }

    /// <summary>Share of connected calls ended by the agent (the rest by the caller).</summary>
    public double AgentHangupShare { get; init; } = 0.5;

    /// <summary>Seed of the simulation's random source (arrivals, durations, behaviour).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Keep every domain event in <see cref="SimulationResult.Events"/> (memory grows with the run).</summary>
    public bool RecordEvents { get; init; } = true;
}

/// <summary>Calls arriving in one queue as a Poisson process.</summary>
public sealed record CallTraffic
{
    /// <summary>The queue.</summary>
    public required string Queue { get; init; }

    /// <summary>Mean arrivals per hour (at hourly shape 1).</summary>
    public required double CallsPerHour { get; init; }

    /// <summary>Optional 24 multipliers of the rate per hour of day (simulated local = UTC), e.g. a day/night profile.</summary>
    public IReadOnlyList<double>? HourlyShape { get; init; }

    /// <summary>Talk time of an answered call.</summary>
    public required Distribution TalkTime { get; init; }

    /// <summary>Caller patience: the caller hangs up after this wait if not answered; null for infinite patience.</summary>
    public Distribution? Patience { get; init; }

    /// <summary>Share of callers flagged VIP.</summary>
    public double VipShare { get; init; }

    /// <summary>Skill requirements with weights (e.g. 70 % none, 30 % cantonese); empty for none.</summary>
    public IReadOnlyList<(IReadOnlyList<string> Skills, double Weight)> SkillMix { get; init; } = [];

    /// <summary>Number of distinct caller numbers drawn from (repeat callers make sticky routing meaningful).</summary>
    public int CallerPool { get; init; } = 100_000;

    /// <summary>Dialled number put into caller data.</summary>
    public string? Did { get; init; }
}

/// <summary>An agent in the simulation.</summary>
/// <param name="AgentId">Agent ID (must have a profile in the ACD configuration).</param>
/// <param name="Pin">PIN typed at login.</param>
/// <param name="Extension">Extension.</param>
/// <param name="Shifts">Login periods, as offsets from the scenario start.</param>
public sealed record SimulatedAgent(string AgentId, string Pin, string Extension, IReadOnlyList<Shift> Shifts)
{
    /// <summary>Pauses during shifts (offset from scenario start, duration, reason).</summary>
    public IReadOnlyList<Break> Breaks { get; init; } = [];
}

/// <summary>A login period.</summary>
/// <param name="From">Offset of login from the scenario start.</param>
/// <param name="To">Offset of logout from the scenario start.</param>
public sealed record Shift(TimeSpan From, TimeSpan To);

/// <summary>A pause during a shift.</summary>
/// <param name="At">Offset from the scenario start.</param>
/// <param name="Length">Pause length.</param>
/// <param name="Reason">Pause reason code.</param>
public sealed record Break(TimeSpan At, TimeSpan Length, string Reason);

/// <summary>Helpers to build common scenarios.</summary>
public static class SimulationScenarios
{
    /// <summary>
    /// A single queue served by <paramref name="agents"/> agents all shift long: the textbook
    /// M/M/N(+M) system used for the Erlang C / Erlang A check.
    /// </summary>
    public static SimulationScenario SingleQueue(
        int agents, double callsPerHour, double meanTalkSeconds, TimeSpan duration, Distribution? patience = null,
        string strategy = "leastrecent", int seed = 1, bool recordEvents = true, TimeSpan? wrapUp = null)
    {
        var pinHash = AgentPin.Hash("0000", iterations: 1);
        var ids = Enumerable.Range(1, agents).Select(i => "A" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        return new SimulationScenario
        {
            Acd = new AcdConfiguration
            {
                Queues = [new QueueConfiguration
                {
                    Name = "main",
                    Strategy = strategy,
                    WrapUp = wrapUp ?? TimeSpan.Zero,
                    Experience = new CallerExperience { AnnouncePositionOnJoin = false, PositionAnnouncementPeriod = null },
                }],
                Agents = [.. ids.Select(id => new AgentProfile { AgentId = id, PinHash = pinHash, Queues = [new QueueMembership("main")] })],
                AutoPauseAfterConsecutiveNoAnswers = 0,
            },
            Duration = duration,
            Traffic = [new CallTraffic { Queue = "main", CallsPerHour = callsPerHour, TalkTime = Distribution.Exponential(meanTalkSeconds), Patience = patience }],
            Agents = [.. ids.Select(id => new SimulatedAgent(id, "0000", "ext" + id, [new Shift(TimeSpan.Zero, duration + TimeSpan.FromDays(1))]))],
            Seed = seed,
            RecordEvents = recordEvents,
        };
    }

    /// <summary>
    /// A busy hour of a multi-skill centre: <paramref name="seats"/> agents over <paramref name="queues"/>
    /// queues and <paramref name="skills"/> skills, each agent in 3 queues with 3 skills, offered
    /// load for about 90 % occupancy, 30 s wrap-up, impatient callers and some ring-no-answers.
    /// </summary>
    public static SimulationScenario BusyHour(int seats, int queues = 20, int skills = 50, int seed = 1, bool recordEvents = false)
    {
        var pinHash = AgentPin.Hash("0000", iterations: 1);
        var random = new Random(seed);
        var queueNames = Enumerable.Range(1, queues).Select(i => "q" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var skillNames = Enumerable.Range(1, skills).Select(i => "s" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var profiles = new List<AgentProfile>();
        var agents = new List<SimulatedAgent>();
        for (var i = 0; i < seats; i++)
        {
            var id = "A" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture);
            var myQueues = new HashSet<string> { queueNames[i % queues], queueNames[(i * 7 + 3) % queues], queueNames[(i * 13 + 5) % queues] };
            var mySkills = new Dictionary<string, int>
            {
                [skillNames[i % skills]] = 1 + random.Next(10),
                [skillNames[(i * 3 + 1) % skills]] = 1 + random.Next(10),
                [skillNames[(i * 11 + 7) % skills]] = 1 + random.Next(10),
            };
            profiles.Add(new AgentProfile
            {
                AgentId = id,
                PinHash = pinHash,
                Queues = [.. myQueues.Select((q, k) => new QueueMembership(q, k))],
                Skills = mySkills,
            });
            agents.Add(new SimulatedAgent(id, "0000", "ext" + id, [new Shift(TimeSpan.FromSeconds(random.Next(60)), TimeSpan.FromHours(2))])
            {
                Breaks = i % 10 == 0 ? [new Break(TimeSpan.FromMinutes(20 + random.Next(20)), TimeSpan.FromMinutes(10), PauseReasons.Break)] : [],
            });
        }

        const double talk = 240;
        const double wrap = 30;
        var callsPerHour = seats * 0.9 * 3600 / (talk + wrap);
        var strategies = new[] { "leastrecent", "fewestcalls", "rrmemory", "linear", "skills", "least-talk-time", "random", "wrandom", "ringall", "sticky" };
        return new SimulationScenario
        {
            Acd = new AcdConfiguration
            {
                Queues = [.. queueNames.Select((q, k) => new QueueConfiguration
                {
                    Name = q,
                    Strategy = strategies[k % strategies.Length],
                    WrapUp = TimeSpan.FromSeconds(wrap),
                    Overflow = [new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToCallbackOffer(), TimeSpan.FromMinutes(5))],
                    Experience = new CallerExperience { PositionAnnouncementPeriod = TimeSpan.FromSeconds(60) },
                })],
                Agents = profiles,
            },
            Duration = TimeSpan.FromHours(1),
            Traffic = [.. queueNames.Select(q => new CallTraffic
            {
                Queue = q,
                CallsPerHour = callsPerHour / queues,
                TalkTime = Distribution.LogNormal(talk, 120),
                Patience = Distribution.Exponential(180),
                VipShare = 0.05,
                SkillMix = [([], 0.5), .. skillNames.Take(10).Select(s => ((IReadOnlyList<string>)[s], 0.05))],
                CallerPool = seats * 20,
            })],
            Agents = agents,
            AnswerDelay = Distribution.Uniform(1, 6),
            NoAnswerProbability = 0.02,
            Seed = seed,
            RecordEvents = recordEvents,
        };
    }
}
