using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CallLegRecord = CtiBridge.Data.Records.CallLegRecord;
using CallParty = CtiBridge.Data.Records.CallParty;

namespace CtiBridge.Service.CallControl;

/// <summary>How a supervisor joins an agent's call (SUP-01 监听, SUP-13 coaching, SUP-02 强插, SUP-03 拦截).</summary>
public enum SupervisionMode
{
    /// <summary>Hears caller and agent; nobody hears the supervisor (ARI snoop, spy both).</summary>
    Listen,

    /// <summary>Hears both; only the agent hears the supervisor (ARI snoop, spy both, whisper out).</summary>
    Whisper,

    /// <summary>Joins the call's bridge: a three-way call.</summary>
    Barge,

    /// <summary>Joins the call's bridge and the agent is cut off: the supervisor goes on with the caller.</summary>
    TakeOver,
}

/// <summary>
/// Supervisors on agents' calls: listen and whisper through an ARI snoop channel on the agent's
/// leg, bridged with the supervisor's phone in a bridge of their own; barge and take-over put the
/// supervisor's phone into the call's bridge (take-over then hands the call to the supervisor, as
/// an attended transfer out of the ACD). The supervisor's phone is either rung by CtiBridge (API)
/// or already in the app (feature code <c>*81</c>–<c>*84</c> + agent ID, after the supervisor PIN).
/// Every supervision is a <c>call_legs</c> row with party <c>supervisor</c>.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Supervisions by the supervisor's channel ID.</summary>
    private readonly Dictionary<string, Supervision> _supervisorLegs = new(StringComparer.Ordinal);

    /// <summary>Supervisions by their snoop channel ID.</summary>
    private readonly Dictionary<string, Supervision> _snoopLegs = new(StringComparer.Ordinal);

    /// <summary>
    /// A supervisor joins <paramref name="agentId"/>'s current call in <paramref name="mode"/>: CtiBridge
    /// rings the supervisor's phone (<c>callControl.supervisors[].extension</c>) and connects it when answered.
    /// </summary>
    /// <returns>Accepted (the phone rings), or refused with the reason (unknown supervisor, agent not on a call …).</returns>
    public Task<InputOutcome> SuperviseAsync(string supervisorId, string agentId, SupervisionMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(supervisorId);
        ArgumentNullException.ThrowIfNull(agentId);
        return RequestAsync(at => StartSupervision(supervisorId, agentId, mode, at, feature: null), cancellationToken);
    }

    /// <summary>
    /// Force hang-up (SUP-04 强拆): ends the agent's current call at once, both sides released, no
    /// survey. Stored as released from the agent's side (the audit trail says who asked); the
    /// agent wraps up as after any call.
    /// </summary>
    /// <returns>Accepted, or refused when the agent is not talking to a caller.</returns>
    public Task<InputOutcome> ForceHangUpAsync(string agentId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        return AgentCallRequest(agentId, (session, at) => ForceHangUp(session, agentId, at), cancellationToken);
    }

    /// <summary>The force hang-up itself (API and supervisor feature code), on the loop.</summary>
    private InputOutcome ForceHangUp(CallSession session, string agentId, DateTimeOffset at)
    {
        var outcome = _engine.Handle(new CallHungUp(at, session.CallId, HangupParty.Agent));
        if (outcome.Accepted)
        {
            LogForcedHangUp(_logger, session.CallId, agentId);
            session.ConnectedAgentId = null;
            EndSession(session);
        }

        return outcome;
    }

    /// <summary>The supervisor (by ID) if configured.</summary>
    private SupervisorSettings? FindSupervisor(string supervisorId) =>
        _settings.Supervisors.FirstOrDefault(s => string.Equals(s.Id, supervisorId, StringComparison.Ordinal));

    /// <summary>
    /// Checks and starts a supervision. <paramref name="feature"/>: the supervisor's feature-code call,
    /// already answered in the app (it becomes the supervisor's leg); null: the supervisor's phone is rung.
    /// </summary>
    private InputOutcome StartSupervision(string supervisorId, string agentId, SupervisionMode mode, DateTimeOffset at, FeatureCall? feature)
    {
        if (FindSupervisor(supervisorId) is not { } supervisor)
        {
            return InputOutcome.Refused($"supervisor '{supervisorId}' is not configured in callControl.supervisors");
        }

        var status = _engine.GetAgent(agentId);
        if (status is null)
        {
            return InputOutcome.Refused($"agent '{agentId}' is not configured in callControl.agents");
        }

        if (status.State != AgentState.OnCall || status.CallId is not { } callId || !_calls.TryGetValue(callId, out var session)
            || session.Ended || session.ConnectedAgentId != agentId || !session.AgentLegs.TryGetValue(agentId, out var agentLeg))
        {
            return InputOutcome.Refused($"agent '{agentId}' is not talking to a caller (state {status.State})");
        }

        if (_supervisorLegs.Values.FirstOrDefault(s => s.SupervisorId == supervisorId) is { } busy)
        {
            return InputOutcome.Refused($"supervisor '{supervisorId}' is already on call {busy.Session.CallId} ({busy.Mode}); hang up first");
        }

        if (mode is SupervisionMode.Barge or SupervisionMode.TakeOver && session.BridgeId is null)
        {
            return InputOutcome.Refused($"agent '{agentId}''s call has no bridge to join yet");
        }

        if (mode == SupervisionMode.TakeOver && session.Consult is not null)
        {
            return InputOutcome.Refused($"agent '{agentId}' is consulting; take the call over when the consultation has ended");
        }

        var n = ++session.SupervisionCount;
        var supervision = new Supervision(session, supervisorId, supervisor.Extension, agentId, mode, $"{session.CallId}-{ModeName(mode)}-{n}", n, at);
        session.Supervisions.Add(supervision);
        LogSupervision(_logger, session.CallId, supervisorId, ModeName(mode), agentId);
        if (feature is not null)
        {
            // The supervisor dialled the code: that call is the leg, already answered.
            supervision.ChannelId = feature.ChannelId;
            _supervisorLegs[feature.ChannelId] = supervision;
            Attach(supervision, agentLeg, at);
            return InputOutcome.Ok;
        }

        var legId = supervision.LegId;
        supervision.ChannelId = legId;
        _supervisorLegs[legId] = supervision;
        var app = session.App;
        var name = $"{ModeName(mode)} {agentId}";
        session.Run($"ring supervisor {supervisorId}", async ct =>
        {
            try
            {
                await app.Ari.Channels.OriginateAsync(endpoint: supervisor.Extension, app: app.Name, appArgs: $"monitor,{session.CallId}",
                    callerId: $"\"{name}\" <{agentId}>", timeout: 30, channelId: legId, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                LogOriginateFailed(_logger, session.CallId, "supervisor " + supervisorId, supervisor.Extension, ex.Message);
                Post(when =>
                {
                    SupervisorLegGone(legId, when);
                    return null;
                });
            }
        });
        return InputOutcome.Ok;
    }

    /// <summary>The supervisor's phone answered the call CtiBridge rang (<c>monitor,&lt;callId&gt;</c>).</summary>
    private void SupervisorAnswered(StasisApp app, Asterisk.Ari.Models.Channel channel, DateTimeOffset at)
    {
        if (!_supervisorLegs.TryGetValue(channel.Id, out var supervision) || supervision.Session.Ended
            || supervision.Session.ConnectedAgentId != supervision.AgentId
            || !supervision.Session.AgentLegs.TryGetValue(supervision.AgentId, out var agentLeg))
        {
            // The call (or the agent's part in it) ended while the supervisor's phone rang.
            app.Release(channel.Id, "normal");
            return;
        }

        Attach(supervision, agentLeg, at);
    }

    /// <summary>Connects the supervisor's answered leg to the call as the mode says.</summary>
    private void Attach(Supervision supervision, string agentLeg, DateTimeOffset at)
    {
        supervision.AnsweredAt = at;
        var session = supervision.Session;
        var ari = session.App.Ari;
        var appName = session.App.Name;
        var leg = supervision.ChannelId!;
        switch (supervision.Mode)
        {
            case SupervisionMode.Listen:
            case SupervisionMode.Whisper:
                var snoopId = $"{session.CallId}-snoop-{supervision.Number}";
                var bridgeId = $"{session.CallId}-monitor-{supervision.Number}";
                supervision.SnoopId = snoopId;
                supervision.MonitorBridgeId = bridgeId;
                _snoopLegs[snoopId] = supervision;
                var whisper = supervision.Mode == SupervisionMode.Whisper ? "out" : null;
                session.Run($"{ModeName(supervision.Mode)} to agent {supervision.AgentId}", async ct =>
                {
                    // Spy "both" on the agent's leg: what the agent says and hears; whisper "out": into the agent's ear only.
                    await ari.Channels.SnoopChannelAsync(agentLeg, appName, spy: "both", whisper: whisper, appArgs: $"snoop,{session.CallId}", snoopId: snoopId, cancellationToken: ct).ConfigureAwait(false);
                    await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: "monitor", cancellationToken: ct).ConfigureAwait(false);
                    await ari.Bridges.AddChannelAsync(bridgeId, [snoopId, leg], cancellationToken: ct).ConfigureAwait(false);
                });
                break;
            case SupervisionMode.Barge:
                var callBridge = session.BridgeId!;
                session.Run("barge into " + callBridge, ct => ari.Bridges.AddChannelAsync(callBridge, [leg], cancellationToken: ct));
                break;
            case SupervisionMode.TakeOver:
                var bridge = session.BridgeId!;
                session.Run("take over in " + bridge, ct => ari.Bridges.AddChannelAsync(bridge, [leg], cancellationToken: ct));
                if (session.CallerOnHold && _engine.Handle(new CallHoldChanged(at, session.CallId, false)).Accepted)
                {
                    SetCallerHeld(session, false);
                }

                var outcome = _engine.Handle(new CallTransferRequested(at, session.CallId, TransferTarget.ToSupervisor(supervision.SupervisorId), Attended: true));
                if (outcome.Accepted)
                {
                    session.TakenOverBy = supervision;
                }
                else
                {
                    LogRefused(_logger, session.CallId, outcome.Reason ?? "refused");
                    EndSupervision(supervision, at, hangUp: true);
                }

                break;
        }
    }

    /// <summary>A channel left the app: a supervisor's leg or a snoop. True when it was one of those.</summary>
    private bool SupervisionChannelGone(string channelId, DateTimeOffset at)
    {
        if (_supervisorLegs.ContainsKey(channelId))
        {
            SupervisorLegGone(channelId, at);
            return true;
        }

        if (_snoopLegs.Remove(channelId, out var spied))
        {
            // The agent's leg went (the snoop goes with it): the supervisor has nothing to listen to any more.
            EndSupervision(spied, at, hangUp: true);
            return true;
        }

        return false;
    }

    private void SupervisorLegGone(string channelId, DateTimeOffset at)
    {
        if (!_supervisorLegs.TryGetValue(channelId, out var supervision))
        {
            return;
        }

        var session = supervision.Session;
        EndSupervision(supervision, at, hangUp: false);
        if (session.TakenOverBy == supervision && !session.Ended)
        {
            // The supervisor who took the call over hung up: the caller is released.
            EndSession(session);
        }
    }

    /// <summary>Ends every supervision of a call (the call ended, or its bridge is going away).</summary>
    private void EndSupervisions(CallSession session)
    {
        foreach (var supervision in session.Supervisions.ToList())
        {
            EndSupervision(supervision, _lastAt, hangUp: true);
        }
    }

    /// <summary>Hangs up what the supervision added (snoop, monitor bridge, the supervisor's leg) and records it once.</summary>
    private void EndSupervision(Supervision supervision, DateTimeOffset at, bool hangUp)
    {
        var session = supervision.Session;
        if (!session.Supervisions.Remove(supervision))
        {
            return;
        }

        var ari = session.App.Ari;
        if (supervision.ChannelId is { } leg)
        {
            _supervisorLegs.Remove(leg);
            if (hangUp)
            {
                session.Run("release supervisor " + supervision.SupervisorId, ct => ari.Channels.HangupAsync(leg, reason: "normal", cancellationToken: ct));
            }
        }

        if (supervision.SnoopId is { } snoop && _snoopLegs.Remove(snoop))
        {
            session.Run("end snoop", ct => ari.Channels.HangupAsync(snoop, reason: "normal", cancellationToken: ct));
        }

        if (supervision.MonitorBridgeId is { } bridge)
        {
            session.Run("destroy monitor bridge", ct => ari.Bridges.DestroyAsync(bridge, ct));
        }

        LogSupervisionEnded(_logger, session.CallId, supervision.SupervisorId, ModeName(supervision.Mode));
        _records.Writer.TryWrite(new CallLegRecord
        {
            LegId = supervision.LegId, StartedAt = supervision.StartedAt, CallId = session.CallId, Party = CallParty.Supervisor,
            AgentId = supervision.SupervisorId, Channel = supervision.Phone, AnsweredAt = supervision.AnsweredAt, EndedAt = at < supervision.StartedAt ? supervision.StartedAt : at,
        });
    }

    /// <summary>The mode as it appears in leg IDs, logs and the API (<c>listen</c>, <c>whisper</c>, <c>barge</c>, <c>takeover</c>).</summary>
    internal static string ModeName(SupervisionMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>One supervisor on one call (loop only).</summary>
    internal sealed class Supervision(CallSession session, string supervisorId, string phone, string agentId, SupervisionMode mode, string legId, int number, DateTimeOffset startedAt)
    {
        public CallSession Session { get; } = session;

        public string SupervisorId { get; } = supervisorId;

        /// <summary>The supervisor's endpoint, e.g. PJSIP/1901.</summary>
        public string Phone { get; } = phone;

        public string AgentId { get; } = agentId;

        public SupervisionMode Mode { get; } = mode;

        /// <summary>The record's leg ID: <c>&lt;callId&gt;-&lt;mode&gt;-&lt;n&gt;</c>.</summary>
        public string LegId { get; } = legId;

        public int Number { get; } = number;

        public DateTimeOffset StartedAt { get; } = startedAt;

        /// <summary>The supervisor's channel in Asterisk.</summary>
        public string? ChannelId { get; set; }

        public DateTimeOffset? AnsweredAt { get; set; }

        public string? SnoopId { get; set; }

        public string? MonitorBridgeId { get; set; }
    }

    [LoggerMessage(EventId = 899, Level = LogLevel.Information, Message = "Call {CallId}: hung up by force on agent {AgentId}'s side (supervisor)")]
    private static partial void LogForcedHangUp(ILogger logger, string callId, string agentId);

    [LoggerMessage(EventId = 895, Level = LogLevel.Information, Message = "Call {CallId}: supervisor {SupervisorId} starts to {Mode} agent {AgentId}")]
    private static partial void LogSupervision(ILogger logger, string callId, string supervisorId, string mode, string agentId);

    [LoggerMessage(EventId = 896, Level = LogLevel.Information, Message = "Call {CallId}: supervisor {SupervisorId} ended ({Mode})")]
    private static partial void LogSupervisionEnded(ILogger logger, string callId, string supervisorId, string mode);
}

/// <summary>Supervisors on the call (loop only).</summary>
internal sealed partial class CallSession
{
    /// <summary>Supervisions in progress.</summary>
    public List<CallCenter.Supervision> Supervisions { get; } = [];

    /// <summary>Supervisions started, for unique leg IDs.</summary>
    public int SupervisionCount { get; set; }

    /// <summary>The supervisor who took the call over, if one did.</summary>
    public CallCenter.Supervision? TakenOverBy { get; set; }
}
