using System.Collections.Concurrent;
using System.Globalization;
using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;

namespace CtiBridge.Service.CallControl;

/// <summary>When a channel that ended unseen in an ARI events gap really ended.</summary>
/// <param name="At">AMI's hang-up time, or the gap's start (the last moment the channel was known up).</param>
/// <param name="Estimated">Nothing reported the end (AMI down too): <paramref name="At"/> is the gap's start, a bound.</param>
internal readonly record struct GapEnd(DateTimeOffset At, bool Estimated);

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
/// The call is recorded at its real end, not at the resync: AMI's time of the hang-up (read as it came, while
/// the ARI events were down), or, when nobody reported it, the gap's start (the last moment the call was known
/// up) marked as an estimate (<c>calls.end_estimated</c>). Its wait or talk, its hold, its queue visit and its
/// agent's state changes follow that end (the ACD stamps the ending at it: <c>CallHungUp.EndedAt</c>).
/// </summary>
public sealed partial class CallCenter
{
    // Longer than any events gap a resync can still fix (the events connection reconnects within seconds).
    private static readonly TimeSpan HangupsKeptFor = TimeSpan.FromMinutes(10);

    // How long the resync waits for its AMI marker before judging without it.
    private static readonly TimeSpan AmiMarkerTimeout = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<ChannelKey, SeenHangup> _amiHangups = new();
    private readonly ConcurrentQueue<(ChannelKey Key, DateTimeOffset At)> _amiHangupsByAge = new();
    private readonly ConcurrentDictionary<ChannelKey, SeenJoin> _amiJoins = new();
    private readonly ConcurrentQueue<(ChannelKey Key, DateTimeOffset At)> _amiJoinsByAge = new();
    private readonly ConcurrentDictionary<string, AmiClient> _amiByServer = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _amiMarkers = new(StringComparer.Ordinal);

    /// <summary>A channel's end as AMI reported it.</summary>
    private sealed record SeenHangup(int Cause, string CauseText, DateTimeOffset At);

    /// <summary>A channel's last entry into a bridge as AMI reported it (<c>BridgeEnter</c>).</summary>
    private sealed record SeenJoin(string BridgeId, DateTimeOffset At);

