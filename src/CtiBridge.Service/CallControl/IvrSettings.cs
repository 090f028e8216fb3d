using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// The <c>callControl.ivr</c> section: routing plans (trees of nodes a caller walks with DTMF keys)
/// and the calendars their time conditions consult. A DID in <c>callControl.dids</c> names a plan
/// instead of a queue to use one. Reloadable without a restart (<see cref="CallCenter.ReloadIvrAsync"/>).
/// </summary>
public sealed class IvrSettings
{
    /// <summary>Opening-hours calendars with holidays, by name.</summary>
    public List<IvrCalendarSettings> Calendars { get; set; } = [];

    /// <summary>The routing plans.</summary>
    public List<IvrPlanSettings> Plans { get; set; } = [];
}

/// <summary>A weekly calendar with holidays, for <c>time</c> nodes.</summary>
public sealed class IvrCalendarSettings
{
    /// <summary>Calendar name that <c>time</c> nodes refer to.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>IANA time zone the hours are in, e.g. <c>Asia/Shanghai</c>. Default UTC.</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>Opening intervals.</summary>
    public List<IvrOpeningSettings> Open { get; set; } = [];

    /// <summary>Closed dates (<c>yyyy-MM-dd</c>, local), e.g. public holidays.</summary>
    public List<string> Holidays { get; set; } = [];
}

/// <summary>Open on some week days between two times.</summary>
public sealed class IvrOpeningSettings
{
    /// <summary>Week days: <c>mon-fri</c>, <c>sat,sun</c>, <c>mon</c> … (three-letter English names, ranges and lists).</summary>
    public string Days { get; set; } = string.Empty;

    /// <summary>Opening time, <c>HH:mm</c> (inclusive).</summary>
    public string From { get; set; } = string.Empty;

    /// <summary>Closing time, <c>HH:mm</c> (exclusive); <c>00:00</c> or <c>24:00</c> = until midnight.</summary>
    public string To { get; set; } = string.Empty;
}

/// <summary>One routing plan.</summary>
public sealed class IvrPlanSettings
{
    /// <summary>Plan name that <c>callControl.dids[].plan</c> refers to.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The node a call starts at.</summary>
    public string Start { get; set; } = string.Empty;

    /// <summary>The node key 0 leads to from any menu or announcement ("zero for an operator"); none when empty.</summary>
    public string? Operator { get; set; }

    /// <summary>Language of the prompts (Asterisk sound language, e.g. <c>en</c>, <c>zh</c>) unless the customer lookup says otherwise.</summary>
    public string? Language { get; set; }

    /// <summary>The plan's nodes.</summary>
    public List<IvrNodeSettings> Nodes { get; set; } = [];
}

/// <summary>
/// One node. <see cref="Type"/> decides which settings apply: <c>menu</c> (prompt, choices,
/// timeout, retries, invalidPrompt, failure), <c>play</c> (prompt, next), <c>time</c> (calendar,
/// open, closed), <c>pin</c> (prompt, pinHash, pinLength, retries, next, failure, invalidPrompt),
/// <c>queue</c> (queue, priority, skills, vip), <c>agent</c> (agent, queue, fallback), <c>external</c>
/// (number, timeout), <c>voicemail</c> (mailbox, prompt, maxMessage, queue), <c>hangup</c> (prompt,
/// completes), <c>caller</c> (ifVip, ifMember, otherwise: by the customer lookup's answer).
/// </summary>
public sealed class IvrNodeSettings
{
    /// <summary>Node name, unique in the plan (recorded in <c>ivr_steps.node</c> as <c>plan/node</c>).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>menu, play, time, pin, queue, agent, external, voicemail or hangup.</summary>
    public string Type { get; set; } = string.Empty;

    /// <summary>Sound(s) to play, <c>&amp;</c>-separated names of Asterisk sounds (e.g. <c>welcome&amp;press-1</c>).</summary>
    public string? Prompt { get; set; }

    /// <summary>Menu: key → node.</summary>
    public List<IvrChoiceSettings> Choices { get; set; } = [];

