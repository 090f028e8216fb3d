namespace CtiBridge.Service.CallControl;

/// <summary>
/// Several Asterisk servers (docs/sites.md): each agent's phone is on one server; a call is
/// offered to agents of other servers only by queues that span servers (the ACD engine's sites),
/// and then the agent's leg is originated on the caller's server through its trunk to the agent's server.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// The servers and their trunks; null (tests of one server) rings every agent's extension on
    /// the caller's server, as a one-server deployment does.
    /// </summary>
    public SiteRouting? Sites { get; init; }

    /// <summary>
    /// What the caller's server (<paramref name="callServer"/>) originates to ring the agent: the
    /// extension on the same server, the trunk's dial string to the agent's server otherwise; null
    /// when that server has no trunk there.
    /// </summary>
    private string? AgentEndpoint(string callServer, string agentId, string extension) =>
        Sites is null || !_agents.TryGetValue(agentId, out var agent) ? extension : Sites.EndpointFor(callServer, Sites.ServerOf(agent), extension, agentId);

    /// <summary>
    /// The dial string to an outside <paramref name="number"/> from the server <paramref name="session"/> is on:
    /// that server's <c>externalEndpoint</c> (its own carrier), else <c>callControl.externalEndpoint</c>.
    /// </summary>
    private string ExternalEndpointFor(CallSession session, string number) =>
        (Sites?.ExternalEndpointOf(session.App.Server, _settings.ExternalEndpoint) ?? _settings.ExternalEndpoint).Replace("{number}", number, StringComparison.Ordinal);

    /// <summary>Whether the agent's phone is on <paramref name="server"/> (true when the agent's server is not known).</summary>
    private bool AgentIsOn(string agentId, string server) =>
        Sites is null || !_agents.TryGetValue(agentId, out var agent) || Sites.ServerOf(agent) is not { } own
        || string.Equals(own, server, StringComparison.OrdinalIgnoreCase);

    /// <summary>Reload: the agents' servers and the spanning queues are checked against the configured servers and trunks.</summary>
    private void ValidateSites(CallControlSettings settings, List<Configuration.SettingsProblem> problems)
    {
        if (Sites is not null)
        {
            SiteRouting.Validate(Sites.ServerSettings, settings, problems);
        }
    }

    /// <summary>No trunk from the caller's server to the agent's: the engine tries another agent.</summary>
    private void AgentUnreachable(CallSession session, string agentId, string legId)
    {
        LogNoTrunk(_logger, session.CallId, agentId, session.App.Server);
        var callId = session.CallId;
        Post(at =>
        {
            if (session.Ended || !session.AgentLegs.TryGetValue(agentId, out var current) || current != legId)
            {
                return null;
            }

            session.AgentLegs.Remove(agentId);
            _channels.Remove(On(session.App, legId));
            return new Core.Acd.AgentDeclined(at, callId, agentId);
        });
    }

    [LoggerMessage(EventId = 1410, Level = LogLevel.Warning, Message = "Call {CallId} is on Asterisk server {Server}, which has no trunk to agent {AgentId}'s server (asterisk[].trunks); the agent is skipped for it")]
    private static partial void LogNoTrunk(ILogger logger, string callId, string agentId, string server);
}
