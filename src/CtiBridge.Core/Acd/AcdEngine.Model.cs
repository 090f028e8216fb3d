namespace CtiBridge.Core.Acd;

public sealed partial class AcdEngine
{
    private enum CallPhase
    {
        Waiting,
        Ringing,
        Connected,
        Ended,
    }

    private enum TimerKind
    {
        RingTimeout,
        WrapUpEnd,
        WaitExceeded,
        PositionAnnouncement,
        PeriodicPrompt,
        Recheck,
        PenaltyStep,
    }

    private enum PendingChange
    {
        None,
        Pause,
        Logout,
    }

    private readonly record struct DueTimer(TimerKind Kind, Call? Call, Agent? Agent, long Version);

    private sealed class Agent(AgentProfile profile)
    {
        public AgentProfile Profile { get; set; } = profile;

        /// <summary>Queues chosen at login when the agent chose a subset of the profile's; null for all.</summary>
        public HashSet<string>? ChosenQueues { get; set; }

        /// <summary>Skills chosen at login when the agent chose a subset of the profile's; null for all.</summary>
        public HashSet<string>? ChosenSkills { get; set; }

        public string Id => Profile.AgentId;

        public AgentState State { get; set; } = AgentState.LoggedOut;

        public DateTimeOffset StateSince { get; set; }

        public string? Extension { get; set; }

        /// <summary>The key of the agent's phone among logged-in phones: the extension, with the site when there are sites.</summary>
        public string? PhoneKey { get; set; }

        public Membership[] Memberships { get; set; } = [];

        public Dictionary<string, int> Skills { get; set; } = new(StringComparer.OrdinalIgnoreCase);

        public Call? Call { get; set; }

        public DateTimeOffset IdleSince { get; set; }

        public long JoinOrder { get; set; }

        public TimeSpan TalkTime { get; set; }

        public int ConsecutiveNoAnswers { get; set; }

        public bool Muted { get; set; }

        public PendingChange Pending { get; set; }

        public string? PendingPauseReason { get; set; }

        public ChangeSource PendingSource { get; set; }

        public string? PauseReason { get; set; }

        public long WrapUpVersion { get; set; }

        public DateTimeOffset WrapUpStartedAt { get; set; }

        public DateTimeOffset WrapUpEndsAt { get; set; }

        public string? WrapUpCallId { get; set; }

        /// <summary>The wrap-up was carried over a restart (<see cref="AgentRestored"/>): its end publishes no handling.</summary>
        public bool WrapUpRestored { get; set; }

        public string? WrapUpQueue { get; set; }

        public TimeSpan WrapUpTalk { get; set; }

        public TimeSpan WrapUpHold { get; set; }

        public Membership? MembershipIn(Queue queue)
        {
            foreach (var m in Memberships)
            {
                if (ReferenceEquals(m.Queue, queue))
                {
                    return m;
                }
            }

            return null;
        }
    }

    private sealed class Membership(Agent agent, Queue queue, int penalty, int memberOrder)
    {
        public Agent Agent { get; } = agent;

        public Queue Queue { get; } = queue;

        public int Penalty { get; set; } = penalty;

        public int MemberOrder { get; set; } = memberOrder;

        public int CallsAnswered { get; set; }

        public int ReadyIndex { get; set; } = -1;
    }

    private readonly record struct LineKey(int Priority, string Skills, string? Site);

    private sealed class Line(int priority, string[] skills, string? site)
    {
        public int Priority { get; } = priority;

        public string[] Skills { get; } = skills;

        /// <summary>The site (Asterisk server) its calls are on when only that site's agents may take them; null: any site.</summary>
        public string? Site { get; } = site;

        public SortedSet<Call> Calls { get; } = new(CallOrder.Instance);
    }

    private sealed class CallOrder : IComparer<Call>
    {
        public static readonly CallOrder Instance = new();

        public int Compare(Call? x, Call? y)
        {
            var c = x!.OrderTime.CompareTo(y!.OrderTime);
            return c != 0 ? c : x.Seq.CompareTo(y.Seq);
        }
    }

    private sealed class Queue(QueueConfiguration config, IDistributionStrategy strategy, IDistributionStrategy fallback, int index)
    {
        public QueueConfiguration Config { get; set; } = config;

        public string Name => Config.Name;

        public int Index { get; } = index;

        public IDistributionStrategy Strategy { get; set; } = strategy;

        public IDistributionStrategy Fallback { get; set; } = fallback;

        public QueueStrategyMemory Memory { get; set; } = new();

        public Dictionary<LineKey, Line> Lines { get; } = [];

        public List<Line> LineList { get; } = [];

