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

    /// <summary>Dialled numbers and the queue or IVR plan each goes to.</summary>
    public List<DidRouteSettings> Dids { get; set; } = [];

    /// <summary>IVR routing plans and their calendars (reloadable without a restart).</summary>
    public IvrSettings Ivr { get; set; } = new();

    /// <summary>Who is calling (VIP, member, blacklist, own agent, language); none when not set.</summary>
    public CustomerLookupSettings? CustomerLookup { get; set; }

    /// <summary>How an external number (IVR <c>external</c> node, overflow to a mobile) is dialled: an endpoint with a <c>{number}</c> placeholder.</summary>
    public string ExternalEndpoint { get; set; } = "PJSIP/{number}@carrier";

    /// <summary>Asterisk's directory of stored recordings (<c>astspooldir/recording</c>): voicemail paths in the records point there.</summary>
    public string RecordingDirectory { get; set; } = "/var/spool/asterisk/recording";

    /// <summary>
    /// Where call records wait durably while PostgreSQL is unreachable (file <c>call-records.journal</c>);
    /// they are written to the database as soon as it answers again.
    /// </summary>
    public string RecordJournalDirectory { get; set; } = "/var/lib/ctibridge";

    /// <summary>Largest size of that journal in MiB; beyond it new records are refused and logged.</summary>
    public int RecordJournalMaxMegabytes { get; set; } = 256;

    /// <summary>Record every conversation with an agent (a bridge recording per agent, linked to the call record).</summary>
    public bool RecordCalls { get; set; } = true;

    /// <summary>Audio format of call recordings (<c>wav</c>, <c>gsm</c>, <c>ulaw</c>, <c>alaw</c>, <c>sln</c>, <c>wav49</c>).</summary>
    public string RecordingFormat { get; set; } = "wav";

    /// <summary>Desk-phone feature codes and their prompts (<c>Stasis(ctibridge,feature,&lt;code&gt;)</c>).</summary>
    public FeatureCodeSettings FeatureCodes { get; set; } = new();

    /// <summary>Supervisors who may listen, whisper and barge from their phones (<c>Stasis(ctibridge,supervisor,&lt;code&gt;)</c>).</summary>
    public List<SupervisorSettings> Supervisors { get; set; } = [];

    /// <summary>What happens to calls when the service stops (docs/service.md, stopping).</summary>
    public ShutdownSettings Shutdown { get; set; } = new();

    /// <summary>
    /// Limits of the outside number and voicemail that queue overflows, direct-to-agent fallbacks and
    /// blind transfers to an outside number send a call to (IVR nodes carry their own).
    /// </summary>
    public FallbackSettings Fallback { get; set; } = new();

    /// <summary>
    /// Run call control under the PostgreSQL lease of each Asterisk server (docs/high-availability.md):
    /// for two or more instances on one database. Off (default) for a single instance, which then keeps
    /// controlling calls while PostgreSQL is unreachable (records wait in the journal); on, an instance
    /// that cannot reach PostgreSQL stops call control at once, so two instances never both act.
    /// </summary>
    public bool HighAvailability { get; set; }

    /// <summary>
    /// The Asterisk servers (<c>asterisk[].name</c>) this instance controls, when servers are split between
    /// instances (docs/sites.md, "Splitting servers between instances"): it takes the leases and runs the Stasis
    /// apps of these only, and its ACD holds only the agents whose phones are on them. Empty (default): every
    /// configured server.
    /// </summary>
    public List<string> Servers { get; set; } = [];

    /// <summary>True when a queue is configured, so the Stasis app should run.</summary>
    public bool IsEnabled => Queues.Count > 0;

    /// <summary>
    /// The servers this instance controls, by their names in <paramref name="asterisk"/>: those of <see cref="Servers"/>,
    /// or all of them when it lists none. Spelt as in <c>asterisk[]</c>.
    /// </summary>
    public IReadOnlyList<string> ControlledServers(IReadOnlyList<AsteriskServerSettings> asterisk)
    {
        ArgumentNullException.ThrowIfNull(asterisk);
        return Servers.Count == 0
            ? [.. asterisk.Select(s => s.Name)]
            : [.. asterisk.Select(s => s.Name).Where(n => Servers.Contains(n, StringComparer.OrdinalIgnoreCase))];
    }

    /// <summary>
    /// These settings as this instance's ACD holds them: only the agents whose phones are on
    /// <paramref name="controlled"/> (null: all, and the settings themselves). The rest is shared.
    /// </summary>
    internal CallControlSettings OwnPart(IReadOnlyCollection<string>? controlled)
    {
        if (controlled is null)
        {
            return this;
        }

        var part = (CallControlSettings)MemberwiseClone();
        part.Agents = [.. Agents.Where(a => a.Server is { } server && controlled.Contains(server, StringComparer.OrdinalIgnoreCase))];
        return part;
    }
}

