using CtiBridge.Core.Acd;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// The <c>callControl</c> section: queues, agents and which DID goes to which queue. With no queue
/// configured, call control stays off (the service still runs its API and connections).
/// </summary>
public sealed class CallControlSettings
{
    /// <summary>The queues calls wait in.</summary>
    public List<CallQueueSettings> Queues { get; set; } = [];

    /// <summary>The agents who may log in, with their desk phones.</summary>
    public List<CallAgentSettings> Agents { get; set; } = [];

    /// <summary>Dialled numbers and the queue each goes to (full IVR plans come later).</summary>
    public List<DidRouteSettings> Dids { get; set; } = [];

    /// <summary>
    /// Where call records wait durably while PostgreSQL is unreachable (file <c>call-records.journal</c>);
    /// they are written to the database as soon as it answers again.
    /// </summary>
    public string RecordJournalDirectory { get; set; } = "/var/lib/ctibridge";

    /// <summary>Largest size of that journal in MiB; beyond it new records are refused and logged.</summary>
    public int RecordJournalMaxMegabytes { get; set; } = 256;

    /// <summary>True when a queue is configured, so the Stasis app should run.</summary>
    public bool IsEnabled => Queues.Count > 0;
}

/// <summary>One queue.</summary>
public sealed class CallQueueSettings
{
    /// <summary>Queue name (shown to the agent as <c>[name]</c> before the caller's name).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>Distribution strategy (app_queue names: leastrecent, ringall, rrmemory, ...).</summary>
    public string Strategy { get; set; } = "leastrecent";

    /// <summary>How long an agent's phone rings before the next agent is tried.</summary>
    public TimeSpan RingTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long an agent who rang without answering is skipped for the same call.</summary>
    public TimeSpan RetryAfterNoAnswer { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Wrap-up time after a call of this queue.</summary>
    public TimeSpan WrapUp { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Music-on-hold class waiting callers hear.</summary>
    public string MusicOnHold { get; set; } = "default";
}

/// <summary>One agent.</summary>
public sealed class CallAgentSettings
{
    /// <summary>Agent ID (工号).</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>Display name.</summary>
    public string? Name { get; set; }

    /// <summary>The desk phone's endpoint, e.g. <c>PJSIP/1001</c>.</summary>
    public string Extension { get; set; } = string.Empty;

    /// <summary>PIN hash from <c>AgentPin.Hash</c> (<c>pbkdf2-sha256$…</c>); never the PIN itself.</summary>
    public string PinHash { get; set; } = string.Empty;

    /// <summary>Queues the agent serves.</summary>
    public List<string> Queues { get; set; } = [];
}

/// <summary>One dialled number and its queue.</summary>
public sealed class DidRouteSettings
{
    /// <summary>The DID as Asterisk passes it (<c>Stasis(ctibridge,inbound,${EXTEN})</c>).</summary>
    public string Number { get; set; } = string.Empty;

    /// <summary>The queue the call goes to.</summary>
    public string Queue { get; set; } = string.Empty;
}

/// <summary>Checks the <c>callControl</c> section and turns it into the ACD core's configuration.</summary>
public static class CallControlConfiguration
{
    /// <summary>Adds one problem per invalid value, each naming its setting.</summary>
    public static void Validate(CallControlSettings settings, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        var strategies = new DistributionStrategies().Names;
        var queueNames = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Queues.Count; i++)
        {
            var queue = settings.Queues[i];
            var at = $"callControl.queues[{i}]";
            if (string.IsNullOrWhiteSpace(queue.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", "is required (e.g. \"support\")"));
            }
            else if (!queueNames.Add(queue.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", $"queue '{queue.Name}' is configured twice"));
            }

            if (!strategies.Contains(queue.Strategy, StringComparer.Ordinal))
            {
                problems.Add(new SettingsProblem($"{at}.strategy", $"'{queue.Strategy}' is not a strategy ({string.Join(", ", strategies)}){SpellingSuggestion.DidYouMean(queue.Strategy, strategies)}"));
            }

            Positive(queue.RingTimeout, $"{at}.ringTimeout", problems);
            NotNegative(queue.RetryAfterNoAnswer, $"{at}.retryAfterNoAnswer", problems);
            NotNegative(queue.WrapUp, $"{at}.wrapUp", problems);
            if (string.IsNullOrWhiteSpace(queue.MusicOnHold))
            {
                problems.Add(new SettingsProblem($"{at}.musicOnHold", "is required (a class from musiconhold.conf, e.g. \"default\")"));
            }
        }

        var agentIds = new HashSet<string>(StringComparer.Ordinal);
        var extensions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < settings.Agents.Count; i++)
        {
            var agent = settings.Agents[i];
            var at = $"callControl.agents[{i}]";
            if (string.IsNullOrWhiteSpace(agent.Id))
            {
                problems.Add(new SettingsProblem($"{at}.id", "is required (the agent ID, e.g. \"2001\")"));
            }
            else if (!agentIds.Add(agent.Id))
            {
                problems.Add(new SettingsProblem($"{at}.id", $"agent '{agent.Id}' is configured twice"));
            }

            var slash = agent.Extension.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == agent.Extension.Length - 1 || agent.Extension.Any(char.IsWhiteSpace))
            {
                problems.Add(new SettingsProblem($"{at}.extension", $"'{agent.Extension}' is not a dialable endpoint; write it as TECH/resource, e.g. \"PJSIP/1001\""));
            }
            else if (extensions.TryGetValue(agent.Extension, out var other))
            {
                problems.Add(new SettingsProblem($"{at}.extension", $"'{agent.Extension}' is already the phone of agent '{other}'"));
            }
            else
            {
                extensions[agent.Extension] = agent.Id;
            }

            if (!AgentPin.IsWellFormed(agent.PinHash))
            {
                problems.Add(new SettingsProblem($"{at}.pinHash", "is not a PIN hash; create one with AgentPin.Hash (pbkdf2-sha256$iterations$salt$hash), never write the PIN itself"));
            }

            if (agent.Queues.Count == 0)
            {
                problems.Add(new SettingsProblem($"{at}.queues", "lists no queue; the agent would never get a call"));
            }

            for (var q = 0; q < agent.Queues.Count; q++)
            {
                QueueExists(agent.Queues[q], $"{at}.queues[{q}]", queueNames, problems);
            }
        }

        var numbers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Dids.Count; i++)
        {
            var did = settings.Dids[i];
            var at = $"callControl.dids[{i}]";
            if (string.IsNullOrWhiteSpace(did.Number))
            {
                problems.Add(new SettingsProblem($"{at}.number", "is required (the dialled number, e.g. \"4008001\")"));
            }
            else if (!numbers.Add(did.Number))
            {
                problems.Add(new SettingsProblem($"{at}.number", $"DID '{did.Number}' is routed twice"));
            }

            QueueExists(did.Queue, $"{at}.queue", queueNames, problems);
        }

