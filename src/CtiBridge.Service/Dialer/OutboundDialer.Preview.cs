using System.Globalization;
using System.Text.Json;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.Data.Records;

namespace CtiBridge.Service.Dialer;

/// <summary>A lead shown to a preview agent (screen pop), as the API and the event stream carry it.</summary>
/// <param name="Phase"><c>offered</c> (shown), <c>dialling</c> (dialled for the agent), <c>skipped</c>, or <c>refused</c> (could not be dialled now: window, do-not-call).</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="AgentId">The agent it is shown to.</param>
/// <param name="LeadId">The lead (database id).</param>
/// <param name="PhoneNumber">The number, E.164.</param>
/// <param name="CustomFields">The lead's CSV columns kept for screen pop (a JSON object).</param>
/// <param name="At">When this happened.</param>
/// <param name="DecideBy">Offered: when the campaign's preview timeout decides for the agent.</param>
/// <param name="OnTimeout">Offered: what the timeout does (<c>Skip</c> or <c>Dial</c>).</param>
/// <param name="CallId">Dialling: the call id (Asterisk channel id, <c>dialer_attempts.call_id</c>).</param>
/// <param name="Reason">Skipped or refused: why (<c>agent</c>, <c>timeout</c>, or the rule that stopped the dial).</param>
public sealed record DialerPreview(
    string Phase, string CampaignId, string AgentId, string LeadId, string PhoneNumber, JsonElement CustomFields,
    DateTimeOffset At, DateTimeOffset? DecideBy, string? OnTimeout, string? CallId, string? Reason);

/// <summary>
/// Preview mode (the agent sees the lead, then dials or skips it, within the campaign's
/// <c>previewSeconds</c>), voice broadcast's "press 1 for an agent", and the agent-state intervals
/// of dialer agents (their time in the records, for occupancy reports).
/// </summary>
public sealed partial class OutboundDialer
{
    /// <summary>
    /// Raised on the dialer's loop when a preview lead is offered to an agent, dialled, skipped or
    /// refused (the service publishes it on the event stream as <c>dialer.preview</c>, the agent's screen pop).
    /// Handlers must not block.
    /// </summary>
    public event Action<DialerPreview>? PreviewChanged;

    /// <summary>The lead shown to <paramref name="agentId"/> now, or null when none is.</summary>
    public Task<DialerPreview?> GetPreviewAsync(string agentId, CancellationToken cancellationToken = default) =>
        RequestAsync(now => Task.FromResult(_agents.TryGetValue(agentId, out var agent) && agent.Preview is { } offer
            ? Describe("offered", agent, offer, now)
            : null), cancellationToken);

