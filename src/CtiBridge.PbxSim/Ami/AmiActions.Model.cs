using System.Globalization;
using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim.Ami;

/// <summary>AMI actions on the call model, with Asterisk's checks and wording.</summary>
internal sealed partial class AmiActions
{
    private PbxModel Model => _sim.Model;

    private void RegisterModelActions()
    {
        Register("Originate", AmiPrivilege.Originate, OriginateAsync);
        Register("Hangup", AmiPrivilege.System | AmiPrivilege.Call, Hangup);
        Register("Setvar", AmiPrivilege.Call, Setvar);
        Register("Getvar", AmiPrivilege.Call | AmiPrivilege.Reporting, Getvar);
        Register("Redirect", AmiPrivilege.Call, Redirect);
        Register("BlindTransfer", AmiPrivilege.Call, BlindTransfer);
        Register("Atxfer", AmiPrivilege.Call, Atxfer);
        Register("PlayDTMF", AmiPrivilege.Call, PlayDtmfAsync);
        Register("MixMonitor", AmiPrivilege.System | AmiPrivilege.Call, MixMonitor);
        Register("StopMixMonitor", AmiPrivilege.System | AmiPrivilege.Call, StopMixMonitor);
        Register("CoreShowChannels", AmiPrivilege.System | AmiPrivilege.Reporting, CoreShowChannels);
        Register("Status", AmiPrivilege.System | AmiPrivilege.Call | AmiPrivilege.Reporting, Status);
        Register("DeviceStateList", AmiPrivilege.Call | AmiPrivilege.Reporting, DeviceStateList);
        Register("ExtensionState", AmiPrivilege.Call | AmiPrivilege.Reporting, ExtensionState);
        Register("ExtensionStateList", AmiPrivilege.Call | AmiPrivilege.Reporting, ExtensionStateList);
        Register("BridgeList", AmiPrivilege.Reporting, BridgeList);
        Register("QueueStatus", AmiPrivilege.None, QueueStatus);
        Register("QueueSummary", AmiPrivilege.None, QueueSummary);
        Register("QueueAdd", AmiPrivilege.Agent, QueueAdd);
        Register("QueueRemove", AmiPrivilege.Agent, QueueRemove);
        Register("QueuePause", AmiPrivilege.Agent, QueuePause);
        Register("QueuePenalty", AmiPrivilege.Agent, QueuePenalty);
        Register("QueueMemberRingInUse", AmiPrivilege.Agent, QueueMemberRingInUse);
        Register("QueueLog", AmiPrivilege.Agent, QueueLog);
    }

    /// <summary>Runs a model operation under the lock and lets deferred work (other "threads") run after it.</summary>
    private void WithModel(Action action)
    {
        lock (_sim.Gate)
        {
            action();
            Model.Settle();
        }
    }

    private static bool IsTrue(string? value) => value is not null && (value.Equals("true", StringComparison.OrdinalIgnoreCase) ||
        value.Equals("yes", StringComparison.OrdinalIgnoreCase) || value == "1" || value.Equals("on", StringComparison.OrdinalIgnoreCase));

