using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// What an agent does during a call (hold, mute, DTMF, blind and consult transfers, three-way
/// conference, recording pause) and what follows it (the satisfaction survey). Every request runs on
/// the call center's loop: the ACD engine decides first (so the state and the records agree), then
/// the ARI requests run in the call's order.
/// </summary>
public sealed partial class CallCenter
{
    private readonly Dictionary<string, CallSession> _consultLegs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CallSession> _surveyPlaybacks = new(StringComparer.Ordinal);

    /// <summary>Puts the agent's caller on hold (the caller hears the queue's music) or takes them back.</summary>
    /// <returns>Accepted, or refused with the reason (not on a call, consultation in progress …).</returns>
    public Task<InputOutcome> HoldAsync(string agentId, bool onHold, CancellationToken cancellationToken = default) =>
        AgentCallRequest(agentId, (session, at) =>
        {
            if (session.Consult is not null)
            {
                return InputOutcome.Refused("the caller is held for a consultation; complete, cancel or conference it first");
            }

            var outcome = _engine.Handle(new CallHoldChanged(at, session.CallId, onHold));
            if (outcome.Accepted && session.CallerOnHold != onHold)
            {
                SetCallerHeld(session, onHold);
            }

            return outcome;
        }, cancellationToken);

    /// <summary>Mutes the agent's microphone (the caller no longer hears the agent) or un-mutes it.</summary>
    public Task<InputOutcome> MuteAsync(string agentId, bool muted, CancellationToken cancellationToken = default) =>
        AgentCallRequest(agentId, (session, at) =>
        {
            var outcome = _engine.Handle(new AgentMute(at, agentId, muted));
            if (outcome.Accepted && session.AgentLegs.TryGetValue(agentId, out var leg))
            {
                var ari = session.App.Ari;
                session.Run(muted ? "mute agent" : "unmute agent", ct => muted ? ari.Channels.MuteAsync(leg, "in", ct) : ari.Channels.UnmuteAsync(leg, "in", ct));
            }

            return outcome;
        }, cancellationToken);

    /// <summary>
    /// Sends DTMF digits on the agent's behalf to the other party (the consulted party while
    /// consulting, else the caller), e.g. to work an outside IVR after a transfer attempt.
    /// </summary>
    public Task<InputOutcome> SendDtmfAsync(string agentId, string digits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(digits);
        return AgentCallRequest(agentId, (session, _) =>
        {
            if (digits.Length is 0 or > 32 || digits.Any(c => !(char.IsAsciiDigit(c) || c is '*' or '#' or ',' || c is >= 'A' and <= 'D')))
            {
                return InputOutcome.Refused($"'{digits}' is not a DTMF string (1–32 of 0-9 * # A-D, ',' for a pause)");
            }

            var target = session.Consult is { AnsweredAt: not null } consult ? consult.LegId : session.CallerChannelId;
            var ari = session.App.Ari;
            session.Run("send DTMF", ct => ari.Channels.SendDtmfAsync(target, digits, cancellationToken: ct));
            return InputOutcome.Ok;
        }, cancellationToken);
    }

    /// <summary>Blind transfer: the call goes to a queue, a ready agent or an outside number; the agent's leg ends (wrap-up follows).</summary>
    public Task<InputOutcome> TransferAsync(string agentId, TransferTarget target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        return AgentCallRequest(agentId, (session, at) =>
        {
            if (session.Consult is not null)
            {
                return InputOutcome.Refused("a consultation is in progress; complete or cancel it instead of a blind transfer");
            }

            if (target.Kind == TransferTargetKind.External && !IsDialableNumber(target.Destination))
            {
                return InputOutcome.Refused($"'{target.Destination}' is not a number to dial (digits, optionally a leading +)");
            }

            if (target.Kind == TransferTargetKind.External && ExternalNotPermitted(agentId) is { } refused)
            {
                return refused;
            }

            return _engine.Handle(new CallTransferRequested(at, session.CallId, target));
        }, cancellationToken);
    }

