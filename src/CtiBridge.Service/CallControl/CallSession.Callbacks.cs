using CtiBridge.Core.Callbacks;

namespace CtiBridge.Service.CallControl;

/// <summary>A session that places a callback (an outbound task of the ACD) carries this.</summary>
internal sealed partial class CallSession
{
    /// <summary>The callback this session places; null for every other call.</summary>
    public PlacedCallback? Placed { get; set; }

    /// <summary>
    /// The priority the ACD gave the call in its queue (from its <c>CallEnqueued</c>): a queue callback keeps it,
    /// so with its place-in-line time it is served exactly where the caller would have been.
    /// </summary>
    public int? QueuePriority { get; set; }
}

/// <summary>One attempt at a callback: who was reserved, when the customer was dialled and answered, how it ended.</summary>
internal sealed class PlacedCallback(Callback callback, string customerLegId)
{
    public Callback Callback { get; } = callback;

    public CallbackMode Mode => Callback.Mode;

    /// <summary>The channel id the customer's leg gets (the session's caller channel).</summary>
    public string CustomerLegId { get; } = customerLegId;

    /// <summary>The agent reserved for it (rung, or the one whose customer is being called).</summary>
    public string? AgentId { get; set; }

    /// <summary>The reservation was reported to the callback service (due → dialing).</summary>
    public bool Reserved { get; set; }

    /// <summary>
    /// The reservation is being stored and the customer is dialled once it is (write-ahead: no dial the
    /// database does not know of, so a crash in between is counted, and a stalled instance never dials a
    /// callback offered again elsewhere).
    /// </summary>
    public bool DialPending { get; set; }

    public DateTimeOffset? DialStartedAt { get; set; }

    public DateTimeOffset? CustomerAnsweredAt { get; set; }

    /// <summary>Customer-first: the agent's phone answered after the customer (agent-first: the customer's answer).</summary>
    public DateTimeOffset? ConnectedAt { get; set; }

    public DateTimeOffset? CustomerGoneAt { get; set; }

    /// <summary>Asterisk's hang-up cause of the customer's leg (16 normal, 17 busy, 19 no answer …).</summary>
    public int? Cause { get; set; }

    /// <summary>Customer-first: the agent's channel once it is rung after the customer answered.</summary>
    public string? AgentLegId { get; set; }

    /// <summary>Customer-first: the agent's channel answered (its StasisStart was seen), so it is being brought to the customer.</summary>
    public bool AgentLegAnswered { get; set; }

    /// <summary>The callback service took it back (cancelled, resolved, rescheduled): nothing to report.</summary>
    public bool Withdrawn { get; set; }

    /// <summary>The outcome has been reported (once per attempt).</summary>
    public bool Finished { get; set; }

    /// <summary>The engine's ring ended the attempt while the customer was being dialled (customer-first): no second dial.</summary>
    public bool DialOver { get; set; }

    /// <summary>
    /// The customer's leg vanished while the ARI events were cut off (Asterisk restarted): how the call
    /// ended is unknown and not the customer's doing, so the attempt does not count (the callback is due again).
    /// </summary>
    public bool LostBySystem { get; set; }

    /// <summary>The recording of the conversation's bridge (<c>callControl.recordCalls</c>); null when not recorded.</summary>
    public string? RecordingId { get; set; }

    /// <summary>When Asterisk started <see cref="RecordingId"/>; null until it has.</summary>
    public DateTimeOffset? RecordingStartedAt { get; set; }

    /// <summary>The agent left the conversation while the customer stayed on (for the survey): the talk ends here.</summary>
    public DateTimeOffset? ConversationEndedAt { get; set; }

    /// <summary>The customer's answer to the queue's survey after the conversation, if given.</summary>
    public short? SurveyScore { get; set; }

    /// <summary>The conversation is in <c>live_callback_calls</c> (for an adopter): the attempt's end deletes the row.</summary>
    public bool LiveRowStored { get; set; }

    /// <summary>The agent's wrap-up, when it ended before the session did (the customer was still in the survey).</summary>
    public TimeSpan? WrapUp { get; set; }
}
