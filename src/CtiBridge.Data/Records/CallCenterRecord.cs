using System.Text.Json.Serialization;

namespace CtiBridge.Data.Records;

/// <summary>
/// A row for the call-record tables. Each record carries its own natural key, so writing it twice
/// (a replay after an outage or a crash) never duplicates a row. The core's domain events are mapped
/// onto these records; the writer only knows records.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$type")]
[JsonDerivedType(typeof(CallRecord), "call")]
[JsonDerivedType(typeof(CallLegRecord), "leg")]
[JsonDerivedType(typeof(QueueVisitRecord), "visit")]
[JsonDerivedType(typeof(QueueEventRecord), "qevent")]
[JsonDerivedType(typeof(AgentStateRecord), "agentstate")]
[JsonDerivedType(typeof(IvrStepRecord), "ivr")]
[JsonDerivedType(typeof(SurveyAnswerRecord), "survey")]
[JsonDerivedType(typeof(RecordingRecord), "recording")]
public abstract record CallCenterRecord
{
    /// <summary>The time that decides the record's monthly partition.</summary>
    [JsonIgnore]
    public abstract DateTimeOffset PartitionTime { get; }

    /// <summary>Throws <see cref="InvalidCallRecordException"/> naming the field when the record cannot be stored.</summary>
    public abstract void Validate();

    /// <summary>Fails with a message naming the record and the field.</summary>
    protected void Require(bool condition, string field, string problem)
    {
        if (!condition)
        {
            throw new InvalidCallRecordException($"{GetType().Name} {Describe()}: {field} {problem}");
        }
    }

    /// <summary>The record's key, for error messages.</summary>
    protected abstract string Describe();
}

/// <summary>A record the database cannot take; the message names the record and field.</summary>
public sealed class InvalidCallRecordException(string message) : Exception(message);

/// <summary>Direction of a call.</summary>
public enum CallDirection
{
    /// <summary>Customer called the centre.</summary>
    Inbound,
    /// <summary>The centre (agent or dialer) called out.</summary>
    Outbound,
    /// <summary>Extension to extension.</summary>
    Internal,
}

/// <summary>The final outcome of a call (docs/metrics.md §7).</summary>
public enum CallDisposition
{
    /// <summary>An agent answered.</summary>
    Answered,
    /// <summary>Ended at a terminal IVR node (self-service completed).</summary>
    IvrCompleted,
    /// <summary>Caller hung up while waiting in a queue.</summary>
    Abandoned,
    /// <summary>Caller hung up in the IVR before a terminal node or a queue.</summary>
    IvrAbandoned,
    /// <summary>Left the last queue by timeout, empty queue or key, unanswered.</summary>
    Overflowed,
    /// <summary>Ended by leaving a voicemail.</summary>
    Voicemail,
    /// <summary>Lost by a system fault.</summary>
    SystemLost,
    /// <summary>Outbound: nobody answered.</summary>
    NoAnswer,
    /// <summary>Outbound: busy.</summary>
    Busy,
    /// <summary>Outbound: failed (invalid number, congestion).</summary>
    Failed,
    /// <summary>Inbound: the caller is blacklisted (customer lookup); heard the blocked prompt and was released. Not in N.</summary>
    Blocked,
}

/// <summary>Who ended the call.</summary>
public enum ReleasedBy
{
    /// <summary>The customer hung up.</summary>
    Caller,
    /// <summary>The agent hung up (a QA fatal error on inbound, AGT-25).</summary>
    Agent,
    /// <summary>The system ended it.</summary>
    System,
}

/// <summary>How a queue visit ended (docs/metrics.md §3).</summary>
public enum QueueVisitOutcome
{
    /// <summary>CONNECT: an agent answered.</summary>
    Answered,
    /// <summary>ABANDON: caller hung up while waiting.</summary>
    Abandoned,
    /// <summary>EXITWITHTIMEOUT: not an abandon.</summary>
    Timeout,
    /// <summary>EXITEMPTY / JOINEMPTY / FULL: not an abandon.</summary>
    ExitEmpty,
    /// <summary>EXITWITHKEY: caller chose voicemail, callback or menu; not an abandon.</summary>
    ExitKey,
    /// <summary>Lost by a fault.</summary>
    SystemLost,
}