/// <summary>
/// Stopping gracefully: new calls go back to the dialplan at once, calls not yet with an agent too;
/// conversations get up to <see cref="CallsFinishWithin"/> to end, then the callers still on the
/// line are handed back to the dialplan (ARI continue) at <see cref="HandBackContext"/>, the DID.
/// </summary>
public sealed class ShutdownSettings
{
    /// <summary>How long conversations in progress may go on after a stop is asked for. Default 30 s; 0 hands them back at once.</summary>
    public TimeSpan CallsFinishWithin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The dialplan context calls are handed back to (extension: the DID, priority 1). Default <c>ctibridge-fallback</c>, as in asterisk-config/extensions.conf.</summary>
    public string HandBackContext { get; set; } = "ctibridge-fallback";

    /// <summary>
    /// Whether a stop hands calls back to the dialplan (default). False leaves them in the Stasis
    /// app for the next instance to adopt (a restart, or an HA standby taking over: docs/high-availability.md).
    /// </summary>
    public bool HandBackCalls { get; set; } = true;
}

/// <summary>
/// Limits for the targets a call is sent to without an IVR node that would carry its own: a queue's
/// overflow (<c>external:</c>, <c>voicemail:</c>), a direct-to-agent DID's fallback, a blind transfer
/// to an outside number.
/// </summary>
public sealed class FallbackSettings
{
    /// <summary>How long an outside number rings before the caller is released. Default 30 s (1 s to 10 min).</summary>
    public TimeSpan ExternalRingTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest voicemail message recorded. Default 120 s (5 s to 1 h).</summary>
    public TimeSpan VoicemailMaxMessage { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Bounds checked at load (and at every reload).</summary>
    internal static readonly (TimeSpan Min, TimeSpan Max) ExternalRingBounds = (TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));

    /// <summary>Bounds checked at load (and at every reload).</summary>
    internal static readonly (TimeSpan Min, TimeSpan Max) VoicemailBounds = (TimeSpan.FromSeconds(5), TimeSpan.FromHours(1));
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

    /// <summary>
    /// Whether a ring the agent's phone answers busy counts toward auto-pause (3 unanswered rings in a row), as
    /// app_queue's <c>autopausebusy</c>. Default false, as Asterisk's: the call rings the next agent at once, and
    /// the agent, on a private call perhaps, is not paused for it.
    /// </summary>
    public bool AutoPauseBusy { get; set; }

