using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>The Dial application, bridges, MixMonitor and ChanSpy.</summary>
internal sealed partial class PbxModel
{
    private static readonly string[] DialVariables =
    [
        "DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS",
        "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS",
    ];

    private readonly Dictionary<Channel, List<(string File, DateTimeOffset Started)>> _mixMonitors = [];
    private readonly List<(Channel Spyer, Channel Spyee)> _spies = [];

    /// <summary>Dial(Local/x@ctx[&amp;...],timeout,options): only the first destination is dialled.</summary>
    private bool StartDialApp(Channel caller, string data)
    {
        var args = Dialplan.SplitArgs(data);
        var target = args[0].Split('&')[0];
        var timeout = args.Count > 1 && int.TryParse(args[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 0;
        var options = args.Count > 2 ? args[2] : "";
        foreach (var name in DialVariables)
        {
            SetVariable(caller, name, "");
        }

        Channel destination;
        string dialString;
        if (TryParseLocal(target, out var exten, out var context))
        {
            var (one, two) = CreateLocalPair(exten, context, null, null, caller.LinkedId);
            dialString = $"{exten}@{context}";
            SetVariable(one, "DIALEDPEERNUMBER", dialString);
            // app_dial gives the outbound leg the dialled extension as its number and the caller's
            // connected name (as recorded: a consultation's ;2 with no connected line gives no name).
            one.Exten = caller.Exten;
            one.CallerNum = caller.Exten;
            one.CallerName = caller.ConnectedName;
            one.ConnectedNum = caller.CallerNum;
            one.ConnectedName = caller.CallerName;
            EmitNewexten(one, "AppDial", "(Outgoing Line)");
            EmitNewCallerid(one);
            ChannelEvent("NewConnectedLine", one);
            SetVariable(two, "DIALEDPEERNUMBER", dialString);
            two.CallerNum = caller.CallerNum;
            two.CallerName = caller.CallerName;
            two.ConnectedNum = caller.Exten;
            two.ConnectedName = caller.ConnectedName;
            EmitNewCallerid(two);
            ChannelEvent("NewConnectedLine", two);
            EmitLocalBridge(one, two);
            destination = one;
            var dial = new DialAttempt { Caller = caller, Destination = one, DialString = dialString, StartedAt = Now, Options = options };
            one.IncomingDial = dial;
            one.CdrMerged = true;
            caller.OutgoingDial = dial;
            caller.CdrPeer = one.Name;
            DialEvent("DialBegin", dial, ("DialString", dialString));
            _sim.AriEvents.Dial(dial, "");
            ArmDialTimeout(dial, timeout);
            StartPbx(two);
            return true;
        }

        if (target.StartsWith("PJSIP/", StringComparison.OrdinalIgnoreCase) && _sim.Endpoints.TryDial(this, caller, target[6..], out destination))
        {
            dialString = target[6..];
            var dial = new DialAttempt { Caller = caller, Destination = destination, DialString = dialString, StartedAt = Now, Options = options };
            destination.IncomingDial = dial;
            destination.CdrMerged = true;
            caller.OutgoingDial = dial;
            caller.CdrPeer = destination.Name;
            DialEvent("DialBegin", dial, ("DialString", dialString));
            _sim.AriEvents.Dial(dial, "");
            ArmDialTimeout(dial, timeout);
            _sim.Endpoints.Ring(this, destination);
            return true;
        }

        SetVariable(caller, "DIALSTATUS", "CHANUNAVAIL");
        return false;
    }

    private void ArmDialTimeout(DialAttempt dial, int seconds)
    {
        if (seconds <= 0)
        {
            return;
        }

        Schedule(TimeSpan.FromSeconds(seconds), () =>
        {
            if (!dial.Finished && dial.AnsweredAt is null)
            {
                FailDial(dial, 19, hangUpDestination: true);
            }
        });
    }

    /// <summary>The dialled side answered a Dial: the caller learns the outcome, hears nothing until the callee's announcement ends, then both are bridged.</summary>
    private void AnswerDialApp(DialAttempt dial)
    {
        if (dial.Queue is not null)
        {
            AnswerQueueDial(dial);
            return;
        }

        var caller = dial.Caller!;
        SetVariable(caller, "DIALSTATUS", "ANSWER");
        SetVariable(caller, "DIALEDPEERNAME", dial.Destination.Name);
        SetVariable(caller, "DIALEDPEERNUMBER", dial.DialString);
        var announce = AnnouncementOf(dial.Options);
        if (announce is not null)
        {
            CelStreams(dial.Destination, announce);
        }

        Schedule(announce is null ? TimeSpan.Zero : Sounds.Length(announce), () =>
        {
            if (dial.Finished || caller.Gone || dial.Destination.Gone)
            {
                return;
            }

            dial.Finished = true;
            // app_dial moves the answered callee out of its dialplan location before bridging.
            dial.Destination.Exten = "";
            DialEvent("DialEnd", dial, ("DialStatus", "ANSWER"));
            AriDialStatus(dial, "ANSWER");
            var bridge = CreateBridge(Guid.NewGuid().ToString(), "basic", "", "", createdByAri: false);
            EmitNewexten(dial.Destination, "AppDial", "(Outgoing Line)");
            EnterBridge(dial.Destination, bridge);
            if (caller.State != ChannelState.Up)
            {
                // Dial answers a caller that was not up yet (a consultation's ;2 half) before bridging it.
                Answer(caller);
            }

            EnterBridge(caller, bridge);
        });
    }

    private static string? AnnouncementOf(string options)
    {
        var at = options.IndexOf("A(", StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var end = options.IndexOf(')', at);
        return end < 0 ? null : options[(at + 2)..end];
    }

    /// <summary>The timing variables app_dial sets when a bridged call ends.</summary>
    private void SetDialEndVariables(Channel caller, DialAttempt dial)
    {
        var ms = (long)(Now - (dial.AnsweredAt ?? Now)).TotalMilliseconds;
        var dialed = (long)(Now - dial.StartedAt).TotalMilliseconds;
        SetVariable(caller, "ANSWEREDTIME", (ms / 1000).ToString(CultureInfo.InvariantCulture));
        SetVariable(caller, "ANSWEREDTIME_MS", ms.ToString(CultureInfo.InvariantCulture));
        SetVariable(caller, "DIALEDTIME", (dialed / 1000).ToString(CultureInfo.InvariantCulture));
        SetVariable(caller, "DIALEDTIME_MS", dialed.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Dial returned: the caller's dialplan goes on (after a failed dial), or it hangs up (the bridged call ended; no 'g').</summary>
    private void DialAppFinished(Channel caller, DialAttempt dial, string status)
    {
        caller.OutgoingDial = null;
        if (caller.Gone || caller.Ending)
        {
            return;
        }

        SetVariable(caller, "DIALSTATUS", status);
        if (dial.AnsweredAt is not null && !dial.Options.Contains('g', StringComparison.Ordinal))
        {
            HangupFromPbx(caller, 16);
            return;
        }

        if (caller.InPbx)
        {
            caller.Priority++;
            Defer(() => ContinuePbx(caller));
        }
    }

    // ----- bridges -----------------------------------------------------------------------------

    internal Bridge CreateBridge(string id, string type, string name, string creator, bool createdByAri, string bridgeClass = "basic", string ariType = "mixing")
    {
        var bridge = new Bridge
        {
            Id = id,
            Type = type,
            AriType = ariType,
            VideoMode = createdByAri ? "talker" : "none",
            BridgeName = name,
            Creator = creator,
            CreatedAt = Now,
            CreatedByAri = createdByAri,
            BridgeClass = bridgeClass,
            Technology = ariType == "holding" ? "holding_bridge" : "simple_bridge",
        };
        Bridges[id] = bridge;
        Publish(AmiPrivilege.Call, AddBridge(Event("BridgeCreate", AmiPrivilege.Call), bridge));
        return bridge;
    }

    internal static AmiMessage AddBridge(AmiMessage message, Bridge bridge, string prefix = "") => message
        .Add(prefix + "BridgeUniqueid", bridge.Id)
        .Add(prefix + "BridgeType", bridge.Type)
        .Add(prefix + "BridgeTechnology", bridge.Technology)
        .Add(prefix + "BridgeCreator", bridge.Creator.Length == 0 ? "<unknown>" : bridge.Creator)
        .Add(prefix + "BridgeName", bridge.BridgeName.Length == 0 ? "<unknown>" : bridge.BridgeName)
        .Add(prefix + "BridgeNumChannels", bridge.Members.Count.ToString(CultureInfo.InvariantCulture))
        .Add(prefix + "BridgeVideoSourceMode", "none");

    internal void EnterBridge(Channel channel, Bridge bridge, Channel? swapFor = null)
    {
        if (channel.Bridge is { } old)
        {
            LeaveBridge(channel, old);
            AfterBridgeMemberLeft(old);
        }

        bridge.Members.Add(channel);
        channel.Bridge = bridge;
        var enter = AddChannel(AddBridge(Event("BridgeEnter", AmiPrivilege.Call), bridge), channel);
        if (swapFor is not null)
        {
            // The channel takes another's place (a Local pair optimised away).
            enter.Add("SwapUniqueid", swapFor.UniqueId);
        }

        Publish(AmiPrivilege.Call, enter);
        CelBridge("BRIDGE_ENTER", channel, bridge);
        _sim.AriEvents.ChannelEnteredBridge(bridge, channel);
        if (channel.Variables.TryGetValue("BLINDTRANSFER", out var transferer) && transferer.Length > 0)
        {
            // A transferred channel forgets who transferred it once it is bridged again.
            SetVariable(channel, "BLINDTRANSFER", "");
        }

        if (channel.Variables.TryGetValue("ATTENDEDTRANSFER", out var attended) && attended.Length > 0)
        {
            SetVariable(channel, "ATTENDEDTRANSFER", "");
        }

        if (bridge.Members.Count == 2 && bridge.AriType != "holding")
        {
            SetVariable(bridge.Members[0], "BRIDGEPEER", bridge.Members[1].Name);
            SetVariable(bridge.Members[1], "BRIDGEPEER", bridge.Members[0].Name);
            if (bridge.CreatedByAri)
            {
                // An ARI mixing bridge updates each party's connected line to the other party.
                // (only where it changes).
                var (a, b) = (bridge.Members[0], bridge.Members[1]);
                var (aNum, aName, bNum, bName) = (a.CallerNum, a.CallerName, b.CallerNum, b.CallerName);
                if (b.ConnectedNum != aNum || b.ConnectedName != aName)
                {
                    SetConnectedLine(b, aNum, aName);
                }

                if (a.ConnectedNum != bNum || a.ConnectedName != bName)
                {
                    SetConnectedLine(a, bNum, bName);
                }
            }
        }
    }

    internal void LeaveBridge(Channel channel, Bridge bridge, bool peerCleared = false)
    {
        if (bridge.CreatedByAri)
        {
            if (channel.Variables.TryGetValue("BRIDGEPEER", out var peer) && peer.Length > 0)
            {
                SetVariable(channel, "BRIDGEPEER", "");
            }
        }
        else if (bridge.Members.Count == 2 && bridge.AriType != "holding")
        {
            if (!peerCleared)
            {
                SetVariable(channel, "BRIDGEPEER", "");
            }

            foreach (var other in bridge.Members.Where(m => m != channel))
            {
                SetVariable(other, "BRIDGEPEER", "");
            }
        }

        bridge.Members.Remove(channel);
        channel.Bridge = null;
        Publish(AmiPrivilege.Call, AddChannel(AddBridge(Event("BridgeLeave", AmiPrivilege.Call), bridge), channel));
        CelBridge("BRIDGE_EXIT", channel, bridge);
        _sim.AriEvents.ChannelLeftBridge(bridge, channel);
        if (bridge.CreatedByAri && bridge.Members.Count == 0)
        {
            // Applications stop following a bridge their channels have left (shortly after, as recorded:
            // a DELETE right behind the last leave still gets BridgeDestroyed, a later one does not).
            Schedule(TimeSpan.FromMilliseconds(500), () =>
            {
                if (bridge.Members.Count == 0)
                {
                    bridge.AriApps.Clear();
                }
            });
        }
    }

    /// <summary>A basic (Dial) bridge ends when a party leaves: the other party's Dial returns.</summary>
    private void AfterBridgeMemberLeft(Bridge bridge)
    {
        if (bridge.CreatedByAri || !Bridges.ContainsKey(bridge.Id) || bridge.Members.Count > 1)
        {
            return;
        }

        foreach (var remaining in bridge.Members.ToList())
        {
            if (remaining.PendingGoto is { } target && remaining.OutgoingDial is not null)
            {
                LeaveDialBridgeForGoto(remaining, bridge, target);
                continue;
            }

            if (remaining.QueueEntry is { Connected: not null })
            {
                QueueCallerBridgeEnded(remaining, bridge);
                continue;
            }

            LeaveBridge(remaining, bridge);
            if (remaining.OutgoingDial is { } dial)
            {
                SetDialEndVariables(remaining, dial);
                DialAppFinished(remaining, dial, "ANSWER");
            }
            else if (!remaining.Ending)
            {
                Teardown(remaining, 16);
            }
        }

        DestroyBridge(bridge);
    }

    /// <summary>
    /// A transferred caller leaves its Dial's bridge: the new location is published with the old
    /// application, the Dial returns ANSWER without its timing variables, the CDR so far is closed and
    /// the dialplan goes on at the new location. <paramref name="peerCleared"/>: a Redirect (BRIDGEPEER
    /// already cleared, the CDR closed at the new location); <paramref name="continuePbx"/> false: the
    /// caller goes on once the other party is gone.
    /// </summary>
    private void LeaveDialBridgeForGoto(Channel channel, Bridge bridge, (string Context, string Exten, int Priority) target, bool peerCleared = false, bool continuePbx = true)
    {
        channel.PendingGoto = null;

        // A blind transfer closes the CDR at the old location; a Redirect once the channel has moved (as recorded).
        if (!peerCleared)
        {
            CloseCdr(channel);
        }

        (channel.Context, channel.Exten, channel.Priority) = target;
        if (peerCleared)
        {
            CloseCdr(channel);
        }

        ChannelEvent("Newexten", channel, AmiPrivilege.Dialplan, ("Extension", channel.Exten), ("Application", channel.Application), ("AppData", channel.AppData));
        _sim.AriEvents.ChannelDialplan(channel);
        channel.LocationPublished = true;
        LeaveBridge(channel, bridge, peerCleared);
        channel.OutgoingDial = null;
        SetVariable(channel, "DIALSTATUS", "ANSWER");
        channel.Generation++;
        if (channel.InPbx && continuePbx)
        {
            ContinuePbx(channel);
        }
    }

    internal void DestroyBridge(Bridge bridge)
    {
        if (!Bridges.Remove(bridge.Id))
        {
            return;
        }

        StopRecordingsOf(bridge, null);

        foreach (var member in bridge.Members.ToList())
        {
            LeaveBridge(member, bridge);
        }

        Publish(AmiPrivilege.Call, AddBridge(Event("BridgeDestroy", AmiPrivilege.Call), bridge));
        _sim.AriEvents.BridgeDestroyed(bridge);
    }

    // ----- recordings and spying -----------------------------------------------------------------

    internal string RecordingDirectory =>
        _sim.Options.RecordingDirectory ?? Path.Combine(Path.GetTempPath(), "pbxsim-recordings");

    internal void StartMixMonitor(Channel channel, string file)
    {
        var path = Path.IsPathRooted(file) ? file : Path.Combine(RecordingDirectory, file);
        if (!_mixMonitors.TryGetValue(channel, out var list))
        {
            _mixMonitors[channel] = list = [];
        }

        list.Add((path, Now));

        // The audiohook attaching to a bridged channel makes its two-party bridge announce BRIDGEPEER again (as recorded in queue-call).
        if (channel.Bridge is { Members.Count: 2, CreatedByAri: false } bridge)
        {
            SetBridgePeers(bridge);
        }

        ChannelEvent("MixMonitorStart", channel);
    }

    /// <summary>Stops every MixMonitor on the channel and writes each as a WAV file of silence of the recorded length.</summary>
    internal bool StopMixMonitors(Channel channel)
    {
        if (!_mixMonitors.Remove(channel, out var list))
        {
            return false;
        }

        foreach (var (file, started) in list)
        {
            WavFile.WriteSilence(file, Now - started);
        }

        ChannelEvent("MixMonitorStop", channel);
        if (!channel.Ending && channel.Bridge is { Members.Count: 2, CreatedByAri: false } bridge)
        {
            // The audiohook detaches at the next media frame; the bridge then announces BRIDGEPEER again.
            Schedule(TimeSpan.FromMilliseconds(16), () =>
            {
                if (channel.Bridge == bridge && bridge.Members.Count == 2 && !channel.Ending)
                {
                    SetBridgePeers(bridge);
                }
            });
        }

        return true;
    }

    /// <summary>ChanSpy(Local/agent1@agents-,qEb): the spyer listens to the first channel whose name starts with the prefix.</summary>
    private void StartChanSpy(Channel spyer, string data)
    {
        var prefix = Dialplan.SplitArgs(data)[0];
        var spyee = Channels.Values.OrderBy(c => c.Sequence).FirstOrDefault(c => c != spyer && c.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));
        if (spyee is null)
        {
            return;
        }

        _spies.Add((spyer, spyee));
        var message = Event("ChanSpyStart", AmiPrivilege.Call);
        AddChannel(message, spyer, "Spyer");
        AddChannel(message, spyee, "Spyee");
        Publish(AmiPrivilege.Call, message);
        RefreshBridgePeers(spyee);
    }

    /// <summary>Attaching or detaching a spy makes the spied bridge set BRIDGEPEER again (as recorded).</summary>
    private void RefreshBridgePeers(Channel spyee)
    {
        if (spyee.Bridge is { Members.Count: 2 } bridge && !spyee.Gone)
        {
            SetBridgePeers(bridge);
        }
    }

    /// <summary>Each of the two members' BRIDGEPEER: the bridge's helper channels (a recorder), then the other member.</summary>
    internal void SetBridgePeers(Bridge bridge)
    {
        if (bridge.Members.Count != 2)
        {
            return;
        }

        foreach (var member in bridge.Members.ToList())
        {
            SetVariable(member, "BRIDGEPEER", string.Join(',', bridge.Helpers.Append(bridge.Members.First(m => m != member).Name)));
        }
    }

    internal void StopChanSpy(Channel channel)
    {
        foreach (var pair in _spies.Where(p => p.Spyer == channel || p.Spyee == channel).ToList())
        {
            _spies.Remove(pair);
            var message = Event("ChanSpyStop", AmiPrivilege.Call);
            AddChannel(message, pair.Spyer, "Spyer");
            AddChannel(message, pair.Spyee, "Spyee");
            Publish(AmiPrivilege.Call, message);
            if (pair.Spyer == channel)
            {
                RefreshBridgePeers(pair.Spyee);
            }
        }
    }
}
