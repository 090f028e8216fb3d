using CtiBridge.Data.Dialer;
using CtiBridge.Service.Hosting;
using Npgsql;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Keeps call control's view of the agents on a campaign's nailed-up line on any instance (issue 9):
/// a dialer-only instance holds lines this instance's dialer knows nothing of, and an agent on one
/// must not also log in to inbound queues here, or both would log the agent's time in the state log.
/// Reads <c>dialer_agent_lines</c> every <see cref="Refresh"/>, and the one agent's row at each login
/// (<see cref="CallCenter.AgentLineLookup"/>): with the set alone, a login within a second of a join
/// on another instance passed (the lag the issue saw). The set still answers when that read fails,
/// and for a desk-phone login whose PIN comes before the read is back. The join side checks
/// <c>live_agents</c> before and after writing its line.
/// </summary>
internal sealed partial class AgentLinesWatcher(CallCenter center, NpgsqlDataSource dataSource, TimeProvider timeProvider, ILogger<AgentLinesWatcher> logger,
    DatabaseSchemaState? schema = null, Dialer.OutboundDialer? ownDialer = null) : BackgroundService
{
    /// <summary>How often the lines are read again.</summary>
    internal static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            if (schema is not null)
            {
                await schema.WhenCheckedAsync(stoppingToken).ConfigureAwait(false);
            }

            var lines = new AgentLines(dataSource, timeProvider);
            center.AgentLineLookup = (agentId, ct) => LineOfAsync(lines, agentId, ct);
            using var timer = new PeriodicTimer(Refresh, timeProvider);
            var failing = false;
            do
            {
                try
                {
                    // This instance's own dialer answers for its lines at once (CallCenter.AgentWorkingElsewhere), also when one ends.
                    var held = (await lines.HeldAsync(stoppingToken).ConfigureAwait(false)).Where(l => l.InstanceId != ownDialer?.InstanceId);
                    center.SetAgentLinesElsewhere(held.ToDictionary(l => l.AgentId, Why, StringComparer.Ordinal));
                    failing = false;
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
                {
                    // The last set stays: a database outage does not let every agent through at once.
                    if (!failing)
                    {
                        LogReadFailed(logger, ex.Message);
                        failing = true;
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    // One agent's line read at the login (CallCenter.AgentLineLookup); a failed read leaves the answer to the last read set.
    private async Task<AgentLineRead> LineOfAsync(AgentLines lines, string agentId, CancellationToken cancellationToken)
    {
        try
        {
            var line = await lines.OfAsync(agentId, cancellationToken).ConfigureAwait(false);
            return new AgentLineRead(Read: true, line is not null && line.InstanceId != ownDialer?.InstanceId ? Why(line) : null);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogLoginReadFailed(logger, agentId, ex.Message);
            return default;
        }
    }

    private static string Why(AgentLine line) =>
        $"agent {line.AgentId} is on the nailed-up line of campaign {line.CampaignId} (dialer instance {line.InstanceId}); leave the campaign before logging in to inbound queues";

    [LoggerMessage(EventId = 958, Level = LogLevel.Warning, Message = "Call control: the agents on campaign lines (dialer_agent_lines) could not be read ({Reason}); the last known ones are kept")]
    private static partial void LogReadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 959, Level = LogLevel.Warning, Message = "Call control: agent {AgentId}'s campaign line could not be read at the login ({Reason}); the last known lines answer")]
    private static partial void LogLoginReadFailed(ILogger logger, string agentId, string reason);
}
