using System.Globalization;

namespace CtiBridge.Core.Dialer;

/// <summary>Live figures of one campaign for the wallboard and metrics.</summary>
/// <param name="Lines">Calls up (ringing, waiting for an agent, connected).</param>
/// <param name="Ringing">Calls ringing.</param>
/// <param name="WaitingForAgent">Live answers waiting for an agent (at most the connect deadline).</param>
/// <param name="AgentsWaiting">Ready agents waiting for a call.</param>
/// <param name="Measured">The abandon tally that counts now (campaign-to-date or rolling window).</param>
/// <param name="Rolling">The rolling-window abandon tally.</param>
/// <param name="CampaignToDate">The campaign-to-date abandon tally.</param>
/// <param name="DialLevel">Lines ringing or waiting per ready agent (0 when no agent is ready).</param>
/// <param name="EffectiveMode">The mode the last plan used.</param>
/// <param name="LiveAnswerProbability">The estimated live-answer probability.</param>
public sealed record DialerStats(
    int Lines,
    int Ringing,
    int WaitingForAgent,
    int AgentsWaiting,
    AbandonTally Measured,
    AbandonTally Rolling,
    AbandonTally CampaignToDate,
    double DialLevel,
    DialingMode EffectiveMode,
    double LiveAnswerProbability);

/// <summary>
/// The dialer of one campaign: decides which leads to dial now (pacing, windows, DNC, line cap,
/// one call per lead), follows each call from dial to hang-up, keeps the compliance ledger and
/// the pacing statistics, and says what becomes of each lead. Pure domain code: time and agents
/// are inputs; not thread-safe (one campaign = one logical owner).
/// </summary>
public sealed class CampaignDialer
{
    private readonly Dictionary<string, DialedCall> _calls = new(StringComparer.Ordinal);
    private readonly HashSet<string> _leadsInCall = new(StringComparer.Ordinal);
    private readonly HashSet<string> _numbersInCall = new(StringComparer.Ordinal);
    private readonly HashSet<string> _previewed = new(StringComparer.Ordinal);
    private readonly IPacingStrategy _pacing;
    private readonly LeadTimeZones _zones;
    private const double MinimumAllowance = 1e-3;
    private long _sequence;
    private DialingMode _lastMode;

    // Log of the abandon allowance handed to predictive pacing, steered by the realised abandons.
    private double _logAllowance;

