using CtiBridge.Data.LiveState;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.HighAvailability;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Http;
using Npgsql;

namespace CtiBridge.Service.Live;

/// <summary>
/// <c>GET /api/wallboard/centre</c>: the whole centre's live figures over every instance's part. With
/// servers split between instances (<c>callControl.servers</c>) each instance's ACD, wallboard and
/// metrics cover its own servers only; this view reads instead what every instance keeps in
/// PostgreSQL for restarts and takeovers (<c>live_agents</c>, <c>live_calls</c>) and today's figures
/// from the call records, so any instance (or a standby) answers it alike, for all servers.
/// </summary>
public static class CentreWallboard
{
    /// <summary>The whole centre now.</summary>
    /// <param name="At">When it was read.</param>
    /// <param name="TimeZone">The reports' time zone ("today").</param>
    /// <param name="Servers">Each Asterisk server (each part of a split), with the instance controlling it now.</param>
    /// <param name="Queues">Every queue with calls, agents or figures today, over all servers.</param>
    /// <param name="Agents">Every logged-in agent, on whichever instance.</param>
    public sealed record CentreView(DateTimeOffset At, string TimeZone, IReadOnlyList<ServerPartView> Servers, IReadOnlyList<CentreQueueView> Queues, IReadOnlyList<CentreAgentView> Agents);

    /// <summary>One Asterisk server: who controls it, its customers waiting and its agents by state.</summary>
    /// <param name="Server">The server's name.</param>
    /// <param name="ControlledBy">The instance holding its call-control lease now (high availability on); null without high availability (no lease is taken) or while no instance controls it.</param>
    /// <param name="Waiting">Customers' calls waiting on it.</param>
    /// <param name="LongestCurrentWaitSeconds">Longest current wait among them.</param>
    /// <param name="AgentsLoggedIn">Agents whose phone is on it, logged in.</param>
    /// <param name="AgentsReady">Of those, ready.</param>
    /// <param name="AgentsOnCall">On a call or ringing with one (as the instance's own wallboard counts them).</param>
    /// <param name="AgentsWrapUp">In wrap-up.</param>
    /// <param name="AgentsPaused">Paused.</param>
    /// <param name="AgentsRinging">Of those on a call, the ones whose phone is still ringing.</param>
    public sealed record ServerPartView(
        string Server, string? ControlledBy, int Waiting, double LongestCurrentWaitSeconds,
        int AgentsLoggedIn, int AgentsReady, int AgentsOnCall, int AgentsWrapUp, int AgentsPaused, int AgentsRinging);

    /// <summary>One queue over every server: now, and today's figures from the call records (docs/metrics.md).</summary>
    /// <param name="Queue">The queue.</param>
    /// <param name="Waiting">Customers' calls waiting.</param>
    /// <param name="LongestCurrentWaitSeconds">Longest current wait.</param>
    /// <param name="AgentsReady">Member agents ready.</param>
    /// <param name="AgentsOnCall">On a call or ringing with one (as the instance's own wallboard counts them).</param>
    /// <param name="AgentsWrapUp">In wrap-up.</param>
    /// <param name="AgentsPaused">Paused.</param>
    /// <param name="Offered">Today's visits that ended or were answered.</param>
    /// <param name="Answered">Answered today.</param>
    /// <param name="Abandoned">Abandoned today.</param>
    /// <param name="ServiceLevel">Today's service level; null while its denominator is zero.</param>
    /// <param name="AgentsRinging">Of those on a call, the ones whose phone is still ringing.</param>
    public sealed record CentreQueueView(
        string Queue, int Waiting, double LongestCurrentWaitSeconds, int AgentsReady, int AgentsOnCall, int AgentsWrapUp, int AgentsPaused,
        int Offered, int Answered, int Abandoned, double? ServiceLevel, int AgentsRinging);

    /// <summary>One logged-in agent as the instances keep it.</summary>
    /// <param name="AgentId">The agent.</param>
    /// <param name="Server">The server the agent's phone is on (from the configuration); null when the agent is not configured here.</param>
    /// <param name="State">Ready, Ringing, OnCall, WrapUp or Paused.</param>
    /// <param name="Reason">The pause reason.</param>
    /// <param name="Since">Since when, as far as the database knows (Ringing: since the call started ringing the agent).</param>
    /// <param name="CallId">The call the agent is on, or whose ring the phone has.</param>
    /// <param name="CallsToday">Calls answered today.</param>
    public sealed record CentreAgentView(string AgentId, string? Server, string State, string? Reason, DateTimeOffset Since, string? CallId, int CallsToday);

    /// <summary>Maps the endpoint.</summary>
    public static RouteGroupBuilder MapCentreWallboard(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        api.MapGet("/wallboard/centre", async (IServiceProvider services, CancellationToken ct) => Results.Ok(await ReadAsync(services, ct)))
            .RequireAuthorization(ApiRoles.ReadReports).WithTags("live")
            .WithSummary("The whole centre over every instance's part (servers split between instances): servers with their controlling instance, queues and agents, read from the live state the instances keep in PostgreSQL.");
        return api;
    }

    /// <summary>Reads the whole centre from the database.</summary>
    public static async Task<CentreView> ReadAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var status = await new LiveStatus(dataSource).LoadAsync(now, cancellationToken).ConfigureAwait(false);
        var waiting = (await new LiveServerWaiting(dataSource).LoadAsync(now, cancellationToken).ConfigureAwait(false)).ToDictionary(w => w.Server, StringComparer.Ordinal);

        // Every instance has the whole file (each knows every server and agent), so the agents' servers are read here.
        var serverNames = services.GetService<IReadOnlyList<AsteriskServer>>()?.Select(s => s.Name).ToList() ?? [];
        var configured = services.GetService<CallControlSettings>()?.Agents ?? [];
        string? ServerOf(string agentId) =>
            configured.FirstOrDefault(a => a.Id == agentId) is { } agent ? agent.Server ?? (serverNames.Count == 1 ? serverNames[0] : null) : null;

        var agents = status.Agents.Select(a => new CentreAgentView(a.AgentId, ServerOf(a.AgentId), a.State, a.Reason, a.Since, a.CallId, a.CallsToday)).ToList();
        var servers = new List<ServerPartView>();
        foreach (var name in serverNames.Union(waiting.Keys, StringComparer.Ordinal))
        {
            var mine = agents.Where(a => a.Server == name).ToList();
            var calls = waiting.GetValueOrDefault(name);
            servers.Add(new ServerPartView(
                name, await CallControlLease.HolderAsync(dataSource, name, cancellationToken).ConfigureAwait(false), calls?.Waiting ?? 0, calls?.LongestWait.TotalSeconds ?? 0,
                mine.Count, mine.Count(a => a.State == "Ready"), mine.Count(a => a.State is "OnCall" or "Ringing"), mine.Count(a => a.State == "WrapUp"), mine.Count(a => a.State == "Paused"),
                mine.Count(a => a.State == "Ringing")));
        }

        var queues = status.Queues.Select(q => new CentreQueueView(
            q.Queue, q.Waiting, q.LongestWait.TotalSeconds, q.Ready, q.OnCall + q.Ringing, q.WrapUp, q.Paused,
            q.Today.Offered, q.Today.Answered, q.Today.Abandoned, q.Today.ServiceLevel, q.Ringing)).ToList();
        return new CentreView(now, status.TimeZoneId, servers, queues, agents);
    }
}