    /// <summary>Menu/PIN: how long to wait for a key after the prompt. Default 5 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Menu/PIN: how many more tries after a timeout or a wrong key. Default 2.</summary>
    public int Retries { get; set; } = 2;

    /// <summary>Menu/PIN: played after a wrong key or PIN (then the prompt again).</summary>
    public string? InvalidPrompt { get; set; }

    /// <summary>Menu/PIN: node after the last try failed; default the plan's operator, else hang up.</summary>
    public string? Failure { get; set; }

    /// <summary>Play/PIN: the next node (for a PIN: after the right PIN).</summary>
    public string? Next { get; set; }

    /// <summary>Time: calendar name.</summary>
    public string? Calendar { get; set; }

    /// <summary>Time: node while the calendar is open.</summary>
    public string? Open { get; set; }

    /// <summary>Time: node while it is closed (outside hours and on holidays).</summary>
    public string? Closed { get; set; }

    /// <summary>PIN: hash of the PIN callers must type (<c>ctibridge pin-hash</c>), never the PIN.</summary>
    public string? PinHash { get; set; }

    /// <summary>PIN: number of digits; 0 = the caller ends the PIN with #.</summary>
    public int PinLength { get; set; }

    /// <summary>Queue/agent: the queue. Voicemail: the queue whose agents call back (default the first queue).</summary>
    public string? Queue { get; set; }

    /// <summary>Queue: priority of calls from this node (higher first); none = the queue's rules.</summary>
    public int? Priority { get; set; }

    /// <summary>Queue: skills the agent must have.</summary>
    public List<string> Skills { get; set; } = [];

    /// <summary>Queue: treat the caller as VIP.</summary>
    public bool Vip { get; set; }

    /// <summary>
    /// Agent: the agent ID the call goes to. The agent's phone rings at once if the agent is ready
    /// (any queue strategy); otherwise, or unanswered, the call goes to <see cref="Fallback"/>.
    /// </summary>
    public string? Agent { get; set; }

    /// <summary>
    /// Agent: where the call goes when the agent is not ready or does not answer: <c>queue:NAME</c>
    /// (the caller is still the agent's, so a <c>sticky</c> queue prefers the agent),
    /// <c>voicemail:MAILBOX</c>, <c>number:DIGITS</c>, <c>callback</c> or <c>hangup[:SOUND]</c>.
    /// Default: <c>queue:</c> the node's queue.
    /// </summary>
    public string? Fallback { get; set; }

    /// <summary>External: the number dialled through <c>callControl.externalEndpoint</c>.</summary>
    public string? Number { get; set; }

    /// <summary>Voicemail: the mailbox (recorded with the message).</summary>
    public string? Mailbox { get; set; }

    /// <summary>Voicemail: longest message. Default 120 s.</summary>
    public TimeSpan MaxMessage { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Hangup: the caller was served by the IVR (self-service): the call counts as <c>ivr_completed</c>.</summary>
    public bool Completes { get; set; }

    /// <summary>Caller: node for VIP callers (customer lookup); none = not checked.</summary>
    public string? IfVip { get; set; }

    /// <summary>Caller: node for members (会员) who are not VIP; none = not checked.</summary>
    public string? IfMember { get; set; }

    /// <summary>Caller: node for everyone else.</summary>
    public string? Otherwise { get; set; }
}

/// <summary>One menu choice.</summary>
public sealed class IvrChoiceSettings
{
    /// <summary>The key: 0-9, * or #.</summary>
    public string Key { get; set; } = string.Empty;

    /// <summary>The node it leads to.</summary>
    public string Next { get; set; } = string.Empty;
}

/// <summary>Node types.</summary>
internal enum IvrNodeType
{
    Menu,
    Play,
    Time,
    Pin,
    Queue,
    Agent,
    External,
    Voicemail,
    Hangup,
    Caller,
}

/// <summary>A validated plan, ready to run: nodes by name and calendars resolved.</summary>
internal sealed class IvrPlan
{
    public required string Name { get; init; }

