namespace CtiBridge.Core.Callbacks;

/// <summary>Where a callback came from (docs/callbacks.md §1).</summary>
public enum CallbackSource
{
    /// <summary>A waiting caller pressed the callback key: they keep a virtual place in line.</summary>
    Queue,

    /// <summary>A caller hung up in the queue after waiting longer than the configured minimum.</summary>
    Abandoned,

    /// <summary>A caller left a voicemail in a queue or the IVR.</summary>
    Voicemail,

    /// <summary>An agent or the API booked a call back for a date and time (预约回访).</summary>
    Scheduled,

    /// <summary>The dialer's "call back later" outcome of a campaign call.</summary>
    Dialer,
}

/// <summary>
/// The state of a callback. Open states: <see cref="Scheduled"/>, <see cref="Due"/>, <see cref="Dialing"/>,
/// <see cref="Retry"/>. Closed: <see cref="Connected"/>, <see cref="Failed"/>, <see cref="Cancelled"/>,
/// <see cref="ResolvedByInbound"/>, <see cref="Expired"/>. Every transition is stored with its time and reason.
/// </summary>
public enum CallbackState
{
    /// <summary>Waiting for its due time.</summary>
    Scheduled,

    /// <summary>Its time has come: handed to the ACD as a priority outbound task, waiting for an agent.</summary>
    Due,

    /// <summary>An agent is reserved and the customer is being called.</summary>
    Dialing,

    /// <summary>The last attempt failed (no answer, busy); the next attempt is scheduled.</summary>
    Retry,

    /// <summary>The customer and an agent talked: the promise is kept (closed).</summary>
    Connected,

    /// <summary>Every attempt failed (closed).</summary>
    Failed,

    /// <summary>Cancelled by an agent, a supervisor or the API (closed).</summary>
    Cancelled,

    /// <summary>The customer called in again and was served first (closed).</summary>
    ResolvedByInbound,

    /// <summary>
    /// Never kept and now out of reach: still open <c>callbacks.expireAfter</c> past the later of its
    /// deadline and due time (closed by the sweep; counted as lost in the report).
    /// </summary>
    Expired,
}

/// <summary>Who is called first when a callback is placed.</summary>
public enum CallbackMode
{
    /// <summary>Reserve and ring an agent first, then call the customer (default: the customer never waits).</summary>
    AgentFirst,

    /// <summary>Call the customer first, then connect the reserved agent when the customer answers.</summary>
    CustomerFirst,
}

/// <summary>Names of the states as stored in the database (<c>callbacks.state</c>).</summary>
public static class CallbackStates
{
    /// <summary>The open states: a callback in one of these is still owed to the customer.</summary>
    public static IReadOnlyList<CallbackState> Open { get; } = [CallbackState.Scheduled, CallbackState.Due, CallbackState.Dialing, CallbackState.Retry];

    /// <summary>True for a state in which the callback is still owed.</summary>
    public static bool IsOpen(CallbackState state) => state is CallbackState.Scheduled or CallbackState.Due or CallbackState.Dialing or CallbackState.Retry;

    /// <summary>The stored name of a state (<c>resolved_by_inbound</c>, ...).</summary>
    public static string Name(CallbackState state) => state switch
    {
        CallbackState.ResolvedByInbound => "resolved_by_inbound",
        _ => state.ToString().ToLowerInvariant(),
    };

    /// <summary>Parses a stored state name.</summary>
    /// <exception cref="FormatException">Not a state name; the message lists the known ones.</exception>
    public static CallbackState Parse(string name) =>
        Enum.GetValues<CallbackState>().FirstOrDefault(s => Name(s) == name) is var state && Name(state) == name
            ? state
            : throw new FormatException($"'{name}' is not a callback state (known: {string.Join(", ", Enum.GetValues<CallbackState>().Select(Name))}).");

    /// <summary>The stored name of a source (<c>queue</c>, <c>abandoned</c>, ...).</summary>
    public static string SourceName(CallbackSource source) => source.ToString().ToLowerInvariant();