    /// <summary>Splits <c>"Name" &lt;number&gt;</c>, <c>Name &lt;number&gt;</c> or a bare number.</summary>
    internal static (string? Number, string? Name) ParseCallerId(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, null);
        }

        var open = text.LastIndexOf('<');
        var close = text.LastIndexOf('>');
        if (open >= 0 && close > open)
        {
            var name = text[..open].Trim().Trim('"');
            return (text[(open + 1)..close].Trim(), name);
        }

        return (text.Trim(), "");
    }

    private async Task OriginateAsync(AmiSession session, AmiMessage action, string? actionId, CancellationToken cancellationToken)
    {
        var channelText = action["Channel"];
        if (string.IsNullOrEmpty(channelText))
        {
            session.Send(Error(actionId, "Channel not specified"));
            return;
        }

        var priorityText = action["Priority"];
        var priority = 1;
        if (!string.IsNullOrEmpty(priorityText) && !int.TryParse(priorityText, NumberStyles.Integer, CultureInfo.InvariantCulture, out priority))
        {
            session.Send(Error(actionId, "Invalid priority"));
            return;
        }

        var timeoutText = action["Timeout"];
        var timeoutMs = 30000;
        if (!string.IsNullOrEmpty(timeoutText) && (!int.TryParse(timeoutText, NumberStyles.Integer, CultureInfo.InvariantCulture, out timeoutMs) || timeoutMs < 0))
        {
            session.Send(Error(actionId, "Invalid timeout"));
            return;
        }

        var variables = new List<KeyValuePair<string, string>>();
        foreach (var variable in action.All("Variable"))
        {
            var equals = variable.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                variables.Add(new(variable[..equals], variable[(equals + 1)..]));
            }
        }

        var (number, name) = ParseCallerId(action["CallerID"]);
        var request = new OriginateRequest
        {
            ChannelText = channelText,
            ActionId = actionId,
            Application = action["Application"],
            Data = action["Data"],
            Context = action["Context"],
            Exten = action["Exten"],
            Priority = priority,
            Async = IsTrue(action["Async"]),
        };
        var started = false;
        lock (_sim.Gate)
        {
            if (request.Async)
            {
                session.Send(Success(actionId, "Originate successfully queued"));
            }

            started = Model.Originate(request, variables, number, name, action["ChannelId"], action["OtherChannelId"], TimeSpan.FromMilliseconds(timeoutMs));
            if (!started && request.Async)
            {
                Model.Publish(AmiPrivilege.Call, PbxModel.Event("OriginateResponse", AmiPrivilege.Call).AddIfPresent("ActionID", actionId)
                    .Add("Response", "Failure").Add("Channel", channelText)
                    .Add(request.Application is { Length: > 0 } ? "Application" : "Context", request.Application is { Length: > 0 } app ? app : request.Context ?? "")
                    .Add(request.Application is { Length: > 0 } ? "Data" : "Exten", request.Application is { Length: > 0 } ? request.Data ?? "" : request.Exten ?? "")
                    .Add("Reason", "0").Add("Uniqueid", "<unknown>").Add("CallerIDNum", number is { Length: > 0 } ? number : "<unknown>")
                    .Add("CallerIDName", name is { Length: > 0 } ? name : "<unknown>"));
            }

            Model.Settle();
        }

        if (request.Async)
        {
            return;
        }

        var reason = started ? await request.Outcome.Task.WaitAsync(cancellationToken) : 0;
        session.Send(reason == 4 ? Success(actionId, "Originate successfully queued") : Error(actionId, "Originate failed"));
    }

    private void Hangup(AmiSession session, AmiMessage action, string? actionId)
    {
        int? cause = int.TryParse(action["Cause"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) ? c : null;
        WithChannel(session, action, actionId, channel =>
        {
            session.Send(Success(actionId, "Channel Hungup"));
            Model.HangupByRequest(channel, cause);
        });
    }

    // Hangup, MixMonitor and StopMixMonitor check the Channel field and find the channel alike, with Asterisk's wording.
    private void WithChannel(AmiSession session, AmiMessage action, string? actionId, Action<Channel> act)
    {
        var name = action["Channel"];
        if (string.IsNullOrEmpty(name))
        {
            session.Send(Error(actionId, "No channel specified"));
            return;
        }

        WithModel(() =>
        {
            var channel = Model.FindChannel(name);
            if (channel is null)
            {
                session.Send(Error(actionId, "No such channel"));
                return;
            }

            act(channel);
        });
    }

    private void Setvar(AmiSession session, AmiMessage action, string? actionId)
    {
        var variable = action["Variable"];
        if (string.IsNullOrEmpty(variable))
        {
            session.Send(Error(actionId, "No variable specified"));
            return;
        }

        var value = action["Value"] ?? "";
        var name = action["Channel"];
        WithModel(() =>
        {
            Channel? channel = null;
            if (!string.IsNullOrEmpty(name) && (channel = Model.FindChannel(name)) is null)
            {
                session.Send(Error(actionId, "Channel not found"));
                return;
            }

            session.Send(Success(actionId, "Variable Set"));
            Model.SetVariable(channel, variable, value);
        });
    }

    private void Getvar(AmiSession session, AmiMessage action, string? actionId)
    {
        var variable = action["Variable"];
        if (string.IsNullOrEmpty(variable))
        {
            session.Send(Error(actionId, "No variable specified"));
            return;
        }

        var name = action["Channel"];
        WithModel(() =>
        {
            Channel? channel = null;
            if (!string.IsNullOrEmpty(name) && (channel = Model.FindChannel(name)) is null)
            {
                session.Send(Error(actionId, "No such channel"));
                return;
            }

            session.Send(Success(actionId).Add("Variable", variable).Add("Value", Model.ReadVariable(channel, variable)));
        });
    }

    private void Redirect(AmiSession session, AmiMessage action, string? actionId)
    {
        var name = action["Channel"];
        if (string.IsNullOrEmpty(name))
        {
            session.Send(Error(actionId, "Channel not specified"));
            return;
        }

        var priorityText = action["Priority"];
        var priority = 1;
        if (!string.IsNullOrEmpty(priorityText) && !int.TryParse(priorityText, NumberStyles.Integer, CultureInfo.InvariantCulture, out priority))
        {
            session.Send(Error(actionId, "Invalid priority"));
            return;
        }

        WithModel(() =>
        {
            var channel = Model.FindChannel(name);
            if (channel is null)
            {
                session.Send(Error(actionId, $"Channel does not exist: {name}"));
                return;
            }

            session.Send(Success(actionId, "Redirect successful"));
            Model.Redirect(channel, action["Context"] ?? channel.Context, action["Exten"] ?? channel.Exten, priority);
        });
    }

    private void BlindTransfer(AmiSession session, AmiMessage action, string? actionId) =>
        WithTransferTarget(session, action, actionId, (channel, context, exten) =>
            session.Send(Model.BlindTransfer(channel, context, exten) ? Success(actionId, "Transfer succeeded") : Error(actionId, "Transfer failed")));

    private void Atxfer(AmiSession session, AmiMessage action, string? actionId) =>
        WithTransferTarget(session, action, actionId, (channel, context, exten) =>
        {
            session.Send(Success(actionId, "Atxfer successfully queued"));
            Model.AttendedTransfer(channel, context, exten);
        });

    // BlindTransfer and Atxfer check their fields and find the channel alike, with Asterisk's wording.
    private void WithTransferTarget(AmiSession session, AmiMessage action, string? actionId, Action<Channel, string, string> transfer)
    {
        var name = action["Channel"];
        var exten = action["Exten"];
        if (string.IsNullOrEmpty(name))
        {
            session.Send(Error(actionId, "No channel specified"));
            return;
        }

        if (string.IsNullOrEmpty(exten))
        {
            session.Send(Error(actionId, "No extension specified"));
            return;
        }

        WithModel(() =>
        {
            var channel = Model.FindChannel(name);
            if (channel is null)
            {
                session.Send(Error(actionId, "Channel specified does not exist"));
                return;
            }

            transfer(channel, action["Context"] is { Length: > 0 } ctx ? ctx : channel.Context, exten);
        });
    }

    private async Task PlayDtmfAsync(AmiSession session, AmiMessage action, string? actionId, CancellationToken cancellationToken)
    {
        var name = action["Channel"];
        var digit = action["Digit"];
        Channel? channel;
        lock (_sim.Gate)
        {
            channel = Model.FindChannel(name);
        }

        if (channel is null)
        {
            session.Send(Error(actionId, "Channel not found"));
            return;
        }

        if (string.IsNullOrEmpty(digit))
        {
            session.Send(Error(actionId, "No digit specified"));
            return;
        }

        var duration = int.TryParse(action["Duration"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) && ms > 0 ? ms : 100;
        // Asterisk answers once the digit has been played.
        await Task.Delay(TimeSpan.FromMilliseconds(duration), _sim.Time, cancellationToken);
        WithModel(() =>
        {
            session.Send(Success(actionId, "DTMF successfully queued"));
            Model.PlayDtmfTo(channel, digit[0], duration);
        });
    }

    private void MixMonitor(AmiSession session, AmiMessage action, string? actionId) =>
        WithChannel(session, action, actionId, channel =>
        {
            var file = action["File"] is { Length: > 0 } f ? f : $"{channel.UniqueId}.wav";
            session.Send(Success(actionId));
            Model.SetVariable(channel, "MIXMONITOR_FILENAME", Path.IsPathRooted(file) ? file : Path.Combine(Model.RecordingDirectory, file));
            Model.StartMixMonitor(channel, file);
        });

    private void StopMixMonitor(AmiSession session, AmiMessage action, string? actionId) =>
        WithChannel(session, action, actionId, channel =>
        {
            session.Send(Success(actionId));
            Model.StopMixMonitors(channel);
        });

    private void CoreShowChannels(AmiSession session, AmiMessage action, string? actionId)
    {
        lock (_sim.Gate)
        {
            var channels = Model.Channels.Values.OrderByDescending(c => c.Sequence).ToList();
            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Channels will follow"));
            foreach (var channel in channels)
            {
                var seconds = (long)(Model.Now - channel.CreatedAt).TotalSeconds;
                var message = new AmiMessage(20).Add("Event", "CoreShowChannel").AddIfPresent("ActionID", actionId);
                PbxModel.AddChannel(message, channel)
                    .Add("Application", channel.Application)
                    .Add("ApplicationData", channel.AppData)
                    .Add("Duration", AmiServer.Invariant($"{seconds / 3600:D2}:{seconds / 60 % 60:D2}:{seconds % 60:D2}"))
                    .Add("BridgeId", channel.Bridge?.Id ?? "");
                session.Send(message);
            }

            session.Send(ListComplete("CoreShowChannelsComplete", actionId, channels.Count));
        }
    }

    private void Status(AmiSession session, AmiMessage action, string? actionId)
    {
        var name = action["Channel"];
        lock (_sim.Gate)
        {
            List<Channel> channels;
            if (!string.IsNullOrEmpty(name))
            {
                var channel = Model.FindChannel(name);
                if (channel is null)
                {
                    session.Send(Error(actionId, "No such channel"));
                    return;
                }

                channels = [channel];
            }
            else
            {
                channels = Model.Channels.Values.OrderByDescending(c => c.Sequence).ToList();
            }

            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Channel status will follow"));
            foreach (var channel in channels)
            {
                var message = new AmiMessage(36).Add("Event", "Status").Add("Privilege", "Call");
                PbxModel.AddChannel(message, channel)
                    .Add("Type", channel.Technology)
                    .Add("DNID", "")
                    .Add("EffectiveConnectedLineNum", channel.ConnectedNum.Length == 0 ? "<unknown>" : channel.ConnectedNum)
                    .Add("EffectiveConnectedLineName", channel.ConnectedName.Length == 0 ? "<unknown>" : channel.ConnectedName)
                    .Add("TimeToHangup", "0")
                    .Add("BridgeID", channel.Bridge?.Id ?? "")
                    .Add("Application", channel.Application)
                    .Add("Data", channel.AppData)
                    .Add("Nativeformats", "(slin)")
                    .Add("Readformat", "slin")
                    .Add("Readtrans", "")
                    .Add("Writeformat", "slin")
                    .Add("Writetrans", "")
                    .Add("Callgroup", "0")
                    .Add("Pickupgroup", "0")
                    .Add("Seconds", ((long)(Model.Now - channel.CreatedAt).TotalSeconds).ToString(CultureInfo.InvariantCulture))
                    .AddIfPresent("ActionID", actionId);
                session.Send(message);
            }

            session.Send(ListComplete("StatusComplete", actionId, channels.Count).Add("Items", channels.Count.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private static AmiMessage ListComplete(string name, string? actionId, int count) =>
        new AmiMessage(4).Add("Event", name).AddIfPresent("ActionID", actionId).Add("EventList", "Complete").Add("ListItems", count.ToString(CultureInfo.InvariantCulture));

    private void DeviceStateList(AmiSession session, AmiMessage action, string? actionId)
    {
        lock (_sim.Gate)
        {
            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Device State Changes will follow"));
            foreach (var (device, state) in Model.DeviceStates)
            {
                session.Send(new AmiMessage(4).Add("Event", "DeviceStateChange").AddIfPresent("ActionID", actionId).Add("Device", device).Add("State", state));
            }

            session.Send(ListComplete("DeviceStateListComplete", actionId, Model.DeviceStates.Count));
        }
    }

    private void ExtensionState(AmiSession session, AmiMessage action, string? actionId)
    {
        var exten = action["Exten"] ?? "";
        var context = action["Context"] is { Length: > 0 } c ? c : "default";
        lock (_sim.Gate)
        {
            var hint = Model.Hints.Find(h => h.Exten == exten && h.Context == context);
            var device = hint.Device ?? "";
            var (status, text) = hint.Device is null ? (-1, "Unknown") : PbxModel.ExtensionState(Model.DeviceState(device));
            session.Send(Success(actionId, "Extension Status").Add("Exten", exten).Add("Context", context).Add("Hint", device)
                .Add("Status", status.ToString(CultureInfo.InvariantCulture)).Add("StatusText", text));
        }
    }

    private void ExtensionStateList(AmiSession session, AmiMessage action, string? actionId)
    {
        lock (_sim.Gate)
        {
            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Extension Statuses will follow"));
            foreach (var (exten, context, device) in Model.Hints)
            {
                var (status, text) = PbxModel.ExtensionState(Model.DeviceState(device));
                session.Send(new AmiMessage(7).Add("Event", "ExtensionStatus").AddIfPresent("ActionID", actionId).Add("Exten", exten).Add("Context", context)
                    .Add("Hint", device).Add("Status", status.ToString(CultureInfo.InvariantCulture)).Add("StatusText", text));
            }

            session.Send(ListComplete("ExtensionStateListComplete", actionId, Model.Hints.Count));
        }
    }

    private void BridgeList(AmiSession session, AmiMessage action, string? actionId)
    {
        lock (_sim.Gate)
        {
            session.Send(Success(actionId).Add("EventList", "start").Add("Message", "Bridge listing will follow"));
            foreach (var bridge in Model.Bridges.Values)
            {
                session.Send(PbxModel.AddBridge(new AmiMessage(9).Add("Event", "BridgeListItem").AddIfPresent("ActionID", actionId), bridge));
            }

            session.Send(ListComplete("BridgeListComplete", actionId, Model.Bridges.Count));
        }
    }
}
