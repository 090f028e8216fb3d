using System.Threading.Channels;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Data.LiveState;
using CtiBridge.Data.Records;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Callers held outside a queue across a restart or an HA takeover (issue 8): in an IVR plan, leaving a
/// voicemail, in the survey, or connected to an outside number. Where each one is goes to
/// <c>live_ivr_calls</c> as it changes (written in order by <see cref="LiveStateService"/>); the instance
/// adopting the calls resumes each where it was, under the same call id, so the call keeps one record:
/// the IVR at the node the caller was at (its prompt again, tries afresh), the voicemail's recording kept
/// (or the greeting again when the recording had not started), the survey's question again, the outside
/// party still bridged. A caller who left while no instance controlled the call ends now, recorded once.
/// Before this, each came back as a new inbound call (the IVR from its start, a second call row).
/// </summary>
public sealed partial class CallCenter
{
    private readonly Channel<LiveStateWrite> _ivrStates = System.Threading.Channels.Channel.CreateUnbounded<LiveStateWrite>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>
    /// Where callers outside a queue are (<c>live_ivr_calls</c>) and where callback conversations are
    /// (<c>live_callback_calls</c>), in order (only with a <see cref="LiveState"/> store).
    /// </summary>
    internal ChannelReader<LiveStateWrite> IvrStates => _ivrStates.Reader;

    /// <summary>Notes where <paramref name="session"/>'s caller is now, for an instance that may have to adopt the call.</summary>
    private void StoreIvrState(CallSession session, LiveIvrStage stage, DateTimeOffset at)
    {
        if (LiveState is null || session.Placed is not null)
        {
            return; // nothing is restored without a store; a callback's customer leg is not an inbound caller
        }

        session.IvrStateStored = true;
        var call = new LiveIvrCall(session.CallId, session.CallerChannelId, stage, session.EnteredAt, session.Caller)
        {
            Plan = session.Plan?.Name, Node = session.Node?.Name, IvrPath = [.. session.IvrPath],
            Queue = stage == LiveIvrStage.Survey ? session.CurrentQueue ?? session.Queue : string.IsNullOrEmpty(session.Queue) ? null : session.Queue,
            AgentId = session.LastAgentId, Mailbox = session.Mailbox, RecordingName = session.RecordingName, CallbackQueue = session.CallbackQueue,
            LeftAcd = session.LeftAcd, IsMember = session.IsMember, ExternalNumber = session.ExternalNumber, PlaybackId = session.IvrPlaybackId,
            ExternalStartedAt = session.ExternalStartedAt, ExternalAnsweredAt = session.ExternalAnsweredAt,
        };
        _ivrStates.Writer.TryWrite(new IvrStateChange(session.App.Server, call, session.CallId, at));
    }

    /// <summary>
    /// The call ended: its caller is nowhere to be adopted any more. The row stays, marked ended, while it keeps a record
    /// not stored yet (migration 0046): the IVR-only call's <paramref name="record"/> (and its outside call's
    /// <paramref name="recording"/>), or a survey's answer; the record writer deletes it with that record, and an instance
    /// adopting the server after a kill writes the record from it (<see cref="WriteRecordsLeftUnstoredAsync"/>).
    /// </summary>
    private void ForgetIvrState(CallSession session, CallRecord? record, RecordingRecord? recording)
    {
        if (session.IvrStateStored)
        {
            session.IvrStateStored = false;
            _ivrStates.Writer.TryWrite(record is not null || session.SurveyAnswerStored
                ? new IvrCallEnded(session.CallId, _lastAt, record, recording)
                : new IvrStateChange(session.App.Server, null, session.CallId, _lastAt));
        }
    }

    /// <summary>The caller answered the survey: the answer is kept with their row until it is stored (migration 0046).</summary>
    private void StoreSurveyAnswer(CallSession session, Core.Acd.SurveyAnswered answer, DateTimeOffset at)
    {
        if (session.IvrStateStored)
        {
            session.SurveyAnswerStored = true;
            _ivrStates.Writer.TryWrite(new IvrSurveyAnswer(answer.CallId, answer.Question, answer.Score, answer.ScaleMax, at));
        }
    }