    /// <summary>
    /// Consultation (attended transfer, step 1): the caller is held, the agent's phone talks to a
    /// ready colleague (held as paused "consult" meanwhile) or an outside number.
    /// </summary>
    public Task<InputOutcome> ConsultAsync(string agentId, TransferTarget target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        return AgentCallRequest(agentId, (session, at) => StartConsult(session, agentId, target, at), cancellationToken);
    }

    /// <summary>Completes the consult transfer: the caller is connected to the consulted party, the agent's leg ends.</summary>
    public Task<InputOutcome> CompleteTransferAsync(string agentId, CancellationToken cancellationToken = default) =>
        AgentCallRequest(agentId, (session, at) => session.Consult is { AnsweredAt: not null } consult
            ? _engine.Handle(new CallTransferRequested(at, session.CallId, consult.Target, Attended: true))
            : InputOutcome.Refused(session.Consult is null ? "no consultation in progress" : "the consulted party has not answered yet; wait or cancel"), cancellationToken);

    /// <summary>Cancels the consultation: the consulted party is released and the caller comes back to the agent.</summary>
    public Task<InputOutcome> CancelConsultAsync(string agentId, CancellationToken cancellationToken = default) =>
        AgentCallRequest(agentId, (session, at) =>
        {
            if (session.Consult is null)
            {
                return InputOutcome.Refused("no consultation in progress");
            }

            DropConsult(session, hangUp: true);
            if (session.CallerOnHold && _engine.Handle(new CallHoldChanged(at, session.CallId, false)).Accepted)
            {
                SetCallerHeld(session, false);
            }

            return InputOutcome.Ok;
        }, cancellationToken);

    /// <summary>Three-way call: the held caller joins the agent and the consulted party.</summary>
    public Task<InputOutcome> ConferenceAsync(string agentId, CancellationToken cancellationToken = default) =>
        AgentCallRequest(agentId, (session, at) =>
        {
            if (session.Consult is not { AnsweredAt: not null })
            {
                return InputOutcome.Refused(session.Consult is null ? "no consultation in progress; consult someone first" : "the consulted party has not answered yet");
            }

            if (session.CallerOnHold && _engine.Handle(new CallHoldChanged(at, session.CallId, false)).Accepted)
            {
                SetCallerHeld(session, false);
            }

            session.Conference = true;
            LogConference(_logger, session.CallId, agentId, session.Consult.Target.ToString());
            return InputOutcome.Ok;
        }, cancellationToken);

    /// <summary>Pauses the call's recording (e.g. while the caller reads out a card number) or resumes it.</summary>
    public Task<InputOutcome> PauseRecordingAsync(string agentId, bool paused, CancellationToken cancellationToken = default) =>
        AgentCallRequest(agentId, (session, at) =>
        {
            if (session.CallRecording is not { } name)
            {
                return InputOutcome.Refused("the call is not being recorded");
            }

            var ari = session.App.Ari;
            session.Run(paused ? "pause recording" : "resume recording", ct => paused ? ari.Recordings.PauseAsync(name, ct) : ari.Recordings.UnpauseAsync(name, ct));
            _engine.Note(at, new CallRecordingPaused(session.CallId, name, paused));
            return InputOutcome.Ok;
        }, cancellationToken);

