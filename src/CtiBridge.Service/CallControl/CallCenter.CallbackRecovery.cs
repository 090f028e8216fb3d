using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.LiveState;
using CtiBridge.Service.Callbacks;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Callback conversations across a restart or an HA takeover (issues 11 and 14). A callback call has no
/// inbound caller, so <c>live_calls</c> never held it and the adopter released its legs as unknown channels:
/// the talk was cut, and a customer in the survey lost it and the attempt's <c>calls</c> row. Now call control
/// notes each conversation in <c>live_callback_calls</c> once the customer and the agent are connected (and
/// again when the recording starts and when the agent leaves for the survey); the adopter resumes it under the
/// same call id: the agent stays on the call in the ACD, the bridge and its recording go on, the survey is
/// asked again, and the attempt's rows are written once, at its end. A callback whose placing instance died
/// before it stored "connected" is connected now, once (<see cref="CallbackService.ConversationAdoptedAsync"/>).
/// An attempt not yet connected (the customer still ringing) is not adopted: its legs are released and the
/// callback is offered again as the dead instance's orphan, the attempt counted (docs/callbacks.md §6).
/// </summary>
public sealed partial class CallCenter
{
    // Callback conversations read for adoption with their callback records (null: not found); set while start-up recovery runs.
    private IReadOnlyList<(LiveCallbackCall Call, Callback? Callback)> _callbackCallsAtAdoption = [];

    /// <summary>Reads (and counts as taken over) the callback conversations stored for <paramref name="server"/>, with their callbacks.</summary>
    private async Task<IReadOnlyList<(LiveCallbackCall Call, Callback? Callback)>> CallbackCallsToAdoptAsync(LiveStateStore store, string server, CancellationToken cancellationToken)
    {
        var stored = await store.TakeOverCallbackCallsAsync(server, cancellationToken).ConfigureAwait(false);
        var calls = new List<(LiveCallbackCall, Callback?)>(stored.Count);
        foreach (var call in stored)
        {
            var callback = _callbacks is CallbackService service ? await service.GetAsync(call.CallbackId, cancellationToken).ConfigureAwait(false) : null;
            calls.Add((call, callback));
        }

        return calls;
    }

    /// <summary>Notes where a connected callback conversation is now, for an instance that may have to adopt it.</summary>
    private void StoreCallbackCall(CallSession session)
    {
        if (LiveState is null || session.Ended
            || session.Placed is not { ConnectedAt: { } connectedAt, DialStartedAt: { } dialled, AgentId: { } agentId } placed)
        {
            return;
        }

        var talking = placed.ConversationEndedAt is null;
        placed.LiveRowStored = true;
        var call = new LiveCallbackCall(session.CallId, placed.Callback.Id, talking ? LiveCallbackStage.Talking : LiveCallbackStage.Survey,
            session.CurrentQueue ?? session.Queue, agentId, placed.CustomerLegId, session.EnteredAt, dialled, connectedAt)
        {
            AgentLegId = talking ? session.AgentLegs.GetValueOrDefault(agentId) : null,
            BridgeId = talking ? session.BridgeId : null,
            CustomerAnsweredAt = placed.CustomerAnsweredAt, ConversationEndedAt = placed.ConversationEndedAt,
            RecordingId = placed.RecordingId, RecordingStartedAt = placed.RecordingStartedAt,
        };
        _ivrStates.Writer.TryWrite(new CallbackCallChange(session.App.Server, call, session.CallId, _lastAt));
    }

    /// <summary>The attempt ended: nothing of it is left to adopt.</summary>
    private void ForgetCallbackCall(CallSession session)
    {
        if (session.Placed is { LiveRowStored: true } placed)
        {
            placed.LiveRowStored = false;
            _ivrStates.Writer.TryWrite(new CallbackCallChange(session.App.Server, null, session.CallId, _lastAt));
        }
    }