        if (settings.IsEnabled && string.IsNullOrWhiteSpace(settings.RecordJournalDirectory))
        {
            problems.Add(new SettingsProblem("callControl.recordJournalDirectory", "is required (a directory only CtiBridge writes, e.g. \"/var/lib/ctibridge\")"));
        }

        if (settings.RecordJournalMaxMegabytes < 1)
        {
            problems.Add(new SettingsProblem("callControl.recordJournalMaxMegabytes", $"{settings.RecordJournalMaxMegabytes} must be at least 1"));
        }

        if (settings.Queues.Count == 0 && (settings.Agents.Count > 0 || settings.Dids.Count > 0))
        {
            problems.Add(new SettingsProblem("callControl.queues", "lists no queue, but agents or DIDs are configured; add the queues they refer to"));
        }
    }

    /// <summary>The ACD core's configuration for these settings (validated first).</summary>
    public static AcdConfiguration ToAcdConfiguration(CallControlSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new AcdConfiguration
        {
            Queues = settings.Queues.Select(q => new QueueConfiguration
            {
                Name = q.Name,
                Strategy = q.Strategy,
                RingTimeout = q.RingTimeout,
                RetryAfterNoAnswer = q.RetryAfterNoAnswer,
                WrapUp = q.WrapUp,

                // Position announcements and prompts need playback-over-MOH handling that is not built yet.
                Experience = new CallerExperience
                {
                    MusicOnHoldClass = q.MusicOnHold,
                    AnnouncePositionOnJoin = false,
                    PositionAnnouncementPeriod = null,
                    AnnounceExpectedWait = false,
                },
            }).ToList(),
            Agents = settings.Agents.Select(a => new AgentProfile
            {
                AgentId = a.Id,
                Name = a.Name,
                PinHash = a.PinHash,
                Queues = a.Queues.Select(q => new QueueMembership(q)).ToList(),
            }).ToList(),
        };
    }

    private static void QueueExists(string queue, string path, HashSet<string> queues, List<SettingsProblem> problems)
    {
        if (!queues.Contains(queue))
        {
            problems.Add(new SettingsProblem(path, $"queue '{queue}' is not configured in callControl.queues{SpellingSuggestion.DidYouMean(queue, queues)}"));
        }
    }

    private static void Positive(TimeSpan value, string path, List<SettingsProblem> problems)
    {
        if (value <= TimeSpan.Zero)
        {
            problems.Add(new SettingsProblem(path, $"{value} must be longer than zero"));
        }
    }

    private static void NotNegative(TimeSpan value, string path, List<SettingsProblem> problems)
    {
        if (value < TimeSpan.Zero)
        {
            problems.Add(new SettingsProblem(path, $"{value} must not be negative"));
        }
    }
}