/// <summary>An agent's state in the state log (docs/metrics.md §6).</summary>
public enum AgentState
{
    /// <summary>Idle, waiting for a call (示闲).</summary>
    Available,
    /// <summary>Being rung.</summary>
    Ringing,
    /// <summary>Talking or holding a customer.</summary>
    InCall,
    /// <summary>After-call work.</summary>
    WrapUp,
    /// <summary>Paused with a reason (示忙).</summary>
    Paused,
    /// <summary>On an outbound call.</summary>
    Outbound,
}

/// <summary>The role of a call leg.</summary>
public enum CallParty
{
    /// <summary>The customer's channel.</summary>
    Customer,
    /// <summary>An agent's channel.</summary>
    Agent,
    /// <summary>An external number (transfer out).</summary>
    External,
    /// <summary>The IVR / media channel.</summary>
    Ivr,
    /// <summary>A supervisor listening, whispering or barging.</summary>
    Supervisor,
}

/// <summary>One row per call (table <c>calls</c>).</summary>
public sealed record CallRecord : CallCenterRecord
{
    /// <summary>The call id (Asterisk linkedid of the customer channel).</summary>
    public required string CallId { get; init; }
    /// <summary>When the call reached the centre.</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>Higher revisions replace lower ones (e.g. the survey score arrives after the end).</summary>
    public int Revision { get; init; }
    /// <summary>Inbound, outbound or internal.</summary>
    public required CallDirection Direction { get; init; }
    /// <summary>Dialled number (DID) for inbound calls.</summary>
    public string? Did { get; init; }
    /// <summary>Calling number.</summary>
    public string? Caller { get; init; }
    /// <summary>Called number.</summary>
    public string? Callee { get; init; }
    /// <summary>Queues visited, in order.</summary>
    public IReadOnlyList<string> Queues { get; init; } = [];
    /// <summary>First queue entry.</summary>
    public DateTimeOffset? EnqueuedAt { get; init; }
    /// <summary>Answer by an agent.</summary>
    public DateTimeOffset? AnsweredAt { get; init; }
    /// <summary>End of the call.</summary>
    public required DateTimeOffset EndedAt { get; init; }
    /// <summary>Centre-level wait: first queue entry to answer or leaving the last queue.</summary>
    public double? WaitSeconds { get; init; }
    /// <summary>Talk time without hold.</summary>
    public double TalkSeconds { get; init; }
    /// <summary>Hold time.</summary>
    public double HoldSeconds { get; init; }
    /// <summary>Wrap-up (after-call work) time.</summary>
    public double WrapUpSeconds { get; init; }
    /// <summary>Final outcome.</summary>
    public required CallDisposition Disposition { get; init; }
    /// <summary>Agent that answered (the last one when transferred).</summary>
    public string? AgentId { get; init; }
    /// <summary>Agents/queues/numbers the call was transferred through, in order.</summary>
    public IReadOnlyList<string> TransferChain { get; init; } = [];
    /// <summary>Who hung up.</summary>
    public ReleasedBy? ReleasedBy { get; init; }
    /// <summary>Recording of the call, if any.</summary>
    public string? RecordingId { get; init; }
    /// <summary>Survey score, if answered.</summary>
    public short? SurveyScore { get; init; }
    /// <summary>Dialer campaign.</summary>
    public string? CampaignId { get; init; }
    /// <summary>Dialer lead.</summary>
    public string? LeadId { get; init; }
    /// <summary>Callback that produced or was promised on this call.</summary>
    public string? CallbackId { get; init; }
    /// <summary>Account code (tenant / billing).</summary>
    public string? AccountCode { get; init; }
    /// <summary>The Asterisk server (<c>asterisk[].name</c>) the caller's channel was on; null when unknown.</summary>
    public string? AsteriskServer { get; init; }
    /// <summary>
    /// <see cref="EndedAt"/> is an estimate, not a time Asterisk reported: the call ended unseen (inside an ARI
    /// events gap, with AMI down too) and ends at the last moment it was known up (the gap's start).
    /// </summary>
    public bool EndEstimated { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => StartedAt;

    /// <inheritdoc />
    protected override string Describe() => CallId;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(CallId), nameof(CallId), "is empty");
        Require(EndedAt >= StartedAt, nameof(EndedAt), $"({EndedAt:O}) is before StartedAt ({StartedAt:O})");
        Require(TalkSeconds >= 0 && HoldSeconds >= 0 && WrapUpSeconds >= 0, "TalkSeconds/HoldSeconds/WrapUpSeconds", "must not be negative");
        Require(Disposition != CallDisposition.Answered || AnsweredAt is not null, nameof(AnsweredAt), "is missing on an answered call");
    }
}

