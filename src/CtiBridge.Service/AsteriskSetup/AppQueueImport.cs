using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.AsteriskSetup;

/// <summary>How serious an import note is.</summary>
public enum ImportNoteKind
{
    /// <summary>A setting CtiBridge cannot take over (yet); the note says why and what to do.</summary>
    NotCarriedOver,

    /// <summary>A line that is wrong in itself (unknown setting, bad value); nothing of it was imported.</summary>
    Error,

    /// <summary>Carried over, but CtiBridge's setting means something slightly different; the note says how.</summary>
    Changed,
}

/// <summary>One line of the import's report: where, what and why.</summary>
/// <param name="File">The file's name.</param>
/// <param name="Line">The line number in it.</param>
/// <param name="Section">The queue (or agent, or general) section.</param>
/// <param name="Setting">The setting as written, e.g. <c>announce-frequency = 30</c>.</param>
/// <param name="Kind">Not carried over, or an error.</param>
/// <param name="Reason">Why, and what to do instead.</param>
public sealed record ImportNote(string File, int Line, string Section, string Setting, ImportNoteKind Kind, string Reason)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{File}:{Line}: [{Section}] {Setting}: {Kind switch { ImportNoteKind.Error => "error: ", ImportNoteKind.Changed => "carried over differently: ", _ => "not carried over: " }}{Reason}";
}

/// <summary>What an import produced: the <c>callControl</c> queues and agents, and every note.</summary>
/// <param name="Queues">One per app_queue queue.</param>
/// <param name="Agents">One per distinct static member interface.</param>
/// <param name="Notes">Every setting not carried over or wrong, in file order.</param>
public sealed record AppQueueImportResult(IReadOnlyList<CallQueueSettings> Queues, IReadOnlyList<CallAgentSettings> Agents, IReadOnlyList<ImportNote> Notes);

/// <summary>
/// Reads an app_queue site (<c>queues.conf</c>, optionally app_agent_pool's <c>agents.conf</c>) and
/// turns it into CtiBridge's <c>callControl</c> queues and agents, listing every setting it could not
/// carry over and why. Templates (<c>[name](template)</c>) are followed as Asterisk does.
/// </summary>
public static class AppQueueImport
{
    /// <summary>app_queue strategy names CtiBridge knows by another name.</summary>
    private static readonly Dictionary<string, string> StrategyAliases = new(StringComparer.OrdinalIgnoreCase)
    {
        // app_queue's old name for rrmemory.
        ["roundrobin"] = "rrmemory",
    };

    private const string CoreHasIt = "ctibridge.json has no setting for it yet, although the ACD core supports it";
    private const string PromptsLater = "queue announcements and prompts are not played by CtiBridge yet (docs/call-control.md, 'Not done yet'); CtiBridge will play its own prompts";
    private const string NotNeeded = "not needed: CtiBridge does the queueing itself and writes its own records and events";