    public required string Start { get; init; }

    public string? Operator { get; init; }

    public string? Language { get; init; }

    public required IReadOnlyDictionary<string, IvrNode> Nodes { get; init; }
}

/// <summary>A validated node.</summary>
internal sealed class IvrNode
{
    public required string Name { get; init; }

    public required IvrNodeType Type { get; init; }

    public required IvrNodeSettings Settings { get; init; }

    public BusinessHours? Hours { get; init; }

    public IReadOnlyDictionary<char, string> Choices { get; init; } = new Dictionary<char, string>();

    /// <summary>Agent node: the route.</summary>
    public DirectAgentRoute? AgentRoute { get; init; }
}

/// <summary>A validated direct-to-agent route (IVR <c>agent</c> node, DID routed to an agent).</summary>
/// <param name="AgentId">The agent rung.</param>
/// <param name="Queue">The queue the call is counted in (one the agent serves).</param>
/// <param name="Fallback">Where the call goes when the agent is not ready or does not answer.</param>
internal sealed record DirectAgentRoute(string AgentId, string Queue, OverflowTarget Fallback);

/// <summary>Routing of every DID: a plan, or straight to a queue.</summary>
internal sealed class IvrRoutes
{
    public static readonly IvrRoutes Empty = new(new Dictionary<string, IvrPlan>(), new Dictionary<string, string>(), new Dictionary<string, DirectAgentRoute>());

    public IvrRoutes(IReadOnlyDictionary<string, IvrPlan> planByDid, IReadOnlyDictionary<string, string> queueByDid, IReadOnlyDictionary<string, DirectAgentRoute> agentByDid)
    {
        PlanByDid = planByDid;
        QueueByDid = queueByDid;
        AgentByDid = agentByDid;
    }

    /// <summary>DIDs routed straight to one agent.</summary>
    public IReadOnlyDictionary<string, DirectAgentRoute> AgentByDid { get; }

    /// <summary>Whether <paramref name="did"/> is routed at all.</summary>
    public bool Routes(string did) => PlanByDid.ContainsKey(did) || QueueByDid.ContainsKey(did) || AgentByDid.ContainsKey(did);

    public IReadOnlyDictionary<string, IvrPlan> PlanByDid { get; }

    public IReadOnlyDictionary<string, string> QueueByDid { get; }
}

/// <summary>Checks <c>callControl.ivr</c> and the DIDs that use it, and builds the runnable routes.</summary>
public static class IvrConfiguration
{
    private static readonly string[] TypeNames = ["menu", "play", "time", "pin", "queue", "agent", "external", "voicemail", "hangup", "caller"];
    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    /// <summary>Adds one problem per invalid IVR setting, each naming its setting.</summary>
    public static void Validate(CallControlSettings settings, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        Build(settings, problems);
    }

