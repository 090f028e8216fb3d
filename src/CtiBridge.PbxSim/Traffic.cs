using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim;

/// <summary>Inbound traffic: customers calling in on a trunk with Poisson arrivals, patience and talk time.</summary>
public sealed class InboundTraffic
{
    /// <summary>Trunk the customers call in on.</summary>
    public string Trunk { get; set; } = "carrier";

    /// <summary>Number they call (the trunk's context decides what happens).</summary>
    public string Number { get; set; } = "100";

    /// <summary>When not empty, each customer calls one of these numbers (DIDs), drawn uniformly, instead of <see cref="Number"/>.</summary>
    public List<string> Numbers { get; set; } = [];

    /// <summary>
    /// When set, the first customer calls only once a client has registered this Stasis app (the
    /// events WebSocket is open), so a demo's callers do not reach a dialplan whose app is not served yet.
    /// </summary>
    public string? StartWhenAppRegistered { get; set; }

    /// <summary>Model seconds between the start (or the app's registration) and the first arrival's draw.</summary>
    public double StartDelaySeconds { get; set; }

    /// <summary>When above zero, no customer arrives later than this many model seconds after the first draw.</summary>
    public double StopAfterSeconds { get; set; }

    /// <summary>Mean arrival rate (calls per second of model time).</summary>
    public double CallsPerSecond { get; set; } = 1;

    /// <summary>
    /// A day's shape compressed in time: from <see cref="TrafficStep.AfterSeconds"/> (counted like
    /// <see cref="StopAfterSeconds"/>) the arrival rate is that step's <see cref="TrafficStep.CallsPerSecond"/>;
    /// before the first step it is <see cref="CallsPerSecond"/>. Empty: one rate throughout.
    /// </summary>
    public List<TrafficStep> Profile { get; set; } = [];

    /// <summary>Mean patience: a caller not yet bridged to anyone hangs up (abandons) after an exponential draw with this mean.</summary>
    public double MeanPatienceSeconds { get; set; } = 30;

    /// <summary>Mean talk time, counted from when the caller is bridged (exponential); the agent's phone may hang up first.</summary>
    public double MeanTalkSeconds { get; set; } = 60;

    /// <summary>Stop after this many calls (every traffic run is bounded).</summary>
    public int MaxCalls { get; set; } = 100;

    /// <summary>
    /// Share of callers (0-1) who, still waiting after <see cref="CallbackKeyAfterSeconds"/> (mean,
    /// exponential), press <see cref="CallbackKey"/> to be called back instead of waiting (as a
    /// queue's "press 1 to be called back" invites them to). They go on waiting until the system
    /// ends the call, or their patience runs out. 0: nobody presses.
    /// </summary>
    public double CallbackKeyShare { get; set; }

    /// <summary>The key those callers press.</summary>
    public string CallbackKey { get; set; } = "1";

    /// <summary>Mean wait (seconds, exponential) before a caller who will press the callback key presses it.</summary>
    public double CallbackKeyAfterSeconds { get; set; } = 10;

    /// <summary>The arrival rate <paramref name="elapsed"/> after the first draw (<see cref="Profile"/>, else <see cref="CallsPerSecond"/>).</summary>
    public double RateAt(TimeSpan elapsed) =>
        Profile.Where(s => TimeSpan.FromSeconds(s.AfterSeconds) <= elapsed).OrderBy(s => s.AfterSeconds).LastOrDefault()?.CallsPerSecond ?? CallsPerSecond;

    /// <summary>One line per problem, naming the field; empty when the section is usable.</summary>
    public IEnumerable<string> Problems()
    {
        for (var i = 0; i < Profile.Count; i++)
        {
            if (Profile[i].AfterSeconds < 0 || Profile[i].CallsPerSecond < 0 || double.IsNaN(Profile[i].CallsPerSecond))
            {
                yield return $"Traffic.Profile[{i}]: AfterSeconds and CallsPerSecond must be 0 or more, got {Profile[i].AfterSeconds} and {Profile[i].CallsPerSecond}";
            }
        }

        if (CallbackKeyShare is < 0 or > 1 || double.IsNaN(CallbackKeyShare))
        {
            yield return $"Traffic.CallbackKeyShare: a share between 0 and 1, got {CallbackKeyShare}";
        }

        if (CallbackKey is not { Length: 1 } key || "0123456789*#".IndexOf(key[0], StringComparison.Ordinal) < 0)
        {
            yield return $"Traffic.CallbackKey: one DTMF key (0-9, * or #), got '{CallbackKey}'";
        }

        if (CallbackKeyAfterSeconds < 0 || double.IsNaN(CallbackKeyAfterSeconds))
        {
            yield return $"Traffic.CallbackKeyAfterSeconds: need 0 or more, got {CallbackKeyAfterSeconds}";
        }
    }
}

