using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>Local channel pairs, call progress, Originate, the Dial application and hang-up.</summary>
internal sealed partial class PbxModel
{
    internal static string CauseText(int cause) => cause switch
    {
        0 => "Unknown",
        1 => "Unallocated (unassigned) number",
        3 => "No route to destination",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        20 => "Subscriber absent",
        21 => "Call Rejected",
        27 => "Destination out of order",
        28 => "Invalid number format",
        31 => "Normal, unspecified",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        41 => "Temporary failure",
        _ => "Unknown",
    };

    /// <summary>Parses <c>Local/exten@context[/n]</c> into its exten and context.</summary>
    internal static bool TryParseLocal(string text, out string exten, out string context)
    {
        exten = context = "";
        if (!text.StartsWith("Local/", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var rest = text[6..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            rest = rest[..slash];
        }

        var at = rest.IndexOf('@', StringComparison.Ordinal);
        exten = at < 0 ? rest : rest[..at];
        context = at < 0 ? "default" : rest[(at + 1)..];
        return exten.Length > 0;
    }

    /// <summary>Creates a Local pair and emits both Newchannel events.</summary>
    internal (Channel One, Channel Two) CreateLocalPair(string exten, string context, string? oneId, string? twoId, string? linkedId, Action<Channel, Channel?>? created = null)
    {
        var suffix = NextLocalSuffix();
        var baseName = $"Local/{exten}@{context}-{suffix}";
        var one = CreateChannel(baseName + ";1", oneId, linkedId, ChannelState.Down, context, exten);
        var two = CreateChannel(baseName + ";2", twoId, linkedId ?? one.UniqueId, ChannelState.Ring, context, exten, isLocalTwo: true);
        one.LocalPeer = two;
        two.LocalPeer = one;
        created?.Invoke(one, two);
        EmitNewchannel(one);
        EmitNewchannel(two);
        return (one, two);
    }

    private void EmitLocalBridge(Channel one, Channel two)
    {
        var message = Event("LocalBridge", AmiPrivilege.Call);
        AddChannel(message, one, "LocalOne");
        AddChannel(message, two, "LocalTwo");
        message.Add("Context", two.Context).Add("Exten", two.Exten).Add("LocalOptimization", "Yes");
        Publish(AmiPrivilege.Call, message);
    }

    private void DialEvent(string name, DialAttempt dial, params (string Name, string Value)[] extra)
    {
        var message = Event(name, AmiPrivilege.Call);
        if (dial.Caller is not null)
        {
            AddChannel(message, dial.Caller);
        }

        AddChannel(message, dial.Destination, "Dest");
        foreach (var (n, v) in extra)
        {
            message.Add(n, v);
            if (name == "DialEnd" && n == "DialStatus" && dial.Caller is { } caller && CelDialStatuses.Contains(v))
            {
                // CEL keeps the caller's last dial outcome for its HANGUP record.
                caller.CelDialStatus = v;
            }
        }

        Publish(AmiPrivilege.Call, message);
    }

    // ----- call progress between the halves of a Local pair ----------------------------------------

    /// <summary>The dialplan side rings: the outbound half shows Ringing and its dial reports RINGING.</summary>
    internal void IndicateRinging(Channel channel)
    {
        var outbound = channel.LocalPeer;
        if (outbound is null || outbound.Gone || outbound.State == ChannelState.Up)
        {
            return;
        }

        SetState(outbound, ChannelState.Ringing);
        if (outbound.IncomingDial is { Queue: not null, Finished: false })
        {
            QueueMemberRinging(outbound);
        }

        if (outbound.IncomingDial is { Finished: false, RingingAt: null } dial)
        {
            dial.RingingAt = Now;
            Defer(() =>
            {
                if (dial.Finished)
                {
                    return;
                }

                if (dial.Caller is { } dialler)
                {
                    ConsultationRinging(dialler);
                }

                if (dial.Caller is { } caller && !dial.FromAri && dial.Queue is null)
                {
                    var ms = (long)(Now - dial.StartedAt).TotalMilliseconds;
                    SetVariable(caller, "RINGTIME", (ms / 1000).ToString(CultureInfo.InvariantCulture));
                    SetVariable(caller, "RINGTIME_MS", ms.ToString(CultureInfo.InvariantCulture));
                }

                DialEvent("DialState", dial, ("DialStatus", "RINGING"));
                AriDialStatus(dial, "RINGING");
            });
        }
    }

    /// <summary>Busy or congestion signalled by the dialplan side: the dial on the outbound half fails.</summary>
    private void IndicateFailure(Channel channel, int cause)
    {
        var outbound = channel.LocalPeer;
        if (outbound?.IncomingDial is { Finished: false } dial && !outbound.Gone)
        {
            Defer(() => FailDial(dial, cause, hangUpDestination: true));
        }
    }

    /// <summary>Answers a channel; for a Local dialplan half the outbound half answers too and its dial completes.</summary>
    internal void Answer(Channel channel)
    {
        if (channel.State == ChannelState.Up || channel.Gone)
        {
            return;
        }

        var outbound = channel.IsLocalTwo ? channel.LocalPeer : null;
        var dial = outbound?.IncomingDial;
        if (outbound is not null && dial?.Originate is not null && dial.Caller is null)
        {
            // Originate: the outbound half goes up first, then the dialplan half (as recorded).
            SetState(outbound, ChannelState.Up);
            AnswerDial(dial);
            SetState(channel, ChannelState.Up);
            OnOriginateAnswered(dial);
            return;
        }

        SetState(channel, ChannelState.Up);
        if (outbound is not null && !outbound.Gone)
        {
            SetState(outbound, ChannelState.Up);
            if (dial is { Finished: false })
            {
                AnswerDial(dial);
            }

            if (dial is { IsConsultation: true } && outbound.Bridge is { } consultation)
            {
                // The answered consultation call makes the transferer's bridge announce BRIDGEPEER again.
                SetBridgePeers(consultation);
            }
        }
    }

    private void AnswerDial(DialAttempt dial)
    {
        dial.AnsweredAt = Now;
        if (dial.Caller is null || dial.FromAri)
        {
            dial.Finished = true;
            DialEvent("DialEnd", dial, ("DialStatus", "ANSWER"));
            AriDialStatus(dial, "ANSWER");
            return;
        }

        AnswerDialApp(dial);
    }

    // ----- Originate ---------------------------------------------------------------------------

    /// <summary>
    /// Starts an Originate. Returns false when the channel cannot even be created (bad technology,
    /// unknown endpoint), which Asterisk reports as <c>Originate failed</c> at once.
    /// </summary>
    internal bool Originate(OriginateRequest request, IReadOnlyList<KeyValuePair<string, string>> variables, string? callerNum, string? callerName,
        string? channelId, string? otherChannelId, TimeSpan timeout)
    {
        if (!TryParseLocal(request.ChannelText, out var exten, out var context))
        {
            return OriginateEndpoint(request, variables, callerNum, callerName, channelId, timeout);
        }

        var (one, two) = CreateLocalPair(exten, context, channelId, otherChannelId, null, request.OnCreated);
        EmitNewexten(one, "AppDial2", "(Outgoing Line)");
        one.Application = "AppDial2";
        for (var i = variables.Count - 1; i >= 0; i--)
        {
            SetVariable(one, variables[i].Key, variables[i].Value);
        }

        if (callerNum is not null || callerName is not null)
        {
            one.CallerAni = callerNum ?? "";
            SetCallerId(one, callerNum ?? "", callerName ?? "");
            SetConnectedLine(one, callerNum ?? "", callerName ?? "");
        }

        foreach (var variable in variables)
        {
            SetVariable(two, variable.Key, variable.Value);
        }

        if (callerNum is not null || callerName is not null)
        {
            SetCallerId(two, callerNum ?? "", callerName ?? "", alsoConnected: true);
            SetConnectedLine(two, callerNum ?? "", callerName ?? "");
        }

        var dial = new DialAttempt { Destination = one, DialString = $"{exten}@{context}", StartedAt = Now, Originate = request };
        one.IncomingDial = dial;
        if (!Dialplan.Exists(context, exten))
        {
            // chan_local refuses the call: no LocalBridge, no DialBegin; both halves go (cause 0).
            request.OnDialling?.Invoke(one);
            dial.Finished = true;
            Finish(two, 0);
            CompleteOriginate(dial, 0, answered: false);
            Finish(one, 0);
            return true;
        }

        request.OnDialling?.Invoke(one);
        EmitLocalBridge(one, two);
        DialEvent("DialBegin", dial, ("DialString", dial.DialString));
        _sim.AriEvents.Dial(dial, "");
        var generation = dial.TimeoutGeneration;
        Schedule(timeout, () =>
        {
            if (!dial.Finished && dial.TimeoutGeneration == generation && !one.Gone)
            {
                // No answer within Timeout: the outbound half is hung up with cause 19, no DialEnd.
                dial.Finished = true;
                CompleteOriginate(dial, 3, answered: false);
                Teardown(one, 19);
            }
        });
        StartPbx(two);
        return true;
    }

    private void OnOriginateAnswered(DialAttempt dial)
    {
        var request = dial.Originate!;
        var one = dial.Destination;
        CompleteOriginate(dial, 4, answered: true);
        if (request.Application is { Length: > 0 } app)
        {
            RunOriginateApplication(one, app, request.Data ?? "");
        }
        else
        {
            one.Context = request.Context ?? "default";
            one.Exten = request.Exten ?? "s";
            one.Priority = request.Priority;
            Defer(() =>
            {
                if (!one.Gone && !one.Ending)
                {
                    StartPbx(one);
                }
            });
        }
    }

    /// <summary>Originate with Application: the outbound half runs that one application, then hangs up.</summary>
    private void RunOriginateApplication(Channel channel, string application, string data)
    {
        if (!application.Equals("Stasis", StringComparison.OrdinalIgnoreCase))
        {
            // (Stasis records the application it replaces, so it sets these itself.)
            channel.Application = application;
            channel.AppData = data;
        }

        channel.LastApplication = application;
        channel.LastData = data;
        CelApplicationStarts(channel, application, data);
        var generation = ++channel.Generation;
        void Done()
        {
            if (channel.Generation == generation && !channel.Gone && !channel.Ending)
            {
                Teardown(channel, 0);
            }
        }

        switch (application.ToUpperInvariant())
        {
            case "PLAYBACK":
                CelStreams(channel, data);
                Schedule(Sounds.Length(data), () =>
                {
                    if (channel.Generation == generation && !channel.Gone && !channel.Ending)
                    {
                        SetVariable(channel, "PLAYBACKSTATUS", "SUCCESS");
                        Done();
                    }
                });
                break;
            case "WAIT":
                Schedule(TimeSpan.FromSeconds(ParseSeconds(data)), Done);
                break;
            case "STASIS":
                if (!_sim.AriEvents.EnterStasis(channel, Dialplan.SplitArgs(data)))
                {
                    Defer(Done);
                }

                break;
            case "CHANSPY":
                StartChanSpy(channel, data);
                break;
            case "MUSICONHOLD":
                StartMusicOnHold(channel, data.Length == 0 ? "default" : Dialplan.SplitArgs(data)[0]);
                break;
            default:
                Defer(Done);
                break;
        }
    }

    private void CompleteOriginate(DialAttempt dial, int reason, bool answered)
    {
        var request = dial.Originate;
        if (request is null)
        {
            return;
        }

        if (request.Async)
        {
            var one = dial.Destination;
            var message = Event("OriginateResponse", AmiPrivilege.Call).AddIfPresent("ActionID", request.ActionId)
                .Add("Response", answered ? "Success" : "Failure")
                .Add("Channel", answered ? one.Name : request.ChannelText);
            if (request.Application is { Length: > 0 })
            {
                message.Add("Application", request.Application).Add("Data", request.Data ?? "");
            }
            else
            {
                message.Add("Context", request.Context ?? "").Add("Exten", request.Exten ?? "");
            }

            message.Add("Reason", reason.ToString(CultureInfo.InvariantCulture))
                .Add("Uniqueid", answered ? one.UniqueId : "<unknown>")
                .Add("CallerIDNum", OrUnknown(one.CallerNum))
                .Add("CallerIDName", OrUnknown(one.CallerName));
            Publish(AmiPrivilege.Call, message);
        }

        request.OnOutcome?.Invoke(reason);
        request.Outcome.TrySetResult(reason);
    }

    /// <summary>A dial that ends without answer: DialEnd (unless it timed out), then the originator is told.</summary>
    private void FailDial(DialAttempt dial, int cause, bool hangUpDestination)
    {
        if (dial.Finished)
        {
            return;
        }

        dial.Finished = true;
        var status = DialStatus(cause);
        dial.Destination.UnansweredDisposition ??= status switch
        {
            "BUSY" => "BUSY",
            "CONGESTION" => "CONGESTION",
            "CHANUNAVAIL" => "FAILED",
            _ => "NO ANSWER",
        };
        DialEvent("DialEnd", dial, ("DialStatus", status));
        if (dial.FromAri)
        {
            // ARI's dialling thread reports what the destination indicated (BUSY, CONGESTION); a
            // destination that simply hangs up (a rejected call) gives no Dial event (ari/dialer).
            if (hangUpDestination)
            {
                AriDialStatus(dial, status);
            }

            // The channel stays in its application until hung up or timed out.
            return;
        }

        AriDialStatus(dial, status);

        if (dial.Originate is not null)
        {
            CompleteOriginate(dial, OriginateReason(cause), answered: false);
            if (hangUpDestination && !dial.Destination.Gone)
            {
                Teardown(dial.Destination, 0);
            }
        }
        else if (dial.Caller is { } caller)
        {
            if (hangUpDestination && !dial.Destination.Gone)
            {
                Teardown(dial.Destination, 0);
            }

            if (dial.Queue is not null)
            {
                QueueDialFailed(dial);
            }
            else
            {
                DialAppFinished(caller, dial, status);
            }
        }
    }

    internal static string DialStatus(int cause) => cause switch
    {
        17 => "BUSY",
        34 => "CONGESTION",
        1 or 3 or 20 or 27 or 38 => "CHANUNAVAIL",
        _ => "NOANSWER",
    };

    private static int OriginateReason(int cause) => cause switch
    {
        17 => 5,
        34 => 8,
        19 => 3,
        _ => 0,
    };

    // ----- hang-up -----------------------------------------------------------------------------

    /// <summary>
    /// A channel goes away with <paramref name="cause"/>: it leaves its bridge, its Local partner is
    /// asked to hang up with the same cause, it is destroyed, and then the partner (and a dial or a
    /// call it was part of) reacts.
    /// </summary>
    internal void Teardown(Channel channel, int cause, bool fromPbxEnd = false)
    {
        if (channel.Gone || (channel.Ending && !fromPbxEnd))
        {
            return;
        }

        channel.Ending = true;
        channel.Generation++;
        channel.HangupCause ??= cause;
        CompleteAttendedTransfer(channel);
        QueueCallerLineGone(channel);
        var bridge = channel.Bridge;
        if (bridge is not null)
        {
            LeaveBridge(channel, bridge);

            // A queue call's member left: app_queue frees the member before its phone's hang-up runs.
            foreach (var member in bridge.Members)
            {
                if (member.QueueEntry is { Connected: not null } entry)
                {
                    ReleaseQueueMember(entry);
                }
            }
        }

        if (fromPbxEnd)
        {
            RunHangupExtension(channel);
        }

        var peer = channel.LocalPeer;
        if (peer is { Gone: false, Ending: false })
        {
            if (channel.IsLocalTwo && channel.Variables.TryGetValue("DIALSTATUS", out var status))
            {
                SetVariable(peer, "CHANLOCALSTATUS", status);
            }

            HangupRequestEvent(peer, channel.HangupCause.Value, soft: false);
            peer.HangupCause ??= channel.HangupCause;
        }

        if (channel.OutgoingDial is { Finished: false } outgoing && !outgoing.Destination.Gone)
        {
            // The caller gave up: the destination is cancelled.
            outgoing.Finished = true;
            DialEvent("DialEnd", outgoing, ("DialStatus", "CANCEL"));
            Defer(() => Teardown(outgoing.Destination, 0));
        }

        Finish(channel, channel.HangupCause.Value);

        // A transferred party left behind goes on at once (its thread is running), while this
        // channel's Local partner only notices the hang-up when its own dialplan wakes up (as recorded
        // in blind-transfer: the new Dial rings before the old agent leg runs its h extension).
        var transferring = bridge is not null && bridge.Members.Exists(m => m.PendingGoto is not null);
        if (transferring)
        {
            AfterBridgeMemberLeft(bridge!);
        }

        if (peer is { Gone: false, Ending: false })
        {
            PeerGone(peer);
        }

        if (bridge is not null && !transferring)
        {
            AfterBridgeMemberLeft(bridge);
        }
    }

    /// <summary>The other half of a Local pair is gone: this half ends too.</summary>
    private void PeerGone(Channel channel)
    {
        var cause = channel.HangupCause ?? 0;
        if (channel.IncomingDial is { Finished: false } dial)
        {
            channel.Ending = true;
            FailDial(dial, cause, hangUpDestination: false);
            channel.Ending = false;
        }

        if (channel.OutgoingDial is { AnsweredAt: not null } bridgedDial && channel.Bridge is { CreatedByAri: false } bridge)
        {
            // A caller whose own line went away while bridged by Dial: the bridge and the Dial end first.
            LeaveBridge(channel, bridge);
            SetDialEndVariables(channel, bridgedDial);
            SetVariable(channel, "DIALSTATUS", "ANSWER");
            channel.OutgoingDial = null;
            AfterBridgeMemberLeft(bridge);

            // The Dial returned normally, so the channel ends with Normal Clearing, not its partner's cause.
            channel.HangupCause = 16;
            cause = 16;
        }

        if (QueueCallerLineGone(channel))
        {
            // Queue() returned (abandon or completed call): the channel ends with Normal Clearing.
            channel.HangupCause = 16;
            cause = 16;
        }

        if (channel.InPbx)
        {
            HangupRequestEvent(channel, 16, soft: true);
            channel.InPbx = false;
            Teardown(channel, cause, fromPbxEnd: true);
            return;
        }

        Teardown(channel, cause);
    }

    private void RunHangupExtension(Channel channel)
    {
        if (!channel.InPbx && channel.Exten == "h")
        {
            return;
        }

        channel.InPbx = false;
        if (!Dialplan.Exists(channel.Context, "h"))
        {
            return;
        }

        channel.Exten = "h";
        channel.Priority = 1;
        while (Dialplan.Step(channel.Context, "h", channel.Priority) is { } step)
        {
            var data = Expand(channel, step.Data);
            EmitNewexten(channel, step.Application, data);
            if (step.Application.Equals("ExecIf", StringComparison.OrdinalIgnoreCase))
            {
                ExecuteIf(channel, data);
            }
            else if (step.Application.Equals("Set", StringComparison.OrdinalIgnoreCase))
            {
                ExecuteSet(channel, data);
            }

            channel.Priority++;
        }
    }

    /// <summary>Emits the CDR and the Hangup event and forgets the channel.</summary>
    internal void Finish(Channel channel, int cause)
    {
        if (channel.Gone)
        {
            return;
        }

        channel.Gone = true;
        channel.Ending = true;
        channel.Generation++;
        channel.HangupCause ??= cause;

        // A caller id chan_local passed to a ;1 half that runs no more dialplan is taken at hang-up:
        // the CDR and Hangup carry it and NewCallerid follows (as recorded in attended-transfer).
        var lateCallerId = !channel.IsLocalTwo && channel.PendingCallerId is { } pending ? pending : ((string, string)?)null;
        if (lateCallerId is { } late)
        {
            channel.PendingCallerId = null;
            (channel.CallerNum, channel.CallerName) = late;
        }

        _sim.AriEvents.LeaveStasis(channel);
        StopMixMonitors(channel);
        StopChanSpy(channel);
        StopRecordingsOf(null, channel);
        EndSnoopsOf(channel);
        EmitCdr(channel);
        ChannelEvent("Hangup", channel, AmiPrivilege.Call, ("Cause", cause.ToString(CultureInfo.InvariantCulture)), ("Cause-txt", CauseText(cause)));
        if (lateCallerId is not null)
        {
            EmitNewCallerid(channel);
        }

        Channels.Remove(channel.Name);
        CelChannelEnds(channel, cause);
        _sim.AriEvents.ChannelDestroyed(channel, cause);
        PublishLocalDeviceState(channel);
        RunPendingQueueCompletions(channel);
    }

    private void EmitCdr(Channel channel)
    {
        if (channel.CdrMerged)
        {
            return;
        }

        foreach (var closed in channel.ClosedCdrs)
        {
            Publish(AmiPrivilege.Cdr, closed);
        }

        channel.ClosedCdrs.Clear();
        Publish(AmiPrivilege.Cdr, BuildCdr(channel));
    }

    /// <summary>A transfer ends the channel's CDR here; a new one starts (answered) at the new location.</summary>
    internal void CloseCdr(Channel channel)
    {
        if (channel.CdrMerged)
        {
            return;
        }

        channel.ClosedCdrs.Add(BuildCdr(channel));
        channel.CdrStartedAt = Now;
        channel.CdrAnsweredAt = channel.AnsweredAt is null ? null : Now;
        channel.CdrPeer = "";
    }

    private AmiMessage BuildCdr(Channel channel, string? dispositionOverride = null)
    {
        var started = channel.CdrStartedAt ?? channel.CreatedAt;
        var answeredAt = channel.CdrStartedAt is null ? channel.AnsweredAt : channel.CdrAnsweredAt;
        var answered = answeredAt is not null;
        var end = Now;
        var disposition = dispositionOverride ?? (answered ? "ANSWERED" : channel.UnansweredDisposition ?? (channel.HangupCause ?? 0) switch
        {
            17 => "BUSY",
            34 => "CONGESTION",
            0 or 20 => "FAILED",
            _ => "NO ANSWER",
        });
        var callerId = channel.CallerName.Length > 0 || channel.CallerNum.Length == 0 ? $"\"{channel.CallerName}\" <{channel.CallerNum}>" : $"<{channel.CallerNum}>";
        var message = Event("Cdr", AmiPrivilege.Cdr)
            .Add("AccountCode", channel.AccountCode)
            .Add("Source", channel.CallerNum)
            .Add("Destination", channel.Exten)
            .Add("DestinationContext", channel.Context)
            .Add("CallerID", callerId)
            .Add("Channel", channel.Name)
            .Add("DestinationChannel", channel.CdrPeer)
            .Add("LastApplication", channel.LastApplication)
            .Add("LastData", channel.LastData)
            .Add("StartTime", CdrTime(started))
            .Add("AnswerTime", answeredAt is { } a ? CdrTime(a) : "")
            .Add("EndTime", CdrTime(end))
            .Add("Duration", ((long)(end - started).TotalSeconds).ToString(CultureInfo.InvariantCulture))
            .Add("BillableSeconds", (answeredAt is { } b ? (long)(end - b).TotalSeconds : 0).ToString(CultureInfo.InvariantCulture))
            .Add("Disposition", disposition)
            .Add("AMAFlags", "DOCUMENTATION")
            .Add("UniqueID", channel.UniqueId)
            .Add("UserField", "");
        return message;
    }

    private static string CdrTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>The AMI Hangup action: with a Cause the channel goes at once; without, it gets a SoftHangupRequest first.</summary>
    internal void HangupByRequest(Channel channel, int? cause, int softCause = 16, int defaultCause = 0)
    {
        // AMI's Hangup without Cause is reported with 16 (as recorded in chanspy); ARI's DELETE with 32.
        // A channel in a Dial or queue bridge that runs no dialplan shows no SoftHangupRequest and ends
        // with Normal Clearing, as the bridge hangs it up (as recorded in queue-ringnoanswer and
        // attended-transfer).
        var bridgedQueueLeg = softCause == 16 && channel.Bridge is { CreatedByAri: false } && !channel.InPbx;
        if (bridgedQueueLeg)
        {
            defaultCause = 16;
        }

        if (cause is null && !bridgedQueueLeg)
        {
            HangupRequestEvent(channel, softCause, soft: true);
        }

        var wasInPbx = channel.InPbx;
        if (cause is { } c)
        {
            channel.HangupCause = c;
        }

        if (wasInPbx)
        {
            Teardown(channel, channel.HangupCause ?? defaultCause, fromPbxEnd: true);
        }
        else
        {
            Teardown(channel, channel.HangupCause ?? defaultCause);
        }
    }
}
