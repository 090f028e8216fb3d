using System.Globalization;
using System.Threading.Channels;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.LiveState;
using CtiBridge.Data.Records;
using CtiBridge.Service.Configuration;
using DataDisposition = CtiBridge.Data.Records.CallDisposition;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// The caller's side before and around the queue: entry with the customer lookup, the blacklist,
/// IVR plans (menus, time conditions, PIN check, routing), announcements over music on hold, the
/// ACD's overflows carried out on the channel (external number, voicemail, callback, hang-up) and
/// the records of all of it (IVR steps, voicemail recordings, calls that never reached a queue).
/// Everything here runs on the call center's loop, like the rest of <see cref="CallCenter"/>.
/// </summary>
public sealed partial class CallCenter
{
    private static readonly TimeSpan AnnouncementLimit = TimeSpan.FromSeconds(60);
    private readonly Channel<CallCenterRecord> _records = System.Threading.Channels.Channel.CreateUnbounded<CallCenterRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, CallSession> _playbacks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CallSession> _recordings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CallSession> _externalLegs = new(StringComparer.Ordinal);
    private readonly ICustomerLookup? _lookup;
    private volatile IvrRoutes _routes;

    /// <summary>
    /// Records call control writes itself (IVR steps, voicemail recordings, calls that ended before
    /// any queue); the ACD's own records come from <see cref="SubscribeEvents"/> through the mapper.
    /// </summary>
    internal ChannelReader<CallCenterRecord> Records => _records.Reader;

    /// <summary>
    /// Replaces the IVR plans, calendars and DID routes with those of <paramref name="settings"/>
    /// without a restart. Nothing changes when anything is wrong: the problems are returned (one per
    /// setting, as at start-up) and the running plans stay. Calls already in a plan finish with the
    /// plan they started with. Queues and agents are not reloaded: plans may only use queues and
    /// agents that are running.
    /// </summary>
    /// <returns>No problems: the new plans are live for the next call.</returns>
    public Task<IReadOnlyList<SettingsProblem>> ReloadIvrAsync(CallControlSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var problems = new List<SettingsProblem>();
        var running = new CallControlSettings
        {
            Queues = _settings.Queues, Agents = _settings.Agents, Dids = settings.Dids, Ivr = settings.Ivr,
            CustomerLookup = _settings.CustomerLookup, ExternalEndpoint = _settings.ExternalEndpoint,
        };
        var numbers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Dids.Count; i++)
        {
            if (!numbers.Add(settings.Dids[i].Number))
            {
                problems.Add(new SettingsProblem($"callControl.dids[{i}].number", $"DID '{settings.Dids[i].Number}' is routed twice"));
            }
        }

        var routes = IvrConfiguration.Build(running, problems);
        if (routes is null || problems.Count > 0)
        {
            LogReloadRejected(_logger, problems.Count, string.Join("; ", problems));
            return Task.FromResult<IReadOnlyList<SettingsProblem>>(problems);
        }

