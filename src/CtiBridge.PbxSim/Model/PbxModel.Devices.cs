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
}

/// <summary>A queue (static configuration; the Queue application itself is not modelled).</summary>
internal sealed class CallQueue
{
    public required string Name { get; init; }

    public required string Strategy { get; init; }

    public int ServiceLevel { get; init; }

    public List<QueueMember> Members { get; } = [];
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

        var linear = new CallQueue { Name = "linear", Strategy = "linear" };
        linear.Members.Add(new QueueMember { Interface = "Local/noanswer9@agents", Name = "Never Answers", StateInterface = "Local/noanswer9@agents", LoginTime = login });
        linear.Members.Add(new QueueMember { Interface = "Local/agent3@agents", Name = "Agent Three", StateInterface = "Custom:agent3", LoginTime = login });
        var support = new CallQueue { Name = "support", Strategy = "rrmemory", ServiceLevel = 20 };
        support.Members.Add(new QueueMember { Interface = "Local/agent1@agents", Name = "Agent One", StateInterface = "Custom:agent1", LoginTime = login });
        support.Members.Add(new QueueMember { Interface = "Local/agent2@agents", Name = "Agent Two", StateInterface = "Custom:agent2", LoginTime = login });
        Queues.AddRange([linear, support, new CallQueue { Name = "sales", Strategy = "ringall" }]);
    }

    internal void SetDeviceState(string device, string state)
    {
        DeviceStates[device] = state;
        Publish(AmiPrivilege.Call, Event("DeviceStateChange", AmiPrivilege.Call).Add("Device", device).Add("State", state));
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

    /// <summary>The CLI's <c>devstate change</c>: sets a Custom: device and reports member/hint changes.</summary>
    internal void ChangeCustomDeviceState(string device, string state)
    {
        foreach (var (exten, context, hintDevice) in Hints.Where(h => string.Equals(h.Device, device, StringComparison.OrdinalIgnoreCase)))
        {
            var (status, text) = ExtensionState(state);
            Publish(AmiPrivilege.Call, Event("ExtensionStatus", AmiPrivilege.Call).Add("Exten", exten).Add("Context", context).Add("Hint", hintDevice)
                .Add("Status", status.ToString(CultureInfo.InvariantCulture)).Add("StatusText", text));
        }

        SetDeviceState(device, state);
    }

    internal string DeviceState(string device) =>
        DeviceStates.TryGetValue(device, out var state) ? state
        : device.StartsWith("Local/", StringComparison.OrdinalIgnoreCase) ? "NOT_INUSE" : "UNKNOWN";
}
