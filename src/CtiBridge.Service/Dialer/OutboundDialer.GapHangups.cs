using System.Collections.Concurrent;
using System.Globalization;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// The real end of a dialer call that ended inside an ARI events gap (issue 14). While the dialer's events
/// WebSocket is cut off, a customer who hangs up sends its ChannelDestroyed into the dead connection, and the
/// resync only finds the channel gone: before, the attempt ended at the resync's time, as vanished (38). As in
/// call control (CallControl/CallCenter.GapHangups.cs), AMI is a connection of its own, usually still up, and
/// reports every channel's <c>Hangup</c> with its cause (its <c>Uniqueid</c> is the ARI channel id, the dialer's
/// call id). So the dialer keeps the hang-ups AMI reports for a while, and a line that vanished in a gap ends at
/// AMI's time with AMI's cause. A line whose end nobody reported (Asterisk restarted, AMI down too) ends at the
/// gap's start, the last moment it was known up, and its <c>calls</c> row is marked <c>end_estimated</c>.
/// </summary>
public sealed partial class OutboundDialer
{
    // Longer than any events gap a resync can still fix (the events connection reconnects within seconds).
    private static readonly TimeSpan HangupsKeptFor = TimeSpan.FromMinutes(10);

    // How long the resync waits for its AMI marker before judging with the hang-ups read so far.
    private static readonly TimeSpan AmiMarkerTimeout = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, SeenHangup> _amiHangups = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string ChannelId, DateTimeOffset At)> _amiHangupsByAge = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _amiMarkers = new(StringComparer.Ordinal);

    // The AMI connection of the dialer's server, when the service has one for it (null: no AMI lookup, ends estimated).
    private readonly AmiClient? _ami;

    // Set while AMI is logged in and the hang-up watch is reading its events.
    private volatile bool _amiWatching;

    /// <summary>A channel's end as AMI reported it, on the dialer's clock when it was read.</summary>
    private sealed record SeenHangup(int Cause, string CauseText, DateTimeOffset At);

    /// <summary>How a line that vanished in an events gap ended: when, with which cause, and whether the time is only a bound.</summary>
    private readonly record struct VanishedEnd(DateTimeOffset At, int Cause, bool Estimated);

    /// <summary>Whether AMI's hang-up of <paramref name="channelId"/> has been read (tests wait for it before an events gap closes).</summary>
    internal bool SawAmiHangup(string channelId) => _amiHangups.ContainsKey(channelId);

    /// <summary>Reads <paramref name="ami"/>'s <c>Hangup</c> events (and the resync's AMI markers) until <paramref name="cancellationToken"/> ends.</summary>
    private async Task WatchAmiHangupsAsync(AmiClient ami, CancellationToken cancellationToken)
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

        using var subscription = events;
        try
        {
            await foreach (var item in events.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (item.Event is not { } e)
                {
                    _amiWatching = true; // the stream's resync signal: logged in (again)
                    continue;
                }

                if (string.Equals(e["Event"], "UserEvent", StringComparison.OrdinalIgnoreCase))
                {
                    if (e["UserEvent"] == CallControl.CallCenter.ResyncMarkerEvent && e["Token"] is { } token && _amiMarkers.TryRemove(token, out var waiting))
                    {
                        waiting.TrySetResult();
                    }
                }
                else if (e["Uniqueid"] is { Length: > 0 } id && int.TryParse(e["Cause"], NumberStyles.None, CultureInfo.InvariantCulture, out var cause))
                {
                    NoteAmiHangup(id, new SeenHangup(cause, e["Cause-txt"] ?? string.Empty, _time.GetUtcNow()));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
            // The AMI client was disposed with the service: nothing more to read.
        }
        finally
        {
            _amiWatching = false;
        }
    }

    private void NoteAmiHangup(string channelId, SeenHangup hangup)
    {
        _amiHangups[channelId] = hangup;
        _amiHangupsByAge.Enqueue((channelId, hangup.At));
        while (_amiHangupsByAge.TryPeek(out var oldest) && hangup.At - oldest.At > HangupsKeptFor && _amiHangupsByAge.TryDequeue(out oldest))
        {
            // Only the entry that old one noted (a fresh note of the same id must stay).
            if (_amiHangups.TryGetValue(oldest.ChannelId, out var current) && current.At == oldest.At)
            {
                _amiHangups.TryRemove(new KeyValuePair<string, SeenHangup>(oldest.ChannelId, current));
            }
        }
    }

    /// <summary>
    /// Waits until AMI has delivered every event Asterisk published before now (an AMI <c>UserEvent</c> sent now
    /// comes back behind them), at most <see cref="AmiMarkerTimeout"/>. Without AMI, or when it fails, returns at
    /// once: the resync then judges with the hang-ups read so far (a line AMI did not report ends estimated).
    /// </summary>
    private async Task AwaitAmiHangupsAsync(CancellationToken cancellationToken)
    {
        if (_ami is not { } ami || !_amiWatching)
        {
            return;
        }

        var token = Guid.NewGuid().ToString("N");
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _amiMarkers[token] = back;
        try
        {
            using var timeout = new CancellationTokenSource(AmiMarkerTimeout, _connectionTime);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
            await ami.UserEventAsync(CallControl.CallCenter.ResyncMarkerEvent, [new("Token", token)], linked.Token).ConfigureAwait(false);
            await back.Task.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AmiConnectionException or AmiActionTimeoutException or AmiActionException or ObjectDisposedException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            LogAmiMarkerFailed(_logger, ex.Message);
        }
        finally
        {
            _amiMarkers.TryRemove(token, out _);
        }
    }

    /// <summary>
    /// When and how a channel the dialer knew at an events gap, and Asterisk no longer has, ended: at AMI's hang-up
    /// (its time, its cause); else, after a gap, at <paramref name="gapStart"/> (the last moment it was known up)
    /// as vanished, marked estimated; else (the line audit, no gap) now, as vanished. Never later than <paramref name="now"/>.
    /// </summary>
    private VanishedEnd EndOfVanished(string channelId, DateTimeOffset now, DateTimeOffset? gapStart)
    {
        if (_amiHangups.TryGetValue(channelId, out var hangup))
        {
            return new VanishedEnd(hangup.At < now ? hangup.At : now, hangup.Cause, Estimated: false);
        }

        return gapStart is { } start
            ? new VanishedEnd(start < now ? start : now, CauseVanished, Estimated: true)
            : new VanishedEnd(now, CauseVanished, Estimated: false);
    }

    /// <summary>
    /// The gap's start on the dialer's clock: the events connection reports it on the connections' clock, which is
    /// the dialer's own in production; a dialer on a clock of its own (tests) counts back the same time from now.
    /// </summary>
    private DateTimeOffset GapStartOnDialerClock(Asterisk.Ari.AriEventGap gap, DateTimeOffset now)
    {
        var since = _connectionTime.GetUtcNow() - gap.DisconnectedAt;
        return since > TimeSpan.Zero ? now - since : now;
    }

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Dialer call {CallId} hung up while the dialer's ARI events were cut off; AMI saw its Hangup (cause {Cause} {CauseText}) at {At}: ended then, with that cause")]
    private static partial void LogHangupSeenByAmi(ILogger logger, string callId, int cause, string causeText, DateTimeOffset at);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Dialer call {CallId} ended unseen while the dialer's ARI events were cut off and AMI did not report it either; ended at the gap's start {GapStart}, marked as an estimate (calls.end_estimated)")]
    private static partial void LogEndEstimated(ILogger logger, string callId, DateTimeOffset gapStart);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "The dialer resync's AMI marker did not come back ({Reason}); lines that vanished in the events gap are judged with the AMI hang-ups read so far")]
    private static partial void LogAmiMarkerFailed(ILogger logger, string reason);
}
