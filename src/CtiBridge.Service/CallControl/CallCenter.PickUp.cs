using System.Diagnostics.CodeAnalysis;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Call pickup (抢接, <c>*95</c>): a ready agent dials the code and the longest-ringing call offered
/// to another agent of one of the agent's queues is bridged to this phone. The engine withdraws the
/// ringing agents (not a miss of theirs) and answers the call for the picker; the feature-code
/// channel itself becomes the picker's leg of the call, so no new call to the phone is needed.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>The feature call picking up, while the engine handles its <see cref="CallPickUp"/> (loop only).</summary>
    private FeatureCall? _pickingUp;

    /// <summary>
    /// Picks up for the agent at <paramref name="feature"/>'s phone (<c>*95</c>), or for <paramref name="agentId"/>
    /// whose phone CtiBridge rang for an API pickup (then <paramref name="wantedCallId"/> is the call asked for).
    /// </summary>
    private void PickUp(FeatureCall feature, DateTimeOffset at, string? agentId = null, string? wantedCallId = null)
    {
        var agent = agentId is not null
            ? _engine.GetAgent(agentId)
            : _engine.GetAgents().FirstOrDefault(a => a.State != AgentState.LoggedOut && string.Equals(a.Extension, feature.Phone, StringComparison.OrdinalIgnoreCase) && AgentIsOn(a.AgentId, feature.App.Server));
        if (agent is null || agent.State == AgentState.LoggedOut)
        {
            Finish(feature, InputOutcome.Refused(agentId is null ? $"no agent is logged in at {feature.Phone}" : $"agent '{agentId}' is not logged in"), "beep");
            return;
        }

        // An API pickup holds the agent paused "pickup" while the phone rings (no other call offered meanwhile).
        if (agent.State != AgentState.Ready && !(agentId is not null && agent.State == AgentState.Paused && agent.PauseReason == PauseReasons.PickUp))
        {
            Finish(feature, InputOutcome.Refused($"agent '{agent.AgentId}' is {agent.State.ToString().ToLowerInvariant()}; only a ready agent can pick up a call"), "beep");
            return;
        }

        var callId = wantedCallId is not null
            ? (_engine.IsRinging(wantedCallId) ? wantedCallId : null)
            : _engine.FindPickUpCall(agent.AgentId);
        if (callId is null || !_calls.TryGetValue(callId, out var session) || session.Ended)
        {
            // Not an error of the phone: say so plainly and hang up.
            LogFeatureRefused(_logger, feature.Phone, wantedCallId is null
                ? $"nothing is ringing in the queues of agent '{agent.AgentId}' to pick up"
                : $"call '{wantedCallId}' is no longer ringing an agent; nothing to pick up for agent '{agent.AgentId}'");
            Finish(feature, InputOutcome.Ok, _settings.FeatureCodes.NothingToPickUpPrompt);
            return;
        }

        if (session.App != feature.App)
        {
            Finish(feature, InputOutcome.Refused($"call '{callId}' is on {session.App.Server}, not on the phone's PBX {feature.App.Server}; it cannot be bridged here"), "beep");
            return;
        }

        // The bridge must not take the phone's channel before CtiBridge has answered it.
        var answered = feature.Tail;
        session.Run("wait for the picker's channel to be answered", _ => answered);
        feature.AgentId = agent.AgentId;
        _pickingUp = feature;
        InputOutcome outcome;
        try
        {
            outcome = _engine.Handle(new CallPickUp(at, agent.AgentId, callId));
        }
        finally
        {
            _pickingUp = null;
        }

        if (!outcome.Accepted)
        {
            Finish(feature, outcome, "beep");
            return;
        }

        LogPickedUp(_logger, callId, agent.AgentId, feature.Phone);

        // From here the channel is the agent's leg of the call, no longer a feature-code call.
        feature.Step = FeatureStep.Done;
        feature.TimerVersion++;
        feature.Timer?.Dispose();
        _features.Remove(On(feature.App, feature.ChannelId));
    }

    /// <summary>The engine connects the picker: the feature call's channel becomes the agent's leg of the call.</summary>
    private bool TryAdoptPickUpLeg(CallSession session, ConnectAgent connect, [NotNullWhen(true)] out string? legId)
    {
        legId = null;
        if (_pickingUp is not { } feature || feature.AgentId != connect.AgentId || session.AgentLegs.ContainsKey(connect.AgentId))
        {
            return false;
        }

        legId = feature.ChannelId;
        session.AgentLegs[connect.AgentId] = legId;
        _channels[On(session.App, legId)] = new ChannelLeg(session, connect.AgentId);
        return true;
    }

    [LoggerMessage(EventId = 893, Level = LogLevel.Information, Message = "Call {CallId} picked up by agent {AgentId} at {Phone}")]
    private static partial void LogPickedUp(ILogger logger, string callId, string agentId, string phone);
}