/// <summary>One channel of a call (table <c>call_legs</c>).</summary>
public sealed record CallLegRecord : CallCenterRecord
{
    /// <summary>The channel's unique id.</summary>
    public required string LegId { get; init; }
    /// <summary>Channel creation.</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>The call the leg belongs to.</summary>
    public required string CallId { get; init; }
    /// <summary>Higher revisions replace lower ones.</summary>
    public int Revision { get; init; }
    /// <summary>Role of the leg.</summary>
    public required CallParty Party { get; init; }
    /// <summary>Agent on this leg.</summary>
    public string? AgentId { get; init; }
    /// <summary>Channel name, e.g. PJSIP/1001-00000012.</summary>
    public string? Channel { get; init; }
    /// <summary>When the leg was answered.</summary>
    public DateTimeOffset? AnsweredAt { get; init; }
    /// <summary>When the leg hung up.</summary>
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Q.850 hangup cause.</summary>
    public int? HangupCause { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => StartedAt;

    /// <inheritdoc />
    protected override string Describe() => LegId;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(LegId), nameof(LegId), "is empty");
        Require(!string.IsNullOrEmpty(CallId), nameof(CallId), "is empty");
    }
}

/// <summary>One stay of a call in one queue (table <c>queue_visits</c>).</summary>
public sealed record QueueVisitRecord : CallCenterRecord
{
    /// <summary>The call.</summary>
    public required string CallId { get; init; }
    /// <summary>The queue.</summary>
    public required string Queue { get; init; }
    /// <summary>Queue entry: wait starts here.</summary>
    public required DateTimeOffset EnteredAt { get; init; }
    /// <summary>Higher revisions replace lower ones (handling times arrive after the answer).</summary>
    public int Revision { get; init; }
    /// <summary>How the visit ended.</summary>
    public required QueueVisitOutcome Outcome { get; init; }
    /// <summary>When the call left the queue (answer, abandon, exit).</summary>
    public required DateTimeOffset LeftAt { get; init; }
    /// <summary>Answer time when answered.</summary>
    public DateTimeOffset? AnsweredAt { get; init; }
    /// <summary>Agent that answered.</summary>
    public string? AgentId { get; init; }
    /// <summary>Position at entry (1 = first).</summary>
    public int? EntryPosition { get; init; }
    /// <summary>Talk without hold.</summary>
    public double TalkSeconds { get; init; }
    /// <summary>Hold.</summary>
    public double HoldSeconds { get; init; }
    /// <summary>Wrap-up after the call.</summary>
    public double WrapUpSeconds { get; init; }
    /// <summary>True once the handling (talk, hold, wrap-up) is complete.</summary>
    public bool Handled { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => EnteredAt;

    /// <inheritdoc />
    protected override string Describe() => $"{CallId}@{Queue}";

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(CallId), nameof(CallId), "is empty");
        Require(!string.IsNullOrEmpty(Queue), nameof(Queue), "is empty");
        Require(LeftAt >= EnteredAt, nameof(LeftAt), $"({LeftAt:O}) is before EnteredAt ({EnteredAt:O})");
        var answered = Outcome == QueueVisitOutcome.Answered;
        Require(answered == (AnsweredAt is not null && AgentId is not null), "AnsweredAt/AgentId",
            answered ? "are required on an answered visit" : $"must be empty on a visit with outcome {Outcome}");
        Require(TalkSeconds >= 0 && HoldSeconds >= 0 && WrapUpSeconds >= 0, "TalkSeconds/HoldSeconds/WrapUpSeconds", "must not be negative");
    }
}

