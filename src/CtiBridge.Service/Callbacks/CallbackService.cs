using System.Collections.Concurrent;
using System.Globalization;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using Quartz;

namespace CtiBridge.Service.Callbacks;

/// <summary>How a call attempt of a callback ended (reported by call control).</summary>
public enum CallbackAttemptOutcome
{
    /// <summary>The customer did not answer.</summary>
    NoAnswer,

    /// <summary>The line was busy.</summary>
    Busy,

    /// <summary>The call could not be made (congestion, bad number, trunk fault).</summary>
    Failed,

    /// <summary>The reserved agent did not take it (no answer, declined): the callback goes back to the ACD, the attempt does not count.</summary>
    AgentMissed,
}

/// <summary>
/// The callbacks of the centre: takes requests (<see cref="ICallbackRequests"/>), keeps the record
/// (PostgreSQL, <see cref="CallbackStore"/>) and its Quartz trigger in step, moves callbacks through
/// their states exactly once, and runs the sweep (lost triggers, owner grace, reminders, escalation).
/// The API/CLI use <see cref="ListAsync"/>, <see cref="CreateAsync"/>, <see cref="RescheduleAsync"/>,
/// <see cref="CancelAsync"/>; call control reports placements with <see cref="AgentReservedAsync"/>,
/// <see cref="ConnectedAsync"/> and <see cref="AttemptEndedAsync"/>.
/// </summary>
public sealed partial class CallbackService : ICallbackRequests, ICallbackJobs, ICallbackOutcomes
{
    private readonly CallbackStore _store;
    private readonly CallbackPolicy _policy;
    private readonly TimeProvider _clock;
    private readonly ICallbackPlacement _placement;
    private readonly IReadOnlyList<ICallbackObserver> _observers;
    private readonly Func<string, bool>? _queueExists;
    private readonly Func<string, CallbackMode?>? _queueMode;
    private readonly ILogger<CallbackService> _logger;
    private CallbackScheduler? _scheduler;
    private CallbackInstanceWatch? _watch;

    /// <summary>One hand-over of everything due at a time on this node (the other Quartz threads that fire meanwhile leave it to it).</summary>
    private int _handingOver;

    /// <summary>Callbacks this node has queued in its ACD and not seen reserved or withdrawn yet (checked against the record at each heartbeat).</summary>
    private readonly ConcurrentDictionary<Guid, Callback> _queuedHere = new();
    private volatile bool _lettingGo;

    /// <summary>Callbacks stored before the scheduler was attached, waiting for their trigger.</summary>
    private readonly ConcurrentQueue<Callback> _unscheduled = new();

    /// <summary>Callbacks made due per statement when many are due at once.</summary>
    internal const int HandOverBatch = 500;

    /// <summary>Creates the service; <see cref="AttachScheduler"/> connects it to Quartz.</summary>
    /// <param name="store">Records.</param>
    /// <param name="policy">Rules (validated here).</param>
    /// <param name="clock">Time.</param>
    /// <param name="placement">Where due callbacks go (call control).</param>
    /// <param name="observers">Reminder/escalation listeners.</param>
    /// <param name="logger">Log.</param>
    /// <param name="queueExists">Checks a request's queue; null accepts any name.</param>
    /// <param name="queueMode">
    /// The mode a queue's configuration chooses for its callbacks (<c>callControl.queues[].callbackMode</c>), read at
    /// each request that does not name one; null (or a null answer) for agent-first.
    /// </param>
    /// <exception cref="ArgumentException">The policy is invalid (every problem listed).</exception>
    public CallbackService(CallbackStore store, CallbackPolicy policy, TimeProvider clock, ICallbackPlacement placement,
        IEnumerable<ICallbackObserver> observers, ILogger<CallbackService> logger, Func<string, bool>? queueExists = null,
        Func<string, CallbackMode?>? queueMode = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var problems = policy.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("The callback policy is invalid:" + Environment.NewLine + "- " + string.Join(Environment.NewLine + "- ", problems), nameof(policy));
        }

