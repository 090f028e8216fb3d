using CtiBridge.Core.Callbacks;

namespace CtiBridge.Service.Callbacks;

/// <summary>
/// Places due callbacks: hands them to the ACD as priority outbound tasks (call control implements
/// it) and takes them back when they are cancelled or resolved before an agent took them.
/// </summary>
public interface ICallbackPlacement
{
    /// <summary>The callback is due (state <c>due</c>): queue it in the ACD for an agent. Must return quickly.</summary>
    Task OfferAsync(Callback callback, CancellationToken cancellationToken);

    /// <summary>The callback was cancelled, resolved or rescheduled while queued: take it out of the ACD.</summary>
    Task WithdrawAsync(Callback callback, string reason, CancellationToken cancellationToken);

    /// <summary>
    /// Servers split between instances (docs/sites.md): the server the callback is placed from when this instance
    /// does not control it now, so it must be handed off to the instance that does; null to place it here.
    /// </summary>
    Task<string?> ServerElsewhereAsync(Callback callback, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}

/// <summary>
/// What call control reports about each placement (implemented by <see cref="CallbackService"/>):
/// every report moves the stored record at most once, so a late or repeated report changes nothing.
/// </summary>
public interface ICallbackOutcomes
{
    /// <summary>An agent is reserved and the customer is being called: due → dialing.</summary>
    Task<Callback?> AgentReservedAsync(Guid id, string agentId, string callId, CancellationToken cancellationToken = default);

    /// <summary>The customer and the agent talk: dialing → connected (the promise is kept).</summary>
    Task<Callback?> ConnectedAsync(Guid id, string callId, CancellationToken cancellationToken = default);

    /// <summary>The attempt ended without a conversation: retry with backoff, failed, or back to the ACD after an agent's miss.</summary>
    Task<Callback?> AttemptEndedAsync(Guid id, string callId, CallbackAttemptOutcome outcome, CancellationToken cancellationToken = default);
}

/// <summary>Happenings others watch (the owner's reminder, supervisors' escalation, the wallboard).</summary>
public interface ICallbackObserver
{
    /// <summary>A callback changed state (every transition).</summary>
    void Changed(Callback callback, string reason);

    /// <summary>A scheduled callback is due soon: remind its owner (or the queue).</summary>
    void Reminder(Callback callback);

    /// <summary>An open callback is overdue (past its deadline or due + escalation allowance): tell the supervisors.</summary>
    void Escalated(Callback callback);
}

/// <summary>Used when call control is off: a due callback waits in state <c>due</c> (visible in the lists, escalated when overdue).</summary>
internal sealed partial class WithoutCallControlPlacement(ILogger<WithoutCallControlPlacement> logger) : ICallbackPlacement
{
    public Task OfferAsync(Callback callback, CancellationToken cancellationToken)
    {
        LogNoCallControl(logger, callback.Id, callback.Number, callback.Queue);
        return Task.CompletedTask;
    }

    public Task WithdrawAsync(Callback callback, string reason, CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Callback {CallbackId} to {Number} (queue {Queue}) is due but call control is off: it waits in state due")]
    private static partial void LogNoCallControl(ILogger logger, Guid callbackId, string number, string queue);
}

/// <summary>Logs reminders and escalations (structured, for the log pipeline and alerting).</summary>
internal sealed partial class LoggingCallbackObserver(ILogger<LoggingCallbackObserver> logger) : ICallbackObserver
{
    public void Changed(Callback callback, string reason) => LogChanged(logger, callback.Id, callback.State, reason);

    public void Reminder(Callback callback) => LogReminder(logger, callback.Id, callback.Number, callback.OwnerAgentId ?? callback.Queue, callback.DueAt);

    public void Escalated(Callback callback) => LogEscalated(logger, callback.Id, callback.Number, callback.Queue, callback.DueAt, callback.Deadline);

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback {CallbackId} is now {State}: {Reason}")]
    private static partial void LogChanged(ILogger logger, Guid callbackId, CallbackState state, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reminder: callback {CallbackId} to {Number} for {Owner} is due at {DueAt}")]
    private static partial void LogReminder(ILogger logger, Guid callbackId, string number, string owner, DateTimeOffset dueAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Escalation: callback {CallbackId} to {Number} (queue {Queue}, due {DueAt}, deadline {Deadline}) is overdue")]
    private static partial void LogEscalated(ILogger logger, Guid callbackId, string number, string queue, DateTimeOffset dueAt, DateTimeOffset? deadline);
}
