using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>Redirect, blind and attended transfer, DTMF played to a channel, hold.</summary>
internal sealed partial class PbxModel
{
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
        Cel("BLINDTRANSFER", transferer, $"{{\"extension\":\"{exten}\",\"context\":\"{context}\",\"bridge_id\":\"{bridge.Id}\",\"transferee_channel_name\":\"{transferee.Name}\",\"transferee_channel_uniqueid\":\"{transferee.UniqueId}\"}}");
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
