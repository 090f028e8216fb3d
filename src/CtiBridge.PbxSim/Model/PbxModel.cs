using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>
/// The telephony model: channels, bridges and the dialplan they run, advanced by timers on the
/// simulator's clock. Every method runs under <see cref="PbxSimulator.Gate"/>; events are published
/// while the lock is held, so every client sees one global order.
/// </summary>
internal sealed partial class PbxModel : IDisposable
{
    private readonly PbxSimulator _sim;
    private readonly PriorityQueue<Action, (DateTimeOffset Due, long Seq)> _timers = new();
    private readonly Queue<Action> _deferred = new();
    private readonly ITimer _timer;
    private long _timerSeq;
    private long _uniqueSeq;
    private long _localSeq;
    private long _pjsipSeq;
    private long _channelSeq;
    private bool _draining;
    private DateTimeOffset? _armedFor;

    public PbxModel(PbxSimulator simulator)
    {
        _sim = simulator;
        Dialplan = new Dialplan(simulator.Options.Dialplan ?? Dialplan.RecordingInstance());
        Sounds = new SoundCatalogue(simulator.Options.Sounds);
        foreach (var (name, value) in simulator.Options.GlobalVariables)
        {
            GlobalVariables[name] = value;
        }

        InitialiseDevices();
        _timer = simulator.Time.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public Dialplan Dialplan { get; }

    public SoundCatalogue Sounds { get; }

    public Dictionary<string, string> GlobalVariables { get; } = new(StringComparer.Ordinal);

    /// <summary>Live channels by name.</summary>
    public Dictionary<string, Channel> Channels { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Live bridges by id.</summary>
    public Dictionary<string, Bridge> Bridges { get; } = new(StringComparer.Ordinal);

    /// <summary>Calls processed since start (Asterisk's "calls processed": every channel that started running dialplan).</summary>
    public long ProcessedCalls { get; internal set; }

    /// <summary>Events published to AMI since start (benchmarks read it).</summary>
    public long AmiEventCount { get; private set; }

    public DateTimeOffset Now => _sim.Time.GetUtcNow();

    internal PbxSimulator Simulator => _sim;

    // ----- scheduling -------------------------------------------------------------------------

    /// <summary>Runs <paramref name="action"/> under the model lock after <paramref name="delay"/> of model time.</summary>
    public void Schedule(TimeSpan delay, Action action)
    {
        var due = Now + (delay < TimeSpan.Zero ? TimeSpan.Zero : delay);
        _timers.Enqueue(action, (due, _timerSeq++));
        Arm();
    }

    /// <summary>When the earliest scheduled work is due and when the clock timer is armed for (tests describe a stuck model with it).</summary>
    internal (DateTimeOffset? NextDue, DateTimeOffset? ArmedFor, int Pending) TimerState =>
        (_timers.TryPeek(out _, out var head) ? head.Due : null, _armedFor, _timers.Count);

    /// <summary>Runs <paramref name="action"/> after the current burst of work (another thread's turn, in Asterisk).</summary>
    public void Defer(Action action) => _deferred.Enqueue(action);

    private void Arm()
    {
        if (_timers.TryPeek(out _, out var head) && head.Due != _armedFor)
        {
            _armedFor = head.Due;
            var wait = head.Due - Now;
            _timer.Change(wait < TimeSpan.Zero ? TimeSpan.Zero : wait, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        lock (_sim.Gate)
        {
            _armedFor = null;
            RunDue();
            Arm();
        }
    }

    /// <summary>Runs every timer that is due, then the deferred work; call with the lock held.</summary>
    internal void RunDue()
    {
        if (_draining)
        {
            return;
        }

        _draining = true;
        try
        {
            DrainDeferred();
            while (_timers.TryPeek(out var action, out var head) && head.Due <= Now)
            {
                _timers.Dequeue();
                action();
                DrainDeferred();
            }
        }
        finally
        {
            _draining = false;
        }
    }

    /// <summary>Runs deferred work now (after an action's synchronous part).</summary>
    internal void Settle()
    {
        if (!_draining)
        {
            _draining = true;
            try
            {
                DrainDeferred();
            }
            finally
            {
                _draining = false;
            }

            RunDue();
            Arm();
        }
    }

    private void DrainDeferred()
    {
        while (_deferred.TryDequeue(out var action))
        {
            action();
        }
    }

    // ----- events ------------------------------------------------------------------------------

    internal void Publish(AmiPrivilege category, AmiMessage message)
    {
        AmiEventCount++;
        _sim.Ami.Publish(category, message);
    }

    internal static AmiMessage Event(string name, AmiPrivilege category) =>
        new AmiMessage(20).Add("Event", name).Add("Privilege", AmiPrivileges.EventHeader(category));

    internal static string StateDesc(ChannelState state) => state switch
    {
        ChannelState.Down => "Down",
        ChannelState.Reserved => "Rsrvd",
        ChannelState.OffHook => "OffHook",
        ChannelState.Dialing => "Dialing",
        ChannelState.Ring => "Ring",
        ChannelState.Ringing => "Ringing",
        ChannelState.Up => "Up",
        ChannelState.Busy => "Busy",
        _ => "Unknown",
    };

    private static string OrUnknown(string value) => value.Length == 0 ? "<unknown>" : value;

    /// <summary>Appends Asterisk's standard channel snapshot headers, optionally prefixed (Dest, LocalOne...).</summary>
    internal static AmiMessage AddChannel(AmiMessage message, Channel channel, string prefix = "") => message
        .Add(prefix + "Channel", channel.Name)
        .Add(prefix + "ChannelState", ((int)channel.State).ToString(CultureInfo.InvariantCulture))
        .Add(prefix + "ChannelStateDesc", StateDesc(channel.State))
        .Add(prefix + "CallerIDNum", OrUnknown(channel.CallerNum))
        .Add(prefix + "CallerIDName", OrUnknown(channel.CallerName))
        .Add(prefix + "ConnectedLineNum", OrUnknown(channel.ConnectedNum))
        .Add(prefix + "ConnectedLineName", OrUnknown(channel.ConnectedName))
        .Add(prefix + "Language", channel.Language)
        .Add(prefix + "AccountCode", channel.AccountCode)
        .Add(prefix + "Context", channel.Context)
        .Add(prefix + "Exten", channel.Exten)
        .Add(prefix + "Priority", channel.Priority.ToString(CultureInfo.InvariantCulture))
        .Add(prefix + "Uniqueid", channel.UniqueId)
        .Add(prefix + "Linkedid", channel.LinkedId);

    internal void ChannelEvent(string name, Channel channel, AmiPrivilege category = AmiPrivilege.Call, params (string Name, string Value)[] extra)
    {
        var message = AddChannel(Event(name, category), channel);
        foreach (var (n, v) in extra)
        {
            message.Add(n, v);
        }

        Publish(category, message);
    }

    // ----- channels ----------------------------------------------------------------------------

    internal string NextUniqueId() => _sim.Options.SystemName.Length == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{_sim.Options.UniqueIdSeconds ?? Now.ToUnixTimeSeconds()}.{_uniqueSeq++}")
        : string.Create(CultureInfo.InvariantCulture, $"{_sim.Options.SystemName}-{_sim.Options.UniqueIdSeconds ?? Now.ToUnixTimeSeconds()}.{_uniqueSeq++}");

    /// <summary>Continues the uniqueid sequence from <paramref name="next"/> (as an Asterisk that has run a while).</summary>
    internal void SeedUniqueSequence(long next) => _uniqueSeq = next;

    /// <summary>Continues Local channel numbering from <paramref name="next"/> (as an Asterisk that has run a while).</summary>
    internal void SeedLocalSequence(long next) => _localSeq = next;

    internal string NextLocalSuffix() => (_localSeq++).ToString("x8", CultureInfo.InvariantCulture);

    internal string NextPjsipSuffix() => (_pjsipSeq++).ToString("x8", CultureInfo.InvariantCulture);

    internal Channel CreateChannel(string name, string? uniqueId, string? linkedId, ChannelState state, string context, string exten, bool isLocalTwo = false)
    {
        var id = string.IsNullOrEmpty(uniqueId) ? NextUniqueId() : uniqueId;
        var channel = new Channel
        {
            Name = name,
            UniqueId = id,
            LinkedId = linkedId ?? id,
            CreatedAt = Now,
            Sequence = _channelSeq++,
            State = state,
            Context = context,
            Exten = exten,
            IsLocalTwo = isLocalTwo,
        };
        Channels[name] = channel;
        return channel;
    }

    internal void EmitNewchannel(Channel channel)
    {
        ChannelEvent("Newchannel", channel);
        Cel("CHAN_START", channel);
    }

    /// <summary>AMI HangupRequest / SoftHangupRequest and ARI ChannelHangupRequest.</summary>
    internal void HangupRequestEvent(Channel channel, int cause, bool soft)
    {
        ChannelEvent(soft ? "SoftHangupRequest" : "HangupRequest", channel, AmiPrivilege.Call, ("Cause", cause.ToString(CultureInfo.InvariantCulture)));
        _sim.AriEvents.ChannelHangupRequest(channel, cause, soft);
    }

    internal void SetState(Channel channel, ChannelState state)
    {
        if (channel.State == state || channel.Gone)
        {
            return;
        }

        if (channel.IncomingDial is { AriBeginPending: true } dial)
        {
            FlushAriDialBegin(dial);
        }

        channel.State = state;
        if (state == ChannelState.Up)
        {
            channel.AnsweredAt ??= Now;
        }

        ChannelEvent("Newstate", channel);
        if (state == ChannelState.Up)
        {
            Cel("ANSWER", channel);
        }

        _sim.AriEvents.ChannelStateChanged(channel);
        PublishLocalDeviceState(channel);
    }

    /// <summary>
    /// chan_local's device <c>Local/exten@context</c>: every state change or end of one of its
    /// channels re-reads it (not cached, so repeats are reported): INUSE while some pair for that
    /// extension has both halves, else NOT_INUSE (the pair is forgotten once either half hangs up);
    /// INVALID when the extension does not exist.
    /// </summary>
    internal void PublishLocalDeviceState(Channel channel)
    {
        if (!channel.IsLocal || LocalDevice(channel.Name) is not { } device)
        {
            return;
        }

        var at = device.IndexOf('@', StringComparison.Ordinal);
        var state = at > 6 && !Dialplan.Exists(device[(at + 1)..], device[6..at]) ? "INVALID"
            : Channels.Values.Any(c => !c.Gone && !c.IsLocalTwo && c.LocalPeer is { Gone: false } && LocalDevice(c.Name) == device) ? "INUSE"
            : "NOT_INUSE";
        Publish(AmiPrivilege.Call, Event("DeviceStateChange", AmiPrivilege.Call).Add("Device", device).Add("State", state));
        _localDeviceStates[device] = state;
        LocalDeviceChanged(device);
    }

    private static string? LocalDevice(string channelName)
    {
        if (!channelName.StartsWith("Local/", StringComparison.Ordinal))
        {
            return null;
        }

        var dash = channelName.LastIndexOf('-');
        return dash > 0 ? channelName[..dash] : null;
    }

    internal void SetVariable(Channel? channel, string name, string value)
    {
        if (channel is null)
        {
            GlobalVariables[name] = value;
            return;
        }

        channel.Variables[name] = value;
        ChannelEvent("VarSet", channel, AmiPrivilege.Dialplan, ("Variable", name), ("Value", value));
        _sim.AriEvents.ChannelVarset(channel, name, value);
    }

    internal void SetCallerId(Channel channel, string number, string name, bool alsoConnected = false)
    {
        channel.PendingCallerId = null;
        channel.CallerNum = number;
        channel.CallerName = name;
        if (alsoConnected)
        {
            channel.ConnectedNum = number;
            channel.ConnectedName = name;
        }

        EmitNewCallerid(channel);
        _sim.AriEvents.ChannelCallerId(channel);
    }

    /// <summary>
    /// NewCallerid with the presentation Asterisk derives from the caller party: a party with neither
    /// name nor number (copied from an empty connected line) is "Number Unavailable".
    /// </summary>
    internal void EmitNewCallerid(Channel channel)
    {
        var (code, text) = CallerPresentation(channel);
        ChannelEvent("NewCallerid", channel, AmiPrivilege.Call, ("CID-CallingPres", $"{code} ({text})"));
    }

    internal static (int Code, string Text) CallerPresentation(Channel channel) =>
        channel.CallerNum.Length == 0 && channel.CallerName.Length == 0 ? (67, "Number Unavailable") : (0, "Presentation Allowed, Not Screened");

    internal void SetConnectedLine(Channel channel, string number, string name)
    {
        channel.ConnectedNum = number;
        channel.ConnectedName = name;
        if (!channel.IsLocalTwo && channel.LocalPeer is { Gone: false, RanPbx: true } two)
        {
            // chan_local passes a connected-line update on the ;1 half through as the ;2 half's caller
            // id (empty parts do not overwrite); the ;2 half reports it at its next dialplan step.
            two.PendingCallerId = (number, name);
        }

        ChannelEvent("NewConnectedLine", channel);
        _sim.AriEvents.ChannelConnectedLine(channel);
    }

    internal void EmitNewexten(Channel channel, string application, string data)
    {
        if (application.StartsWith("AppDial", StringComparison.Ordinal) || application == "AppQueue")
        {
            // The application a dialled channel is created for; CEL shows it whenever nothing else runs.
            channel.CelBase = (application, data);
        }

        channel.Application = application;
        channel.AppData = data;
        channel.LastApplication = application;
        channel.LastData = data;
        var pending = channel.PendingCallerId;
        if (pending is { } callerId)
        {
            channel.PendingCallerId = null;
            (channel.CallerNum, channel.CallerName) = callerId;
        }

        ChannelEvent("Newexten", channel, AmiPrivilege.Dialplan, ("Extension", channel.Exten), ("Application", application), ("AppData", data));
        _sim.AriEvents.ChannelDialplan(channel);
        if (pending is not null)
        {
            EmitNewCallerid(channel);
            _sim.AriEvents.ChannelCallerId(channel);
        }
    }

    /// <summary>Looks up a channel variable the way dialplan functions see it.</summary>
    internal string ReadVariable(Channel? channel, string name)
    {
        switch (name)
        {
            case "EXTEN" when channel is not null:
                return channel.Exten;
            case "CONTEXT" when channel is not null:
                return channel.Context;
            case "PRIORITY" when channel is not null:
                return channel.Priority.ToString(CultureInfo.InvariantCulture);
            case "CHANNEL" when channel is not null:
                return channel.Name;
            case "UNIQUEID" when channel is not null:
                return channel.UniqueId;
            case "CALLERID(num)" when channel is not null:
                return channel.CallerNum;
            case "CALLERID(name)" when channel is not null:
                return channel.CallerName;
            case "CALLERID(all)" when channel is not null:
                return channel.CallerNum.Length == 0 && channel.CallerName.Length == 0
                    ? ""
                    : channel.CallerName.Length == 0 ? $"<{channel.CallerNum}>" : $"\"{channel.CallerName}\" <{channel.CallerNum}>";
            case "CONNECTEDLINE(num)" when channel is not null:
                return channel.ConnectedNum;
            case "CONNECTEDLINE(name)" when channel is not null:
                return channel.ConnectedName;
        }

        if (channel is not null && channel.Variables.TryGetValue(name, out var value))
        {
            return value;
        }

        return GlobalVariables.TryGetValue(name, out var global) ? global : "";
    }

    internal string Expand(Channel channel, string text) => Dialplan.Expand(text, n => ReadVariable(channel, n));

    /// <summary>Finds a live channel by exact name (Asterisk accepts a unique name prefix too).</summary>
    internal Channel? FindChannel(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        if (Channels.TryGetValue(name, out var channel))
        {
            return channel;
        }

        Channel? match = null;
        foreach (var candidate in Channels.Values)
        {
            if (candidate.Name.StartsWith(name, StringComparison.OrdinalIgnoreCase))
            {
                if (match is not null)
                {
                    return null;
                }

                match = candidate;
            }
        }

        return match;
    }

    internal Channel? FindChannelById(string id)
    {
        foreach (var channel in Channels.Values)
        {
            if (string.Equals(channel.UniqueId, id, StringComparison.Ordinal))
            {
                return channel;
            }
        }

        return null;
    }

    /// <summary>The CLI's <c>core show channels [concise]</c> output lines.</summary>
    public List<string> ShowChannels(bool concise)
    {
        var ordered = Channels.Values.OrderBy(c => c.Sequence).ToList();
        var lines = new List<string>();
        if (concise)
        {
            foreach (var c in ordered)
            {
                lines.Add(string.Join('!', c.Name, c.Context, c.Exten, c.Priority.ToString(CultureInfo.InvariantCulture), StateDesc(c.State),
                    c.Application, c.AppData, c.CallerNum, c.AccountCode, "", "3",
                    ((long)(Now - c.CreatedAt).TotalSeconds).ToString(CultureInfo.InvariantCulture), c.Bridge?.Id ?? "", c.UniqueId));
            }

            return lines;
        }

        lines.Add("Channel                                                          Location                         State   Application(Data)             ");
        foreach (var c in ordered)
        {
            var location = c.Exten.Length == 0 ? "(None)" : $"{c.Exten}@{c.Context}:{c.Priority}";
            var app = $"{c.Application}({c.AppData})";
            lines.Add($"{Fit(c.Name, 64)} {Fit(location, 32)} {Fit(StateDesc(c.State), 7)} {Fit(app, 30)}");
        }

        // Asterisk's "active calls" are the channels running dialplan now (a Dial's outbound leg is not one).
        var calls = ordered.Count(c => c.InPbx);
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"{ordered.Count} active channel{(ordered.Count == 1 ? "" : "s")}"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"{calls} of 500 max active call{(calls == 1 ? "" : "s")} ( {calls * 100.0 / 500:0.00}% of capacity)"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"{ProcessedCalls} call{(ProcessedCalls == 1 ? "" : "s")} processed"));
        return lines;
    }

    private static string Fit(string text, int width) => text.Length >= width ? text[..width] : text.PadRight(width);

    /// <summary>Restart: every channel and bridge vanishes at once, without events (the process died).</summary>
    public void Clear()
    {
        foreach (var channel in Channels.Values)
        {
            channel.Gone = true;
            channel.Generation++;
        }

        Channels.Clear();
        Bridges.Clear();
        _timers.Clear();
        _deferred.Clear();
        InitialiseDevices();
    }

    public void Dispose() => _timer.Dispose();
}