    /// <summary>The routes for valid settings; null (and problems) otherwise.</summary>
    internal static IvrRoutes? Build(CallControlSettings settings, List<SettingsProblem> problems)
    {
        var before = problems.Count;
        var calendars = new Dictionary<string, BusinessHours>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Ivr.Calendars.Count; i++)
        {
            var calendar = settings.Ivr.Calendars[i];
            var at = $"callControl.ivr.calendars[{i}]";
            var hours = Calendar(calendar, at, problems);
            if (string.IsNullOrWhiteSpace(calendar.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", "is required (e.g. \"office\")"));
            }
            else if (calendars.ContainsKey(calendar.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", $"calendar '{calendar.Name}' is configured twice"));
            }
            else if (hours is not null)
            {
                calendars[calendar.Name] = hours;
            }
        }

        var queues = settings.Queues.ToDictionary(q => q.Name, StringComparer.Ordinal);
        var agents = settings.Agents.Where(a => !string.IsNullOrEmpty(a.Id)).GroupBy(a => a.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var calendarNames = settings.Ivr.Calendars.Select(c => c.Name).Where(n => !string.IsNullOrWhiteSpace(n)).ToHashSet(StringComparer.Ordinal);
        var plans = new Dictionary<string, IvrPlan>(StringComparer.Ordinal);
        for (var p = 0; p < settings.Ivr.Plans.Count; p++)
        {
            var plan = settings.Ivr.Plans[p];
            var at = $"callControl.ivr.plans[{p}]";
            if (string.IsNullOrWhiteSpace(plan.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", "is required (e.g. \"main\")"));
            }
            else if (plans.ContainsKey(plan.Name))
            {
                problems.Add(new SettingsProblem($"{at}.name", $"plan '{plan.Name}' is configured twice"));
            }

            var built = Plan(plan, at, queues, agents, calendars, calendarNames, problems);
            if (built is not null && !string.IsNullOrWhiteSpace(plan.Name))
            {
                plans.TryAdd(plan.Name, built);
            }
        }

        var planByDid = new Dictionary<string, IvrPlan>(StringComparer.Ordinal);
        var queueByDid = new Dictionary<string, string>(StringComparer.Ordinal);
        var agentByDid = new Dictionary<string, DirectAgentRoute>(StringComparer.Ordinal);
        var planNames = settings.Ivr.Plans.Select(x => x.Name).Where(n => !string.IsNullOrWhiteSpace(n)).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < settings.Dids.Count; i++)
        {
            var did = settings.Dids[i];
            var at = $"callControl.dids[{i}]";
            var hasQueue = !string.IsNullOrWhiteSpace(did.Queue);
            var hasPlan = !string.IsNullOrWhiteSpace(did.Plan);
            var hasAgent = !string.IsNullOrWhiteSpace(did.Agent);
            if (hasAgent && !hasPlan)
            {
                // The queue, if named, is the agent's queue for this route.
                if (AgentRoute(did.Agent, did.Queue, did.Fallback, at, queues, agents, problems) is { } route)
                {
                    agentByDid[did.Number] = route;
                }

                continue;
            }

            if (hasQueue == hasPlan || hasAgent)
            {
                problems.Add(new SettingsProblem(at, hasQueue || hasAgent
                    ? $"names a plan ('{did.Plan}') and also a {(hasAgent ? $"agent ('{did.Agent}')" : $"queue ('{did.Queue}')")}; keep one"
                    : "names neither a queue, an agent nor a plan; add \"queue\": \"support\", \"agent\": \"2001\" or \"plan\": \"main\""));
                continue;
            }

            if (!string.IsNullOrWhiteSpace(did.Fallback))
            {
                problems.Add(new SettingsProblem($"{at}.fallback", "applies to a DID routed to an agent only; remove it or add \"agent\""));
            }

            if (hasPlan)
            {
                if (plans.TryGetValue(did.Plan!, out var plan))
                {
                    planByDid[did.Number] = plan;
                }
                else if (!planNames.Contains(did.Plan!))
                {
                    problems.Add(new SettingsProblem($"{at}.plan", $"plan '{did.Plan}' is not configured in callControl.ivr.plans{SpellingSuggestion.DidYouMean(did.Plan!, planNames)}"));
                }
            }
            else
            {
                queueByDid[did.Number] = did.Queue;
            }
        }

        if (settings.CustomerLookup is { } lookup)
        {
            CustomerLookupConfiguration.Validate(lookup, problems);
        }

        if (!settings.ExternalEndpoint.Contains("{number}", StringComparison.Ordinal) || settings.ExternalEndpoint.IndexOf('/', StringComparison.Ordinal) <= 0)
        {
            problems.Add(new SettingsProblem("callControl.externalEndpoint", $"'{settings.ExternalEndpoint}' must be an endpoint with a {{number}} placeholder, e.g. \"PJSIP/{{number}}@carrier\""));
        }

        return problems.Count == before ? new IvrRoutes(planByDid, queueByDid, agentByDid) : null;
    }