        _store = store;
        _policy = policy;
        _clock = clock;
        _placement = placement;
        _observers = [.. observers];
        _logger = logger;
        _queueExists = queueExists;
        _queueMode = queueMode;
    }

    /// <summary>Who this node is in history rows (its Quartz instance id once attached).</summary>
    public string Actor => _scheduler is { } s ? "scheduler:" + s.InstanceId : "system";

    /// <summary>This node's Quartz instance id (the <c>placed_by</c> of callbacks it holds), or null before the scheduler is attached.</summary>
    public string? InstanceId => _scheduler?.InstanceId;

    /// <summary>The policy in force.</summary>
    public CallbackPolicy Policy => _policy;

    /// <summary>Connects the Quartz scheduler (built with this service as its <see cref="ICallbackJobs"/>).</summary>
    public void AttachScheduler(CallbackScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        _scheduler = scheduler;
        _watch = new CallbackInstanceWatch(scheduler.InstanceDeadAfter, TimeProvider.System);
    }

    // ------------------------------------------------------------------ requests

    /// <inheritdoc />
    public async Task<CallbackTicket?> RequestAsync(CallbackRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // An abandon is owed a callback only after a long enough wait, and only with a number to call.
        // Said in the log either way: "why was this caller not called back?" must be answerable from it.
        if (request.Source == CallbackSource.Abandoned && string.IsNullOrWhiteSpace(request.Number))
        {
            LogAbandonNotOwed(_logger, request.OriginCallId ?? "(no call id)", request.Queue, "the caller's number is withheld or empty");
            return null;
        }

        if (request.Source == CallbackSource.Abandoned && request.Waited is { } waited && !CallbackPlanner.AbandonEarnsCallback(_policy, waited, request.Number))
        {
            LogAbandonNotOwed(_logger, request.OriginCallId ?? "(no call id)", request.Queue, string.Create(CultureInfo.InvariantCulture,
                $"the caller waited {waited.TotalSeconds:0.###} s, under callbacks.abandonedMinimumWait ({_policy.AbandonedMinimumWait.TotalSeconds:0.###} s)"));
            return null;
        }

        Validate(request);
        // A request that names no mode (the callbacks callers ask for themselves: the queue key, an abandon, a
        // voicemail; an API/CLI request without one) takes its queue's: the centre decides per queue whether its
        // customers wait for an agent or its agents wait for the customer.
        request = request with { Number = request.Number.Trim(), Mode = request.Mode ?? _queueMode?.Invoke(request.Queue) ?? CallbackMode.AgentFirst };

        var now = _clock.GetUtcNow();
        var times = CallbackPlanner.Plan(_policy, request, now);
        var ticket = await _store.RequestAsync(request, times, request.Priority ?? _policy.Priority, _policy.MaxAttempts, now, cancellationToken).ConfigureAwait(false);
        var c = ticket.Callback;
        if (c.State is CallbackState.Scheduled or CallbackState.Retry)
        {
            try
            {
                await ScheduleAsync(c, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SchedulerException or Quartz.Impl.AdoJobStore.LockException)
            {
                // The record is stored and is the source of truth: the sweep makes it due by the record alone
                // (within sweepInterval + 5 s of its due time). Failing the request would tell the caller the
                // promise was not taken when it was.
                LogTriggerNotWritten(_logger, c.Id, ex.Message);
            }
        }

        LogRequested(_logger, c.Id, CallbackStates.SourceName(request.Source), c.Queue, c.DueAt, ticket.Merged);
        Notify(c, ticket.Merged ? "merged request from " + CallbackStates.SourceName(request.Source) : "requested");
        return ticket;
    }

    /// <summary>API/CLI: creates an agent- or API-scheduled callback (never dropped as a short abandon).</summary>
    public async Task<CallbackTicket> CreateAsync(CallbackRequest request, CancellationToken cancellationToken = default) =>
        await RequestAsync(request with { Waited = null }, cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException("The callback request was not stored.");

    /// <inheritdoc />
    public async Task<int> ResolveByInboundAsync(string number, string callId, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(number))
        {
            return 0;
        }

        var closed = 0;
        foreach (var open in await _store.OpenForNumberAsync(number.Trim(), cancellationToken).ConfigureAwait(false))
        {
            var moved = await MoveAsync(open.Id, CallbackStates.Open, CallbackState.ResolvedByInbound,
                new CallbackChange(_clock.GetUtcNow(), "customer called in and was served", "call:" + callId) { CallId = callId }, cancellationToken).ConfigureAwait(false);
            if (moved is not null)
            {
                closed++;
                await AfterClosedAsync(open, moved, "resolved by inbound call " + callId, cancellationToken).ConfigureAwait(false);
            }
        }

        return closed;
    }

    // ------------------------------------------------------------------ API / CLI

    /// <summary>Callbacks matching the filter, soonest due first.</summary>
    public Task<IReadOnlyList<Callback>> ListAsync(CallbackFilter filter, CancellationToken cancellationToken = default) => _store.ListAsync(filter, cancellationToken);

    /// <summary>One callback, or null.</summary>
    public Task<Callback?> GetAsync(Guid id, CancellationToken cancellationToken = default) => _store.GetAsync(id, cancellationToken);

    /// <summary>A callback's stored history.</summary>
    public Task<IReadOnlyList<CallbackTransition>> HistoryAsync(Guid id, CancellationToken cancellationToken = default) => _store.HistoryAsync(id, cancellationToken);

    /// <summary>Moves an open callback (not being dialled) to a new due time; null when it is not open or is being dialled.</summary>
    public async Task<Callback?> RescheduleAsync(Guid id, DateTimeOffset dueAt, string actor, CancellationToken cancellationToken = default)
    {
        var before = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
        var due = CallbackPlanner.InHours(_policy, dueAt < _clock.GetUtcNow() ? _clock.GetUtcNow() : dueAt, before?.Queue);
        var moved = await MoveAsync(id, [CallbackState.Scheduled, CallbackState.Retry, CallbackState.Due], CallbackState.Scheduled,
            new CallbackChange(_clock.GetUtcNow(), $"rescheduled to {due:O}", actor) { DueAt = due, Kind = "rescheduled" }, cancellationToken).ConfigureAwait(false);
        if (moved is null)
        {
            return null;
        }

        if (before?.State == CallbackState.Due)
        {
            await WithdrawAsync(moved, "rescheduled", cancellationToken).ConfigureAwait(false);
        }

        await ScheduleAsync(moved, cancellationToken).ConfigureAwait(false);
        return moved;
    }

    /// <summary>Cancels an open callback; null when it was not open.</summary>
    public async Task<Callback?> CancelAsync(Guid id, string reason, string actor, CancellationToken cancellationToken = default)
    {
        var before = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
        var moved = await MoveAsync(id, CallbackStates.Open, CallbackState.Cancelled, new CallbackChange(_clock.GetUtcNow(), reason, actor), cancellationToken).ConfigureAwait(false);
        if (moved is not null && before is not null)
        {
            await AfterClosedAsync(before, moved, reason, cancellationToken).ConfigureAwait(false);
        }

        return moved;
    }

    // ------------------------------------------------------------------ call control reports

    /// <summary>An agent was reserved for the callback and the customer is being called: due → dialing.</summary>
    public async Task<Callback?> AgentReservedAsync(Guid id, string agentId, string callId, CancellationToken cancellationToken = default)
    {
        var moved = await MoveAsync(id, [CallbackState.Due], CallbackState.Dialing,
            new CallbackChange(_clock.GetUtcNow(), $"agent {agentId} reserved, calling the customer", "agent:" + agentId) { CallId = callId, OnlyIfPlacedBy = InstanceId }, cancellationToken).ConfigureAwait(false);
        if (moved is not null)
        {
            _queuedHere.TryRemove(id, out _); // out of the queue, into a call: its outcome is reported here
        }

        return moved;
    }

    /// <summary>The customer answered and talks to the agent: dialing → connected (the promise is kept).</summary>
    public async Task<Callback?> ConnectedAsync(Guid id, string callId, CancellationToken cancellationToken = default)
    {
        // No trigger to remove: a dialled callback's trigger has fired, or (made due in another's batch) is at or before
        // its due time and finds nothing to do when it fires. Removing it took Quartz's cluster lock, under which every
        // connection waited for the scheduler's own work: stored late, a conversation that a crash cut would be called again.
        return await MoveAsync(id, [CallbackState.Dialing], CallbackState.Connected,
            new CallbackChange(_clock.GetUtcNow(), "customer answered", Actor) { CallId = callId, AddAttempts = 1 }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A callback conversation was adopted after a restart or a takeover (the customer and the agent are still
    /// connected): the callback is connected now if the instance that placed it died before it said so (dialing),
    /// or if its attempt was already re-offered as that instance's orphan (due) — the conversation is the truth.
    /// Null when it was connected already (the usual case): the promise is kept once.
    /// </summary>
    public async Task<Callback?> ConversationAdoptedAsync(Guid id, string callId, CancellationToken cancellationToken = default)
    {
        // The attempt is counted once: here from dialing; from due the orphan re-offer already counted it (dialing → due
        // "the attempt counts"), and counting it again made attempts exceed the dials (CallbackKillTests, with a standby).
        var reason = "customer answered; the conversation was adopted after a restart or takeover";
        var moved = await MoveAsync(id, [CallbackState.Dialing], CallbackState.Connected,
                new CallbackChange(_clock.GetUtcNow(), reason, Actor) { CallId = callId, AddAttempts = 1 }, cancellationToken).ConfigureAwait(false)
            ?? await MoveAsync(id, [CallbackState.Due], CallbackState.Connected,
                new CallbackChange(_clock.GetUtcNow(), reason, Actor) { CallId = callId }, cancellationToken).ConfigureAwait(false);
        if (moved is not null && _scheduler is { } s)
        {
            _queuedHere.TryRemove(id, out _);
            await s.UnscheduleAsync(id, cancellationToken).ConfigureAwait(false);
        }

        return moved;
    }

    /// <summary>
    /// An attempt ended without a conversation: a retry is scheduled with backoff (dialing → retry), or
    /// the callback fails when no attempt is left; an agent's miss sends it back to the ACD (due).
    /// </summary>
    public async Task<Callback?> AttemptEndedAsync(Guid id, string callId, CallbackAttemptOutcome outcome, CancellationToken cancellationToken = default)
    {
        var now = _clock.GetUtcNow();
        if (outcome == CallbackAttemptOutcome.AgentMissed)
        {
            var back = await MoveAsync(id, [CallbackState.Dialing], CallbackState.Due,
                new CallbackChange(now, "the reserved agent did not take it", Actor) { CallId = callId }, cancellationToken).ConfigureAwait(false);
            if (back is not null)
            {
                await OfferAsync(back, cancellationToken).ConfigureAwait(false);
            }

            return back;
        }

        var current = await _store.GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (current is null || current.State != CallbackState.Dialing)
        {
            return null;
        }

        var words = outcome switch
        {
            CallbackAttemptOutcome.NoAnswer => "no answer",
            CallbackAttemptOutcome.Busy => "busy",
            _ => "call failed",
        };
        var next = CallbackPlanner.NextAttempt(_policy, current.Attempts + 1, current.MaxAttempts, now, current.Queue);
        if (next is { } retryAt)
        {
            var retry = await MoveAsync(id, [CallbackState.Dialing], CallbackState.Retry,
                new CallbackChange(now, $"{words}; attempt {current.Attempts + 1} of {current.MaxAttempts}, next at {retryAt:O}", Actor) { CallId = callId, AddAttempts = 1, DueAt = retryAt }, cancellationToken).ConfigureAwait(false);
            if (retry is not null)
            {
                await ScheduleAsync(retry, cancellationToken).ConfigureAwait(false);
            }

            return retry;
        }

        return await MoveAsync(id, [CallbackState.Dialing], CallbackState.Failed,
            new CallbackChange(now, $"{words}; all {current.MaxAttempts} attempts used", Actor) { CallId = callId, AddAttempts = 1 }, cancellationToken).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ jobs

    /// <inheritdoc />
    public async Task FireDueAsync(Guid callbackId, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        if (_policy.HasHours && await _store.GetAsync(callbackId, cancellationToken).ConfigureAwait(false) is { State: CallbackState.Scheduled or CallbackState.Retry } waiting
            && !CallbackPlanner.IsPlacingTime(_policy, now, waiting.Queue))
        {
            // Fired outside the hours (after downtime, or the hours changed since it was planned): it waits.
            await WaitForOpeningAsync(waiting, now, "due outside the callback hours", cancellationToken).ConfigureAwait(false);
            return;
        }

        var due = await MoveAsync(callbackId, [CallbackState.Scheduled, CallbackState.Retry], CallbackState.Due,
            new CallbackChange(now, "due", Actor) { PlacedBy = InstanceId }, cancellationToken).ConfigureAwait(false);
        if (due is null)
        {
            return; // already due (another node or the sweep), closed or rescheduled: nothing to do, exactly once.
        }

        await OfferAsync(due, cancellationToken).ConfigureAwait(false);
        await HandOverDueAsync(now, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Everything else due by now is made due and handed on here too, hundreds per statement, instead of
    /// waiting for each its own Quartz firing: Quartz fires a trigger with several statements under its
    /// cluster lock and acquires at most one batch of its thread count at a time, so a minute's thousands
    /// took tens of seconds one by one (issue 11's goal: all handed on within 5 s of due). Their triggers
    /// fire later as usual and find nothing to do (one statement each). They are not unscheduled here: a
    /// job removing triggers under Quartz's TRIGGER_ACCESS lock deadlocks in PostgreSQL with Quartz's own
    /// acquisition, which holds trigger rows while it waits for that lock.
    /// </summary>
    private async Task HandOverDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _handingOver, 1, 0) != 0)
        {
            return; // another thread of this node is handing them on
        }

        try
        {
            // Bounded: 200 batches (100 000 callbacks) per firing; what is left is fired by its own trigger.
            for (var round = 0; round < 200; round++)
            {
                var waiting = await _store.OverdueAsync(now, HandOverBatch, cancellationToken).ConfigureAwait(false);
                var placeable = waiting.Where(c => !_policy.HasHours || CallbackPlanner.IsPlacingTime(_policy, now, c.Queue)).Select(c => c.Id).ToList();
                if (placeable.Count == 0)
                {
                    return;
                }

                var moved = await _store.MoveManyAsync(placeable, [CallbackState.Scheduled, CallbackState.Retry], CallbackState.Due,
                    new CallbackChange(now, "due", Actor) { PlacedBy = InstanceId }, cancellationToken).ConfigureAwait(false);
                foreach (var c in moved.OrderBy(c => c.DueAt))
                {
                    Notify(c, "due");
                    await OfferAsync(c, cancellationToken).ConfigureAwait(false);
                }

                if (waiting.Count < HandOverBatch)
                {
                    return;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _handingOver, 0);
        }
    }

    /// <inheritdoc />
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        await SweepAbandonedCallersAsync(now, cancellationToken).ConfigureAwait(false);
        await SweepExpiredAsync(now, cancellationToken).ConfigureAwait(false);
        await SweepClosedHoursAsync(now, cancellationToken).ConfigureAwait(false);

        // A trigger lost between the record's commit and Quartz's (crash), or deleted by hand: the record wins.
        foreach (var c in await _store.OverdueAsync(now - TimeSpan.FromSeconds(5), 1000, cancellationToken).ConfigureAwait(false))
        {
            if (_scheduler is { } s && await s.NextFireAsync(c.Id, cancellationToken).ConfigureAwait(false) is not null)
            {
                continue; // Quartz still holds it (misfire handling will fire it).
            }

            LogSweptDue(_logger, c.Id, c.DueAt);
            await FireDueAsync(c.Id, cancellationToken).ConfigureAwait(false);
        }

        foreach (var c in await _store.ToEscalateAsync(now, _policy.EscalateAfter, 1000, cancellationToken).ConfigureAwait(false))
        {
            var escalated = await _store.MoveAsync(c.Id, [c.State], c.State,
                new CallbackChange(now, c.Deadline is { } d && d <= now ? $"past its deadline {d:O}" : (_policy.EscalateAfter >= TimeSpan.FromMinutes(1) ? $"open {_policy.EscalateAfter.TotalMinutes:0} min after due" : $"open {_policy.EscalateAfter.TotalSeconds:0} s after due"), Actor) { Kind = "escalated" },
                cancellationToken).ConfigureAwait(false);
            if (escalated is not null)
            {
                foreach (var o in _observers)
                {
                    o.Escalated(escalated);
                }
            }
        }

        foreach (var c in await _store.ListAsync(new CallbackFilter { States = [CallbackState.Scheduled], DueBefore = now + _policy.ReminderBefore, Limit = 1000 }, cancellationToken).ConfigureAwait(false))
        {
            if (_policy.ReminderBefore <= TimeSpan.Zero || c.Source != CallbackSource.Scheduled || c.RemindedAt is not null || c.DueAt <= now)
            {
                continue;
            }

            var reminded = await _store.MoveAsync(c.Id, [CallbackState.Scheduled], CallbackState.Scheduled,
                new CallbackChange(now, $"due at {c.DueAt:O}", Actor) { Kind = "reminded" }, cancellationToken).ConfigureAwait(false);
            if (reminded is not null)
            {
                foreach (var o in _observers)
                {
                    o.Reminder(reminded);
                }
            }
        }

        foreach (var c in await _store.ListAsync(new CallbackFilter { States = [CallbackState.Due], DueBefore = now - _policy.OwnerGrace, Limit = 1000 }, cancellationToken).ConfigureAwait(false))
        {
            if (c.OwnerAgentId is null)
            {
                continue;
            }

            // The record only: the ACD holds a queued task for its owner until the same time and then
            // offers it to the queue itself (CallbackQueued.OwnerUntil), so the task keeps its place.
            _ = await _store.MoveAsync(c.Id, [CallbackState.Due], CallbackState.Due,
                new CallbackChange(now, $"owner {c.OwnerAgentId} did not take it within {_policy.OwnerGrace.TotalMinutes:0} min; any agent of {c.Queue} may", Actor) { Kind = "owner_released", ReleaseOwner = true },
                cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The abandoned caller's request is stored (or none was owed): their write-ahead row in <c>live_calls</c> goes. Says whether there was one.</summary>
    public Task<bool> ForgetAbandonedCallAsync(string callId, CancellationToken cancellationToken = default) => _store.ForgetAbandonedCallAsync(callId, cancellationToken);

    // ------------------------------------------------------------------ sweep parts (issue 11 leftovers)

    /// <summary>Moves a waiting or queued callback to the next opening of its hours (withdrawn from the ACD if queued).</summary>
    private async Task WaitForOpeningAsync(Callback c, DateTimeOffset now, string why, CancellationToken cancellationToken)
    {
        var opening = CallbackPlanner.InHours(_policy, now, c.Queue);
        var moved = await MoveAsync(c.Id, [c.State], CallbackState.Scheduled,
            new CallbackChange(now, $"{why}; waits for the next opening at {opening:O}", Actor) { DueAt = opening, Kind = "rescheduled" }, cancellationToken).ConfigureAwait(false);
        if (moved is null)
        {
            return;
        }

        if (c.State == CallbackState.Due)
        {
            await WithdrawAsync(moved, "callback hours closed", cancellationToken).ConfigureAwait(false);
        }

        await ScheduleAsync(moved, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Queued callbacks outside their hours go back to waiting for the next opening.</summary>
    private async Task SweepClosedHoursAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!_policy.HasHours)
        {
            return;
        }

        foreach (var c in await _store.ListAsync(new CallbackFilter { States = [CallbackState.Due], Limit = 1000 }, cancellationToken).ConfigureAwait(false))
        {
            if (!CallbackPlanner.IsPlacingTime(_policy, now, c.Queue))
            {
                await WaitForOpeningAsync(c, now, "the callback hours closed before an agent took it", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Open callbacks whose promise is out of reach (<see cref="CallbackPolicy.ExpireAfter"/>) are closed as expired.</summary>
    private async Task SweepExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var c in await _store.ToExpireAsync(now, _policy.ExpireAfter, 1000, cancellationToken).ConfigureAwait(false))
        {
            var limit = c.Deadline is { } d && d > c.DueAt ? $"its deadline {d:O}" : $"its due time {c.DueAt:O}";
            var reason = $"not kept {_policy.ExpireAfter.TotalHours:0.##} h after {limit}; the promise is out of reach";
            var expired = await MoveAsync(c.Id, [c.State], CallbackState.Expired, new CallbackChange(now, reason, Actor), cancellationToken).ConfigureAwait(false);
            if (expired is not null)
            {
                LogExpired(_logger, c.Id, c.Number, c.Queue, reason);
                await AfterClosedAsync(c, expired, "expired", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        if (_scheduler is not { } s || _watch is not { } watch)
        {
            return;
        }

        try
        {
            await ScheduleEarlyRequestsAsync(s, cancellationToken).ConfigureAwait(false);
            if (_lettingGo)
            {
                return; // call control stopped here: it holds nothing, so it must not look alive (LetGoOfHeldAsync)
            }

            var counts = await _store.BeatAsync(s.SchedulerName, s.InstanceId, cancellationToken).ConfigureAwait(false);
            if (_lettingGo)
            {
                // Let go while this beat was written: its row is back, so it goes again.
                _ = await _store.LeaveAsync(s.SchedulerName, s.InstanceId, null, cancellationToken).ConfigureAwait(false);
                return;
            }

            var dead = watch.Observe(counts, s.InstanceId);
            foreach (var d in dead)
            {
                LogInstanceDead(_logger, d.InstanceId, watch.DeadAfter.TotalSeconds);
            }

            await ReofferOrphansAsync(s, dead.Select(d => d.InstanceId).ToList(), cancellationToken).ConfigureAwait(false);
            await WithdrawChangedElsewhereAsync(s, cancellationToken).ConfigureAwait(false);
            foreach (var d in dead)
            {
                // Its row goes once it holds nothing (and only if it did not beat again meanwhile).
                _ = await _store.LeaveAsync(s.SchedulerName, d.InstanceId, d.Beats, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The database may be away for a while: the next beat tries again; the others judge us by our count.
            LogHeartbeatFailed(_logger, ex);
        }
    }

    /// <summary>
    /// Call control stopped here because its lease was lost, while this scheduler runs on (the process is stopping, or
    /// a host keeps it): it holds no callback any more. It stops beating and leaves the instances table, so the others
    /// offer what it held (due, or dialing: the attempt counts, its call was cut) again at their next heartbeat, as
    /// for a stopped instance (<see cref="ReofferOrphansAsync"/>); what fires here from now on is handed off
    /// (<see cref="OfferAsync"/>), and nothing stays queued here.
    /// </summary>
    public async Task LetGoOfHeldAsync(CancellationToken cancellationToken)
    {
        _lettingGo = true;
        _queuedHere.Clear();
        if (_scheduler is { } s)
        {
            _ = await _store.LeaveAsync(s.SchedulerName, s.InstanceId, null, cancellationToken).ConfigureAwait(false);
            LogLetGo(_logger, s.InstanceId);
        }
    }

    /// <inheritdoc />
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (_scheduler is { } s)
        {
            _ = await _store.LeaveAsync(s.SchedulerName, s.InstanceId, null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Callbacks held (due or dialing) by an instance that is gone (dead by its heartbeat count, or
    /// stopped: no heartbeat row) are offered again here: a due one as it was; a dialing one counts the
    /// attempt (its outcome died with the instance) and is offered again, or fails when no attempt is left.
    /// </summary>
    private async Task ReofferOrphansAsync(CallbackScheduler s, IReadOnlyCollection<string> dead, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        foreach (var c in await _store.OrphanedAsync(s.InstanceId, s.SchedulerName, dead, 1000, cancellationToken).ConfigureAwait(false))
        {
            if (c.State == CallbackState.Dialing && c.Attempts + 1 >= c.MaxAttempts)
            {
                _ = await MoveAsync(c.Id, [CallbackState.Dialing], CallbackState.Failed,
                    new CallbackChange(now, $"instance {c.PlacedBy} stopped while dialling; all {c.MaxAttempts} attempts used", Actor) { AddAttempts = 1, OnlyIfPlacedBy = c.PlacedBy },
                    cancellationToken).ConfigureAwait(false);
                continue;
            }

            var why = c.State == CallbackState.Dialing
                ? $"instance {c.PlacedBy} stopped while dialling (the attempt counts); offered again by {s.InstanceId}"
                : $"instance {c.PlacedBy} stopped while it held the callback; offered again by {s.InstanceId}";
            var moved = await MoveAsync(c.Id, [c.State], CallbackState.Due,
                new CallbackChange(now, why, Actor) { Kind = "reoffered", PlacedBy = s.InstanceId, OnlyIfPlacedBy = c.PlacedBy, AddAttempts = c.State == CallbackState.Dialing ? 1 : 0 },
                cancellationToken).ConfigureAwait(false);
            if (moved is not null)
            {
                LogReoffered(_logger, c.Id, c.PlacedBy ?? "?", CallbackStates.Name(c.State));
                await OfferAsync(moved, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Abandoned callers whose request was not stored within 30 s (the process died between the hang-up
    /// and the write, or the write failed): requested now, once (none if one came from that call), and
    /// their write-ahead row goes.
    /// </summary>
    private async Task SweepAbandonedCallersAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var a in await _store.AbandonsPendingAsync(now - TimeSpan.FromSeconds(30), 1000, cancellationToken).ConfigureAwait(false))
        {
            if (!a.Requested && a.Number is { Length: > 0 } number)
            {
                var request = CallbackRequest.AbandonedCall(number, a.Queue, a.CallId, a.AbandonedAt - a.EnqueuedAt) with
                {
                    CustomerName = a.Name, Deadline = a.AbandonedAt + _policy.AbandonedCallbackWithin, RequestedBy = "sweep",
                };
                try
                {
                    var ticket = await RequestAsync(request, cancellationToken).ConfigureAwait(false);
                    LogAbandonRecovered(_logger, a.CallId, ticket?.Callback.Id);
                }
                catch (ArgumentException ex)
                {
                    // e.g. the queue is no longer configured: said once, and the row goes (it would fail for ever).
                    LogAbandonUnrequestable(_logger, a.CallId, ex.Message);
                }
            }
            else if (!a.Requested)
            {
                LogAbandonNotOwed(_logger, a.CallId, a.Queue, "the caller's number is withheld or empty");
            }

            await _store.ForgetAbandonedCallAsync(a.CallId, cancellationToken).ConfigureAwait(false);
        }
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>
    /// Hands a due callback to this node's ACD and remembers it until it is reserved or withdrawn; or, when servers
    /// are split between instances and its server is controlled by another instance now, hands it off to that
    /// instance through the database (<see cref="ClaimHandedOffAsync"/>): a Quartz trigger fires on any node, but
    /// only the instance that controls the server may place the call.
    /// </summary>
    private async Task OfferAsync(Callback c, CancellationToken cancellationToken)
    {
        if (InstanceId is { } me && await _placement.ServerElsewhereAsync(c, cancellationToken).ConfigureAwait(false) is { } server)
        {
            var reason = $"its server {server} is not controlled here now (another instance's part, or call control does not run here): handed off by {me}";
            if (await _store.HandOffAsync(c.Id, me, server, _clock.GetUtcNow(), reason, Actor, cancellationToken).ConfigureAwait(false) is { } handed)
            {
                LogHandedOff(_logger, c.Id, server);
                Notify(handed, reason);
            }

            return; // handed off, or moved meanwhile (not ours to place either way)
        }

        _queuedHere[c.Id] = c;
        await _placement.OfferAsync(c, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Claims the due callbacks handed off to <paramref name="servers"/> (the servers this instance controls now; see
    /// <see cref="OfferAsync"/>) and queues them in this instance's ACD. Called by call control while it runs;
    /// returns how many were claimed. Each is claimed by one instance only (the claim is one row update).
    /// </summary>
    public async Task<int> ClaimHandedOffAsync(IReadOnlyCollection<string> servers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(servers);
        if (InstanceId is not { } me || servers.Count == 0)
        {
            return 0; // the Quartz node is not attached yet: it claims once it has an id to hold them by
        }

        var claimed = 0;
        for (var round = 0; round < 20; round++)
        {
            var batch = await _store.ClaimHandedOffAsync(me, servers, _clock.GetUtcNow(), Actor, HandOverBatch, cancellationToken).ConfigureAwait(false);
            foreach (var c in batch)
            {
                Notify(c, "claimed by " + me);
                await OfferAsync(c, cancellationToken).ConfigureAwait(false);
            }

            claimed += batch.Count;
            if (batch.Count < HandOverBatch)
            {
                break;
            }
        }

        return claimed;
    }

    private Task WithdrawAsync(Callback c, string reason, CancellationToken cancellationToken)
    {
        _queuedHere.TryRemove(c.Id, out _);
        return _placement.WithdrawAsync(c, reason, cancellationToken);
    }

    /// <summary>
    /// Callbacks queued here that another instance (or the CLI, which writes only the record) cancelled,
    /// rescheduled, resolved, expired or took over leave this node's ACD now, within a heartbeat, rather
    /// than when an agent is reserved for them and the reserve is refused.
    /// </summary>
    private async Task WithdrawChangedElsewhereAsync(CallbackScheduler s, CancellationToken cancellationToken)
    {
        if (_queuedHere.IsEmpty)
        {
            return;
        }

        foreach (var c in await _store.NoLongerHeldAsync(s.InstanceId, [.. _queuedHere.Keys], cancellationToken).ConfigureAwait(false))
        {
            var reason = c.State switch
            {
                CallbackState.Cancelled => "cancelled",
                CallbackState.ResolvedByInbound => "resolved by inbound",
                CallbackState.Expired => "expired",
                CallbackState.Scheduled or CallbackState.Retry => "rescheduled",
                CallbackState.Due or CallbackState.Dialing => $"held by instance {c.PlacedBy} now",
                _ => CallbackStates.Name(c.State),
            };
            if (!_queuedHere.TryRemove(c.Id, out _))
            {
                continue; // withdrawn or reserved here meanwhile
            }

            LogWithdrawnChangedElsewhere(_logger, c.Id, reason);
            await _placement.WithdrawAsync(c, reason + " (changed elsewhere)", cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<Callback?> MoveAsync(Guid id, IReadOnlyCollection<CallbackState> from, CallbackState to, CallbackChange change, CancellationToken cancellationToken)
    {
        var moved = await _store.MoveAsync(id, from, to, change, cancellationToken).ConfigureAwait(false);
        if (moved is not null)
        {
            Notify(moved, change.Reason);
        }

        return moved;
    }

    private async Task AfterClosedAsync(Callback before, Callback after, string reason, CancellationToken cancellationToken)
    {
        if (_scheduler is { } s)
        {
            await s.UnscheduleAsync(after.Id, cancellationToken).ConfigureAwait(false);
        }

        if (before.State is CallbackState.Due or CallbackState.Dialing)
        {
            await WithdrawAsync(after, reason, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ScheduleAsync(Callback c, CancellationToken cancellationToken)
    {
        if (_scheduler is { } s)
        {
            await s.ScheduleDueAsync(c.Id, c.DueAt, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Requested before the Quartz node was attached (e.g. by restart recovery while Quartz starts):
            // its trigger is written at the node's next heartbeat, not only by the sweep 35 s later.
            _unscheduled.Enqueue(c);
        }
    }

    /// <summary>Writes the triggers of callbacks requested before the scheduler was attached.</summary>
    private async Task ScheduleEarlyRequestsAsync(CallbackScheduler s, CancellationToken cancellationToken)
    {
        while (_unscheduled.TryDequeue(out var c))
        {
            await s.ScheduleDueAsync(c.Id, c.DueAt, cancellationToken).ConfigureAwait(false);
        }
    }

    private void Notify(Callback c, string reason)
    {
        foreach (var o in _observers)
        {
            o.Changed(c, reason);
        }
    }

    private void Validate(CallbackRequest r)
    {
        if (string.IsNullOrWhiteSpace(r.Number))
        {
            throw new ArgumentException("A callback needs the number to call (Number is empty).", nameof(r));
        }

        if (r.Number.Length > 32 || !r.Number.All(ch => char.IsAsciiDigit(ch) || ch is '+' or '*' or '#' or '-' or ' '))
        {
            throw new ArgumentException($"Number '{r.Number}' is not a dialable number (digits, +, *, #, at most 32 characters).", nameof(r));
        }

        if (string.IsNullOrWhiteSpace(r.Queue))
        {
            throw new ArgumentException("A callback needs the queue whose agents serve it (Queue is empty).", nameof(r));
        }

        if (_queueExists is { } exists && !exists(r.Queue))
        {
            throw new ArgumentException($"Queue '{r.Queue}' is not configured, so no agent could serve callback to {r.Number}.", nameof(r));
        }

        if (r.Source is CallbackSource.Scheduled or CallbackSource.Dialer && r.DueAt is null)
        {
            throw new ArgumentException($"A {CallbackStates.SourceName(r.Source)} callback needs DueAt (the time promised to the customer).", nameof(r));
        }

        if (r.DueAt is { } due && due > _clock.GetUtcNow().AddYears(1))
        {
            throw new ArgumentException($"DueAt {due:O} is more than a year ahead.", nameof(r));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call control stopped on instance {InstanceId} (lease lost): it let go of its callbacks, which the instance controlling the servers now offers again")]
    private static partial void LogLetGo(ILogger logger, string instanceId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback {CallbackId} is placed from server {Server}, which another instance controls: handed off to it")]
    private static partial void LogHandedOff(ILogger logger, Guid callbackId, string server);

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback {CallbackId} requested ({Source}, queue {Queue}, due {DueAt}, merged {Merged})")]
    private static partial void LogRequested(ILogger logger, Guid callbackId, string source, string queue, DateTimeOffset dueAt, bool merged);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback {CallbackId} to {Number} (queue {Queue}) expired: {Reason}")]
    private static partial void LogExpired(ILogger logger, Guid callbackId, string number, string queue, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Instance {Instance} stopped counting heartbeats for more than {Seconds} s: it is dead, the callbacks it held are offered again")]
    private static partial void LogInstanceDead(ILogger logger, string instance, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback {CallbackId} leaves this instance's ACD: {Reason} (changed elsewhere)")]
    private static partial void LogWithdrawnChangedElsewhere(ILogger logger, Guid callbackId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback heartbeat failed (tried again at the next beat)")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback {CallbackId} was {State} on instance {Instance}, which is gone; offered again here")]
    private static partial void LogReoffered(ILogger logger, Guid callbackId, string instance, string state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Abandoned call {CallId} in queue {Queue}: no callback owed: {Reason}")]
    private static partial void LogAbandonNotOwed(ILogger logger, string callId, string queue, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Abandoned call {CallId}: its callback request had not been stored; requested now by the sweep (callback {CallbackId})")]
    private static partial void LogAbandonRecovered(ILogger logger, string callId, Guid? callbackId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Abandoned call {CallId}: no callback can be requested: {Reason}")]
    private static partial void LogAbandonUnrequestable(ILogger logger, string callId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback {CallbackId} is stored but its Quartz trigger could not be written ({Reason}); the sweep hands it on by the record once it is due")]
    private static partial void LogTriggerNotWritten(ILogger logger, Guid callbackId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback {CallbackId} was due at {DueAt} and had no trigger; the sweep hands it on now")]
    private static partial void LogSweptDue(ILogger logger, Guid callbackId, DateTimeOffset dueAt);
}
