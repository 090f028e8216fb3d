using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>Redirect, blind and attended transfer, DTMF played to a channel, hold.</summary>
internal sealed partial class PbxModel
{
    private readonly Dictionary<Channel, (Bridge Original, Channel Transferee, DialAttempt Consultation)> _attended = [];

    /// <summary>AMI Redirect: the channel leaves its bridge or dial and continues at context/exten/priority.</summary>
    internal void Redirect(Channel channel, string context, string exten, int priority)
    {
        if (channel.OutgoingDial is { AnsweredAt: not null } && channel.InPbx && channel.Bridge is { CreatedByAri: false, Members.Count: 2 } dialBridge)
        {
            // Out of a Dial bridge (as recorded in redirect): an async goto like a blind transfer's.
            // BRIDGEPEER is cleared first, the new location is published naming the old Dial, the
            // bridge is left and the other party hung up, Dial returns ANSWER, the dialplan goes on.
            SetVariable(channel, "BRIDGEPEER", "");
            LeaveDialBridgeForGoto(channel, dialBridge, (context, exten, priority), peerCleared: true, continuePbx: false);
            AfterBridgeMemberLeft(dialBridge);
            if (channel.InPbx && !channel.Gone && !channel.Ending)
            {
                ContinuePbx(channel);
            }

            return;
        }

        channel.Generation++;
        if (channel.OutgoingDial is { Finished: false } dial)
        {
            dial.Finished = true;
            DialEvent("DialEnd", dial, ("DialStatus", "CANCEL"));
            Teardown(dial.Destination, 16);
        }

        channel.OutgoingDial = null;
        if (channel.Bridge is { } bridge)
        {
            LeaveBridge(channel, bridge);
            AfterBridgeMemberLeft(bridge);
        }

        StopMusicOnHold(channel);
        channel.Context = context;
        channel.Exten = exten;
        channel.Priority = priority;
        Defer(() =>
        {
            if (!channel.Gone && !channel.Ending)
            {
                StartPbx(channel);
            }
        });
    }

    /// <summary>BlindTransfer: the party bridged with <paramref name="transferer"/> is sent to exten@context; the transferer hangs up.</summary>
    internal bool BlindTransfer(Channel transferer, string context, string exten)
    {
        if (transferer.Bridge is not { } bridge || FarEnd(transferer) is not { } transferee)
        {
            return false;
        }

        // As recorded: the transferer is taken off hold, both ends learn who transferred whom, then
        // the transferer hangs up and the transferee's Dial returns and it goes to exten@context.
        Hold(transferer, false);
        SetVariable(transferee, "BLINDTRANSFER", transferer.Name);
        SetVariable(transferer, "BLINDTRANSFER", transferee.Name);
        var message = Event("BlindTransfer", AmiPrivilege.Call).Add("Result", "Success");
        AddChannel(message, transferer, "Transferer");
        AddChannel(message, transferee, "Transferee");
        AddBridge(message, bridge).Add("IsExternal", "Yes").Add("Context", context).Add("Extension", exten);
        Publish(AmiPrivilege.Call, message);
        if (transferee.OutgoingDial is not null)
        {
            transferee.PendingGoto = (context, exten, 1);
            Teardown(transferer, 16);
            return true;
        }

        Teardown(transferer, 16);
        if (!transferee.Gone)
        {
            Redirect(transferee, context, exten, 1);
        }

        return true;
    }

    /// <summary>Atxfer: the transferee is held with music, the transferer consults exten@context; hanging up completes the transfer.</summary>
    internal void AttendedTransfer(Channel transferer, string context, string exten)
    {
        if (transferer.Bridge is not { } original || FarEnd(transferer) is not { } transferee || !Dialplan.Exists(context, exten))
        {
            return;
        }

        ChannelEvent("Hold", transferer);
        StartMusicOnHold(transferee, "default");
        var (one, two) = CreateLocalPair(exten, context, null, null, transferer.LinkedId);
        one.CallerNum = transferer.CallerNum;
        one.CallerName = transferer.CallerName;
        two.CallerNum = transferer.CallerNum;
        two.CallerName = transferer.CallerName;
        EmitLocalBridge(one, two);
        var dial = new DialAttempt { Caller = transferer, Destination = one, DialString = $"{exten}@{context}", StartedAt = Now, Options = "" };
        one.IncomingDial = dial;
        _attended[transferer] = (original, transferee, dial);
        DialEvent("DialBegin", dial, ("DialString", dial.DialString));
        StartPbx(two);
    }

    /// <summary>When the consultation call answers, transferer and target talk in their own bridge.</summary>
    private bool AnswerConsultation(DialAttempt dial)
    {
        if (dial.Caller is not { } transferer || !_attended.TryGetValue(transferer, out var pending) || pending.Consultation != dial)
        {
            return false;
        }

        dial.Finished = true;
        DialEvent("DialEnd", dial, ("DialStatus", "ANSWER"));
        var consultation = CreateBridge(Guid.NewGuid().ToString(), "basic", "", "", createdByAri: false);
        transferer.Bridge = null;
        pending.Original.Members.Remove(transferer);
        EnterBridge(dial.Destination, consultation);
        EnterBridge(transferer, consultation);
        return true;
    }

    /// <summary>The transferer hung up during a consultation: the transferee joins the target.</summary>
    private void CompleteAttendedTransfer(Channel transferer)
    {
        if (!_attended.Remove(transferer, out var pending) || pending.Transferee.Gone)
        {
            return;
        }

        var target = pending.Consultation.Destination;
        if (target.Bridge is not { } consultation || target.Gone)
        {
            return;
        }

        StopMusicOnHold(pending.Transferee);
        var message = Event("AttendedTransfer", AmiPrivilege.Call).Add("Result", "Success");
        AddChannel(message, transferer, "OrigTransferer");
        AddBridge(message, pending.Original, "Orig");
        AddChannel(message, transferer, "SecondTransferer");
        AddBridge(message, consultation, "Second");
        AddChannel(message, pending.Transferee, "Transferee");
        message.Add("IsExternal", "Yes").Add("DestType", "Bridge").Add("DestBridgeUniqueid", consultation.Id);
        Publish(AmiPrivilege.Call, message);
        LeaveBridge(pending.Transferee, pending.Original);
        DestroyBridge(pending.Original);
        EnterBridge(pending.Transferee, consultation);
    }

    /// <summary>PlayDTMF: the digit is played to the channel, so its Local partner receives it (a phone just hears it).</summary>
    internal void PlayDtmfTo(Channel channel, char digit, int durationMs)
    {
        var target = channel.LocalPeer ?? channel;
        if (target.Gone)
        {
            return;
        }

        var direction = channel.LocalPeer is null ? "Sent" : "Received";
        DtmfEvent(target, digit.ToString(), begin: true, direction);
        DtmfEvent(target, digit.ToString(), begin: false, direction, durationMs);
    }

    internal void Hold(Channel channel, bool on)
    {
        channel.OnHold = on;
        ChannelEvent(on ? "Hold" : "Unhold", channel);
    }
}