    /// <summary>Adopts the callback conversations read at start (loop only, during reconciliation, before the calls in queues).</summary>
    private int AdoptCallbackCalls(StasisApp app, Dictionary<string, Channel> live, Dictionary<string, Bridge> bridgeOf, DateTimeOffset at)
    {
        var adopted = 0;
        foreach (var (stored, callback) in _callbackCallsAtAdoption)
        {
            if (_calls.ContainsKey(stored.CallId))
            {
                continue;
            }

            if (callback is null)
            {
                // No callback scheduler here, or the record is gone: the legs are released below as nobody's.
                LogCallbackCallNotAdopted(_logger, stored.CallId, stored.CallbackId);
                _ivrStates.Writer.TryWrite(new CallbackCallChange(app.Server, null, stored.CallId, at));
                continue;
            }

            AdoptCallbackCall(app, stored, callback, live, bridgeOf, at);
            adopted++;
        }

        return adopted;
    }

    private void AdoptCallbackCall(StasisApp app, LiveCallbackCall stored, Callback callback, Dictionary<string, Channel> live, Dictionary<string, Bridge> bridgeOf, DateTimeOffset at)
    {
        // A task of the same callback queued here meanwhile (offered again as an orphan) gives way to the conversation.
        if (_callbackTasks.TryGetValue(callback.Id, out var queued) && queued.Placed is { DialStartedAt: null } waiting)
        {
            waiting.Withdrawn = true;
            if (_engine.Handle(new CallbackWithdrawn(at, queued.CallId)).Accepted)
            {
                EndSession(queued);
            }
        }

        var customerLeg = stored.CustomerLegId;
        var agentId = stored.AgentId;
        var placed = new PlacedCallback(callback, customerLeg)
        {
            AgentId = agentId, Reserved = true, DialStartedAt = stored.DialStartedAt, CustomerAnsweredAt = stored.CustomerAnsweredAt,
            ConnectedAt = stored.ConnectedAt, ConversationEndedAt = stored.ConversationEndedAt, RecordingId = stored.RecordingId,
            RecordingStartedAt = stored.RecordingStartedAt, LiveRowStored = true,
            AgentLegId = callback.Mode == CallbackMode.CustomerFirst ? stored.AgentLegId : null,
        };
        var session = new CallSession(stored.CallId, customerLeg, stored.Queue, app, _logger, _stopping.Token)
        {
            EnteredAt = stored.EnteredAt, EnqueuedAt = stored.EnteredAt, Stage = CallStage.Acd, CurrentQueue = stored.Queue,
            Caller = CallbackCaller(callback, _apps.Count > 1 ? app.Server : null), Placed = placed, LastAgentId = agentId,
        };

        // Legs and bridges made from here get names the previous owner never used.
        session.Attempts = Math.Min(stored.Takeovers, 2_000) * LegNumbersPerTakeover;
        session.BridgeCount = session.Attempts;
        session.Consults = session.Attempts;
        _calls[stored.CallId] = session;
        _callbackTasks[callback.Id] = session;
        _callbackLegs[customerLeg] = session;
        var customerThere = live.ContainsKey(customerLeg);
        LogCallbackCallAdopted(_logger, stored.CallId, callback.Id, stored.Stage.ToString().ToLowerInvariant(), agentId);
        if (_callbacks is CallbackService service)
        {
            // Connected once: if the placing instance died before it stored "connected", it is stored now.
            var id = callback.Id;
            var callId = stored.CallId;
            Report(callback.Number, "callback conversation adopted " + callId, ct => service.ConversationAdoptedAsync(id, callId, ct));
        }

        if (stored.Stage == LiveCallbackStage.Survey)
        {
            // The agent had left (the engine's part of the call is over): the customer is asked the survey again.
            session.LeftAcd = true;
            if (customerThere)
            {
                ResumeSurvey(session);
            }
            else
            {
                EndCallbackLeg(customerLeg, cause: null, at);
            }

            return;
        }

        var agentLeg = stored.AgentLegId ?? string.Empty;
        session.ConnectedAgentId = agentId;
        session.AgentLegs[agentId] = agentLeg;
        session.BridgeId = stored.BridgeId;
        _channels[On(app, agentLeg)] = new ChannelLeg(session, agentId);
        var asCall = new LiveCall(stored.CallId, customerLeg, stored.Queue, 1, [stored.Queue], null, stored.EnteredAt, stored.EnteredAt, stored.EnteredAt,
            agentId, stored.ConnectedAt, session.Caller);
        var outcome = _agents.ContainsKey(agentId) ? AdoptConnected(asCall, agentId, at) : InputOutcome.Refused($"agent '{agentId}' is no longer configured");
        if (!outcome.Accepted)
        {
            // Nobody here can carry the conversation in the ACD: it ends now, recorded once.
            LogRefused(_logger, stored.CallId, outcome.Reason ?? "refused");
            session.ConnectedAgentId = null;
            EndSession(session);
            return;
        }

        var agentThere = live.ContainsKey(agentLeg);
        if (customerThere && agentThere)
        {
            if (placed.RecordingStartedAt is not null && stored.BridgeId is { } recorded && bridgeOf.GetValueOrDefault(customerLeg)?.Id == recorded)
            {
                session.CallRecording = placed.RecordingId; // still recording in the same bridge
            }

            RejoinCallbackParties(session, customerLeg, agentLeg, bridgeOf);
            return;
        }

        // A party hung up while no instance controlled the call: the conversation ends as it would have.
        if (!customerThere)
        {
            EndCallbackLeg(customerLeg, cause: null, at);
        }
        else
        {
            OnChannelGone(app, agentLeg, at, "ended while no CtiBridge instance controlled the call");
        }
    }