    /// <summary>Parses a stored source name.</summary>
    /// <exception cref="FormatException">Not a source name.</exception>
    public static CallbackSource ParseSource(string name) =>
        Enum.GetValues<CallbackSource>().FirstOrDefault(s => SourceName(s) == name) is var source && SourceName(source) == name
            ? source
            : throw new FormatException($"'{name}' is not a callback source (known: {string.Join(", ", Enum.GetValues<CallbackSource>().Select(SourceName))}).");

    /// <summary>The stored name of a mode (<c>agent_first</c>, <c>customer_first</c>).</summary>
    public static string ModeName(CallbackMode mode) => mode == CallbackMode.AgentFirst ? "agent_first" : "customer_first";

    /// <summary>Parses a stored mode name.</summary>
    /// <exception cref="FormatException">Not a mode name.</exception>
    public static CallbackMode ParseMode(string name) => name switch
    {
        "agent_first" => CallbackMode.AgentFirst,
        "customer_first" => CallbackMode.CustomerFirst,
        _ => throw new FormatException($"'{name}' is not a callback mode (known: agent_first, customer_first)."),
    };
}

/// <summary>
/// A request for a callback, from any source. Build it with the factory for the source
/// (<see cref="QueueCallback"/>, <see cref="AbandonedCall"/>, <see cref="VoicemailLeft"/>,
/// <see cref="AgentScheduled"/>, <see cref="DialerCallBackLater"/>) and hand it to
/// <see cref="ICallbackRequests.RequestAsync"/>.
/// </summary>
public sealed record CallbackRequest
{
    /// <summary>The number to call (the caller's ANI, or the number the customer gave).</summary>
    public required string Number { get; init; }

    /// <summary>Where the request came from.</summary>
    public required CallbackSource Source { get; init; }

    /// <summary>The queue whose agents serve the callback (also the fallback of an agent-owned callback).</summary>
    public required string Queue { get; init; }

    /// <summary>Why: the disposition or the customer's matter, shown to the agent (e.g. "inaudible line", "reach the subscriber").</summary>
    public string? Reason { get; init; }

    /// <summary>When the customer should be called; null for as soon as possible (queue, abandoned, voicemail).</summary>
    public DateTimeOffset? DueAt { get; init; }

    /// <summary>The latest time the call still keeps the promise (e.g. abandoned: hang-up + 10 minutes); null for none. Past it the callback escalates.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>The agent who owns it (agent-scheduled "I will call you back"); null for any agent of the queue.</summary>
    public string? OwnerAgentId { get; init; }

    /// <summary>
    /// Agent-first or customer-first; null (the default) for the queue's own setting
    /// (<c>callControl.queues[].callbackMode</c>), agent-first when the queue has none.
    /// </summary>
    public CallbackMode? Mode { get; init; }

    /// <summary>Priority in the queue when placed; null for the configured callback priority.</summary>
    public int? Priority { get; init; }

    /// <summary>Queue callback: when the caller first entered the queue, so the callback keeps that place in line.</summary>
    public DateTimeOffset? PlaceInLineSince { get; init; }

    /// <summary>The call that produced the request (the abandoned, voicemail or campaign call).</summary>
    public string? OriginCallId { get; init; }

    /// <summary>Customer's name for the agent's screen, when known.</summary>
    public string? CustomerName { get; init; }

    /// <summary>Voicemail source: the recording (voicemail message) id.</summary>
    public string? VoicemailId { get; init; }

    /// <summary>Dialer source: the campaign.</summary>
    public string? CampaignId { get; init; }

    /// <summary>Dialer source: the lead.</summary>
    public string? LeadId { get; init; }

    /// <summary>Skills the agent needs (e.g. <c>cantonese</c>, REQUIREMENTS CB-04).</summary>
    public IReadOnlyList<string> RequiredSkills { get; init; } = [];

    /// <summary>Free note for the agent (the earlier contact, CB-02/CB-08).</summary>
    public string? Note { get; init; }

    /// <summary>Abandoned source: how long the caller waited (below the policy's minimum no callback is owed).</summary>
    public TimeSpan? Waited { get; init; }

    /// <summary>Who asked (<c>system</c>, <c>agent:1007</c>, <c>api:crm</c>, <c>dialer</c>), kept in the history.</summary>
    public string RequestedBy { get; init; } = "system";