    private static IvrPlan? Plan(IvrPlanSettings plan, string at, Dictionary<string, CallQueueSettings> queues, Dictionary<string, CallAgentSettings> agents,
        Dictionary<string, BusinessHours> calendars, HashSet<string> calendarNames, List<SettingsProblem> problems)
    {
        var before = problems.Count;
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var n = 0; n < plan.Nodes.Count; n++)
        {
            var node = plan.Nodes[n];
            if (string.IsNullOrWhiteSpace(node.Name))
            {
                problems.Add(new SettingsProblem($"{at}.nodes[{n}].name", "is required (e.g. \"welcome\")"));
            }
            else if (!names.Add(node.Name))
            {
                problems.Add(new SettingsProblem($"{at}.nodes[{n}].name", $"node '{node.Name}' is configured twice in plan '{plan.Name}'"));
            }
        }

        if (plan.Nodes.Count == 0)
        {
            problems.Add(new SettingsProblem($"{at}.nodes", "lists no node; a plan needs at least the node it starts at"));
        }

        NodeRef(plan.Start, $"{at}.start", names, problems, required: true);
        NodeRef(plan.Operator, $"{at}.operator", names, problems, required: false);

        var nodes = new Dictionary<string, IvrNode>(StringComparer.Ordinal);
        for (var n = 0; n < plan.Nodes.Count; n++)
        {
            var node = plan.Nodes[n];
            var path = $"{at}.nodes[{n}]";
            var typeIndex = Array.IndexOf(TypeNames, node.Type);
            if (typeIndex < 0)
            {
                problems.Add(new SettingsProblem($"{path}.type", $"'{node.Type}' is not a node type ({string.Join(", ", TypeNames)}){SpellingSuggestion.DidYouMean(node.Type, TypeNames)}"));
                continue;
            }

            var type = (IvrNodeType)typeIndex;
            var choices = new Dictionary<char, string>();
            BusinessHours? hours = null;
            DirectAgentRoute? agentRoute = null;
            switch (type)
            {
                case IvrNodeType.Menu:
                    Prompt(node.Prompt, $"{path}.prompt", problems);
                    if (node.Choices.Count == 0)
                    {
                        problems.Add(new SettingsProblem($"{path}.choices", "lists no choice; a menu needs at least one key"));
                    }

                    for (var c = 0; c < node.Choices.Count; c++)
                    {
                        var choice = node.Choices[c];
                        if (choice.Key.Length != 1 || !IsKey(choice.Key[0]))
                        {
                            problems.Add(new SettingsProblem($"{path}.choices[{c}].key", $"'{choice.Key}' is not a key; use one of 0-9, * or #"));
                        }
                        else if (!choices.TryAdd(choice.Key[0], choice.Next))
                        {
                            problems.Add(new SettingsProblem($"{path}.choices[{c}].key", $"key '{choice.Key}' is used twice in menu '{node.Name}'"));
                        }

                        NodeRef(choice.Next, $"{path}.choices[{c}].next", names, problems, required: true);
                    }

                    Tries(node, path, problems);
                    NodeRef(node.Failure, $"{path}.failure", names, problems, required: false);
                    break;
                case IvrNodeType.Play:
                    Prompt(node.Prompt, $"{path}.prompt", problems);
                    NodeRef(node.Next, $"{path}.next", names, problems, required: true);
                    break;
                case IvrNodeType.Time:
                    if (string.IsNullOrWhiteSpace(node.Calendar))
                    {
                        problems.Add(new SettingsProblem($"{path}.calendar", "is required for a time node (a name from callControl.ivr.calendars)"));
                    }
                    else if (!calendarNames.Contains(node.Calendar))
                    {
                        problems.Add(new SettingsProblem($"{path}.calendar", $"calendar '{node.Calendar}' is not configured in callControl.ivr.calendars{SpellingSuggestion.DidYouMean(node.Calendar, calendarNames)}"));
                    }
                    else
                    {
                        hours = calendars.GetValueOrDefault(node.Calendar);
                    }

                    NodeRef(node.Open, $"{path}.open", names, problems, required: true);
                    NodeRef(node.Closed, $"{path}.closed", names, problems, required: true);
                    break;
                case IvrNodeType.Pin:
                    Prompt(node.Prompt, $"{path}.prompt", problems);
                    if (!AgentPin.IsWellFormed(node.PinHash ?? string.Empty))
                    {
                        problems.Add(new SettingsProblem($"{path}.pinHash", "is not a PIN hash; create one with `ctibridge pin-hash` (pbkdf2-sha256$iterations$salt$hash), never write the PIN itself"));
                    }

                    if (node.PinLength is < 0 or > 20)
                    {
                        problems.Add(new SettingsProblem($"{path}.pinLength", $"{node.PinLength} must be between 0 (ends with #) and 20"));
                    }

                    Tries(node, path, problems);
                    NodeRef(node.Next, $"{path}.next", names, problems, required: true);
                    NodeRef(node.Failure, $"{path}.failure", names, problems, required: false);
                    break;
                case IvrNodeType.Queue:
                    QueueRef(node.Queue, $"{path}.queue", queues, problems, required: true);
                    break;
                case IvrNodeType.Agent:
                    agentRoute = AgentRoute(node.Agent, node.Queue, node.Fallback, path, queues, agents, problems);
                    break;
                case IvrNodeType.External:
                    if (string.IsNullOrWhiteSpace(node.Number) || !node.Number.All(ch => char.IsAsciiDigit(ch) || ch is '+' or '*' or '#'))
                    {
                        problems.Add(new SettingsProblem($"{path}.number", $"'{node.Number}' is not a number to dial (digits, +, * and # only)"));
                    }

                    if (node.Timeout <= TimeSpan.Zero)
                    {
                        problems.Add(new SettingsProblem($"{path}.timeout", $"{node.Timeout} must be longer than zero (how long the number rings)"));
                    }

                    break;
                case IvrNodeType.Voicemail:
                    if (string.IsNullOrWhiteSpace(node.Mailbox))
                    {
                        problems.Add(new SettingsProblem($"{path}.mailbox", "is required for a voicemail node (e.g. \"800\")"));
                    }

                    QueueRef(node.Queue, $"{path}.queue", queues, problems, required: false);
                    if (node.MaxMessage <= TimeSpan.Zero)
                    {
                        problems.Add(new SettingsProblem($"{path}.maxMessage", $"{node.MaxMessage} must be longer than zero"));
                    }

                    break;
                case IvrNodeType.Hangup:
                    break;
                case IvrNodeType.Caller:
                    NodeRef(node.IfVip, $"{path}.ifVip", names, problems, required: false);
                    NodeRef(node.IfMember, $"{path}.ifMember", names, problems, required: false);
                    NodeRef(node.Otherwise, $"{path}.otherwise", names, problems, required: true);
                    break;
            }

            if (!string.IsNullOrWhiteSpace(node.Name))
            {
                nodes.TryAdd(node.Name, new IvrNode { Name = node.Name, Type = type, Settings = node, Hours = hours, Choices = choices, AgentRoute = agentRoute });
            }
        }

