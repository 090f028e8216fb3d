using CtiBridge.Data.Records;

namespace CtiBridge.Service.Live;

/// <summary>
/// The agents' outbound calls on the wallboard (docs/metrics.md §6, definitions version 3): campaign
/// and callback calls an agent talked on count as the agent's calls, as in <c>report_agent_activity</c>.
/// The ACD's live statistics count inbound calls from its events; the outbound ones are read from the
/// call records with the report's own definition (<see cref="AgentOutboundCalls"/>), because the dialer
/// may run on another instance. Read at most every <see cref="CallbackRefresh"/>; an outbound call
/// counts once its record is written (when it ends).
/// </summary>
public sealed partial class WallboardFeed
{
    private readonly AgentOutboundCalls? _outboundCalls;
    private IReadOnlyDictionary<string, AgentOutboundFigures> _outboundFigures = new Dictionary<string, AgentOutboundFigures>();
    private DateTimeOffset _outboundFiguresAt = DateTimeOffset.MinValue;

    private async Task<IReadOnlyDictionary<string, AgentOutboundFigures>> OutboundFiguresAsync(CancellationToken cancellationToken)
    {
        if (_outboundCalls is null)
        {
            return _outboundFigures;
        }

        var now = _time.GetUtcNow();
        if (now - _outboundFiguresAt >= CallbackRefresh || now < _outboundFiguresAt)
        {
            try
            {
                var since = await _center.GetStatisticsPeriodStartAsync(cancellationToken).ConfigureAwait(false);
                _outboundFigures = await _outboundCalls.SinceAsync(since, cancellationToken).ConfigureAwait(false);
                _outboundFiguresAt = now;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
            {
                // The database is out of reach (or not migrated yet): the last figures stay on the board.
            }
        }

        return _outboundFigures;
    }
}