    /// <summary>Adopts a caller found in <c>live_ivr_calls</c> (loop only, during reconciliation).</summary>
    private void AdoptIvrCall(StasisApp app, LiveIvrCall stored, Dictionary<string, Asterisk.Ari.Models.Channel> live, Dictionary<string, Bridge> bridgeOf, DateTimeOffset at)
    {
        var plan = stored.Plan is { } name ? _routes.PlanByDid.Values.FirstOrDefault(p => p.Name == name) : null;
        var session = new CallSession(stored.CallId, stored.ChannelId, stored.Queue ?? string.Empty, app, _logger, _stopping.Token)
        {
            EnteredAt = stored.StartedAt,
            Caller = stored.Caller,
            IsMember = stored.IsMember,
            Blocked = stored.Stage == LiveIvrStage.Blocked,
            Plan = plan,
            Node = plan is not null && stored.Node is { } node ? plan.Nodes.GetValueOrDefault(node) : null,
            LeftAcd = stored.LeftAcd,
            CurrentQueue = stored.Queue,
            LastAgentId = stored.AgentId,
            Mailbox = stored.Mailbox,
            CallbackQueue = stored.CallbackQueue,
            RecordingName = stored.RecordingName,
            ExternalNumber = stored.ExternalNumber,
            ExternalStartedAt = stored.ExternalStartedAt,
            ExternalAnsweredAt = stored.ExternalAnsweredAt,
            Stage = stored.Stage switch
            {
                LiveIvrStage.Voicemail => CallStage.Voicemail,
                LiveIvrStage.External => CallStage.External,
                LiveIvrStage.Survey => CallStage.Acd,
                LiveIvrStage.Lookup => CallStage.Entering,
                LiveIvrStage.Blocked => CallStage.Leaving,
                _ => CallStage.Ivr,
            },

            // Prompts get names the previous owner never used (its last prompt may still be playing).
            Playbacks = Math.Min(stored.Takeovers, 2_000) * LegNumbersPerTakeover,
            IvrStateStored = true,
        };
        session.IvrPath.AddRange(stored.IvrPath);
        _calls[stored.CallId] = session;
        if (!live.ContainsKey(stored.ChannelId))
        {
            // The caller left while no instance controlled the call: it ends now, recorded once, as it would have.
            LogIvrCallerGone(_logger, stored.CallId, stored.Stage.ToString().ToLowerInvariant());
            session.CallerGone = true;
            EndSession(session);
            return;
        }

        _channels[On(app, stored.ChannelId)] = new ChannelLeg(session, null);
        LogIvrAdopted(_logger, stored.CallId, stored.Stage.ToString().ToLowerInvariant(), stored.Plan is null ? "-" : $"{stored.Plan}/{stored.Node}");
        switch (stored.Stage)
        {
            case LiveIvrStage.Voicemail:
                ResumeVoicemail(session);
                break;
            case LiveIvrStage.Survey:
                ResumeSurvey(session);
                break;
            case LiveIvrStage.External:
                ResumeExternal(session, live, bridgeOf, at);
                break;
            case LiveIvrStage.Lookup:
                ResumeLookup(session, at);
                break;
            case LiveIvrStage.Blocked:
                ResumeBlocked(session, stored.PlaybackId, at);
                break;
            default:
                ResumeIvr(session, stored.PlaybackId, at);
                break;
        }
    }

    /// <summary>Back at the node the caller was at: a menu or PIN asks again (tries afresh), an announcement plays again, a passing node runs again.</summary>
    private void ResumeIvr(CallSession session, string? previousPrompt, DateTimeOffset at)
    {
        StopPreviousPrompt(session, previousPrompt);

        if (session.Plan is not { } plan || session.Node is not { } node)
        {
            // The plan or the node went with a reload while nobody controlled the call: from the DID's plan's start, if it has one.
            if (session.Caller.Did is { } did && _routes.PlanByDid.TryGetValue(did, out var current))
            {
                LogIvrRestarted(_logger, session.CallId, current.Name);
                session.Plan = current;
                EnterNode(session, current.Start, null, at);
            }
            else
            {
                Leave(session, "goodbye");
            }

            return;
        }

        switch (node.Type)
        {
            case IvrNodeType.Menu:
            case IvrNodeType.Pin:
                session.CollectingKeys = true;
                PlayIvr(session, node.Settings.Prompt!);
                break;
            case IvrNodeType.Play:
                session.CollectingKeys = plan.Operator is not null;
                PlayIvr(session, node.Settings.Prompt!);
                break;
            default:
                EnterNode(session, node.Name, null, at);
                break;
        }
    }

