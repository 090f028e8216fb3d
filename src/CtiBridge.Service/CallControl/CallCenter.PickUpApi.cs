using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>What an API pickup request got: accepted with the call being picked up, or refused with the reason.</summary>
/// <param name="Outcome">Accepted (the picker's phone rings), or refused with the reason in operator words.</param>
/// <param name="CallId">The call being picked up when accepted.</param>
public sealed record PickUpOutcome(InputOutcome Outcome, string? CallId);

/// <summary>
/// Call pickup asked for over the API (an agent desktop's "pick up" button): the picker's desk phone
/// is rung first (it has no channel in the app yet, unlike <c>*95</c>); answered, the call is picked
/// up exactly as by the feature code. While the phone rings the agent is held paused
/// <see cref="PauseReasons.PickUp"/> (source System), so the engine offers that phone no other call;
/// when the phone does not answer, or the call stops ringing first, the agent is ready again.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Pickup legs CtiBridge is ringing, by channel ID (loop only).</summary>
    private readonly Dictionary<string, PickUpLeg> _pickUpLegs = new(StringComparer.Ordinal);

    /// <summary>
    /// Picks up for <paramref name="agentId"/> the call <paramref name="callId"/> (or, when null, the
    /// longest-ringing call offered to another agent of the agent's queues): the agent's phone rings and,
    /// answered, is bridged to the caller; the agents rung are withdrawn without a miss.
    /// </summary>
    /// <param name="agentId">The picker: logged in and ready.</param>
    /// <param name="callId">The call to pick up, or null for the longest-ringing one.</param>
    /// <param name="cancellationToken">Cancels the wait for the loop.</param>
    /// <returns>Accepted with the call ID, or refused with the reason.</returns>
    public Task<PickUpOutcome> PickUpAsync(string agentId, string? callId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        return RequestAsync(at => StartPickUp(agentId, callId, at), cancellationToken);
    }

    private PickUpOutcome StartPickUp(string agentId, string? wantedCallId, DateTimeOffset at)
    {
        static PickUpOutcome Refused(string reason) => new(InputOutcome.Refused(reason), null);

        if (!_agents.ContainsKey(agentId) || _engine.GetAgent(agentId) is not { } agent)
        {
            return Refused($"agent '{agentId}' is not configured in callControl.agents");
        }

        if (agent.State == AgentState.LoggedOut || agent.Extension is not { } extension)
        {
            return Refused($"agent '{agentId}' is not logged in");
        }

        if (agent.State != AgentState.Ready)
        {
            return Refused($"agent '{agentId}' is {agent.State.ToString().ToLowerInvariant()}; only a ready agent can pick up a call");
        }

        var callId = wantedCallId ?? _engine.FindPickUpCall(agentId);
        if (callId is null)
        {
            return Refused($"nothing is ringing in the queues of agent '{agentId}' to pick up");
        }

        if (!_calls.TryGetValue(callId, out var session) || session.Ended || !_engine.IsRinging(callId))
        {
            return Refused($"call '{callId}' is not ringing an agent; nothing to pick up");
        }

        if (session.Placed is not null)
        {
            return Refused($"call '{callId}' is a callback task (no caller on the line); it cannot be picked up");
        }

        var queue = session.CurrentQueue ?? session.Queue;
        if (!agent.Queues.Any(q => string.Equals(q.Queue, queue, StringComparison.Ordinal)))
        {
            return Refused($"agent '{agentId}' does not serve queue '{queue}' of call '{callId}'");
        }

        if (AgentEndpoint(session.App.Server, agentId, extension) is not { } endpoint)
        {
            return Refused($"agent '{agentId}''s phone {extension} cannot be reached from {session.App.Server}, where call '{callId}' is");
        }

        // Held while the phone rings: the engine must not offer this phone another call meanwhile.
        var held = _engine.Handle(new AgentPause(at, agentId, PauseReasons.PickUp, ChangeSource.System));
        if (!held.Accepted)
        {
            return new PickUpOutcome(held, null);
        }

        var legId = $"{callId}-pickup-{agentId}-{++session.Attempts}";
        _pickUpLegs[legId] = new PickUpLeg(session, agentId, extension);
        var ringTimeout = _settings.Queues.FirstOrDefault(q => string.Equals(q.Name, queue, StringComparison.Ordinal))?.RingTimeout ?? TimeSpan.FromSeconds(15);
        var number = session.Caller.CallerNumber ?? string.Empty;
        var name = $"[{queue}] {(string.IsNullOrEmpty(session.Caller.CallerName) ? number : session.Caller.CallerName)}";
        var app = session.App;
        session.Run($"ring agent {agentId} to pick up", async ct =>
        {
            try
            {
                // Asterisk's own timeout ends an unanswered pickup ring: the agent is then ready again.
                await app.Ari.Channels.OriginateAsync(
                    endpoint: endpoint, app: app.Name, appArgs: $"pickup,{callId},{agentId}",
                    callerId: $"\"{name.Replace("\"", string.Empty, StringComparison.Ordinal)}\" <{number}>",
                    timeout: Math.Max(1, (int)Math.Ceiling(ringTimeout.TotalSeconds)), channelId: legId, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                LogOriginateFailed(_logger, callId, agentId, endpoint, ex.Message);
                Post(when =>
                {
                    PickUpLegGone(legId, when);
                    return null;
                });
            }
        });
        LogPickUpRinging(_logger, callId, agentId, endpoint);
        return new PickUpOutcome(InputOutcome.Ok, callId);
    }

    /// <summary>The picker's phone answered (<c>pickup,&lt;callId&gt;,&lt;agentId&gt;</c>): the call is picked up on this channel.</summary>
    private void PickUpLegAnswered(StasisApp app, Asterisk.Ari.Models.Channel channel, DateTimeOffset at)
    {
        if (!_pickUpLegs.Remove(channel.Id, out var leg))
        {
            app.Release(channel.Id, "normal");
            return;
        }

        // The answered channel is handled like a *95 call from that phone: prompts and hang-up on refusal included.
        var feature = new FeatureCall(channel.Id, app, leg.Extension);
        _features[On(app, channel.Id)] = feature;
        PickUp(feature, at, leg.AgentId, leg.Session.CallId);
        ReadyAgainAfterPickUp(leg.AgentId, at);
    }

    /// <summary>A pickup leg ended before it was answered (no answer, busy, refused originate): the agent is ready again.</summary>
    private bool PickUpLegGone(string channelId, DateTimeOffset at)
    {
        if (!_pickUpLegs.Remove(channelId, out var leg))
        {
            return false;
        }

        LogPickUpNotAnswered(_logger, leg.Session.CallId, leg.AgentId);
        ReadyAgainAfterPickUp(leg.AgentId, at);
        return true;
    }

    /// <summary>Ends the pickup hold unless the agent has since been paused for something else (or picked the call up).</summary>
    private void ReadyAgainAfterPickUp(string agentId, DateTimeOffset at)
    {
        if (_engine.GetAgent(agentId) is { State: AgentState.Paused, PauseReason: PauseReasons.PickUp })
        {
            _engine.Handle(new AgentResume(at, agentId, ChangeSource.System));
        }
    }

    /// <summary>
    /// A call being picked up was answered by someone else or ended while the picker's phone rang: that
    /// ring has nothing to give any more, so it stops (the agent is made ready when its channel goes).
    /// </summary>
    private void ObservePickUps(AcdEvent domainEvent)
    {
        if (_pickUpLegs.Count == 0 || domainEvent is not (CallAnswered or CallEnded))
        {
            return;
        }

        var callId = domainEvent is CallAnswered answered ? answered.CallId : ((CallEnded)domainEvent).CallId;
        foreach (var (legId, leg) in _pickUpLegs)
        {
            if (leg.Session.CallId == callId)
            {
                var ari = leg.Session.App.Ari;
                _ = HangUpQuietlyAsync(ari, legId);
            }
        }
    }

    private async Task HangUpQuietlyAsync(AriClient ari, string channelId)
    {
        try
        {
            await ari.Channels.HangupAsync(channelId, reason: "normal", cancellationToken: _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException)
        {
            // Already gone (it answered or hung up meanwhile): its own events settle it.
            LogPickUpHangUpFailed(_logger, channelId, ex.Message);
        }
    }

    /// <summary>A pickup ring to <see cref="AgentId"/>'s phone for a call.</summary>
    private sealed record PickUpLeg(CallSession Session, string AgentId, string Extension);

    [LoggerMessage(EventId = 955, Level = LogLevel.Information, Message = "Call {CallId}: ringing agent {AgentId} on {Endpoint} to pick it up (API)")]
    private static partial void LogPickUpRinging(ILogger logger, string callId, string agentId, string endpoint);

    [LoggerMessage(EventId = 956, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId}'s phone did not answer the pickup ring; the agent is ready again")]
    private static partial void LogPickUpNotAnswered(ILogger logger, string callId, string agentId);

    [LoggerMessage(EventId = 957, Level = LogLevel.Debug, Message = "Stopping the pickup ring {Channel} failed: {Reason}")]
    private static partial void LogPickUpHangUpFailed(ILogger logger, string channel, string reason);
}