    /// <summary>Every per-queue setting app_queue documents that CtiBridge does not take over, with the reason.</summary>
    private static readonly Dictionary<string, string> QueueSettingsNotCarried = new(StringComparer.OrdinalIgnoreCase)
    {
        ["autopause"] = "CtiBridge pauses an agent after 3 consecutive unanswered rings, for every queue (AcdConfiguration.AutoPauseAfterConsecutiveNoAnswers); not configurable per queue",
        ["autopausedelay"] = "CtiBridge's auto-pause counts unanswered rings, not time since the last call",
        ["autopauseunavail"] = "an unregistered desk phone is skipped; it is not an auto-pause reason",
        ["ringinuse"] = "CtiBridge never rings an agent who is on a call (it knows the agent's state itself)",
        ["servicelevel"] = "the service-level threshold is centre-wide: the settings table's metrics.service_level_seconds (docs/metrics.md)",
        ["announce"] = PromptsLater,
        ["announce-frequency"] = PromptsLater,
        ["min-announce-frequency"] = PromptsLater,
        ["periodic-announce"] = PromptsLater,
        ["periodic-announce-frequency"] = PromptsLater,
        ["random-periodic-announce"] = PromptsLater,
        ["relative-periodic-announce"] = PromptsLater,
        ["announce-holdtime"] = PromptsLater,
        ["announce-position"] = PromptsLater,
        ["announce-position-limit"] = PromptsLater,
        ["announce-position-only-up"] = PromptsLater,
        ["announce-round-seconds"] = PromptsLater,
        ["announce-to-first-user"] = PromptsLater,
        ["queue-youarenext"] = PromptsLater,
        ["queue-thereare"] = PromptsLater,
        ["queue-callswaiting"] = PromptsLater,
        ["queue-holdtime"] = PromptsLater,
        ["queue-minute"] = PromptsLater,
        ["queue-minutes"] = PromptsLater,
        ["queue-seconds"] = PromptsLater,
        ["queue-thankyou"] = PromptsLater,
        ["queue-reporthold"] = PromptsLater,
        ["queue-less-than"] = PromptsLater,
        ["reportholdtime"] = PromptsLater,
        ["context"] = "leaving the queue with a key (exit keys) is in the ACD core (QueueConfiguration.ExitKeys) but not configurable in ctibridge.json yet",
        ["timeoutpriority"] = "CtiBridge has one timeout (ringTimeout per agent); the Queue() application's own timeout is replaced by overflow rules (not configurable yet)",
        ["timeoutrestart"] = "CtiBridge restarts nothing on a busy agent: it rings the next one",
        ["memberdelay"] = "CtiBridge connects the caller as soon as the agent answers",
        ["penaltymemberslimit"] = "CtiBridge applies penalties (tiers) whatever the queue's size",
        ["defaultrule"] = $"{CoreHasIt} (penalty widening, QueueConfiguration.PenaltySteps); queuerules.conf is not read",
        ["strategy-options"] = "no app_queue strategy options exist in CtiBridge",
        ["autofill"] = "CtiBridge always offers waiting calls to every ready agent at once",
        ["monitor-type"] = "call recording is done by CtiBridge (MixMonitor) and is not configured per queue yet",
        ["monitor-format"] = "call recording is done by CtiBridge (MixMonitor) and is not configured per queue yet",
        ["recording"] = "call recording is done by CtiBridge (MixMonitor) and is not configured per queue yet",
        ["membergosub"] = "CtiBridge runs no dialplan on the agent's leg",
        ["membermacro"] = "CtiBridge runs no dialplan on the agent's leg",
        ["setinterfacevar"] = NotNeeded,
        ["setqueueentryvar"] = NotNeeded,
        ["setqueuevar"] = NotNeeded,
        ["eventwhencalled"] = NotNeeded,
        ["eventmemberstatus"] = NotNeeded,
        ["updatecdr"] = NotNeeded,
        ["log-restricted-caller-id"] = NotNeeded,
        ["ringinuse-on-hold"] = "CtiBridge never rings an agent who is on a call",
    };

    /// <summary>[general] settings of queues.conf.</summary>
    private static readonly Dictionary<string, string> GeneralSettings = new(StringComparer.OrdinalIgnoreCase)
    {
        ["persistentmembers"] = "agents log in to CtiBridge (API or desk-phone feature code); their state is CtiBridge's, not astdb's",
        ["autofill"] = "CtiBridge always offers waiting calls to every ready agent at once",
        ["monitor-type"] = "call recording is done by CtiBridge (MixMonitor)",
        ["updatecdr"] = NotNeeded,
        ["shared_lastcall"] = "CtiBridge counts an agent's last call across all queues",
        ["negative_penalty_invalid"] = "CtiBridge refuses negative penalties in any case (check-config); a negative member penalty is reported where it is written",
        ["log_membername_as_agent"] = "CtiBridge's records and its queue_log export name agents by their agent ID",
        ["force_longest_waiting_caller"] = "CtiBridge always offers the longest-waiting caller of the highest priority first",
        ["log_caller_id_name"] = NotNeeded,
        ["log_unpause_on_reason_change"] = NotNeeded,
        ["keepstats"] = "CtiBridge keeps its statistics per day in PostgreSQL",
    };

