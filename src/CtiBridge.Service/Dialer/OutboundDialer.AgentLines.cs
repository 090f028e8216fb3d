using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// The agents on this instance's nailed-up lines, written to <c>dialer_agent_lines</c> so call
/// control on another instance (the active one, when this is a dialer-only instance) refuses their
/// inbound login: one agent, one state at a time in the agent-state log (docs/dialer.md). Best
/// effort: a database that does not answer is logged and the line works all the same.
/// </summary>
public sealed partial class OutboundDialer
{
    // Awaited on the loop before the join is answered, so a login elsewhere right after it is refused.
    private async Task<string?> RecordAgentLineAsync(string agentId, string campaignId, string channelId, string endpoint)
    {
        try
        {
            await _agentLines.JoinAsync(agentId, campaignId, InstanceId, channelId, endpoint, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogAgentLineNotStored(_logger, agentId, campaignId, ex.Message);
        }

        return null;
    }

    private async Task ForgetAgentLineAsync(string agentId)
    {
        try
        {
            await _agentLines.LeaveAsync(agentId, InstanceId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or ObjectDisposedException)
        {
            LogAgentLineNotStored(_logger, agentId, "(left)", ex.Message);
        }
    }

    private async Task ClearAgentLinesAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _agentLines.ClearAsync(InstanceId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            LogAgentLineNotStored(_logger, "(all)", "(this instance's)", ex.Message);
        }
    }

    [LoggerMessage(EventId = 1060, Level = LogLevel.Warning, Message = "Dialer: agent {AgentId}'s nailed-up line of campaign {Campaign} could not be stored in or removed from dialer_agent_lines ({Reason}); call control on another instance may not see it")]
    private static partial void LogAgentLineNotStored(ILogger logger, string agentId, string campaign, string reason);
}
