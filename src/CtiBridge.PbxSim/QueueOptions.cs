using System.Globalization;

namespace CtiBridge.PbxSim;

/// <summary>
/// One app_queue queue (a <c>queues.conf</c> section) with its static members. Names and defaults
/// are app_queue's (Asterisk 22); only the settings PbxSim models are here.
/// </summary>
public sealed class QueueOptions
{
    /// <summary>The strategies app_queue knows.</summary>
    public static readonly IReadOnlySet<string> Strategies = new HashSet<string>(StringComparer.Ordinal)
    {
        "ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "roundrobin", "linear", "wrandom", "rrordered",
    };

    /// <summary>Queue name, as given to <c>Queue()</c> and the AMI queue actions.</summary>
    public string Name { get; set; } = "";

    /// <summary><c>strategy</c> (default ringall).</summary>
    public string Strategy { get; set; } = "ringall";

    /// <summary><c>timeout</c>: seconds one member is rung before AgentRingNoAnswer (default 15).</summary>
    public int Timeout { get; set; } = 15;

    /// <summary><c>retry</c>: seconds before the next attempt after nobody answered (default 5).</summary>
    public int Retry { get; set; } = 5;

    /// <summary><c>wrapuptime</c>: seconds after a completed call before a member is rung again by this queue (default 0).</summary>
    public int WrapUpTime { get; set; }

    /// <summary><c>maxlen</c>: most callers waiting; a caller beyond it does not join (QUEUESTATUS=FULL). 0 = no limit.</summary>
    public int MaxLen { get; set; }

    /// <summary><c>weight</c>: a member shared with a lighter queue is kept for this queue's callers while they outnumber its available members.</summary>
    public int Weight { get; set; }

    /// <summary><c>servicelevel</c> in seconds (statistics only).</summary>
    public int ServiceLevel { get; set; }

    /// <summary><c>joinempty</c>: comma list of paused, penalty, inuse, ringing, unavailable, invalid, unknown, wrapup, or yes/no/strict/loose (default: callers always join).</summary>
    public string JoinEmpty { get; set; } = "";

    /// <summary><c>leavewhenempty</c>: same words as <see cref="JoinEmpty"/>; waiting callers leave (QUEUESTATUS=LEAVEEMPTY) when no member qualifies.</summary>
    public string LeaveWhenEmpty { get; set; } = "";

    /// <summary><c>musicclass</c> played to waiting callers (default <c>default</c>).</summary>
    public string MusicClass { get; set; } = "default";

    /// <summary><c>announce-frequency</c>: seconds between position/hold-time announcements to a waiting caller; 0 = none.</summary>
    public int AnnounceFrequency { get; set; }

    /// <summary><c>min-announce-frequency</c>: least seconds between two position announcements, even when the position changed (default 15).</summary>
    public int MinAnnounceFrequency { get; set; } = 15;

    /// <summary><c>announce-position</c>: yes, no, limit or more (default yes).</summary>
    public string AnnouncePosition { get; set; } = "yes";

    /// <summary><c>announce-position-limit</c> for <c>limit</c>/<c>more</c> (default 5).</summary>
    public int AnnouncePositionLimit { get; set; } = 5;

    /// <summary><c>announce-holdtime</c>: yes, no or once (default no).</summary>
    public string AnnounceHoldTime { get; set; } = "no";

    /// <summary><c>announce-to-first-user</c>: announcements also while the caller at the head is ringing a member.</summary>
    public bool AnnounceToFirstUser { get; set; }

    /// <summary><c>periodic-announce</c>: sounds played in turn (default <c>queue-periodic-announce</c>).</summary>
    public List<string> PeriodicAnnounce { get; set; } = ["queue-periodic-announce"];

    /// <summary><c>periodic-announce-frequency</c>: seconds between periodic announcements; 0 = none.</summary>
    public int PeriodicAnnounceFrequency { get; set; }

    /// <summary>Static members (<c>member =&gt;</c> lines), in order.</summary>
    public List<QueueMemberOptions> Members { get; set; } = [];

