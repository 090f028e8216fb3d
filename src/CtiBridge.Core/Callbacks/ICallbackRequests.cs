namespace CtiBridge.Core.Callbacks;

/// <summary>
/// Where call control, the IVR, the dialer, the HTTP API and agents ask for callbacks
/// (docs/callbacks.md §2). Implemented by the service (<c>CallbackService</c>): the request is stored
/// in PostgreSQL (the source of truth) before the call returns, then scheduled on Quartz.
/// </summary>
public interface ICallbackRequests
{
    /// <summary>
    /// Stores a callback request. A number that already has an open callback gets no second one: the
    /// request is merged into it (the earlier due time and deadline win) and the ticket says so.
    /// Returns null only for an abandoned call that does not earn a callback (waited less than the
    /// configured minimum, or no caller number).
    /// </summary>
    /// <exception cref="ArgumentException">The request is incomplete or invalid (empty number, unknown queue...); the message says which field.</exception>
    Task<CallbackTicket?> RequestAsync(CallbackRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// The customer called in and was served by an agent: every open callback of
    /// <paramref name="number"/> is closed as resolved by inbound. Returns how many were closed.
    /// </summary>
    Task<int> ResolveByInboundAsync(string number, string callId, CancellationToken cancellationToken = default);
}