    /// <summary>A waiting caller pressed the callback key and hung up: called back when their turn comes.</summary>
    /// <param name="number">Caller number.</param>
    /// <param name="queue">The queue they waited in.</param>
    /// <param name="callId">Their call.</param>
    /// <param name="enteredQueueAt">When they first entered the queue (their place in line).</param>
    /// <param name="mode">Agent-first or customer-first; null for the queue's setting.</param>
    public static CallbackRequest QueueCallback(string number, string queue, string callId, DateTimeOffset enteredQueueAt, CallbackMode? mode = null) => new()
    {
        Number = number, Source = CallbackSource.Queue, Queue = queue, OriginCallId = callId,
        PlaceInLineSince = enteredQueueAt, Mode = mode, Reason = "caller asked for a callback while waiting",
    };

    /// <summary>A caller hung up after waiting; the callback is due at once and must be made within the configured limit.</summary>
    /// <param name="number">Caller number.</param>
    /// <param name="queue">The queue abandoned.</param>
    /// <param name="callId">The abandoned call.</param>
    /// <param name="waited">How long they waited (below the configured minimum no callback is made).</param>
    public static CallbackRequest AbandonedCall(string number, string queue, string callId, TimeSpan waited) => new()
    {
        Number = number, Source = CallbackSource.Abandoned, Queue = queue, OriginCallId = callId, Waited = waited,
        Reason = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"hung up after waiting {waited.TotalSeconds:0} s"),
    };

    /// <summary>A caller left a voicemail; the callback is due at once.</summary>
    /// <param name="number">Caller number.</param>
    /// <param name="queue">The queue (or the IVR's queue) that serves the callback.</param>
    /// <param name="callId">The call that left the message.</param>
    /// <param name="voicemailId">The message (recording) id, shown to the agent.</param>
    public static CallbackRequest VoicemailLeft(string number, string queue, string callId, string voicemailId) => new()
    {
        Number = number, Source = CallbackSource.Voicemail, Queue = queue, OriginCallId = callId,
        VoicemailId = voicemailId, Reason = "voicemail left",
    };

    /// <summary>An agent promised a call back at a date and time (owned by that agent, or by the queue when <paramref name="ownerAgentId"/> is null).</summary>
    /// <param name="number">Number to call.</param>
    /// <param name="queue">The queue that serves it (fallback when the owner is not available).</param>
    /// <param name="dueAt">The promised time.</param>
    /// <param name="ownerAgentId">The owning agent, or null.</param>
    /// <param name="reason">The matter to call back about.</param>
    /// <param name="requestedBy">Who booked it (<c>agent:1007</c>, <c>api:crm</c>).</param>
    public static CallbackRequest AgentScheduled(string number, string queue, DateTimeOffset dueAt, string? ownerAgentId, string? reason, string requestedBy) => new()
    {
        Number = number, Source = CallbackSource.Scheduled, Queue = queue, DueAt = dueAt,
        OwnerAgentId = ownerAgentId, Reason = reason, RequestedBy = requestedBy,
    };

    /// <summary>The dialer's "call back later" outcome for a lead.</summary>
    /// <param name="number">Number to call.</param>
    /// <param name="queue">The campaign's queue.</param>
    /// <param name="dueAt">When (the customer's convenient time).</param>
    /// <param name="campaignId">Campaign.</param>
    /// <param name="leadId">Lead.</param>
    /// <param name="callId">The campaign call.</param>
    /// <param name="ownerAgentId">The agent who talked to the customer, when the callback should go back to them.</param>
    public static CallbackRequest DialerCallBackLater(string number, string queue, DateTimeOffset dueAt, string campaignId, string leadId, string? callId = null, string? ownerAgentId = null) => new()
    {
        Number = number, Source = CallbackSource.Dialer, Queue = queue, DueAt = dueAt, CampaignId = campaignId,
        LeadId = leadId, OriginCallId = callId, OwnerAgentId = ownerAgentId, Reason = "call back later", RequestedBy = "dialer",
    };
}