    private static readonly string[] CarriedQueueSettings = ["strategy", "timeout", "retry", "wrapuptime", "musicclass", "musiconhold", "member", "weight", "maxlen", "joinempty", "leavewhenempty", "autopausebusy"];

    /// <summary>Every per-queue setting the import knows (carried over or not), for tests that check a site uses them all.</summary>
    internal static IEnumerable<string> KnownQueueSettings => QueueSettingsNotCarried.Keys.Concat(CarriedQueueSettings);

    /// <summary>Every [general] setting the import knows.</summary>
    internal static IEnumerable<string> KnownGeneralSettings => GeneralSettings.Keys;

    /// <summary>Imports <paramref name="queuesConf"/> (and <paramref name="agentsConf"/>, app_agent_pool's agents.conf, when given).</summary>
    /// <exception cref="FormatException">A file is not in Asterisk's configuration format (the message names file and line).</exception>
    public static AppQueueImportResult Import(AsteriskConfigFile queuesConf, AsteriskConfigFile? agentsConf = null)
    {
        ArgumentNullException.ThrowIfNull(queuesConf);
        var notes = new List<ImportNote>();
        var strategies = new DistributionStrategies().Names;
        var queues = new List<CallQueueSettings>();
        var agents = new List<CallAgentSettings>();
        var agentNames = AgentNames(agentsConf, notes);
        var knownQueueSettings = QueueSettingsNotCarried.Keys.Concat(CarriedQueueSettings).ToList();

        foreach (var section in queuesConf.Sections.Where(s => !s.IsTemplate))
        {
            var file = queuesConf.Name;
            if (string.Equals(section.Name, "general", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var entry in section.Entries)
                {
                    notes.Add(GeneralSettings.TryGetValue(entry.Key, out var why)
                        ? new ImportNote(file, entry.Line, "general", Written(entry), ImportNoteKind.NotCarriedOver, why)
                        : new ImportNote(file, entry.Line, "general", Written(entry), ImportNoteKind.Error,
                            $"not a [general] setting of app_queue{SpellingSuggestion.DidYouMean(entry.Key, GeneralSettings.Keys)}"));
                }

                continue;
            }

            var queue = new CallQueueSettings { Name = section.Name };
            foreach (var entry in Effective(queuesConf, section))
            {
                var key = entry.Key.ToLowerInvariant();
                var value = entry.Value.Trim();
                void Note(ImportNoteKind kind, string reason) => notes.Add(new ImportNote(file, entry.Line, section.Name, Written(entry), kind, reason));
                switch (key)
                {
                    case "strategy":
                        var strategy = StrategyAliases.GetValueOrDefault(value, value.ToLowerInvariant());
                        if (strategies.Contains(strategy, StringComparer.Ordinal))
                        {
                            queue.Strategy = strategy;
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not an app_queue strategy CtiBridge knows ({string.Join(", ", strategies)}){SpellingSuggestion.DidYouMean(value, strategies)}; kept '{queue.Strategy}'");
                        }

                        break;
                    case "timeout":
                        if (Seconds(value) is { } timeout && timeout > 0)
                        {
                            queue.RingTimeout = TimeSpan.FromSeconds(timeout);
                        }
                        else if (Seconds(value) == 0)
                        {
                            Note(ImportNoteKind.NotCarriedOver, $"0 means 'ring until the Queue() timeout' in app_queue; CtiBridge needs a ring timeout per agent, kept {queue.RingTimeout.TotalSeconds:0} s");
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not a number of seconds; kept {queue.RingTimeout.TotalSeconds:0} s");
                        }

                        break;
                    case "retry":
                        if (Seconds(value) is { } retry && retry >= 0)
                        {
                            queue.RetryAfterNoAnswer = TimeSpan.FromSeconds(retry);
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not a number of seconds; kept {queue.RetryAfterNoAnswer.TotalSeconds:0} s");
                        }

                        break;
                    case "wrapuptime":
                        if (Seconds(value) is { } wrapUp && wrapUp >= 0)
                        {
                            queue.WrapUp = TimeSpan.FromSeconds(wrapUp);
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not a number of seconds; kept {queue.WrapUp.TotalSeconds:0} s");
                        }

                        break;
                    case "musicclass":
                    case "musiconhold":
                        queue.MusicOnHold = value;
                        break;
                    case "autopausebusy":
                        if (value.ToLowerInvariant() is "yes" or "true" or "1" or "no" or "false" or "0")
                        {
                            queue.AutoPauseBusy = value.ToLowerInvariant() is "yes" or "true" or "1";
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not yes or no; kept {(queue.AutoPauseBusy ? "yes" : "no")}");
                        }

                        break;
                    case "member":
                        Member(value, queue.Name, agents, agentNames, Note);
                        break;
                    case "weight":
                        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var weight))
                        {
                            // app_queue's default 0 is CtiBridge's default 1: same order between queues.
                            queue.Weight = weight + 1;
                            if (weight > 0)
                            {
                                Note(ImportNoteKind.Changed, $"weight {queue.Weight}: app_queue offers a higher-weight queue's callers strictly first; CtiBridge counts their waits {queue.Weight} times when an agent of several queues picks the next call");
                            }
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not a whole number ≥ 0; kept weight {queue.Weight}");
                        }

                        break;
                    case "maxlen":
                        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var maxLength))
                        {
                            queue.MaxWaiting = maxLength;
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{value}' is not a whole number ≥ 0 (0 = no limit); kept maxWaiting {queue.MaxWaiting}");
                        }

