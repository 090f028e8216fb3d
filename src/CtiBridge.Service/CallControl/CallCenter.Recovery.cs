using System.Globalization;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;
using CtiBridge.Data.LiveState;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Restart recovery and HA takeover (issues 8 and 14): agents logged in before are logged in again
/// as they were, and the calls in the Stasis app are adopted — waiting callers re-enter their queue
/// keeping their original enqueue time, connected calls go on with their agent and end with one
/// record. What a call was (queue, times, caller) comes from <c>live_calls</c>; where it is now
/// (its channel, the bridge, the agent's leg) from Asterisk, which is the truth about topology.
/// After an ARI events gap the same reconciliation picks up calls whose StasisStart was missed and
/// ends the ones whose channels vanished.
/// </summary>
public sealed partial class CallCenter
{
    private readonly HashSet<ChannelKey> _goneWhileRecovering = [];
    private int _pendingRecoveries;
    private bool _agentsRestored;

    /// <summary>The live state store (null: nothing is restored; tests and benchmarks without a database).</summary>
    internal LiveStateStore? LiveState { get; init; }

    /// <summary>
    /// Adopts what <paramref name="app"/>'s server has in the Stasis app, and (the first time) the
    /// agents' stored states. Called by the app once its events connect and before it forwards any
    /// event, so an event for an adopted channel is always handled after its adoption.
    /// </summary>
    internal async Task RecoverAsync(StasisApp app, CancellationToken cancellationToken)
    {
        // What the previous owner stored and what Asterisk has now are read side by side: neither depends on the other,
        // and a takeover waits for the slower of the two instead of their sum.
        var started = _time.GetTimestamp();
        var storedRead = _storedStateReads.TryRemove(app.Server, out var prefetched) ? prefetched : ReadStoredStateAsync(app.Server, loadAgents: true, started, cancellationToken);
        var asteriskRead = ReadAsteriskAsync(app, started, cancellationToken);
        await Task.WhenAll(storedRead, asteriskRead).ConfigureAwait(false);
        var (agents, calls, ivrCalls, callbackCalls, databaseMilliseconds) = await storedRead.ConfigureAwait(false);
        var (snapshot, bridges, ringing, ariMilliseconds) = await asteriskRead.ConfigureAwait(false);
        LogRecoveryRead(_logger, app.Server, calls.Count + ivrCalls.Count + callbackCalls.Count, agents.Count, databaseMilliseconds,
            snapshot.Channels.Count, ringing.Count, bridges.Count, ariMilliseconds);

        // The other instance's agent legs that adoption will not keep (still ringing, or answered but not
        // bridged with their caller yet) hold the agents' phones. They are hung up, each hang-up answered,
        // before anybody is rung from here: otherwise the first rings can find those phones busy (17).
        var stale = StaleAgentLegs(calls, snapshot.Channels, ringing, bridges);
        await HangUpStaleLegsAsync(app, stale, cancellationToken).ConfigureAwait(false);
        var channels = snapshot.Channels.Where(c => !stale.Contains(c.Id)).ToList();
        ringing.RemoveAll(stale.Contains);
        await RequestAsync(at =>
        {
            _agentsRestored = true;
            _ringingAtAdoption = ringing;
            _callbackCallsAtAdoption = callbackCalls;
            Reconcile(app, channels, bridges, agents, calls, knownAtGap: null, at, ivrCalls);
            _ringingAtAdoption = [];
            _callbackCallsAtAdoption = [];
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A standby's rehearsal of a takeover's reads (HA), while it waits for the lease: the agents' stored states, the
    /// server's stored calls (read, not taken over), every channel and bridge and the app's snapshot, read once and
    /// thrown away. Nothing is acted on and the Stasis app is not registered (that stays with the active instance: no
    /// split brain). What it buys: a takeover whose first reads find their code compiled and the connections to
    /// PostgreSQL and ARI open, which on a loaded host is most of the time a cold start of them takes.
    /// </summary>
    internal async Task RehearseTakeoverAsync(StasisApp app, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            if (LiveState is { } store)
            {
                _ = await store.LoadAgentsAsync(cancellationToken).ConfigureAwait(false);
                _ = await store.LoadCallsAsync(app.Server, cancellationToken).ConfigureAwait(false);
            }

            await Task.WhenAll(app.Ari.Bridges.ListAsync(cancellationToken), app.Ari.Channels.ListAsync(cancellationToken)).ConfigureAwait(false);
            _ = await app.Ari.GetApplicationSnapshotAsync(app.Name, cancellationToken).ConfigureAwait(false); // 404 until some instance registered the app
            LogRehearsed(_logger, app.Server, _time.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is AriException or HttpRequestException or Npgsql.NpgsqlException or TimeoutException
            || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            LogRehearsalFailed(_logger, app.Server, ex.Message);
        }
    }

    // Stored state read ahead by ReadStoredStateAhead, by server, taken by the server's first recovery.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<(IReadOnlyList<LiveAgent> Agents, IReadOnlyList<LiveCall> Calls, IReadOnlyList<LiveIvrCall> IvrCalls,
        IReadOnlyList<(LiveCallbackCall, Core.Callbacks.Callback?)> CallbackCalls, double Milliseconds)>> _storedStateReads = new(StringComparer.Ordinal);

    /// <summary>
    /// Starts reading what the previous owner stored for each of <paramref name="apps"/>' servers (agents with the
    /// first), before their Stasis apps connect: the reads then overlap the connect instead of following it. Only once
    /// this instance may act (the lease held, its grace over): the read counts the calls as taken over.
    /// </summary>
    internal void ReadStoredStateAhead(IEnumerable<StasisApp> apps, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apps);
        var first = true;
        foreach (var server in apps.Select(a => a.Server).Distinct(StringComparer.Ordinal))
        {
            _storedStateReads[server] = ReadStoredStateAsync(server, loadAgents: first, _time.GetTimestamp(), cancellationToken);
            first = false;
        }
    }

    /// <summary>The agents' stored states (the first time) and the server's stored calls, counted as taken over once more.</summary>
    private async Task<(IReadOnlyList<LiveAgent> Agents, IReadOnlyList<LiveCall> Calls, IReadOnlyList<LiveIvrCall> IvrCalls,
        IReadOnlyList<(LiveCallbackCall, Core.Callbacks.Callback?)> CallbackCalls, double Milliseconds)> ReadStoredStateAsync(string server, bool loadAgents, long started, CancellationToken cancellationToken)
    {
        if (LiveState is not { } store)
        {
            return ([], [], [], [], 0);
        }

        var agents = _agentsRestored || !loadAgents ? [] : await store.LoadAgentsAsync(cancellationToken).ConfigureAwait(false);

        // Counted as taken over once more (committed now): the legs made from here get names the previous owner never used.
        var calls = await store.TakeOverCallsAsync(server, cancellationToken).ConfigureAwait(false);
        await WriteRecordsLeftUnstoredAsync(store, server, cancellationToken).ConfigureAwait(false);
        var ivrCalls = await store.TakeOverIvrCallsAsync(server, cancellationToken).ConfigureAwait(false);
        var callbackCalls = await CallbackCallsToAdoptAsync(store, server, cancellationToken).ConfigureAwait(false);
        return (agents, calls, ivrCalls, callbackCalls, _time.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Calls of the server that ended under the previous owner whose record never reached <c>calls</c> (it died with the
    /// record in its writer's memory; their <c>live_calls</c> rows, and a caller outside a queue's <c>live_ivr_calls</c>
    /// row, are kept, marked ended, until the record is stored):
    /// their records are written from the rows, and the writer's transaction deletes the rows. A record the previous owner
    /// did store is not written again, and one it stores later (a journal replayed) lands on the same key: one row each.
    /// </summary>
    private async Task WriteRecordsLeftUnstoredAsync(LiveStateStore store, string server, CancellationToken cancellationToken)
    {
        foreach (var ended in await store.EndedUnrecordedCallsAsync(server, cancellationToken).ConfigureAwait(false))
        {
            foreach (var record in ended.ToRecords())
            {
                _records.Writer.TryWrite(record);
            }

            LogEndedCallRecordWritten(_logger, server, ended.CallId, ended.Disposition.ToString(), ended.EndedAt);
        }

        // Callers who ended outside a queue (an IVR-only call's row, a survey's answer), kept the same way (migration 0046).
        foreach (var ended in await store.EndedUnrecordedIvrCallsAsync(server, cancellationToken).ConfigureAwait(false))
        {
            foreach (var record in ended.ToRecords())
            {
                // The outside call's leg is named as call control names it (CallCenter.Recordings.cs).
                _records.Writer.TryWrite(record is Data.Records.RecordingRecord { LegId: null } recording ? recording with { LegId = ended.CallId + "-ext" } : record);
            }

            LogEndedIvrCallRecordWritten(_logger, server, ended.CallId, ended.Call?.Disposition.ToString() ?? "survey answer", ended.Call?.EndedAt ?? ended.SurveyAnswer?.AnsweredAt);
        }
    }

    /// <summary>
    /// The app's channels and bridges, every bridge, and the call-control legs outside the app: legs the other instance
    /// was still ringing are not in the app yet (a channel enters Stasis when answered), and adoption must see them too,
    /// or it reuses their names and their StasisStart later finds no call. The app first: a channel that enters
    /// afterwards is then seen by the events stream; the two lists after it, side by side.
    /// </summary>
    private async Task<(AriApplicationSnapshot Snapshot, IReadOnlyList<Bridge> Bridges, List<string> Ringing, double Milliseconds)> ReadAsteriskAsync(
        StasisApp app, long started, CancellationToken cancellationToken)
    {
        var snapshot = await app.Ari.GetApplicationSnapshotAsync(app.Name, cancellationToken).ConfigureAwait(false);
        var bridgesRead = app.Ari.Bridges.ListAsync(cancellationToken);
        var channelsRead = app.Ari.Channels.ListAsync(cancellationToken);
        await Task.WhenAll(bridgesRead, channelsRead).ConfigureAwait(false);
        var inApp = snapshot.Channels.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var ringing = (await channelsRead.ConfigureAwait(false)).Where(c => IsCallControlLeg(c.Id) && !inApp.Contains(c.Id)).Select(c => c.Id).ToList();
        return (snapshot, await bridgesRead.ConfigureAwait(false), ringing, _time.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Agent legs (<c>{call}-{agent}-{n}</c>) of stored calls that are not in a bridge with their call's caller.</summary>
    private static HashSet<string> StaleAgentLegs(IReadOnlyList<LiveCall> calls, IReadOnlyList<Channel> inApp, IReadOnlyList<string> ringing, IReadOnlyList<Bridge> bridges)
    {
        var byId = calls.ToDictionary(c => c.CallId, StringComparer.Ordinal);
        var inAppIds = inApp.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        var bridgeOf = new Dictionary<string, Bridge>(StringComparer.Ordinal);
        foreach (var bridge in bridges)
        {
            foreach (var member in bridge.Channels)
            {
                bridgeOf[member] = bridge;
            }
        }

        var stale = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in inApp.Select(c => c.Id).Concat(ringing))
        {
            if (IsCallControlLeg(id) && byId.TryGetValue(id[..36], out var call) && ParseLeg(id[..36], id) is ({ }, _)
                && !bridges.Any(b => b.Channels.Contains(id) && b.Channels.Contains(call.ChannelId))
                && HeldAgentLegOf(call, inAppIds, bridgeOf)?.LegId != id)
            {
                stale.Add(id);
            }
        }

        return stale;
    }

    private async Task HangUpStaleLegsAsync(StasisApp app, HashSet<string> legs, CancellationToken cancellationToken)
    {
        await Task.WhenAll(legs.Select(async id =>
        {
            try
            {
                await app.Ari.Channels.HangupAsync(id, reason: "normal", cancellationToken: cancellationToken).ConfigureAwait(false);
                LogStaleLegHungUp(_logger, app.Server, id);
            }
            catch (AriException ex)
            {
                // Gone meanwhile (404): what was wanted.
                LogStaleLegHangupFailed(_logger, app.Server, id, ex.Message);
            }
        })).ConfigureAwait(false);
    }

    /// <summary>
    /// The name of the ARI user event (no source: it goes to the Stasis app alone) sent after a resync's
    /// snapshot is read; it comes back on the events connection behind every event Asterisk published
    /// for the app before it (both go through the app's topic, in order).
    /// </summary>
    internal const string ResyncMarkerEvent = "CtiBridgeResync";

    // Resyncs whose snapshot is read and whose marker has not come back yet, by marker token.
    private readonly Dictionary<string, PendingResync> _pendingResyncs = new(StringComparer.Ordinal);

    private sealed record PendingResync(StasisApp App, IReadOnlyList<Channel> Channels, IReadOnlyList<Bridge> Bridges, HashSet<string> KnownAtGap,
        HashSet<string> CallbackLegsAtGap, HashSet<string> AllChannels, DateTimeOffset GapStart);

    /// <summary>An events gap on <paramref name="app"/>: reconcile with what Asterisk has now (on the loop).</summary>
    private void RecoverAfterGap(StasisApp app, AriEventGap gap)
    {
        LogEventGap(_logger, app.Server, gap.Reason, (gap.ReconnectedAt - gap.DisconnectedAt).TotalSeconds);

        // A resync still waiting for its marker lost it with the connection that just dropped: this one
        // supersedes it (every channel it would have judged is known now and judged again).
        foreach (var (token, pending) in _pendingResyncs.Where(p => p.Value.App == app).ToList())
        {
            _pendingResyncs.Remove(token);
            LogResyncSuperseded(_logger, app.Server, token);
            RecoveryDone();
        }

        _pendingRecoveries++;

        // Only channels known now can have vanished in the gap. A caller whose StasisStart comes on the
        // new connection while the snapshot is on its way may be missing from it (taken just before it
        // entered) although it is up: ending its call as lost would strand it in Asterisk.
        var knownAtGap = _channels.Where(c => c.Value.Session.App == app).Select(c => c.Key.Id).ToHashSet(StringComparer.Ordinal);

        // Callback customers' legs are known apart (a ringing one is not in the app until it answers).
        var callbackLegsAtGap = _callbackLegs.Where(c => c.Value.App == app).Select(c => c.Key).ToHashSet(StringComparer.Ordinal);
        _ = Task.Run(async () =>
        {
            try
            {
                var snapshot = await app.Ari.GetApplicationSnapshotAsync(app.Name, _stopping.Token).ConfigureAwait(false);
                var bridges = await app.Ari.Bridges.ListAsync(_stopping.Token).ConfigureAwait(false);
                var all = callbackLegsAtGap.Count == 0 ? [] : (await app.Ari.Channels.ListAsync(_stopping.Token).ConfigureAwait(false)).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
                var pending = new PendingResync(app, snapshot.Channels, bridges, knownAtGap, callbackLegsAtGap, all, gap.DisconnectedAt);

                // A known channel missing from the snapshot may have hung up during the gap itself: AMI (its own
                // connection) saw that Hangup. Its events up to now are read before the channel is judged.
                if (knownAtGap.Any(id => !snapshot.Channels.Any(c => c.Id == id)))
                {
                    await AwaitAmiHangupsAsync(app.Server, _stopping.Token).ConfigureAwait(false);
                }

                // A known channel missing from the snapshot may have ended after the reconnect: its StasisEnd
                // is then on the new connection, maybe not read yet. The reconciliation waits for a marker
                // sent now, which Asterisk queues behind that StasisEnd: what is still known when the marker
                // arrives vanished in the gap itself (its end is unknowable), everything else ended in view.
                var token = Guid.NewGuid().ToString("N");
                Post(_ =>
                {
                    _pendingResyncs[token] = pending;
                    return null;
                });
                try
                {
                    await app.Ari.Events.UserEventAsync(ResyncMarkerEvent, app.Name, variables: new Dictionary<string, string> { ["token"] = token }, cancellationToken: _stopping.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is AriException or HttpRequestException)
                {
                    // No marker (refused, or lost): reconcile at once, as before the marker existed.
                    LogResyncMarkerFailed(_logger, app.Server, ex.Message);
                    Post(at =>
                    {
                        FinishResync(token, at);
                        return null;
                    });
                }
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException)
            {
                LogResyncFailed(_logger, app.Server, ex.Message);
                Post(_ =>
                {
                    RecoveryDone();
                    return null;
                });
            }
        });
    }

    /// <summary>A user event came back on <paramref name="app"/>'s events connection: the resync marker, maybe.</summary>
    private void OnUserEvent(StasisApp app, ChannelUserevent userEvent, DateTimeOffset at)
    {
        if (userEvent.Channel is null && userEvent.Eventname == ResyncMarkerEvent
            && userEvent.Userevent.ValueKind == System.Text.Json.JsonValueKind.Object
            && userEvent.Userevent.TryGetProperty("token", out var token) && token.GetString() is { } id
            && _pendingResyncs.TryGetValue(id, out var pending) && pending.App == app)
        {
            FinishResync(id, at);
        }
    }

    private void FinishResync(string token, DateTimeOffset at)
    {
        if (_pendingResyncs.Remove(token, out var pending))
        {
            // A callback customer's leg known at the gap that Asterisk no longer has (ringing or answered)
            // ended unseen: the attempt ends, not counted (marked before the reconciliation, which may end
            // the attempt through its agent's vanished leg), and the callback is due again. Before, a
            // customer-first attempt waited for that leg's end for ever and the callback stayed Dialing.
            // One whose hang-up AMI saw ended as it did (busy, no answer, the customer's hang-up), with its cause.
            var vanished = pending.CallbackLegsAtGap.Where(id => _callbackLegs.ContainsKey(id) && !pending.AllChannels.Contains(id)).ToList();
            foreach (var legId in vanished)
            {
                if (_callbackLegs[legId].Placed is { } placed && AmiHangupOf(pending.App, legId) is null)
                {
                    placed.LostBySystem = true;
                }
            }

            // Joins lost in the gap first (a callback put through unseen is connected), then the ends.
            ApplyMissedJoins(pending.App, pending.Channels, pending.Bridges, at);
            Reconcile(pending.App, pending.Channels, pending.Bridges, [], [], pending.KnownAtGap, at, [], pending.GapStart);
            foreach (var legId in InEndOrder(pending.App, vanished.Where(_callbackLegs.ContainsKey)).ToList())
            {
                LogCallbackLegVanished(_logger, pending.App.Server, legId);
                EndCallbackLeg(legId, cause: AmiHangupOf(pending.App, legId)?.Cause, at, CallbackLegEnd(pending.App, legId, at, pending.GapStart));
            }

            RecoveryDone();
        }
    }

    private void RecoveryDone()
    {
        if (--_pendingRecoveries == 0)
        {
            _goneWhileRecovering.Clear();
        }
    }

    /// <summary>A channel ended while a snapshot was on its way: the snapshot may still list it, and must not revive it.</summary>
    private void NoteGoneDuringRecovery(StasisApp app, string channelId)
    {
        if (_pendingRecoveries > 0)
        {
            _goneWhileRecovering.Add(On(app, channelId));
        }
    }

    private void Reconcile(StasisApp app, IReadOnlyList<Channel> channels, IReadOnlyList<Bridge> bridges,
        IReadOnlyList<LiveAgent> agents, IReadOnlyList<LiveCall> calls, HashSet<string>? knownAtGap, DateTimeOffset at, IReadOnlyList<LiveIvrCall> ivrCalls,
        DateTimeOffset? gapStart = null)
    {
        var live = new Dictionary<string, Channel>(StringComparer.Ordinal);
        foreach (var channel in channels)
        {
            if (!_goneWhileRecovering.Contains(On(app, channel.Id)))
            {
                live[channel.Id] = channel;
            }
        }

        var bridgeOf = new Dictionary<string, Bridge>(StringComparer.Ordinal);
        foreach (var bridge in bridges)
        {
            foreach (var member in bridge.Channels)
            {
                bridgeOf[member] = bridge;
            }
        }

        // A pause or logout an agent asked for on a call that is adopted again is asked for again after the
        // adoption, so it waits for that call's end as before (restored first, it would apply at once).
        var talking = calls.Where(c => c.AgentId is not null).Select(c => c.AgentId!).ToHashSet(StringComparer.Ordinal);

        // An agent on a call that is adopted still connected is on it since the answer (restored so, then connected to it).
        var answeredAt = calls.Where(c => c is { AgentId: not null, AnsweredAt: not null } && IsConnected(c, live, bridgeOf))
            .GroupBy(c => c.AgentId!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Max(c => c.AnsweredAt!.Value), StringComparer.Ordinal);
        DateTimeOffset? AnsweredAt(string agentId) => answeredAt.TryGetValue(agentId, out var answered) ? answered : null;

        // The queue of each stored call (a ring restored ends at that queue's ring timeout, a missed call counts in it).
        var queueOf = calls.GroupBy(c => c.CallId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Queue, StringComparer.Ordinal);
        var askAgain = new List<LiveAgent>();
        foreach (var agent in agents)
        {
            var waits = agent.PendingLogout || agent.PendingPauseReason is not null;
            if (waits && talking.Contains(agent.AgentId))
            {
                askAgain.Add(agent);
                RestoreAgent(agent with { PendingPauseReason = null, PendingLogout = false }, at, AnsweredAt(agent.AgentId), queueOf);
            }
            else
            {
                RestoreAgent(agent, at, AnsweredAt(agent.AgentId), queueOf);
            }
        }

        if (knownAtGap is not null)
        {
            // Channels known at the gap that Asterisk no longer has ended unseen while the events were cut off.
            // Each at its real end (AMI's time, or the gap's start as an estimate), the first to end first.
            foreach (var channelId in InEndOrder(app, knownAtGap.Where(id => _channels.ContainsKey(On(app, id)) && !live.ContainsKey(id))).ToList())
            {
                EndVanishedInGap(app, channelId, at, gapStart ?? at); // as AMI saw it end, or lost (CallCenter.GapHangups.cs)
            }

            // Channels still up whose call ended here (or a ring leg stopped) while the link was down:
            // the hang-up sent then may have been lost with the connection; nobody would send it again.
            foreach (var ((_, channelId), leg) in _channels.Where(c => c.Value.Session.App == app && live.ContainsKey(c.Key.Id)).ToList())
            {
                if ((leg.Session.Ended && !leg.Session.HandedBack) || (leg.AgentId is { } agentId && !leg.Session.IsCurrentLeg(agentId, channelId)))
                {
                    LogReleasedAfterGap(_logger, leg.Session.CallId, channelId);
                    app.Release(channelId, "normal");
                }
            }
        }

        // Callback conversations (CallCenter.CallbackRecovery.cs) and then connected calls first: their agents
        // must not be offered a waiting call meanwhile.
        var adopted = AdoptCallbackCalls(app, live, bridgeOf, at);
        foreach (var call in calls.OrderBy(c => IsConnected(c, live, bridgeOf) ? 0 : 1))
        {
            if (!_calls.ContainsKey(call.CallId))
            {
                Adopt(app, call, live, bridgeOf, at);
                adopted++;
            }
        }

        // Callers outside a queue (IVR, voicemail, survey, outside number): resumed where they were, not started anew below.
        foreach (var stored in ivrCalls)
        {
            if (!_calls.ContainsKey(stored.CallId) && !_channels.ContainsKey(On(app, stored.ChannelId)))
            {
                AdoptIvrCall(app, stored, live, bridgeOf, at);
                adopted++;
            }
        }

        foreach (var agent in askAgain)
        {
            var outcome = agent.PendingLogout
                ? _engine.Handle(new AgentLogout(at, agent.AgentId, agent.PendingSource, agent.PendingPauseReason))
                : _engine.Handle(new AgentPause(at, agent.AgentId, agent.PendingPauseReason!, agent.PendingSource));
            if (!outcome.Accepted)
            {
                LogAgentNotRestored(_logger, agent.AgentId, $"its waiting {(agent.PendingLogout ? "logout" : "pause")} was refused: {outcome.Reason}");
            }
        }

        var picked = 0;
        foreach (var channel in live.Values.OrderBy(c => c.Creationtime))
        {
            if (_channels.ContainsKey(On(app, channel.Id)) || _features.ContainsKey(On(app, channel.Id)) || _consultLegs.ContainsKey(channel.Id) || _externalLegs.ContainsKey(channel.Id)
                || _callbackLegs.ContainsKey(channel.Id))
            {
                continue;
            }

            if (IsCallControlLeg(channel.Id) || IsCallbackLeg(channel.Id))
            {
                // A leg CtiBridge made for a call that ended or was not adopted: nobody would ever end it.
                app.Release(channel.Id, "normal");
                continue;
            }

            // A caller (or a desk phone's feature code) whose StasisStart nobody here saw.
            var exten = channel.Dialplan?.Exten ?? string.Empty;
            picked++;
            if (_routes.Routes(exten))
            {
                StartInbound(app, channel, exten, at);
            }
            else if (exten.StartsWith('*'))
            {
                StartFeature(app, channel, exten, at);
            }
            else
            {
                LogUnknownChannel(_logger, "Recovery", channel.Id, exten);
                app.Release(channel.Id, "unallocated");
            }
        }

        if (knownAtGap is null)
        {
            ResumeConsultedWithoutConsultation(app, at);
        }

        LogRecovered(_logger, app.Server, knownAtGap is not null ? "after an events gap" : "at start", agents.Count, adopted, picked);
    }

    // Leg and bridge numbers each adoption of a call has to itself: more rings than this within one owner's time are not possible in practice.
    private const int LegNumbersPerTakeover = 1_000_000;

    // Call-control legs outside the app (still ringing) while start-up recovery runs; empty otherwise.
    private IReadOnlyList<string> _ringingAtAdoption = [];

    /// <param name="agent">The agent as stored.</param>
    /// <param name="at">Now.</param>
    /// <param name="answeredAt">When the agent answered the call it is on, if that call is adopted still connected.</param>
    /// <param name="queueOf">The queue of each stored call, by call id.</param>
    private void RestoreAgent(LiveAgent agent, DateTimeOffset at, DateTimeOffset? answeredAt, IReadOnlyDictionary<string, string> queueOf)
    {
        if (!_agents.TryGetValue(agent.AgentId, out var configured))
        {
            if (_allAgents.ContainsKey(agent.AgentId))
            {
                return; // on another instance's server (servers split between instances): that instance restores them
            }

            LogAgentNotRestored(_logger, agent.AgentId, "it is no longer in callControl.agents");
            return;
        }

        if (_engine.GetAgent(agent.AgentId) is { State: not AgentState.LoggedOut })
        {
            return;
        }

        var restored = new AgentRestored(at, agent.AgentId, agent.Extension, agent.Queues, agent.Skills, agent.PauseReason,
            agent.WrapUpUntil, agent.WrapUpCallId, agent.WrapUpQueue, agent.PendingPauseReason, agent.PendingLogout, agent.PendingSource)
        {
            StateSince = StateSinceOf(agent, answeredAt),
            LoggedInAt = agent.LoggedInAt,
        };
        if (RingingAtStop(agent) is { } ringingCallId)
        {
            // Ringing when the previous owner stopped: that leg is hung up (before anybody is rung from here) and the call
            // offered again; the agent's time from the ring's start is ringing until it ended (AgentRestored.RingingCallId).
            // Answered meanwhile (the call adopted connected to the agent: its answer was stored, the ring's end not yet), it ends at the answer.
            restored = restored with { RingingCallId = ringingCallId, RingingQueue = queueOf.GetValueOrDefault(ringingCallId), RingAnsweredAt = answeredAt };
        }

        var outcome = _engine.Handle(restored);
        if (!outcome.Accepted)
        {
            // The configuration changed meanwhile (a queue or skill taken away): back with the profile's own.
            outcome = _engine.Handle(restored with { Extension = configured.Extension, Queues = null, Skills = null });
        }

        if (!outcome.Accepted)
        {
            LogAgentNotRestored(_logger, agent.AgentId, outcome.Reason ?? "refused");
        }
    }

    /// <summary>
    /// Since when the state the agent is restored in has lasted, when the stored state is that very state: paused, in
    /// wrap-up, ready, or on a call adopted still connected (since its answer). Null otherwise (a ring the previous
    /// owner had going is not restored, nor a call that is gone): that state starts at the restore.
    /// </summary>
    private static DateTimeOffset? StateSinceOf(LiveAgent agent, DateTimeOffset? answeredAt) => agent.StateSince is not { } since ? null : agent.State switch
    {
        AgentState.Paused when agent.PauseReason is not null => since,
        AgentState.WrapUp when agent.PauseReason is null && agent.WrapUpUntil is not null => since,
        AgentState.Ready when agent.PauseReason is null && agent.WrapUpUntil is null && answeredAt is null => since,
        AgentState.OnCall when agent.PauseReason is null && agent.WrapUpUntil is null && answeredAt is { } answered => answered > since ? answered : since,
        AgentState.Ringing when RingingAtStop(agent) is not null => since,
        _ => null,
    };

    /// <summary>The call the agent was being rung for when the stored state was written, if that is the state stored.</summary>
    private static string? RingingAtStop(LiveAgent agent) =>
        agent is { State: AgentState.Ringing, PauseReason: null, WrapUpUntil: null, StateSince: not null, RingingCallId: { } callId } ? callId : null;

    private bool IsConnected(LiveCall call, Dictionary<string, Channel> live, Dictionary<string, Bridge> bridgeOf) =>
        live.ContainsKey(call.ChannelId) && (AgentLegOf(call, live, bridgeOf) is not null || HeldAgentLegOf(call, live.Keys, bridgeOf) is not null);

    /// <summary>The agent's leg bridged with the caller (<c>{call}-{agent}-{n}</c>), when there is one.</summary>
    private (string AgentId, string LegId)? AgentLegOf(LiveCall call, Dictionary<string, Channel> live, Dictionary<string, Bridge> bridgeOf)
    {
        if (!bridgeOf.TryGetValue(call.ChannelId, out var bridge))
        {
            return null;
        }

        // The connected agent's own leg, or the consult leg that agent took over by a completed consult transfer.
        if (call.AgentId is { } connected && _agents.ContainsKey(connected)
            && bridge.Channels.FirstOrDefault(m => m != call.ChannelId && live.ContainsKey(m) && IsLegOfAgent(call.CallId, m, connected)) is { } own)
        {
            return (connected, own);
        }

        foreach (var member in bridge.Channels)
        {
            if (member != call.ChannelId && live.ContainsKey(member) && ParseLeg(call.CallId, member) is ({ } agentId, _) && _agents.ContainsKey(agentId))
            {
                return (agentId, member);
            }
        }

        return null;
    }

    private void Adopt(StasisApp app, LiveCall call, Dictionary<string, Channel> live, Dictionary<string, Bridge> bridgeOf, DateTimeOffset at)
    {
        var session = new CallSession(call.CallId, call.ChannelId, call.Queue, app, _logger, _stopping.Token)
        {
            EnteredAt = call.StartedAt,
            Stage = CallStage.Acd,
            Caller = call.Caller,
            EnqueuedAt = call.EnqueuedAt,
            CurrentQueue = call.Queue,
        };

        // New legs and bridges must not reuse the names of those the other instance made: not those
        // still in Asterisk, nor those that ended while nobody controlled the call, whose late events may
        // still come on the new connection. Each adoption numbers from its own range (Takeovers × 1 000 000).
        var prefix = call.CallId + "-";
        session.Attempts = Math.Min(call.Takeovers, 2_000) * LegNumbersPerTakeover;
        session.BridgeCount = session.Attempts;
        foreach (var id in live.Keys.Concat(_ringingAtAdoption).Where(id => id.StartsWith(prefix, StringComparison.Ordinal)))
        {
            if (ParseLeg(call.CallId, id) is (_, var n))
            {
                session.Attempts = Math.Max(session.Attempts, n);
            }
        }

        var bridge = bridgeOf.GetValueOrDefault(call.ChannelId);
        if (bridge is not null && bridge.Id.StartsWith(prefix + "bridge-", StringComparison.Ordinal)
            && int.TryParse(bridge.Id.AsSpan(prefix.Length + 7), NumberStyles.None, CultureInfo.InvariantCulture, out var bridgeNo))
        {
            session.BridgeCount = Math.Max(session.BridgeCount, bridgeNo);
        }

        session.Consults = session.Attempts;
        _calls[call.CallId] = session;
        var callerThere = live.ContainsKey(call.ChannelId);
        var leg = callerThere ? AgentLegOf(call, live, bridgeOf) : null;

        // The caller held outside the bridge (agent hold, or a consultation): the agent's leg is in the call's bridge alone.
        var held = callerThere && leg is null ? HeldAgentLegOf(call, live.Keys, bridgeOf) : null;
        if (held is var (heldAgent, heldLeg, heldBridge))
        {
            leg = (heldAgent, heldLeg);
            bridge = heldBridge;
        }

        // A consultation (or three-way conference) going on with the agent stays; see CallCenter.ConsultRecovery.cs.
        var consult = leg is var (_, agentLeg) && bridge is not null ? ConsultToKeep(call.CallId, agentLeg, bridge.Id, live, bridgeOf) : null;

        // Every other leg the other instance made for this call (ringing, consult, external) goes:
        // a waiting call is rung again from here.
        foreach (var id in live.Keys.Concat(_ringingAtAdoption).Where(id => id.StartsWith(prefix, StringComparison.Ordinal) && id != leg?.LegId && id != consult?.LegId).ToList())
        {
            app.Release(id, "normal");
        }

        if (!callerThere)
        {
            session.CallerGone = true;
        }
        else
        {
            _channels[On(app, call.ChannelId)] = new ChannelLeg(session, null);
        }

        InputOutcome outcome;
        if (leg is var (agentId, legId))
        {
            session.ConnectedAgentId = agentId;
            session.LastAgentId = agentId;
            session.BridgeId = bridge!.Id;
            session.AgentLegs[agentId] = legId;
            _channels[On(app, legId)] = new ChannelLeg(session, agentId);
            outcome = AdoptConnected(call, agentId, at);
            if (!outcome.Accepted)
            {
                LogRefused(_logger, call.CallId, outcome.Reason ?? "refused");
                session.ConnectedAgentId = null;
                session.AgentLegs.Remove(agentId);
                _channels.Remove(On(app, legId));
                app.Release(legId, "normal");
                if (consult is { } dropped)
                {
                    app.Release(dropped.LegId, "normal");
                }

                leg = null;
                bridge = bridgeOf.GetValueOrDefault(call.ChannelId);
            }
            else
            {
                if (held is not null && _engine.Handle(new CallHoldChanged(at, call.CallId, true) { Since = call.HoldStartedAt }).Accepted)
                {
                    // Still on the music the previous owner started, on hold since it started it (kept with the live call,
                    // so the hold time and the held caller's wait count from then, not from this adoption); retrieved
                    // (or the consultation ended) from here.
                    session.CallerOnHold = true;
                }

                if (consult is { } kept)
                {
                    AdoptConsult(session, kept, callerInBridge: held is null, at);
                }

                AdoptCallRecording(session, call, bridge!.Id, agentId);
            }
        }

        if (leg is null)
        {
            if (bridge is not null && callerThere)
            {
                // The caller is in a bridge without its agent: out of it, back to the queue's music.
                var oldBridge = bridge.Id;
                session.Run("destroy the old bridge", ct => app.Ari.Bridges.DestroyAsync(oldBridge, ct));
            }

            outcome = _engine.Handle(Adoption(call, at, agentId: null));
            if (!outcome.Accepted)
            {
                LogRefused(_logger, call.CallId, outcome.Reason ?? "refused");
                EndSession(session);
                return;
            }
        }

        LogAdopted(_logger, call.CallId, call.Queue, session.ConnectedAgentId ?? "(waiting)");
        if (!callerThere)
        {
            // The caller left while no instance controlled the call: it ends now, once, in the records. The
            // callback they may be owed is asked for first, so the call's end already keeps their row (write-ahead).
            RequestCallbackForCallerGoneUnwatched(call, at);
            _engine.Handle(new CallLost(at, call.CallId, "the caller's channel ended while no CtiBridge instance controlled the call"));
            EndSession(session);
        }
    }

    private InputOutcome AdoptConnected(LiveCall call, string agentId, DateTimeOffset at)
    {
        if (_engine.GetAgent(agentId) is not { } status || status.State == AgentState.LoggedOut)
        {
            // Talking, so logged in, even if the store did not get to say so.
            var extension = _agents[agentId].Extension;
            _engine.Handle(new AgentRestored(at, agentId, extension));
            status = _engine.GetAgent(agentId);
        }

        string? pauseAfter = null;
        if (status is { State: AgentState.Paused } paused)
        {
            pauseAfter = paused.PauseReason;
            _engine.Handle(new AgentResume(at, agentId, ChangeSource.System));
        }

        var outcome = _engine.Handle(Adoption(call, at, agentId));
        if (pauseAfter is not null)
        {
            // Paused again when this call ends (a pause asked for on a call waits for its end).
            _engine.Handle(new AgentPause(at, agentId, pauseAfter, ChangeSource.System));
        }

        return outcome;
    }

    private static CallAdoption Adoption(LiveCall call, DateTimeOffset at, string? agentId) =>
        new(at, call.CallId, call.Queue, call.Caller, call.StartedAt, call.FirstEnqueuedAt, call.EnqueuedAt, call.Visit, call.Queues, call.EntryPosition,
            agentId, agentId is null ? null : call.AnsweredAt ?? at, agentId is null ? DirectFallbackOf(call.Caller) : null)
        {
            Hold = agentId is null ? TimeSpan.Zero : call.Hold,
        };

    /// <summary><c>{call}-{agent}-{n}</c> → (agent, n); other names (bridge, consult, external leg) → null.</summary>
    private static (string? AgentId, int Attempt)? ParseLeg(string callId, string channelId)
    {
        if (channelId.Length <= callId.Length + 1 || !channelId.StartsWith(callId, StringComparison.Ordinal) || channelId[callId.Length] != '-')
        {
            return null;
        }

        var rest = channelId[(callId.Length + 1)..];
        var dash = rest.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(rest.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            return null;
        }

        var name = rest[..dash];
        return (name is "consult" or "bridge" || name.StartsWith(ConsultName + ".", StringComparison.Ordinal) ? null : name, n);
    }

    /// <summary>Channel IDs CtiBridge gives the legs it makes start with the call's GUID.</summary>
    private static bool IsCallControlLeg(string channelId) =>
        channelId.Length > 37 && channelId[36] == '-' && Guid.TryParseExact(channelId.AsSpan(0, 36), "D", out _);

    [LoggerMessage(EventId = 856, Level = LogLevel.Warning, Message = "Asterisk server {Server}: the resync marker (ARI user event) could not be sent ({Reason}); reconciling without it: a channel that hung up just after the reconnect may be counted as lost")]
    private static partial void LogResyncMarkerFailed(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 1473, Level = LogLevel.Information, Message = "Call control on Asterisk server {Server}: read {Calls} stored call(s) and {Agents} agent(s) from PostgreSQL in {DatabaseMilliseconds:0} ms, then {Channels} channel(s) in the app, {Ringing} ringing leg(s) and {Bridges} bridge(s) from ARI in {AriMilliseconds:0} ms; adopting them")]
    private static partial void LogRecoveryRead(ILogger logger, string server, int calls, int agents, double databaseMilliseconds, int channels, int ringing, int bridges, double ariMilliseconds);

    [LoggerMessage(EventId = 1475, Level = LogLevel.Information, Message = "Asterisk server {Server}: the standby rehearsed a takeover's reads in {Milliseconds:0} ms (nothing acted on, Stasis app not registered)")]
    private static partial void LogRehearsed(ILogger logger, string server, double milliseconds);

    [LoggerMessage(EventId = 1476, Level = LogLevel.Debug, Message = "Asterisk server {Server}: the standby's rehearsal of a takeover's reads stopped: {Reason}")]
    private static partial void LogRehearsalFailed(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 857, Level = LogLevel.Information, Message = "Asterisk server {Server}: the resync waiting for marker {Token} is superseded by a new events gap")]
    private static partial void LogResyncSuperseded(ILogger logger, string server, string token);

    [LoggerMessage(EventId = 854, Level = LogLevel.Warning, Message = "Asterisk server {Server}: callback customer leg {ChannelId} vanished while the ARI events were cut off; the attempt does not count and the callback is due again")]
    private static partial void LogCallbackLegVanished(ILogger logger, string server, string channelId);

    [LoggerMessage(EventId = 876, Level = LogLevel.Information, Message = "Call control on Asterisk server {Server} recovered {When}: {Agents} agent state(s) restored, {Adopted} call(s) adopted, {Picked} channel(s) nobody had seen picked up")]
    private static partial void LogRecovered(ILogger logger, string server, string when, int agents, int adopted, int picked);

    [LoggerMessage(EventId = 853, Level = LogLevel.Information, Message = "Call {CallId} had ended but its channel {ChannelId} was still up after an events gap: hung up again")]
    private static partial void LogReleasedAfterGap(ILogger logger, string callId, string channelId);

    [LoggerMessage(EventId = 851, Level = LogLevel.Information, Message = "Call {CallId} adopted in queue {Queue} ({Agent})")]
    private static partial void LogAdopted(ILogger logger, string callId, string queue, string agent);

    [LoggerMessage(EventId = 858, Level = LogLevel.Information, Message = "Asterisk server {Server}: agent leg {ChannelId} of the previous owner hung up before adoption (not bridged with its caller)")]
    private static partial void LogStaleLegHungUp(ILogger logger, string server, string channelId);

    [LoggerMessage(EventId = 859, Level = LogLevel.Information, Message = "Asterisk server {Server}: agent leg {ChannelId} of the previous owner could not be hung up before adoption (gone already?): {Reason}")]
    private static partial void LogStaleLegHangupFailed(ILogger logger, string server, string channelId, string reason);

    [LoggerMessage(EventId = 1380, Level = LogLevel.Warning, Message = "Asterisk server {Server}: call {CallId} ended ({Disposition} at {EndedAt:O}) under the previous owner, which stopped before storing its record: record written from live_calls")]
    private static partial void LogEndedCallRecordWritten(ILogger logger, string server, string callId, string disposition, DateTimeOffset endedAt);

    [LoggerMessage(EventId = 1520, Level = LogLevel.Warning, Message = "Asterisk server {Server}: call {CallId} ended outside a queue ({Disposition} at {EndedAt:O}) under the previous owner, which stopped before storing its record: record written from live_ivr_calls")]
    private static partial void LogEndedIvrCallRecordWritten(ILogger logger, string server, string callId, string disposition, DateTimeOffset? endedAt);

    [LoggerMessage(EventId = 852, Level = LogLevel.Warning, Message = "Agent {AgentId}'s stored state was not restored: {Reason}")]
    private static partial void LogAgentNotRestored(ILogger logger, string agentId, string reason);
}
