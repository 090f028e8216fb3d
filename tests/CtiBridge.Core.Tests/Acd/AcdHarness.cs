using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>An engine with an outbox and a clock stepped in seconds from a fixed Monday 09:00 UTC.</summary>
internal sealed class AcdHarness
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    // One PBKDF2 iteration keeps tests fast; production uses AgentPin.DefaultIterations.
    public static readonly string PinHash = AgentPin.Hash("1234", iterations: 1);

    public AcdHarness(IEnumerable<QueueConfiguration> queues, IEnumerable<AgentProfile> agents, Func<AcdConfiguration, AcdConfiguration>? tweak = null)
    {
        var config = new AcdConfiguration { Queues = [.. queues], Agents = [.. agents] };
        Engine = new AcdEngine(tweak is null ? config : tweak(config), Outbox, T0);
    }

    public AcdOutbox Outbox { get; } = new();

    public AcdEngine Engine { get; }

    public double Seconds { get; private set; }

    public DateTimeOffset Now => T0.AddSeconds(Seconds);

    public static QueueConfiguration Queue(string name, string strategy = "leastrecent", Func<QueueConfiguration, QueueConfiguration>? tweak = null)
    {
        var q = new QueueConfiguration
        {
            Name = name,
            Strategy = strategy,
            Experience = new CallerExperience { AnnouncePositionOnJoin = false, PositionAnnouncementPeriod = null },
        };
        return tweak is null ? q : tweak(q);
    }

    public static AgentProfile Agent(string id, params string[] queues) => new()
    {
        AgentId = id,
        PinHash = PinHash,
        Queues = [.. queues.Select(q => q.Contains(':', StringComparison.Ordinal)
            ? new QueueMembership(q.Split(':')[0], int.Parse(q.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture))
            : new QueueMembership(q))],
    };

    public InputOutcome At(double seconds, Func<DateTimeOffset, AcdInput> input)
    {
        Seconds = seconds;
        return Engine.Handle(input(Now));
    }

    public void AdvanceTo(double seconds)
    {
        Seconds = seconds;
        Engine.Handle(new TimeAdvanced(Now));
    }

    public InputOutcome Login(string agent, double at = 0, string pin = "1234", IReadOnlyList<string>? queues = null, IReadOnlyList<string>? skills = null, string? ext = null)
        => At(at, t => new AgentLogin(t, agent, ext ?? "ext-" + agent, pin, queues, skills));

    public InputOutcome Arrive(string call, string queue, double at, CallerData? caller = null)
        => At(at, t => new CallArrived(t, call, queue, caller ?? new CallerData { CallerNumber = "555" + call }));

    public InputOutcome Answer(string call, string agent, double at) => At(at, t => new AgentAnswered(t, call, agent));

    public InputOutcome HangUp(string call, double at, HangupParty by = HangupParty.Caller) => At(at, t => new CallHungUp(t, call, by));

    public IEnumerable<T> Events<T>() where T : AcdEvent => Outbox.Events.OfType<T>();

    public IEnumerable<T> Commands<T>() where T : AcdCommand => Outbox.Commands.OfType<T>();

    /// <summary>The agents rung for a call, in order.</summary>
    public List<string> RungFor(string call) => [.. Commands<RingAgent>().Where(r => r.CallId == call).Select(r => r.AgentId)];

    public AgentState StateOf(string agent) => Engine.GetAgent(agent)!.State;
}