    private Task<InputOutcome> AgentCallRequest(string agentId, Func<CallSession, DateTimeOffset, InputOutcome> action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agentId);
        return RequestAsync(at => OnAgentsCall(agentId, at, action), cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the call <paramref name="agentId"/> is talking on (call-control
    /// loop only); refused when the agent is unknown or not talking to a caller.
    /// </summary>
    private InputOutcome OnAgentsCall(string agentId, DateTimeOffset at, Func<CallSession, DateTimeOffset, InputOutcome> action)
    {
        var status = _engine.GetAgent(agentId);
        if (status is null)
        {
            return InputOutcome.Refused($"agent '{agentId}' is not configured in callControl.agents");
        }

        if (status.State != AgentState.OnCall || status.CallId is not { } callId || !_calls.TryGetValue(callId, out var session)
            || session.Ended || session.ConnectedAgentId != agentId)
        {
            return InputOutcome.Refused($"agent '{agentId}' is not talking to a caller (state {status.State})");
        }

        return action(session, at);
    }

    /// <summary>AGT-10: outside numbers only for agents given <c>externalTransfer</c> (off by default).</summary>
    private InputOutcome? ExternalNotPermitted(string agentId) =>
        _agents.TryGetValue(agentId, out var agent) && agent.ExternalTransfer
            ? null
            : InputOutcome.Refused($"agent '{agentId}' may not transfer to or invite outside numbers (callControl.agents[].externalTransfer is off)");

    private static bool IsDialableNumber(string? number) =>
        !string.IsNullOrEmpty(number) && number.Length <= 32 && number.Select((c, i) => char.IsAsciiDigit(c) || (i == 0 && c == '+')).All(ok => ok) && number != "+";

    /// <summary>Takes the caller out of the bridge onto music, or back in (the agent stays in the bridge, so its recording goes on).</summary>
    private void SetCallerHeld(CallSession session, bool held)
    {
        session.CallerOnHold = held;
        var ari = session.App.Ari;
        var bridgeId = session.BridgeId;
        var moh = MusicClassOf(session);
        session.Run(held ? "hold caller" : "retrieve caller", async ct =>
        {
            if (held)
            {
                if (bridgeId is not null)
                {
                    await ari.Bridges.RemoveChannelAsync(bridgeId, [session.CallerChannelId], ct).ConfigureAwait(false);
                }

                await ari.Channels.StartMohAsync(session.CallerChannelId, moh, ct).ConfigureAwait(false);
            }
            else
            {
                await ari.Channels.StopMohAsync(session.CallerChannelId, ct).ConfigureAwait(false);
                if (bridgeId is not null)
                {
                    await ari.Bridges.AddChannelAsync(bridgeId, [session.CallerChannelId], cancellationToken: ct).ConfigureAwait(false);
                }
            }
        });
    }

    private InputOutcome StartConsult(CallSession session, string agentId, TransferTarget target, DateTimeOffset at)
    {
        if (session.Consult is not null)
        {
            return InputOutcome.Refused("a consultation is already in progress");
        }

        if (target.Kind == TransferTargetKind.Queue)
        {
            // Consulting a queue = consulting its ready agent idle the longest (a consultation cannot wait in line).
            if (!_settings.Queues.Any(q => q.Name == target.Destination))
            {
                return InputOutcome.Refused($"queue '{target.Destination}' is not configured in callControl.queues");
            }

            var next = _engine.GetAgents()
                .Where(a => a.State == AgentState.Ready && a.AgentId != agentId && a.Queues.Any(q => q.Queue == target.Destination))
                .OrderBy(a => a.Since).FirstOrDefault();
            if (next is null)
            {
                return InputOutcome.Refused($"no agent of queue '{target.Destination}' is ready to consult; transfer blind to the queue to wait there");
            }

            target = TransferTarget.ToAgent(next.AgentId);
        }

        string endpoint;
        string? consulted = null;
        switch (target.Kind)
        {
            case TransferTargetKind.Agent:
                var status = _engine.GetAgent(target.Destination);
                if (status is null)
                {
                    return InputOutcome.Refused($"agent '{target.Destination}' is not configured in callControl.agents");
                }

                if (target.Destination == agentId)
                {
                    return InputOutcome.Refused("an agent cannot consult themselves");
                }

                if (status.State != AgentState.Ready)
                {
                    return InputOutcome.Refused($"agent '{target.Destination}' is not ready (state {status.State})");
                }

                var held = _engine.Handle(new AgentPause(at, target.Destination, PauseReasons.Consult, ChangeSource.System));
                if (!held.Accepted)
                {
                    return held;
                }

                consulted = target.Destination;
                endpoint = status.Extension ?? _agents[target.Destination].Extension;
                break;
            case TransferTargetKind.External when IsDialableNumber(target.Destination) && ExternalNotPermitted(agentId) is { } refused:
                return refused;
            case TransferTargetKind.External when IsDialableNumber(target.Destination):
                endpoint = ExternalEndpointFor(session, target.Destination);
                break;
            case TransferTargetKind.External:
                return InputOutcome.Refused($"'{target.Destination}' is not a number to dial (digits, optionally a leading +)");
            default:
                return InputOutcome.Refused($"a consultation goes to an agent, a queue or an outside number, not {target.Kind}");
        }

        if (!session.CallerOnHold && _engine.Handle(new CallHoldChanged(at, session.CallId, true)).Accepted)
        {
            SetCallerHeld(session, true);
        }

        var legId = ConsultLegId(session, target);
        var consult = new ConsultLeg(legId, target, consulted);
        session.Consult = consult;
        _consultLegs[legId] = session;
        var agentName = _agents.TryGetValue(agentId, out var agent) && !string.IsNullOrWhiteSpace(agent.Name) ? agent.Name : "Agent " + agentId;
        var app = session.App;
        LogConsult(_logger, session.CallId, agentId, target.ToString());
        session.Run("consult " + target, async ct =>
        {
            try
            {
                await app.Ari.Channels.OriginateAsync(endpoint: endpoint, app: app.Name, appArgs: $"consult,{session.CallId}",
                    callerId: $"\"{agentName.Replace("\"", string.Empty, StringComparison.Ordinal)}\" <{agentId}>", timeout: 30, channelId: legId,
                    cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                LogOriginateFailed(_logger, session.CallId, "consult", endpoint, ex.Message);
                Post(when =>
                {
                    ConsultGone(session, legId, when);
                    return null;
                });
            }
        });
        return InputOutcome.Ok;
    }

    /// <summary>The consulted party answered: it joins the agent in the call's bridge (the caller is on hold outside it).</summary>
    private void ConsultAnswered(StasisApp app, Channel channel, DateTimeOffset at)
    {
        if (!_consultLegs.TryGetValue(channel.Id, out var session) || session.Consult?.LegId != channel.Id || session.Ended)
        {
            app.Release(channel.Id, "normal");
            return;
        }

        session.Consult.AnsweredAt = at;
        if (session.BridgeId is { } bridgeId)
        {
            session.Run("bridge consulted party", ct => session.App.Ari.Bridges.AddChannelAsync(bridgeId, [channel.Id], cancellationToken: ct));
        }
    }

    /// <summary>The consult leg ended (hung up, refused, or failed to ring): the consulted agent is available again.</summary>
    private void ConsultGone(CallSession session, string legId, DateTimeOffset at)
    {
        if (!_consultLegs.Remove(legId) || session.Consult?.LegId != legId)
        {
            return;
        }

        _ = at;
        DropConsult(session, hangUp: false);
    }

    private void DropConsult(CallSession session, bool hangUp)
    {
        if (session.Consult is not { } consult)
        {
            return;
        }

        session.Consult = null;
        session.Conference = false;
        _consultLegs.Remove(consult.LegId);
        if (hangUp)
        {
            session.Run("release consulted party", ct => session.App.Ari.Channels.HangupAsync(consult.LegId, reason: "normal", cancellationToken: ct));
        }

        if (consult.AgentId is { } consulted)
        {
            // Runs as its own input: this may be reached from inside the engine (a command).
            Post(when => _engine.GetAgent(consulted) is { State: AgentState.Paused, PauseReason: PauseReasons.Consult }
                ? new AgentResume(when, consulted, ChangeSource.System)
                : null);
        }
    }

    /// <summary>The engine moved the call from an agent to a transfer target (command <see cref="TransferCall"/>).</summary>
    private void CarryOutTransfer(CallSession session, TransferCall transfer)
    {
        var ari = session.App.Ari;
        session.LastAgentId = transfer.FromAgentId;
        if (session.AgentLegs.Remove(transfer.FromAgentId, out var fromLeg))
        {
            session.Run("release transferring agent", ct => ari.Channels.HangupAsync(fromLeg, reason: "normal", cancellationToken: ct));
        }

        session.ConnectedAgentId = null;
        LogTransfer(_logger, session.CallId, transfer.FromAgentId, transfer.Target.ToString(), transfer.Attended ? "consult" : "blind");
        if (transfer.Target.Kind == TransferTargetKind.Supervisor)
        {
            // Take-over: the supervisor is already in the bridge with the caller; the call has left the ACD.
            session.LeftAcd = true;
            return;
        }

        if (!transfer.Attended)
        {
            // The next party gets a new bridge (and recording); the caller waits on music meanwhile.
            session.CallerOnHold = false;
            EndBridge(session);
            if (transfer.Target.Kind == TransferTargetKind.External)
            {
                session.LeftAcd = true;
                DialExternal(session, transfer.Target.Destination, _settings.Fallback.ExternalRingTimeout, _lastAt);
            }

            return;
        }

        if (transfer.Target.Kind == TransferTargetKind.External && session.Consult is { } consult)
        {
            // The outside party is already in the bridge: the caller joins it; the call has left the ACD.
            session.Consult = null;
            _consultLegs.Remove(consult.LegId);
            session.LeftAcd = true;
            session.Stage = CallStage.External;
            session.ExternalNumber = transfer.Target.Destination;
            session.ExternalChannelId = consult.LegId;
            session.ExternalStartedAt = consult.AnsweredAt;
            session.ExternalAnsweredAt = consult.AnsweredAt;
            _externalLegs[consult.LegId] = session;
            SetCallerHeld(session, false);
        }

        // An agent target: the engine rings the consulted agent next, and RingAgent adopts the consult leg.
    }

    /// <summary>
    /// The engine rings the agent already talking on this call's consult leg (consult transfer to a
    /// colleague): that leg becomes the agent's leg and counts as answered at once.
    /// </summary>
    private bool TryAdoptConsultLeg(CallSession session, RingAgent ring)
    {
        if (session.Consult is not { AnsweredAt: not null } consult || consult.AgentId != ring.AgentId)
        {
            return false;
        }

        session.Consult = null;
        session.Conference = false;
        _consultLegs.Remove(consult.LegId);
        session.AgentLegs[ring.AgentId] = consult.LegId;
        _channels[On(session.App, consult.LegId)] = new ChannelLeg(session, ring.AgentId);
        session.CurrentQueue = ring.Queue;
        var callId = session.CallId;
        Post(at => session.Ended ? null : new AgentAnswered(at, callId, ring.AgentId));
        return true;
    }

    /// <summary>Connects the answering agent: a new bridge (recorded), or the bridge the agent already talks in (consult transfer).</summary>
    private void Connect(CallSession session, ConnectAgent connect, string agentLeg)
    {
        session.ConnectedAgentId = connect.AgentId;
        session.LastAgentId = connect.AgentId;
        session.CallerOnHold = false;
        StopAnnouncements(session);
        var ari = session.App.Ari;
        LogConnected(_logger, session.CallId, connect.AgentId);
        if (session.BridgeId is { } existing)
        {
            // An agent who answered a new leg (not the consult leg already in the bridge) joins the call's bridge too.
            string[] joining = DropAnswerBridge(session, connect.AgentId) ? [session.CallerChannelId, agentLeg] : [session.CallerChannelId];
            session.Run("bring caller to the consulted agent", async ct =>
            {
                await ari.Channels.StopMohAsync(session.CallerChannelId, ct).ConfigureAwait(false);
                await ari.Bridges.AddChannelAsync(existing, joining, cancellationToken: ct).ConfigureAwait(false);
            });
            return;
        }

        // The agent's leg already waits in its answer bridge (CallCenter.AnswerBridge.cs); a picked-up leg gets a new one.
        var answered = session.AnswerBridges.Remove(connect.AgentId, out var answer);
        var n = answered ? answer.Number : ++session.BridgeCount;
        var bridgeId = answered ? answer.BridgeId : $"{session.CallId}-bridge-{n}";
        session.BridgeId = bridgeId;
        var recording = _settings.RecordCalls ? $"call-{session.CallId}-{n}" : null;
        var format = _settings.RecordingFormat;
        var agentId = connect.AgentId;
        session.Run("bridge caller and agent", async ct =>
        {
            await ari.Channels.StopMohAsync(session.CallerChannelId, ct).ConfigureAwait(false);
            if (answered)
            {
                await ari.Bridges.AddChannelAsync(bridgeId, [session.CallerChannelId], cancellationToken: ct).ConfigureAwait(false);
            }
            else
            {
                await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: session.Queue, cancellationToken: ct).ConfigureAwait(false);
                await ari.Bridges.AddChannelAsync(bridgeId, [session.CallerChannelId, agentLeg], cancellationToken: ct).ConfigureAwait(false);
            }
            if (recording is not null)
            {
                await ari.Bridges.RecordAsync(bridgeId, recording, format, ifExists: "overwrite", cancellationToken: ct).ConfigureAwait(false);
                Post(at =>
                {
                    if (session.BridgeId == bridgeId)
                    {
                        session.CallRecording = recording;
                        _engine.Note(at, new CallRecordingStarted(session.CallId, recording, Path.Combine(_settings.RecordingDirectory, $"{recording}.{format}"), format, agentId));
                    }
                    else
                    {
                        _engine.Note(at, new CallRecordingStarted(session.CallId, recording, Path.Combine(_settings.RecordingDirectory, $"{recording}.{format}"), format, agentId));
                        _engine.Note(at, new CallRecordingEnded(session.CallId, recording));
                    }

                    return null;
                });
            }
        });
    }

