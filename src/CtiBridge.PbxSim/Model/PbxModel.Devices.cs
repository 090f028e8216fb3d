using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>A queue member as app_queue reports it.</summary>
internal sealed class QueueMember
{
    public required string Interface { get; init; }

    public required string Name { get; set; }

    public required string StateInterface { get; init; }

    public string Membership { get; init; } = "static";

    public int Penalty { get; set; }

    public bool Paused { get; set; }

    public string PausedReason { get; set; } = "";

    public bool RingInUse { get; set; }

    public long LoginTime { get; init; }

    public long LastPause { get; set; }

    /// <summary>Calls this member completed from this queue (app_queue's <c>calls</c>).</summary>
    public int CallsTaken { get; set; }

    /// <summary>When the member's last queue call ended (Unix seconds), 0 before the first.</summary>
    public long LastCall { get; set; }

    /// <summary>The status last reported for a member watching a Local device (1 = not in use).</summary>
    public int ReportedStatus { get; set; } = 1;

    /// <summary>True while the member talks to a caller from this queue.</summary>
    public bool InCall { get; set; }

    /// <summary>The member's own wrap-up seconds (QueueMember <c>Wrapuptime</c>); 0 = the queue's.</summary>
    public int WrapUpSeconds { get; init; }
}

/// <summary>A queue: app_queue's configuration, its members, its waiting callers and its statistics.</summary>
internal sealed class CallQueue
{
    public required string Name { get; init; }

    public required string Strategy { get; init; }

    public int ServiceLevel { get; init; }

    /// <summary>queues.conf settings beyond strategy/timeout/retry (wrapuptime, maxlen, weight, join/leave rules, announcements).</summary>
    public QueueOptions Settings { get; init; } = new();

    /// <summary>joinempty as app_queue's condition flags (0: callers always join).</summary>
    public EmptyConditions JoinEmpty { get; init; }

    /// <summary>leavewhenempty as app_queue's condition flags (0: callers never leave for it).</summary>
    public EmptyConditions LeaveWhenEmpty { get; init; }

    /// <summary>How long one member is rung before AgentRingNoAnswer (queues.conf <c>timeout</c>, default 15).</summary>
    public int RingTimeoutSeconds { get; init; } = 15;

    /// <summary>The pause before the next member is tried (queues.conf <c>retry</c>, default 5).</summary>
    public int RetrySeconds { get; init; } = 5;

    public List<QueueMember> Members { get; } = [];

    /// <summary>Callers waiting, in order (position 1 first).</summary>
    public List<QueueEntry> Callers { get; } = [];

    /// <summary>rrmemory/roundrobin: index of the member to try first for the next call.</summary>
    public int RoundRobinNext { get; set; }

    public int Completed { get; set; }

    public int Abandoned { get; set; }

    /// <summary>Completed calls answered within the service level.</summary>
    public int CompletedInServiceLevel { get; set; }

    /// <summary>Running averages app_queue keeps (seconds).</summary>
    public int HoldTime { get; set; }

    /// <summary>True once a caller has been connected (the hold-time average has a first sample).</summary>
    public bool HasHoldSamples { get; set; }

    public int TalkTime { get; set; }
}