    /// <summary>One line per problem with this queue, naming it and the field; empty when usable.</summary>
    public IEnumerable<string> Problems(string where)
    {
        var at = $"{where} '{Name}'";
        if (string.IsNullOrWhiteSpace(Name) || Name.IndexOfAny([',', '|', ' ', '\t', '(', ')']) >= 0)
        {
            yield return $"{where}.Name: '{Name}' is not a queue name (needs a non-empty name without spaces, commas, '|' or parentheses)";
        }

        if (!Strategies.Contains(Strategy))
        {
            yield return $"{at}: Strategy '{Strategy}' is not an app_queue strategy (one of {string.Join(", ", Strategies.Order(StringComparer.Ordinal))})";
        }

        foreach (var (field, value, min) in new[]
        {
            ("Timeout", Timeout, 0), ("Retry", Retry, 0), ("WrapUpTime", WrapUpTime, 0), ("MaxLen", MaxLen, 0), ("Weight", Weight, 0),
            ("ServiceLevel", ServiceLevel, 0), ("AnnounceFrequency", AnnounceFrequency, 0), ("MinAnnounceFrequency", MinAnnounceFrequency, 0),
            ("AnnouncePositionLimit", AnnouncePositionLimit, 0), ("PeriodicAnnounceFrequency", PeriodicAnnounceFrequency, 0),
        })
        {
            if (value < min)
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"{at}: {field} must be {min} or more, got {value}");
            }
        }

        foreach (var (field, value) in new[] { ("JoinEmpty", JoinEmpty), ("LeaveWhenEmpty", LeaveWhenEmpty) })
        {
            foreach (var word in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!EmptyConditionWords.Contains(word))
                {
                    yield return $"{at}: {field} word '{word}' is not one of {string.Join(", ", EmptyConditionWords.Order(StringComparer.Ordinal))}";
                }
            }
        }

        if (AnnouncePosition is not ("yes" or "no" or "limit" or "more"))
        {
            yield return $"{at}: AnnouncePosition '{AnnouncePosition}' must be yes, no, limit or more";
        }

        if (AnnounceHoldTime is not ("yes" or "no" or "once"))
        {
            yield return $"{at}: AnnounceHoldTime '{AnnounceHoldTime}' must be yes, no or once";
        }

        if (PeriodicAnnounceFrequency > 0 && (PeriodicAnnounce.Count == 0 || PeriodicAnnounce.Exists(string.IsNullOrWhiteSpace)))
        {
            yield return $"{at}: PeriodicAnnounce needs at least one sound name (and no empty ones) when PeriodicAnnounceFrequency is set";
        }

        if (MusicClass.Length == 0)
        {
            yield return $"{at}: MusicClass must not be empty (use \"default\")";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Members.Count; i++)
        {
            var member = Members[i];
            var memberAt = string.Create(CultureInfo.InvariantCulture, $"{at} Members[{i}]");
            if (string.IsNullOrWhiteSpace(member.Interface) || member.Interface.IndexOf('/', StringComparison.Ordinal) <= 0)
            {
                yield return $"{memberAt}: Interface '{member.Interface}' is not a channel interface (e.g. PJSIP/1001 or Local/agent1@agents)";
            }
            else if (!seen.Add(member.Interface))
            {
                yield return $"{memberAt}: Interface '{member.Interface}' is listed twice in this queue";
            }

            if (member.Penalty < 0)
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"{memberAt}: Penalty must be 0 or more, got {member.Penalty}");
            }

            if (member.WrapUpTime < 0)
            {
                yield return string.Create(CultureInfo.InvariantCulture, $"{memberAt}: WrapUpTime must be 0 or more, got {member.WrapUpTime}");
            }
        }
    }

    /// <summary>The words <c>joinempty</c>/<c>leavewhenempty</c> accept.</summary>
    public static readonly IReadOnlySet<string> EmptyConditionWords = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "paused", "penalty", "inuse", "ringing", "unavailable", "invalid", "unknown", "wrapup", "loose", "strict", "yes", "no", "true", "false",
    };

    /// <summary>The three queues of the recording instance (support rrmemory, sales ringall, linear with timeout 3 / retry 1).</summary>
    public static List<QueueOptions> RecordingInstance() =>
    [
        new()
        {
            Name = "linear", Strategy = "linear", Timeout = 3, Retry = 1,
            Members =
            [
                new() { Interface = "Local/noanswer9@agents", Name = "Never Answers" },
                new() { Interface = "Local/agent3@agents", Name = "Agent Three", StateInterface = "Custom:agent3" },
            ],
        },
        new()
        {
            Name = "support", Strategy = "rrmemory", ServiceLevel = 20,
            Members =
            [
                new() { Interface = "Local/agent1@agents", Name = "Agent One", StateInterface = "Custom:agent1" },
                new() { Interface = "Local/agent2@agents", Name = "Agent Two", StateInterface = "Custom:agent2" },
            ],
        },
        new() { Name = "sales", Strategy = "ringall" },
    ];
}

/// <summary>A static queue member (<c>member =&gt; interface,penalty,name,state_interface,ringinuse,wrapuptime</c>).</summary>
public sealed class QueueMemberOptions
{
    /// <summary>The interface rung, e.g. <c>PJSIP/1001</c> or <c>Local/agent1@agents</c>.</summary>
    public string Interface { get; set; } = "";

    /// <summary>Member name in events (default: the interface).</summary>
    public string? Name { get; set; }

    /// <summary>Device whose state tells whether the member is free (default: the interface).</summary>
    public string? StateInterface { get; set; }

    /// <summary>Penalty: app_queue rings the lowest tier it can.</summary>
    public int Penalty { get; set; }

    /// <summary>Starts paused.</summary>
    public bool Paused { get; set; }

    /// <summary>Rung even while its device is in use.</summary>
    public bool RingInUse { get; set; }

    /// <summary>The member's own wrap-up time; 0 = the queue's.</summary>
    public int WrapUpTime { get; set; }
}
