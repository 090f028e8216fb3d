using System.Collections.Concurrent;
using System.Globalization;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Hang-ups during an ARI events gap (issue 14). While the events WebSocket is cut off, a caller who
/// hangs up sends its StasisEnd into the dead connection, and the resync only finds the channel gone:
/// before, such a call was recorded <c>system_lost</c>. But the end is knowable: AMI is a connection of
/// its own, usually still up, and Asterisk reports every channel's <c>Hangup</c> there with its cause
/// (the AMI <c>Uniqueid</c> is the ARI channel id). So the hang-ups AMI reports are kept for a while,
/// and a channel that vanished in a gap with a hang-up on record ends as what it was: the caller's
/// hang-up (abandoned while waiting, released by the caller while talking), an agent's hang-up, or a
/// failed line. Only a channel whose end nobody reported (Asterisk itself restarted, AMI down too) is
/// still lost. To be sure AMI's events up to the snapshot have been read, the resync sends an AMI
/// <c>UserEvent</c> marker and waits for it to come back (AMI delivers its events in order).
/// </summary>
public sealed partial class CallCenter
{
    // Longer than any events gap a resync can still fix (the events connection reconnects within seconds).
    private static readonly TimeSpan HangupsKeptFor = TimeSpan.FromMinutes(10);

    // How long the resync waits for its AMI marker before judging without it.
    private static readonly TimeSpan AmiMarkerTimeout = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<ChannelKey, SeenHangup> _amiHangups = new();
    private readonly ConcurrentQueue<(ChannelKey Key, DateTimeOffset At)> _amiHangupsByAge = new();
    private readonly ConcurrentDictionary<string, AmiClient> _amiByServer = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _amiMarkers = new(StringComparer.Ordinal);

    /// <summary>A channel's end as AMI reported it.</summary>
    private sealed record SeenHangup(int Cause, string CauseText, DateTimeOffset At);

    /// <summary>Reads <paramref name="ami"/>'s <c>Hangup</c> events (and the resync's AMI markers) until <paramref name="cancellationToken"/> ends.</summary>
    internal async Task WatchHangupsAsync(AmiClient ami, string server, CancellationToken cancellationToken)
    {
        AmiEventSubscription events;
        try
        {
            events = ami.SubscribeEvents(["Hangup", "UserEvent"]);
        }
        catch (ObjectDisposedException)
        {
            return; // stopping: the AMI client went first
        }

        _amiByServer[server] = ami;
        using var subscription = events;
        try
        {
            await foreach (var item in events.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (item.Event is not { } e)
                {
                    continue;
                }

                if (string.Equals(e["Event"], "UserEvent", StringComparison.OrdinalIgnoreCase))
                {
                    if (e["UserEvent"] == ResyncMarkerEvent && e["Token"] is { } token && _amiMarkers.TryRemove(token, out var waiting))
                    {
                        waiting.TrySetResult();
                    }
                }
                else if (e["Uniqueid"] is { Length: > 0 } id && int.TryParse(e["Cause"], NumberStyles.None, CultureInfo.InvariantCulture, out var cause))
                {
                    NoteAmiHangup(new ChannelKey(server, id), new SeenHangup(cause, e["Cause-txt"] ?? string.Empty, _time.GetUtcNow()));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _amiByServer.TryRemove(new KeyValuePair<string, AmiClient>(server, ami));
        }
    }

    private void NoteAmiHangup(ChannelKey key, SeenHangup hangup)
    {
        _amiHangups[key] = hangup;
        _amiHangupsByAge.Enqueue((key, hangup.At));
        while (_amiHangupsByAge.TryPeek(out var oldest) && hangup.At - oldest.At > HangupsKeptFor && _amiHangupsByAge.TryDequeue(out oldest))
        {
            // Only the entry that old one noted (ids are not reused, but a fresh note of the same key must stay).
            if (_amiHangups.TryGetValue(oldest.Key, out var current) && current.At == oldest.At)
            {
                _amiHangups.TryRemove(new KeyValuePair<ChannelKey, SeenHangup>(oldest.Key, current));
            }
        }
    }

    /// <summary>
    /// Waits until AMI has delivered every event Asterisk published before now (an AMI <c>UserEvent</c>
    /// sent now comes back behind them), at most <see cref="AmiMarkerTimeout"/>. Without AMI for
    /// <paramref name="server"/>, or when it fails, returns at once: the resync then judges with the
    /// hang-ups read so far.
    /// </summary>
    private async Task AwaitAmiHangupsAsync(string server, CancellationToken cancellationToken)
    {
        if (!_amiByServer.TryGetValue(server, out var ami))
        {
            return;
        }

        var token = Guid.NewGuid().ToString("N");
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _amiMarkers[token] = back;
        try
        {
            using var timeout = new CancellationTokenSource(AmiMarkerTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
            await ami.UserEventAsync(ResyncMarkerEvent, [new("Token", token)], linked.Token).ConfigureAwait(false);
            await back.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AmiConnectionException or AmiActionTimeoutException or AmiActionException or ObjectDisposedException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogAmiMarkerFailed(_logger, server, ex.Message);
        }
        finally
        {
            _amiMarkers.TryRemove(token, out _);
        }
    }

    /// <summary>The hang-up AMI reported for <paramref name="channelId"/> on <paramref name="app"/>'s server, if any.</summary>
    private SeenHangup? AmiHangupOf(StasisApp app, string channelId) => _amiHangups.GetValueOrDefault(On(app, channelId));

    /// <summary>
    /// A channel known at an events gap that Asterisk no longer has: ended as AMI saw it end, or as lost
    /// when nobody reported its end.
    /// </summary>
    private void EndVanishedInGap(StasisApp app, string channelId, DateTimeOffset at)
    {
        if (AmiHangupOf(app, channelId) is not { } hangup)
        {
            OnChannelGone(app, channelId, at, "vanished while the ARI events were cut off", lost: true);
            return;
        }

        LogHangupSeenByAmi(_logger, app.Server, channelId, hangup.Cause, hangup.CauseText, hangup.At);
        if (IsLineFailure(hangup.Cause) && _channels.TryGetValue(On(app, channelId), out var leg) && leg.AgentId is not null)
        {
            _droppedLines[channelId] = hangup.Cause; // an agent's line that failed: released by the system, as when seen live
        }

        OnChannelGone(app, channelId, at, $"hung up while the ARI events were cut off (AMI Hangup, cause {hangup.Cause} {hangup.CauseText})", cause: hangup.Cause);
    }

    [LoggerMessage(EventId = 887, Level = LogLevel.Information, Message = "Asterisk server {Server}: channel {ChannelId} hung up while the ARI events were cut off; AMI saw its Hangup (cause {Cause} {CauseText}) at {At}: ended as that hang-up, not as lost")]
    private static partial void LogHangupSeenByAmi(ILogger logger, string server, string channelId, int cause, string causeText, DateTimeOffset at);

    [LoggerMessage(EventId = 888, Level = LogLevel.Warning, Message = "Asterisk server {Server}: the resync's AMI marker did not come back ({Reason}); channels that vanished in the events gap are judged with the AMI hang-ups read so far")]
    private static partial void LogAmiMarkerFailed(ILogger logger, string server, string reason);
}
