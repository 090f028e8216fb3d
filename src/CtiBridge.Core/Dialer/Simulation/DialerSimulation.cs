using System.Diagnostics;

namespace CtiBridge.Core.Dialer.Simulation;

/// <summary>One point of the dialer scenario grid: agents, answer rate, ring and talk times.</summary>
public sealed record DialerScenario
{
    /// <summary>Agents logged in for the whole run.</summary>
    public int Agents { get; init; } = 10;

    /// <summary>Share of dials answered by a person.</summary>
    public double LiveAnswerProbability { get; init; } = 0.3;

    /// <summary>Mean talk time (lognormal), seconds.</summary>
    public double MeanTalkSeconds { get; init; } = 120;

    /// <summary>Sigma of the talk-time lognormal.</summary>
    public double TalkSigma { get; init; } = 0.8;

    /// <summary>Wrap-up after each call, seconds.</summary>
    public double WrapUpSeconds { get; init; } = 10;

    /// <summary>Ring time of a live answer: uniform between these, seconds.</summary>
    public (double Min, double Max) LiveRingSeconds { get; init; } = (5, 20);

    /// <summary>Ring time of the other outcomes (busy, no answer ...): uniform between these, seconds.</summary>
    public (double Min, double Max) OtherRingSeconds { get; init; } = (3, 26);

    /// <summary>Excluded from the figures (the dialer's own warm-up).</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Measure at least this long after the warm-up.</summary>
    public TimeSpan MinimumMeasured { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Stop once this many live answers were measured (and the minimum time passed).</summary>
    public int TargetLiveAnswers { get; init; } = 4000;

    /// <summary>Never simulate longer than this.</summary>
    public TimeSpan MaximumMeasured { get; init; } = TimeSpan.FromHours(100);

    /// <summary>Seed of the scenario's randomness (a run is reproducible for a given seed and pacing).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>A short label, e.g. "20 agents, p 0.30, talk 120 s".</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{Agents} agents, p {LiveAnswerProbability:0.00}, talk {MeanTalkSeconds:0} s");
}

/// <summary>The pacing a simulation run uses.</summary>
/// <param name="Mode">Progressive, Power or Predictive.</param>
/// <param name="PowerRatio">Lines per ready agent for Power.</param>
/// <param name="EnforceAbandonLimit">False only for offline ratio tuning (the raw abandon rate of a fixed ratio).</param>
/// <param name="Strategy">For Predictive: another pacing strategy to measure (null: <see cref="PredictivePacing"/>, as campaigns use).</param>
/// <param name="EstimatorWindow">Dial results the campaign's <see cref="PacingEstimator"/> keeps (campaigns: 1 000).</param>
/// <param name="TargetShareOfLimit">Share of the abandon limit predictive pacing aims at (null: as campaigns, 0.85).</param>
/// <param name="SteerOnHeadroom">False: the allowance is steered towards the target share only, the headroom acts through the limit guard alone (campaigns: true).</param>
/// <param name="Foresight">
/// For Predictive, instead of <paramref name="Strategy"/>: a strategy built with what the simulation
/// knows ahead (<see cref="ISimulationForesight"/>), to measure bounds such as an oracle dialer. Never available to campaigns.
/// </param>
/// <param name="FatesKnownAhead">
/// True: every dial's outcome, ring time and talk time are drawn before the dial, in dial order, from a stream of their own,
/// so <see cref="ISimulationForesight.NextDial"/> can tell them (an oracle). False: drawn when they happen, as in every other run.
/// </param>
/// <param name="RingTimeout">
/// The campaign's ring timeout (null: 30 s, longer than any ring of the grid). A line still ringing then is
/// given up as unanswered, the person who would have answered later included (never under the policy's 15 s).
/// </param>
/// <param name="GiveUpRingingLines">For Predictive: give up lines past the minimum ring time when no agent would be free for their answer (campaigns: true).</param>
/// <param name="AbandonBudget">Power and predictive: pace within the abandon budget the service gives one dialer instance alone, as campaigns do (the abandons that still fit; docs/dialer.md, "The compliance ledger across instances"); false: the ledger's guard alone, as before 2026-12-01.</param>
public sealed record SimulatedPacing(DialingMode Mode, double PowerRatio = 1, bool EnforceAbandonLimit = true, IPacingStrategy? Strategy = null, int EstimatorWindow = 1000, double? TargetShareOfLimit = null, bool SteerOnHeadroom = true, Func<ISimulationForesight, IPacingStrategy>? Foresight = null, bool FatesKnownAhead = false, TimeSpan? RingTimeout = null, bool GiveUpRingingLines = true, bool AbandonBudget = true)
{
    /// <summary>A label for tables.</summary>
    public override string ToString() => Mode == DialingMode.Power
        ? FormattableString.Invariant($"power {PowerRatio:0.00}")
        : Mode.ToString().ToLowerInvariant();
}

/// <summary>What happens to one dial of a simulation: whether a person answers, after how long, and how long the talk lasts.</summary>
/// <param name="Live">A person answers.</param>
/// <param name="RingSeconds">Ring time until the answer (live) or the end of the attempt (other outcomes).</param>
/// <param name="TalkSeconds">Talk time if a live answer is connected to an agent.</param>
public readonly record struct DialFate(bool Live, double RingSeconds, double TalkSeconds);

/// <summary>A live answer the simulation knows is coming (or waiting for an agent now).</summary>
/// <param name="AnswerIn">Seconds from now until the answer; negative: answered that long ago and waiting for an agent.</param>
/// <param name="TalkSeconds">Its talk time once connected (NaN when the fates are not known ahead).</param>
public readonly record struct KnownAnswer(double AnswerIn, double TalkSeconds);

/// <summary>
/// What a simulation knows that no real dialer can: the moment each busy agent will be ready, and
/// (with <see cref="SimulatedPacing.FatesKnownAhead"/>) how every dial will end. For measuring bounds
/// (an oracle dialer against the real pacing); campaigns never have it.
/// </summary>
public interface ISimulationForesight
{
    /// <summary>Seconds from the current decision until each busy agent is ready (talk end + wrap-up), in the order of the snapshot's <see cref="AgentSnapshot.Busy"/>.</summary>
    IReadOnlyList<double> ReleasesFromNow { get; }