        // Time nodes take no time: a loop made only of them would never give the caller anything.
        foreach (var node in nodes.Values.Where(x => x.Type is IvrNodeType.Time or IvrNodeType.Caller))
        {
            if (TimeLoop(node, nodes))
            {
                problems.Add(new SettingsProblem($"{at}.nodes[{plan.Nodes.IndexOf(node.Settings)}]", $"node '{node.Name}' leads back to itself through time and caller nodes only; put a prompt or a destination in the loop"));
            }
        }

        return problems.Count == before ? new IvrPlan { Name = plan.Name, Start = plan.Start, Operator = string.IsNullOrWhiteSpace(plan.Operator) ? null : plan.Operator, Language = plan.Language, Nodes = nodes } : null;
    }

    private static bool TimeLoop(IvrNode start, Dictionary<string, IvrNode> nodes)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<IvrNode>();
        stack.Push(start);
        while (stack.TryPop(out var node))
        {
            foreach (var next in new[] { node.Settings.Open, node.Settings.Closed, node.Settings.IfVip, node.Settings.IfMember, node.Settings.Otherwise })
            {
                if (next == start.Name)
                {
                    return true;
                }

                if (next is not null && nodes.TryGetValue(next, out var n) && n.Type is IvrNodeType.Time or IvrNodeType.Caller && seen.Add(next))
                {
                    stack.Push(n);
                }
            }
        }