    /// <summary>Reads <paramref name="ami"/>'s <c>Hangup</c> events (and the resync's AMI markers) until <paramref name="cancellationToken"/> ends.</summary>
    internal async Task WatchHangupsAsync(AmiClient ami, string server, CancellationToken cancellationToken)
    {
        AmiEventSubscription events;
        try
        {
            events = ami.SubscribeEvents(["Hangup", "UserEvent", "BridgeEnter"]);
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
                else if (string.Equals(e["Event"], "BridgeEnter", StringComparison.OrdinalIgnoreCase))
                {
                    if (e["Uniqueid"] is { Length: > 0 } joined && e["BridgeUniqueid"] is { Length: > 0 } bridgeId)
                    {
                        var at = _time.GetUtcNow();
                        Note(_amiJoins, _amiJoinsByAge, new ChannelKey(server, joined), new SeenJoin(bridgeId, at), at);
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

    private void NoteAmiHangup(ChannelKey key, SeenHangup hangup) => Note(_amiHangups, _amiHangupsByAge, key, hangup, hangup.At);

    /// <summary>Keeps what AMI reported of a channel for <see cref="HangupsKeptFor"/>, forgetting what is older.</summary>
    private static void Note<T>(ConcurrentDictionary<ChannelKey, T> seen, ConcurrentQueue<(ChannelKey Key, DateTimeOffset At)> byAge, ChannelKey key, T value, DateTimeOffset at)
        where T : class
    {
        seen[key] = value;
        byAge.Enqueue((key, at));
        while (byAge.TryPeek(out var oldest) && at - oldest.At > HangupsKeptFor && byAge.TryDequeue(out oldest))
        {
            // Only the entry that old one noted (ids are not reused, but a fresh note of the same key must stay).
            if (seen.TryGetValue(oldest.Key, out var current) && AtOf(current) == oldest.At)
            {
                seen.TryRemove(new KeyValuePair<ChannelKey, T>(oldest.Key, current));
            }
        }
    }

    private static DateTimeOffset AtOf(object seen) => seen switch
    {
        SeenHangup h => h.At,
        SeenJoin j => j.At,
        _ => DateTimeOffset.MinValue,
    };

    /// <summary>When AMI saw <paramref name="channelId"/> enter <paramref name="bridgeId"/> on <paramref name="app"/>'s server, if it did.</summary>
    private DateTimeOffset? AmiJoinOf(StasisApp app, string channelId, string bridgeId) =>
        _amiJoins.TryGetValue(On(app, channelId), out var join) && join.BridgeId == bridgeId ? join.At : null;

    /// <summary>
    /// Joins lost in an events gap (issue 14): a callback's second party (agent-first the customer, customer-first
    /// the agent) entered the conversation's bridge while the ARI events were cut off, so its ChannelEnteredBridge
    /// went nowhere and the callback stayed unconnected: retried although the customer was put through. The resync
    /// lists the bridges: a party in the bridge now joined; one AMI saw enter it (<c>BridgeEnter</c>) joined then,
    /// even if it has left again since (its leave, a hang-up, is then ended as it happened, after this). A party
    /// whose answer (StasisStart) was lost too is answered now, as when seen live, so the join follows. Run before
    /// the vanished channels are ended.
    /// </summary>
    private void ApplyMissedJoins(StasisApp app, IReadOnlyList<Channel> inApp, IReadOnlyList<Bridge> bridges, DateTimeOffset at)
    {
        var members = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var bridge in bridges)
        {
            members[bridge.Id] = bridge.Channels.ToHashSet(StringComparer.Ordinal);
        }

        var answered = inApp.ToDictionary(c => c.Id, StringComparer.Ordinal);

        // A queue call's agent who answered unseen (the leg's StasisStart lost): the ACD still has the agent
        // ringing, and would time the ring out and hang up a phone that is talking. Answered now, as when seen
        // live: the leg is bridged, then the ACD hears of the answer (CallCenter.AnswerBridge.cs). An answer seen
        // live whose leg is still being bridged (the ACD has the agent ringing until then) is left to that.
        foreach (var ((_, channelId), leg) in _channels.Where(c => c.Value.Session.App == app && c.Value.AgentId is not null && c.Value.Session.Placed is null).ToList())
        {
            if (answered.ContainsKey(channelId) && !leg.Session.Ended && leg.Session.IsCurrentLeg(leg.AgentId!, channelId)
                && !leg.Session.AnswerBridges.ContainsKey(leg.AgentId!)
                && _engine.GetAgent(leg.AgentId!) is { State: AgentState.Ringing } ringing && ringing.CallId == leg.Session.CallId)
            {
                LogAnswerMissed(_logger, app.Server, leg.Session.CallId, channelId);
                BridgeAnsweringAgent(leg.Session, leg.AgentId!, channelId);
            }
        }

        foreach (var session in _callbackTasks.Values.Where(s => s.App == app && !s.Ended).ToList())
        {
            if (session.Placed is not { ConnectedAt: null } placed || session.BridgeId is not { } bridgeId)
            {
                continue;
            }

            // The customer answered unseen (its StasisStart lost): taken as answered now; agent-first it is then put
            // into the agent's bridge, customer-first the agent is connected and rung.
            if (placed.CustomerAnsweredAt is null && answered.TryGetValue(placed.CustomerLegId, out var customer) && _callbackLegs.ContainsKey(customer.Id))
            {
                LogAnswerMissed(_logger, app.Server, session.CallId, customer.Id);
                StartCallbackLeg(app, customer, "callback", at);
                continue;
            }

            var second = placed.Mode == CallbackMode.AgentFirst ? placed.CustomerLegId : placed.AgentLegId;
            if (second is null || placed.CustomerAnsweredAt is null)
            {
                continue;
            }

            var joinedAt = AmiJoinOf(app, second, bridgeId);
            var inBridge = members.TryGetValue(bridgeId, out var inIt) && inIt.Contains(second);
            if (joinedAt is null && !inBridge)
            {
                // Customer-first, the agent answered unseen (its StasisStart lost): brought to the customer now.
                if (placed.Mode == CallbackMode.CustomerFirst && !placed.AgentLegAnswered && answered.TryGetValue(second, out var agentLeg))
                {
                    LogAnswerMissed(_logger, app.Server, session.CallId, second);
                    StartCallbackLeg(app, agentLeg, "cbagent", at);
                }

                continue;
            }

            var connectedAt = joinedAt is { } seen && seen < at ? seen : at;
            LogJoinMissed(_logger, app.Server, session.CallId, second, bridgeId, connectedAt);
            CallbackConnected(session, connectedAt);
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

    /// <summary>Whether AMI's hang-up of <paramref name="channelId"/> on <paramref name="server"/> has been read (tests wait for it before an events gap closes).</summary>
    internal bool SawAmiHangup(string server, string channelId) => _amiHangups.ContainsKey(new ChannelKey(server, channelId));

    /// <summary>The hang-up AMI reported for <paramref name="channelId"/> on <paramref name="app"/>'s server, if any.</summary>
    private SeenHangup? AmiHangupOf(StasisApp app, string channelId) => _amiHangups.GetValueOrDefault(On(app, channelId));

    /// <summary>
    /// Channels known at an events gap that Asterisk no longer has, in the order they ended: those AMI saw end
    /// by AMI's time, then those nobody saw end (the first to end decides how the call ended: a caller who hung
    /// up before the agent is the caller's hang-up).
    /// </summary>
    private IEnumerable<string> InEndOrder(StasisApp app, IEnumerable<string> vanished) =>
        vanished.OrderBy(id => AmiHangupOf(app, id)?.At ?? DateTimeOffset.MaxValue).ThenBy(id => id, StringComparer.Ordinal);

    /// <summary>
    /// A channel known at an events gap that Asterisk no longer has: ended as AMI saw it end, at AMI's time,
    /// or as lost when nobody reported its end, at <paramref name="gapStart"/> (the last moment it was known
    /// up), marked as an estimate.
    /// </summary>
    private void EndVanishedInGap(StasisApp app, string channelId, DateTimeOffset at, DateTimeOffset gapStart)
    {
        var session = _channels.TryGetValue(On(app, channelId), out var known) ? known.Session : null;
        var hangup = AmiHangupOf(app, channelId);
        if (session is not null && !session.Ended)
        {
            session.RealEnd = hangup is not null ? new GapEnd(hangup.At < at ? hangup.At : at, Estimated: false) : new GapEnd(gapStart < at ? gapStart : at, Estimated: true);
        }

        try
        {
            if (hangup is null)
            {
                LogEndEstimated(_logger, app.Server, channelId, gapStart);
                OnChannelGone(app, channelId, at, "vanished while the ARI events were cut off", lost: true);
                return;
            }

            LogHangupSeenByAmi(_logger, app.Server, channelId, hangup.Cause, hangup.CauseText, hangup.At);
            if (IsLineFailure(hangup.Cause) && known?.AgentId is not null)
            {
                _droppedLines[channelId] = hangup.Cause; // an agent's line that failed: released by the system, as when seen live
            }

            OnChannelGone(app, channelId, at, $"hung up while the ARI events were cut off (AMI Hangup, cause {hangup.Cause} {hangup.CauseText})", cause: hangup.Cause);
        }
        finally
        {
            if (session is not null)
            {
                session.RealEnd = null; // the call goes on (an agent's leg of several): its later end is seen live
            }
        }
    }

    /// <summary>The real end of a callback customer's leg that vanished in an events gap: AMI's time, or the gap's start as an estimate.</summary>
    private GapEnd CallbackLegEnd(StasisApp app, string legId, DateTimeOffset at, DateTimeOffset gapStart) =>
        AmiHangupOf(app, legId) is { } hangup ? new GapEnd(hangup.At < at ? hangup.At : at, Estimated: false) : new GapEnd(gapStart < at ? gapStart : at, Estimated: true);

    /// <summary>The ACD's hang-up input for <paramref name="session"/>, at its real end when that was learned late.</summary>
    private static CallHungUp HungUp(CallSession session, DateTimeOffset at, HangupParty by) =>
        new(at, session.CallId, by) { EndedAt = session.RealEnd?.At, EndEstimated = session.RealEnd?.Estimated ?? false };

    /// <summary>The ACD's loss input for <paramref name="session"/>, at its real end when that was learned late.</summary>
    private static CallLost Lost(CallSession session, DateTimeOffset at, string detail) =>
        new(at, session.CallId, detail) { EndedAt = session.RealEnd?.At, EndEstimated = session.RealEnd?.Estimated ?? false };

    [LoggerMessage(EventId = 887, Level = LogLevel.Information, Message = "Asterisk server {Server}: channel {ChannelId} hung up while the ARI events were cut off; AMI saw its Hangup (cause {Cause} {CauseText}) at {At}: ended as that hang-up, not as lost")]
    private static partial void LogHangupSeenByAmi(ILogger logger, string server, string channelId, int cause, string causeText, DateTimeOffset at);

    [LoggerMessage(EventId = 855, Level = LogLevel.Warning, Message = "Asterisk server {Server}: channel {ChannelId} ended unseen while the ARI events were cut off and AMI did not report it either; its call is recorded as ending at the gap's start {GapStart}, marked as an estimate (calls.end_estimated)")]
    private static partial void LogEndEstimated(ILogger logger, string server, string channelId, DateTimeOffset gapStart);

    [LoggerMessage(EventId = 847, Level = LogLevel.Information, Message = "Asterisk server {Server}: callback call {CallId}: {ChannelId} joined bridge {BridgeId} while the ARI events were cut off (found at the resync); connected at {At}")]
    private static partial void LogJoinMissed(ILogger logger, string server, string callId, string channelId, string bridgeId, DateTimeOffset at);

    [LoggerMessage(EventId = 848, Level = LogLevel.Information, Message = "Asterisk server {Server}: callback call {CallId}: {ChannelId} answered while the ARI events were cut off (found at the resync); handled as answered now")]
    private static partial void LogAnswerMissed(ILogger logger, string server, string callId, string channelId);

    [LoggerMessage(EventId = 888, Level = LogLevel.Warning, Message = "Asterisk server {Server}: the resync's AMI marker did not come back ({Reason}); channels that vanished in the events gap are judged with the AMI hang-ups read so far")]
    private static partial void LogAmiMarkerFailed(ILogger logger, string server, string reason);
}
