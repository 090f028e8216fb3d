using System.Text.RegularExpressions;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Several Asterisk servers (sites) in one deployment (issue 14, docs/sites.md): which server each
/// agent's phone is on, and how a call on one server reaches an agent on another — the agent's leg
/// is originated on the caller's server through that server's trunk to the agent's server
/// (<c>asterisk[].trunks</c>), so the caller's channel never moves and the bridge stays on the
/// caller's server.
/// </summary>
public sealed partial class SiteRouting
{
    private readonly Dictionary<(string From, string To), string> _trunks = new();

    /// <summary>Reads the servers and their trunks (validated settings).</summary>
    public SiteRouting(IReadOnlyList<AsteriskServerSettings> servers)
    {
        ArgumentNullException.ThrowIfNull(servers);
        ServerSettings = servers;
        Servers = servers.Select(s => s.Name).ToList();
        foreach (var server in servers)
        {
            foreach (var trunk in server.Trunks)
            {
                _trunks[(Key(server.Name), Key(trunk.To))] = trunk.Dial;
            }
        }
    }

    /// <summary>The configured servers (to check reloaded agents and queues against).</summary>
    public IReadOnlyList<AsteriskServerSettings> ServerSettings { get; }

    /// <summary>The configured servers' names.</summary>
    public IReadOnlyList<string> Servers { get; }

    /// <summary>
    /// How <paramref name="server"/> dials outside numbers: its own <c>externalEndpoint</c>, or
    /// <paramref name="fallback"/> (<c>callControl.externalEndpoint</c>) when it has none.
    /// </summary>
    public string ExternalEndpointOf(string server, string fallback) =>
        ServerSettings.FirstOrDefault(s => string.Equals(s.Name, server, StringComparison.OrdinalIgnoreCase))?.ExternalEndpoint is { } own && !string.IsNullOrWhiteSpace(own)
            ? own
            : fallback;

    /// <summary>
    /// The server an agent's phone is on: the configured one, or the only server of a one-server
    /// deployment; null when unknown (settings not validated against the servers).
    /// </summary>
    public string? ServerOf(CallAgentSettings agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        return !string.IsNullOrWhiteSpace(agent.Server) ? agent.Server : Servers.Count == 1 ? Servers[0] : null;
    }

    /// <summary>
    /// What <paramref name="callServer"/> originates to ring an agent whose phone
    /// (<paramref name="extension"/>) is on <paramref name="agentServer"/>: the extension itself on
    /// the same server, the trunk's dial string otherwise; null when <paramref name="callServer"/>
    /// has no trunk to <paramref name="agentServer"/>.
    /// </summary>
    public string? EndpointFor(string callServer, string? agentServer, string extension, string agentId)
    {
        ArgumentNullException.ThrowIfNull(extension);
        if (agentServer is null || string.Equals(callServer, agentServer, StringComparison.OrdinalIgnoreCase))
        {
            return extension;
        }

        return _trunks.TryGetValue((Key(callServer), Key(agentServer)), out var dial) ? Apply(dial, extension, agentId) : null;
    }

    /// <summary>Fills a trunk's dial string: <c>{resource}</c>, <c>{extension}</c>, <c>{agent}</c>.</summary>
    public static string Apply(string dial, string extension, string agentId)
    {
        ArgumentNullException.ThrowIfNull(dial);
        ArgumentNullException.ThrowIfNull(extension);
        var slash = extension.IndexOf('/', StringComparison.Ordinal);
        var resource = slash < 0 ? extension : extension[(slash + 1)..];
        return dial.Replace("{resource}", resource, StringComparison.Ordinal)
            .Replace("{extension}", extension, StringComparison.Ordinal)
            .Replace("{agent}", agentId, StringComparison.Ordinal);
    }