        return false;
    }

    private static bool IsKey(char c) => char.IsAsciiDigit(c) || c is '*' or '#';

    /// <summary>An agent node's or an agent DID's route: the agent, the queue it serves there, the fallback.</summary>
    private static DirectAgentRoute? AgentRoute(string? agentId, string? queueName, string? fallbackText, string path,
        Dictionary<string, CallQueueSettings> queues, Dictionary<string, CallAgentSettings> agents, List<SettingsProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(agentId) || !agents.TryGetValue(agentId, out var agent))
        {
            problems.Add(new SettingsProblem($"{path}.agent", string.IsNullOrWhiteSpace(agentId)
                ? "is required (an ID from callControl.agents)"
                : $"agent '{agentId}' is not configured in callControl.agents{SpellingSuggestion.DidYouMean(agentId, agents.Keys)}"));
            return null;
        }

        var queue = QueueRef(string.IsNullOrWhiteSpace(queueName) ? agent.Queues.FirstOrDefault() : queueName, $"{path}.queue", queues, problems, required: true);
        if (queue is not null && !agent.Queues.Contains(queue.Name, StringComparer.Ordinal))
        {
            problems.Add(new SettingsProblem($"{path}.queue", $"agent '{agent.Id}' does not serve queue '{queue.Name}'"));
            return null;
        }

        if (queue is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(fallbackText))
        {
            return new DirectAgentRoute(agent.Id, queue.Name, OverflowTarget.ToQueue(queue.Name));
        }

        var fallback = CallControlConfiguration.ParseTarget(fallbackText);
        if (fallback is null)
        {
            problems.Add(new SettingsProblem($"{path}.fallback", $"'{fallbackText}' is not a target; write queue:NAME, voicemail:MAILBOX, number:DIGITS, callback or hangup[:SOUND]"));
            return null;
        }

        if (fallback.Kind == OverflowTargetKind.Queue && !queues.ContainsKey(fallback.Destination!))
        {
            problems.Add(new SettingsProblem($"{path}.fallback", $"queue '{fallback.Destination}' is not configured in callControl.queues{SpellingSuggestion.DidYouMean(fallback.Destination!, queues.Keys)}"));
            return null;
        }

        return new DirectAgentRoute(agent.Id, queue.Name, fallback);
    }

    private static void Tries(IvrNodeSettings node, string path, List<SettingsProblem> problems)
    {
        if (node.Timeout <= TimeSpan.Zero)
        {
            problems.Add(new SettingsProblem($"{path}.timeout", $"{node.Timeout} must be longer than zero"));
        }

        if (node.Retries is < 0 or > 10)
        {
            problems.Add(new SettingsProblem($"{path}.retries", $"{node.Retries} must be between 0 and 10"));
        }
    }

    private static void Prompt(string? prompt, string path, List<SettingsProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(prompt))
        {
            problems.Add(new SettingsProblem(path, "is required (an Asterisk sound name, e.g. \"welcome\"; several joined with &)"));
        }
        else if (prompt.Split('&').Any(p => p.Length == 0 || p.Any(ch => char.IsWhiteSpace(ch) || ch is ',' or '"')))
        {
            problems.Add(new SettingsProblem(path, $"'{prompt}' is not a list of sound names (name&name, no spaces, commas or quotes)"));
        }
    }

    private static void NodeRef(string? name, string path, HashSet<string> names, List<SettingsProblem> problems, bool required)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            if (required)
            {
                problems.Add(new SettingsProblem(path, "is required (the name of a node of this plan)"));
            }

            return;
        }

        if (!names.Contains(name))
        {
            problems.Add(new SettingsProblem(path, $"node '{name}' is not in this plan{SpellingSuggestion.DidYouMean(name, names)}"));
        }
    }

    private static CallQueueSettings? QueueRef(string? name, string path, Dictionary<string, CallQueueSettings> queues, List<SettingsProblem> problems, bool required)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            if (required)
            {
                problems.Add(new SettingsProblem(path, "is required (a queue from callControl.queues)"));
            }

            return null;
        }

        if (!queues.TryGetValue(name, out var queue))
        {
            problems.Add(new SettingsProblem(path, $"queue '{name}' is not configured in callControl.queues{SpellingSuggestion.DidYouMean(name, queues.Keys)}"));
        }

        return queue;
    }

    /// <summary>The hours a calendar describes (also used by <c>callbacks.hours</c>); null (and problems named under <paramref name="at"/>) when invalid.</summary>
    internal static BusinessHours? Calendar(IvrCalendarSettings calendar, string at, List<SettingsProblem> problems)
    {
        var before = problems.Count;
        TimeZoneInfo? zone = null;
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(calendar.TimeZone);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            problems.Add(new SettingsProblem($"{at}.timeZone", $"'{calendar.TimeZone}' is not a known time zone (an IANA name such as \"Asia/Shanghai\" or \"UTC\")"));
        }

        var weekly = new List<OpeningInterval>();
        for (var i = 0; i < calendar.Open.Count; i++)
        {
            var open = calendar.Open[i];
            var path = $"{at}.open[{i}]";
            var days = Days(open.Days);
            if (days is null)
            {
                problems.Add(new SettingsProblem($"{path}.days", $"'{open.Days}' is not a list of week days; write e.g. \"mon-fri\" or \"sat,sun\""));
            }

            var from = Time(open.From);
            var to = open.To == "24:00" ? TimeOnly.MinValue : Time(open.To);
            if (from is null)
            {
                problems.Add(new SettingsProblem($"{path}.from", $"'{open.From}' is not a time of day (HH:mm, e.g. \"09:00\")"));
            }

            if (to is null)
            {
                problems.Add(new SettingsProblem($"{path}.to", $"'{open.To}' is not a time of day (HH:mm, e.g. \"18:00\"; \"24:00\" for midnight)"));
            }
            else if (from is { } f && to != TimeOnly.MinValue && to <= f)
            {
                problems.Add(new SettingsProblem($"{path}.to", $"{open.To} is not after {open.From}; an interval ends on the day it starts"));
            }

            if (days is not null && from is not null && to is not null)
            {
                weekly.AddRange(days.Select(d => new OpeningInterval(d, from.Value, to.Value)));
            }
        }

        var holidays = new List<DateOnly>();
        for (var i = 0; i < calendar.Holidays.Count; i++)
        {
            if (DateOnly.TryParseExact(calendar.Holidays[i], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                holidays.Add(day);
            }
            else
            {
                problems.Add(new SettingsProblem($"{at}.holidays[{i}]", $"'{calendar.Holidays[i]}' is not a date (yyyy-MM-dd, e.g. \"2026-10-01\")"));
            }
        }

        return problems.Count == before && zone is not null ? new BusinessHours { Weekly = weekly, Holidays = holidays, TimeZone = zone } : null;
    }

    private static TimeOnly? Time(string text) =>
        TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) ? t : null;

    private static List<DayOfWeek>? Days(string text)
    {
        var days = new List<DayOfWeek>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-', StringSplitOptions.TrimEntries);
            if (range.Length is < 1 or > 2)
            {
                return null;
            }

            var first = Array.IndexOf(DayNames, range[0].ToLowerInvariant());
            var last = range.Length == 2 ? Array.IndexOf(DayNames, range[1].ToLowerInvariant()) : first;
            if (first < 0 || last < 0)
            {
                return null;
            }

            // mon-fri, and also fri-mon across the weekend.
            for (var d = first; ; d = (d + 1) % 7)
            {
                days.Add((DayOfWeek)d);
                if (d == last)
                {
                    break;
                }
            }
        }

        return days.Count > 0 ? days : null;
    }
}
