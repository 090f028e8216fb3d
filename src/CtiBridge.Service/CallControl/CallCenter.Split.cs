using System.Data.Common;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Servers split between instances (issue 14, docs/sites.md "Splitting servers between instances"): with
/// <c>callControl.servers</c> this instance controls some of the configured Asterisk servers, another instance the
/// rest, on one database. Its ACD holds only the agents whose phones are on its servers; an agent of another
/// instance's server who logs in here is refused with the instance that controls that server named.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>The servers this instance controls when they are split between instances; null: all of them.</summary>
    private readonly IReadOnlyCollection<string>? _controlled;

    /// <summary>Every configured agent, on any instance's server (this ACD holds only <see cref="_agents"/>).</summary>
    private Dictionary<string, CallAgentSettings> _allAgents;

    /// <summary>
    /// Who controls a server now (its lease holder's instance id, or null), to name it in a refusal; null when not
    /// known (no database).
    /// </summary>
    public Func<string, CancellationToken, Task<string?>>? ServerHolder { get; init; }

    /// <summary>The servers this instance controls when servers are split between instances; null when it controls all.</summary>
    public IReadOnlyCollection<string>? ControlledServers => _controlled;

    /// <summary>Whether this instance controls <paramref name="server"/> (always, without a split).</summary>
    public bool Controls(string server) => _controlled is null || _controlled.Contains(server, StringComparer.OrdinalIgnoreCase);

    /// <summary>The configured server of an agent of any instance (its phone's), or null.</summary>
    internal string? ServerOfAnyAgent(string agentId) =>
        _allAgents.TryGetValue(agentId, out var agent) ? Sites?.ServerOf(agent) ?? agent.Server : null;

    /// <summary>
    /// An agent whose phone is on a server another instance controls cannot log in here: this ACD does not hold
    /// them, and calls of their server never reach it. The refusal names the server and the instance that
    /// controls it now (its lease holder), so the agent's client can go there.
    /// </summary>
    private async Task<InputOutcome?> RefusedAsOnAnotherInstanceAsync(string agentId, CancellationToken cancellationToken)
    {
        if (_controlled is null || _agents.ContainsKey(agentId) || ServerOfAnyAgent(agentId) is not { } server || Controls(server))
        {
            return null;
        }

        string holder;
        try
        {
            holder = ServerHolder is { } lookup && await lookup(server, cancellationToken).ConfigureAwait(false) is { } id
                ? $"instance {id} controls it now"
                : "no instance controls it now (its lease is free)";
        }
        catch (Exception ex) when (ex is DbException or TimeoutException)
        {
            holder = "which instance controls it could not be read: " + ex.Message;
        }

        LogLoginOnOtherInstance(_logger, agentId, server, holder);
        return InputOutcome.Refused(
            $"agent '{agentId}''s phone is on Asterisk server '{server}', which this instance does not control (callControl.servers: {string.Join(", ", _controlled)}); {holder}: log in there");
    }

    /// <summary>
    /// The server a due callback is placed from, when this instance does not control it now, so the callback must be
    /// handed off to the instance that does; null to place it here. That is: with servers split between instances,
    /// another instance's server; and with <c>callControl.highAvailability</c> (split or not), any server while this
    /// instance's call control does not run — a standby that has not taken over, or an instance whose lease was lost:
    /// Quartz fires a trigger on any node, and a callback queued in a call center that does not run would wait there
    /// unplaced until a takeover. Without high availability and without a split, always null (call control runs here
    /// or starts soon). The server: the one already decided (<see cref="Callback.PlacedFrom"/>), else its origin
    /// call's, else its owner's phone's, else the queue's (<see cref="QueueServer"/>).
    /// </summary>
    internal async Task<string?> CallbackServerElsewhereAsync(Callback callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var running = ControlsCallsNow;
        if (Sites is not { } sites || (_controlled is null && (running || !_settings.HighAvailability)))
        {
            return null;
        }

        var server = callback.PlacedFrom
            ?? await OriginServerAsync(callback, cancellationToken).ConfigureAwait(false)
            ?? (callback.OwnerAgentId is { } owner ? ServerOfAnyAgent(owner) : null)
            ?? QueueServer(callback.Queue);
        server = sites.Servers.FirstOrDefault(s => string.Equals(s, server, StringComparison.OrdinalIgnoreCase)) ?? server;
        return running && Controls(server) ? null : server;
    }

    /// <summary>Whether call control runs here now: started, and not stopped since (a lost lease stops it at once).</summary>
    private bool ControlsCallsNow => _started && !_stopping.IsCancellationRequested;

    /// <summary>
    /// The server a callback with no server of its own (no origin call known, no owner) is placed from when servers
    /// are split: one of this instance's servers if any of them has agents of the queue (the connected one serving it
    /// best is picked at placement, <see cref="ServingServer"/>); else the server with most of the queue's agents
    /// configured, the first in <c>asterisk[]</c> on a tie (this instance cannot see another instance's logins).
    /// </summary>
    private string QueueServer(string queue)
    {
        var servers = Sites!.Servers;
        var members = QueueMemberServers(queue);
        var mine = servers.Where(s => Controls(s) && members.Contains(s, StringComparer.OrdinalIgnoreCase)).ToList();
        return mine.Count > 0 ? mine[0] : ConfiguredQueueServer(members);
    }

    /// <summary>The server with most of the queue's agents configured, the first in <c>asterisk[]</c> on a tie: the same on every instance.</summary>
    private string ConfiguredQueueServer(List<string> members) =>
        Sites!.Servers.Select((s, i) => (Server: s, Order: i, Agents: members.Count(m => string.Equals(m, s, StringComparison.OrdinalIgnoreCase))))
            .OrderByDescending(x => x.Agents).ThenBy(x => x.Order).First().Server;

    private List<string> QueueMemberServers(string queue) =>
        _allAgents.Values.Where(a => a.Queues.Contains(queue, StringComparer.Ordinal)).Select(a => Sites!.ServerOf(a)).OfType<string>().ToList();

    /// <summary>
    /// Whether this instance puts a callback's reminder or escalation on its event stream (<c>CallbackNoticeStream</c>).
    /// Every instance running call control reads them from the database; with servers split between instances, only
    /// the part that controls the callback's server sends one, so a supervisor who watches several parts sees it once.
    /// The server, decided alike on every instance (each has the whole configuration): the owner agent's phone's (the
    /// owner's desktop is on the part where that agent logs in), else the server it was placed from, else its origin
    /// call's, else the queue's (<see cref="ConfiguredQueueServer"/>). Without a split, always: one instance runs
    /// call control (a standby notes nothing until it takes over).
    /// </summary>
    internal async Task<bool> SendsNoticeOfAsync(Callback callback, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (_controlled is null || Sites is null)
        {
            return true;
        }

        var server = (callback.OwnerAgentId is { } owner ? ServerOfAnyAgent(owner) : null)
            ?? callback.PlacedFrom
            ?? await OriginServerAsync(callback, cancellationToken).ConfigureAwait(false)
            ?? ConfiguredQueueServer(QueueMemberServers(callback.Queue));
        return Controls(server);
    }

    [LoggerMessage(EventId = 1420, Level = LogLevel.Information, Message = "Login of agent {AgentId} refused: the phone is on server {Server}, controlled by another instance ({Holder})")]
    private static partial void LogLoginOnOtherInstance(ILogger logger, string agentId, string server, string holder);
}