    /// <summary>Destroys the call's bridge (its recording ends with it).</summary>
    private void EndBridge(CallSession session)
    {
        // A supervisor listening or barging has nothing left to be part of.
        EndSupervisions(session);
        if (session.BridgeId is { } bridgeId)
        {
            session.BridgeId = null;
            session.Run("destroy bridge", ct => session.App.Ari.Bridges.DestroyAsync(bridgeId, ct));
        }

        if (session.CallRecording is { } recording)
        {
            session.CallRecording = null;
            Post(at =>
            {
                _engine.Note(at, new CallRecordingEnded(session.CallId, recording));
                return null;
            });
        }
    }

    /// <summary>
    /// The connected agent's leg ended. True when something other than ending the call follows:
    /// the consult transfer completes by hang-up, or the caller goes to the survey.
    /// </summary>
    private bool AgentLeft(CallSession session, string agentId, DateTimeOffset at, bool lost, string? lostHow = null)
    {
        session.LastAgentId = agentId;
        if (session.Consult is { AnsweredAt: not null } consult && !lost
            && _engine.Handle(new CallTransferRequested(at, session.CallId, consult.Target, Attended: true)).Accepted)
        {
            // Hanging up during a consultation or conference hands the caller over (attended transfer by hang-up).
            return true;
        }

        DropConsult(session, hangUp: true);
        _engine.Handle(lost ? Lost(session, at, $"agent {agentId}'s {lostHow ?? "channel vanished"}") : HungUp(session, at, HangupParty.Agent));
        var queue = session.CurrentQueue ?? session.Queue;
        if (lost || session.CallerGone || _settings.Queues.FirstOrDefault(q => q.Name == queue)?.Survey is not { } survey)
        {
            return false;
        }

        StartSurvey(session, survey);
        return true;
    }

