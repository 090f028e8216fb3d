using System.Threading.Channels;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Live call control: owns the ACD engine on one loop. ARI events from every server's Stasis app,
/// the engine's timer and API requests are queued into that loop and handled one at a time, in
/// order; the engine's commands become ARI requests that run per call (<see cref="CallSession"/>),
/// so a slow request for one call never holds up another call or the loop.
/// </summary>
public sealed partial class CallCenter : IAcdOutput, IAsyncDisposable
{
    private readonly Channel<Work> _work = System.Threading.Channels.Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private CallControlSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<CallCenter> _logger;
    private readonly AcdEngine _engine;
    private readonly ITimer _timer;
    private readonly ICallbackRequests? _callbacks;
    private Dictionary<string, CallAgentSettings> _agents;
    private readonly Dictionary<string, CallSession> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<ChannelKey, ChannelLeg> _channels = [];
    private readonly List<ChannelWriter<AcdEvent>> _subscribers = [];
    private readonly Lock _subscribersGate = new();
    private readonly CancellationTokenSource _stopping = new();
    private DateTimeOffset _lastAt;
    private Task _loop = Task.CompletedTask;

    // Set by Start: before it (a standby waiting for the lease) a request would wait for a loop
    // that may never run, so it is refused at once instead (CallControlUnavailableException).
    private volatile bool _started;
    private readonly TaskCompletionSource _startedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates the call center for validated settings (nothing runs until <see cref="Start"/>).</summary>
    /// <param name="settings">The validated <c>callControl</c> section.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">The log.</param>
    /// <param name="customerLookup">Who is calling (VIP, member, blacklist, own agent, language); null: every caller is unknown.</param>
    /// <param name="callbacks">The callback scheduler (queue exit key, callback overflow, voicemail); null: requests are logged only.</param>
    /// <param name="controlledServers">Servers split between instances (<c>callControl.servers</c>): the servers this instance
    /// controls, whose agents alone its ACD holds; null when it controls every configured server.</param>
    public CallCenter(CallControlSettings settings, TimeProvider timeProvider, ILogger<CallCenter> logger,
        ICustomerLookup? customerLookup = null, ICallbackRequests? callbacks = null, IReadOnlyCollection<string>? controlledServers = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        AbandonedCallerRows = new AbandonedCallerRows(_time);
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _lastAt = _time.GetUtcNow();
        _controlled = controlledServers;
        _allAgents = settings.Agents.ToDictionary(a => a.Id, StringComparer.Ordinal);
        _engine = new AcdEngine(CallControlConfiguration.ToAcdConfiguration(settings.OwnPart(_controlled)), this, _lastAt);
        var problems = new List<Configuration.SettingsProblem>();
        _routes = IvrConfiguration.Build(settings, problems) ?? throw new ArgumentException("callControl is not valid: " + string.Join("; ", problems), nameof(settings));
        _lookup = customerLookup;
        _callbacks = callbacks;
        _agents = settings.OwnPart(_controlled).Agents.ToDictionary(a => a.Id, StringComparer.Ordinal);
        _timer = _time.CreateTimer(_ => _work.Writer.TryWrite(new TimerWork()), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Starts the loop.</summary>
    public void Start()
    {
        StartDay();
        _loop = Task.Run(() => RunAsync(_stopping.Token));
        _started = true;
        _startedSignal.TrySetResult();
    }

    /// <summary>Completes when call control starts (never on a standby until it takes over).</summary>
    internal Task Started => _startedSignal.Task;

    /// <summary>Logs an agent in with the PIN (the desk-phone login by feature code comes later).</summary>
    /// <returns>Accepted, or refused with the reason in operator words.</returns>
    public async Task<InputOutcome> LoginAgentAsync(string agentId, string pin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        ArgumentNullException.ThrowIfNull(pin);
        if (await RefusedAsOnAnotherInstanceAsync(agentId, cancellationToken).ConfigureAwait(false) is { } elsewhere)
        {
            return elsewhere;
        }

        // Read before the loop handles the login: a campaign line joined on another instance a moment ago counts.
        var line = _started && _agents.ContainsKey(agentId) ? await AgentLineNowAsync(agentId, cancellationToken).ConfigureAwait(false) : default;
        return await RequestAsync(at => _agents.TryGetValue(agentId, out var agent)
            ? RefusedAsWorkingElsewhere(agentId, line) ?? _engine.Handle(new AgentLogin(at, agentId, agent.Extension, pin))
            : InputOutcome.Refused($"agent '{agentId}' is not configured in callControl.agents"), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Logs an agent out (after the current call, if on one).</summary>
    public Task<InputOutcome> LogoutAgentAsync(string agentId, CancellationToken cancellationToken = default) =>
        LogoutAgentAsync(agentId, ChangeSource.Agent, cancellationToken);

    /// <summary>Logs an agent out for <paramref name="source"/> (a supervisor's forced logout is recorded as such).</summary>
    public Task<InputOutcome> LogoutAgentAsync(string agentId, ChangeSource source, CancellationToken cancellationToken = default) =>
        RequestAsync(at => _engine.Handle(new AgentLogout(at, agentId, source)), cancellationToken);

    /// <summary>Pauses an agent (示忙) with a reason code; on a call it applies when the call ends.</summary>
    public Task<InputOutcome> PauseAgentAsync(string agentId, string reasonCode, CancellationToken cancellationToken = default) =>
        PauseAgentAsync(agentId, reasonCode, ChangeSource.Agent, cancellationToken);

    /// <summary>Pauses an agent for <paramref name="source"/> (a supervisor's forced pause is recorded as such).</summary>
    public Task<InputOutcome> PauseAgentAsync(string agentId, string reasonCode, ChangeSource source, CancellationToken cancellationToken = default) =>
        RequestAsync(at => _engine.Handle(new AgentPause(at, agentId, reasonCode, source)), cancellationToken);

    /// <summary>Makes a paused agent ready again (示闲).</summary>
    public Task<InputOutcome> ResumeAgentAsync(string agentId, CancellationToken cancellationToken = default) =>
        ResumeAgentAsync(agentId, ChangeSource.Agent, cancellationToken);

    /// <summary>Makes a paused agent ready again for <paramref name="source"/> (a supervisor's forced resume is recorded as such).</summary>
    public Task<InputOutcome> ResumeAgentAsync(string agentId, ChangeSource source, CancellationToken cancellationToken = default) =>
        RequestAsync(at => _engine.Handle(new AgentResume(at, agentId, source)), cancellationToken);

    /// <summary>Ends the agent's wrap-up early.</summary>
    public Task<InputOutcome> EndWrapUpAsync(string agentId, CancellationToken cancellationToken = default) =>
        RequestAsync(at => _engine.Handle(new WrapUpEnd(at, agentId)), cancellationToken);

    /// <summary>The agent's current state, or null for an unknown agent.</summary>
    public Task<AgentStatus?> GetAgentAsync(string agentId, CancellationToken cancellationToken = default) =>
        RequestAsync(_ => _engine.GetAgent(agentId), cancellationToken);

    /// <summary>
    /// Every configured queue's live status and today's statistics (docs/metrics.md), read together
    /// on the call center's loop so the two agree.
    /// </summary>
    public Task<IReadOnlyList<(QueueStatus Status, QueueStatistics Statistics)>> GetQueuesAsync(CancellationToken cancellationToken = default) =>
        RequestAsync<IReadOnlyList<(QueueStatus, QueueStatistics)>>(
            _ => _settings.Queues.Select(q => (_engine.GetQueueStatus(q.Name), _engine.Statistics.ForQueue(q.Name))).ToList(), cancellationToken);

    /// <summary>Every configured agent's status and today's figures (docs/metrics.md §6), read together on the loop.</summary>
    public Task<IReadOnlyList<(AgentStatus Status, AgentStatistics Statistics)>> GetAgentsAsync(CancellationToken cancellationToken = default) =>
        RequestAsync<IReadOnlyList<(AgentStatus, AgentStatistics)>>(
            at => _engine.GetAgents().Select(a => (a, _engine.Statistics.ForAgent(a.AgentId, at))).ToList(), cancellationToken);

    /// <summary>
    /// The engine's domain events from now on, in order (agent state changes, calls offered,
    /// answered, ended …): the typed stream the records writer, the wallboard and screen-pop read.
    /// Dispose the subscription to stop receiving; its reader then completes.
    /// </summary>
    public CallCenterSubscription SubscribeEvents()
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<AcdEvent>(new UnboundedChannelOptions { SingleWriter = true });
        lock (_subscribersGate)
        {
            _subscribers.Add(channel.Writer);
        }

        return new CallCenterSubscription(channel.Reader, () =>
        {
            lock (_subscribersGate)
            {
                _subscribers.Remove(channel.Writer);
            }

            channel.Writer.TryComplete();
        });
    }

    /// <summary>Queues an ARI event from <paramref name="app"/>'s WebSocket (called by its reader, in wire order).</summary>
    internal void Post(StasisApp app, Message message) => _work.Writer.TryWrite(new AriWork(app, message));

    /// <summary>Queues an input the per-call work found (a failed originate …).</summary>
    internal void Post(Func<DateTimeOffset, AcdInput?> input) => _work.Writer.TryWrite(new InputWork(input));

    private Task<T> RequestAsync<T>(Func<DateTimeOffset, T> action, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            throw new CallControlUnavailableException("This CtiBridge instance does not control calls now (a standby waiting for the call-control lease, or still starting): send the request to the active instance, the one whose call-control readiness is healthy.");
        }

        var done = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_work.Writer.TryWrite(new ApiWork(at => action(at), done)))
        {
            throw new CallControlUnavailableException("Call control has stopped on this instance (stopping, or its call-control lease was lost): send the request to the active instance.");
        }

        return Await(done, cancellationToken);

        static async Task<T> Await(TaskCompletionSource<object?> done, CancellationToken ct) => (T)(await done.Task.WaitAsync(ct).ConfigureAwait(false))!;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var work in _work.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var at = Now();
                try
                {
                    switch (work)
                    {
                        case AriWork ari:
                            OnAriEvent(ari.App, ari.Message, at);
                            break;
                        case TimerWork:
                            _engine.Handle(new TimeAdvanced(at));
                            break;
                        case DayWork:
                            OnDayTimer(at);
                            break;
                        case InputWork input when input.Input(at) is { } acdInput:
                            _engine.Handle(acdInput);
                            break;
                        case ApiWork api:
                            api.Done.TrySetResult(api.Action(at));
                            break;
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // One bad event must not stop call control for every other call.
                    LogWorkFailed(_logger, work.GetType().Name, ex);
                    (work as ApiWork)?.Done.TrySetException(ex);
                }

                Rearm(at);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Rearm(DateTimeOffset at)
    {
        if (_engine.NextDueTime is { } due)
        {
            var delay = due - at;
            _timer.Change(delay < TimeSpan.Zero ? TimeSpan.Zero : delay, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnAriEvent(StasisApp app, Message message, DateTimeOffset at)
    {
        switch (message)
        {
            case StasisStart start:
                OnStasisStart(app, start, at);
                break;
            case ChannelHangupRequest request:
                NoteHangupRequest(app, request);
                break;
            case StasisEnd end when EndCallbackLeg(end.Channel.Id, cause: null, at):
            case ChannelDestroyed callbackLeg when EndCallbackLeg(callbackLeg.Channel.Id, callbackLeg.Cause, at):
                break;
            case StasisEnd end:
                OnChannelGone(app, end.Channel.Id, at, "left the Stasis app");
                break;
            case ChannelDestroyed destroyed:
                OnChannelGone(app, destroyed.Channel.Id, at, $"destroyed ({destroyed.Cause} {destroyed.CauseTxt})", cause: destroyed.Cause);
                break;
            case ChannelEnteredBridge { Channel: { } joined } entered when CallbackPartyJoined(app, joined.Id, entered.Bridge.Id, at):
                break;
            case ChannelDtmfReceived dtmf when dtmf.Digit.Length == 1 && _channels.TryGetValue(On(app, dtmf.Channel.Id), out var surveyLeg) && surveyLeg.AgentId is null && surveyLeg.Session.Survey is not null:
                OnSurveyKey(surveyLeg.Session, dtmf.Digit[0], at);
                break;
            case ChannelDtmfReceived dtmf when dtmf.Digit.Length == 1 && _callbackLegs.TryGetValue(dtmf.Channel.Id, out var surveyed) && surveyed.Survey is not null:
                OnSurveyKey(surveyed, dtmf.Digit[0], at); // a callback's customer answering the queue's survey
                break;
            case ChannelDtmfReceived dtmf when dtmf.Digit.Length == 1 && _features.TryGetValue(On(app, dtmf.Channel.Id), out var feature):
                OnFeatureKey(feature, dtmf.Digit[0], at);
                break;
            case PlaybackFinished finished when _featurePlaybacks.ContainsKey(finished.Playback.Id):
                OnFeaturePlaybackFinished(finished);
                break;
            case PlaybackFinished finished when _surveyPlaybacks.ContainsKey(finished.Playback.Id):
                OnSurveyPlaybackFinished(finished);
                break;
            case ChannelDtmfReceived dtmf when dtmf.Digit.Length == 1 && _channels.TryGetValue(On(app, dtmf.Channel.Id), out var keyLeg) && keyLeg.AgentId is null:
                OnCallerKey(keyLeg.Session, dtmf.Digit[0], at);
                break;
            case PlaybackFinished finished:
                OnPlaybackFinished(finished, at);
                break;
            case RecordingFinished recorded:
                OnRecordingEnded(recorded.Recording, failed: false, at);
                break;
            case RecordingFailed recordingFailed:
                OnRecordingEnded(recordingFailed.Recording, failed: true, at);
                break;
            case ChannelUserevent userEvent:
                OnUserEvent(app, userEvent, at);
                break;
            case AriEventGap gap:
                // Events of the gap are lost: reconcile with what Asterisk has now (CallCenter.Recovery.cs).
                RecoverAfterGap(app, gap);
                break;
        }
    }

    private void OnStasisStart(StasisApp app, StasisStart start, DateTimeOffset at)
    {
        var channel = start.Channel;
        var entry = start.Args.Count > 0 ? start.Args[0] : string.Empty;
        if (entry == "inbound" && _drainStarted)
        {
            HandBackNewCall(app, channel, start.Args.Count > 1 ? start.Args[1] : channel.Dialplan.Exten);
            return;
        }

        if (entry == "inbound")
        {
            if (_channels.ContainsKey(On(app, channel.Id)))
            {
                return; // adopted from the snapshot already (its StasisStart was queued behind the recovery)
            }

            WarnOfChannelIdClash(app, channel.Id);

            StartInbound(app, channel, start.Args.Count > 1 ? start.Args[1] : channel.Dialplan.Exten, at);
            return;
        }

        if (StartCallbackLeg(app, channel, entry, at))
        {
            return;
        }

        if (entry == "feature")
        {
            StartFeature(app, channel, start.Args.Count > 1 ? start.Args[1] : channel.Dialplan.Exten, at);
            return;
        }

        if (entry == "supervisor")
        {
            StartSupervisorFeature(app, channel, start.Args.Count > 1 ? start.Args[1] : channel.Dialplan.Exten, at);
            return;
        }

        if (entry == "monitor")
        {
            SupervisorAnswered(app, channel, at);
            return;
        }

        if (entry == "snoop" && _snoopLegs.ContainsKey(channel.Id))
        {
            // A supervisor's snoop channel entering the app: it is bridged by the request that made it.
            return;
        }

        if (entry == "pickup")
        {
            PickUpLegAnswered(app, channel, at);
            return;
        }

        if (entry == "consult")
        {
            ConsultAnswered(app, channel, at);
            return;
        }

        if (entry == "external")
        {
            ExternalAnswered(app, channel, at);
            return;
        }

        if (entry == "agent" && _channels.TryGetValue(On(app, channel.Id), out var leg) && leg.AgentId is { } agentId && leg.Session.IsCurrentLeg(agentId, channel.Id))
        {
            // The ACD hears of the answer once the leg is in the call's bridge (CallCenter.AnswerBridge.cs).
            BridgeAnsweringAgent(leg.Session, agentId, channel.Id);
            return;
        }

        // A feature code or a leg of a call that has already ended: nothing here serves it yet.
        LogUnknownChannel(_logger, "StasisStart", channel.Id, string.Join(',', start.Args));
        _channels.Remove(On(app, channel.Id));
        app.Release(channel.Id, "normal");
    }

    private void OnChannelGone(StasisApp app, string channelId, DateTimeOffset at, string how, bool lost = false, int? cause = null)
    {
        NoteGoneDuringRecovery(app, channelId);
        AgentLegEnded(channelId);
        var dropped = TakeDroppedLine(channelId);
        if (_externalLegs.TryGetValue(channelId, out var external))
        {
            ExternalGone(external, channelId, at);
            return;
        }

        if (SupervisionChannelGone(channelId, at))
        {
            return;
        }

        if (FeatureChannelGone(app, channelId) || PickUpLegGone(channelId, at))
        {
            return;
        }

        if (_consultLegs.TryGetValue(channelId, out var consulting))
        {
            ConsultGone(consulting, channelId, at);
            return;
        }

        if (!_channels.Remove(On(app, channelId), out var leg))
        {
            // StasisEnd and ChannelDestroyed both arrive for our channels: the second one finds nothing.
            LogUnknownChannelGone(_logger, channelId, how);
            return;
        }

        var session = leg.Session;
        if (leg.AgentId is null)
        {
            session.CallerGone = true;
            if (!session.Ended && session.Stage == CallStage.Acd && !session.LeftAcd)
            {
                // A channel that vanished unseen is a system loss, not the caller's choice (metrics' system-lost).
                _engine.Handle(lost ? Lost(session, at, $"caller channel {how}") : HungUp(session, at, HangupParty.Caller));
            }

            EndSession(session);
            return;
        }

        if (!session.IsCurrentLeg(leg.AgentId, channelId))
        {
            // A leg CtiBridge already stopped (ring timeout, another agent answered, the call ended).
            return;
        }

        session.AgentLegs.Remove(leg.AgentId);
        if (session.ConnectedAgentId == leg.AgentId)
        {
            session.ConnectedAgentId = null;
            if (dropped is not null && !session.Ended)
            {
                LogAgentLineDropped(_logger, session.CallId, leg.AgentId, dropped);
            }

            if (!session.Ended && AgentLeft(session, leg.AgentId, at, lost || dropped is not null, dropped))
            {
                return;
            }

            EndSession(session);
        }
        else if (!session.Ended)
        {
            if (DropAnswerBridge(session, leg.AgentId))
            {
                LogAnsweredLegLost(_logger, session.CallId, leg.AgentId, how);
            }
            else
            {
                LogAgentLegFailed(_logger, session.CallId, leg.AgentId, how);
            }

            _engine.Handle(new AgentDeclined(at, session.CallId, leg.AgentId) { Busy = cause == UserBusy });
        }
    }

    private void EndSession(CallSession session)
    {
        if (session.Ended)
        {
            return;
        }

        session.Ended = true;
        _calls.Remove(session.CallId);
        RememberCallServer(session);
        CheckDrained();
        if (session.Placed is not null)
        {
            CallbackSessionEnded(session);
        }

        EndAgentCalls(session);
        DropAnswerBridges(session);
        var (record, recording) = WriteIvrCallRecord(session);
        ForgetIvrState(session, record, recording);
        foreach (var (agentId, legId) in session.AgentLegs)
        {
            AgentLegEnding(agentId, legId);
            session.Run("hang up agent " + agentId, ct => session.App.Ari.Channels.HangupAsync(legId, reason: "normal", cancellationToken: ct));
        }

        if (!session.CallerGone && !session.HandedBack)
        {
            session.Run("hang up caller", ct => session.App.Ari.Channels.HangupAsync(session.CallerChannelId, reason: "normal", cancellationToken: ct));
        }

        if (session.BridgeId is { } bridgeId)
        {
            session.Run("destroy bridge", ct => session.App.Ari.Bridges.DestroyAsync(bridgeId, ct));
        }
    }

    void IAcdOutput.Execute(AcdCommand command)
    {
        if (!_calls.TryGetValue(command.CallId, out var session))
        {
            LogCommandForEndedCall(_logger, command.GetType().Name, command.CallId);
            return;
        }

        if (session.Placed is not null && ExecuteCallback(session, command))
        {
            return;
        }

        var ari = session.App.Ari;
        switch (command)
        {
            case StartMusicOnHold moh:
                session.Run("music on hold", ct => ari.Channels.StartMohAsync(session.CallerChannelId, moh.MusicClass, ct));
                break;
            case RingAgent ring:
                session.CurrentQueue = ring.Queue;
                if (!TryAdoptConsultLeg(session, ring))
                {
                    RingAgent(session, ring);
                }

                break;
            case TransferCall transfer:
                CarryOutTransfer(session, transfer);
                break;
            case StopRinging stop:
                DropAnswerBridge(session, stop.AgentId);
                if (session.AgentLegs.Remove(stop.AgentId, out var legId))
                {
                    AgentLegEnding(stop.AgentId, legId);
                    session.Run("stop ringing " + stop.AgentId, ct => ari.Channels.HangupAsync(legId, reason: "normal", cancellationToken: ct));
                }

                break;
            case ConnectAgent connect when session.AgentLegs.TryGetValue(connect.AgentId, out var agentLeg):
                Connect(session, connect, agentLeg);
                break;
            case ConnectAgent connect when TryAdoptPickUpLeg(session, connect, out var pickerLeg):
                Connect(session, connect, pickerLeg);
                break;
            default:
                if (!ExecuteExperience(session, command))
                {
                    LogCommandNotSupported(_logger, command.GetType().Name, command.CallId);
                }

                break;
        }
    }

    private void RingAgent(CallSession session, RingAgent ring)
    {
        var legId = $"{session.CallId}-{ring.AgentId}-{++session.Attempts}";
        session.AgentLegs[ring.AgentId] = legId;
        _channels[On(session.App, legId)] = new ChannelLeg(session, ring.AgentId);
        var number = ring.Caller.CallerNumber ?? string.Empty;
        var name = $"[{ring.Queue}] {(string.IsNullOrEmpty(ring.Caller.CallerName) ? number : ring.Caller.CallerName)}";

        // The engine times the ring; Asterisk's own timeout is only a backstop if CtiBridge goes away.
        var backstop = (int)Math.Ceiling(ring.RingTimeout.TotalSeconds) + 30;
        var callId = session.CallId;
        var agentId = ring.AgentId;

        // An agent on another Asterisk server is rung through the caller's server's trunk there (CallCenter.Sites.cs).
        if (AgentEndpoint(session.App.Server, agentId, ring.Extension) is not { } endpoint)
        {
            AgentUnreachable(session, agentId, legId);
            return;
        }

        var previous = PreviousLegsOf(agentId);
        session.Run($"ring agent {agentId}", async ct =>
        {
            if (previous is not null)
            {
                await AwaitPhoneFreeAsync(previous, callId, agentId, ring.RingTimeout, ct).ConfigureAwait(false);
            }

            try
            {
                await session.App.Ari.Channels.OriginateAsync(
                    endpoint: endpoint, app: session.App.Name, appArgs: $"agent,{callId},{agentId}",
                    callerId: $"\"{name.Replace("\"", string.Empty, StringComparison.Ordinal)}\" <{number}>",
                    timeout: backstop, channelId: legId, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                // Unregistered or unknown endpoint: the engine tries the next agent.
                LogOriginateFailed(_logger, callId, agentId, endpoint, ex.Message);
                Post(at =>
                {
                    // Never created: a later ring of this agent must not wait for its end.
                    AgentLegEnded(legId);
                    if (session.Ended || !session.AgentLegs.TryGetValue(agentId, out var current) || current != legId)
                    {
                        return null;
                    }

                    session.AgentLegs.Remove(agentId);
                    _channels.Remove(On(session.App, legId));
                    return new AgentDeclined(at, callId, agentId);
                });
            }
        });
        LogRinging(_logger, callId, agentId, endpoint, name, legId);
    }

    void IAcdOutput.Publish(AcdEvent domainEvent)
    {
        ObserveForCallbacks(domainEvent);
        ObservePhoneLogins(domainEvent);
        ObservePickUps(domainEvent);
        lock (_subscribersGate)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.TryWrite(domainEvent);
            }
        }
    }

    /// <summary>Stops the loop; calls in Asterisk are left as they are (adopting them on restart comes later).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_work.Writer.TryComplete())
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);

        // Requests still queued when the loop stopped would otherwise wait until their callers give up.
        while (_work.Reader.TryRead(out var left))
        {
            (left as ApiWork)?.Done.TrySetException(new CallControlUnavailableException("Call control stopped on this instance before the request was handled: send it to the active instance."));
        }
        await StopCallbackReportsAsync().ConfigureAwait(false);
        await _timer.DisposeAsync().ConfigureAwait(false);
        if (_dayTimer is not null)
        {
            await _dayTimer.DisposeAsync().ConfigureAwait(false);
        }

        _records.Writer.TryComplete();
        _ivrStates.Writer.TryComplete();
        lock (_subscribersGate)
        {
            foreach (var subscriber in _subscribers)
            {
                subscriber.TryComplete();
            }
        }

        _stopping.Dispose();
    }

    private abstract record Work;

    private sealed record AriWork(StasisApp App, Message Message) : Work;

    private sealed record TimerWork : Work;

    private sealed record InputWork(Func<DateTimeOffset, AcdInput?> Input) : Work;

    private sealed record ApiWork(Func<DateTimeOffset, object?> Action, TaskCompletionSource<object?> Done) : Work;

    private sealed record ChannelLeg(CallSession Session, string? AgentId);

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "Call {CallId} entered on DID {Did} for queue {Queue}")]
    private static partial void LogCallEntered(ILogger logger, string callId, string did, string queue);

    [LoggerMessage(EventId = 801, Level = LogLevel.Warning, Message = "Inbound call on {Channel} dialled DID {Did}, which callControl.dids does not route; released")]
    private static partial void LogUnknownDid(ILogger logger, string did, string channel);

    [LoggerMessage(EventId = 802, Level = LogLevel.Information, Message = "Call {CallId}: ringing agent {AgentId} on {Extension} as '{CallerName}' (leg {LegId})")]
    private static partial void LogRinging(ILogger logger, string callId, string agentId, string extension, string callerName, string legId);

    [LoggerMessage(EventId = 803, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId} answered; bridging")]
    private static partial void LogConnected(ILogger logger, string callId, string agentId);

    [LoggerMessage(EventId = 804, Level = LogLevel.Warning, Message = "Call {CallId}: originate to agent {AgentId} on {Extension} failed: {Reason}")]
    private static partial void LogOriginateFailed(ILogger logger, string callId, string agentId, string extension, string reason);

    [LoggerMessage(EventId = 805, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId}'s phone {How} before answering")]
    private static partial void LogAgentLegFailed(ILogger logger, string callId, string agentId, string how);

    [LoggerMessage(EventId = 806, Level = LogLevel.Warning, Message = "{Event} for channel {ChannelId} that no call owns (args '{Args}'); released")]
    private static partial void LogUnknownChannel(ILogger logger, string @event, string channelId, string args);

    [LoggerMessage(EventId = 807, Level = LogLevel.Debug, Message = "Channel {ChannelId} {How}: no call owns it (already ended); ignored")]
    private static partial void LogUnknownChannelGone(ILogger logger, string channelId, string how);

    [LoggerMessage(EventId = 808, Level = LogLevel.Information, Message = "Call {CallId}: the ACD refused the input: {Reason}")]
    private static partial void LogRefused(ILogger logger, string callId, string reason);

    [LoggerMessage(EventId = 809, Level = LogLevel.Debug, Message = "{Command} for call {CallId}, which has ended; ignored")]
    private static partial void LogCommandForEndedCall(ILogger logger, string command, string callId);

    [LoggerMessage(EventId = 810, Level = LogLevel.Warning, Message = "{Command} for call {CallId} is not carried out yet by call control")]
    private static partial void LogCommandNotSupported(ILogger logger, string command, string callId);

    [LoggerMessage(EventId = 811, Level = LogLevel.Information, Message = "Call {CallId} overflowed ({Condition} → {Target})")]
    private static partial void LogOverflow(ILogger logger, string callId, string condition, string target);

    [LoggerMessage(EventId = 812, Level = LogLevel.Warning, Message = "ARI events of Asterisk server {Server} were cut off for {Seconds} s ({Reason}); checking which calls still exist")]
    private static partial void LogEventGap(ILogger logger, string server, string reason, double seconds);

    [LoggerMessage(EventId = 814, Level = LogLevel.Error, Message = "After an ARI events gap on Asterisk server {Server}, the channel list could not be read ({Reason}); calls that ended meanwhile stay open until their channels send events")]
    private static partial void LogResyncFailed(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 813, Level = LogLevel.Error, Message = "Call control failed on {Work}; continuing with the next event")]
    private static partial void LogWorkFailed(ILogger logger, string work, Exception exception);
}

/// <summary>A subscription to the call center's domain events.</summary>
public sealed class CallCenterSubscription(ChannelReader<AcdEvent> reader, Action unsubscribe) : IDisposable
{
    /// <summary>The events, in the engine's order.</summary>
    public ChannelReader<AcdEvent> Reader { get; } = reader;

    /// <inheritdoc />
    public void Dispose() => unsubscribe();
}
