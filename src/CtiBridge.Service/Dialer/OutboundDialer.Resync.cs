using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// After the dialer's ARI events were cut off (Asterisk restarted, the WebSocket dropped), the ends
/// of its channels in that time never arrive. Without a resync a talking line would hold its lead,
/// its agent and a line of the campaign until <c>MaxCallDuration</c> (4 h), and an agent whose
/// nailed-up channel vanished would stay "on the line" and could not join again. So the channel
/// list is read once the events flow again, and every line and nailed-up channel known at the gap
/// that Asterisk no longer has is ended as if its end had been seen.
/// </summary>
public sealed partial class OutboundDialer
{
    // Q.850 38 "network out of order": what a ringing customer whose channel vanished with Asterisk
    // is counted as (congestion: the lead is retried after the congestion delay, not closed).
    private const int CauseVanished = 38;

    private void ResyncAfterGap(AriEventGap gap)
    {
        // Only channels known now can have vanished in the gap: one dialled after the reconnect may be
        // missing from a list taken a moment before it was created.
        var knownAtGap = _lines.Keys.Concat(_agentsByChannel.Keys).ToHashSet(StringComparer.Ordinal);
        LogEventGap(_logger, gap.Reason, knownAtGap.Count);
        if (knownAtGap.Count == 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                // Every channel of the server, not the app's: a customer still ringing is not in the app yet.
                var channels = await _ari.Channels.ListAsync(_stopping.Token).ConfigureAwait(false);
                var up = channels.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                Post(now => EndVanishedAsync([.. knownAtGap.Where(id => !up.Contains(id))], now));
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException)
            {
                // Lines then end as before the resync existed: by the domain's lost-reply or duration bounds.
                LogResyncFailed(_logger, ex.Message);
            }
        });
    }

    private async Task EndVanishedAsync(IReadOnlyList<string> vanished, DateTimeOffset now)
    {
        // Agents first: a conversation whose agent's channel is gone too then ends without a wrap-up
        // on a line that no longer exists.
        foreach (var channelId in vanished)
        {
            if (_agentsByChannel.TryGetValue(channelId, out var agent))
            {
                RemoveAgent(agent, "nailed-up channel vanished while the ARI events were cut off");
            }
        }

        foreach (var channelId in vanished)
        {
            if (_lines.TryGetValue(channelId, out var line))
            {
                LogLineVanished(_logger, channelId, line.Campaign.Definition.Id);
                await OnChannelGoneAsync(channelId, now, CauseVanished).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "Dialer ARI events were cut off ({Reason}); {Known} channels known then are checked against Asterisk's channel list")]
    private static partial void LogEventGap(ILogger logger, string reason, int known);

    [LoggerMessage(EventId = 1043, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign} vanished while the dialer's ARI events were cut off; ended as if its end had been seen")]
    private static partial void LogLineVanished(ILogger logger, string callId, string campaign);

    [LoggerMessage(EventId = 1044, Level = LogLevel.Warning, Message = "Dialer resync after an events gap failed ({Reason}); lines whose end was missed are released by their ring-timeout or duration bounds")]
    private static partial void LogResyncFailed(ILogger logger, string reason);
}