/// <summary>
/// One queue_log line (table <c>queue_events</c>): Asterisk vocabulary, fields as Asterisk writes
/// them (e.g. ENTERQUEUE data = url, callerid, position; CONNECT = holdtime, bridged uniqueid, ringtime).
/// </summary>
public sealed record QueueEventRecord : CallCenterRecord
{
    /// <summary>Producer-assigned id that a replay repeats.</summary>
    public required Guid EventId { get; init; }
    /// <summary>Event time.</summary>
    public required DateTimeOffset EventTime { get; init; }
    /// <summary>Call id, or NONE for member events.</summary>
    public string CallId { get; init; } = "NONE";
    /// <summary>Queue name, or NONE.</summary>
    public string Queue { get; init; } = "NONE";
    /// <summary>Agent (queue member name), or NONE.</summary>
    public string Agent { get; init; } = "NONE";
    /// <summary>Event name, e.g. ENTERQUEUE.</summary>
    public required string Event { get; init; }
    /// <summary>The event's data fields.</summary>
    public IReadOnlyList<string> Data { get; init; } = [];

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => EventTime;

    /// <inheritdoc />
    protected override string Describe() => $"{EventId} {Event}";

    /// <inheritdoc />
    public override void Validate()
    {
        Require(Event.Length > 0 && Event.All(c => c is (>= 'A' and <= 'Z') or '_'), nameof(Event), $"'{Event}' is not an upper-case queue_log event name");
        foreach (var field in (string[])[CallId, Queue, Agent, .. Data])
        {
            Require(!field.Contains('|', StringComparison.Ordinal) && !field.Contains('\n', StringComparison.Ordinal), "fields", $"'{field}' contains '|' or a line break, which queue_log cannot carry");
        }
    }
}

/// <summary>One interval of an agent's state (table <c>agent_state_intervals</c>).</summary>
public sealed record AgentStateRecord : CallCenterRecord
{
    /// <summary>The agent.</summary>
    public required string AgentId { get; init; }
    /// <summary>Start of the state.</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>End of the state.</summary>
    public required DateTimeOffset EndedAt { get; init; }
    /// <summary>Higher revisions replace lower ones.</summary>
    public int Revision { get; init; }
    /// <summary>The state.</summary>
    public required AgentState State { get; init; }
    /// <summary>Pause reason code (paused only).</summary>
    public string? Reason { get; init; }
    /// <summary>Login session the interval belongs to.</summary>
    public required string SessionId { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => StartedAt;

    /// <inheritdoc />
    protected override string Describe() => $"{AgentId}@{StartedAt:O}";

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(AgentId), nameof(AgentId), "is empty");
        Require(!string.IsNullOrEmpty(SessionId), nameof(SessionId), "is empty");
        Require(Spans(StartedAt, EndedAt), nameof(EndedAt), $"({EndedAt:O}) is not after StartedAt ({StartedAt:O}) at the database's microsecond precision");
        Require(State == AgentState.Paused || Reason is null, nameof(Reason), $"is only allowed on a paused interval, not {State}");
    }

    /// <summary>
    /// Whether an interval from <paramref name="start"/> to <paramref name="end"/> has any length once
    /// stored: timestamptz keeps microseconds (the writer truncates .NET's 0.1 µs ticks), so two state
    /// changes within one microsecond would give a row that breaks the table's <c>ended_at &gt; started_at</c>
    /// and fails its whole batch. Producers skip what this refuses; the state in between lasted no time.
    /// </summary>
    public static bool Spans(DateTimeOffset start, DateTimeOffset end) => end.UtcTicks / 10 > start.UtcTicks / 10;

    /// <summary>Splits the interval at UTC midnights (the table keeps intervals within one day, so reports look back one day at most).</summary>
    public IEnumerable<AgentStateRecord> SplitAtUtcMidnight()
    {
        var start = StartedAt.ToUniversalTime();
        var end = EndedAt.ToUniversalTime();
        while (true)
        {
            var midnight = new DateTimeOffset(start.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);
            if (end <= midnight)
            {
                yield return this with { StartedAt = start, EndedAt = end };
                yield break;
            }

            yield return this with { StartedAt = start, EndedAt = midnight };
            start = midnight;
        }
    }
}