    /// <summary>Live answers of the lines up now that no agent has taken yet (ringing lines that will be answered by a person, and answers waiting).</summary>
    IReadOnlyList<KnownAnswer> LiveAnswersInFlight { get; }

    /// <summary>Wrap-up after each call, seconds.</summary>
    double WrapUpSeconds { get; }

    /// <summary>The fate of the <paramref name="k"/>-th dial from now (0 = the next one); only with <see cref="SimulatedPacing.FatesKnownAhead"/>.</summary>
    DialFate NextDial(int k);
}

/// <summary>What a simulation run measured (after the warm-up).</summary>
/// <param name="Occupancy">(talk + wrap-up) / logged-in time, 0..1.</param>
/// <param name="AbandonRate">Abandoned / live answers.</param>
/// <param name="LiveAnswers">Live answers measured.</param>
/// <param name="Abandons">Abandons measured.</param>
/// <param name="Dials">Dials placed in the measured period.</param>
/// <param name="Measured">Simulated time measured.</param>
/// <param name="DialerCpu">Wall time spent inside the dialer (plans and call events) over the whole run.</param>
/// <param name="Simulated">Whole simulated time (warm-up included).</param>
/// <param name="LedgerAbandonRate">The compliance ledger's campaign-to-date rate at the end (warm-up included).</param>
public sealed record SimulationResult(
    double Occupancy,
    double AbandonRate,
    int LiveAnswers,
    int Abandons,
    long Dials,
    TimeSpan Measured,
    TimeSpan DialerCpu,
    TimeSpan Simulated,
    double LedgerAbandonRate);

/// <summary>
/// A discrete-event simulation of one campaign: customers, agents with talk and wrap-up, and the
/// 2 s connect rule, driving the real <see cref="CampaignDialer"/> (the same pacing code as
/// production) on simulated time. Deterministic for a given scenario seed.
/// </summary>
public static class DialerSimulation
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);
    private static readonly IReadOnlySet<string> NoDoNotCall = new HashSet<string>();

    /// <summary>Runs the scenario with the given pacing.</summary>
    public static SimulationResult Run(DialerScenario scenario, SimulatedPacing pacing)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(pacing);
        return new SimulationRun(scenario, pacing).Execute();
    }

    /// <summary>
    /// Offline tuning: the fixed power ratio with the highest occupancy whose raw abandon rate is
    /// at most <paramref name="maxAbandonRate"/> (bisection: abandons and occupancy both grow with the ratio).
    /// </summary>
    public static (double Ratio, SimulationResult Result) TunePowerRatio(DialerScenario scenario, double maxAbandonRate = 0.03, int steps = 7)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        double lo = 1, hi = Math.Min(20, 2.5 / scenario.LiveAnswerProbability);
        var best = Run(scenario, new SimulatedPacing(DialingMode.Power, lo, EnforceAbandonLimit: false));
        var bestRatio = lo;
        if (best.AbandonRate > maxAbandonRate)
        {
            return (lo, best);
        }

        for (var i = 0; i < steps; i++)
        {
            var mid = (lo + hi) / 2;
            var result = Run(scenario, new SimulatedPacing(DialingMode.Power, mid, EnforceAbandonLimit: false));
            if (result.AbandonRate <= maxAbandonRate)
            {
                lo = mid;
                if (result.Occupancy >= best.Occupancy)
                {
                    (best, bestRatio) = (result, mid);
                }
            }
            else
            {
                hi = mid;
            }
        }

        return (bestRatio, best);
    }

    private enum EventKind
    {
        Tick,
        RingEnd,
        ConnectDeadline,
        TalkEnd,
        WrapUpEnd,
        MessageEnd,
    }

    private sealed class SimulationRun : ISimulationForesight
    {
        private const double AbandonMessageSeconds = 8;
        private readonly DialerScenario _s;
        private readonly CampaignDialer _dialer;
        private readonly Random _random;
        private readonly PriorityQueue<(EventKind Kind, string CallId, int Agent), (double, long)> _events = new();
        private readonly Dictionary<string, SimulatedCall> _calls = new(StringComparer.Ordinal);
        private readonly LinkedList<string> _waiting = new();
        private readonly Queue<int> _ready = new();
        private readonly double[] _busySince;
        private readonly double[] _wrapUntil;
        private readonly bool[] _talking;
        private readonly double[] _talkEnd;
        private readonly List<double> _releasesFromNow = [];
        private readonly List<DialFate> _fatesAhead = [];
        private readonly Random? _fateRandom;
        private readonly double _measureFrom;
        private readonly Stopwatch _dialerTime = new();
        private readonly double _ringTimeout;
        private long _sequence;
        private long _leadCounter;
        private double _now;
        private double _busyMeasured;
        private int _live;
        private int _abandons;
        private long _dials;

        private readonly bool _abandonBudget;

        public SimulationRun(DialerScenario scenario, SimulatedPacing pacing)
        {
            _s = scenario;
#pragma warning disable CA5394 // Simulation randomness: seeded and reproducible on purpose.
            _random = new Random(scenario.Seed);
#pragma warning restore CA5394
            var campaign = new Campaign
            {
                Id = "sim",
                AgentGroup = "sim",
                Mode = pacing.Mode,
                PowerRatio = pacing.PowerRatio,
                CallerId = "+18005550100",
                TrunkPrefix = "PJSIP/sim/",
                AbandonMessage = "abandon",
                Windows = CallingWindows.EveryDay(TimeOnly.MinValue, TimeOnly.MaxValue),
                Start = Epoch,
                MaxConcurrentLines = Math.Max(10, (int)Math.Ceiling(scenario.Agents * 4 / scenario.LiveAnswerProbability)),
                RingTimeout = pacing.RingTimeout ?? TimeSpan.FromSeconds(30),
            };
            _ringTimeout = campaign.RingTimeout.TotalSeconds;
            if (pacing.FatesKnownAhead)
            {
#pragma warning disable CA5394 // Simulation randomness: seeded and reproducible on purpose.
                _fateRandom = new Random(unchecked((scenario.Seed * 7919) + 17));
#pragma warning restore CA5394
            }

            var strategy = pacing.Mode != DialingMode.Predictive ? null : pacing.Foresight is { } foresight ? foresight(this) : pacing.Strategy;
            _dialer = new CampaignDialer(campaign, new LeadTimeZones(new Dictionary<string, string>(), "UTC"), strategy, new PacingEstimator(pacing.EstimatorWindow))
            {
                EnforceAbandonLimit = pacing.EnforceAbandonLimit,
            };
            _dialer.SteerOnHeadroom = pacing.SteerOnHeadroom;
            _dialer.GiveUpRingingLines = pacing.GiveUpRingingLines;
            _abandonBudget = pacing.AbandonBudget;
            if (pacing.TargetShareOfLimit is { } share)
            {
                _dialer.TargetShareOfLimit = share;
            }

            _busySince = new double[scenario.Agents];
            _wrapUntil = new double[scenario.Agents];
            _talking = new bool[scenario.Agents];
            _talkEnd = new double[scenario.Agents];
            for (var a = 0; a < scenario.Agents; a++)
            {
                _ready.Enqueue(a);
            }

            _measureFrom = scenario.WarmUp.TotalSeconds;
        }

        public IReadOnlyList<double> ReleasesFromNow => _releasesFromNow;

        public IReadOnlyList<KnownAnswer> LiveAnswersInFlight
        {
            get
            {
                var answers = new List<KnownAnswer>();
                foreach (var call in _calls.Values)
                {
                    if (call.Live && call.Stage is CallStage.Ringing or CallStage.Waiting)
                    {
                        answers.Add(new KnownAnswer(call.AnswerAt - _now, call.TalkSeconds));
                    }
                }

                return answers;
            }
        }

        public double WrapUpSeconds => _s.WrapUpSeconds;

        public DialFate NextDial(int k)
        {
            if (_fateRandom is null)
            {
                throw new InvalidOperationException("the dials' fates are drawn when they happen in this run; set SimulatedPacing.FatesKnownAhead to know them ahead");
            }

            ArgumentOutOfRangeException.ThrowIfNegative(k);
            while (_fatesAhead.Count <= k)
            {
                var live = _fateRandom.NextDouble() < _s.LiveAnswerProbability;
                var (min, max) = live ? _s.LiveRingSeconds : _s.OtherRingSeconds;
                var ring = min + (_fateRandom.NextDouble() * (max - min));
                _fatesAhead.Add(new DialFate(live, ring, TalkTime(_fateRandom)));
            }

            return _fatesAhead[k];
        }

        public SimulationResult Execute()
        {
            Schedule(0, EventKind.Tick, "", -1);
            var minEnd = _measureFrom + _s.MinimumMeasured.TotalSeconds;
            var maxEnd = _measureFrom + _s.MaximumMeasured.TotalSeconds;
            while (_events.TryDequeue(out var ev, out var key))
            {
                _now = key.Item1;
                if (_now >= maxEnd || (_now >= minEnd && _live >= _s.TargetLiveAnswers))
                {
                    break;
                }

                Handle(ev.Kind, ev.CallId, ev.Agent);
            }

            // Busy time of agents still talking or in wrap-up at the end.
            for (var a = 0; a < _s.Agents; a++)
            {
                if (_talking[a] || _wrapUntil[a] > _now)
                {
                    AddBusy(_busySince[a], _now);
                }
            }

            var measured = _now - _measureFrom;
            var ledger = _dialer.Ledger.CampaignToDate;
            return new SimulationResult(
                measured <= 0 ? 0 : _busyMeasured / (_s.Agents * measured),
                _live == 0 ? 0 : (double)_abandons / _live,
                _live,
                _abandons,
                _dials,
                TimeSpan.FromSeconds(measured),
                _dialerTime.Elapsed,
                TimeSpan.FromSeconds(_now),
                ledger.Rate);
        }

        private static DateTimeOffset At(double seconds) => Epoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));

        private void Schedule(double at, EventKind kind, string callId, int agent) =>
            _events.Enqueue((kind, callId, agent), (at, _sequence++));

        private void Handle(EventKind kind, string callId, int agent)
        {
            switch (kind)
            {
                case EventKind.Tick:
                    Plan();
                    Schedule(_now + 1, EventKind.Tick, "", -1);
                    break;
                case EventKind.RingEnd:
                    RingEnd(callId);
                    break;
                case EventKind.ConnectDeadline:
                    if (_waiting.Remove(callId))
                    {
                        _calls[callId].Stage = CallStage.Message;
                        Timed(() => _dialer.OnAbandoned(callId, At(_now), messagePlayed: true));
                        Count(abandoned: true);
                        Schedule(_now + AbandonMessageSeconds, EventKind.MessageEnd, callId, -1);
                    }

                    break;
                case EventKind.MessageEnd:
                    _calls.Remove(callId);
                    Timed(() => _dialer.OnCallEnded(callId, At(_now)));
                    break;
                case EventKind.TalkEnd:
                    _calls.Remove(callId);
                    Timed(() => _dialer.OnCallEnded(callId, At(_now)));
                    _talking[agent] = false;
                    _wrapUntil[agent] = _now + _s.WrapUpSeconds;
                    Schedule(_wrapUntil[agent], EventKind.WrapUpEnd, "", agent);
                    break;
                case EventKind.WrapUpEnd:
                    AddBusy(_busySince[agent], _now);
                    Timed(() => _dialer.OnWrapUpEnded(TimeSpan.FromSeconds(_s.WrapUpSeconds)));
                    AgentReady(agent);
                    Plan();
                    break;
            }
        }

        private void RingEnd(string callId)
        {
            if (!_calls.TryGetValue(callId, out var call) || call.Stage != CallStage.Ringing)
            {
                // Given up by the dialer before it ended.
                return;
            }

            if (!call.Live)
            {
                _calls.Remove(callId);
                Timed(() => _dialer.OnCallEnded(callId, At(_now), CallOutcome.NoAnswer));
                return;
            }

            Timed(() => _dialer.OnAnswered(callId, At(_now), CallOutcome.HumanAnswer));
            if (_ready.TryDequeue(out var agent))
            {
                Connect(callId, agent);
            }
            else
            {
                call.Stage = CallStage.Waiting;
                _waiting.AddLast(callId);
                Schedule(_now + 2, EventKind.ConnectDeadline, callId, -1);
            }
        }

        private void AgentReady(int agent)
        {
            if (_waiting.First is { } first)
            {
                _waiting.RemoveFirst();
                Connect(first.Value, agent);
            }
            else
            {
                _ready.Enqueue(agent);
            }
        }

        private void Connect(string callId, int agent)
        {
            Timed(() => _dialer.OnAgentConnected(callId, At(_now)));
            Count(abandoned: false);
            var call = _calls[callId];
            call.Stage = CallStage.Talking;
            _talking[agent] = true;
            _busySince[agent] = _now;
            var talk = double.IsNaN(call.TalkSeconds) ? TalkTime(_random) : call.TalkSeconds;
            _talkEnd[agent] = _now + talk;
            Schedule(_now + talk, EventKind.TalkEnd, callId, agent);
        }

        private double TalkTime(Random random)
        {
            var mu = Math.Log(_s.MeanTalkSeconds) - (_s.TalkSigma * _s.TalkSigma / 2);
            return Math.Exp(mu + (_s.TalkSigma * Normal(random)));
        }

        private void Plan()
        {
            var busy = new List<BusyAgent>(_s.Agents);
            _releasesFromNow.Clear();
            for (var a = 0; a < _s.Agents; a++)
            {
                if (_talking[a])
                {
                    busy.Add(new BusyAgent(TimeSpan.FromSeconds(_now - _busySince[a])));
                    _releasesFromNow.Add(_talkEnd[a] + _s.WrapUpSeconds - _now);
                }
                else if (_wrapUntil[a] > _now)
                {
                    _releasesFromNow.Add(_wrapUntil[a] - _now);
                    busy.Add(new BusyAgent(TimeSpan.FromSeconds(_wrapUntil[a] - _s.WrapUpSeconds - _busySince[a]), TimeSpan.FromSeconds(_wrapUntil[a] - _now)));
                }
            }

            var snapshot = new AgentSnapshot(_s.Agents, _ready.Count, busy);
            _dialerTime.Start();

            // The service's abandon budget as one instance alone gets it (OutboundDialer, TrunkLines.AbandonBudgetAsync):
            // the abandons that still fit, with no other instance's lines at risk.
            int? budget = null;
            if (_abandonBudget)
            {
                var ledger = _dialer.Ledger;
                budget = ComplianceLedger.WholeAbandons(ComplianceLedger.AbandonsThatFit(ledger.Policy, ledger.Measured(At(_now)), ledger.Rolling(At(_now))));
            }

            var plan = _dialer.Plan(At(_now), snapshot, FreshLeads(), NoDoNotCall, abandonBudget: budget);
            _dialerTime.Stop();
            foreach (var givenUp in plan.GivenUp)
            {
                // Hung up by the dialer: whoever would have answered later is never reached.
                _calls.Remove(givenUp.Call.CallId);
            }

            foreach (var order in plan.Orders)
            {
                DialFate fate;
                if (_fateRandom is null)
                {
                    var live = _random.NextDouble() < _s.LiveAnswerProbability;
                    var (min, max) = live ? _s.LiveRingSeconds : _s.OtherRingSeconds;
                    fate = new DialFate(live, min + (_random.NextDouble() * (max - min)), double.NaN);
                }
                else
                {
                    fate = NextDial(0);
                    _fatesAhead.RemoveAt(0);
                }

                if (fate.RingSeconds > _ringTimeout)
                {
                    // Given up at the ring timeout: whoever would have answered later is never reached.
                    fate = new DialFate(false, _ringTimeout, fate.TalkSeconds);
                }

                _calls[order.Call.CallId] = new SimulatedCall(fate.Live, _now + fate.RingSeconds, fate.TalkSeconds);
                Schedule(_now + fate.RingSeconds, EventKind.RingEnd, order.Call.CallId, -1);
                if (_now >= _measureFrom)
                {
                    _dials++;
                }
            }
        }

        private IEnumerable<Lead> FreshLeads()
        {
            while (true)
            {
                var n = ++_leadCounter;
                yield return new Lead { Id = "L" + n.ToString(System.Globalization.CultureInfo.InvariantCulture), PhoneNumber = "+1212" + (n % 10_000_000).ToString("0000000", System.Globalization.CultureInfo.InvariantCulture) };
            }
        }

        private void Count(bool abandoned)
        {
            if (_now < _measureFrom)
            {
                return;
            }

            _live++;
            if (abandoned)
            {
                _abandons++;
            }
        }

        private void AddBusy(double from, double to)
        {
            var start = Math.Max(from, _measureFrom);
            if (to > start)
            {
                _busyMeasured += to - start;
            }
        }

        private void Timed(Action action)
        {
            _dialerTime.Start();
            action();
            _dialerTime.Stop();
        }

        private static double Normal(Random random)
        {
            // Box-Muller: two uniforms -> one standard normal.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        }
    }

    private enum CallStage
    {
        Ringing,
        Waiting,
        Talking,
        Message,
    }

    /// <summary>A line of the simulation: its fate, and where it is now.</summary>
    private sealed class SimulatedCall(bool live, double answerAt, double talkSeconds)
    {
        public bool Live { get; } = live;

        /// <summary>When a live line is (or was) answered; the end of the ringing for the other outcomes.</summary>
        public double AnswerAt { get; } = answerAt;

        /// <summary>Talk time when known ahead; NaN: drawn at the connection.</summary>
        public double TalkSeconds { get; } = talkSeconds;

        public CallStage Stage { get; set; } = CallStage.Ringing;
    }

}