/// <summary>One step of <see cref="InboundTraffic.Profile"/>: from this many seconds on, this arrival rate.</summary>
public sealed class TrafficStep
{
    /// <summary>Seconds after the first draw from which the rate applies.</summary>
    public double AfterSeconds { get; set; }

    /// <summary>Mean arrivals per second from then on (0: nobody calls until the next step).</summary>
    public double CallsPerSecond { get; set; }
}

/// <summary>How customers dialled out through a trunk answer (probabilities add up to at most 1; the rest answer).</summary>
public sealed class DialledCustomers
{
    /// <summary>Share that is busy (cause 17).</summary>
    public double Busy { get; set; } = 0.1;

    /// <summary>Share that never answers.</summary>
    public double NoAnswer { get; set; } = 0.2;

    /// <summary>
    /// Share that is an invalid number (cause 1, CHANUNAVAIL). Decided per number at its first call:
    /// an invalid number stays invalid, and a number that existed once (busy, rang) never turns invalid.
    /// </summary>
    public double Invalid { get; set; } = 0.05;

    /// <summary>Share answered by a machine (answers, then hangs up after <see cref="MachineMessageSeconds"/>).</summary>
    public double Machine { get; set; } = 0.1;

    /// <summary>How long a dialled customer's phone rings before a person or machine answers.</summary>
    public double RingSeconds { get; set; } = 4;

    /// <summary>How long an answering machine talks before hanging up.</summary>
    public double MachineMessageSeconds { get; set; } = 8;

    /// <summary>How long a person who answered stays on before hanging up (0 = until the other side hangs up).</summary>
    public double TalkSeconds { get; set; }

    /// <summary>How long the dialplan's <c>AMD()</c> listens before it sets AMDSTATUS and AMDCAUSE (amd.conf's total analysis time is 5 s).</summary>
    public double AmdSeconds { get; set; } = 2.5;

    /// <summary>
    /// AMD verdicts by dialled number (digits as dialled after the trunk, e.g. <c>2125550003</c>):
    /// MACHINE, HUMAN or NOTSURE, to script detection errors; numbers not listed get MACHINE for
    /// answering machines and HUMAN for people.
    /// </summary>
    public Dictionary<string, string> AmdResults { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Customers scripted by dialled number (digits as dialled after the trunk, e.g. <c>2125550003</c>):
    /// every call to a listed number is that kind, whatever the shares above, so a test can say which
    /// lead is busy, never answers, meets congestion, is invalid, a machine or a person. Numbers not
    /// listed are drawn from the shares.
    /// </summary>
    public Dictionary<string, DialledCustomerKind> Numbers { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>What a dialled number scripted in <see cref="DialledCustomers.Numbers"/> does on every call.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<DialledCustomerKind>))]
public enum DialledCustomerKind
{
    /// <summary>A person answers after <see cref="DialledCustomers.RingSeconds"/> and talks <see cref="DialledCustomers.TalkSeconds"/>.</summary>
    Person,

    /// <summary>An answering machine answers after <see cref="DialledCustomers.RingSeconds"/> and talks <see cref="DialledCustomers.MachineMessageSeconds"/>.</summary>
    Machine,

    /// <summary>Busy at once (cause 17).</summary>
    Busy,

    /// <summary>Rings until the caller gives up.</summary>
    NoAnswer,

    /// <summary>Congestion at once (cause 34, all circuits busy).</summary>
    Congestion,

    /// <summary>Unallocated number (cause 1).</summary>
    Invalid,
}

/// <summary>Runs an <see cref="InboundTraffic"/> profile on the model clock.</summary>
internal sealed class TrafficGenerator(PbxSimulator simulator, InboundTraffic profile, int seed)
{
    /// <summary>How often a waiting caller looks whether it has been bridged yet, and how often the start waits for the app.</summary>
    private static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(250);

    private readonly Random _random = new(seed);
    private int _placed;
    private TimeSpan _elapsed;

    public int Placed => _placed;