    /// <summary>Customer and agent were connected but are not in one bridge (the previous owner died between the two steps): joined again.</summary>
    private void RejoinCallbackParties(CallSession session, string customerLeg, string agentLeg, Dictionary<string, Bridge> bridgeOf)
    {
        var customerBridge = bridgeOf.GetValueOrDefault(customerLeg);
        var agentBridge = bridgeOf.GetValueOrDefault(agentLeg);
        if (customerBridge is not null && customerBridge.Id == agentBridge?.Id)
        {
            session.BridgeId = customerBridge.Id;
            return;
        }

        var existing = customerBridge ?? agentBridge;
        var bridgeId = existing?.Id ?? $"{session.CallId}-bridge-{++session.BridgeCount}";
        session.BridgeId = bridgeId;
        string[] missing = [.. new[] { customerLeg, agentLeg }.Where(id => existing is null || !existing.Channels.Contains(id))];
        var ari = session.App.Ari;
        LogCallbackPartiesRejoined(_logger, session.CallId, bridgeId);
        session.Run("join the callback's customer and agent again", async ct =>
        {
            if (existing is null)
            {
                await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: "callback", cancellationToken: ct).ConfigureAwait(false);
            }

            await ari.Bridges.AddChannelAsync(bridgeId, missing, cancellationToken: ct).ConfigureAwait(false);
        });
    }

    /// <summary>Callback legs (<c>cb-{callback}-{version}-…</c>) are CtiBridge's own: one nobody adopted is released, never taken for a caller.</summary>
    private static bool IsCallbackLeg(string channelId) =>
        channelId.Length > 36 && channelId.StartsWith("cb-", StringComparison.Ordinal) && Guid.TryParseExact(channelId.AsSpan(3, 32), "N", out _);

    [LoggerMessage(EventId = 2190, Level = LogLevel.Information, Message = "Callback call {CallId} (callback {CallbackId}) adopted ({Stage}, agent {AgentId}): it goes on from here")]
    private static partial void LogCallbackCallAdopted(ILogger logger, string callId, Guid callbackId, string stage, string agentId);

    [LoggerMessage(EventId = 2191, Level = LogLevel.Warning, Message = "Callback call {CallId}: callback {CallbackId} is not known here (callbacks off on this instance, or the record is gone); its legs are released")]
    private static partial void LogCallbackCallNotAdopted(ILogger logger, string callId, Guid callbackId);

    [LoggerMessage(EventId = 2192, Level = LogLevel.Information, Message = "Callback call {CallId}: customer and agent were not in one bridge after the takeover; joined again in {BridgeId}")]
    private static partial void LogCallbackPartiesRejoined(ILogger logger, string callId, string bridgeId);
}

/// <summary>Where a callback conversation is now (<see cref="Put"/>), or that its attempt ended (<see cref="Put"/> null).</summary>
internal sealed record CallbackCallChange(string Server, LiveCallbackCall? Put, string CallId, DateTimeOffset At) : LiveStateWrite
{
    public override IEnumerable<Npgsql.NpgsqlBatchCommand> Commands() => [Put is { } put ? LiveCallbackCalls.Put(Server, put, At) : LiveCallbackCalls.Delete(CallId)];
}