    /// <summary>
    /// Checks the sites settings across sections: trunks name other servers and have a usable dial
    /// string; with several servers every agent names its server; and a queue that spans servers
    /// can reach each of its agents from every server a call may enter on.
    /// </summary>
    public static void Validate(IReadOnlyList<AsteriskServerSettings> servers, CallControlSettings callControl, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(servers);
        ArgumentNullException.ThrowIfNull(callControl);
        ArgumentNullException.ThrowIfNull(problems);
        var names = servers.Select(s => s.Name).Where(n => !string.IsNullOrWhiteSpace(n)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var known = string.Join(", ", names);
        for (var i = 0; i < servers.Count; i++)
        {
            if (servers[i].ExternalEndpoint is { } external && (!external.Contains("{number}", StringComparison.Ordinal) || external.IndexOf('/', StringComparison.Ordinal) <= 0))
            {
                problems.Add(new SettingsProblem($"asterisk[{i}].externalEndpoint",
                    $"'{external}' must be an endpoint with a {{number}} placeholder, e.g. \"PJSIP/{{number}}@carrier-{servers[i].Name}\"; leave it out to use callControl.externalEndpoint"));
            }

            var targets = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (var t = 0; t < servers[i].Trunks.Count; t++)
            {
                var trunk = servers[i].Trunks[t];
                var at = $"asterisk[{i}].trunks[{t}]";
                if (string.IsNullOrWhiteSpace(trunk.To))
                {
                    problems.Add(new SettingsProblem($"{at}.to", $"is required: the server this trunk reaches ({known})"));
                }
                else if (string.Equals(trunk.To, servers[i].Name, StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add(new SettingsProblem($"{at}.to", $"'{trunk.To}' is this server itself; a trunk reaches another server"));
                }
                else if (!names.Contains(trunk.To, StringComparer.OrdinalIgnoreCase))
                {
                    problems.Add(new SettingsProblem($"{at}.to", $"'{trunk.To}' is not one of the asterisk servers ({known}){SpellingSuggestion.DidYouMean(trunk.To, names)}"));
                }
                else if (!targets.Add(trunk.To))
                {
                    problems.Add(new SettingsProblem($"{at}.to", $"'{trunk.To}' already has a trunk from this server; keep one"));
                }

                ValidateDial(trunk.Dial, $"{at}.dial", problems);
            }
        }

        for (var a = 0; a < callControl.Agents.Count; a++)
        {
            var agent = callControl.Agents[a];
            var at = $"callControl.agents[{a}].server";
            if (string.IsNullOrWhiteSpace(agent.Server))
            {
                if (names.Count > 1)
                {
                    problems.Add(new SettingsProblem(at, $"is required with several Asterisk servers: the one agent '{agent.Id}''s phone {agent.Extension} is registered on ({known})"));
                }
            }
            else if (!names.Contains(agent.Server, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add(new SettingsProblem(at, $"'{agent.Server}' is not one of the asterisk servers ({known}){SpellingSuggestion.DidYouMean(agent.Server, names)}"));
            }
        }

        ValidateSplit(names, callControl, problems);
        if (names.Count < 2)
        {
            return;
        }

        var reachable = new HashSet<(string, string)>(servers.SelectMany(s => s.Trunks.Select(t => (Key(s.Name), Key(t.To)))));
        for (var q = 0; q < callControl.Queues.Count; q++)
        {
            var queue = callControl.Queues[q];
            if (!queue.SpanServers)
            {
                continue;
            }

            // Calls may enter on any server (every server's dialplan can send a DID to the Stasis app).
            var agentsByServer = callControl.Agents
                .Where(x => x.Queues.Contains(queue.Name, StringComparer.Ordinal) && names.Contains(x.Server ?? string.Empty, StringComparer.OrdinalIgnoreCase))
                .GroupBy(x => names.First(n => string.Equals(n, x.Server, StringComparison.OrdinalIgnoreCase)));
            foreach (var group in agentsByServer)
            {
                foreach (var from in names.Where(n => !string.Equals(n, group.Key, StringComparison.OrdinalIgnoreCase)))
                {
                    if (!reachable.Contains((Key(from), Key(group.Key))))
                    {
                        var agents = string.Join(", ", group.Select(x => x.Id).Take(5)) + (group.Count() > 5 ? ", ..." : string.Empty);
                        problems.Add(new SettingsProblem($"callControl.queues[{q}].spanServers",
                            $"queue '{queue.Name}' spans servers, but server '{from}' has no trunk to '{group.Key}', where agent(s) {agents} serve it; add one to asterisk[{IndexOf(servers, from)}].trunks (e.g. {{ \"to\": \"{group.Key}\", \"dial\": \"PJSIP/{{resource}}@{group.Key}\" }}) or set spanServers to false"));
                    }
                }
            }
        }
    }

    /// <summary>
    /// <c>callControl.servers</c> (servers split between instances): each entry names a configured server once; and a
    /// queue that spans servers may not have agents both on this instance's servers and on others', since one ACD cannot
    /// offer a call to an agent another instance's ACD holds.
    /// </summary>
    private static void ValidateSplit(List<string> names, CallControlSettings callControl, List<SettingsProblem> problems)
    {
        var known = string.Join(", ", names);
        var listed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < callControl.Servers.Count; i++)
        {
            var server = callControl.Servers[i];
            if (string.IsNullOrWhiteSpace(server))
            {
                problems.Add(new SettingsProblem($"callControl.servers[{i}]", $"is empty; name one of the asterisk servers ({known})"));
            }
            else if (!names.Contains(server, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add(new SettingsProblem($"callControl.servers[{i}]", $"'{server}' is not one of the asterisk servers ({known}){SpellingSuggestion.DidYouMean(server, names)}"));
            }
            else if (!listed.Add(server))
            {
                problems.Add(new SettingsProblem($"callControl.servers[{i}]", $"'{server}' is listed twice; list it once"));
            }
        }

        if (listed.Count == 0 || listed.Count == names.Count)
        {
            return; // this instance controls every server: no split
        }

        var mine = string.Join(", ", names.Where(listed.Contains));
        for (var q = 0; q < callControl.Queues.Count; q++)
        {
            var queue = callControl.Queues[q];
            if (!queue.SpanServers)
            {
                continue;
            }

            var servers = callControl.Agents.Where(a => a.Queues.Contains(queue.Name, StringComparer.Ordinal) && !string.IsNullOrWhiteSpace(a.Server))
                .GroupBy(a => listed.Contains(a.Server!)).ToDictionary(g => g.Key, g => g.ToList());
            if (servers.TryGetValue(true, out var here) && servers.TryGetValue(false, out var elsewhere))
            {
                static string Of(List<CallAgentSettings> agents) =>
                    string.Join(", ", agents.GroupBy(a => a.Server!, StringComparer.OrdinalIgnoreCase).Select(g => $"{g.Key} ({string.Join(", ", g.Select(a => a.Id).Take(3))}{(g.Count() > 3 ? ", ..." : string.Empty)})"));
                problems.Add(new SettingsProblem($"callControl.queues[{q}].spanServers",
                    $"queue '{queue.Name}' spans servers whose calls are controlled by different instances: agents on {Of(here)}, controlled here (callControl.servers: {mine}), "
                    + $"and on {Of(elsewhere)}, controlled by another instance; one instance's ACD cannot offer a call to an agent another instance holds. "
                    + "Set spanServers to false, or let one instance control all of its agents' servers"));
            }
        }
    }

    private static void ValidateDial(string dial, string at, List<SettingsProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(dial))
        {
            problems.Add(new SettingsProblem(at, "is required: the dial string to the agent's phone over the trunk, e.g. \"PJSIP/{resource}@site-b\""));
            return;
        }

        var unknown = Placeholder().Matches(dial).Select(m => m.Value).Where(p => p is not ("{resource}" or "{extension}" or "{agent}")).ToList();
        if (unknown.Count > 0)
        {
            problems.Add(new SettingsProblem(at, $"'{dial}' has unknown placeholder(s) {string.Join(", ", unknown)}; use {{resource}}, {{extension}} or {{agent}}"));
        }
        else if (!dial.Contains("{resource}", StringComparison.Ordinal) && !dial.Contains("{extension}", StringComparison.Ordinal) && !dial.Contains("{agent}", StringComparison.Ordinal))
        {
            problems.Add(new SettingsProblem(at, $"'{dial}' names no agent: every agent would ring the same number; put {{resource}}, {{extension}} or {{agent}} in it"));
        }
        else if (!dial.Contains('/', StringComparison.Ordinal))
        {
            problems.Add(new SettingsProblem(at, $"'{dial}' is not a dial string (TECH/resource, e.g. \"PJSIP/{{resource}}@site-b\")"));
        }
    }

    private static int IndexOf(IReadOnlyList<AsteriskServerSettings> servers, string name)
    {
        for (var i = 0; i < servers.Count; i++)
        {
            if (string.Equals(servers[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Key(string name) => name.ToUpperInvariant();

    [GeneratedRegex(@"\{[^{}]*\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();
}
