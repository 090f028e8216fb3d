namespace CtiBridge.Core.Acd;

/// <summary>
/// Everything the ACD engine needs to know before the first event: queues, agent profiles and
/// engine-wide rules. Immutable once the engine is built; validated by <see cref="AcdEngine"/>.
/// </summary>
public sealed record AcdConfiguration
{
    /// <summary>The queues, by name (names are compared case-insensitively).</summary>
    public IReadOnlyList<QueueConfiguration> Queues { get; init; } = [];

    /// <summary>The agents who may log in: ID, PIN hash, permitted queues and skills.</summary>
    public IReadOnlyList<AgentProfile> Agents { get; init; } = [];

    /// <summary>
    /// After this many consecutive calls rung and not answered, an agent is paused with reason
    /// <see cref="PauseReasons.NoAnswer"/>. 0 turns auto-pause off. Default 3.
    /// </summary>
    public int AutoPauseAfterConsecutiveNoAnswers { get; init; } = 3;

    /// <summary>Seed of the engine's random source (strategies <c>random</c> and <c>wrandom</c>).</summary>
    public int RandomSeed { get; init; } = 1;

    /// <summary>A call may visit at most this many queues (overflow chains); the next overflow disconnects it.</summary>
    public int MaxQueueVisitsPerCall { get; init; } = 10;

    /// <summary>
    /// Routing explanations list queue members one by one up to this many; above it they give
    /// counts per state (the decision stays O(ready agents), not O(members)).
    /// </summary>
    public int ExplanationDetailLimit { get; init; } = 64;

    /// <summary>How many last-served-agent entries sticky routing remembers (oldest forgotten first).</summary>
    public int StickyMemorySize { get; init; } = 100_000;

    /// <summary>Live statistics parameters (docs/metrics.md §1).</summary>
    public MetricsParameters Metrics { get; init; } = new();
}

