using System.Collections.Concurrent;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// Adoption of a dead dialer instance's calls (issue 14, docs/high-availability.md). Every dialer
/// instance holds a session lease (<see cref="DialerSessions"/>); a living instance that sees another's
/// lease free at every check for longer than a holder takes to notice a loss (about three seconds after a kill -9) takes over its rows in one
/// transaction, connects to its Stasis app to receive the events of its channels, reads Asterisk's
/// channel and bridge lists, and carries on: an agent's nailed-up line still up stays in the campaign
/// (not called again), a line gone is called again; a conversation goes on to its end; a person
/// answered and not yet put through gets a free agent while the 2 s rule still allows it, else the
/// abandon message and an abandon in the ledger; a ringing call is followed to its outcome; a call
/// whose channel is gone is ended at once as a lost reply with its <c>system_lost</c> record.
/// </summary>
public sealed partial class OutboundDialer
{
    /// <summary>How often the other instances' session leases are looked at.</summary>
    private static readonly TimeSpan DeadInstanceCheck = TimeSpan.FromSeconds(0.5);

    private readonly AriClientOptions _ariOptions;
    private readonly ILoggerFactory _loggerFactory;
    private readonly DialerSessions _sessions;

    // Event connections to dead instances' Stasis apps, by app name, and their readers (stopped at dispose).
    private readonly ConcurrentDictionary<string, AriEventConnection> _adoptedApps = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Task> _adoptedReaders = [];
    private readonly ConcurrentQueue<DialerTakeover> _unfinishedTakeovers = new();

    // Instances whose lease was seen free at the last check, with when it was first seen free in a row (touched only
    // by the one check running at a time).
    private readonly Dictionary<string, DateTimeOffset> _seenFree = new(StringComparer.Ordinal);
    private DateTimeOffset _lastDeadCheck = DateTimeOffset.MinValue;
    private int _checkingDead;

