using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>
/// Channel Event Logging as cel_manager publishes it (<c>Event: CEL</c>), for the event types and
/// applications the recording instance logged (cel.conf <c>events = ALL</c>,
/// <c>apps = dial,queue,stasis,playback,chanspy,mixmonitor</c>). CEL takes its own snapshot of the
/// channel: caller id parts as they are (empty, not <c>&lt;unknown&gt;</c>), the ANI an Originate set,
/// and as application the one running now, else the one the channel was created for (a dialled
/// channel's <c>AppDial</c>/<c>AppDial2</c>/<c>AppQueue</c>, empty for a channel that runs dialplan).
/// </summary>
internal sealed partial class PbxModel
{
    /// <summary>cel.conf <c>apps</c>: the applications whose start and end are logged.</summary>
    private static readonly HashSet<string> CelApplications = new(StringComparer.OrdinalIgnoreCase)
    {
        "Dial", "Queue", "Stasis", "Playback", "ChanSpy", "MixMonitor",
    };

    /// <summary>The dial outcomes cel.c keeps for a caller's HANGUP record (is_valid_dialstatus).</summary>
    private static readonly HashSet<string> CelDialStatuses = new(StringComparer.OrdinalIgnoreCase)
    {
        "CHANUNAVAIL", "CONGESTION", "NOANSWER", "BUSY", "ANSWER", "CANCEL", "DONTCALL", "TORTURE", "INVALIDARGS",
    };

    private bool CelEnabled => _sim.Options.Cel;

    /// <summary>Publishes one CEL event for <paramref name="channel"/> with its CEL snapshot.</summary>
    internal void Cel(string eventName, Channel channel, string extra = "", string peer = "")
    {
        if (!CelEnabled)
        {
            return;
        }

        var (application, data) = channel.CelRunning ?? channel.CelBase;
        Publish(AmiPrivilege.Call, Event("CEL", AmiPrivilege.Call)
            .Add("EventName", eventName)
            .Add("AccountCode", channel.AccountCode)
            .Add("CallerIDnum", channel.CallerNum)
            .Add("CallerIDname", channel.CallerName)
            .Add("CallerIDani", channel.CallerAni)
            .Add("CallerIDrdnis", "")
            .Add("CallerIDdnid", "")
            .Add("Exten", channel.Exten)
            .Add("Context", channel.Context)
            .Add("Channel", channel.Name)
            .Add("Application", application)
            .Add("AppData", data)
            .Add("EventTime", Now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))
            .Add("AMAFlags", "DOCUMENTATION")
            .Add("UniqueID", channel.UniqueId)
            .Add("LinkedID", channel.LinkedId)
            .Add("Userfield", "")
            .Add("Peer", peer)
            .Add("PeerAccount", "")
            .Add("Extra", extra));
    }

    /// <summary>
    /// A dialplan (or originate) application starts on the channel. CEL sees applications through the
    /// channel's snapshots and logs APP_END / APP_START only when the application's name changes (a
    /// Dial after a Dial, as a blind transfer's goto does, is not logged again; its data just changes).
    /// </summary>
    private void CelApplicationStarts(Channel channel, string application, string data)
    {
        if (channel.CelRunning is { } running && running.Application == application)
        {
            channel.CelRunning = (application, data);
            return;
        }

        CelApplicationEnds(channel);
        channel.CelRunning = (application, data);
        if (CelApplications.Contains(application))
        {
            Cel("APP_START", channel);
        }
    }

    /// <summary>The running application returned (or was cut short by the hang-up): APP_END if logged.</summary>
    private void CelApplicationEnds(Channel channel)
    {
        if (channel.CelRunning is { } running)
        {
            if (CelApplications.Contains(running.Application))
            {
                Cel("APP_END", channel);
            }

            channel.CelRunning = null;
        }
    }

    /// <summary>HANGUP, CHAN_END and, for the last channel of its linked id, LINKEDID_END (the channel is already forgotten).</summary>
    private void CelChannelEnds(Channel channel, int cause)
    {
        if (!CelEnabled)
        {
            return;
        }

        CelApplicationEnds(channel);
        Cel("HANGUP", channel, string.Create(CultureInfo.InvariantCulture,
            $"{{\"hangupcause\":{cause},\"hangupsource\":\"{(channel.HungUpByDialplan ? "dialplan/builtin" : "")}\",\"dialstatus\":\"{channel.CelDialStatus}\"}}"));
        Cel("CHAN_END", channel);
        if (!Channels.Values.Any(c => c.LinkedId == channel.LinkedId))
        {
            Cel("LINKEDID_END", channel);
        }
    }

    /// <summary>
    /// STREAM_BEGIN / STREAM_END for each file of an <c>&amp;</c>-list played on the channel, at the
    /// times the sound catalogue gives; a new playback or the hang-up stops the rest.
    /// </summary>
    private void CelStreams(Channel channel, string files)
    {
        if (!CelEnabled)
        {
            return;
        }

        var token = ++channel.CelStreamToken;
        var at = TimeSpan.Zero;
        var first = true;
        foreach (var file in files.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var extra = $"{{\"sound\":\"{file}\",\"format\":\"gsm\",\"language\":\"{channel.Language}\"}}";
            if (first)
            {
                Cel("STREAM_BEGIN", channel, extra);
                first = false;
            }
            else
            {
                Schedule(at, () =>
                {
                    if (!channel.Gone && channel.CelStreamToken == token)
                    {
                        Cel("STREAM_BEGIN", channel, extra);
                    }
                });
            }

            at += Sounds.Length(file);
            Schedule(at, () =>
            {
                if (!channel.Gone && channel.CelStreamToken == token)
                {
                    Cel("STREAM_END", channel);
                }
            });
        }
    }

    /// <summary>Music on hold is a stream too: STREAM_BEGIN with the class, STREAM_END when it stops.</summary>
    private void CelMusicOnHold(Channel channel, string? mohClass) =>
        Cel(mohClass is null ? "STREAM_END" : "STREAM_BEGIN", channel, mohClass is null ? "" : $"{{\"class\":\"{mohClass}\"}}");

    /// <summary>BRIDGE_ENTER / BRIDGE_EXIT: the peer is every other channel in the bridge at that moment.</summary>
    private void CelBridge(string eventName, Channel channel, Bridge bridge)
    {
        if (!CelEnabled)
        {
            return;
        }

        // After a Local optimisation swapped a channel in, the recording shows the bridge's last
        // exits without peers (attended-transfer: both leave with an empty Peer).
        var peers = eventName == "BRIDGE_EXIT" && bridge.CelPeersHidden ? "" : string.Join(',', bridge.Members.Where(m => m != channel).Select(m => m.Name));
        Cel(eventName, channel, $"{{\"bridge_id\":\"{bridge.Id}\",\"bridge_technology\":\"{bridge.Technology}\"}}", peers);
    }
}