    private TimeSpan Exponential(double mean) => TimeSpan.FromSeconds(-mean * Math.Log(1 - _random.NextDouble()));

    /// <summary>Schedules the first arrival (after the app registers, when asked); each arrival schedules the next until <see cref="InboundTraffic.MaxCalls"/>.</summary>
    public void Start()
    {
        lock (simulator.Gate)
        {
            simulator.Trunk(profile.Trunk);
            if (profile.StartWhenAppRegistered is { Length: > 0 } app)
            {
                WaitForApp(app);
            }
            else
            {
                simulator.Model.Schedule(TimeSpan.FromSeconds(profile.StartDelaySeconds), ScheduleNext);
            }
        }
    }

    private void WaitForApp(string app)
    {
        if (simulator.Ari.HasApplication(app))
        {
            simulator.Model.Schedule(TimeSpan.FromSeconds(profile.StartDelaySeconds), ScheduleNext);
        }
        else
        {
            simulator.Model.Schedule(WatchPeriod, () => WaitForApp(app));
        }
    }

    private void ScheduleNext()
    {
        if (_placed >= profile.MaxCalls)
        {
            return;
        }

        var gap = TimeSpan.Zero;
        var rate = profile.RateAt(_elapsed);
        while (rate <= 0)
        {
            // A quiet spell: nobody calls until the next step that has callers (none: the traffic is over).
            var next = profile.Profile.Where(s => TimeSpan.FromSeconds(s.AfterSeconds) > _elapsed && s.CallsPerSecond > 0).OrderBy(s => s.AfterSeconds).FirstOrDefault();
            if (next is null)
            {
                return;
            }

            gap += TimeSpan.FromSeconds(next.AfterSeconds) - _elapsed;
            _elapsed = TimeSpan.FromSeconds(next.AfterSeconds);
            rate = next.CallsPerSecond;
        }

        // The gap is drawn at the rate in force now (a step change takes effect from the next arrival on).
        var draw = Exponential(1 / rate);
        gap += draw;
        _elapsed += draw;
        if (profile.StopAfterSeconds > 0 && _elapsed > TimeSpan.FromSeconds(profile.StopAfterSeconds))
        {
            return;
        }

        simulator.Model.Schedule(gap, Arrive);
    }

    private void Arrive()
    {
        _placed++;
        var number = "555" + _random.Next(1_000_000, 9_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var dialled = profile.Numbers.Count > 0 ? profile.Numbers[_random.Next(profile.Numbers.Count)] : profile.Number;
        var channel = simulator.Model.PlaceCallFrom(profile.Trunk, dialled, number, "Customer " + _placed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var patience = Exponential(profile.MeanPatienceSeconds);
        var talk = Exponential(profile.MeanTalkSeconds);
        // Drawn only when callers may press the key, so profiles without it keep their sequences.
        TimeSpan? pressAfter = profile.CallbackKeyShare > 0 && _random.NextDouble() < profile.CallbackKeyShare
            ? Exponential(profile.CallbackKeyAfterSeconds)
            : null;
        Wait(channel, patience, talk, pressAfter);
        ScheduleNext();
    }

    /// <summary>
    /// The caller waits: once bridged, talks for <paramref name="talk"/> then hangs up; out of
    /// patience first, abandons; still waiting after <paramref name="pressAfter"/>, presses the callback key once.
    /// </summary>
    private void Wait(Model.Channel channel, TimeSpan patienceLeft, TimeSpan talk, TimeSpan? pressAfter)
    {
        if (channel.Gone)
        {
            return;
        }

        if (channel.Bridge is not null)
        {
            simulator.Model.Schedule(talk, () => simulator.Model.RemoteHangup(channel, 16));
        }
        else if (patienceLeft <= TimeSpan.Zero)
        {
            simulator.Model.RemoteHangup(channel, 16);
        }
        else
        {
            if (pressAfter is { } press && press <= TimeSpan.Zero)
            {
                KeysPressed++;
                simulator.Model.RemoteDtmf(channel, profile.CallbackKey[0]);
                pressAfter = null;
            }

            var step = patienceLeft < WatchPeriod ? patienceLeft : WatchPeriod;
            if (pressAfter is { } next && next < step)
            {
                step = next;
            }

            simulator.Model.Schedule(step, () => Wait(channel, patienceLeft - step, talk, pressAfter - step));
        }
    }

    /// <summary>How many callers pressed the callback key.</summary>
    public int KeysPressed { get; private set; }
}