    /// <summary>Preview mode: the agent dials the lead shown to them (window and do-not-call lists are checked again first).</summary>
    /// <param name="agentId">The agent.</param>
    /// <param name="leadId">The lead the agent saw (refused when another one is shown now), or null for the one shown.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The call id when dialled; otherwise the reason in operator words.</returns>
    public Task<(string? CallId, string? Refused)> AcceptPreviewAsync(string agentId, string? leadId, CancellationToken cancellationToken = default) =>
        RequestAsync(async now =>
        {
            if (PreviewOf(agentId, leadId) is { } problem)
            {
                return (null, problem);
            }

            return await DialPreviewAsync(_agents[agentId], now, "agent").ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Preview mode: the agent skips the lead shown to them; it goes back to the list (behind leads never tried) and the agent gets the next one.</summary>
    /// <returns>Null when skipped, else the reason in operator words.</returns>
    public Task<string?> SkipPreviewAsync(string agentId, string? leadId, CancellationToken cancellationToken = default) =>
        RequestAsync(async now =>
        {
            if (PreviewOf(agentId, leadId) is { } problem)
            {
                return problem;
            }

            await SkipPreviewAsync(_agents[agentId], now, "agent").ConfigureAwait(false);
            return (string?)null;
        }, cancellationToken);

    private string? PreviewOf(string agentId, string? leadId)
    {
        if (!_agents.TryGetValue(agentId, out var agent))
        {
            return $"agent {agentId} is in no campaign on this instance";
        }

        if (agent.Preview is not { } offer)
        {
            return $"agent {agentId} has no lead in preview (state {agent.State})";
        }

        return leadId is not null && leadId != offer.Lead.Lead.Id
            ? $"lead {leadId} is not the one shown to agent {agentId} (lead {offer.Lead.Lead.Id} is)"
            : null;
    }

    /// <summary>Shows every idle agent of a preview campaign a lead of their own: their assigned leads first, then the pool.</summary>
    private async Task OfferPreviewsAsync(RunningCampaign campaign, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var agent in campaign.Agents.Where(a => a.State == DialerAgentState.Idle).OrderBy(a => a.IdleSince).ToList())
        {
            if (campaign.Dialer.Calls.Count >= campaign.Definition.MaxConcurrentLines)
            {
                return;
            }

            var leads = await _hopper.ClaimForAgentAsync(campaign.Definition.Id, agent.Id, 3, ct).ConfigureAwait(false);
            if (leads.Count == 0)
            {
                continue;
            }

            var skipped = new List<SkippedLead>();
            Lead? chosen = null;
            try
            {
                var blocked = await _doNotCall.BlockedAmongAsync(campaign.Definition.Id, [.. leads.Select(l => l.Lead.PhoneNumber)], ct).ConfigureAwait(false);
                chosen = campaign.Dialer.NextPreview(now, campaign.Snapshot(now), leads.Select(l => l.Lead), blocked, skipped);
            }
            finally
            {
                // The lead shown stays claimed by this instance while the agent looks at it; the rest go back.
                await ReleaseUndialledAsync([.. leads], chosen is null ? [] : [chosen.Id], skipped, now).ConfigureAwait(false);
            }

            if (chosen is null)
            {
                continue;
            }

            var decideBy = now + TimeSpan.FromSeconds(campaign.Definition.PreviewSeconds);
            var offer = new PreviewOffer(leads.First(l => l.Lead.Id == chosen.Id), now, decideBy);
            agent.Preview = offer;
            SetState(agent, DialerAgentState.Previewing, now);
            agent.PreviewTimer = _time.CreateTimer(_ => Post(at => ExpirePreviewAsync(agent, offer, at)), null, decideBy - now, Timeout.InfiniteTimeSpan);
            LogPreviewOffered(_logger, chosen.Id, agent.Id, campaign.Definition.Id);
            Raise(Describe("offered", agent, offer, now));
        }
    }

    private async Task ExpirePreviewAsync(DialerAgent agent, PreviewOffer offer, DateTimeOffset now)
    {
        if (!ReferenceEquals(agent.Preview, offer) || !_agents.ContainsKey(agent.Id))
        {
            return; // decided meanwhile
        }

        LogPreviewTimedOut(_logger, offer.Lead.Lead.Id, agent.Id, agent.Campaign.Definition.PreviewTimeout.ToString());
        if (agent.Campaign.Definition.PreviewTimeout == PreviewExpiry.Dial)
        {
            await DialPreviewAsync(agent, now, "timeout").ConfigureAwait(false);
        }
        else
        {
            await SkipPreviewAsync(agent, now, "timeout").ConfigureAwait(false);
        }
    }

    private async Task SkipPreviewAsync(DialerAgent agent, DateTimeOffset now, string why)
    {
        var offer = TakePreview(agent);
        agent.Campaign.Dialer.SkipPreviewed(offer.Lead.Lead.Id);

        // Back behind the leads never tried (the hopper serves next_attempt_at NULLS FIRST).
        await _hopper.ReleaseAsync([(offer.Lead.Lead.Id, now)], CancellationToken.None).ConfigureAwait(false);
        Raise(Describe("skipped", agent, offer, now) with { Reason = why });
        MakeIdle(agent, now);
    }

    private async Task<(string? CallId, string? Refused)> DialPreviewAsync(DialerAgent agent, DateTimeOffset now, string why)
    {
        var offer = TakePreview(agent);
        var campaign = agent.Campaign;
        var lead = offer.Lead.Lead;
        var blocked = await _doNotCall.BlockedAmongAsync(campaign.Definition.Id, [lead.PhoneNumber], _stopping.Token).ConfigureAwait(false);

        // The campaign's and a shared trunk's lines are taken under their locks, as for paced calls; none free refuses the dial.
        await using var trunk = await _trunkLines.LeaseAsync(LineBudgets(campaign), _stopping.Token).ConfigureAwait(false);
        var (order, skip) = trunk is { Left: <= 0 } ? (null, null) : campaign.Dialer.DialPreviewed(now, lead, blocked);
        if (order is null)
        {
            var reason = trunk is { Left: <= 0 } full
                ? $"every line of {(full.Trunk.AllServers ? string.Empty : "trunk ")}'{full.Trunk.Name}' is in use ({full.InUse} of {full.Trunk.MaxLines})"
                : skip?.Reason.ToString() ?? "not dialled";
            await ReleaseUndialledAsync([offer.Lead], [], skip is null ? [] : [skip], now).ConfigureAwait(false);
            Raise(Describe("refused", agent, offer, now) with { Reason = reason });
            MakeIdle(agent, now);
            return (null, $"lead {lead.Id} may not be dialled now: {reason}");
        }

        try
        {
            await trunk.StartAsync(campaign.Definition.Id, order.Call, _stopping.Token).ConfigureAwait(false);
            await trunk.CommitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch
        {
            campaign.Dialer.OnCallEnded(order.Call.CallId, now, CallOutcome.Failed);
            await ReleaseUndialledAsync([offer.Lead], [], [], now).ConfigureAwait(false);
            MakeIdle(agent, now);
            throw;
        }

        SetState(agent, DialerAgentState.PreviewDialling, now);
        agent.CallId = order.Call.CallId;
        Dial(campaign, order);
        _lines[order.Call.CallId].ReservedAgent = agent;
        LogPreviewDialled(_logger, lead.Id, agent.Id, order.Call.CallId, why);
        Raise(Describe("dialling", agent, offer, now) with { CallId = order.Call.CallId, Reason = why });
        return (order.Call.CallId, null);
    }

    private static PreviewOffer TakePreview(DialerAgent agent)
    {
        var offer = agent.Preview ?? throw new InvalidOperationException($"agent {agent.Id} has no lead in preview");
        agent.Preview = null;
        agent.PreviewTimer?.Dispose();
        agent.PreviewTimer = null;
        return offer;
    }

    private static DialerPreview Describe(string phase, DialerAgent agent, PreviewOffer offer, DateTimeOffset at)
    {
        using var fields = JsonDocument.Parse(offer.Lead.CustomFieldsJson);
        return new DialerPreview(
            phase, agent.Campaign.Definition.Id, agent.Id, offer.Lead.Lead.Id, offer.Lead.Lead.PhoneNumber, fields.RootElement.Clone(), at,
            phase == "offered" ? offer.DecideBy : null, phase == "offered" ? agent.Campaign.Definition.PreviewTimeout.ToString() : null, null, null);
    }

    private void Raise(DialerPreview preview)
    {
        // Also for the other instances (the agent's desktop may talk to the one running call control).
        _relayOut.Writer.TryWrite(preview);
        try
        {
            PreviewChanged?.Invoke(preview);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A failing subscriber (the event stream) must not stop the dialer.
            LogPreviewEventFailed(_logger, ex);
        }
    }

    /// <summary>Voice broadcast with "press 1": the person asked for an agent while (or after) the message played.</summary>
    private void PressedOne(DialerLine line, DateTimeOffset now)
    {
        var campaign = line.Campaign;
        if (line.PressedOne || campaign.Definition.Mode != DialingMode.VoiceBroadcast || campaign.Definition.Broadcast != BroadcastKind.MessageThenPressOne
            || campaign.Dialer.Find(line.CallId) is not { State: DialedCallState.Connected, AgentConnectedAt: null })
        {
            return;
        }

        line.PressedOne = true;
        var playbackId = line.HangUpAfterPlayback;
        line.HangUpAfterPlayback = null;
        line.HungUpByDialer = false;
        line.Run("stop the broadcast for an agent", _logger, async ct =>
        {
            if (playbackId is not null)
            {
                try
                {
                    await _ari.Playbacks.StopAsync(playbackId, ct).ConfigureAwait(false);
                }
                catch (CtiBridge.Asterisk.Ari.AriRequestException ex) when (ex.StatusCode == 404)
                {
                    // The message had just ended.
                }
            }
        }, null, _stopping.Token);
        LogPressedOne(_logger, line.CallId, campaign.Definition.Id);
        if (campaign.IdleAgent() is { } agent)
        {
            ConnectPressOne(campaign, line, agent, now);
            return;
        }

        // Nobody free now: music until an agent is (ConnectPressOne stops it).
        line.MusicOnHold = true;
        line.Run("music while waiting for an agent", _logger, ct => _ari.Channels.StartMohAsync(line.CallId, "default", ct), null, _stopping.Token);
        campaign.PressOneWaiting.Add(line.CallId);
        line.PressOneTimer = _time.CreateTimer(_ => Post(at => PressOneNotServedAsync(line, at)), null,
            TimeSpan.FromSeconds(campaign.Definition.PressOneWaitSeconds), Timeout.InfiniteTimeSpan);
    }

    private Task PressOneNotServedAsync(DialerLine line, DateTimeOffset now)
    {
        if (!line.Campaign.PressOneWaiting.Remove(line.CallId) || !_lines.ContainsKey(line.CallId))
        {
            return Task.CompletedTask;
        }

        // Nobody came in time: the seller's name and number (the abandon message), then the call ends.
        LogPressOneNotServed(_logger, line.CallId, line.Campaign.Definition.Id);
        line.MusicOnHold = false;
        line.Run("stop the music", _logger, ct => _ari.Channels.StopMohAsync(line.CallId, ct), null, _stopping.Token);
        if (line.Campaign.Definition.AbandonMessage is { } message)
        {
            Play(line, message);
            line.Campaign.Dialer.OnMessagePlayed(line.CallId, now, message);
            return FlushLedgerAsync(line.Campaign, _stopping.Token);
        }

        line.HungUpByDialer = true;
        line.Run("hang up", _logger, ct => _ari.Channels.HangupAsync(line.CallId, reason: "normal", cancellationToken: ct), null, _stopping.Token);
        return Task.CompletedTask;
    }

    private void ConnectPressOne(RunningCampaign campaign, DialerLine line, DialerAgent agent, DateTimeOffset now)
    {
        line.PressOneTimer?.Dispose();
        SetState(agent, DialerAgentState.Talking, now);
        agent.CallId = line.CallId;
        agent.TalkStartedAt = now;
        line.AgentId = agent.Id;
        line.BridgeId = "dcall-" + line.CallId;
        var bridgeId = line.BridgeId;
        campaign.Dialer.OnTransferredToAgent(line.CallId, now);
        if (line.MusicOnHold)
        {
            // The listener's music started long before (on the line's own sequence); stopped first there.
            line.MusicOnHold = false;
            line.Run("stop the music", _logger, ct => _ari.Channels.StopMohAsync(line.CallId, ct), null, _stopping.Token);
        }

        // The agent's leg is ordered with the agent's other requests (back to the holding bridge after a wrap-up), as in Connect,
        // and after the listener's own queued requests (message stopped, music started and stopped): otherwise the listener
        // could join the agent still hearing the message, or the music could start after they joined.
        agent.RunAfter(line, "bridge the listener with an agent", _logger, async ct =>
        {
            await _ari.Bridges.RemoveChannelAsync(agent.HoldBridgeId, [agent.ChannelId], ct).ConfigureAwait(false);
            await _ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: line.CallId, cancellationToken: ct).ConfigureAwait(false);
            await _ari.Bridges.AddChannelAsync(bridgeId, [agent.ChannelId, line.CallId], cancellationToken: ct).ConfigureAwait(false);
        }, null, _stopping.Token);
        LogConnected(_logger, line.CallId, agent.Id, campaign.Definition.Id);
    }

    /// <summary>Moves the agent to <paramref name="state"/>, writing the interval of the state it leaves.</summary>
    private void SetState(DialerAgent agent, DialerAgentState state, DateTimeOffset now)
    {
        if (agent.State == state)
        {
            return;
        }

        WriteStateInterval(agent, now);
        agent.State = state;
        agent.StateSince = now;
    }

    /// <summary>
    /// The agent's current state from <see cref="DialerAgent.StateSince"/> to <paramref name="now"/> as an
    /// <c>agent_state_intervals</c> row: waiting on the nailed-up line = available; looking at a preview
    /// lead, dialling it and talking = outbound; wrap-up = wrap_up (docs/metrics.md §6). The phone
    /// ringing at join is not logged-in time yet.
    /// </summary>
    private void WriteStateInterval(DialerAgent agent, DateTimeOffset now)
    {
        CtiBridge.Data.Records.AgentState? recorded = agent.State switch
        {
            DialerAgentState.Idle => CtiBridge.Data.Records.AgentState.Available,
            DialerAgentState.Previewing or DialerAgentState.PreviewDialling or DialerAgentState.Talking => CtiBridge.Data.Records.AgentState.Outbound,
            DialerAgentState.WrapUp => CtiBridge.Data.Records.AgentState.WrapUp,
            _ => null,
        };
        if (recorded is { } state && AgentStateRecord.Spans(agent.StateSince, now))
        {
            var record = new AgentStateRecord { AgentId = agent.Id, StartedAt = agent.StateSince, EndedAt = now, State = state, SessionId = agent.SessionId };
            foreach (var part in record.SplitAtUtcMidnight())
            {
                HandRecord(part);
            }
        }

        agent.StateSince = now;
    }

    [LoggerMessage(EventId = 1030, Level = LogLevel.Information, Message = "Lead {LeadId} shown to agent {AgentId} (preview, campaign {Campaign})")]
    private static partial void LogPreviewOffered(ILogger logger, string leadId, string agentId, string campaign);

    [LoggerMessage(EventId = 1031, Level = LogLevel.Information, Message = "Lead {LeadId} dialled for agent {AgentId} as call {CallId} ({Why})")]
    private static partial void LogPreviewDialled(ILogger logger, string leadId, string agentId, string callId, string why);

    [LoggerMessage(EventId = 1032, Level = LogLevel.Information, Message = "Lead {LeadId}: agent {AgentId} did not decide in time; preview timeout {Action}")]
    private static partial void LogPreviewTimedOut(ILogger logger, string leadId, string agentId, string action);

    [LoggerMessage(EventId = 1033, Level = LogLevel.Warning, Message = "A dialer preview event subscriber failed")]
    private static partial void LogPreviewEventFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1034, Level = LogLevel.Information, Message = "Call {CallId} of campaign {Campaign}: the listener pressed 1 for an agent")]
    private static partial void LogPressedOne(ILogger logger, string callId, string campaign);

    [LoggerMessage(EventId = 1035, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign}: no agent came for the listener who pressed 1; abandon message played")]
    private static partial void LogPressOneNotServed(ILogger logger, string callId, string campaign);
}