/// <summary>One stored callback (the source of truth; Quartz only holds thin triggers pointing at it).</summary>
/// <param name="Id">Callback id.</param>
/// <param name="Number">Number to call.</param>
/// <param name="Source">Source.</param>
/// <param name="State">Current state.</param>
/// <param name="Queue">Serving queue.</param>
/// <param name="OwnerAgentId">Owning agent, or null.</param>
/// <param name="Mode">Agent-first or customer-first.</param>
/// <param name="Priority">Priority when placed.</param>
/// <param name="Reason">Why.</param>
/// <param name="CreatedAt">When first requested.</param>
/// <param name="PromisedAt">The time first promised (due time of the first request, before hours adjustment).</param>
/// <param name="DueAt">Current due time (next attempt).</param>
/// <param name="Deadline">Latest time that keeps the promise, or null.</param>
/// <param name="PlaceInLineSince">Queue callback: place in line, or null.</param>
/// <param name="Attempts">Call attempts made.</param>
/// <param name="MaxAttempts">Attempts allowed before it fails.</param>
/// <param name="MergedRequests">How many requests were merged into it (1 = no duplicate).</param>
/// <param name="OriginCallId">The call that produced it.</param>
/// <param name="LastCallId">The last callback call placed.</param>
/// <param name="Version">Transitions so far (the history's last sequence number).</param>
/// <param name="ClosedAt">When it reached a closed state.</param>
/// <param name="EscalatedAt">When it was escalated as overdue, or null.</param>
public sealed record Callback(
    Guid Id, string Number, CallbackSource Source, CallbackState State, string Queue, string? OwnerAgentId,
    CallbackMode Mode, int Priority, string? Reason, DateTimeOffset CreatedAt, DateTimeOffset PromisedAt, DateTimeOffset DueAt,
    DateTimeOffset? Deadline, DateTimeOffset? PlaceInLineSince, int Attempts, int MaxAttempts, int MergedRequests,
    string? OriginCallId, string? LastCallId, int Version, DateTimeOffset? ClosedAt, DateTimeOffset? EscalatedAt)
{
    /// <summary>Customer's name, when known.</summary>
    public string? CustomerName { get; init; }

    /// <summary>Voicemail message id.</summary>
    public string? VoicemailId { get; init; }

    /// <summary>Dialer campaign.</summary>
    public string? CampaignId { get; init; }

    /// <summary>Dialer lead.</summary>
    public string? LeadId { get; init; }

    /// <summary>Note for the agent.</summary>
    public string? Note { get; init; }

    /// <summary>Skills the agent needs.</summary>
    public IReadOnlyList<string> RequiredSkills { get; init; } = [];

    /// <summary>When the owner was reminded, or null.</summary>
    public DateTimeOffset? RemindedAt { get; init; }

    /// <summary>The scheduler instance holding it in its ACD while due or dialing; null otherwise.</summary>
    public string? PlacedBy { get; init; }

    /// <summary>
    /// The Asterisk server it is placed from, once decided for a hand-off between instances that control different
    /// servers (docs/sites.md); null until then (decided when it is placed).
    /// </summary>
    public string? PlacedFrom { get; init; }
}

/// <summary>One stored transition of a callback.</summary>
/// <param name="CallbackId">Callback.</param>
/// <param name="Sequence">1, 2, 3... per callback, gap-free.</param>
/// <param name="At">When.</param>
/// <param name="From">State before (null for the creation).</param>
/// <param name="To">State after.</param>
/// <param name="Reason">Why, in operator words.</param>
/// <param name="Actor">Who: <c>system</c>, <c>agent:1007</c>, <c>api:crm</c>, the scheduler instance.</param>
/// <param name="CallId">The call involved, if any.</param>
public sealed record CallbackTransition(Guid CallbackId, int Sequence, DateTimeOffset At, CallbackState? From, CallbackState To, string Reason, string Actor, string? CallId)
{
    /// <summary>What kind of change: <c>created</c>, <c>merged</c>, <c>transition</c>, <c>rescheduled</c>, <c>reminded</c>, <c>escalated</c>, <c>owner_released</c>, <c>reoffered</c>, <c>handed_off</c>, <c>claimed</c>.</summary>
    public string Kind { get; init; } = "transition";
}

/// <summary>What became of a request: a new callback, or an open one for the same number it was merged into.</summary>
/// <param name="Callback">The callback now owed.</param>
/// <param name="Merged">True when the number already had an open callback and the request was merged into it.</param>
public sealed record CallbackTicket(Callback Callback, bool Merged);
