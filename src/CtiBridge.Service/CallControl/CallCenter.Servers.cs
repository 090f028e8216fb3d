using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Live figures per Asterisk server (several servers: docs/sites.md), for the wallboard's server
/// tiles and the per-server metrics: calls waiting now on each server (the caller's server), today's
/// queue figures of its calls (docs/metrics.md, every queue together), and its agents by state.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Every configured Asterisk server's live figures, read together on the call center's loop.</summary>
    public Task<IReadOnlyList<ServerStatus>> GetServersAsync(CancellationToken cancellationToken = default) =>
        RequestAsync<IReadOnlyList<ServerStatus>>(at =>
        {
            var servers = Sites?.Servers ?? [.. _engine.Statistics.ServerNames];
            var waiting = Settings.Queues.SelectMany(q => _engine.GetWaitingCalls(q.Name))
                .Where(c => c.Caller.Site is not null && !CallbackTasks.IsCallbackTask(c.Caller)) // customers' calls only (docs/metrics.md §3a)
                .GroupBy(c => c.Caller.Site!, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => (Count: g.Count(), Longest: at - g.Min(c => c.EnqueuedAt)), StringComparer.OrdinalIgnoreCase);
            var agents = _engine.GetAgents().ToList();
            return [.. servers.Select(server =>
            {
                var here = agents.Where(a => _agents.TryGetValue(a.AgentId, out var settings) && ServerOfAgent(settings) is { } own
                    && string.Equals(own, server, StringComparison.OrdinalIgnoreCase)).Select(a => a.State).ToList();
                var (count, longest) = waiting.GetValueOrDefault(server);
                return new ServerStatus(server, count, longest < TimeSpan.Zero ? TimeSpan.Zero : longest, _engine.Statistics.ForServer(server),
                    here.Count(s => s != AgentState.LoggedOut), here.Count(s => s == AgentState.Ready), here.Count(s => s is AgentState.OnCall or AgentState.Ringing),
                    here.Count(s => s == AgentState.WrapUp), here.Count(s => s == AgentState.Paused));
            })];
        }, cancellationToken);

    private string? ServerOfAgent(CallAgentSettings agent) =>
        Sites?.ServerOf(agent) ?? (string.IsNullOrWhiteSpace(agent.Server) ? null : agent.Server);
}

/// <summary>One Asterisk server's live figures.</summary>
/// <param name="Server">The server (<c>asterisk[].name</c>).</param>
/// <param name="Waiting">Calls on the server waiting in any queue now (not counting calls ringing an agent).</param>
/// <param name="LongestCurrentWait">Longest wait among those.</param>
/// <param name="Statistics">Today's queue figures of the server's calls, every queue together (Queue holds the server's name).</param>
/// <param name="AgentsLoggedIn">Agents whose phone is on the server, logged in.</param>
/// <param name="AgentsReady">Of those, ready.</param>
/// <param name="AgentsOnCall">Of those, ringing or on a call.</param>
/// <param name="AgentsWrapUp">Of those, in wrap-up.</param>
/// <param name="AgentsPaused">Of those, paused.</param>
public sealed record ServerStatus(
    string Server, int Waiting, TimeSpan LongestCurrentWait, QueueStatistics Statistics,
    int AgentsLoggedIn, int AgentsReady, int AgentsOnCall, int AgentsWrapUp, int AgentsPaused);