/// <summary>Device states, hints and queue membership.</summary>
internal sealed partial class PbxModel
{
    /// <summary>Device states by device name (Custom:agent1, Queue:support...).</summary>
    public Dictionary<string, string> DeviceStates { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Hints: extension@context → device.</summary>
    public List<(string Exten, string Context, string Device)> Hints { get; } = [];

    public List<CallQueue> Queues { get; } = [];

    private void InitialiseDevices()
    {
        DeviceStates.Clear();
        _localDeviceStates.Clear();
        Hints.Clear();
        Queues.Clear();
        var login = _sim.StartedAt.ToUnixTimeSeconds();
        for (var i = 1; i <= 9; i++)
        {
            DeviceStates["Custom:agent" + i.ToString(CultureInfo.InvariantCulture)] = "NOT_INUSE";
        }

        foreach (var i in new[] { 4, 1, 2, 3 })
        {
            Hints.Add(($"agent{i}", "hints", $"Custom:agent{i}"));
        }

        foreach (var options in _sim.Options.Queues ?? QueueOptions.RecordingInstance())
        {
            var queue = new CallQueue
            {
                Name = options.Name,
                Strategy = options.Strategy,
                ServiceLevel = options.ServiceLevel,
                RingTimeoutSeconds = options.Timeout,
                RetrySeconds = options.Retry,
                Settings = options,
                JoinEmpty = ParseEmptyConditions(options.JoinEmpty, join: true),
                LeaveWhenEmpty = ParseEmptyConditions(options.LeaveWhenEmpty, join: false),
            };
            foreach (var m in options.Members)
            {
                queue.Members.Add(new QueueMember
                {
                    Interface = m.Interface,
                    Name = m.Name is { Length: > 0 } name ? name : m.Interface,
                    StateInterface = m.StateInterface is { Length: > 0 } state ? state : m.Interface,
                    Penalty = m.Penalty,
                    Paused = m.Paused,
                    RingInUse = m.RingInUse,
                    WrapUpSeconds = m.WrapUpTime,
                    LoginTime = login,
                });
            }

            Queues.Add(queue);
        }

        foreach (var queue in Queues)
        {
            // app_queue's own devices: the queue (callers waiting), whether any member is available,
            // and each member's pause state.
            DeviceStates["Queue:" + queue.Name] = "NOT_INUSE";
            DeviceStates[$"Queue:{queue.Name}_avail"] = AnyMemberAvailable(queue) ? "NOT_INUSE" : "INUSE";
            foreach (var member in queue.Members)
            {
                DeviceStates[PauseDevice(queue, member)] = member.Paused ? "INUSE" : "NOT_INUSE";
            }
        }
    }

    /// <summary>
    /// A device changes state: the hints on it report ExtensionStatus (when their state changes), then
    /// DeviceStateChange, then every queue member watching it reports QueueMemberStatus and its queue
    /// re-publishes whether any member is available.
    /// </summary>
    internal void SetDeviceState(string device, string state)
    {
        var old = DeviceState(device);
        foreach (var (exten, context, hintDevice) in Hints.Where(h => string.Equals(h.Device, device, StringComparison.OrdinalIgnoreCase)))
        {
            var (status, text) = ExtensionState(state);
            if (ExtensionState(old).Status == status)
            {
                continue;
            }

            Publish(AmiPrivilege.Call, Event("ExtensionStatus", AmiPrivilege.Call).Add("Exten", exten).Add("Context", context).Add("Hint", hintDevice)
                .Add("Status", status.ToString(CultureInfo.InvariantCulture)).Add("StatusText", text));
        }

        DeviceStates[device] = state;
        Publish(AmiPrivilege.Call, Event("DeviceStateChange", AmiPrivilege.Call).Add("Device", device).Add("State", state));
        foreach (var queue in Queues)
        {
            var watching = queue.Members.Where(m => string.Equals(m.StateInterface, device, StringComparison.OrdinalIgnoreCase)).ToList();
            foreach (var member in watching)
            {
                PublishMember("QueueMemberStatus", queue, member);
            }

            if (watching.Count > 0)
            {
                UpdateQueueAvailability(queue);
            }
        }
    }

    /// <summary>
    /// A Local device was re-read: queue members watching it report QueueMemberStatus when their
    /// status changed (chan_local repeats unchanged states; app_queue reports changes only).
    /// </summary>
    private void LocalDeviceChanged(string device)
    {
        var status = MemberStatus(DeviceState(device));
        foreach (var queue in Queues)
        {
            var watching = queue.Members.Where(m => string.Equals(m.StateInterface, device, StringComparison.OrdinalIgnoreCase) && m.ReportedStatus != status).ToList();
            foreach (var member in watching)
            {
                member.ReportedStatus = status;
                PublishMember("QueueMemberStatus", queue, member);
            }

            if (watching.Count > 0)
            {
                UpdateQueueAvailability(queue);
            }
        }
    }

    private static string PauseDevice(CallQueue queue, QueueMember member) => $"Queue:{queue.Name}_pause_{member.Interface}";

    /// <summary>app_queue's <c>Queue:name_pause_interface</c> device: INUSE while the member is paused.</summary>
    internal void PublishPauseState(CallQueue queue, QueueMember member) => SetQueueDevice(PauseDevice(queue, member), member.Paused ? "INUSE" : "NOT_INUSE");

    /// <summary>app_queue's <c>Queue:name_avail</c> device: NOT_INUSE while some member could take a call, reported on change.</summary>
    internal void UpdateQueueAvailability(CallQueue queue)
    {
        var device = $"Queue:{queue.Name}_avail";
        var state = AnyMemberAvailable(queue) ? "NOT_INUSE" : "INUSE";
        if (DeviceState(device) != state)
        {
            SetQueueDevice(device, state);
        }
    }

    private void SetQueueDevice(string device, string state)
    {
        DeviceStates[device] = state;
        Publish(AmiPrivilege.Call, Event("DeviceStateChange", AmiPrivilege.Call).Add("Device", device).Add("State", state));
    }

    /// <summary>app_queue's is_member_available: not paused, and idle (or busy with ringinuse on).</summary>
    private bool AnyMemberAvailable(CallQueue queue) => queue.Members.Exists(m => IsMemberAvailable(queue, m));

    internal void PublishMember(string name, CallQueue queue, QueueMember member) =>
        Publish(AmiPrivilege.Agent, MemberHeaders(Event(name, AmiPrivilege.Agent), queue, member, forStatus: false));

    /// <summary>A member's headers as app_queue writes them (QueueMember list items and QueueMember* events).</summary>
    internal AmiMessage MemberHeaders(AmiMessage message, CallQueue queue, QueueMember member, bool forStatus)
    {
        static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
        message.Add("Queue", queue.Name);
        if (forStatus)
        {
            message.Add("Name", member.Name).Add("Location", member.Interface);
        }
        else
        {
            message.Add("MemberName", member.Name).Add("Interface", member.Interface);
        }

        var state = DeviceState(member.StateInterface);
        message.Add("StateInterface", member.StateInterface)
            .Add("Membership", member.Membership)
            .Add("Penalty", Number(member.Penalty))
            .Add("CallsTaken", Number(member.CallsTaken))
            .Add("LastCall", Number(member.LastCall))
            .Add("LastPause", Number(member.LastPause))
            .Add("LoginTime", Number(member.LoginTime))
            .Add("InCall", member.InCall ? "1" : "0")
            .Add("Status", Number(MemberStatus(state)))
            .Add("Paused", member.Paused ? "1" : "0")
            .Add("PausedReason", member.PausedReason);
        if (!forStatus)
        {
            message.Add("Ringinuse", member.RingInUse ? "1" : "0");
        }

        return message.Add("Wrapuptime", Number(member.WrapUpSeconds));
    }

    /// <summary>Asterisk's extension state number and text for a device state.</summary>
    internal static (int Status, string Text) ExtensionState(string deviceState) => deviceState switch
    {
        "INUSE" => (1, "InUse"),
        "BUSY" => (2, "Busy"),
        "UNAVAILABLE" or "INVALID" => (4, "Unavailable"),
        "RINGING" => (8, "Ringing"),
        "RINGINUSE" => (9, "InUse&Ringing"),
        "ONHOLD" => (16, "Hold"),
        _ => (0, "Idle"),
    };

    /// <summary>app_queue's member status number for a device state.</summary>
    internal static int MemberStatus(string deviceState) => deviceState switch
    {
        "NOT_INUSE" => 1,
        "INUSE" => 2,
        "BUSY" => 3,
        "INVALID" => 4,
        "UNAVAILABLE" => 5,
        "RINGING" => 6,
        "RINGINUSE" => 7,
        "ONHOLD" => 8,
        _ => 0,
    };

    /// <summary>Lines written to queue_log (pipe-separated, as app_queue writes them).</summary>
    public List<string> QueueLog { get; } = [];

    internal void WriteQueueLog(string callId, string queue, string agent, string eventName, string data) =>
        QueueLog.Add(string.Create(CultureInfo.InvariantCulture, $"{Now.ToUnixTimeSeconds()}|{callId}|{queue}|{agent}|{eventName}|{data}"));

    /// <summary>The CLI's <c>devstate change</c>: sets a Custom: device (hints and members follow).</summary>
    internal void ChangeCustomDeviceState(string device, string state) => SetDeviceState(device, state);

    internal string DeviceState(string device) =>
        DeviceStates.TryGetValue(device, out var state) ? state
        : device.StartsWith("Local/", StringComparison.OrdinalIgnoreCase) ? _localDeviceStates.GetValueOrDefault(device, "NOT_INUSE") : "UNKNOWN";

    /// <summary>chan_local's device states as last read (not listed by DeviceStateList: chan_local keeps no cache).</summary>
    private readonly Dictionary<string, string> _localDeviceStates = new(StringComparer.OrdinalIgnoreCase);
}