/// <summary>One IVR node a call went through (table <c>ivr_steps</c>).</summary>
public sealed record IvrStepRecord : CallCenterRecord
{
    /// <summary>The call.</summary>
    public required string CallId { get; init; }
    /// <summary>Order within the call, from 0.</summary>
    public required int StepNo { get; init; }
    /// <summary>When the node was entered.</summary>
    public required DateTimeOffset EnteredAt { get; init; }
    /// <summary>Node name.</summary>
    public required string Node { get; init; }
    /// <summary>Caller input (DTMF) at this node.</summary>
    public string? Input { get; init; }
    /// <summary>True when this node is a terminal self-service completion (D-01).</summary>
    public bool Terminal { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => EnteredAt;

    /// <inheritdoc />
    protected override string Describe() => $"{CallId}#{StepNo}";

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(CallId), nameof(CallId), "is empty");
        Require(StepNo >= 0, nameof(StepNo), "is negative");
        Require(!string.IsNullOrEmpty(Node), nameof(Node), "is empty");
    }
}

/// <summary>One post-call survey answer (table <c>survey_answers</c>).</summary>
public sealed record SurveyAnswerRecord : CallCenterRecord
{
    /// <summary>The call.</summary>
    public required string CallId { get; init; }
    /// <summary>Question code.</summary>
    public required string Question { get; init; }
    /// <summary>When answered.</summary>
    public required DateTimeOffset AnsweredAt { get; init; }
    /// <summary>Score, 0..ScaleMax.</summary>
    public required short Score { get; init; }
    /// <summary>Top of the scale (10 by default).</summary>
    public short ScaleMax { get; init; } = 10;
    /// <summary>Agent that served the call.</summary>
    public string? AgentId { get; init; }
    /// <summary>Queue of the call.</summary>
    public string? Queue { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => AnsweredAt;

    /// <inheritdoc />
    protected override string Describe() => $"{CallId}/{Question}";

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(CallId), nameof(CallId), "is empty");
        Require(ScaleMax > 0, nameof(ScaleMax), "must be positive");
        Require(Score >= 0 && Score <= ScaleMax, nameof(Score), $"{Score} is outside 0..{ScaleMax}");
    }
}

/// <summary>Recording metadata (table <c>recordings</c>).</summary>
public sealed record RecordingRecord : CallCenterRecord
{
    /// <summary>Recording id.</summary>
    public required string RecordingId { get; init; }
    /// <summary>Start of recording.</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>The call.</summary>
    public required string CallId { get; init; }
    /// <summary>The leg recorded.</summary>
    public string? LegId { get; init; }
    /// <summary>Agent on the recording.</summary>
    public string? AgentId { get; init; }
    /// <summary>End of recording.</summary>
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>Where the audio is.</summary>
    public required string Path { get; init; }
    /// <summary>Audio format.</summary>
    public string Format { get; init; } = "wav";
    /// <summary>File size.</summary>
    public long? SizeBytes { get; init; }

    /// <inheritdoc />
    public override DateTimeOffset PartitionTime => StartedAt;

    /// <inheritdoc />
    protected override string Describe() => RecordingId;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(!string.IsNullOrEmpty(RecordingId), nameof(RecordingId), "is empty");
        Require(!string.IsNullOrEmpty(Path), nameof(Path), "is empty");
    }
}
