using System.Data.Common;
using System.Globalization;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Records;
using CtiBridge.Service.Callbacks;
using AcdVisitOutcome = CtiBridge.Core.Acd.QueueVisitOutcome;
using DataDisposition = CtiBridge.Data.Records.CallDisposition;

namespace CtiBridge.Service.CallControl;

/// <summary>How callback calls are dialled (the <c>callbacks</c> section: <c>customerRingTimeout</c>, <c>callerId</c>).</summary>
public sealed record CallbackDialOptions
{
    /// <summary>How long the customer's phone rings before the attempt counts as no answer (agent-first).</summary>
    public TimeSpan CustomerRingTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The number shown to the customer; null leaves it to the trunk.</summary>
    public string? CallerId { get; init; }
}

/// <summary>
/// Placing callbacks (docs/callbacks.md §7): a due callback becomes an outbound task of the ACD
/// (<see cref="CallbackQueued"/>, ahead of ordinary calls by its priority, or in its caller's old
/// place in line). When the engine picks an agent:
/// <list type="bullet">
/// <item>agent-first (default): the agent's phone rings as for a call; once the agent answers, the
/// customer is dialled through <c>callControl.externalEndpoint</c> and joins the agent's bridge;</item>
/// <item>customer-first: the customer is dialled while the agent is reserved (rung by the engine's
/// clock, so the customer rings at most the queue's ring timeout less a second); once the customer
/// answers, the agent's phone rings and the customer hears music until the agent joins.</item>
/// </list>
/// Every attempt is reported to the <see cref="CallbackService"/> (reserved → connected, or no
/// answer / busy / failed → retry per policy) and written as one outbound <c>calls</c> row with the
/// callback id. The sources owed to call control live here too: an abandon after a long enough wait
/// requests a callback, an answered inbound call resolves the number's open callbacks.
/// </summary>
public sealed partial class CallCenter
{
    private const string CallbackIdAttribute = "callbackId";
    private readonly Dictionary<Guid, CallSession> _callbackTasks = [];
    private readonly Dictionary<string, CallSession> _callbackLegs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CallRecord> _callbackRowsInWrapUp = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _callersGoneAtAdoption = new(StringComparer.Ordinal);
    private const int CallbackReportLanes = 4;
    private readonly System.Threading.Channels.Channel<(string What, Func<CancellationToken, Task> Report)>[] _callbackReports =
        [.. Enumerable.Range(0, CallbackReportLanes).Select(_ => System.Threading.Channels.Channel.CreateUnbounded<(string, Func<CancellationToken, Task>)>(
            new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true }))];
    private readonly CancellationTokenSource _callbackReportsAbort = new();
    private IReadOnlyList<StasisApp> _apps = [];
    private Task[]? _callbackReporting;

    /// <summary>
    /// Whether an abandoned caller's <c>live_calls</c> row is kept until their callback request is
    /// stored (callbacks on, live state stored): the write-ahead that survives a crash in between.
    /// </summary>
    internal bool KeepsAbandonedCallers => _callbacks is CallbackService && LiveState is not null;

    /// <summary>Orders the live state writer's writes of an abandoned caller's row and the delete once their callback is stored.</summary>
    internal AbandonedCallerRows AbandonedCallerRows { get; }

    /// <summary>How callback calls are dialled.</summary>
    public CallbackDialOptions CallbackDialing { get; init; } = new();

    /// <summary>The servers' Stasis apps: a callback is placed through its own server's (CallCenter.CallbackSites.cs), else the first one.</summary>
    internal void UseStasisApps(IReadOnlyList<StasisApp> apps) => _apps = apps;

    /// <summary>
    /// A due callback: queue it in the ACD as an outbound task (returns once posted; the loop does the work). With
    /// several Asterisk servers its origin call's server is looked up first: it is placed from there (CallCenter.CallbackSites.cs).
    /// </summary>
    public async Task OfferCallbackAsync(Callback callback, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var originServer = await OriginServerAsync(callback, cancellationToken).ConfigureAwait(false);
        Post(at => OfferCallback(callback, originServer, at));
    }

    /// <summary>
    /// The callback was cancelled, resolved or rescheduled: its task leaves the ACD; a customer still
    /// ringing is hung up; a conversation already under way is not cut.
    /// </summary>
    public Task WithdrawCallbackAsync(Callback callback, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Post(at =>
        {
            WithdrawCallbackTask(callback.Id, reason, at);
            return null;
        });
        return Task.CompletedTask;
    }

    private AcdInput? OfferCallback(Callback callback, string? originServer, DateTimeOffset at)
    {
        if (_callbackTasks.ContainsKey(callback.Id))
        {
            return null; // already in the ACD (the same offer twice): one task per callback.
        }

        if (_drainStarted)
        {
            return null; // stopping: it stays due in the database for the next start (or another instance)
        }

        if (_apps.Count == 0)
        {
            LogCallbackNoApp(_logger, callback.Id);
            return null;
        }

        var callId = string.Create(CultureInfo.InvariantCulture, $"cb-{callback.Id:N}-{callback.Version}");
        var customerLeg = callId + "-customer";
        var (app, site) = CallbackServer(callback, originServer);
        var caller = CallbackCaller(callback, site);
        var session = new CallSession(callId, customerLeg, callback.Queue, app, _logger, _stopping.Token)
        {
            EnteredAt = at, EnqueuedAt = at, Stage = CallStage.Acd, Caller = caller, CallerGone = true,
            Placed = new PlacedCallback(callback, customerLeg),
        };
        _calls[callId] = session;
        _callbackTasks[callback.Id] = session;
        // An agent-owned callback is offered to its owner only until the owner grace (from its due time) is over.
        var grace = _callbacks is CallbackService service ? service.Policy.OwnerGrace : TimeSpan.Zero;
        var outcome = _engine.Handle(new CallbackQueued(at, callId, callback.Queue, caller, callback.PlaceInLineSince)
        {
            OwnerAgentId = callback.OwnerAgentId, OwnerUntil = callback.OwnerAgentId is null ? null : callback.DueAt + grace,
        });
        if (!outcome.Accepted)
        {
            // Unknown queue (the configuration changed since it was requested): it stays due and escalates.
            LogCallbackRefused(_logger, callback.Id, outcome.Reason ?? "refused");
            session.Placed.Withdrawn = true;
            EndSession(session);
        }
        else
        {
            LogCallbackQueued(_logger, callback.Id, callId, callback.Queue, CallbackStates.ModeName(callback.Mode));
        }

        return null;
    }

    /// <summary>The caller data of a callback task: the customer, "Callback name", the callback's id and source as attributes.</summary>
    private static CallerData CallbackCaller(Callback callback, string? site) => new()
    {
        Site = site,
        CallerNumber = callback.Number,
        CallerName = string.IsNullOrWhiteSpace(callback.CustomerName) ? "Callback" : "Callback " + callback.CustomerName,
        RequiredSkills = callback.RequiredSkills,
        Priority = callback.Priority,
        Attributes = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [CallbackIdAttribute] = callback.Id.ToString(),
            ["callbackSource"] = CallbackStates.SourceName(callback.Source),
        },
    };

    private void WithdrawCallbackTask(Guid callbackId, string reason, DateTimeOffset at)
    {
        if (!_callbackTasks.TryGetValue(callbackId, out var session) || session.Ended || session.Placed is not { } placed)
        {
            return;
        }

        placed.Withdrawn = true;
        LogCallbackWithdrawn(_logger, callbackId, session.CallId, reason);
        if (placed.DialStartedAt is null)
        {
            if (_engine.Handle(new CallbackWithdrawn(at, session.CallId)).Accepted)
            {
                EndSession(session);
            }

            return;
        }

        if (placed.CustomerAnsweredAt is null && !session.CallerGone)
        {
            var ari = session.App.Ari;
            session.Run("stop dialling the callback customer", ct => ari.Channels.HangupAsync(placed.CustomerLegId, reason: "normal", cancellationToken: ct));
        }
    }

    /// <summary>The ACD's commands for a callback task; false leaves the command to the ordinary call path.</summary>
    private bool ExecuteCallback(CallSession session, AcdCommand command)
    {
        var placed = session.Placed!;
        switch (command)
        {
            case RingAgent ring when placed.Mode == CallbackMode.CustomerFirst:
                session.CurrentQueue = ring.Queue;
                if (placed.DialStartedAt is not null || placed.DialPending)
                {
                    return true; // one dial per attempt: the engine's ring ended it, the withdrawal follows.
                }

                placed.AgentId = ring.AgentId;
                session.AgentLegs[ring.AgentId] = placed.CustomerLegId; // the engine's ring of the agent is the customer's ring
                var limit = ring.RingTimeout - TimeSpan.FromSeconds(1);
                ReserveThenDial(session, ring.AgentId, limit < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : limit < CallbackDialing.CustomerRingTimeout ? limit : CallbackDialing.CustomerRingTimeout);
                return true;
            case RingAgent ring:
                placed.AgentId = ring.AgentId;
                return false;
            case ConnectAgent connect when placed.Mode == CallbackMode.CustomerFirst:
                ConnectCustomerFirst(session, connect);
                return true;
            case ConnectAgent connect when session.AgentLegs.TryGetValue(connect.AgentId, out var agentLeg):
                ConnectAgentFirst(session, connect, agentLeg);
                return true;
            case OverflowCall:
                // Withdrawn from the queue: nobody is on the line to send anywhere.
                session.LeftAcd = true;
                EndSession(session);
                return true;
            case StartMusicOnHold or PlayPrompt or AnnouncePosition or AnnounceAgentId:
                return true; // nobody is on the line yet
            default:
                return false;
        }
    }

    private void ConnectAgentFirst(CallSession session, ConnectAgent connect, string agentLeg)
    {
        var placed = session.Placed!;
        session.ConnectedAgentId = connect.AgentId;
        session.LastAgentId = connect.AgentId;
        placed.AgentId = connect.AgentId;
        // The agent's answered leg already waits in its answer bridge (CallCenter.AnswerBridge.cs): that bridge is the
        // callback's (its number names the recording); an agent connected without one gets a new bridge.
        var answered = session.AnswerBridges.Remove(connect.AgentId, out var answer);
        var bridgeId = answered ? answer.BridgeId : $"{session.CallId}-bridge-{++session.BridgeCount}";
        session.BridgeId = bridgeId;
        var ari = session.App.Ari;
        LogCallbackAgentFirst(_logger, session.CallId, connect.AgentId, placed.Callback.Number);
        if (!answered)
        {
            session.Run("bridge the agent for the callback", async ct =>
            {
                await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: "callback", cancellationToken: ct).ConfigureAwait(false);
                await ari.Bridges.AddChannelAsync(bridgeId, [agentLeg], cancellationToken: ct).ConfigureAwait(false);
            });
        }

        ReserveThenDial(session, connect.AgentId, CallbackDialing.CustomerRingTimeout);
    }

    private void ConnectCustomerFirst(CallSession session, ConnectAgent connect)
    {
        var placed = session.Placed!;
        session.ConnectedAgentId = connect.AgentId;
        session.LastAgentId = connect.AgentId;
        var bridgeId = $"{session.CallId}-bridge-{++session.BridgeCount}";
        session.BridgeId = bridgeId;
        var legId = $"{session.CallId}-{connect.AgentId}-{++session.Attempts}";
        placed.AgentLegId = legId;
        session.AgentLegs[connect.AgentId] = legId;
        _channels[On(session.App, legId)] = new ChannelLeg(session, connect.AgentId);
        var ari = session.App.Ari;
        var app = session.App.Name;
        var queue = session.CurrentQueue ?? session.Queue;
        var moh = _settings.Queues.FirstOrDefault(q => q.Name == queue)?.MusicOnHold ?? "default";
        var name = $"[{queue}] {session.Caller.CallerName}".Replace("\"", string.Empty, StringComparison.Ordinal);
        var number = placed.Callback.Number;
        var ringFor = (int)Math.Ceiling((_settings.Queues.FirstOrDefault(q => q.Name == queue)?.RingTimeout ?? TimeSpan.FromSeconds(15)).TotalSeconds);
        var callId = session.CallId;

        // An agent on another Asterisk server is rung through this server's trunk there (CallCenter.Sites.cs).
        var endpoint = AgentEndpoint(session.App.Server, connect.AgentId, connect.Extension) ?? connect.Extension;
        LogCallbackCustomerFirst(_logger, callId, connect.AgentId, number);
        session.Run("bridge the callback customer and ring the agent", async ct =>
        {
            await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: "callback", cancellationToken: ct).ConfigureAwait(false);
            await ari.Bridges.AddChannelAsync(bridgeId, [placed.CustomerLegId], cancellationToken: ct).ConfigureAwait(false);
            await ari.Channels.StartMohAsync(placed.CustomerLegId, moh, ct).ConfigureAwait(false);
            try
            {
                await ari.Channels.OriginateAsync(endpoint: endpoint, app: app, appArgs: $"cbagent,{callId}",
                    callerId: $"\"{name}\" <{number}>", timeout: ringFor, channelId: legId, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                LogOriginateFailed(_logger, callId, connect.AgentId, endpoint, ex.Message);
                Post(at =>
                {
                    OnChannelGone(session.App, legId, at, "could not be rung");
                    return null;
                });
            }
        });
    }

    private void DialCustomer(CallSession session, TimeSpan timeout)
    {
        var placed = session.Placed!;
        placed.DialStartedAt = _lastAt;
        session.CallerGone = false;
        _callbackLegs[placed.CustomerLegId] = session;
        var endpoint = ExternalEndpointFor(session, placed.Callback.Number);
        var ari = session.App.Ari;
        var app = session.App.Name;
        var callerId = CallbackDialing.CallerId is { Length: > 0 } id ? $"<{id}>" : null;
        var legId = placed.CustomerLegId;
        var callId = session.CallId;
        session.Run("dial the callback customer", async ct =>
        {
            try
            {
                await ari.Channels.OriginateAsync(endpoint: endpoint, app: app, appArgs: $"callback,{callId}", callerId: callerId,
                    timeout: (int)Math.Ceiling(timeout.TotalSeconds), channelId: legId, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex)
            {
                LogOriginateFailed(_logger, callId, "customer", endpoint, ex.Message);
                Post(at =>
                {
                    EndCallbackLeg(legId, cause: null, at);
                    return null;
                });
            }
        });
    }

    /// <summary>StasisStart of a callback leg: the customer answered (<c>callback</c>) or, customer-first, the agent did (<c>cbagent</c>).</summary>
    private bool StartCallbackLeg(StasisApp app, Asterisk.Ari.Models.Channel channel, string entry, DateTimeOffset at)
    {
        if (entry == "callback")
        {
            if (!_callbackLegs.TryGetValue(channel.Id, out var session) || session.Ended || session.Placed is not { } placed)
            {
                app.Release(channel.Id, "normal");
                return true;
            }

            placed.CustomerAnsweredAt = at;
            if (placed.Mode == CallbackMode.AgentFirst)
            {
                if (session.BridgeId is { } bridgeId)
                {
                    // Connected once the customer is in the agent's bridge (CallbackPartyJoined), not at the answer.
                    var ari = session.App.Ari;
                    session.Run("bring the callback customer to the agent", ct => ari.Bridges.AddChannelAsync(bridgeId, [channel.Id], cancellationToken: ct));
                }
                else
                {
                    CallbackConnected(session, at); // no bridge to wait for
                }

                return true;
            }

            // Customer-first: the reserved agent is connected now (the engine stops its ring timer) and rung.
            var outcome = _engine.Handle(new AgentAnswered(at, session.CallId, placed.AgentId!));
            if (!outcome.Accepted)
            {
                LogRefused(_logger, session.CallId, outcome.Reason ?? "refused");
                app.Release(channel.Id, "normal");
            }

            return true;
        }

        if (entry == "cbagent")
        {
            if (!_channels.TryGetValue(On(app, channel.Id), out var leg) || leg.Session.Placed is not { } placed || placed.AgentLegId != channel.Id || leg.Session.Ended)
            {
                _channels.Remove(On(app, channel.Id));
                app.Release(channel.Id, "normal");
                return true;
            }

            var session = leg.Session;
            placed.AgentLegAnswered = true;
            if (session.BridgeId is { } bridgeId)
            {
                // Connected once the agent is in the customer's bridge (CallbackPartyJoined), not at the agent's answer.
                var ari = session.App.Ari;
                session.Run("bring the agent to the callback customer", async ct =>
                {
                    await ari.Channels.StopMohAsync(placed.CustomerLegId, ct).ConfigureAwait(false);
                    await ari.Bridges.AddChannelAsync(bridgeId, [channel.Id], cancellationToken: ct).ConfigureAwait(false);
                });
            }
            else
            {
                CallbackConnected(session, at); // no bridge to wait for
            }

            return true;
        }

        return false;
    }

    /// <summary>
    /// ChannelEnteredBridge: the second party of a callback entered the conversation's bridge (agent-first: the
    /// customer joining the agent; customer-first: the agent joining the customer), so they talk: the callback is
    /// connected now. Not at the answer: a customer who hangs up before being put through (the join takes a moment,
    /// longer under load) never talked to anyone, and storing "connected" then called the promise kept (found by
    /// CallbackKillTests: a customer answered, hung up 0.5 s later while the join was on its way, and the join failed
    /// with "Channel not found"). Such an attempt now ends as answered without an agent (failed, retried per policy).
    /// The ARI events come in order, so the join is seen before that party's StasisEnd. False when it is not such a join.
    /// </summary>
    private bool CallbackPartyJoined(StasisApp app, string channelId, string bridgeId, DateTimeOffset at)
    {
        var session = _callbackLegs.TryGetValue(channelId, out var ofCustomer) && ofCustomer.Placed is { Mode: CallbackMode.AgentFirst }
            ? ofCustomer
            : _channels.TryGetValue(On(app, channelId), out var leg) && leg.Session.Placed is { Mode: CallbackMode.CustomerFirst } placed && placed.AgentLegId == channelId
                ? leg.Session
                : null;
        if (session is null || session.Ended || session.BridgeId != bridgeId || session.Placed is not { ConnectedAt: null, CustomerAnsweredAt: not null })
        {
            return false;
        }

        CallbackConnected(session, at);
        return true;
    }

    /// <summary>Customer and agent talk: the bridge is recorded, the conversation noted for an adopter, "connected" reported.</summary>
    private void CallbackConnected(CallSession session, DateTimeOffset at)
    {
        session.Placed!.ConnectedAt = at;
        if (session.BridgeId is { } bridgeId)
        {
            RecordCallback(session, bridgeId);
        }

        StoreCallbackCall(session);
        ReportConnected(session);
    }

    /// <summary>The customer's leg of a callback ended (hung up, never answered, busy, failed); false when <paramref name="channelId"/> is not one.</summary>
    private bool EndCallbackLeg(string channelId, int? cause, DateTimeOffset at, GapEnd? realEnd = null)
    {
        if (!_callbackLegs.Remove(channelId, out var session) || session.Placed is not { } placed)
        {
            return false;
        }

        placed.CustomerGoneAt = realEnd?.At ?? at;
        placed.Cause ??= cause;
        session.CallerGone = true;
        if (!session.Ended)
        {
            // Still ringing the reserved agent (customer-first, not answered): the task leaves the queue;
            // otherwise the engine has the agent on it and the customer's side has hung up (when it really did,
            // for a leg that vanished in an events gap).
            session.RealEnd = realEnd;
            if (!_engine.Handle(new CallbackWithdrawn(at, session.CallId)).Accepted)
            {
                _engine.Handle(HungUp(session, at, HangupParty.Caller));
            }

            EndSession(session);
            session.RealEnd = null;
        }

        return true;
    }

    /// <summary>The session of a callback ended: report the attempt's outcome (once) and write its call row.</summary>
    private void CallbackSessionEnded(CallSession session)
    {
        var placed = session.Placed!;
        if (_callbackTasks.TryGetValue(placed.Callback.Id, out var current) && current == session)
        {
            _callbackTasks.Remove(placed.Callback.Id);
        }

        ForgetCallbackCall(session);

        if (placed.Finished)
        {
            return;
        }

        placed.Finished = true;
        if (!session.CallerGone && placed.DialStartedAt is not null)
        {
            // The agent left while the customer's phone still rang: EndSession hangs it up; its events find nothing.
            _callbackLegs.Remove(placed.CustomerLegId);
        }

        if (placed.DialStartedAt is null)
        {
            // Never dialled: withdrawn, or the service stopped before an agent took it (it stays due).
            return;
        }

        CallbackAttemptOutcome? outcome;
        DataDisposition disposition;
        if (placed.ConnectedAt is not null)
        {
            outcome = null; // connected was reported
            disposition = DataDisposition.Answered;
        }
        else if (placed.LostBySystem)
        {
            // Asterisk lost the customer's leg unseen (restart): the attempt does not count; due again.
            outcome = CallbackAttemptOutcome.AgentMissed;
            disposition = DataDisposition.SystemLost;
        }
        else if (session.EndedByStop && placed.CustomerGoneAt is null)
        {
            // The service stopped before anyone talked (CallCenter.Shutdown.cs): not the customer's doing, so the attempt does not count.
            outcome = CallbackAttemptOutcome.AgentMissed;
            disposition = DataDisposition.SystemLost;
        }
        else if (placed.CustomerAnsweredAt is not null)
        {
            outcome = CallbackAttemptOutcome.Failed; // customer-first: answered, but no agent came
            disposition = DataDisposition.Failed;
        }
        else if (placed.CustomerGoneAt is null)
        {
            outcome = CallbackAttemptOutcome.AgentMissed; // agent-first: the agent hung up while the customer rang
            disposition = DataDisposition.NoAnswer;
        }
        else
        {
            (outcome, disposition) = placed.Cause switch
            {
                17 => (CallbackAttemptOutcome.Busy, DataDisposition.Busy),
                16 or 18 or 19 or 20 => (CallbackAttemptOutcome.NoAnswer, DataDisposition.NoAnswer),
                _ => (CallbackAttemptOutcome.Failed, DataDisposition.Failed),
            };
        }

        if (outcome is { } ended && !placed.Withdrawn)
        {
            ReportAttemptEnded(session, ended);
        }

        WriteCallbackRow(session, disposition);
    }

    private void WriteCallbackRow(CallSession session, DataDisposition disposition)
    {
        var placed = session.Placed!;
        var end = session.RealEnd?.At ?? _lastAt; // ended unseen in an events gap: at its real end (CallCenter.GapHangups.cs)
        end = end < session.EnteredAt ? session.EnteredAt : end;
        var talkEnd = placed.ConversationEndedAt ?? end;
        var row = new CallRecord
        {
            CallId = session.CallId, StartedAt = session.EnteredAt, Direction = CallDirection.Outbound, AsteriskServer = session.App.Server,
            Caller = CallbackDialing.CallerId, Callee = placed.Callback.Number, Queues = [session.CurrentQueue ?? session.Queue],
            EnqueuedAt = session.EnteredAt, AnsweredAt = placed.ConnectedAt, EndedAt = end,
            WaitSeconds = (placed.DialStartedAt!.Value - session.EnteredAt).TotalSeconds,
            TalkSeconds = placed.ConnectedAt is { } connected && talkEnd > connected ? (talkEnd - connected).TotalSeconds : 0,
            Disposition = disposition, AgentId = placed.AgentId,
            ReleasedBy = placed.ConversationEndedAt is not null ? ReleasedBy.Agent
                : placed.CustomerGoneAt is not null ? ReleasedBy.Caller : !session.EndedByStop && session.LastAgentId is not null ? ReleasedBy.Agent : ReleasedBy.System,
            CallbackId = placed.Callback.Id.ToString(), CampaignId = placed.Callback.CampaignId, LeadId = placed.Callback.LeadId,
            RecordingId = placed.RecordingStartedAt is not null ? placed.RecordingId : null, SurveyScore = placed.SurveyScore,
            WrapUpSeconds = placed.WrapUp?.TotalSeconds ?? 0, EndEstimated = session.RealEnd?.Estimated ?? false,
        };
        _records.Writer.TryWrite(row);
        WriteCallbackRecording(session, talkEnd);
        if (placed.ConnectedAt is not null && placed.WrapUp is null)
        {
            _callbackRowsInWrapUp[session.CallId] = row; // written again with the agent's wrap-up when it ends
        }
    }

    /// <summary>The engine's events that concern callbacks: wrap-up of a callback call, abandons owed a callback, inbound answers that resolve one.</summary>
    private void ObserveForCallbacks(AcdEvent domainEvent)
    {
        switch (domainEvent)
        {
            case CallHandlingEnded handled when _callbackRowsInWrapUp.Remove(handled.CallId, out var row):
                _records.Writer.TryWrite(row with { Revision = row.Revision + 1, WrapUpSeconds = handled.WrapUp.TotalSeconds });
                break;
            case CallHandlingEnded handled when _calls.TryGetValue(handled.CallId, out var surveying) && surveying.Placed is { } inSurvey:
                // The agent's wrap-up ended while the customer still answers the survey: the row, written at the end, carries it.
                inSurvey.WrapUp = handled.WrapUp;
                break;
            case CallAnswered answered when _callbacks is { } callbacks && _calls.TryGetValue(answered.CallId, out var session)
                                            && session.Placed is null && session.Caller.CallerNumber is { Length: > 0 } number:
                var callId = answered.CallId;
                Report(number, "resolve callbacks of " + callId, async ct =>
                {
                    var closed = await callbacks.ResolveByInboundAsync(number, callId, ct).ConfigureAwait(false);
                    if (closed > 0)
                    {
                        LogCallbacksResolved(_logger, callId, closed);
                    }
                });
                break;
            case CallEnqueued enqueued when _calls.TryGetValue(enqueued.CallId, out var waiting) && waiting.Placed is null:
                waiting.QueuePriority = enqueued.Priority;
                break;
            case CallAdopted adopted when _calls.TryGetValue(adopted.CallId, out var taken) && taken.Placed is null:
                // Taken over after a restart: no CallEnqueued here, the adoption carries the priority instead.
                taken.QueuePriority = adopted.Priority;
                break;
            case QueueVisitEnded { Outcome: AcdVisitOutcome.Abandoned } abandoned:
                RequestAbandonedCallback(abandoned);
                break;
        }
    }

    /// <summary>
    /// A caller hung up while waiting in a queue: the abandoned-call callback they may be owed. Every way
    /// out without a request is logged with its reason, so a missing callback can be explained from the log.
    /// </summary>
    private void RequestAbandonedCallback(QueueVisitEnded abandoned)
    {
        if (_callbacks is not { } callbacks)
        {
            LogAbandonNoCallback(_logger, abandoned.CallId, abandoned.Queue, "no callback scheduler runs on this instance (callbacks.enabled is off)");
            return;
        }

        if (!_calls.TryGetValue(abandoned.CallId, out var session))
        {
            LogAbandonNoCallback(_logger, abandoned.CallId, abandoned.Queue, KeepsAbandonedCallers
                ? "call control no longer knows the call (its session had ended); the sweep requests it from the call's write-ahead row within 30 s"
                : "call control no longer knows the call (its session had ended)");
            return;
        }

        if (session.Placed is not null)
        {
            return; // a callback task has nobody on the line: it cannot abandon, and is not owed a callback of its own
        }

        var waited = abandoned.At - (session.EnqueuedAt ?? abandoned.EnqueuedAt);
        if (session.Caller.CallerNumber is not { Length: > 0 } caller)
        {
            LogNoCallbacks(_logger, abandoned.CallId, "(withheld)", "the caller's number is withheld");
            return;
        }

        var request = CallbackRequest.AbandonedCall(caller, abandoned.Queue, abandoned.CallId, waited) with { CustomerName = session.Caller.CallerName };
        var abandonedCallId = abandoned.CallId;
        Report(caller, "abandoned-call callback for " + abandonedCallId, async ct =>
        {
            if (await callbacks.RequestAsync(request, ct).ConfigureAwait(false) is { } ticket)
            {
                LogAbandonCallback(_logger, abandonedCallId, ticket.Callback.Id, waited.TotalSeconds, ticket.Merged);
            }

            // Stored (or none owed): the caller's write-ahead row goes. A crash before this line
            // leaves the row, and the sweep requests the callback (once) from it.
            if (KeepsAbandonedCallers && callbacks is CallbackService service)
            {
                await AbandonedCallerRows.ForgetAsync(abandonedCallId, c => service.ForgetAbandonedCallAsync(abandonedCallId, c), ct).ConfigureAwait(false);
            }
        });
    }

    /// <summary>
    /// A caller who was waiting in a queue hung up while no instance controlled the call (found gone when
    /// this one adopted it): the call stays lost in the records (when they left is unknown), but they
    /// abandoned a queue and are owed the abandoned-call callback like any other. Their wait counts up
    /// to now (the minimum-wait rule errs towards calling back) and the deadline runs from now.
    /// </summary>
    private void RequestCallbackForCallerGoneUnwatched(CtiBridge.Data.LiveState.LiveCall call, DateTimeOffset at)
    {
        if (_callbacks is not { } callbacks)
        {
            LogAbandonNoCallback(_logger, call.CallId, call.Queue, "the caller left while no instance controlled the call, and no callback scheduler runs on this instance (callbacks.enabled is off)");
            return;
        }

        if (call.AnsweredAt is not null)
        {
            LogAbandonNoCallback(_logger, call.CallId, call.Queue, "the caller left while no instance controlled the call, after an agent had answered (a conversation ended, not a wait)");
            return;
        }

        if (call.Caller.CallerNumber is not { Length: > 0 } number)
        {
            LogNoCallbacks(_logger, call.CallId, "(withheld)", "the caller's number is withheld");
            return;
        }

        var waited = at - call.EnqueuedAt;
        var request = CallbackRequest.AbandonedCall(number, call.Queue, call.CallId, waited) with { CustomerName = call.Caller.CallerName, RequestedBy = "takeover" };
        var callId = call.CallId;
        var writtenAhead = KeepsAbandonedCallers && callbacks is CallbackService;
        if (writtenAhead)
        {
            // Written ahead like an ordinary abandon: the call's end marks its live_calls row instead of
            // deleting it (LiveStateService asks CallerGoneAtAdoptionKeepsRow), and the row goes only once the
            // request below is stored. If this instance dies in between, the sweep of whichever instance runs
            // requests the callback from the row (once); a marked row is never adopted again.
            _callersGoneAtAdoption.TryAdd(callId, 0);
        }

        Report(number, "abandoned-call callback for " + callId + " (caller gone while unwatched)", async ct =>
        {
            if (await callbacks.RequestAsync(request, ct).ConfigureAwait(false) is { } ticket)
            {
                LogAbandonCallback(_logger, callId, ticket.Callback.Id, waited.TotalSeconds, ticket.Merged);
            }

            if (writtenAhead && callbacks is CallbackService service)
            {
                await AbandonedCallerRows.ForgetAsync(callId, c => service.ForgetAbandonedCallAsync(callId, c), ct).ConfigureAwait(false);
                _callersGoneAtAdoption.TryRemove(callId, out _);
            }
        });
    }

    /// <summary>
    /// Whether the end of <paramref name="callId"/> must keep (mark) its <c>live_calls</c> row: a waiting caller
    /// found gone at adoption whose callback request is not stored yet. Read by the live state writer.
    /// </summary>
    internal bool CallerGoneAtAdoptionKeepsRow(string callId) => _callersGoneAtAdoption.ContainsKey(callId);

    /// <summary>
    /// Write-ahead of a dial: the attempt is stored first (<c>due → dialing</c> with this attempt's call id, accepted only
    /// from the instance that holds the callback) and the customer is dialled once it is. So every dial PbxSim or
    /// Asterisk sees has its stored attempt: a process killed after the dial leaves the callback <c>dialing</c>, and the
    /// instance that offers it again counts the attempt; an instance that was stalled while the callback was offered
    /// again elsewhere is refused and dials nobody. Costs one database round trip before the customer's phone rings.
    /// </summary>
    private void ReserveThenDial(CallSession session, string agentId, TimeSpan timeout)
    {
        var placed = session.Placed!;
        if (placed.Reserved || _callbacks is not ICallbackOutcomes outcomes)
        {
            DialCustomer(session, timeout); // no callback service to report to (call control on its own)
            return;
        }

        placed.Reserved = true;
        placed.DialPending = true;
        var id = placed.Callback.Id;
        var callId = session.CallId;
        Report(placed.Callback.Number, "callback reserved " + callId, async ct =>
        {
            bool stored;
            try
            {
                stored = await outcomes.AgentReservedAsync(id, agentId, callId, ct).ConfigureAwait(false) is not null;
            }
            catch (Exception ex) when (ex is DbException or TimeoutException or InvalidOperationException)
            {
                // The database cannot be reached: the agent waits on the line, and calling the customer is worth more
                // than the write-ahead. The outcome is reported as ever (and the sweep and escalation show what was lost).
                LogCallbackReserveNotStored(_logger, id, callId, ex.Message);
                stored = true;
            }

            Post(at =>
            {
                DialReserved(session, stored, timeout, at);
                return null;
            });
        });
    }

    /// <summary>The reservation's answer is back (in the loop): dial the customer, or stop this attempt before any dial.</summary>
    private void DialReserved(CallSession session, bool stored, TimeSpan timeout, DateTimeOffset at)
    {
        var placed = session.Placed!;
        placed.DialPending = false;
        if (!session.Ended && stored && !placed.Withdrawn)
        {
            DialCustomer(session, timeout);
            return;
        }

        if (!stored)
        {
            // Cancelled, rescheduled or taken by another instance meanwhile (the CLI writes the record only):
            // this attempt stops here rather than call a customer who is owed nothing now.
            LogCallbackNotDue(_logger, placed.Callback.Id, session.CallId);
        }

        if (!session.Ended)
        {
            LogCallbackWithdrawn(_logger, placed.Callback.Id, session.CallId, stored ? "withdrawn before the customer was dialled" : "no longer due");
            placed.Withdrawn = true;
            if (!_engine.Handle(new CallbackWithdrawn(at, session.CallId)).Accepted)
            {
                _engine.Handle(new CallHungUp(at, session.CallId, HangupParty.Caller)); // the agent is on it: released to wrap-up
            }

            EndSession(session);
        }

        if (stored)
        {
            // Stored as dialing but never dialled (the agent left, or it was withdrawn meanwhile): due again, the
            // attempt not counted (a no-op when the record was moved on elsewhere). The session's end reported
            // nothing: it had no dial.
            placed.Finished = true;
            ReportAttemptEnded(session, CallbackAttemptOutcome.AgentMissed);
        }
    }

    private void ReportConnected(CallSession session)
    {
        if (_callbacks is not ICallbackOutcomes outcomes)
        {
            return;
        }

        var id = session.Placed!.Callback.Id;
        var callId = session.CallId;
        Report(session.Placed!.Callback.Number, "callback connected " + callId, ct => outcomes.ConnectedAsync(id, callId, ct));
    }

    private void ReportAttemptEnded(CallSession session, CallbackAttemptOutcome outcome)
    {
        if (_callbacks is not ICallbackOutcomes outcomes)
        {
            return;
        }

        var id = session.Placed!.Callback.Id;
        var callId = session.CallId;
        LogCallbackAttemptEnded(_logger, callId, id, outcome.ToString());
        Report(session.Placed!.Callback.Number, "callback attempt ended " + callId, ct => outcomes.AttemptEndedAsync(id, callId, outcome, ct));
    }

    /// <summary>
    /// Reports to the callback scheduler run off the loop, so the database never holds up a call, in a few lanes
    /// chosen by the customer's number: everything about one number (reserved before connected before ended, an
    /// abandon's request before the resolve of the same caller's next call) runs one at a time in the loop's order,
    /// while other numbers' reports do not queue behind it. One lane made every dial (written ahead) and every
    /// connection wait behind all others under load, and a connection stored late is a conversation a crash would
    /// call again (docs/callbacks.md §12a).
    /// </summary>
    private void Report(string number, string what, Func<CancellationToken, Task> report)
    {
        _callbackReporting ??= [.. _callbackReports.Select(lane => Task.Run(() => RunCallbackReportsAsync(lane.Reader)))];
        _callbackReports[ReportLane(number)].Writer.TryWrite((what, report));
    }

    /// <summary>FNV-1a of the number: stable within the process (string hashes are, too, but say nothing of spread).</summary>
    private static int ReportLane(string number)
    {
        var hash = 2166136261u;
        foreach (var c in number)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % CallbackReportLanes);
    }

    private async Task RunCallbackReportsAsync(System.Threading.Channels.ChannelReader<(string What, Func<CancellationToken, Task> Report)> lane)
    {
        await foreach (var (what, report) in lane.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                await report(_callbackReportsAbort.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or TimeoutException or DbException
                                          or OperationCanceledException or Quartz.SchedulerException)
            {
                LogCallbackReportFailed(_logger, what, ex.Message);
            }
        }
    }

    /// <summary>On stop: reports already made are delivered (bounded), then the rest is given up.</summary>
    private async Task StopCallbackReportsAsync()
    {
        foreach (var lane in _callbackReports)
        {
            lane.Writer.TryComplete();
        }

        if (_callbackReporting is { } reporting)
        {
            try
            {
                await Task.WhenAll(reporting).WaitAsync(TimeSpan.FromSeconds(10), _time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                LogCallbackReportsCut(_logger);
                await _callbackReportsAbort.CancelAsync().ConfigureAwait(false);
            }
        }

        _callbackReportsAbort.Dispose();
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Callback {CallbackId} queued as task {CallId} in {Queue} ({Mode})")]
    private static partial void LogCallbackQueued(ILogger logger, Guid callbackId, string callId, string queue, string mode);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "Callback {CallbackId} is due but no Stasis app runs to place it; it stays due")]
    private static partial void LogCallbackNoApp(ILogger logger, Guid callbackId);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Error, Message = "Callback {CallbackId} was not taken by the ACD: {Reason}; it stays due")]
    private static partial void LogCallbackRefused(ILogger logger, Guid callbackId, string reason);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Information, Message = "Callback {CallbackId} (task {CallId}) withdrawn: {Reason}")]
    private static partial void LogCallbackWithdrawn(ILogger logger, Guid callbackId, string callId, string reason);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "Callback {CallId}: agent {AgentId} answered; dialling the customer {Number}")]
    private static partial void LogCallbackAgentFirst(ILogger logger, string callId, string agentId, string number);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Information, Message = "Callback {CallId}: customer {Number} answered; ringing agent {AgentId}")]
    private static partial void LogCallbackCustomerFirst(ILogger logger, string callId, string agentId, string number);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "Callback {CallId} ({CallbackId}): attempt ended, {Outcome}")]
    private static partial void LogCallbackAttemptEnded(ILogger logger, string callId, Guid callbackId, string outcome);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Error, Message = "Callback report '{What}' failed: {Reason}")]
    private static partial void LogCallbackReportFailed(ILogger logger, string what, string reason);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "Call control stopped before every callback report was stored; the sweep and escalation will show the rest")]
    private static partial void LogCallbackReportsCut(ILogger logger);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Information, Message = "Call {CallId} was answered: {Count} open callback(s) of the caller resolved by inbound")]
    private static partial void LogCallbacksResolved(ILogger logger, string callId, int count);

    [LoggerMessage(EventId = 2111, Level = LogLevel.Warning, Message = "Callback {CallbackId} was no longer due when its agent was reserved (cancelled, rescheduled or placed elsewhere); task {CallId} stops")]
    private static partial void LogCallbackNotDue(ILogger logger, Guid callbackId, string callId);

    [LoggerMessage(EventId = 2113, Level = LogLevel.Warning, Message = "Callback {CallbackId}: the attempt {CallId} could not be stored before the dial ({Reason}); the customer is dialled anyway")]
    private static partial void LogCallbackReserveNotStored(ILogger logger, Guid callbackId, string callId, string reason);

    [LoggerMessage(EventId = 2112, Level = LogLevel.Information, Message = "Call {CallId} left queue {Queue} unanswered: no abandoned-call callback is requested: {Reason}")]
    private static partial void LogAbandonNoCallback(ILogger logger, string callId, string queue, string reason);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Information, Message = "Call {CallId} abandoned after {Seconds} s: callback {CallbackId} (merged {Merged})")]
    private static partial void LogAbandonCallback(ILogger logger, string callId, Guid callbackId, double seconds, bool merged);
}

/// <summary>
/// The callback scheduler's placement, served by the <see cref="CallCenter"/>. Resolved late because
/// the call center itself takes the callback service (for requests): the two would otherwise need each other to be built.
/// </summary>
internal sealed class CallCenterCallbackPlacement(IServiceProvider services) : ICallbackPlacement
{
    public Task OfferAsync(Callback callback, CancellationToken cancellationToken) =>
        services.GetRequiredService<CallCenter>().OfferCallbackAsync(callback, cancellationToken);

    public Task WithdrawAsync(Callback callback, string reason, CancellationToken cancellationToken) =>
        services.GetRequiredService<CallCenter>().WithdrawCallbackAsync(callback, reason, cancellationToken);

    public Task<string?> ServerElsewhereAsync(Callback callback, CancellationToken cancellationToken) =>
        services.GetRequiredService<CallCenter>().CallbackServerElsewhereAsync(callback, cancellationToken);
}