/// <summary>Parameters of the metric definitions (docs/metrics.md §1).</summary>
public sealed record MetricsParameters
{
    /// <summary><c>metrics.service_level_seconds</c>: answered within T (inclusive). Default 30 s.</summary>
    public TimeSpan ServiceLevelThreshold { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>metrics.short_abandon_seconds</c>: an abandon with wait strictly below this is short. Default 5 s.</summary>
    public TimeSpan ShortAbandonThreshold { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>One agent who may log in.</summary>
public sealed record AgentProfile
{
    /// <summary>The agent ID (工号) typed at login and announced to callers.</summary>
    public required string AgentId { get; init; }

    /// <summary>Display name for wallboards and explanations.</summary>
    public string? Name { get; init; }

    /// <summary>The PIN hash made by <see cref="AgentPin.Hash(string, int)"/>; the PIN itself is never stored.</summary>
    public required string PinHash { get; init; }

    /// <summary>Queues this agent may serve, with the penalty (tier) in each.</summary>
    public IReadOnlyList<QueueMembership> Queues { get; init; } = [];

    /// <summary>Skills this agent has, with a level (higher is more proficient, 1..100).</summary>
    public IReadOnlyDictionary<string, int> Skills { get; init; } = new Dictionary<string, int>();

    /// <summary>
    /// The site (Asterisk server) the agent's phone is on; null in a single-site deployment. Calls of
    /// a queue that does not span sites are offered only to agents of the caller's site.
    /// </summary>
    public string? Site { get; init; }
}

/// <summary>Membership of an agent in a queue.</summary>
/// <param name="Queue">The queue name.</param>
/// <param name="Penalty">app_queue penalty: lower tiers are offered calls first. Default 0.</param>
public sealed record QueueMembership(string Queue, int Penalty = 0);

/// <summary>One ACD queue.</summary>
public sealed record QueueConfiguration
{
    /// <summary>The queue name (also shown on the agent's phone while ringing).</summary>
    public required string Name { get; init; }

    /// <summary>Distribution strategy by name (app_queue names plus <c>least-talk-time</c>, <c>skills</c>, <c>sticky</c>). Default <c>leastrecent</c>.</summary>
    public string Strategy { get; init; } = "leastrecent";

    /// <summary>For <c>sticky</c>: the strategy used when the preferred agent is not available in time.</summary>
    public string StickyFallbackStrategy { get; init; } = "leastrecent";

    /// <summary>For <c>sticky</c>: how long a call waits for its preferred agent before the fallback takes over.</summary>
    public TimeSpan StickyWait { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Fixed member order for <c>linear</c> and <c>rrordered</c> (agent IDs); others follow in login order.</summary>
    public IReadOnlyList<string> MemberOrder { get; init; } = [];

    /// <summary>How long an agent's phone rings before the call goes back to the line. Default 15 s.</summary>
    public TimeSpan RingTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>After a ring-no-answer, the call is not offered to that agent again for this long. Default 5 s.</summary>
    public TimeSpan RetryAfterNoAnswer { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether a ring the agent's phone answered busy counts toward auto-pause
    /// (<see cref="AcdConfiguration.AutoPauseAfterConsecutiveNoAnswers"/>), as app_queue's <c>autopausebusy</c>.
    /// Default false, as Asterisk's: a busy phone (the agent on a private call, say) is not an absent agent. It
    /// is still a missed offer, and the call rings the next agent at once.
    /// </summary>
    public bool AutoPauseBusy { get; init; }

    /// <summary>Wrap-up after a call of this queue (the agent's own state). Default 30 s (REQUIREMENTS AGT-04).</summary>
    public TimeSpan WrapUp { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Queue weight: multiplies waits when an agent in several queues picks its next call. Default 1.</summary>
    public double Weight { get; init; } = 1;

    /// <summary>Maximum number of waiting calls; 0 means no limit. A call beyond it overflows with <see cref="OverflowCondition.QueueFull"/>.</summary>
    public int MaxWaiting { get; init; }

    /// <summary>Refuse to queue a new call when this is true of the queue (app_queue joinempty).</summary>
    public EmptyQueueCondition? RefuseJoinWhen { get; init; }

    /// <summary>Make waiting calls leave when this becomes true (app_queue leavewhenempty).</summary>
    public EmptyQueueCondition? LeaveWhen { get; init; }

    /// <summary>Overflow rules, checked in order for a condition; the first matching rule's target is used.</summary>
    public IReadOnlyList<OverflowRule> Overflow { get; init; } = [];

    /// <summary>Opening hours; null means always open. A call arriving while closed overflows with <see cref="OverflowCondition.Closed"/>.</summary>
    public BusinessHours? Hours { get; init; }

    /// <summary>Priority of an ordinary call. Higher priorities are served first.</summary>
    public int DefaultPriority { get; init; }

    /// <summary>Priority of VIP calls (caller data marked VIP, or caller number in <see cref="VipCallerNumbers"/>).</summary>
    public int VipPriority { get; init; } = 10;

    /// <summary>Caller numbers treated as VIP.</summary>
    public IReadOnlyCollection<string> VipCallerNumbers { get; init; } = [];

    /// <summary>Priority per dialled number (DID / 400 number).</summary>
    public IReadOnlyDictionary<string, int> DidPriorities { get; init; } = new Dictionary<string, int>();

    /// <summary>Highest member penalty a new call may be offered to; null means any (lower tiers still first).</summary>
    public int? InitialMaxPenalty { get; init; }

    /// <summary>Penalty widening (app_queue penalty rules): after a wait, members up to a higher penalty become eligible.</summary>
    public IReadOnlyList<PenaltyStep> PenaltySteps { get; init; } = [];

    /// <summary>Caller experience: prompts, music on hold, announcements.</summary>
    public CallerExperience Experience { get; init; } = new();

    /// <summary>DTMF keys a waiting caller may press to leave the queue (e.g. '1' → callback, '2' → voicemail).</summary>
    public IReadOnlyDictionary<char, OverflowTarget> ExitKeys { get; init; } = new Dictionary<char, OverflowTarget>();

    /// <summary>
    /// Whether a call may be offered to agents of any site (Asterisk server), not only to those of
    /// the caller's site (<see cref="CallerData.Site"/>, <see cref="AgentProfile.Site"/>). Default false.
    /// </summary>
    public bool SpansSites { get; init; }

    /// <summary>Handle time assumed for expected-wait announcements until real calls have been handled. Default 180 s.</summary>
    public TimeSpan DefaultHandleTime { get; init; } = TimeSpan.FromSeconds(180);

    /// <summary>Expected-wait estimates average the handle time of this many most recent calls. Default 50.</summary>
    public int HandleTimeWindow { get; init; } = 50;
}

/// <summary>When is a queue "empty" for join/leave rules.</summary>
public enum EmptyQueueCondition
{
    /// <summary>No member agent is logged in.</summary>
    NoAgentsLoggedIn,

    /// <summary>No member agent is logged in and unpaused (all are paused or logged out).</summary>
    NoAgentsServing,
}

/// <summary>One step of penalty widening.</summary>
/// <param name="After">Wait after which the step applies.</param>
/// <param name="MaxPenalty">Highest member penalty eligible from then on.</param>
public sealed record PenaltyStep(TimeSpan After, int MaxPenalty);

/// <summary>What the caller hears while waiting.</summary>
public sealed record CallerExperience
{
    /// <summary>Music-on-hold class. Default "default".</summary>
    public string MusicOnHoldClass { get; init; } = "default";

    /// <summary>Prompt played when the caller joins; null for none.</summary>
    public string? JoinPrompt { get; init; }

    /// <summary>Announce position (and expected wait) when the caller joins.</summary>
    public bool AnnouncePositionOnJoin { get; init; } = true;

    /// <summary>Repeat the position/expected-wait announcement this often; null for never.</summary>
    public TimeSpan? PositionAnnouncementPeriod { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Include the expected wait in position announcements.</summary>
    public bool AnnounceExpectedWait { get; init; } = true;

    /// <summary>A prompt repeated periodically (e.g. "press 1 for a callback"); null for none.</summary>
    public string? PeriodicPrompt { get; init; }

    /// <summary>Period of <see cref="PeriodicPrompt"/>. Default 45 s.</summary>
    public TimeSpan PeriodicPromptPeriod { get; init; } = TimeSpan.FromSeconds(45);

    /// <summary>Play the agent ID to the caller before connecting (座席自动报工号).</summary>
    public bool AnnounceAgentId { get; init; }
}

/// <summary>Why a call overflows.</summary>
public enum OverflowCondition
{
    /// <summary>The queue is closed by its business-hours calendar when the call arrives.</summary>
    Closed,

    /// <summary>The queue already holds <see cref="QueueConfiguration.MaxWaiting"/> calls.</summary>
    QueueFull,

    /// <summary>No agents (join refused, or the last serving agent left while calls waited).</summary>
    NoAgents,

    /// <summary>The call waited longer than the rule's <see cref="OverflowRule.After"/> (max wait).</summary>
    WaitExceeded,

    /// <summary>The call was rung <see cref="OverflowRule.Attempts"/> times and nobody answered.</summary>
    NoAnswer,

    /// <summary>The caller pressed an exit key.</summary>
    CallerKey,
}

/// <summary>An overflow rule: when <paramref name="Condition"/> happens, send the call to <paramref name="Target"/>.</summary>
/// <param name="Condition">The condition.</param>
/// <param name="Target">Where the call goes.</param>
/// <param name="After">For <see cref="OverflowCondition.WaitExceeded"/>: the maximum wait.</param>
/// <param name="Attempts">For <see cref="OverflowCondition.NoAnswer"/>: ring-no-answers before overflowing.</param>
public sealed record OverflowRule(OverflowCondition Condition, OverflowTarget Target, TimeSpan? After = null, int? Attempts = null);

/// <summary>Kinds of overflow targets.</summary>
public enum OverflowTargetKind
{
    /// <summary>Another queue of this engine (a new queue visit).</summary>
    Queue,

    /// <summary>An external number, e.g. a mobile.</summary>
    ExternalNumber,

    /// <summary>A voicemail box.</summary>
    Voicemail,

    /// <summary>Offer the caller a callback.</summary>
    CallbackOffer,

    /// <summary>Play a prompt (optional) and hang up.</summary>
    Disconnect,
}

/// <summary>Where an overflowing call goes.</summary>
/// <param name="Kind">The kind of target.</param>
/// <param name="Destination">Queue name, number or mailbox; a prompt for <see cref="OverflowTargetKind.Disconnect"/>.</param>
public sealed record OverflowTarget(OverflowTargetKind Kind, string? Destination = null)
{
    /// <summary>Another queue.</summary>
    public static OverflowTarget ToQueue(string queue) => new(OverflowTargetKind.Queue, queue);

    /// <summary>An external number.</summary>
    public static OverflowTarget ToNumber(string number) => new(OverflowTargetKind.ExternalNumber, number);

    /// <summary>A voicemail box.</summary>
    public static OverflowTarget ToVoicemail(string mailbox) => new(OverflowTargetKind.Voicemail, mailbox);

    /// <summary>A callback offer.</summary>
    public static OverflowTarget ToCallbackOffer() => new(OverflowTargetKind.CallbackOffer);

    /// <summary>Hang up, after an optional prompt.</summary>
    public static OverflowTarget ToDisconnect(string? prompt = null) => new(OverflowTargetKind.Disconnect, prompt);

    /// <inheritdoc />
    public override string ToString() => Destination is null ? Kind.ToString() : $"{Kind}:{Destination}";
}

/// <summary>Well-known pause reason codes (any code is accepted).</summary>
public static class PauseReasons
{
    /// <summary>Auto-pause after consecutive ring-no-answers.</summary>
    public const string NoAnswer = "no-answer";

    /// <summary>Forced by a supervisor without a more specific reason.</summary>
    public const string Supervisor = "supervisor";

    /// <summary>Break (小休).</summary>
    public const string Break = "break";

    /// <summary>Meal.</summary>
    public const string Meal = "meal";

    /// <summary>Training.</summary>
    public const string Training = "training";

    /// <summary>Held for a colleague's consultation (attended transfer or conference): not offered calls meanwhile.</summary>
    public const string Consult = "consult";

    /// <summary>The agent's desk phone is unregistered or unreachable (AMI device state).</summary>
    public const string PhoneUnavailable = "phone-unavailable";

    /// <summary>Held while the agent's phone rings for a call pickup asked for over the API: not offered other calls meanwhile.</summary>
    public const string PickUp = "pickup";
}