    /// <summary>Creates the dialer; throws <see cref="DialerConfigurationException"/> when the campaign is invalid.</summary>
    /// <param name="campaign">The campaign (validated here).</param>
    /// <param name="zones">How leads' time zones are found.</param>
    /// <param name="pacing">Pacing to use instead of the mode's default (tests and simulations).</param>
    /// <param name="estimator">Statistics to start from (e.g. restored from the database); new when null.</param>
    public CampaignDialer(Campaign campaign, LeadTimeZones zones, IPacingStrategy? pacing = null, PacingEstimator? estimator = null)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(zones);
        campaign.EnsureValid();
        Campaign = campaign;
        _zones = zones;
        Estimator = estimator ?? new PacingEstimator();
        Ledger = new ComplianceLedger(campaign.Id, campaign.Policy, campaign.Start == DateTimeOffset.MinValue ? null : campaign.Start);
        _pacing = pacing ?? campaign.Mode switch
        {
            DialingMode.Power => new PowerPacing(campaign.PowerRatio),
            DialingMode.Predictive => new PredictivePacing(),
            _ => ProgressivePacing.Instance,
        };
        _lastMode = campaign.Mode;
        _logAllowance = Math.Log(Math.Max(MinimumAllowance, TargetShareOfLimit * campaign.Policy.MaxAbandonRate));
    }

    /// <summary>The campaign.</summary>
    public Campaign Campaign { get; }

    /// <summary>
    /// Start of every call id (then a sequence number); the campaign id by default. Give each
    /// dialer of a campaign its own (e.g. campaign id + a random part) when several instances or
    /// restarts share one database or one Asterisk, since call ids are channel ids there.
    /// </summary>
    public string CallIdPrefix { get; set; } = "";

    /// <summary>The campaign's compliance ledger.</summary>
    public ComplianceLedger Ledger { get; }

    /// <summary>The campaign's pacing statistics.</summary>
    public PacingEstimator Estimator { get; }

    /// <summary>Calls up now.</summary>
    public IReadOnlyCollection<DialedCall> Calls => _calls.Values;

    /// <summary>
    /// When false the dialer does not fall back to progressive at the abandon limit. Only the
    /// offline tuning of fixed power ratios in the simulation turns it off, to see a ratio's raw abandon rate.
    /// </summary>
    internal bool EnforceAbandonLimit { get; set; } = true;

    /// <summary>Share of the abandon limit predictive pacing aims for (margin for estimation noise).</summary>
    internal double TargetShareOfLimit { get; set; } = 0.85;

    /// <summary>
    /// False: the allowance controller steers towards <see cref="TargetShareOfLimit"/> of the limit
    /// only, and the measured period's headroom acts through the limit guard alone (simulations
    /// measuring the controller; campaigns: true).
    /// </summary>
    internal bool SteerOnHeadroom { get; set; } = true;

    /// <summary>
    /// Predictive mode gives up lines that have rung the minimum ring time when no agent would be free
    /// for their answer (<see cref="DialPlan.GivenUp"/>), if the campaign's <see cref="Campaign.GiveUpUnanswered"/>
    /// allows it. Simulations switch it off to measure the pacing without it; campaigns: true.
    /// </summary>
    internal bool GiveUpRingingLines { get; set; } = true;

    /// <summary>Step of the allowance controller per live answer (relative to the target rate).</summary>
    internal double AllowanceGain { get; set; } = 0.003;

    /// <summary>The abandon allowance predictive pacing currently gets (abandons per live answer of new lines).</summary>
    public double PacingAllowance => Math.Exp(_logAllowance);

    /// <summary>
    /// Campaigns in the order they should be served when they share lines or agents: higher
    /// <see cref="Campaign.Priority"/> first, then by id so the order is stable.
    /// </summary>
    public static IReadOnlyList<CampaignDialer> InPriorityOrder(IEnumerable<CampaignDialer> dialers)
    {
        ArgumentNullException.ThrowIfNull(dialers);
        return [.. dialers.OrderByDescending(d => d.Campaign.Priority).ThenBy(d => d.Campaign.Id, StringComparer.Ordinal)];
    }

    /// <summary>The call with id <paramref name="callId"/>, if it is up.</summary>
    public DialedCall? Find(string callId) => _calls.GetValueOrDefault(callId);

    /// <summary>
    /// One pacing decision at <paramref name="now"/>: releases lost lines, then picks due leads to
    /// dial now. Never dials when no agent is logged in (except message-only broadcast), outside the
    /// campaign's start/deadline or a lead's calling window, a number on <paramref name="doNotCall"/>,
    /// a lead or number already in a call, or beyond the line cap.
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <param name="agents">The campaign's agents now.</param>
    /// <param name="dueLeads">Candidate leads in the order they should be dialled (e.g. the hopper).</param>
    /// <param name="doNotCall">Numbers never to dial (E.164; global and campaign lists merged).</param>
    /// <param name="sharedLinesLeft">
    /// When campaigns share trunk lines: how many new calls this campaign may still open in this
    /// round (call campaigns in <see cref="InPriorityOrder"/> and pass down what is left). Null = no shared budget.
    /// </param>
    /// <param name="abandonBudget">
    /// Power and predictive: how many of this campaign's lines here (those up and the new ones) may at most end
    /// abandoned, i.e. lines ringing or waiting beyond the ready agents (<see cref="LinesAtRiskOfAbandon"/>): this
    /// dialer's share of the campaign's abandon headroom when several dialers share the campaign (the service reserves
    /// it in PostgreSQL; docs/dialer.md). Below 1 the campaign dials progressive. Null: the ledger's own guard only.
    /// </param>
    public DialPlan Plan(DateTimeOffset now, AgentSnapshot agents, IEnumerable<Lead> dueLeads, IReadOnlySet<string> doNotCall, int? sharedLinesLeft = null, int? abandonBudget = null)
    {
        ArgumentNullException.ThrowIfNull(agents);
        ArgumentNullException.ThrowIfNull(dueLeads);
        ArgumentNullException.ThrowIfNull(doNotCall);
        var snapshotErrors = agents.Validate();
        if (snapshotErrors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", snapshotErrors), nameof(agents));
        }

        var released = ReleaseLostLines(now);
        var mode = EffectiveMode(now, agents, abandonBudget);
        _lastMode = mode;
        var givenUp = mode == DialingMode.Predictive && GiveUpRingingLines && Campaign.GiveUpUnanswered ? GiveUpRinging(now, agents) : [];
        var paced = LinesWanted(now, agents, mode, abandonBudget);
        var wanted = paced;
        if (sharedLinesLeft is { } shared)
        {
            wanted = Math.Min(wanted, Math.Max(0, shared));
        }

        var beyondShared = Math.Max(0, paced - Math.Max(0, wanted));
        if (wanted <= 0)
        {
            return new DialPlan([], [], released, Math.Max(0, wanted), mode) { LinesWantedBeyondShared = beyondShared, GivenUp = givenUp };
        }

        var orders = new List<DialOrder>();
        var skipped = new List<SkippedLead>();
        foreach (var lead in dueLeads)
        {
            if (orders.Count >= wanted)
            {
                break;
            }

            if (Check(now, lead, doNotCall) is { } skip)
            {
                skipped.Add(skip);
                continue;
            }

            orders.Add(Open(now, lead));
        }

        return new DialPlan(orders, skipped, released, wanted, mode) { LinesWantedBeyondShared = beyondShared, GivenUp = givenUp };
    }

    /// <summary>Preview mode: the first due lead an agent may look at now, reserved until dialled or skipped.</summary>
    /// <param name="now">The current time.</param>
    /// <param name="agents">The campaign's agents now.</param>
    /// <param name="dueLeads">Candidate leads in order.</param>
    /// <param name="doNotCall">Numbers never to dial.</param>
    /// <param name="skipped">When given, receives the candidates passed over before the one returned, with why (window, DNC ...).</param>
    public Lead? NextPreview(DateTimeOffset now, AgentSnapshot agents, IEnumerable<Lead> dueLeads, IReadOnlySet<string> doNotCall, ICollection<SkippedLead>? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(agents);
        ArgumentNullException.ThrowIfNull(dueLeads);
        if (agents.LoggedIn <= 0 || !Campaign.IsRunningAt(now))
        {
            return null;
        }

        foreach (var lead in dueLeads)
        {
            if (_previewed.Contains(lead.Id))
            {
                continue;
            }

            if (Check(now, lead, doNotCall) is { } skip)
            {
                skipped?.Add(skip);
                continue;
            }

            _previewed.Add(lead.Id);
            return lead;
        }

        return null;
    }

    /// <summary>Preview mode: the agent chose to dial the previewed lead. Re-checks window and DNC.</summary>
    /// <returns>The order, or the reason it may not be dialled now.</returns>
    public (DialOrder? Order, SkippedLead? Skip) DialPreviewed(DateTimeOffset now, Lead lead, IReadOnlySet<string> doNotCall)
    {
        ArgumentNullException.ThrowIfNull(lead);
        _previewed.Remove(lead.Id);
        if (!Campaign.IsRunningAt(now))
        {
            return (null, new SkippedLead(lead, SkipReason.OutsideCallingWindow));
        }

        return Check(now, lead, doNotCall) is { } skip ? (null, skip) : (Open(now, lead), null);
    }

    /// <summary>
    /// Takes over a call another dialer instance placed and died with (issue 14): the call is up in
    /// Asterisk and this dialer follows it from now on as if it had dialled it, so its end, outcome and
    /// lead update come out of <see cref="OnCallEnded"/> exactly once. Ringing when nothing answered yet;
    /// waiting for an agent when a person answered and nobody was put through (connect one with
    /// <see cref="OnAgentConnected"/> or abandon it with <see cref="OnAbandoned"/>); connected when an agent
    /// was put through, or when the dead instance already counted the person abandoned (its message plays).
    /// </summary>
    /// <param name="callId">The call id (the customer's channel id).</param>
    /// <param name="lead">The lead as it was before this attempt.</param>
    /// <param name="dialedAt">When the dead instance dialled it.</param>
    /// <param name="answeredAt">When something answered, if that was written ahead.</param>
    /// <param name="answeredBy">What answered (person or machine), if known; a person when only the time is.</param>
    /// <param name="agentConnectedAt">When an agent was put through, if that was written ahead.</param>
    /// <param name="answerInLedger">The dead instance already stored the answer's ledger row (not counted again).</param>
    /// <param name="abandonedInLedger">That row counted the person abandoned.</param>
    /// <returns>The call as this dialer now holds it.</returns>
    /// <exception cref="InvalidOperationException">The call, its lead or its number is already in a call here.</exception>
    public DialedCall Adopt(
        string callId, Lead lead, DateTimeOffset dialedAt, DateTimeOffset? answeredAt, CallOutcome? answeredBy, DateTimeOffset? agentConnectedAt,
        bool answerInLedger, bool abandonedInLedger)
    {
        ArgumentException.ThrowIfNullOrEmpty(callId);
        ArgumentNullException.ThrowIfNull(lead);
        if (_calls.ContainsKey(callId) || _leadsInCall.Contains(lead.Id) || _numbersInCall.Contains(lead.PhoneNumber))
        {
            throw new InvalidOperationException($"call {callId} (lead {lead.Id}) cannot be adopted: it, its lead or its number is already in a call of campaign '{Campaign.Id}'");
        }

        var call = new DialedCall(callId, lead, Campaign.EndpointFor(lead.PhoneNumber), dialedAt);
        if (answeredAt is { } answered)
        {
            call.AnsweredAt = answered;
            call.AnsweredBy = answeredBy ?? CallOutcome.HumanAnswer;
            call.AgentConnectedAt = agentConnectedAt;
            call.LiveAnswerRecorded = answerInLedger;
            call.Abandoned = abandonedInLedger;
            var needsAgent = Campaign.Mode != DialingMode.VoiceBroadcast
                             && (call.AnsweredBy == CallOutcome.HumanAnswer || Campaign.Machines == MachineHandling.ConnectToAgent);
            call.State = needsAgent && agentConnectedAt is null && !abandonedInLedger ? DialedCallState.WaitingForAgent : DialedCallState.Connected;
            if (agentConnectedAt is { } connected)
            {
                // Put through before the kill but its ledger row not yet stored: counted now, once.
                RecordAnswer(call, answered, connected);
            }
        }

        _calls.Add(callId, call);
        _leadsInCall.Add(lead.Id);
        _numbersInCall.Add(lead.PhoneNumber);
        return call;
    }

    /// <summary>Preview mode: the agent skipped the lead; it becomes available again.</summary>
    public void SkipPreviewed(string leadId) => _previewed.Remove(leadId);

    /// <summary>
    /// Something answered the call. For a person (or a machine passed to agents) the call now waits
    /// for an agent: connect one with <see cref="OnAgentConnected"/> or, when the connect deadline
    /// (<see cref="ConnectDeadlineOf"/>) passes, play the abandon message and call <see cref="OnAbandoned"/>.
    /// </summary>
    public void OnAnswered(string callId, DateTimeOffset at, CallOutcome answeredBy)
    {
        if (!answeredBy.IsAnswered())
        {
            throw new ArgumentException($"OnAnswered needs HumanAnswer or Machine, not {answeredBy}", nameof(answeredBy));
        }

        var call = Get(callId);
        if (call.State != DialedCallState.Ringing)
        {
            throw new InvalidOperationException($"call {callId} was answered twice (state {call.State})");
        }

        call.AnsweredAt = at;
        call.AnsweredBy = answeredBy;
        var needsAgent = Campaign.Mode != DialingMode.VoiceBroadcast
                         && (answeredBy == CallOutcome.HumanAnswer || Campaign.Machines == MachineHandling.ConnectToAgent);
        Estimator.RecordDial(needsAgent, at - call.DialedAt);
        if (needsAgent)
        {
            call.State = DialedCallState.WaitingForAgent;
            return;
        }

        call.State = DialedCallState.Connected;
        if (answeredBy == CallOutcome.Machine)
        {
            Ledger.RecordMachineAnswer(call, at, at - call.DialedAt);
        }
    }

    /// <summary>When the call, answered and waiting, must have an agent or be treated as abandoned.</summary>
    public DateTimeOffset? ConnectDeadlineOf(string callId) =>
        Get(callId).AnsweredAt is { } at ? at + Campaign.Policy.ConnectDeadline : null;

    /// <summary>An agent was connected to the answered call. Returns true when it was within the connect deadline.</summary>
    public bool OnAgentConnected(string callId, DateTimeOffset at)
    {
        var call = Get(callId);
        if (call.State != DialedCallState.WaitingForAgent || call.AnsweredAt is not { } answeredAt)
        {
            throw new InvalidOperationException($"call {callId} is not waiting for an agent (state {call.State})");
        }

        call.State = DialedCallState.Connected;
        call.AgentConnectedAt = at;
        var abandoned = RecordAnswer(call, answeredAt, at);
        return !abandoned;
    }

    /// <summary>
    /// Voice broadcast with "press 1": the person asked for an agent and one was connected. Not a
    /// live answer of the ledger (the call was already answered and served by the message); it
    /// makes the attempt's talk time the agent's.
    /// </summary>
    public void OnTransferredToAgent(string callId, DateTimeOffset at)
    {
        var call = Get(callId);
        if (Campaign.Mode != DialingMode.VoiceBroadcast || call.State != DialedCallState.Connected || call.AgentConnectedAt is not null)
        {
            throw new InvalidOperationException($"call {callId} cannot be transferred to an agent (mode {Campaign.Mode}, state {call.State})");
        }

        call.AgentConnectedAt = at;
    }

    /// <summary>No agent came within the connect deadline: the call is abandoned (and gets the abandon message when <paramref name="messagePlayed"/>).</summary>
    public void OnAbandoned(string callId, DateTimeOffset at, bool messagePlayed)
    {
        var call = Get(callId);
        if (call.State != DialedCallState.WaitingForAgent || call.AnsweredAt is not { } answeredAt)
        {
            throw new InvalidOperationException($"call {callId} is not waiting for an agent (state {call.State})");
        }

        call.State = DialedCallState.Connected;
        RecordAnswer(call, answeredAt, null);
        if (messagePlayed)
        {
            Ledger.RecordMessagePlayed(call, at, Campaign.AbandonMessage ?? "(abandon message)");
        }
    }

    /// <summary>
    /// Something answered the call and answering-machine detection listens before <see cref="OnAnswered"/> is told
    /// what: the call is no longer unanswered, so it is never given up (<see cref="DialPlan.GivenUp"/>); giving it up
    /// would hang up on a person during their greeting.
    /// </summary>
    public void OnScreening(string callId) => Get(callId).Screening = true;

    /// <summary>
    /// The PBX reported that the call was answered and the dialer has not handled the report yet (it comes next, with
    /// <see cref="OnAnswered"/>): the call is never given up (<see cref="DialPlan.GivenUp"/>) meanwhile, since hanging up
    /// now would hang up on a person who answered; handled, they get an agent or the abandon message as any live answer.
    /// Ignored for a call that is not up here or no longer ringing.
    /// </summary>
    public void OnAnswerReported(string callId)
    {
        if (_calls.TryGetValue(callId, out var call) && call.State == DialedCallState.Ringing)
        {
            call.AnswerReported = true;
        }
    }

    /// <summary>
    /// A person answered a call that <see cref="DialPlan.GivenUp"/> had already ended as unanswered, and the report came
    /// after the give-up's hang-up was sent: Asterisk hangs the channel up as soon as that request arrives (ARI's
    /// <c>DELETE /channels/{id}</c> is an immediate soft hang-up that nothing revokes), so the person is hung up on with no
    /// agent and no message, a live answer abandoned under the policy. Recorded in the ledger at <paramref name="answeredAt"/>
    /// (no message played; the call's unanswered row stays: both happened) and fed to the abandon steering as any abandon
    /// is. Returns the attempt as it really ended (a person answered, abandoned, ended at <paramref name="answeredAt"/>)
    /// with its lead as after any abandon (<see cref="RetryDelays.Abandoned"/>), to replace what the give-up stored; null
    /// when the call's live answer was already recorded.
    /// </summary>
    /// <param name="givenUp">The give-up's result (an entry of <see cref="DialPlan.GivenUp"/>).</param>
    /// <param name="answeredAt">When the answer was reported.</param>
    public AttemptResult? OnAnsweredAfterGivenUp(AttemptResult givenUp, DateTimeOffset answeredAt)
    {
        ArgumentNullException.ThrowIfNull(givenUp);
        var call = givenUp.Call;
        if (call.LiveAnswerRecorded)
        {
            return null;
        }

        var at = answeredAt < givenUp.EndedAt ? givenUp.EndedAt : answeredAt;
        call.AnsweredAt = at;
        call.AnsweredBy = CallOutcome.HumanAnswer;
        call.LiveAnswerRecorded = true;
        call.Abandoned = true;
        Ledger.RecordLiveAnswer(call, at, connectedAt: null, at - call.DialedAt);
        SteerAllowance(at, abandoned: true);
        return new AttemptResult(call, CallOutcome.HumanAnswer, at, LeadRetryPolicy.AfterAttempt(Campaign, call.Lead, CallOutcome.HumanAnswer, at, abandoned: true));
    }

    /// <summary>A recording was played on the call (voicemail message, broadcast message).</summary>
    public void OnMessagePlayed(string callId, DateTimeOffset at, string message) => Ledger.RecordMessagePlayed(Get(callId), at, message);

    /// <summary>An agent finished wrap-up after a campaign call (feeds the handle-time model).</summary>
    public void OnWrapUpEnded(TimeSpan wrapUp) => Estimator.RecordWrapUp(wrapUp);

    /// <summary>
    /// The call ended (hang-up, or the PBX's final dial result for an unanswered call). For an
    /// unanswered call <paramref name="outcome"/> says why (busy, no answer ...); for answered calls it may be null.
    /// </summary>
    public AttemptResult OnCallEnded(string callId, DateTimeOffset at, CallOutcome? outcome = null)
    {
        var call = Get(callId);
        if (call.State == DialedCallState.Ringing)
        {
            var result = outcome ?? throw new ArgumentException($"call {callId} ended unanswered: its outcome is needed", nameof(outcome));
            if (result.IsAnswered())
            {
                // The answer and the hang-up were reported together.
                OnAnswered(callId, at, result);
                return OnCallEnded(callId, at, result);
            }

            var ring = at - call.DialedAt;
            if (result != CallOutcome.LostReply)
            {
                Estimator.RecordDial(false, ring);
            }

            Ledger.RecordUnanswered(call, at, ring, result);
            return Close(call, result, at);
        }

        if (call.State == DialedCallState.WaitingForAgent && call.AnsweredAt is { } answeredAt)
        {
            // Hung up (or lost) before any agent came: abandoned.
            RecordAnswer(call, answeredAt, null);
        }
        else if (call.AgentConnectedAt is { } connectedAt && call.AnsweredBy == CallOutcome.HumanAnswer)
        {
            Estimator.RecordTalk(at - connectedAt);
        }

        return Close(call, call.AnsweredBy ?? outcome ?? CallOutcome.HumanAnswer, at);
    }

    /// <summary>
    /// Releases lines whose result never came: ringing past the ring timeout plus grace, waiting
    /// for an agent past the deadline plus grace (counted abandoned), connected past the longest call.
    /// </summary>
    public IReadOnlyList<AttemptResult> ReleaseLostLines(DateTimeOffset now)
    {
        List<AttemptResult>? released = null;
        foreach (var call in _calls.Values.ToArray())
        {
            var limit = call.State switch
            {
                DialedCallState.Ringing => call.DialedAt + Campaign.RingTimeout + Campaign.LostReplyGrace,
                DialedCallState.WaitingForAgent => call.AnsweredAt!.Value + Campaign.Policy.ConnectDeadline + Campaign.LostReplyGrace,
                _ => (call.AgentConnectedAt ?? call.AnsweredAt ?? call.DialedAt) + Campaign.MaxCallDuration,
            };
            if (now >= limit)
            {
                (released ??= []).Add(OnCallEnded(call.CallId, now, call.State == DialedCallState.Ringing ? CallOutcome.LostReply : null));
            }
        }

        return released ?? (IReadOnlyList<AttemptResult>)[];
    }

    /// <summary>Live figures for the wallboard.</summary>
    public DialerStats Stats(DateTimeOffset now, AgentSnapshot agents)
    {
        ArgumentNullException.ThrowIfNull(agents);
        var ringing = _calls.Values.Count(c => c.State == DialedCallState.Ringing);
        var waiting = _calls.Values.Count(c => c.State == DialedCallState.WaitingForAgent);
        return new DialerStats(
            _calls.Count, ringing, waiting, agents.Ready,
            Ledger.Measured(now), Ledger.Rolling(now), Ledger.CampaignToDate,
            agents.Ready == 0 ? 0 : (double)(ringing + waiting) / agents.Ready,
            _lastMode, Estimator.LiveAnswerProbability);
    }

    /// <summary>
    /// Power and predictive: lines up that could still end abandoned if no busy agent came free in time, i.e. lines
    /// ringing or waiting for an agent beyond the ready agents of <paramref name="agents"/> (a ready agent takes the
    /// next person who answers); 0 in the other modes, whose lines each have an agent.
    /// </summary>
    public int LinesAtRiskOfAbandon(AgentSnapshot agents)
    {
        ArgumentNullException.ThrowIfNull(agents);
        if (Campaign.Mode is not (DialingMode.Power or DialingMode.Predictive))
        {
            return 0;
        }

        var inFlight = 0;
        foreach (var call in _calls.Values)
        {
            if (call.State is DialedCallState.Ringing or DialedCallState.WaitingForAgent)
            {
                inFlight++;
            }
        }

        return Math.Max(0, inFlight - agents.Ready);
    }

    /// <summary>
    /// How many lines may be at risk of abandon (ringing or waiting beyond the ready agents) within an abandon budget of
    /// <paramref name="budget"/>: never fewer than the budget itself (each line counted as an abandon: safe whatever
    /// happens), and more when the ringing ones' abandons, each answered with the campaign's live-answer probability
    /// <paramref name="liveAnswerProbability"/>, stay within the budget at <see cref="AbandonBoundSigmas"/> standard
    /// deviations: <c>W + R·p + z·√(R·p·(1−p)) ≤ budget</c>, with <paramref name="waitingAtRisk"/> people already
    /// answered and waiting beyond the ready agents (W, each a likely abandon) and R ringing lines. Counting every
    /// ringing line as an abandon cost predictive 13.5 occupancy points at p 0.15 / 60 s in the simulation
    /// (docs/benchmarks.md, "The abandon budget"); a person is only an abandon if they answer and no agent frees in time.
    /// </summary>
    /// <param name="budget">Abandons that still fit for this dialer.</param>
    /// <param name="waitingAtRisk">Answered people waiting beyond the ready agents.</param>
    /// <param name="liveAnswerProbability">The estimated live-answer probability; 0 (no estimate yet) counts every line as an abandon.</param>
    public static int MostLinesAtRisk(int budget, int waitingAtRisk, double liveAnswerProbability)
    {
        if (liveAnswerProbability <= 0 || liveAnswerProbability >= 1)
        {
            return budget;
        }

        var p = liveAnswerProbability;
        var room = budget - waitingAtRisk;
        if (room <= 0)
        {
            return budget;
        }

        // R·p + z·√(R·p·q) ≤ room, solved for x = √R: p·x² + z·√(p·q)·x − room ≤ 0.
        var b = AbandonBoundSigmas * Math.Sqrt(p * (1 - p));
        var x = (-b + Math.Sqrt((b * b) + (4 * p * room))) / (2 * p);
        var ringing = (int)Math.Min(Math.Floor((x * x) + 1e-9), int.MaxValue - waitingAtRisk);
        return Math.Max(budget, waitingAtRisk + ringing);
    }

    /// <summary>
    /// How many lines may be up ringing or waiting for an agent (those up and the new ones) within an abandon budget of
    /// <paramref name="budget"/> with <paramref name="ready"/> agents ready: a ready agent takes the next person who
    /// answers, whichever line it is, so what may end abandoned is the answers beyond the ready agents. Never fewer than
    /// the budget plus the ready agents (each line beyond them counted as an abandon), and more when
    /// <c>W + R·p + z·√(R·p·(1−p)) − ready ≤ budget</c> at <see cref="AbandonBoundSigmas"/> standard deviations, with
    /// <paramref name="waiting"/> people answered and waiting (W) and R ringing lines each answered with the campaign's
    /// live-answer probability <paramref name="liveAnswerProbability"/>. Pairing each ready agent with one ringing line
    /// instead (<see cref="MostLinesAtRisk"/> beyond the ready agents) counts a line answered while the agents are taken
    /// by others, and cost predictive 2.6 occupancy points at 50 agents, p 0.15, 60 s talks (docs/benchmarks.md, "The
    /// abandon budget counts answers beyond the ready agents").
    /// </summary>
    /// <param name="budget">Abandons that still fit for this dialer.</param>
    /// <param name="ready">Agents ready now.</param>
    /// <param name="waiting">Answered people waiting for an agent.</param>
    /// <param name="liveAnswerProbability">The estimated live-answer probability; 0 (no estimate yet) counts every line beyond the ready agents as an abandon.</param>
    public static int MostLinesInFlight(int budget, int ready, int waiting, double liveAnswerProbability)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ready);
        ArgumentOutOfRangeException.ThrowIfNegative(waiting);
        return MostLinesAtRisk(budget < 0 ? budget : (int)Math.Min((long)budget + ready, int.MaxValue), waiting, liveAnswerProbability);
    }

    /// <summary>
    /// Standard deviations of margin on the ringing lines' abandons within the abandon budget: one-sided, the lines at
    /// risk at a moment hold more live answers than the budget with a probability of about 0.13 %, and even then each is
    /// an abandon only if no busy agent comes free within the connect deadline.
    /// </summary>
    public const double AbandonBoundSigmas = 3;

    private DialingMode EffectiveMode(DateTimeOffset now, AgentSnapshot agents, int? abandonBudget)
    {
        var mode = Campaign.Mode;
        if (mode is not (DialingMode.Power or DialingMode.Predictive))
        {
            return mode;
        }

        // At the limit (one more abandon would break it, or no line at risk is left to this dialer), only dialling
        // that cannot abandon is allowed.
        if (EnforceAbandonLimit && (Ledger.AbandonHeadroom(now) < 1 || abandonBudget < 1))
        {
            return DialingMode.Progressive;
        }

        if (mode == DialingMode.Predictive
            && (Estimator.Results < Campaign.PredictiveWarmUpCalls || Estimator.LiveAnswers < 5 || Estimator.TalkSamples < 5
                || Estimator.TalkSamples < Math.Min(TalkingNow(agents), Estimator.TalkWindow)))
        {
            // A talk's length is known only once it ends, so the first talk times a campaign sees are
            // its short ones: until at least as many talks have ended as agents are talking now, the
            // talk-time estimate would count the agents talking as about to be free, and predictive
            // would over-dial (100 agents starting together on PbxSim lost 35 live answers in one burst).
            return DialingMode.Progressive;
        }

        return mode;
    }

    /// <summary>
    /// Predictive: ends (as unanswered) the lines that have rung at least <see cref="Campaign.GiveUpAfterRinging"/> (the
    /// policy's minimum ring time by default, never under 15 s) when at most <see cref="Campaign.GiveUpWhenAgentsFreeAtMost"/>
    /// (one by default) agents are free for answers beyond those already waiting (ready, or ending wrap-up within the
    /// connect deadline). A person answering such a line in its last seconds of ringing would likely find nobody and
    /// count as abandoned; giving it up turns that risk into a no-answer retried later, so pacing can dial closer to
    /// the agents' releases. With more agents free the lines ring on to the ring timeout. A line whose answer was
    /// reported (<see cref="OnAnswerReported"/>) or is with answering-machine detection is never given up. Measured in
    /// docs/benchmarks.md ("Giving up unanswered lines").
    /// </summary>
    private List<AttemptResult> GiveUpRinging(DateTimeOffset now, AgentSnapshot agents)
    {
        var minimum = Campaign.GiveUpAfterRinging;
        if (minimum >= Campaign.RingTimeout)
        {
            return [];
        }

        var deadline = Campaign.Policy.ConnectDeadline;
        var free = agents.Ready;
        foreach (var busy in agents.Busy)
        {
            if (busy.WrapUpRemaining is { } remaining && remaining <= deadline)
            {
                free++;
            }
        }

        List<DialedCall>? old = null;
        foreach (var call in _calls.Values)
        {
            if (call.State == DialedCallState.WaitingForAgent)
            {
                free--;
            }
            else if (call.State == DialedCallState.Ringing && !call.Screening && !call.AnswerReported && now - call.DialedAt >= minimum)
            {
                (old ??= []).Add(call);
            }
        }

        // More agents free: the old lines ring on (measured at 50 agents: the default of at most one free gains most; giving
        // up also with more free, or only with none free, costs occupancy; docs/benchmarks.md).
        if (old is null || free > Campaign.GiveUpWhenAgentsFreeAtMost)
        {
            return [];
        }

        var ended = new List<AttemptResult>(old.Count);
        foreach (var call in old)
        {
            ended.Add(OnCallEnded(call.CallId, now, CallOutcome.NoAnswer));
        }

        return ended;
    }

    private static int TalkingNow(AgentSnapshot agents)
    {
        var talking = 0;
        foreach (var busy in agents.Busy)
        {
            if (busy.WrapUpRemaining is null)
            {
                talking++;
            }
        }

        return talking;
    }

    private int LinesWanted(DateTimeOffset now, AgentSnapshot agents, DialingMode mode, int? abandonBudget)
    {
        if (!Campaign.IsRunningAt(now) || mode == DialingMode.Preview)
        {
            return 0;
        }

        var available = Campaign.MaxConcurrentLines - _calls.Count;
        if (available <= 0)
        {
            return 0;
        }

        if (mode == DialingMode.VoiceBroadcast)
        {
            if (Campaign.Broadcast == BroadcastKind.MessageOnly)
            {
                return available;
            }

            return agents.LoggedIn <= 0
                ? 0
                : Math.Clamp((int)Math.Ceiling(agents.LoggedIn * Campaign.BroadcastLinesPerAgent) - _calls.Count, 0, available);
        }

        if (agents.LoggedIn <= 0)
        {
            return 0;
        }

        var lines = new List<PacingLine>(_calls.Count);
        foreach (var call in _calls.Values)
        {
            if (call.State == DialedCallState.Ringing)
            {
                lines.Add(new PacingLine(call.State, now - call.DialedAt));
            }
            else if (call.State == DialedCallState.WaitingForAgent)
            {
                lines.Add(new PacingLine(call.State, now - call.AnsweredAt!.Value));
            }
        }

        var target = TargetRate(now);
        var allowance = target <= 0 ? 0 : Math.Exp(_logAllowance);
        var context = new PacingContext(agents, lines, available, Estimator, allowance, Campaign.Policy.ConnectDeadline);
        IPacingStrategy pacing = mode == DialingMode.Progressive ? ProgressivePacing.Instance : _pacing;
        var wanted = pacing.LinesToDial(context);
        if (EnforceAbandonLimit && abandonBudget is { } budget && mode is (DialingMode.Power or DialingMode.Predictive))
        {
            // Answers beyond the ready agents may end abandoned: never more lines than the budget left to this dialer
            // can carry (MostLinesInFlight).
            var waiting = lines.Count(l => l.State == DialedCallState.WaitingForAgent);
            wanted = Math.Min(wanted, MostLinesInFlight(budget, agents.Ready, waiting, Estimator.LiveAnswerProbability) - lines.Count);
        }

        return Math.Clamp(wanted, 0, available);
    }

    private double TargetRate(DateTimeOffset now)
    {
        // Aim under the limit, and lower still when the measured period has used up its margin:
        // spread what is left of the abandon budget over the next hundred live answers.
        const double lookAhead = 100;
        var limit = Campaign.Policy.MaxAbandonRate;
        var headroom = Ledger.AbandonHeadroom(now, lookAhead);
        return Math.Clamp(headroom / lookAhead, 0, TargetShareOfLimit * limit);
    }

    private void SteerAllowance(DateTimeOffset at, bool abandoned)
    {
        // Stochastic approximation: each live answer nudges the allowance so that the long-run
        // abandon share equals the target (an abandon pulls it down, a connection lifts it a little).
        // The model's own bias (later dials competing for the same agents) is corrected this way
        // from the campaign's own results, without per-campaign tuning.
        var target = SteerOnHeadroom ? TargetRate(at) : TargetShareOfLimit * Campaign.Policy.MaxAbandonRate;
        if (target <= 0)
        {
            _logAllowance -= AllowanceGain / 0.01;
        }
        else
        {
            _logAllowance += AllowanceGain * (target - (abandoned ? 1 : 0)) / target;
        }

        _logAllowance = Math.Clamp(_logAllowance, Math.Log(MinimumAllowance), 0);
    }

    private SkippedLead? Check(DateTimeOffset now, Lead lead, IReadOnlySet<string> doNotCall)
    {
        if (!lead.IsDue(now))
        {
            return new SkippedLead(lead, SkipReason.NotDue, lead.NextAttemptAt);
        }

        if (!PhoneNumbers.IsE164(lead.PhoneNumber))
        {
            return new SkippedLead(lead, SkipReason.InvalidNumber);
        }

        if (doNotCall.Contains(lead.PhoneNumber))
        {
            return new SkippedLead(lead, SkipReason.DoNotCall);
        }

        if (_leadsInCall.Contains(lead.Id) || _numbersInCall.Contains(lead.PhoneNumber))
        {
            return new SkippedLead(lead, SkipReason.AlreadyInCall);
        }

        if (_zones.ZoneOf(lead) is not { } zone)
        {
            return new SkippedLead(lead, SkipReason.UnknownTimeZone);
        }

        if (!Campaign.Windows.IsOpen(now, zone))
        {
            return new SkippedLead(lead, SkipReason.OutsideCallingWindow, Campaign.Windows.NextOpening(now, zone));
        }

        return null;
    }

    private DialOrder Open(DateTimeOffset now, Lead lead)
    {
        var callId = string.Create(CultureInfo.InvariantCulture, $"{(CallIdPrefix.Length > 0 ? CallIdPrefix : Campaign.Id)}-{++_sequence}");
        var call = new DialedCall(callId, lead, Campaign.EndpointFor(lead.PhoneNumber), now);
        _calls.Add(callId, call);
        _leadsInCall.Add(lead.Id);
        _numbersInCall.Add(lead.PhoneNumber);
        return new DialOrder(call, Campaign.CallerId, Campaign.CallerName, Campaign.RingTimeout);
    }

    private bool RecordAnswer(DialedCall call, DateTimeOffset answeredAt, DateTimeOffset? connectedAt)
    {
        if (call.LiveAnswerRecorded)
        {
            return call.Abandoned;
        }

        call.LiveAnswerRecorded = true;
        bool abandoned;
        if (call.AnsweredBy == CallOutcome.Machine)
        {
            // A machine passed to agents is not a person: no abandon under the policy.
            Ledger.RecordMachineAnswer(call, answeredAt, answeredAt - call.DialedAt);
            abandoned = false;
        }
        else
        {
            abandoned = Ledger.RecordLiveAnswer(call, answeredAt, connectedAt, answeredAt - call.DialedAt);
            SteerAllowance(answeredAt, abandoned);
        }

        call.Abandoned = abandoned;
        return abandoned;
    }

    private AttemptResult Close(DialedCall call, CallOutcome outcome, DateTimeOffset at)
    {
        _calls.Remove(call.CallId);
        _leadsInCall.Remove(call.LeadId);
        _numbersInCall.Remove(call.PhoneNumber);
        var updated = LeadRetryPolicy.AfterAttempt(Campaign, call.Lead, outcome, at, call.Abandoned);
        return new AttemptResult(call, outcome, at, updated);
    }

    private DialedCall Get(string callId) =>
        _calls.TryGetValue(callId, out var call)
            ? call
            : throw new KeyNotFoundException($"campaign '{Campaign.Id}' has no call '{callId}' up (ended, released as lost, or never dialled)");
}