    /// <summary>Wrap-up time after a call of this queue.</summary>
    public TimeSpan WrapUp { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Music-on-hold class waiting callers hear.</summary>
    public string MusicOnHold { get; set; } = "default";

    /// <summary>Sound played when the caller joins (MOH stops for it and starts again); none when empty.</summary>
    public string? JoinPrompt { get; set; }

    /// <summary>Announce the caller's position (and expected wait) on joining and every <see cref="AnnouncementPeriod"/>.</summary>
    public bool AnnouncePosition { get; set; }

    /// <summary>How often the position is announced again. Default 60 s.</summary>
    public TimeSpan AnnouncementPeriod { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Include the expected wait in position announcements.</summary>
    public bool AnnounceExpectedWait { get; set; } = true;

    /// <summary>A sound repeated every <see cref="PeriodicPromptPeriod"/> (e.g. "press 1 for a callback"); none when empty.</summary>
    public string? PeriodicPrompt { get; set; }

    /// <summary>Period of <see cref="PeriodicPrompt"/>. Default 45 s.</summary>
    public TimeSpan PeriodicPromptPeriod { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Tell the caller the agent's ID before connecting (座席自动报工号).</summary>
    public bool AnnounceAgentId { get; set; }

    /// <summary>Priority of VIP callers (customer lookup or IVR). Default 10.</summary>
    public int VipPriority { get; set; } = 10;

    /// <summary>For strategy <c>sticky</c>: how long a call waits for the caller's own agent. Default 20 s.</summary>
    public TimeSpan StickyWait { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Most calls waiting; more overflow with <c>queueFull</c>. 0 = no limit (app_queue maxlen).</summary>
    public int MaxWaiting { get; set; }

    /// <summary>
    /// For an agent in several queues: this queue's callers' waits count this many times when the
    /// agent's next call is picked (app_queue weight, which the import carries as weight + 1).
    /// Default 1; must be positive.
    /// </summary>
    public double Weight { get; set; } = 1;

    /// <summary>
    /// Refuse a new caller (who overflows with <c>noAgents</c>) when <c>noAgentsLoggedIn</c>: no
    /// member agent is logged in, or <c>noAgentsServing</c>: none is logged in and unpaused
    /// (app_queue joinempty). None when empty: callers always join.
    /// </summary>
    public string? RefuseJoinWhen { get; set; }

    /// <summary>Waiting callers leave (overflow with <c>noAgents</c>) when this becomes true; same values as <see cref="RefuseJoinWhen"/> (app_queue leavewhenempty).</summary>
    public string? LeaveWhen { get; set; }

    /// <summary>Keys a waiting caller may press to leave the queue.</summary>
    public List<QueueExitKeySettings> ExitKeys { get; set; } = [];

    /// <summary>
    /// Who is called first when this queue's callbacks are placed: <c>agentFirst</c> (the default: an agent is
    /// reserved and rung, then the customer, who never waits) or <c>customerFirst</c> (the customer, on music,
    /// then the reserved agent). Applies to every callback of the queue that does not choose for itself: the
    /// callback key, abandoned calls, voicemails, and API/CLI requests without a mode (docs/callbacks.md §1).
    /// </summary>
    public string? CallbackMode { get; set; }

    /// <summary>Where calls go when they cannot (or did not) get an agent here.</summary>
    public List<QueueOverflowSettings> Overflow { get; set; } = [];

    /// <summary>
    /// Screen-pop URL template for the agent's desktop, e.g.
    /// <c>https://crm.example.com/pop?number={callerNumber}&amp;call={callId}</c> (docs/api.md, screen pop); none when empty.
    /// </summary>
    public string? ScreenPopUrl { get; set; }

    /// <summary>After the agent hangs up, the caller rates the call (1–10); null: the caller is released with the agent.</summary>
    public SurveySettings? Survey { get; set; }

    /// <summary>
    /// Several Asterisk servers: whether a call may be offered to agents on any server (through the
    /// caller's server's trunk to the agent's server, <c>asterisk[].trunks</c>) instead of only to
    /// agents on the caller's server. Default false (docs/sites.md).
    /// </summary>
    public bool SpanServers { get; set; }
}

/// <summary>A key that takes a waiting caller out of the queue.</summary>
public sealed class QueueExitKeySettings
{
    /// <summary>The key: 0-9, * or #.</summary>
    public string Key { get; set; } = string.Empty;

    /// <summary>Target: <c>callback</c>, <c>voicemail:800</c>, <c>queue:backup</c>, <c>number:13800001111</c> or <c>hangup[:sound]</c>.</summary>
    public string Target { get; set; } = string.Empty;
}

/// <summary>An overflow rule of a queue.</summary>
public sealed class QueueOverflowSettings
{
    /// <summary>When: <c>waitExceeded</c> (after <see cref="After"/>), <c>noAnswer</c> (after <see cref="Attempts"/> rings), <c>queueFull</c>, <c>noAgents</c>, <c>closed</c>.</summary>
    public string When { get; set; } = string.Empty;

    /// <summary>For <c>waitExceeded</c>: the longest wait.</summary>
    public TimeSpan? After { get; set; }

    /// <summary>For <c>noAnswer</c>: rings without an answer.</summary>
    public int? Attempts { get; set; }

    /// <summary>Target, as for exit keys: <c>queue:backup</c>, <c>number:…</c>, <c>voicemail:…</c>, <c>callback</c>, <c>hangup[:sound]</c>.</summary>
    public string Target { get; set; } = string.Empty;
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

    /// <summary>
    /// May transfer calls to, consult or invite outside numbers (AGT-10: off unless given; without it
    /// such a request is refused with the reason).
    /// </summary>
    public bool ExternalTransfer { get; set; }

    /// <summary>
    /// Penalty (app_queue tier) per queue of <see cref="Queues"/>, e.g. <c>{"support": 2}</c>: lower
    /// penalties are offered calls first; a queue not listed has penalty 0.
    /// </summary>
    public Dictionary<string, int> Penalties { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Skills and levels (1–100), e.g. <c>{"english": 80}</c>: calls an IVR plan marks as needing a skill go only to agents with it.</summary>
    public Dictionary<string, int> Skills { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The Asterisk server (<c>asterisk[].name</c>) the agent's desk phone is registered on. Optional
    /// with one server; required with several (docs/sites.md).
    /// </summary>
    public string? Server { get; set; }
}

/// <summary>One dialled number and its queue.</summary>
public sealed class DidRouteSettings
{
    /// <summary>The DID as Asterisk passes it (<c>Stasis(ctibridge,inbound,${EXTEN})</c>).</summary>
    public string Number { get; set; } = string.Empty;

    /// <summary>The queue the call goes to (or <see cref="Plan"/>).</summary>
    public string Queue { get; set; } = string.Empty;

    /// <summary>The IVR plan the call goes through (or <see cref="Queue"/>).</summary>
    public string? Plan { get; set; }

    /// <summary>
    /// The agent this DID rings directly (a personal number), whatever the queue's strategy;
    /// <see cref="Queue"/> then names the agent's queue the call is counted in (default the agent's first).
    /// </summary>
    public string? Agent { get; set; }

    /// <summary>
    /// With <see cref="Agent"/>: where the call goes when the agent is not ready or does not answer
    /// (<c>queue:NAME</c>, <c>voicemail:MAILBOX</c>, <c>number:DIGITS</c>, <c>callback</c>,
    /// <c>hangup[:SOUND]</c>); default <c>queue:</c> the agent's queue.
    /// </summary>
    public string? Fallback { get; set; }
}

/// <summary>Checks the <c>callControl</c> section and turns it into the ACD core's configuration.</summary>
public static class CallControlConfiguration
{
    /// <summary>The values of <see cref="CallQueueSettings.CallbackMode"/>.</summary>
    public static IReadOnlyList<string> CallbackModeNames { get; } = ["agentFirst", "customerFirst"];

    /// <summary>
    /// The mode <paramref name="queue"/> chooses for its callbacks (<see cref="CallQueueSettings.CallbackMode"/>, any
    /// letter case); null when it names none, or a name that is none of <see cref="CallbackModeNames"/> (which
    /// <see cref="Validate"/> refuses, so a running configuration never has one).
    /// </summary>
    public static Core.Callbacks.CallbackMode? QueueCallbackMode(CallQueueSettings queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return queue.CallbackMode switch
        {
            { } m when m.Equals("agentFirst", StringComparison.OrdinalIgnoreCase) => Core.Callbacks.CallbackMode.AgentFirst,
            { } m when m.Equals("customerFirst", StringComparison.OrdinalIgnoreCase) => Core.Callbacks.CallbackMode.CustomerFirst,
            _ => null,
        };
    }

    /// <summary>
    /// The mode the queue named <paramref name="queue"/> chooses for its callbacks in <paramref name="settings"/>;
    /// null for a queue that names none or is not configured.
    /// </summary>
    public static Core.Callbacks.CallbackMode? QueueCallbackMode(CallControlSettings settings, string queue)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Queues.FirstOrDefault(q => string.Equals(q.Name, queue, StringComparison.Ordinal)) is { } found ? QueueCallbackMode(found) : null;
    }

    private static void CheckBetween(List<SettingsProblem> problems, string path, TimeSpan value, (TimeSpan Min, TimeSpan Max) bounds, string what)
    {
        if (value < bounds.Min || value > bounds.Max)
        {
            problems.Add(new SettingsProblem(path, $"{value} must be between {bounds.Min} and {bounds.Max} ({what})"));
        }
    }

    /// <summary>Adds one problem per invalid value, each naming its setting.</summary>
    public static void Validate(CallControlSettings settings, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        AgentCallConfiguration.Validate(settings, problems);
        if (settings.Shutdown.CallsFinishWithin < TimeSpan.Zero || settings.Shutdown.CallsFinishWithin > TimeSpan.FromHours(1))
        {
            problems.Add(new SettingsProblem("callControl.shutdown.callsFinishWithin", $"{settings.Shutdown.CallsFinishWithin} must be between 00:00:00 and 01:00:00"));
        }

        if (string.IsNullOrWhiteSpace(settings.Shutdown.HandBackContext) || settings.Shutdown.HandBackContext.Any(c => char.IsWhiteSpace(c) || c == ','))
        {
            problems.Add(new SettingsProblem("callControl.shutdown.handBackContext", $"'{settings.Shutdown.HandBackContext}' is not a dialplan context name (e.g. \"ctibridge-fallback\")"));
        }

        CheckBetween(problems, "callControl.fallback.externalRingTimeout", settings.Fallback.ExternalRingTimeout, FallbackSettings.ExternalRingBounds, "how long an outside number rings");
        CheckBetween(problems, "callControl.fallback.voicemailMaxMessage", settings.Fallback.VoicemailMaxMessage, FallbackSettings.VoicemailBounds, "the longest voicemail message");
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

            if (queue.CallbackMode is { } callbackMode && QueueCallbackMode(queue) is null)
            {
                problems.Add(new SettingsProblem($"{at}.callbackMode",
                    $"'{callbackMode}' is not a callback mode ({string.Join(", ", CallbackModeNames)}){SpellingSuggestion.DidYouMean(callbackMode, CallbackModeNames)}"));
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
            else if (extensions.TryGetValue(PhoneKey(agent), out var other))
            {
                problems.Add(new SettingsProblem($"{at}.extension", $"'{agent.Extension}' is already the phone of agent '{other}'{(string.IsNullOrWhiteSpace(agent.Server) ? string.Empty : $" on server '{agent.Server}'")}"));
            }
            else
            {
                // Two sites may number their phones alike (docs/sites.md): a phone is unique on its server.
                extensions[PhoneKey(agent)] = agent.Id;
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

            foreach (var (queue, penalty) in agent.Penalties)
            {
                if (!agent.Queues.Contains(queue, StringComparer.Ordinal))
                {
                    problems.Add(new SettingsProblem($"{at}.penalties.{queue}", $"is a penalty in queue '{queue}', which the agent does not serve; add it to queues or remove the penalty"));
                }

                if (penalty is < 0 or > 1000)
                {
                    problems.Add(new SettingsProblem($"{at}.penalties.{queue}", $"{penalty} is not a penalty (0-1000; lower is offered calls first)"));
                }
            }

            foreach (var (skill, level) in agent.Skills)
            {
                if (string.IsNullOrWhiteSpace(skill))
                {
                    problems.Add(new SettingsProblem($"{at}.skills", "names an empty skill"));
                }

                if (level is < 1 or > 100)
                {
                    problems.Add(new SettingsProblem($"{at}.skills.{skill}", $"{level} is not a skill level (1-100; higher is more proficient)"));
                }
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

            if (!string.IsNullOrWhiteSpace(did.Queue))
            {
                QueueExists(did.Queue, $"{at}.queue", queueNames, problems);
            }
        }

        for (var i = 0; i < settings.Queues.Count; i++)
        {
            QueueExtras(settings.Queues[i], $"callControl.queues[{i}]", queueNames, problems);
        }

        IvrConfiguration.Validate(settings, problems);

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

    private static string PhoneKey(CallAgentSettings agent) => $"{agent.Server?.Trim().ToUpperInvariant()}\u0001{agent.Extension}";

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
                AutoPauseBusy = q.AutoPauseBusy,
                WrapUp = q.WrapUp,

                Experience = new CallerExperience
                {
                    MusicOnHoldClass = q.MusicOnHold,
                    JoinPrompt = string.IsNullOrWhiteSpace(q.JoinPrompt) ? null : q.JoinPrompt,
                    AnnouncePositionOnJoin = q.AnnouncePosition,
                    PositionAnnouncementPeriod = q.AnnouncePosition ? q.AnnouncementPeriod : null,
                    AnnounceExpectedWait = q.AnnounceExpectedWait,
                    PeriodicPrompt = string.IsNullOrWhiteSpace(q.PeriodicPrompt) ? null : q.PeriodicPrompt,
                    PeriodicPromptPeriod = q.PeriodicPromptPeriod,
                    AnnounceAgentId = q.AnnounceAgentId,
                },
                VipPriority = q.VipPriority,
                StickyWait = q.StickyWait,
                MaxWaiting = q.MaxWaiting,
                Weight = q.Weight,
                RefuseJoinWhen = ParseEmptyCondition(q.RefuseJoinWhen),
                LeaveWhen = ParseEmptyCondition(q.LeaveWhen),
                ExitKeys = q.ExitKeys.ToDictionary(k => k.Key[0], k => ParseTarget(k.Target)!),
                Overflow = q.Overflow.Select(o => new OverflowRule(ParseCondition(o.When)!.Value, ParseTarget(o.Target)!, o.After, o.Attempts)).ToList(),
                SpansSites = q.SpanServers,
            }).ToList(),
            Agents = settings.Agents.Select(a => new AgentProfile
            {
                AgentId = a.Id,
                Name = a.Name,
                PinHash = a.PinHash,
                Queues = a.Queues.Select(q => new QueueMembership(q, a.Penalties.GetValueOrDefault(q))).ToList(),
                Skills = new Dictionary<string, int>(a.Skills, StringComparer.OrdinalIgnoreCase),
                Site = string.IsNullOrWhiteSpace(a.Server) ? null : a.Server,
            }).ToList(),
        };
    }

    private static readonly string[] Conditions = ["waitExceeded", "noAnswer", "queueFull", "noAgents", "closed"];

    /// <summary>An overflow/exit-key target: <c>queue:x</c>, <c>number:n</c>, <c>voicemail:box</c>, <c>callback</c>, <c>hangup[:sound]</c>; null when malformed.</summary>
    internal static OverflowTarget? ParseTarget(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? text : text[..colon];
        var value = colon < 0 ? null : text[(colon + 1)..];
        return kind switch
        {
            "queue" when !string.IsNullOrWhiteSpace(value) => OverflowTarget.ToQueue(value),
            "number" when !string.IsNullOrWhiteSpace(value) && value.All(c => char.IsAsciiDigit(c) || c is '+' or '*' or '#') => OverflowTarget.ToNumber(value),
            "voicemail" when !string.IsNullOrWhiteSpace(value) => OverflowTarget.ToVoicemail(value),
            "callback" when value is null => OverflowTarget.ToCallbackOffer(),
            "hangup" => OverflowTarget.ToDisconnect(string.IsNullOrWhiteSpace(value) ? null : value),
            _ => null,
        };
    }

    /// <summary>A target written as <see cref="ParseTarget"/> reads it (kept with a call for a restart).</summary>
    internal static string FormatTarget(OverflowTarget target) => target.Kind switch
    {
        OverflowTargetKind.Queue => "queue:" + target.Destination,
        OverflowTargetKind.ExternalNumber => "number:" + target.Destination,
        OverflowTargetKind.Voicemail => "voicemail:" + target.Destination,
        OverflowTargetKind.CallbackOffer => "callback",
        _ => target.Destination is null ? "hangup" : "hangup:" + target.Destination,
    };

    /// <summary>The names <c>refuseJoinWhen</c> and <c>leaveWhen</c> take.</summary>
    internal static readonly string[] EmptyConditions = ["noAgentsLoggedIn", "noAgentsServing"];

    private static EmptyQueueCondition? ParseEmptyCondition(string? text) => text switch
    {
        "noAgentsLoggedIn" => EmptyQueueCondition.NoAgentsLoggedIn,
        "noAgentsServing" => EmptyQueueCondition.NoAgentsServing,
        _ => null,
    };

    private static OverflowCondition? ParseCondition(string text) => text switch
    {
        "waitExceeded" => OverflowCondition.WaitExceeded,
        "noAnswer" => OverflowCondition.NoAnswer,
        "queueFull" => OverflowCondition.QueueFull,
        "noAgents" => OverflowCondition.NoAgents,
        "closed" => OverflowCondition.Closed,
        _ => null,
    };

    private static void QueueExtras(CallQueueSettings queue, string at, HashSet<string> queues, List<SettingsProblem> problems)
    {
        const string TargetHelp = "write queue:NAME, number:DIGITS, voicemail:MAILBOX, callback or hangup[:SOUND]";
        if (queue.AnnouncePosition)
        {
            Positive(queue.AnnouncementPeriod, $"{at}.announcementPeriod", problems);
        }

        if (!string.IsNullOrWhiteSpace(queue.PeriodicPrompt))
        {
            Positive(queue.PeriodicPromptPeriod, $"{at}.periodicPromptPeriod", problems);
        }

        NotNegative(queue.StickyWait, $"{at}.stickyWait", problems);
        if (queue.MaxWaiting < 0)
        {
            problems.Add(new SettingsProblem($"{at}.maxWaiting", $"{queue.MaxWaiting} must not be negative (0 = no limit)"));
        }

        if (!(queue.Weight > 0) || double.IsInfinity(queue.Weight))
        {
            problems.Add(new SettingsProblem($"{at}.weight", $"{queue.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture)} must be a positive number (1 = as much as any other queue)"));
        }

        foreach (var (name, value) in new[] { ("refuseJoinWhen", queue.RefuseJoinWhen), ("leaveWhen", queue.LeaveWhen) })
        {
            if (!string.IsNullOrEmpty(value) && !EmptyConditions.Contains(value, StringComparer.Ordinal))
            {
                problems.Add(new SettingsProblem($"{at}.{name}", $"'{value}' is not one of {string.Join(", ", EmptyConditions)}{SpellingSuggestion.DidYouMean(value, EmptyConditions)}"));
            }
        }

        var keys = new HashSet<char>();
        for (var k = 0; k < queue.ExitKeys.Count; k++)
        {
            var key = queue.ExitKeys[k];
            if (key.Key.Length != 1 || !(char.IsAsciiDigit(key.Key[0]) || key.Key[0] is '*' or '#'))
            {
                problems.Add(new SettingsProblem($"{at}.exitKeys[{k}].key", $"'{key.Key}' is not a key; use one of 0-9, * or #"));
            }
            else if (!keys.Add(key.Key[0]))
            {
                problems.Add(new SettingsProblem($"{at}.exitKeys[{k}].key", $"key '{key.Key}' is used twice in queue '{queue.Name}'"));
            }

            Target(key.Target, $"{at}.exitKeys[{k}].target");
        }

        for (var o = 0; o < queue.Overflow.Count; o++)
        {
            var rule = queue.Overflow[o];
            var path = $"{at}.overflow[{o}]";
            var condition = ParseCondition(rule.When);
            if (condition is null)
            {
                problems.Add(new SettingsProblem($"{path}.when", $"'{rule.When}' is not an overflow condition ({string.Join(", ", Conditions)}){SpellingSuggestion.DidYouMean(rule.When, Conditions)}"));
            }
            else if (condition == OverflowCondition.WaitExceeded && (rule.After is null || rule.After <= TimeSpan.Zero))
            {
                problems.Add(new SettingsProblem($"{path}.after", "is required for waitExceeded and must be longer than zero (e.g. \"00:02:00\")"));
            }
            else if (condition == OverflowCondition.NoAnswer && rule.Attempts is null or < 1)
            {
                problems.Add(new SettingsProblem($"{path}.attempts", "is required for noAnswer and must be at least 1"));
            }

            Target(rule.Target, $"{path}.target");
        }

        void Target(string text, string path)
        {
            var target = ParseTarget(text);
            if (target is null)
            {
                problems.Add(new SettingsProblem(path, $"'{text}' is not a target; {TargetHelp}"));
            }
            else if (target.Kind == OverflowTargetKind.Queue && !queues.Contains(target.Destination!))
            {
                problems.Add(new SettingsProblem(path, $"queue '{target.Destination}' is not configured in callControl.queues{SpellingSuggestion.DidYouMean(target.Destination!, queues)}"));
            }
            else if (target.Kind == OverflowTargetKind.Queue && target.Destination == queue.Name)
            {
                problems.Add(new SettingsProblem(path, $"sends the call back into queue '{queue.Name}' itself"));
            }
        }
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