    private void StartSurvey(CallSession session, SurveySettings survey)
    {
        session.LeftAcd = true;
        session.Survey = survey;
        StoreIvrState(session, Data.LiveState.LiveIvrStage.Survey, _lastAt);
        CallbackConversationEnded(session);
        EndBridge(session);
        var playbackId = $"{session.CallId}-survey";
        session.SurveyPlaybackId = playbackId;
        var ari = session.App.Ari;
        var language = session.Caller.Language;
        LogSurvey(_logger, session.CallId, session.CurrentQueue ?? session.Queue);
        session.Run("survey question", ct => ari.Channels.PlayWithIdAsync(session.CallerChannelId, playbackId, ["sound:" + survey.Prompt], lang: language, cancellationToken: ct));
        session.SurveyTimer = _time.CreateTimer(_ => Post(_ =>
        {
            if (!session.Ended && session.Survey is not null)
            {
                LogSurveyUnanswered(_logger, session.CallId);
                EndSession(session);
            }

            return null;
        }), null, survey.Timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A key from a caller in the survey: 1–9 is the score, 0 is 10; anything else is ignored.</summary>
    private bool OnSurveyKey(CallSession session, char key, DateTimeOffset at)
    {
        if (session.Survey is not { } survey)
        {
            return false;
        }

        if (!char.IsAsciiDigit(key))
        {
            return true;
        }

        var score = key == '0' ? 10 : key - '0';
        session.Survey = null;
        session.SurveyTimer?.Dispose();
        var answer = new SurveyAnswered(session.CallId, session.CurrentQueue ?? session.Queue, session.LastAgentId, survey.Question, score, 10);
        _engine.Note(at, answer);
        StoreSurveyAnswer(session, answer, at);
        CallbackSurveyAnswered(session, survey, score, at);
        LogSurveyAnswered(_logger, session.CallId, score);
        var ari = session.App.Ari;
        if (session.SurveyPlaybackId is { } question)
        {
            _ = StopPlaybackAsync(ari, question);
        }

        if (string.IsNullOrWhiteSpace(survey.ThanksPrompt))
        {
            EndSession(session);
            return true;
        }

        var thanks = $"{session.CallId}-survey-thanks";
        _surveyPlaybacks[thanks] = session;
        session.Run("survey thanks", ct => ari.Channels.PlayWithIdAsync(session.CallerChannelId, thanks, ["sound:" + survey.ThanksPrompt], lang: session.Caller.Language, cancellationToken: ct));
        return true;
    }

    private bool OnSurveyPlaybackFinished(PlaybackFinished finished)
    {
        if (!_surveyPlaybacks.Remove(finished.Playback.Id, out var session))
        {
            return false;
        }

        EndSession(session);
        return true;
    }

    /// <summary>Everything agent-side that must end with the call: consult leg, survey timer, recording.</summary>
    private void EndAgentCalls(CallSession session)
    {
        session.SurveyTimer?.Dispose();
        session.Survey = null;
        EndSupervisions(session);
        DropConsult(session, hangUp: true);
        if (session.CallRecording is { } recording)
        {
            session.CallRecording = null;
            Post(at =>
            {
                _engine.Note(at, new CallRecordingEnded(session.CallId, recording));
                return null;
            });
        }
    }

    [LoggerMessage(EventId = 880, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId} transferred it to {Target} ({How})")]
    private static partial void LogTransfer(ILogger logger, string callId, string agentId, string target, string how);

    [LoggerMessage(EventId = 881, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId} consults {Target}; the caller is on hold")]
    private static partial void LogConsult(ILogger logger, string callId, string agentId, string target);

    [LoggerMessage(EventId = 882, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId} joined the caller and {Target} in a three-way call")]
    private static partial void LogConference(ILogger logger, string callId, string agentId, string target);

    [LoggerMessage(EventId = 883, Level = LogLevel.Information, Message = "Call {CallId}: the caller is asked the survey of queue {Queue}")]
    private static partial void LogSurvey(ILogger logger, string callId, string queue);

    [LoggerMessage(EventId = 884, Level = LogLevel.Information, Message = "Call {CallId}: survey answered with {Score}")]
    private static partial void LogSurveyAnswered(ILogger logger, string callId, int score);

    [LoggerMessage(EventId = 885, Level = LogLevel.Information, Message = "Call {CallId}: survey not answered in time; the caller is released")]
    private static partial void LogSurveyUnanswered(ILogger logger, string callId);
}
