using CtiBridge.Core.Dialer;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// The line audit (issue 10, <c>FiveHundredLeads_Predictive</c> stuck once at load 80+): an answered
/// call whose end the dialer never learns (its ChannelDestroyed lost with an events gap whose resync
/// could not read the channel list, or never processed) holds its lead, its line and its agent until
/// <c>MaxCallDuration</c> (4 h): the lead gets no outcome and is never dialled again meanwhile. So every
/// <see cref="DialerSettings.LineAuditSeconds"/> the dialer reads Asterisk's channel list once and ends,
/// as if their end had been seen, the answered lines and nailed-up channels it holds that are gone
/// (with the resync's marker, so an end already on its way is taken as it is).
/// </summary>
public sealed partial class OutboundDialer
{
    // Lines answered this recently are not audited: their channel list entry and events are in flight.
    private static readonly TimeSpan AuditGrace = TimeSpan.FromSeconds(5);

    private readonly HashSet<string> _auditTokens = new(StringComparer.Ordinal);
    private DateTimeOffset _lastAudit;

    /// <summary>On the loop, from each plan round: starts a line audit when one is due and none is waiting for its marker.</summary>
    private void AuditLines(DateTimeOffset now)
    {
        if (_lastAudit == default)
        {
            _lastAudit = now;
            return;
        }

        if (now - _lastAudit < TimeSpan.FromSeconds(_settings.LineAuditSeconds) || _pendingResyncs.Count > 0)
        {
            return;
        }

        _lastAudit = now;

        // Only channels the dialer has seen up: an answered customer (a ringing one may not be in the list
        // yet, and the ring timeout bounds it anyway) and an agent's answered nailed-up line.
        var known = _lines.Values
            .Where(l => l.Campaign.Dialer.Find(l.CallId) is { State: not DialedCallState.Ringing, AnsweredAt: { } answered } && now - answered >= AuditGrace)
            .Select(l => l.CallId)
            .Concat(_agents.Values.Where(a => a.State != DialerAgentState.Joining && now - a.StateSince >= AuditGrace).Select(a => a.ChannelId))
            .ToHashSet(StringComparer.Ordinal);
        if (known.Count > 0)
        {
            CheckChannelsUp(known, gapStart: null);
        }
    }

    [LoggerMessage(EventId = 1054, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign}: Asterisk no longer has its channel but its end was never reported to the dialer; ended by the line audit")]
    private static partial void LogLineAudited(ILogger logger, string callId, string campaign);
}