        // Swapped on the loop, so a call entering sees either the old routes or the new ones, whole.
        return RequestAsync<IReadOnlyList<SettingsProblem>>(_ =>
        {
            _routes = routes;
            LogReloaded(_logger, routes.PlanByDid.Count, routes.QueueByDid.Count);
            return [];
        }, cancellationToken);
    }

    /// <summary><c>StasisStart(inbound, DID)</c>: answer, look the caller up, then the DID's plan or queue.</summary>
    private void StartInbound(StasisApp app, Asterisk.Ari.Models.Channel channel, string did, DateTimeOffset at)
    {
        var routes = _routes;
        routes.PlanByDid.TryGetValue(did, out var plan);
        string? queue = null;
        routes.AgentByDid.TryGetValue(did, out var agentRoute);
        if (agentRoute is not null)
        {
            queue = agentRoute.Queue;
        }
        else if (plan is null && !routes.QueueByDid.TryGetValue(did, out queue))
        {
            LogUnknownDid(_logger, did, channel.Name);
            app.Release(channel.Id, "unallocated");
            return;
        }

        // Asterisk's channel IDs (epoch.sequence) can repeat across servers and restarts; call records must not.
        var session = new CallSession(Guid.CreateVersion7(_time.GetUtcNow()).ToString(), channel.Id, queue ?? string.Empty, app, _logger, _stopping.Token)
        {
            EnteredAt = at,
            Stage = CallStage.Entering,
            Plan = plan,
            AgentRoute = agentRoute,
            Caller = new CallerData
            {
                CallerNumber = channel.Caller.Number,
                CallerName = string.IsNullOrEmpty(channel.Caller.Name) ? null : channel.Caller.Name,
                Did = did,
                Language = plan?.Language,
                Attributes = new Dictionary<string, string>(StringComparer.Ordinal) { ["asterisk.server"] = app.Server, ["asterisk.channel"] = channel.Id },
                Site = app.Server,
            },
        };
        _calls[session.CallId] = session;
        _channels[On(app, channel.Id)] = new ChannelLeg(session, null);
        session.Run("answer", ct => app.Ari.Channels.AnswerAsync(channel.Id, ct));
        LogCallEntered(_logger, session.CallId, did, agentRoute is not null ? "agent " + agentRoute.AgentId : plan is null ? queue! : "plan " + plan.Name);
        LookUpCaller(session, did, at);
    }

    /// <summary>The lookup answered (or there is none): block, or start the plan, or queue.</summary>
    private void Entered(CallSession session, CustomerInfo info, DateTimeOffset at)
    {
        if (session.Ended)
        {
            return;
        }

        session.IsMember = info.Member;
        session.Caller = session.Caller with
        {
            CustomerId = info.CustomerId ?? session.Caller.CustomerId,
            IsVip = info.Vip,
            AssignedAgentId = info.AssignedAgent,
            Language = info.Language ?? session.Caller.Language,
        };
        if (info.Blocked)
        {
            // The blacklist: recorded as an IVR step (not a call entering, so it does not count in N).
            LogBlocked(_logger, session.CallId, session.Caller.CallerNumber ?? "(none)");
            session.Blocked = true;
            Step(session, "blocked", null, at, terminal: false);
            Leave(session, _settings.CustomerLookup?.BlockedPrompt);
            if (!session.Ended)
            {
                // A restart during the prompt finds a blocked caller, not a new call to look up again.
                StoreIvrState(session, LiveIvrStage.Blocked, at);
            }

            return;
        }

        if (session.Plan is { } plan)
        {
            session.Stage = CallStage.Ivr;
            EnterNode(session, plan.Start, null, at);

            // Keys typed while the lookup ran are not lost: they go to the first node, in order.
            var typed = session.TypeAhead;
            session.TypeAhead = string.Empty;
            foreach (var key in typed)
            {
                OnCallerKey(session, key, at);
            }
        }
        else if (session.AgentRoute is { } route)
        {
            RouteToAgent(session, route, at);
        }
        else
        {
            EnterQueue(session, session.Queue, session.Caller, at);
        }
    }

    private void Step(CallSession session, string node, string? input, DateTimeOffset at, bool terminal)
    {
        var name = session.Plan is { } plan ? $"{plan.Name}/{node}" : node;
        _records.Writer.TryWrite(new IvrStepRecord { CallId = session.CallId, StepNo = session.IvrPath.Count, EnteredAt = at, Node = name, Input = input, Terminal = terminal });
        session.IvrPath.Add(name);
    }

    private void EnterNode(CallSession session, string nodeName, string? input, DateTimeOffset at)
    {
        var plan = session.Plan!;
        var node = plan.Nodes[nodeName];
        StopKeyTimer(session);
        session.Node = node;
        session.Tries = 0;
        session.Digits = string.Empty;
        session.CollectingKeys = false;
        Step(session, node.Name, input, at, terminal: node.Type == IvrNodeType.Hangup && node.Settings.Completes);
        StoreIvrState(session, LiveIvrStage.Ivr, at);
        LogNode(_logger, session.CallId, plan.Name, node.Name, node.Type.ToString());
        var s = node.Settings;
        switch (node.Type)
        {
            case IvrNodeType.Menu:
            case IvrNodeType.Pin:
                session.CollectingKeys = true;
                PlayIvr(session, s.Prompt!);
                break;
            case IvrNodeType.Play:
                // "Zero for an operator" also works while an announcement plays.
                session.CollectingKeys = plan.Operator is not null;
                PlayIvr(session, s.Prompt!);
                break;
            case IvrNodeType.Time:
                EnterNode(session, node.Hours!.IsOpen(at) ? s.Open! : s.Closed!, null, at);
                break;
            case IvrNodeType.Caller:
                EnterNode(session, session.Caller.IsVip && s.IfVip is { } vip ? vip : session.IsMember && s.IfMember is { } member ? member : s.Otherwise!, null, at);
                break;
            case IvrNodeType.Queue:
                EnterQueue(session, s.Queue!, session.Caller with
                {
                    Priority = s.Priority ?? session.Caller.Priority,
                    RequiredSkills = s.Skills.Count > 0 ? s.Skills : session.Caller.RequiredSkills,
                    IsVip = session.Caller.IsVip || s.Vip,
                }, at);
                break;
            case IvrNodeType.Agent:
                RouteToAgent(session, node.AgentRoute!, at);
                break;
            case IvrNodeType.External:
                DialExternal(session, s.Number!, s.Timeout, at);
                break;
            case IvrNodeType.Voicemail:
                session.CallbackQueue = s.Queue;
                StartVoicemail(session, s.Mailbox!, s.Prompt, s.MaxMessage);
                break;
            case IvrNodeType.Hangup:
                session.IvrCompleted = s.Completes;
                Leave(session, s.Prompt);
                break;
        }
    }

    private void EnterQueue(CallSession session, string queue, CallerData caller, DateTimeOffset at)
    {
        session.Queue = queue;
        session.Stage = CallStage.Acd;
        session.EnqueuedAt = at;
        session.Caller = caller with { IvrPath = [.. session.IvrPath] };
        var outcome = _engine.Handle(new CallArrived(at, session.CallId, queue, session.Caller));
        if (!outcome.Accepted)
        {
            LogRefused(_logger, session.CallId, outcome.Reason ?? "refused");
            EndSession(session);
        }
    }

    private void PlayIvr(CallSession session, string prompt)
    {
        var id = $"{session.CallId}-p{++session.Playbacks}";
        session.IvrPlaybackId = id;
        _playbacks[id] = session;
        if (session.Stage == CallStage.Ivr)
        {
            StoreIvrState(session, LiveIvrStage.Ivr, _lastAt);
        }
        var media = prompt.Split('&').Select(p => "sound:" + p).ToList();
        var language = session.Caller.Language;
        session.Run("play " + prompt, ct => session.App.Ari.Channels.PlayWithIdAsync(session.CallerChannelId, id, media, lang: language, cancellationToken: ct));
    }

    /// <summary>An IVR prompt ended (played out, or stopped by a key).</summary>
    private void IvrPromptFinished(CallSession session, DateTimeOffset at)
    {
        session.IvrPlaybackId = null;
        if (session.Stage == CallStage.Leaving)
        {
            EndSession(session);
            return;
        }

        if (session.Stage != CallStage.Ivr || session.Node is not { } node)
        {
            return;
        }

        switch (node.Type)
        {
            case IvrNodeType.Play:
                EnterNode(session, node.Settings.Next!, null, at);
                break;
            case IvrNodeType.Menu:
            case IvrNodeType.Pin:
                StartKeyTimer(session, node.Settings.Timeout);
                break;
        }
    }

    private void StartKeyTimer(CallSession session, TimeSpan timeout)
    {
        StopKeyTimer(session);
        var version = session.TimerVersion;
        session.KeyTimer = _time.CreateTimer(_ => Post(at =>
        {
            if (!session.Ended && session.TimerVersion == version)
            {
                KeyTimedOut(session, at);
            }

            return null;
        }), null, timeout, Timeout.InfiniteTimeSpan);
    }

    private static void StopKeyTimer(CallSession session)
    {
        session.TimerVersion++;
        session.KeyTimer?.Dispose();
        session.KeyTimer = null;
    }

    private void KeyTimedOut(CallSession session, DateTimeOffset at)
    {
        var node = session.Node!;
        if (node.Type == IvrNodeType.Pin && session.Digits.Length > 0 && node.Settings.PinLength == 0)
        {
            // The caller stopped typing without #: check what was typed.
            CheckPin(session, at);
            return;
        }

        Retry(session, at, invalid: false);
    }

    /// <summary>A timeout or a wrong key/PIN: the prompt again, or the failure node after the last try.</summary>
    private void Retry(CallSession session, DateTimeOffset at, bool invalid)
    {
        var node = session.Node!;
        var plan = session.Plan!;
        session.Digits = string.Empty;
        session.Tries++;
        if (session.Tries > node.Settings.Retries)
        {
            var failure = node.Settings.Failure ?? (node.Type == IvrNodeType.Menu ? plan.Operator : null);
            if (failure is null)
            {
                session.Stage = CallStage.Leaving;
                Leave(session, "goodbye");
                return;
            }

            EnterNode(session, failure, invalid ? "invalid" : "timeout", at);
            return;
        }

        var prompt = invalid && node.Settings.InvalidPrompt is { } wrong ? $"{wrong}&{node.Settings.Prompt}" : node.Settings.Prompt!;
        PlayIvr(session, prompt);
    }

    private void OnCallerKey(CallSession session, char key, DateTimeOffset at)
    {
        switch (session.Stage)
        {
            case CallStage.Acd when !session.LeftAcd:
                var outcome = _engine.Handle(new CallerPressedKey(at, session.CallId, key));
                if (!outcome.Accepted)
                {
                    LogKeyIgnored(_logger, session.CallId, key, outcome.Reason ?? "refused");
                }

                return;
            case CallStage.Ivr when session.CollectingKeys && session.Node is { } node:
                IvrKey(session, node, key, at);
                return;
            case CallStage.Entering when session.TypeAhead.Length < 20:
                session.TypeAhead += key;
                return;
        }
    }

    private void IvrKey(CallSession session, IvrNode node, char key, DateTimeOffset at)
    {
        var plan = session.Plan!;
        StopKeyTimer(session);
        StopIvrPrompt(session);
        if (node.Type == IvrNodeType.Pin)
        {
            if (key == '#')
            {
                CheckPin(session, at);
                return;
            }

            session.Digits += key;
            if (node.Settings.PinLength > 0 && session.Digits.Length >= node.Settings.PinLength)
            {
                CheckPin(session, at);
            }
            else
            {
                StartKeyTimer(session, node.Settings.Timeout);
            }

            return;
        }

        if (node.Choices.TryGetValue(key, out var next))
        {
            EnterNode(session, next, key.ToString(), at);
        }
        else if (key == '0' && plan.Operator is { } op)
        {
            EnterNode(session, op, "0", at);
        }
        else if (node.Type == IvrNodeType.Menu)
        {
            LogInvalidKey(_logger, session.CallId, plan.Name, node.Name, key);
            Retry(session, at, invalid: true);
        }
        else
        {
            // A key that means nothing during an announcement: the announcement goes on to its next node.
            EnterNode(session, node.Settings.Next!, null, at);
        }
    }

    private void CheckPin(CallSession session, DateTimeOffset at)
    {
        var node = session.Node!;
        var typed = session.Digits;
        session.Digits = string.Empty;

        // The PIN itself is never recorded or logged: the step says only how it went.
        if (typed.Length > 0 && AgentPin.Verify(typed, node.Settings.PinHash!))
        {
            EnterNode(session, node.Settings.Next!, "pin-ok", at);
            return;
        }

        LogPinRefused(_logger, session.CallId, session.Plan!.Name, node.Name, session.Tries + 1);
        Step(session, node.Name, "pin-wrong", at, terminal: false);
        Retry(session, at, invalid: true);
    }

    private static void StopIvrPrompt(CallSession session)
    {
        if (session.IvrPlaybackId is { } id)
        {
            // Barge-in: the key ends the prompt; its PlaybackFinished finds no current prompt any more.
            session.IvrPlaybackId = null;
            session.Run("stop prompt", async ct =>
            {
                try
                {
                    await session.App.Ari.Playbacks.StopAsync(id, ct).ConfigureAwait(false);
                }
                catch (AriRequestException ex) when (ex.StatusCode == 404)
                {
                    // Already finished by itself.
                }
            });
        }
    }

    /// <summary>Plays a last prompt (if any), then hangs up.</summary>
    private void Leave(CallSession session, string? prompt)
    {
        StopKeyTimer(session);
        session.Stage = CallStage.Leaving;
        if (string.IsNullOrWhiteSpace(prompt))
        {
            EndSession(session);
            return;
        }

        PlayIvr(session, prompt);
    }

    private void OnPlaybackFinished(PlaybackFinished finished, DateTimeOffset at)
    {
        var id = finished.Playback.Id;
        if (!_playbacks.Remove(id, out var session))
        {
            return;
        }

        if (session.AnnouncementPlaybacks.Remove(id, out var done))
        {
            done.TrySetResult();
            return;
        }

        if (!session.Ended && session.IvrPlaybackId == id)
        {
            IvrPromptFinished(session, at);
        }
    }

    // ----- announcements in the queue ----------------------------------------------------------

    /// <summary>
    /// A prompt for a waiting caller: stop MOH, play, wait for the end (bounded), start MOH again
    /// if still waiting. In the call's request chain, so it never overlaps the bridge.
    /// </summary>
    private void Announce(CallSession session, IReadOnlyList<string> media, string what, bool beforeConnect = false)
    {
        var id = $"{session.CallId}-a{++session.Playbacks}";
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        session.AnnouncementPlaybacks[id] = done;
        _playbacks[id] = session;
        if (beforeConnect)
        {
            // The agent-ID announcement comes just before ConnectAgent, which stops the queue's announcements: not this one.
            session.AgentIdPlayback = id;
        }

        var moh = MusicClassOf(session);
        var ari = session.App.Ari;
        var language = session.Caller.Language;
        session.Run(what, async ct =>
        {
            if (!beforeConnect && session.ConnectedAgentId is not null)
            {
                return;
            }

            await ari.Channels.StopMohAsync(session.CallerChannelId, ct).ConfigureAwait(false);
            await ari.Channels.PlayWithIdAsync(session.CallerChannelId, id, media, lang: language, cancellationToken: ct).ConfigureAwait(false);
            try
            {
                await done.Task.WaitAsync(AnnouncementLimit, _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogAnnouncementStuck(_logger, session.CallId, what);
            }

            if (!beforeConnect && session.ConnectedAgentId is null && session.Stage == CallStage.Acd && !session.LeftAcd)
            {
                await ari.Channels.StartMohAsync(session.CallerChannelId, moh, ct).ConfigureAwait(false);
            }
        });
    }

    private string MusicClassOf(CallSession session) =>
        _settings.Queues.FirstOrDefault(q => q.Name == session.Queue)?.MusicOnHold ?? "default";

    /// <summary>Position (and expected wait) the way app_queue says it, with Asterisk's core sounds.</summary>
    internal static List<string> PositionMedia(int position, TimeSpan? expectedWait)
    {
        var media = position <= 1
            ? new List<string> { "sound:queue-youarenext" }
            : ["sound:queue-thereare", "number:" + (position - 1).ToString(CultureInfo.InvariantCulture), "sound:queue-callswaiting"];
        if (expectedWait is { } wait)
        {
            var minutes = (int)Math.Ceiling(wait.TotalMinutes);
            media.AddRange(minutes <= 1
                ? ["sound:queue-holdtime", "sound:queue-less-than", "number:1", "sound:queue-minute"]
                : ["sound:queue-holdtime", "number:" + minutes.ToString(CultureInfo.InvariantCulture), "sound:queue-minutes"]);
        }

        return media;
    }

    /// <summary>Caller-experience commands of the ACD; false for a command this part does not handle.</summary>
    private bool ExecuteExperience(CallSession session, AcdCommand command)
    {
        switch (command)
        {
            case PlayPrompt prompt:
                Announce(session, prompt.Prompt.Split('&').Select(p => "sound:" + p).ToList(), "prompt " + prompt.Prompt);
                return true;
            case AnnouncePosition position:
                Announce(session, PositionMedia(position.Position, position.ExpectedWait), $"announce position {position.Position}");
                return true;
            case AnnounceAgentId agent:
                Announce(session, ["sound:agent-newlocation", "digits:" + agent.AgentId], "announce agent " + agent.AgentId, beforeConnect: true);
                return true;
            case OverflowCall overflow:
                CarryOutOverflow(session, overflow);
                return true;
            default:
                return false;
        }
    }

    /// <summary>Before bridging: an announcement still playing ends now (the agent is waiting), except the agent's ID the caller is to hear first.</summary>
    private void StopAnnouncements(CallSession session)
    {
        foreach (var id in session.AnnouncementPlaybacks.Keys.ToList())
        {
            if (id == session.AgentIdPlayback)
            {
                continue;
            }

            var ari = session.App.Ari;
            _ = StopPlaybackAsync(ari, id);
        }
    }

    private async Task StopPlaybackAsync(AriClient ari, string id)
    {
        try
        {
            await ari.Playbacks.StopAsync(id, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException)
        {
            // Finished by itself meanwhile; its end is awaited by the chain anyway.
        }
    }

    // ----- overflow out of the ACD ---------------------------------------------------------------

    private void CarryOutOverflow(CallSession session, OverflowCall overflow)
    {
        // The ACD has ended the call (CallEnded follows): from here on the channel is ours alone.
        session.LeftAcd = true;
        LogOverflow(_logger, session.CallId, overflow.Condition.ToString(), overflow.Target.ToString());
        var now = _lastAt;
        switch (overflow.Target.Kind)
        {
            case OverflowTargetKind.ExternalNumber:
                DialExternal(session, overflow.Target.Destination!, _settings.Fallback.ExternalRingTimeout, now);
                break;
            case OverflowTargetKind.Voicemail:
                StartVoicemail(session, overflow.Target.Destination!, null, _settings.Fallback.VoicemailMaxMessage);
                break;
            case OverflowTargetKind.CallbackOffer:
                RequestCallback(session, voicemail: false);
                Leave(session, "queue-thankyou");
                break;
            default:
                Leave(session, overflow.Target.Destination);
                break;
        }
    }

    /// <summary>Hands a callback request to the callback scheduler (outside the loop; failures are logged, the call goes on).</summary>
    private void RequestCallback(CallSession session, bool voicemail)
    {
        var number = session.Caller.CallerNumber;
        var queue = string.IsNullOrEmpty(session.Queue) ? session.CallbackQueue ?? _settings.Queues[0].Name : session.Queue;
        if (_callbacks is null || string.IsNullOrEmpty(number))
        {
            LogNoCallbacks(_logger, session.CallId, number ?? "(withheld)", _callbacks is null ? "no callback scheduler is running" : "the caller's number is withheld");
            return;
        }

        // A queue callback keeps the call's own priority with its place in line: with the callback priority
        // (ahead of every ordinary call) it would jump the callers who were ahead of it.
        var request = voicemail
            ? CallbackRequest.VoicemailLeft(number, queue, session.CallId, session.RecordingName!)
            : CallbackRequest.QueueCallback(number, queue, session.CallId, session.EnqueuedAt ?? session.EnteredAt) with { Priority = session.QueuePriority };
        request = request with { CustomerName = session.Caller.CallerName };
        var callbacks = _callbacks;
        _ = Task.Run(async () =>
        {
            try
            {
                await callbacks.RequestAsync(request, _stopping.Token).ConfigureAwait(false);
                LogCallbackRequested(_logger, session.CallId, request.Source.ToString(), queue);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or TimeoutException or System.Data.Common.DbException or OperationCanceledException)
            {
                LogCallbackFailed(_logger, session.CallId, ex.Message);
            }
        });
    }

    // ----- external number -----------------------------------------------------------------------

    private void DialExternal(CallSession session, string number, TimeSpan timeout, DateTimeOffset at)
    {
        session.Stage = CallStage.External;
        session.ExternalNumber = number;
        session.ExternalStartedAt = at;
        var legId = session.CallId + "-ext";
        session.ExternalChannelId = legId;
        _externalLegs[legId] = session;
        StoreIvrState(session, LiveIvrStage.External, at);
        var endpoint = ExternalEndpointFor(session, number);
        var ari = session.App.Ari;
        var callerNumber = session.Caller.CallerNumber ?? string.Empty;
        var moh = MusicClassOf(session);
        LogExternal(_logger, session.CallId, endpoint);
        session.Run("dial external " + number, async ct =>
        {
            // The caller hears music while the number rings (a ringing tone would need early media).
            await ari.Channels.StartMohAsync(session.CallerChannelId, moh, ct).ConfigureAwait(false);
            try
            {
                await ari.Channels.OriginateAsync(endpoint: endpoint, app: session.App.Name, appArgs: $"external,{session.CallId}",
                    callerId: $"<{callerNumber}>", timeout: (int)Math.Ceiling(timeout.TotalSeconds), channelId: legId, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                LogOriginateFailed(_logger, session.CallId, "external", endpoint, ex.Message);
                Post(when =>
                {
                    ExternalGone(session, legId, when);
                    return null;
                });
            }
        });
    }

    private void ExternalAnswered(StasisApp app, Asterisk.Ari.Models.Channel channel, DateTimeOffset at)
    {
        if (!_externalLegs.TryGetValue(channel.Id, out var session) || session.Ended)
        {
            app.Release(channel.Id, "normal");
            return;
        }

        session.ExternalAnsweredAt = at;
        var bridgeId = session.CallId + "-bridge";
        session.BridgeId = bridgeId;
        StoreIvrState(session, LiveIvrStage.External, at);
        var ari = session.App.Ari;
        session.Run("bridge caller and external", async ct =>
        {
            await ari.Channels.StopMohAsync(session.CallerChannelId, ct).ConfigureAwait(false);
            await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: "external", cancellationToken: ct).ConfigureAwait(false);
            await ari.Bridges.AddChannelAsync(bridgeId, [session.CallerChannelId, channel.Id], cancellationToken: ct).ConfigureAwait(false);
        });
        RecordExternal(session, bridgeId); // every call is recorded, an overflow to a mobile too (REC-05)
    }

    /// <summary>The external leg ended (hung up, failed, or never answered): the caller is released too.</summary>
    private void ExternalGone(CallSession session, string legId, DateTimeOffset at)
    {
        if (!_externalLegs.Remove(legId))
        {
            return;
        }

        _records.Writer.TryWrite(new CallLegRecord
        {
            LegId = legId, StartedAt = session.ExternalStartedAt ?? at, CallId = session.CallId, Party = CallParty.External,
            Channel = session.ExternalNumber, AnsweredAt = session.ExternalAnsweredAt, EndedAt = at,
        });
        session.ExternalChannelId = null;
        EndSession(session);
    }

    // ----- voicemail -----------------------------------------------------------------------------

    private void StartVoicemail(CallSession session, string mailbox, string? prompt, TimeSpan maxMessage)
    {
        session.Stage = CallStage.Voicemail;
        session.Mailbox = mailbox;
        var name = $"voicemail-{mailbox}-{session.CallId}";
        session.RecordingName = name;
        _recordings[name] = session;
        StoreIvrState(session, LiveIvrStage.Voicemail, _lastAt);
        var ari = session.App.Ari;
        var id = $"{session.CallId}-vm{(session.Playbacks >= LegNumbersPerTakeover ? "-" + session.Playbacks.ToString(CultureInfo.InvariantCulture) : string.Empty)}";
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        session.AnnouncementPlaybacks[id] = done;
        _playbacks[id] = session;
        var media = (string.IsNullOrWhiteSpace(prompt) ? "vm-intro" : prompt).Split('&').Select(p => "sound:" + p).ToList();
        var language = session.Caller.Language;
        LogVoicemail(_logger, session.CallId, mailbox);
        session.Run("voicemail " + mailbox, async ct =>
        {
            await ari.Channels.StopMohAsync(session.CallerChannelId, ct).ConfigureAwait(false);
            await ari.Channels.PlayWithIdAsync(session.CallerChannelId, id, media, lang: language, cancellationToken: ct).ConfigureAwait(false);
            await done.Task.WaitAsync(AnnouncementLimit, _time, ct).ConfigureAwait(false);
            await ari.Channels.RecordAsync(session.CallerChannelId, name, "wav", maxDurationSeconds: (int)Math.Ceiling(maxMessage.TotalSeconds),
                ifExists: "overwrite", beep: true, terminateOn: "#", cancellationToken: ct).ConfigureAwait(false);
        });
    }

    private void OnRecordingEnded(LiveRecording recording, bool failed, DateTimeOffset at)
    {
        if (!_recordings.Remove(recording.Name, out var session))
        {
            return;
        }

        var duration = TimeSpan.FromSeconds(recording.Duration ?? 0);
        if (!failed)
        {
            var format = string.IsNullOrEmpty(recording.Format) ? "wav" : recording.Format;
            _records.Writer.TryWrite(new RecordingRecord
            {
                RecordingId = recording.Name, StartedAt = at - duration, CallId = session.CallId, EndedAt = at,
                Path = Path.Combine(_settings.RecordingDirectory, $"{recording.Name}.{format}"), Format = format,
            });
            RequestCallback(session, voicemail: true);
        }
        else
        {
            LogRecordingFailed(_logger, session.CallId, recording.Name, recording.Cause ?? "unknown");
        }

        if (!session.Ended)
        {
            Leave(session, "vm-goodbye");
        }
    }

    // ----- the call's end ------------------------------------------------------------------------

    /// <summary>
    /// A call that never reached the ACD has no call row from the ACD's events: it gets one here (returned, with the outside
    /// call's recording, for the caller's live row to keep until it is stored; null when the ACD's records have its row).
    /// </summary>
    private (CallRecord? Record, RecordingRecord? Recording) WriteIvrCallRecord(CallSession session)
    {
        StopKeyTimer(session);
        var externalRecording = WriteExternalRecording(session, _lastAt);
        if (session.ExternalChannelId is { } ext)
        {
            session.Run("hang up external", ct => session.App.Ari.Channels.HangupAsync(ext, reason: "normal", cancellationToken: ct));
        }

        if (session.Stage == CallStage.Acd || session.LeftAcd)
        {
            return (null, null);
        }

        var end = session.RealEnd?.At ?? _lastAt; // ended unseen in an events gap: at its real end (CallCenter.GapHangups.cs)
        var disposition = session.Blocked ? DataDisposition.Blocked
            : session.IvrCompleted ? DataDisposition.IvrCompleted
            : session.RecordingName is not null ? DataDisposition.Voicemail
            : session.ExternalAnsweredAt is not null ? DataDisposition.IvrCompleted
            : session.ExternalNumber is not null ? DataDisposition.Overflowed
            : DataDisposition.IvrAbandoned;
        var record = new CallRecord
        {
            CallId = session.CallId, StartedAt = session.EnteredAt, Direction = CallDirection.Inbound, Did = session.Caller.Did, AsteriskServer = session.App.Server,
            Caller = session.Caller.CallerNumber, Callee = session.ExternalNumber, EndedAt = end < session.EnteredAt ? session.EnteredAt : end, EndEstimated = session.RealEnd?.Estimated ?? false,
            Disposition = disposition, ReleasedBy = session.CallerGone && !session.Blocked ? ReleasedBy.Caller : ReleasedBy.System,
            RecordingId = externalRecording?.RecordingId,
        };
        _records.Writer.TryWrite(record);
        return (record, externalRecording);
    }

    [LoggerMessage(EventId = 860, Level = LogLevel.Information, Message = "Call {CallId}: IVR {Plan}/{Node} ({Type})")]
    private static partial void LogNode(ILogger logger, string callId, string plan, string node, string type);

    [LoggerMessage(EventId = 861, Level = LogLevel.Information, Message = "Call {CallId}: key {Key} means nothing at {Plan}/{Node}; the menu again")]
    private static partial void LogInvalidKey(ILogger logger, string callId, string plan, string node, char key);

    [LoggerMessage(EventId = 862, Level = LogLevel.Information, Message = "Call {CallId}: wrong PIN at {Plan}/{Node} (try {Try})")]
    private static partial void LogPinRefused(ILogger logger, string callId, string plan, string node, int @try);

    [LoggerMessage(EventId = 863, Level = LogLevel.Information, Message = "Call {CallId}: caller {CallerNumber} is blocked (blacklist); released after the blocked prompt")]
    private static partial void LogBlocked(ILogger logger, string callId, string callerNumber);

    [LoggerMessage(EventId = 864, Level = LogLevel.Information, Message = "IVR plans reloaded: {Plans} DID(s) with a plan, {Queues} straight to a queue")]
    private static partial void LogReloaded(ILogger logger, int plans, int queues);

    [LoggerMessage(EventId = 865, Level = LogLevel.Error, Message = "IVR reload rejected ({Count} problem(s)); the running plans stay: {Problems}")]
    private static partial void LogReloadRejected(ILogger logger, int count, string problems);

    [LoggerMessage(EventId = 866, Level = LogLevel.Debug, Message = "Call {CallId}: key {Key} ignored in the queue: {Reason}")]
    private static partial void LogKeyIgnored(ILogger logger, string callId, char key, string reason);

    [LoggerMessage(EventId = 867, Level = LogLevel.Warning, Message = "Call {CallId}: announcement '{What}' did not finish within a minute; music on hold resumes")]
    private static partial void LogAnnouncementStuck(ILogger logger, string callId, string what);

    [LoggerMessage(EventId = 868, Level = LogLevel.Information, Message = "Call {CallId}: dialling the external number through {Endpoint}")]
    private static partial void LogExternal(ILogger logger, string callId, string endpoint);

    [LoggerMessage(EventId = 869, Level = LogLevel.Information, Message = "Call {CallId}: voicemail for mailbox {Mailbox}")]
    private static partial void LogVoicemail(ILogger logger, string callId, string mailbox);

    [LoggerMessage(EventId = 870, Level = LogLevel.Warning, Message = "Call {CallId}: voicemail recording {Name} failed ({Cause})")]
    private static partial void LogRecordingFailed(ILogger logger, string callId, string name, string cause);

    [LoggerMessage(EventId = 871, Level = LogLevel.Warning, Message = "Call {CallId}: a callback for {CallerNumber} was asked for, but {Why}; none is made")]
    private static partial void LogNoCallbacks(ILogger logger, string callId, string callerNumber, string why);

    [LoggerMessage(EventId = 872, Level = LogLevel.Information, Message = "Call {CallId}: callback requested ({Source}) for queue {Queue}")]
    private static partial void LogCallbackRequested(ILogger logger, string callId, string source, string queue);

    [LoggerMessage(EventId = 873, Level = LogLevel.Error, Message = "Call {CallId}: the callback request was not taken: {Reason}")]
    private static partial void LogCallbackFailed(ILogger logger, string callId, string reason);
}