    /// <summary>
    /// A voicemail: a recording still running is kept (its end comes on this connection), one that ended while
    /// nobody listened is stored as left, and when none had started (the greeting was playing) the greeting again.
    /// </summary>
    private void ResumeVoicemail(CallSession session)
    {
        var name = session.RecordingName!;
        var mailbox = session.Mailbox ?? "?";
        var node = session.Node is { Type: IvrNodeType.Voicemail } n ? n.Settings : null;
        var maxMessage = node?.MaxMessage ?? _settings.Fallback.VoicemailMaxMessage;
        _recordings[name] = session;
        var ari = session.App.Ari;
        session.Run("find the voicemail recording " + name, async ct =>
        {
            try
            {
                await ari.Recordings.GetLiveAsync(name, ct).ConfigureAwait(false);
                return; // still recording: its RecordingFinished ends the voicemail here
            }
            catch (AriRequestException ex) when (ex.StatusCode == 404)
            {
            }

            StoredRecording? kept = null;
            try
            {
                kept = await ari.Recordings.GetStoredAsync(name, ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex) when (ex.StatusCode == 404)
            {
            }

            Post(when =>
            {
                if (session.Ended || !_recordings.ContainsKey(name))
                {
                    return null;
                }

                if (kept is not null)
                {
                    OnRecordingEnded(new LiveRecording { Name = name, Format = kept.Format, State = "done" }, failed: false, when);
                }
                else
                {
                    _recordings.Remove(name);
                    StartVoicemail(session, mailbox, node?.Prompt, maxMessage);
                }

                return null;
            });
        });
    }

    /// <summary>The survey's question again (the previous owner's, if still playing, is stopped first); no survey any more: the call ends.</summary>
    private void ResumeSurvey(CallSession session)
    {
        if (_settings.Queues.FirstOrDefault(q => q.Name == session.CurrentQueue)?.Survey is not { } survey)
        {
            EndSession(session);
            return;
        }

        var ari = session.App.Ari;
        var old = $"{session.CallId}-survey";
        session.Run("stop the previous survey question", async ct =>
        {
            try
            {
                await ari.Playbacks.StopAsync(old, ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex) when (ex.StatusCode == 404)
            {
            }
        });
        StartSurvey(session, survey);
    }

    /// <summary>An outside number: still bridged with the caller, or still ringing, it goes on from here; gone, the call ends as it would have.</summary>
    private void ResumeExternal(CallSession session, Dictionary<string, Asterisk.Ari.Models.Channel> live, Dictionary<string, Bridge> bridgeOf, DateTimeOffset at)
    {
        var legId = session.CallId + "-ext";
        if (live.ContainsKey(legId) && bridgeOf.TryGetValue(legId, out var bridge) && bridge.Channels.Contains(session.CallerChannelId))
        {
            session.ExternalChannelId = legId;
            session.ExternalAnsweredAt ??= at;
            session.BridgeId = bridge.Id;
            _externalLegs[legId] = session;
            AdoptExternalRecording(session);
            return;
        }

        if (!live.ContainsKey(legId) && _ringingAtAdoption.Contains(legId))
        {
            // Still ringing: its answer (StasisStart external) bridges it here.
            session.ExternalChannelId = legId;
            _externalLegs[legId] = session;
            return;
        }

        // Gone, or answered but never bridged: the caller is released, as when the outside party hangs up.
        if (live.ContainsKey(legId))
        {
            session.App.Release(legId, "normal");
        }

        EndSession(session);
    }

    [LoggerMessage(EventId = 2180, Level = LogLevel.Information, Message = "Call {CallId} adopted outside a queue ({Stage}, {Where}): resumed where it was")]
    private static partial void LogIvrAdopted(ILogger logger, string callId, string stage, string where);

    [LoggerMessage(EventId = 2181, Level = LogLevel.Information, Message = "Call {CallId} ({Stage}): the caller left while no CtiBridge instance controlled the call; it ends now")]
    private static partial void LogIvrCallerGone(ILogger logger, string callId, string stage);

    [LoggerMessage(EventId = 2182, Level = LogLevel.Warning, Message = "Call {CallId}: its IVR node is no longer in the plan (reloaded meanwhile); it starts plan {Plan} again")]
    private static partial void LogIvrRestarted(ILogger logger, string callId, string plan);
}

/// <summary>A write call control asks of the live state writer, in order with the others.</summary>
internal abstract record LiveStateWrite
{
    /// <summary>The write's statements (one transaction with the rest of the batch).</summary>
    public abstract IEnumerable<Npgsql.NpgsqlBatchCommand> Commands();
}

/// <summary>Where a caller outside a queue is now (<see cref="Put"/>), or that the call ended and its row keeps nothing (<see cref="Put"/> null).</summary>
internal sealed record IvrStateChange(string Server, LiveIvrCall? Put, string CallId, DateTimeOffset At) : LiveStateWrite
{
    public override IEnumerable<Npgsql.NpgsqlBatchCommand> Commands() => [Put is { } put ? LiveStateStore.PutIvrCall(Server, put, At) : LiveStateStore.DeleteIvrCall(CallId)];
}

/// <summary>A caller outside a queue ended with a record not stored yet (<see cref="Record"/>, or a survey's answer): the row is marked ended and kept until it is.</summary>
internal sealed record IvrCallEnded(string CallId, DateTimeOffset At, CallRecord? Record, RecordingRecord? Recording) : LiveStateWrite
{
    public override IEnumerable<Npgsql.NpgsqlBatchCommand> Commands() => LiveStateStore.EndIvrCall(CallId, At, Record, Recording);
}

/// <summary>The survey's answer, kept with the caller's row.</summary>
internal sealed record IvrSurveyAnswer(string CallId, string Question, int Score, int ScaleMax, DateTimeOffset At) : LiveStateWrite
{
    public override IEnumerable<Npgsql.NpgsqlBatchCommand> Commands() => [LiveStateStore.SurveyIvrCall(CallId, Question, Score, ScaleMax, At)];
}