                        break;
                    case "joinempty":
                    case "leavewhenempty":
                        var join = key == "joinempty";
                        if (EmptyCondition(value, out var condition, out var ignored, out var unknown))
                        {
                            if (join)
                            {
                                queue.RefuseJoinWhen = condition;
                            }
                            else
                            {
                                queue.LeaveWhen = condition;
                            }

                            if (ignored.Count > 0)
                            {
                                Note(ImportNoteKind.Changed,
                                    $"{(join ? "refuseJoinWhen" : "leaveWhen")} {condition ?? "(never)"}: CtiBridge calls a queue empty by its agents being logged out{(condition == "noAgentsServing" ? " or paused" : "")} only; {string.Join(", ", ignored)} {(ignored.Count == 1 ? "is" : "are")} not taken into account");
                            }
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"'{unknown}' is not a {key} condition (yes, no, strict, loose, or a list of paused, penalty, inuse, ringing, unavailable, invalid, unknown, wrapup); callers {(join ? "always join" : "stay")}");
                        }

                        break;
                    default:
                        if (QueueSettingsNotCarried.TryGetValue(key, out var why))
                        {
                            Note(ImportNoteKind.NotCarriedOver, why);
                        }
                        else
                        {
                            Note(ImportNoteKind.Error, $"not an app_queue setting{SpellingSuggestion.DidYouMean(key, knownQueueSettings)}");
                        }

                        break;
                }
            }

            queues.Add(queue);
        }

        if (agents.Count > 0)
        {
            notes.Add(new ImportNote(queuesConf.Name, 0, "agents", "pinHash", ImportNoteKind.NotCarriedOver,
                "app_queue members have no PIN: give each imported agent a pinHash (read -s PIN; echo \"$PIN\" | ctibridge pin-hash); check-config refuses the file until then"));
        }

        return new AppQueueImportResult(queues, agents, notes.OrderBy(n => n.Line == 0 ? int.MaxValue : n.Line).ToList());
    }

    /// <summary>A section's entries with its templates' entries first (later templates and the section itself win for settings; members add up).</summary>
    private static IEnumerable<AsteriskConfigEntry> Effective(AsteriskConfigFile file, AsteriskConfigSection section)
    {
        var inherited = new List<AsteriskConfigEntry>();
        foreach (var template in section.Templates)
        {
            var parent = file.Sections.LastOrDefault(s => s.IsTemplate && string.Equals(s.Name, template, StringComparison.OrdinalIgnoreCase) && s.Line < section.Line);
            if (parent is not null)
            {
                inherited.AddRange(Effective(file, parent));
            }
        }

        var own = section.Entries;
        var overridden = own.Where(e => !e.IsObjectLine).Select(e => e.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return inherited.Where(e => e.IsObjectLine || !overridden.Contains(e.Key)).Concat(own);
    }

    /// <summary>
    /// <c>member =&gt; interface,penalty,membername,state_interface,ringinuse,wrapuptime,paused</c>:
    /// the interface becomes (or joins) an agent whose desk phone it is.
    /// </summary>
    private static void Member(string value, string queue, List<CallAgentSettings> agents, Dictionary<string, string> agentNames, Action<ImportNoteKind, string> note)
    {
        var fields = value.Split(',').Select(f => f.Trim()).ToArray();
        var device = fields[0];
        var slash = device.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == device.Length - 1)
        {
            note(ImportNoteKind.Error, $"'{device}' is not an interface such as PJSIP/1001; member not imported");
            return;
        }

        var technology = device[..slash];
        var resource = device[(slash + 1)..];
        var id = resource.Split('@', 2)[0];
        var isAgentChannel = string.Equals(technology, "Agent", StringComparison.OrdinalIgnoreCase);
        var agent = agents.Find(a => string.Equals(a.Extension, device, StringComparison.OrdinalIgnoreCase)
            || (isAgentChannel && a.Id == id && a.Extension.Length == 0));
        if (agent is null)
        {
            if (agents.Any(a => a.Id == id))
            {
                id = $"{id}-{technology.ToLowerInvariant()}";
            }

            agent = new CallAgentSettings
            {
                Id = id,
                Name = fields.Length > 2 && fields[2].Length > 0 ? fields[2] : agentNames.GetValueOrDefault(id),
                Extension = isAgentChannel ? string.Empty : device,
            };
            agents.Add(agent);
            if (isAgentChannel)
            {
                note(ImportNoteKind.NotCarriedOver,
                    $"{device} is an app_agent_pool agent who logs in from any phone; CtiBridge rings a fixed desk phone: set callControl.agents[] id '{id}' extension (e.g. PJSIP/1001)");
            }
        }

        if (!agent.Queues.Contains(queue, StringComparer.Ordinal))
        {
            agent.Queues.Add(queue);
        }

        if (fields.Length > 1 && fields[1].Length > 0)
        {
            if (int.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var penalty) && penalty >= 0)
            {
                if (penalty > 0)
                {
                    agent.Penalties[queue] = penalty;
                }
            }
            else
            {
                note(ImportNoteKind.Error, $"penalty '{fields[1]}' is not a whole number ≥ 0; the agent is in '{queue}' with penalty 0");
            }
        }

        if (fields.Length > 3 && fields[3].Length > 0 && !string.Equals(fields[3], device, StringComparison.OrdinalIgnoreCase))
        {
            note(ImportNoteKind.NotCarriedOver, $"state interface {fields[3]}: CtiBridge knows whether the agent is busy from its own calls; AMI device states are not read yet");
        }

        if (fields.Length > 4 && fields[4].Length > 0)
        {
            note(ImportNoteKind.NotCarriedOver, $"ringinuse {fields[4]}: CtiBridge never rings an agent who is on a call");
        }

        if (fields.Length > 5 && fields[5].Length > 0 && fields[5] != "0")
        {
            note(ImportNoteKind.NotCarriedOver, $"member wrapuptime {fields[5]}: CtiBridge's wrap-up is per queue (wrapUp)");
        }

        if (fields.Length > 6 && fields[6] is "1" or "yes" or "true")
        {
            note(ImportNoteKind.NotCarriedOver, "paused: agents start logged out in CtiBridge and log in (and pause) themselves");
        }
    }

    /// <summary>
    /// app_queue's joinempty/leavewhenempty value as CtiBridge's condition: a list with <c>paused</c>
    /// becomes <c>noAgentsServing</c>, one with <c>unavailable</c>, <c>invalid</c> or <c>unknown</c>
    /// (the agent's phone is not there, i.e. not logged in) <c>noAgentsLoggedIn</c>; the other
    /// conditions have no counterpart and are returned in <paramref name="ignored"/>.
    /// </summary>
    private static bool EmptyCondition(string value, out string? condition, out List<string> ignored, out string? unknown)
    {
        var words = value.ToLowerInvariant() switch
        {
            "yes" or "" => [],
            // app_queue's old words, as its sample queues.conf spells them out.
            "no" => ["penalty", "paused", "invalid"],
            "strict" => ["penalty", "paused", "invalid", "unavailable"],
            "loose" => ["penalty", "invalid"],
            var list => list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
        };
        string[] known = ["paused", "penalty", "inuse", "ringing", "unavailable", "invalid", "unknown", "wrapup"];
        unknown = words.FirstOrDefault(w => !known.Contains(w, StringComparer.Ordinal));
        condition = words.Contains("paused") ? "noAgentsServing"
            : words.Any(w => w is "unavailable" or "invalid" or "unknown") ? "noAgentsLoggedIn"
            : null;
        ignored = [.. words.Where(w => w is "penalty" or "inuse" or "ringing" or "wrapup").Distinct()];
        return unknown is null;
    }

    /// <summary>agents.conf (app_agent_pool): agent ID → fullname.</summary>
    private static Dictionary<string, string> AgentNames(AsteriskConfigFile? agentsConf, List<ImportNote> notes)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        if (agentsConf is null)
        {
            return names;
        }

        foreach (var section in agentsConf.Sections.Where(s => !s.IsTemplate && !string.Equals(s.Name, "general", StringComparison.OrdinalIgnoreCase)))
        {
            if (agentsConf.Resolve(section, "fullname") is { Length: > 0 } fullName)
            {
                names[section.Name] = fullName;
            }

            foreach (var entry in Effective(agentsConf, section).Where(e => !string.Equals(e.Key, "fullname", StringComparison.OrdinalIgnoreCase)))
            {
                notes.Add(new ImportNote(agentsConf.Name, entry.Line, section.Name, Written(entry), ImportNoteKind.NotCarriedOver, entry.Key.ToLowerInvariant() switch
                {
                    "ackcall" or "acceptdtmf" => "the agent answers the desk phone itself; no acknowledgement key",
                    "autologoff" or "autologoffunavail" => "CtiBridge pauses an agent after 3 consecutive unanswered rings instead of logging them off",
                    "wrapuptime" => "CtiBridge's wrap-up is per queue (wrapUp)",
                    "musiconhold" => "agents wait for calls on their desk phone, not on a held channel",
                    "recordagentcalls" => "call recording is done by CtiBridge (MixMonitor)",
                    "custom_beep" => "agents hear their desk phone ring",
                    _ => "not an agents.conf setting CtiBridge uses",
                }));
            }
        }

        return names;
    }

    private static double? Seconds(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? seconds : null;

    private static string Written(AsteriskConfigEntry entry) => $"{entry.Key} {(entry.IsObjectLine ? "=>" : "=")} {entry.Value}";
}
