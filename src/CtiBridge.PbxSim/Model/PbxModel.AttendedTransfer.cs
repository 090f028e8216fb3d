using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>One attended transfer in progress (bridging's atxfer feature).</summary>
internal sealed class AttendedTransferCall
{
    public required Channel Transferer { get; init; }

    public required Channel Transferee { get; init; }

    /// <summary>The bridge transferer and transferee talked in.</summary>
    public required Bridge Original { get; init; }

    /// <summary>The transferer's bridge with the consultation call, once dialled.</summary>
    public Bridge? Consultation { get; set; }

    /// <summary>The consultation's Local pair: <c>;1</c> joins the transferer, <c>;2</c> runs the dialplan at the target.</summary>
    public Channel? LocalOne { get; set; }

    public Channel? LocalTwo { get; set; }

    /// <summary>True while the transfer prompt plays to the transferer (CEL stream).</summary>
    public bool PromptPlaying { get; set; }

    /// <summary>True once the transferer hung up during the digits (nothing to complete).</summary>
    public bool Abandoned { get; set; }
}

/// <summary>
/// Atxfer as Asterisk 22 does it (recorded in <c>attended-transfer</c>): the feature code is played
/// into the bridge as DTMF (<c>*2</c>, the transferer put on hold, the transferee on music), then
/// the target digits; after the 3 s digit timeout a <c>Local/exten@context</c> pair is created
/// (TRANSFERERNAME/ATTENDEDTRANSFER) and its <c>;1</c> half joins the transferer in a bridge of its
/// own while <c>;2</c> runs the dialplan. When the transferer hangs up, the consultation bridge is
/// merged into the original one (BridgeMerge, AttendedTransfer with DestType Bridge) and the Local
/// pair is optimised away about 450 ms later (LocalOptimizationBegin/End): the transferee takes
/// <c>;2</c>'s place in the target's bridge and both halves hang up.
/// </summary>
internal sealed partial class PbxModel
{
    private readonly Dictionary<Channel, AttendedTransferCall> _attended = [];

    /// <summary>How long bridging waits for more transfer digits before it dials (features.conf <c>transferdigittimeout</c>).</summary>
    private static readonly TimeSpan TransferDigitTimeout = TimeSpan.FromSeconds(3);

    /// <summary>How long after the merge chan_local's optimisation takes the Local pair out (as recorded).</summary>
    private static readonly TimeSpan LocalOptimisationDelay = TimeSpan.FromMilliseconds(452);

    /// <summary>Atxfer: the feature code and the digits are played, then the consultation call is placed.</summary>
    internal void AttendedTransfer(Channel transferer, string context, string exten)
    {
        if (transferer.Bridge is not { } original || FarEnd(transferer) is not { } transferee)
        {
            return;
        }

        var call = new AttendedTransferCall { Transferer = transferer, Transferee = transferee, Original = original };
        _attended[transferer] = call;
        bool Alive() => !call.Abandoned && !transferer.Gone && !transferer.Ending && !transferee.Gone;
        SetVariable(transferer, "TRANSFER_CONTEXT", context);
        DtmfEvent(transferer, "*", begin: false, "Received", durationMs: 0);
        Schedule(TimeSpan.FromMilliseconds(158), () =>
        {
            if (Alive())
            {
                DtmfEvent(transferer, "2", begin: false, "Received", durationMs: 0);
            }
        });
        Schedule(TimeSpan.FromMilliseconds(259), () =>
        {
            if (Alive())
            {
                Hold(transferer, true);
                StartMusicOnHold(transferee, "default");

                // The transferer hears features.conf's xfersound prompt until the first target digit.
                Cel("STREAM_BEGIN", transferer, $"{{\"sound\":\"pbx-transfer\",\"format\":\"gsm\",\"language\":\"{transferer.Language}\"}}");
                call.PromptPlaying = true;
            }
        });
        var at = TimeSpan.FromMilliseconds(318);
        var last = at;
        foreach (var digit in exten)
        {
            var text = digit.ToString();
            Schedule(at, () =>
            {
                if (Alive())
                {
                    DtmfEvent(transferer, text, begin: false, "Received", durationMs: 0);
                    EndTransferPrompt(call);
                }
            });
            last = at;
            at += TimeSpan.FromMilliseconds(160);
        }

        Schedule(last + TransferDigitTimeout, () =>
        {
            if (Alive())
            {
                EndTransferPrompt(call);
                StartConsultation(call, context, exten);
            }
        });
    }

    private void EndTransferPrompt(AttendedTransferCall call)
    {
        if (call.PromptPlaying)
        {
            call.PromptPlaying = false;
            Cel("STREAM_END", call.Transferer);
        }
    }

    private void StartConsultation(AttendedTransferCall call, string context, string exten)
    {
        var transferer = call.Transferer;
        var transferee = call.Transferee;
        if (!Dialplan.Exists(context, exten))
        {
            // No such target: the transferer is back with the transferee.
            _attended.Remove(transferer);
            Hold(transferer, false);
            StopMusicOnHold(transferee);
            return;
        }

        var (one, two) = CreateLocalPair(exten, context, null, null, transferer.LinkedId);
        call.LocalOne = one;
        call.LocalTwo = two;
        SetVariable(one, "TRANSFERERNAME", transferer.Name);
        SetVariable(one, "ATTENDEDTRANSFER", transferer.Name);
        var consultation = CreateBridge(Guid.NewGuid().ToString(), "basic", "", "", createdByAri: false);
        call.Consultation = consultation;
        SetVariable(two, "ATTENDEDTRANSFER", transferer.Name);
        SetVariable(two, "TRANSFERERNAME", transferer.Name);
        two.CallerNum = transferer.CallerNum;
        two.CallerName = transferer.CallerName;
        EmitNewCallerid(two);
        EmitLocalBridge(one, two);
        one.IncomingDial = new DialAttempt { Destination = one, DialString = $"{exten}@{context}", StartedAt = Now, IsConsultation = true };
        StartPbx(two);
        if (one.Gone || transferer.Gone)
        {
            return;
        }

        // The transferer's CDR with the transferee ends here; the transferer gets one of its own.
        CloseCdr(transferee);
        transferer.CdrMerged = false;
        transferer.CdrStartedAt = Now;
        transferer.CdrAnsweredAt = Now;
        transferer.CdrPeer = one.Name;

        one.ConnectedNum = transferer.CallerNum;
        one.ConnectedName = transferer.CallerName;
        ChannelEvent("NewConnectedLine", one);
        EnterBridge(one, consultation);
        LeaveBridgeQuietly(transferer, call.Original);
        EnterBridge(transferer, consultation);
        SetConnectedLine(transferer, one.CallerNum, one.CallerName);
    }

    /// <summary>A channel moved between bridges by the bridging core: BridgeLeave without BRIDGEPEER changes.</summary>
    private void LeaveBridgeQuietly(Channel channel, Bridge bridge)
    {
        bridge.Members.Remove(channel);
        channel.Bridge = null;
        Publish(AmiPrivilege.Call, AddChannel(AddBridge(Event("BridgeLeave", AmiPrivilege.Call), bridge), channel));
        CelBridge("BRIDGE_EXIT", channel, bridge);
        _sim.AriEvents.ChannelLeftBridge(bridge, channel);
    }

    /// <summary>The consultation's <c>;2</c> half is ringing its target: the <c>;1</c> half in the transferer's bridge shows ringing.</summary>
    private void ConsultationRinging(Channel dialler)
    {
        if (dialler is { IsLocalTwo: true, LocalPeer: { IncomingDial: { IsConsultation: true, Finished: false } dial } one } && one.State != ChannelState.Up && !one.Gone)
        {
            SetState(one, ChannelState.Ringing);
            DialEvent("DialState", dial, ("DialStatus", "RINGING"));
        }
    }

    /// <summary>
    /// The transferer hangs up: with the consultation bridged, the two bridges merge, the transfer is
    /// reported and the Local pair is optimised away shortly after; before that, the transfer is dropped.
    /// </summary>
    private void CompleteAttendedTransfer(Channel transferer)
    {
        if (!_attended.Remove(transferer, out var call))
        {
            return;
        }

        var transferee = call.Transferee;
        if (call.Consultation is not { } consultation || call.LocalOne is not { } one || call.LocalTwo is not { } two
            || transferee.Gone || one.Gone || one.Bridge != consultation || transferer.Bridge != consultation)
        {
            call.Abandoned = true;
            return;
        }

        var original = call.Original;
        SetVariable(transferer, "BRIDGEPEER", "");
        StopMusicOnHold(transferee);
        LeaveBridgeQuietly(transferer, consultation);
        var merge = Event("BridgeMerge", AmiPrivilege.Call);
        AddBridge(merge, original, "To");
        AddBridge(merge, consultation, "From");
        Publish(AmiPrivilege.Call, merge);
        LeaveBridgeQuietly(one, consultation);
        EnterBridge(one, original);
        transferee.CdrPeer = one.Name;
        one.CdrMerged = false;
        one.CdrStartedAt = Now;
        one.CdrAnsweredAt = Now;
        SetConnectedLine(one, transferee.CallerNum, transferee.CallerName);

        var message = Event("AttendedTransfer", AmiPrivilege.Call).Add("Result", "Success");
        AddChannel(message, transferer, "OrigTransferer");
        AddBridge(message, original, "Orig");
        AddChannel(message, transferer, "SecondTransferer");
        AddBridge(message, consultation, "Second");
        AddChannel(message, transferee, "Transferee");
        message.Add("IsExternal", "No").Add("DestType", "Bridge").Add("DestBridgeUniqueid", original.Id);
        Publish(AmiPrivilege.Call, message);
        Cel("ATTENDEDTRANSFER", transferer, $"{{\"bridge1_id\":\"{original.Id}\",\"channel2_name\":\"{transferer.Name}\",\"channel2_uniqueid\":\"{transferer.UniqueId}\","
            + $"\"bridge2_id\":\"{consultation.Id}\",\"transferee_channel_name\":\"{transferee.Name}\",\"transferee_channel_uniqueid\":\"{transferee.UniqueId}\","
            + "\"transfer_target_channel_name\":\"N/A\",\"transfer_target_channel_uniqueid\":\"N/A\"}");

        // Connected lines follow the merge: the transferee now talks to the Local pair (no caller id),
        // which chan_local passes to the transferee's own partner as its caller id at hang-up; the
        // target hears the transferee.
        SetConnectedLine(transferee, one.CallerNum, one.CallerName);
        if (transferee.IsLocalTwo && transferee.LocalPeer is { Gone: false } partner)
        {
            partner.PendingCallerId = (one.CallerNum, one.CallerName);
        }

        if (two.OutgoingDial is { Destination: { Gone: false } target })
        {
            SetConnectedLine(target, transferee.CallerNum, transferee.CallerName);
        }

        DestroyBridge(consultation);

        // features.conf xfersound ("beep") plays to the pair's ;1 half in the transferee's bridge;
        // chan_local optimises the pair away once it has played.
        CelStreams(one, "beep");
        Schedule(LocalOptimisationDelay, () => OptimiseConsultation(transferee, one, two, original));
    }

    /// <summary>chan_local takes the consultation pair out: the transferee replaces <c>;2</c> in the target's bridge and the pair hangs up.</summary>
    private void OptimiseConsultation(Channel transferee, Channel one, Channel two, Bridge original)
    {
        if (transferee.Gone || one.Gone || two.Gone || one.Bridge != original || transferee.Bridge != original || two.Bridge is not { } target)
        {
            return;
        }

        var begin = Event("LocalOptimizationBegin", AmiPrivilege.Call);
        AddChannel(begin, one, "LocalOne");
        AddChannel(begin, two, "LocalTwo");
        AddChannel(begin, transferee, "Source");
        begin.Add("DestUniqueId", two.UniqueId).Add("Id", "0");
        Publish(AmiPrivilege.Call, begin);
        var localTwo = $"{{\"local_two\":\"{two.Name}\",\"local_two_uniqueid\":\"{two.UniqueId}\"}}";
        Cel("LOCAL_OPTIMIZE_BEGIN", one, localTwo);
        LeaveBridgeQuietly(transferee, original);
        SetVariable(two, "BRIDGEPEER", "");
        if (two.PendingCallerId is { } callerId)
        {
            two.PendingCallerId = null;
            (two.CallerNum, two.CallerName) = callerId;
            EmitNewCallerid(two);
            _sim.AriEvents.ChannelCallerId(two);
        }

        LeaveBridgeQuietly(two, target);
        CloseCdr(transferee);
        EnterBridge(transferee, target, swapFor: two);
        target.CelPeersHidden = true;
        Cel("LOCAL_OPTIMIZE", one, localTwo);
        transferee.CdrPeer = target.Members.FirstOrDefault(m => m != transferee)?.Name ?? "";
        SetVariable(one, "BRIDGEPEER", "");
        var end = Event("LocalOptimizationEnd", AmiPrivilege.Call);
        AddChannel(end, one, "LocalOne");
        AddChannel(end, two, "LocalTwo");
        end.Add("Success", "No").Add("Id", "0");
        Publish(AmiPrivilege.Call, end);

        // ;2's Dial lost its bridge: it returns ANSWER and the pair hangs up.
        if (two.OutgoingDial is { } dial)
        {
            SetDialEndVariables(two, dial);
            SetVariable(two, "DIALSTATUS", "ANSWER");
            two.OutgoingDial = null;
        }

        HangupFromPbx(two, 16);
    }
}