    /// <summary>Looks (off the loop, one check at a time) for dead instances whose calls are to be adopted.</summary>
    private void LookForDeadInstances(DateTimeOffset now)
    {
        if (now - _lastDeadCheck < DeadInstanceCheck || Interlocked.Exchange(ref _checkingDead, 1) == 1)
        {
            return;
        }

        _lastDeadCheck = now;
        _ = Task.Run(async () =>
        {
            try
            {
                // Free at every check for longer than a holder takes to notice its loss (AdoptIfFreeLongEnough): a lock seen free only between an instance's start
                // and its taking the lock, or during a reconnect, is not taken for a death.
                // A takeover whose rows are already this instance's but whose channels could not be read is tried
                // again first: nobody else will adopt those rows, and the sweep counts them as this run's.
                var unfinished = new List<DialerTakeover>();
                while (_unfinishedTakeovers.TryDequeue(out var pending))
                {
                    unfinished.Add(pending);
                }

                foreach (var pending in unfinished)
                {
                    await TryPrepareAdoptionAsync(pending).ConfigureAwait(false);
                }

                var takeovers = await _sessions.AdoptDeadAsync(AdoptIfFreeLongEnough, _stopping.Token).ConfigureAwait(false);
                foreach (var takeover in takeovers)
                {
                    _seenFree.Remove(takeover.DeadInstanceId);
                    await TryPrepareAdoptionAsync(takeover).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or AriException or HttpRequestException)
            {
                LogAdoptionCheckFailed(_logger, ex.Message);
            }
            finally
            {
                Volatile.Write(ref _checkingDead, 0);
            }
        });
    }

    private async Task TryPrepareAdoptionAsync(DialerTakeover takeover)
    {
        try
        {
            await PrepareAdoptionAsync(takeover).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or AriException or HttpRequestException)
        {
            LogAdoptionCheckFailed(_logger, ex.Message);
            _unfinishedTakeovers.Enqueue(takeover);
        }
    }

    /// <summary>
    /// Dead when its lock was free at every check for longer than a holder can go on acting after losing it
    /// (<see cref="DialerSessions.HolderDetectionBound"/>): an instance that is alive but lost its lock connection has
    /// stopped acting on its calls by then (OutboundDialer.LeaseLoss), so no call is acted on by two instances.
    /// </summary>
    private bool AdoptIfFreeLongEnough(string instance, bool free)
    {
        if (!free)
        {
            _seenFree.Remove(instance);
            return false;
        }

        var now = _time.GetUtcNow();
        if (!_seenFree.TryGetValue(instance, out var since))
        {
            _seenFree[instance] = now;
            return false;
        }

        return now - since > DialerSessions.HolderDetectionBound;
    }

    /// <summary>
    /// Off the loop: connects to the dead instance's app (so no event of its channels is missed from now on),
    /// then reads the channels and bridges, and hands the adoption to the loop. The app's events are read only
    /// after the adoption has run on the loop, so each event finds its channel known.
    /// </summary>
    private async Task PrepareAdoptionAsync(DialerTakeover takeover)
    {
        LogAdopting(_logger, takeover.DeadInstanceId, takeover.Application, takeover.AgentLines.Count, takeover.Attempts.Count);
        AriEventConnection? events = null;
        if (takeover.Application != _settings.Application && !_adoptedApps.ContainsKey(takeover.Application))
        {
            events = new AriEventConnection(_ariOptions with { Applications = [takeover.Application] }, _connectionTime, _loggerFactory);
            try
            {
                await events.StartAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or System.Net.WebSockets.WebSocketException)
            {
                // Without its events the adopted calls still end: by the line audit (answered) or the ring timeout.
                LogAdoptedAppNotConnected(_logger, takeover.Application, ex.Message);
                await events.DisposeAsync().ConfigureAwait(false);
                events = null;
            }
        }

        IReadOnlyList<StoredCampaign> campaigns;
        IReadOnlyList<Channel> channels;
        IReadOnlyList<Bridge> bridges;
        try
        {
            campaigns = await _campaigns.ListAsync(null, _stopping.Token).ConfigureAwait(false);
            channels = await _ari.Channels.ListAsync(_stopping.Token).ConfigureAwait(false);
            bridges = await _ari.Bridges.ListAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch
        {
            if (events is not null)
            {
                await events.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        Post(now => AdoptAsync(takeover, campaigns, channels, bridges, now));
        if (events is not null)
        {
            var reader = events;
            _adoptedApps[takeover.Application] = reader;
            Post(_ =>
            {
                _adoptedReaders.Add(Task.Run(() => ReadAdoptedEventsAsync(reader, _stopping.Token), CancellationToken.None));
                return Task.CompletedTask;
            });
        }
    }

    private async Task ReadAdoptedEventsAsync(AriEventConnection events, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // Only the adopted channels are ours: the dead instance, restarted under the same app, has its own
                // (judged on the loop, where the dialer's maps live).
                NoteAnswerRead(message);
                Post(now =>
                {
                    if (message is StasisStart again && !_lines.ContainsKey(again.Channel.Id) && !_agentsByChannel.ContainsKey(again.Channel.Id))
                    {
                        _answersRead.TryRemove(again.Channel.Id, out _);
                        return Task.CompletedTask;
                    }

                    return OnEventAsync(message, now);
                });
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task StopAdoptedEventsAsync()
    {
        try
        {
            await Task.WhenAll(_adoptedReaders).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var events in _adoptedApps.Values)
        {
            await events.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>On the loop: takes the dead instance's agents and calls into this dialer's campaigns.</summary>
    private async Task AdoptAsync(DialerTakeover takeover, IReadOnlyList<StoredCampaign> stored, IReadOnlyList<Channel> channels, IReadOnlyList<Bridge> bridges, DateTimeOffset now)
    {
        var up = channels.ToDictionary(c => c.Id, StringComparer.Ordinal);
        var bridgeOf = new Dictionary<string, Bridge>(StringComparer.Ordinal);
        foreach (var bridge in bridges)
        {
            foreach (var channel in bridge.Channels)
            {
                bridgeOf[channel] = bridge;
            }
        }

        // Calls first (so an agent talking at the kill finds its conversation), then agents, then the people waiting.
        var waiting = new List<DialerLine>();
        foreach (var attempt in takeover.Attempts)
        {
            if (AdoptAttempt(attempt, stored, up, now) is { } line && line.Campaign.Dialer.Find(line.CallId) is { State: DialedCallState.WaitingForAgent })
            {
                waiting.Add(line);
            }
        }

        foreach (var gone in takeover.Attempts.Where(a => !_lines.ContainsKey(a.CallId)))
        {
            // Its channel is gone (or its campaign is): ended now as the sweep would, not 60 s later.
            if (up.ContainsKey(gone.CallId))
            {
                // Up but its campaign is gone: nobody can serve the person; the call ends.
                _ari.Channels.HangupAsync(gone.CallId, reason: "normal").ContinueWith(_ => { }, TaskScheduler.Default).Ignore();
            }

            if (await _attempts.EndOrphanAsync(gone.CallId, _stopping.Token).ConfigureAwait(false) is { } ended)
            {
                HandRecord(DialerCallRecords.Lost(ended));
                HandRecord(DialerCallRecords.LostLeg(ended));
                LogOrphanEnded(_logger, gone.CallId);
            }
        }

        foreach (var line in takeover.AgentLines)
        {
            await AdoptAgentLineAsync(line, stored, up, bridgeOf, now).ConfigureAwait(false);
        }

        foreach (var line in waiting)
        {
            await AdoptWaitingAsync(line, now).ConfigureAwait(false);
        }

        foreach (var campaign in _running.Values)
        {
            await FlushLedgerAsync(campaign, _stopping.Token).ConfigureAwait(false);
        }

        LogAdopted(_logger, takeover.DeadInstanceId, _agentsByChannel.Count, takeover.Attempts.Count(a => _lines.ContainsKey(a.CallId)));
    }

    /// <summary>The campaign running here, started for the adoption when it is stored but not running here yet.</summary>
    private RunningCampaign? CampaignForAdoption(string campaignId, IReadOnlyList<StoredCampaign> stored)
    {
        if (_running.TryGetValue(campaignId, out var running))
        {
            return running;
        }

        if (stored.FirstOrDefault(s => s.Id == campaignId) is not { } campaign)
        {
            return null;
        }

        // A paused or stopped campaign's calls are followed to their end; it takes no new ones.
        running = new RunningCampaign(campaign.Definition, campaign.UpdatedAt) { Accepting = campaign.State == CampaignState.Running && !_draining };
        _running[campaignId] = running;
        LogCampaignStarted(_logger, campaignId, campaign.Definition.Mode.ToString());
        return running;
    }

    private DialerLine? AdoptAttempt(AdoptedAttempt attempt, IReadOnlyList<StoredCampaign> stored, Dictionary<string, Channel> up, DateTimeOffset now)
    {
        if (!up.TryGetValue(attempt.CallId, out var channel) || CampaignForAdoption(attempt.CampaignId, stored) is not { } campaign)
        {
            return null;
        }

        var answeredAt = attempt.AnsweredAt;
        var inAmd = channel.Dialplan is { AppName: { Length: > 0 } app } && !app.Equals("Stasis", StringComparison.OrdinalIgnoreCase) && channel.State == "Up";
        var answerUnknown = answeredAt is null && channel.State == "Up" && !inAmd;
        if (answerUnknown)
        {
            // Answered just before the kill, the answer not yet written ahead: when is not known, so the 2 s rule
            // cannot be shown kept; the person gets the abandon message (below) and counts as abandoned.
            answeredAt = now - campaign.Definition.Campaign.Policy.ConnectDeadline;
        }

        DialedCall call;
        try
        {
            call = campaign.Dialer.Adopt(attempt.CallId, attempt.Lead, attempt.DialedAt, answeredAt, attempt.AnsweredBy, attempt.AgentConnectedAt,
                attempt.AnswerInLedger, attempt.AbandonedInLedger);
        }
        catch (InvalidOperationException ex)
        {
            LogAdoptRefused(_logger, attempt.CallId, ex.Message);
            return null;
        }

        var line = new DialerLine(attempt.CallId, campaign) { ChannelName = channel.Name, AmdListening = inAmd };
        _lines[attempt.CallId] = line;
        if (inAmd)
        {
            campaign.Dialer.OnScreening(attempt.CallId);
        }

        if (attempt.AgentConnectedAt is not null && attempt.AgentId is { } agentId)
        {
            line.AgentId = agentId;
            line.BridgeId = "dcall-" + attempt.CallId;
        }
        else if (call.State == DialedCallState.Connected && attempt.AbandonedInLedger && campaign.Definition.AbandonMessage is { } abandonMessage)
        {
            // An abandoned person whose message was playing at the kill: how much of it they heard is not known here,
            // and the rule wants the recorded message heard. It is played again, whole, after what still plays of the
            // first (Asterisk plays a channel's playbacks one after another), and the dialer hangs up when it has
            // played. The abandon and the message are in the ledger already: not counted again. Playback ids from a
            // range of the adopter's own, so the first message's end is not taken for this one's.
            line.Playbacks = AdoptedPlaybackBase;
            Play(line, abandonMessage);
            LogAdoptedMessagePlayedAgain(_logger, attempt.CallId, abandonMessage);
        }
        else if (call.State == DialedCallState.Connected)
        {
            // A machine whose message was playing: the dead instance would have hung up after it; the message's end
            // is not known here, so the call is ended now (it is recorded as it was).
            line.HungUpByDialer = true;
            line.MessagePlayed = attempt.AbandonedInLedger ? campaign.Definition.AbandonMessage : null;
            line.Run("hang up the adopted call whose message was playing", _logger, ct => _ari.Channels.HangupAsync(attempt.CallId, reason: "normal", cancellationToken: ct), null, _stopping.Token);
        }

        LogAttemptAdopted(_logger, attempt.CallId, campaign.Definition.Id, call.State.ToString());
        return line;
    }

    private async Task AdoptAgentLineAsync(AdoptedAgentLine adopted, IReadOnlyList<StoredCampaign> stored, Dictionary<string, Channel> up, Dictionary<string, Bridge> bridgeOf, DateTimeOffset now)
    {
        var campaign = CampaignForAdoption(adopted.CampaignId, stored);
        if (_agents.ContainsKey(adopted.AgentId))
        {
            return; // joined here again meanwhile
        }

        var lineUp = adopted.ChannelId is { } id && up.ContainsKey(id);
        if (campaign is null || !campaign.Accepting || adopted.Endpoint is null)
        {
            // Nothing to keep the agent on: the line is hung up (if up) and forgotten.
            if (lineUp)
            {
                _ari.Channels.HangupAsync(adopted.ChannelId!, reason: "normal").ContinueWith(_ => { }, TaskScheduler.Default).Ignore();
            }

            await ForgetAgentLineAsync(adopted.AgentId).ConfigureAwait(false);
            return;
        }

        if (!lineUp)
        {
            // The line is gone (the agent hung up, or it dropped with the instance): the phone is called again.
            LogAgentLineRecalled(_logger, adopted.AgentId, campaign.Definition.Id);
            await CallAgentLineAsync(campaign, adopted.AgentId, adopted.Endpoint, now).ConfigureAwait(false);
            return;
        }

        var channelId = adopted.ChannelId!;
        var agent = new DialerAgent(adopted.AgentId, adopted.Endpoint, channelId, "dhold-" + channelId, campaign) { StateSince = now };
        _agents[agent.Id] = agent;
        _onLines[agent.Id] = campaign.Definition.Id;
        _agentsByChannel[channelId] = agent;
        campaign.Agents.Add(agent);
        LogAgentLineKept(_logger, agent.Id, campaign.Definition.Id);

        // Talking at the kill: the conversation goes on; its end puts the agent into wrap-up as usual.
        if (_lines.Values.FirstOrDefault(l => l.AgentId == agent.Id && l.Campaign == campaign) is { } talking
            && campaign.Dialer.Find(talking.CallId) is { AgentConnectedAt: { } connectedAt })
        {
            SetState(agent, DialerAgentState.Talking, now);
            agent.CallId = talking.CallId;
            agent.TalkStartedAt = connectedAt;
            return;
        }

        // Waiting (or in wrap-up) at the kill: back in its holding bridge, then ready for the next customer.
        var inBridge = bridgeOf.GetValueOrDefault(channelId);
        if (inBridge?.Id != agent.HoldBridgeId)
        {
            var holdExists = bridgeOf.Values.Any(b => b.Id == agent.HoldBridgeId);
            agent.Run("park the adopted agent in its holding bridge", _logger, async ct =>
            {
                if (inBridge is not null)
                {
                    // The conversation's bridge of a customer already gone: emptied and destroyed.
                    await _ari.Bridges.RemoveChannelAsync(inBridge.Id, [channelId], ct).ConfigureAwait(false);
                    if (inBridge.Id.StartsWith("dcall-", StringComparison.Ordinal))
                    {
                        await _ari.Bridges.DestroyAsync(inBridge.Id, ct).ConfigureAwait(false);
                    }
                }

                if (!holdExists)
                {
                    await _ari.Bridges.CreateAsync(type: "holding", bridgeId: agent.HoldBridgeId, name: $"{campaign.Definition.Id}-{agent.Id}-wait", cancellationToken: ct).ConfigureAwait(false);
                }

                await _ari.Bridges.AddChannelAsync(agent.HoldBridgeId, [channelId], role: "participant", cancellationToken: ct).ConfigureAwait(false);
                await _ari.Bridges.StartMohAsync(agent.HoldBridgeId, "default", ct).ConfigureAwait(false);
            }, null, _stopping.Token);
        }

        MakeIdle(agent, now);
    }

    /// <summary>A person answered and not put through at the kill: an agent if the 2 s rule still allows, else the abandon message.</summary>
    private async Task AdoptWaitingAsync(DialerLine line, DateTimeOffset now)
    {
        var campaign = line.Campaign;
        if (campaign.Dialer.Find(line.CallId) is not { State: DialedCallState.WaitingForAgent } || campaign.Waiting.Contains(line.CallId))
        {
            return; // an agent made idle above took it already
        }

        var deadline = campaign.Dialer.ConnectDeadlineOf(line.CallId)!.Value;
        if (now < deadline && campaign.IdleAgent() is { } agent)
        {
            Connect(campaign, line, agent, now);
            return;
        }

        campaign.Waiting.Add(line.CallId);
        if (now < deadline)
        {
            line.DeadlineTimer = _time.CreateTimer(_ => Post(at => AbandonIfStillWaitingAsync(line, at)), null, deadline - now, Timeout.InfiniteTimeSpan);
            return;
        }

        await AbandonIfStillWaitingAsync(line, now).ConfigureAwait(false);
    }

    // Playbacks an adopter starts on a call are numbered from here (the dead instance's from 1).
    private const int AdoptedPlaybackBase = 1_000_000;

    [LoggerMessage(EventId = 1221, Level = LogLevel.Information, Message = "Dialer adopted call {CallId} while its abandon message was playing: {Message} is played again, whole, then the call ends (not counted again)")]
    private static partial void LogAdoptedMessagePlayedAgain(ILogger logger, string callId, string message);

    [LoggerMessage(EventId = 1220, Level = LogLevel.Warning, Message = "Dialer instance {Instance} restarted after a run that did not stop cleanly: taking back that run's {Agents} agent lines and {Attempts} open attempts (resumed as an adopter would)")]
    private static partial void LogPreviousRunTakenBack(ILogger logger, string instance, int agents, int attempts);

    [LoggerMessage(EventId = 1061, Level = LogLevel.Warning, Message = "Dialer instance {Dead} is gone (its session lease is free): adopting its calls from Stasis app {App} ({Agents} agent lines, {Attempts} open attempts)")]
    private static partial void LogAdopting(ILogger logger, string dead, string app, int agents, int attempts);

    [LoggerMessage(EventId = 1062, Level = LogLevel.Information, Message = "Dialer adopted instance {Dead}'s calls: {Agents} agent lines on this instance now, {Calls} of its calls carried on")]
    private static partial void LogAdopted(ILogger logger, string dead, int agents, int calls);

    [LoggerMessage(EventId = 1063, Level = LogLevel.Warning, Message = "Dialer could not connect to the dead instance's Stasis app {App} ({Reason}); its adopted calls end by the line audit or their ring timeout")]
    private static partial void LogAdoptedAppNotConnected(ILogger logger, string app, string reason);

    [LoggerMessage(EventId = 1064, Level = LogLevel.Warning, Message = "Dialer check for dead instances failed ({Reason}); tried again shortly")]
    private static partial void LogAdoptionCheckFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1065, Level = LogLevel.Information, Message = "Dialer adopted call {CallId} of campaign {Campaign} ({State})")]
    private static partial void LogAttemptAdopted(ILogger logger, string callId, string campaign, string state);

    [LoggerMessage(EventId = 1066, Level = LogLevel.Warning, Message = "Dialer call {CallId} could not be adopted: {Reason}")]
    private static partial void LogAdoptRefused(ILogger logger, string callId, string reason);

    [LoggerMessage(EventId = 1067, Level = LogLevel.Information, Message = "Agent {AgentId}'s nailed-up line of campaign {Campaign} is still up: adopted, not called again")]
    private static partial void LogAgentLineKept(ILogger logger, string agentId, string campaign);

    [LoggerMessage(EventId = 1068, Level = LogLevel.Information, Message = "Agent {AgentId}'s nailed-up line of campaign {Campaign} is gone: the phone is called again")]
    private static partial void LogAgentLineRecalled(ILogger logger, string agentId, string campaign);
}