        public List<Membership> Members { get; } = [];

        public List<Membership> Ready { get; } = [];

        public int[] StateCounts { get; } = new int[6];

        public int Waiting { get; set; }

        public TimeSpan[] HandleTimes { get; set; } = new TimeSpan[Math.Max(1, config.HandleTimeWindow)];

        public int HandleTimeCount { get; set; }

        public int HandleTimeNext { get; set; }

        public TimeSpan HandleTimeSum { get; set; }

        public Dictionary<string, int> OrderIndex { get; set; } = OrderIndexOf(config);

        public int LoggedIn => Members.Count;

        public int Serving => Members.Count - StateCounts[(int)AgentState.Paused];

        public static Dictionary<string, int> OrderIndexOf(QueueConfiguration config) => config.MemberOrder
            .Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i, StringComparer.Ordinal);

        public Line LineFor(int priority, string key, string[] skills, string? site)
        {
            if (!Lines.TryGetValue(new LineKey(priority, key, site), out var line))
            {
                line = new Line(priority, skills, site);
                Lines.Add(new LineKey(priority, key, site), line);
                LineList.Add(line);

                // Highest priority first, so scans can stop early.
                LineList.Sort((a, b) => b.Priority.CompareTo(a.Priority));
            }

            return line;
        }

        public TimeSpan AverageHandleTime => HandleTimeCount == 0 ? Config.DefaultHandleTime : HandleTimeSum / HandleTimeCount;

        public void AddHandleTime(TimeSpan t)
        {
            if (HandleTimeCount == HandleTimes.Length)
            {
                HandleTimeSum -= HandleTimes[HandleTimeNext];
            }
            else
            {
                HandleTimeCount++;
            }

            HandleTimes[HandleTimeNext] = t;
            HandleTimeSum += t;
            HandleTimeNext = (HandleTimeNext + 1) % HandleTimes.Length;
        }
    }

    private sealed class Call(string id, CallerData caller, string[] skills, string skillsKey, long seq, DateTimeOffset orderTime)
    {
        public string Id { get; } = id;

        public CallerData Caller { get; } = caller;

        public string[] Skills { get; } = skills;

        public string SkillsKey { get; } = skillsKey;

        /// <summary>
        /// Only agents of this site may take the call in its current queue: the caller's site while
        /// the queue does not span sites; null when any site's agent may (set at each enqueue).
        /// </summary>
        public string? RoutingSite { get; set; }

        public long Seq { get; } = seq;

        public DateTimeOffset OrderTime { get; } = orderTime;

        public Queue Queue { get; set; } = null!;

        public int Visit { get; set; }

        public long VisitVersion { get; set; }

        public DateTimeOffset VisitEnqueuedAt { get; set; }

        public int Priority { get; set; }

        public CallPhase Phase { get; set; }

        public Line? Line { get; set; }

        public List<Agent> Ringing { get; } = new(1);

        public DateTimeOffset RingStartedAt { get; set; }

        public long OfferVersion { get; set; }

        public int Attempts { get; set; }

        public int NoAnswers { get; set; }

        public List<(Agent Agent, DateTimeOffset Until)>? Excluded { get; set; }

        public Agent? Agent { get; set; }

        public DateTimeOffset AnsweredAt { get; set; }

        public DateTimeOffset? HoldStartedAt { get; set; }

        public TimeSpan Hold { get; set; }

        public string? PreferredAgentId { get; set; }

        /// <summary>A call for one named agent: where it goes if that agent does not take it (first visit only).</summary>
        public OverflowTarget? DirectFallback { get; set; }

        /// <summary>A callback task: no caller on the line while it waits.</summary>
        public bool IsCallback { get; init; }

        /// <summary>Callback owned by an agent: only that agent may take it until <see cref="OwnedUntil"/>.</summary>
        public string? OwnerAgentId { get; init; }

        public DateTimeOffset OwnedUntil { get; init; }

        /// <summary>Held for its owner: <paramref name="agent"/> is someone else and the owner's time is not over.</summary>
        public bool HeldForOwnerOtherThan(Agent agent, DateTimeOffset now) =>
            OwnerAgentId is { } owner && now < OwnedUntil && !string.Equals(owner, agent.Id, StringComparison.Ordinal);

        public DateTimeOffset PreferredUntil { get; set; }

        public int? MaxPenalty { get; set; }

        public int NextPenaltyStep { get; set; }

        public bool IsExcluded(Agent agent, DateTimeOffset now)
        {
            if (Excluded is null)
            {
                return false;
            }

            foreach (var (a, until) in Excluded)
            {
                if (ReferenceEquals(a, agent) && until > now)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
