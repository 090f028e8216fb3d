using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// Calls whose end the dialer would otherwise never learn. After the dialer's ARI events were cut off (Asterisk restarted, the WebSocket dropped), the ends
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

    private int _sweeping;

    // Attempts of this instance id dialled before this run are nobody's lines any more (a restart
    // under a configured InstanceId); this run's are its own.
    private DateTimeOffset _runStartedAt = DateTimeOffset.MaxValue;

    /// <summary>How far back the sweep looks for ended attempts without a call record (older calls may be gone by retention).</summary>
    private static readonly TimeSpan UnrecordedLookBack = TimeSpan.FromDays(1);

    // Resyncs whose channel list is read and whose marker has not come back yet: marker token → channels missing from the list.
    private readonly Dictionary<string, PendingResync> _pendingResyncs = new(StringComparer.Ordinal);

    /// <summary>A resync waiting for its marker: the channels missing from Asterisk's list, and the events gap's start on the dialer's clock (null for the line audit).</summary>
    private sealed record PendingResync(IReadOnlyList<string> Missing, DateTimeOffset? GapStart);

    private void ResyncAfterGap(AriEventGap gap, DateTimeOffset now)
    {
        // A resync still waiting for its marker lost it with the connection that just dropped: this one
        // supersedes it (every channel it would have judged that is still known is judged again).
        foreach (var token in _pendingResyncs.Keys.ToList())
        {
            _pendingResyncs.Remove(token);
            LogResyncSuperseded(_logger, token);
        }

        // Only channels known now can have vanished in the gap: one dialled after the reconnect may be
        // missing from a list taken a moment before it was created.
        var knownAtGap = _lines.Keys.Concat(_agentsByChannel.Keys).ToHashSet(StringComparer.Ordinal);
        LogEventGap(_logger, gap.Reason, knownAtGap.Count);
        if (knownAtGap.Count == 0)
        {
            return;
        }

        CheckChannelsUp(knownAtGap, GapStartOnDialerClock(gap, now));
    }

    /// <summary>
    /// Reads Asterisk's channel list (off the loop) and ends, once a marker says every event sent before
    /// the list has been read, each of <paramref name="known"/> that Asterisk no longer has and the dialer
    /// still holds: after an events gap (<paramref name="gapStart"/> its start on the dialer's clock), and in the
    /// periodic line audit (<see cref="AuditLines"/>, no gap start).
    /// </summary>
    private void CheckChannelsUp(HashSet<string> known, DateTimeOffset? gapStart)
    {
        var afterGap = gapStart is not null;
        var knownAtGap = known;
        _ = Activity.Run(async () =>
        {
            try
            {
                // Every channel of the server, not the app's: a customer still ringing is not in the app yet.
                var channels = await _ari.Channels.ListAsync(_stopping.Token).ConfigureAwait(false);
                var up = channels.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                var missing = knownAtGap.Where(id => !up.Contains(id)).ToList();
                if (missing.Count == 0)
                {
                    return;
                }

                // A channel missing from the list may have ended after the reconnect: its ChannelDestroyed
                // (with the real cause: busy, no answer, the customer's hang-up) is then on the new connection,
                // maybe not read yet. As in call control's resync, a marker (ARI user event to the dialer's app,
                // queued by Asterisk behind that event) says when everything before the list has been read:
                // what is still known then vanished in the gap itself, and only that is ended as vanished.
                // Before it, AMI's hang-ups up to now are read (an AMI marker), so a line that ended inside the gap
                // ends at AMI's time with AMI's cause (OutboundDialer.GapHangups.cs).
                await AwaitAmiHangupsAsync(_stopping.Token).ConfigureAwait(false);
                var token = Guid.NewGuid().ToString("N");
                Post(_ =>
                {
                    _pendingResyncs[token] = new PendingResync(missing, gapStart);
                    if (!afterGap)
                    {
                        _auditTokens.Add(token);
                    }

                    return Task.CompletedTask;
                });
                try
                {
                    await _ari.Events.UserEventAsync(CallControl.CallCenter.ResyncMarkerEvent, _settings.Application,
                        variables: new Dictionary<string, string> { ["token"] = token }, cancellationToken: _stopping.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is AriException or HttpRequestException)
                {
                    // No marker (refused, or lost): judge at once, as before the marker existed.
                    LogResyncMarkerFailed(_logger, ex.Message);
                    Post(now => FinishResyncAsync(token, now));
                }
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException)
            {
                // Lines then end as before the resync existed: by the domain's lost-reply or duration bounds.
                LogResyncFailed(_logger, ex.Message);
            }
        });
    }

    /// <summary>A user event came back on the dialer's events connection: its resync marker, maybe.</summary>
    private Task OnUserEventAsync(ChannelUserevent userEvent, DateTimeOffset now) =>
        userEvent.Channel is null && userEvent.Eventname == CallControl.CallCenter.ResyncMarkerEvent
            && userEvent.Userevent.ValueKind == System.Text.Json.JsonValueKind.Object
            && userEvent.Userevent.TryGetProperty("token", out var token) && token.GetString() is { } id
            ? FinishResyncAsync(id, now)
            : Task.CompletedTask;

    private Task FinishResyncAsync(string token, DateTimeOffset now) =>
        _pendingResyncs.Remove(token, out var pending)
            ? EndVanishedAsync([.. pending.Missing.Where(id => _lines.ContainsKey(id) || _agentsByChannel.ContainsKey(id))], now, audit: _auditTokens.Remove(token), pending.GapStart)
            : Task.CompletedTask;

    private async Task EndVanishedAsync(IReadOnlyList<string> vanished, DateTimeOffset now, bool audit = false, DateTimeOffset? gapStart = null)
    {
        // Agents first: a conversation whose agent's channel is gone too then ends without a wrap-up
        // on a line that no longer exists. Each at its real end (AMI's hang-up, else the gap's start).
        foreach (var channelId in vanished)
        {
            if (_agentsByChannel.TryGetValue(channelId, out var agent))
            {
                RemoveAgent(agent, audit ? "nailed-up channel gone from Asterisk, its end never reported (line audit)" : "nailed-up channel vanished while the ARI events were cut off",
                    EndOfVanished(channelId, now, gapStart).At);
            }
        }

        foreach (var channelId in vanished)
        {
            if (_lines.TryGetValue(channelId, out var line))
            {
                if (audit)
                {
                    LogLineAudited(_logger, channelId, line.Campaign.Definition.Id);
                }
                else
                {
                    LogLineVanished(_logger, channelId, line.Campaign.Definition.Id);
                }

                // Ended when it really ended: AMI's hang-up (its cause: the customer's 16, busy, no answer), else the
                // gap's start, marked estimated; the line audit (no gap) at once, as before.
                var end = EndOfVanished(channelId, now, gapStart);
                if (end.Estimated)
                {
                    line.EndEstimated = true;
                    LogEndEstimated(_logger, channelId, end.At);
                }
                else if (_amiHangups.TryGetValue(channelId, out var seen))
                {
                    LogHangupSeenByAmi(_logger, channelId, seen.Cause, seen.CauseText, end.At);
                }

                await OnChannelGoneAsync(channelId, now, end.Cause, endedAt: end.At).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Attempts left open by an instance that died (kill -9, host lost) are never ended by it, and
    /// their leads must not be dialled while such a call may still be up. The hopper passes over
    /// leads with an open attempt; this sweep (with each heartbeat, off the loop) ends the orphans
    /// whose channel Asterisk no longer has, so their leads are dialled again by the usual rules.
    /// </summary>
    private void SweepOrphans()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        _ = Activity.Run(async () =>
        {
            try
            {
                foreach (var callId in await _attempts.OrphanedAsync(_runStartedAt, 100, _stopping.Token).ConfigureAwait(false))
                {
                    if (await ChannelIsUpAsync(callId).ConfigureAwait(false))
                    {
                        continue; // still up: its lead waits; looked at again with the next heartbeat
                    }

                    if (await _attempts.EndOrphanAsync(callId, _stopping.Token).ConfigureAwait(false) is { } ended)
                    {
                        // Its instance never wrote the call's record: every attempt is a call in the records, once.
                        HandRecord(DialerCallRecords.Lost(ended));
                        HandRecord(DialerCallRecords.LostLeg(ended));
                        LogOrphanEnded(_logger, callId);
                    }
                }

                // Ended attempts whose record died with their instance (killed between storing the end and its writer
                // storing the record): written from what is stored. The sweep that ends an orphan above and is killed
                // before its own writer stores the record is found here too, at a later sweep of whichever instance.
                var now = _time.GetUtcNow();
                foreach (var ended in await _attempts.EndedUnrecordedAsync(_runStartedAt, now - UnrecordedLookBack, 100, _stopping.Token).ConfigureAwait(false))
                {
                    HandRecord(ended.Outcome is null ? DialerCallRecords.Lost(ended) : DialerCallRecords.Recovered(ended));
                    HandRecord(DialerCallRecords.LostLeg(ended));
                    LogUnrecordedWritten(_logger, ended.CallId);
                }
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or NpgsqlException or OperationCanceledException)
            {
                LogOrphanSweepFailed(_logger, ex.Message);
            }
            finally
            {
                Volatile.Write(ref _sweeping, 0);
            }
        });
    }

    private async Task<bool> ChannelIsUpAsync(string channelId)
    {
        try
        {
            await _ari.Channels.GetAsync(channelId, _stopping.Token).ConfigureAwait(false);
            return true;
        }
        catch (AriRequestException ex) when (ex.StatusCode == 404)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "Dialer ARI events were cut off ({Reason}); {Known} channels known then are checked against Asterisk's channel list")]
    private static partial void LogEventGap(ILogger logger, string reason, int known);

    [LoggerMessage(EventId = 1043, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign} vanished while the dialer's ARI events were cut off; ended as if its end had been seen")]
    private static partial void LogLineVanished(ILogger logger, string callId, string campaign);

    [LoggerMessage(EventId = 1044, Level = LogLevel.Warning, Message = "Dialer resync after an events gap failed ({Reason}); lines whose end was missed are released by their ring-timeout or duration bounds")]
    private static partial void LogResyncFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1049, Level = LogLevel.Warning, Message = "Dialer call {CallId}: the connect to an agent could not be written ahead ({Reason}); if this instance dies during the call, its lead may be dialled again")]
    private static partial void LogConnectNotWritten(ILogger logger, string callId, string reason);

    [LoggerMessage(EventId = 1047, Level = LogLevel.Warning, Message = "Dialer resync marker (ARI user event) could not be sent ({Reason}); judging at once: a line that ended just after the reconnect may be counted as vanished")]
    private static partial void LogResyncMarkerFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1048, Level = LogLevel.Information, Message = "Dialer resync waiting for marker {Token} is superseded by a new events gap")]
    private static partial void LogResyncSuperseded(ILogger logger, string token);

    [LoggerMessage(EventId = 1057, Level = LogLevel.Warning, Message = "Dialer attempt {CallId} was ended by an instance that stopped before its call record was stored: record written from the stored attempt")]
    private static partial void LogUnrecordedWritten(ILogger logger, string callId);

    [LoggerMessage(EventId = 1045, Level = LogLevel.Warning, Message = "Dialer attempt {CallId} was left open by an instance that stopped (no heartbeat) and its channel is gone: ended as a lost reply (its call recorded as system_lost), its lead may be dialled again")]
    private static partial void LogOrphanEnded(ILogger logger, string callId);

    [LoggerMessage(EventId = 1046, Level = LogLevel.Warning, Message = "Dialer sweep of attempts left open by stopped instances failed ({Reason}); tried again with the next heartbeat")]
    private static partial void LogOrphanSweepFailed(ILogger logger, string reason);
}
