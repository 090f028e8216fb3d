using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Dialer;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>What became of a disposition.</summary>
/// <param name="Attempt">The call's attempt.</param>
/// <param name="Callback">The callback booked for "call back later" when the callback scheduler runs here; null otherwise.</param>
/// <param name="LeadReopenedAt">When the campaign dials the lead again itself (call back later without the scheduler).</param>
public sealed record DispositionResult(StoredAttempt Attempt, CallbackTicket? Callback, DateTimeOffset? LeadReopenedAt);

/// <summary>
/// An agent's disposition of a campaign call (sale, not interested, call back later...). "Call back
/// later" (a time given) becomes a callback of the callback scheduler (<see cref="ICallbackRequests"/>,
/// source Dialer, owned by the agent, in the campaign's agent group) when it is registered; the lead
/// then stays closed so the campaign does not dial it as well. Without the scheduler the lead is
/// reopened and the campaign dials it again from that time.
/// </summary>
public sealed class CampaignCallDispositions(NpgsqlDataSource dataSource, TimeProvider timeProvider, ICallbackRequests? callbacks = null)
{
    /// <summary>Records the disposition; null when no campaign call has that id.</summary>
    /// <exception cref="ArgumentException">The callback scheduler refused the request (the message says why).</exception>
    public async Task<DispositionResult?> SetAsync(string callId, string disposition, DateTimeOffset? callbackAt, string requestedBy, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(disposition);
        var log = new AttemptLog(dataSource, "api", timeProvider);
        if (await log.GetAsync(callId, cancellationToken).ConfigureAwait(false) is not { } attempt)
        {
            return null;
        }

        if (callbackAt is { } at && callbacks is not null)
        {
            var campaign = await new CampaignStore(dataSource, timeProvider).GetAsync(attempt.CampaignId, cancellationToken).ConfigureAwait(false);
            var ticket = await callbacks.RequestAsync(new CallbackRequest
            {
                Number = attempt.PhoneNumber,
                Source = CallbackSource.Dialer,
                Queue = campaign?.Definition.AgentGroup ?? attempt.CampaignId,
                Reason = disposition,
                DueAt = at,
                OwnerAgentId = attempt.AgentId,
                OriginCallId = callId,
                CampaignId = attempt.CampaignId,
                LeadId = attempt.LeadId,
                RequestedBy = requestedBy,
            }, cancellationToken).ConfigureAwait(false);
            await log.SetDispositionAsync(callId, disposition, null, attempt.AgentId, cancellationToken).ConfigureAwait(false);
            return new DispositionResult(attempt, ticket, null);
        }

        await log.SetDispositionAsync(callId, disposition, callbackAt, attempt.AgentId, cancellationToken).ConfigureAwait(false);
        return new DispositionResult(attempt, null, callbackAt);
    }
}
