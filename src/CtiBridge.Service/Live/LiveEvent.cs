using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.Live;

/// <summary>
/// One event as the event stream, the wallboard and webhooks carry it: serialized once, sent to every
/// subscriber as the same bytes. <see cref="AgentId"/> is the agent it concerns (an agent key sees
/// only its own agent's events); null for queue-level events.
/// </summary>
/// <param name="Sequence">The engine's event sequence (screen pops share their call event's).</param>
/// <param name="Type">The event type, e.g. <c>agent.state</c>, <c>call.enqueued</c>, <c>screenPop</c>.</param>
/// <param name="AgentId">The agent concerned, if any.</param>
/// <param name="CallId">The call concerned, if any.</param>
/// <param name="Json">The event as a JSON object (UTF-8).</param>
public sealed record LiveEvent(long Sequence, string Type, string? AgentId, string? CallId, ReadOnlyMemory<byte> Json)
{
    private byte[]? _sse;

    /// <summary>The Server-Sent Events frame: <c>id</c>, <c>event</c> and <c>data</c> lines.</summary>
    public ReadOnlyMemory<byte> Sse => _sse ??= Encoding.UTF8.GetBytes(
        $"id: {Sequence.ToString(CultureInfo.InvariantCulture)}\nevent: {Type}\ndata: {Encoding.UTF8.GetString(Json.Span)}\n\n");

    /// <summary>The JSON as text.</summary>
    public override string ToString() => Encoding.UTF8.GetString(Json.Span);
}

/// <summary>Turns the ACD engine's domain events into <see cref="LiveEvent"/>s (docs/api.md lists the types).</summary>
public static class LiveEventFormat
{
    /// <summary>The event for <paramref name="e"/>, or null for internal events (routing explanations).</summary>
    public static LiveEvent? From(AcdEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e switch
        {
            AgentLoggedIn x => Make(e, "agent.loggedIn", x.AgentId, null, w =>
            {
                w.WriteString("extension", x.Extension);
                w.WriteStartArray("queues");
                foreach (var q in x.Queues)
                {
                    w.WriteStringValue(q.Queue);
                }

                w.WriteEndArray();
            }),
            AgentLoginRefused x => Make(e, "agent.loginRefused", x.AgentId, null, w => w.WriteString("refusal", x.Refusal.ToString())),
            AgentStateChanged x => Make(e, "agent.state", x.AgentId, x.CallId, w =>
            {
                w.WriteString("from", x.From.ToString());
                w.WriteString("to", x.To.ToString());
                w.WriteString("reason", x.Reason);
                w.WriteString("source", x.Source.ToString());
                Optional(w, "queue", x.Queue);
            }),
            AgentMuteChanged x => Make(e, "agent.mute", x.AgentId, null, w => w.WriteBoolean("muted", x.Muted)),
            CallerHoldChanged x => Make(e, "call.hold", x.AgentId, x.CallId, w =>
            {
                w.WriteBoolean("onHold", x.OnHold);
                if (x.Since is { } since)
                {
                    w.WriteString("since", since); // a held caller's wait on hold counts from here (kept across a restart)
                }
            }),
            CallEnqueued x => Make(e, "call.enqueued", null, x.CallId, w =>
            {
                w.WriteString("queue", x.Queue);
                w.WriteNumber("visit", x.Visit);
                w.WriteNumber("position", x.Position);
                w.WriteNumber("priority", x.Priority);
                Optional(w, "callerNumber", x.Caller.CallerNumber);
                Optional(w, "callerName", x.Caller.CallerName);
                Optional(w, "did", x.Caller.Did);
            }),
            CallOffered x => Make(e, "call.offered", x.AgentId, x.CallId, w =>
            {
                w.WriteString("queue", x.Queue);
                w.WriteNumber("attempt", x.Attempt);
            }),
            CallOfferEnded x => Make(e, "call.offerEnded", x.AgentId, x.CallId, w =>
            {
                w.WriteString("queue", x.Queue);
                w.WriteString("end", x.End.ToString());
                w.WriteNumber("ringSeconds", x.RingTime.TotalSeconds);
            }),
            CallPickedUp x => Make(e, "call.pickedUp", x.AgentId, x.CallId, w =>
            {
                w.WriteString("queue", x.Queue);
                Names(w, "ringingAgentIds", x.RingingAgentIds);
            }),
            CallAnswered x => Make(e, "call.answered", x.AgentId, x.CallId, w => Visit(w, x)),
            CallAbandoned x => Make(e, "call.abandoned", null, x.CallId, w =>
            {
                Visit(w, x);
                w.WriteNumber("position", x.Position);
            }),
            CallOverflowed x => Make(e, "call.overflowed", null, x.CallId, w =>
            {
                Visit(w, x);
                w.WriteString("condition", x.Condition.ToString());
                w.WriteString("target", x.Target.ToString());
            }),
            CallSystemLost x => Make(e, "call.lost", null, x.CallId, w =>
            {
                Visit(w, x);
                w.WriteString("detail", x.Detail);
            }),
            CallCompleted x => Make(e, "call.completed", x.AgentId, x.CallId, w =>
            {
                w.WriteString("queue", x.Queue);
                w.WriteNumber("talkSeconds", x.Talk.TotalSeconds);
                w.WriteNumber("holdSeconds", x.Hold.TotalSeconds);
                Optional(w, "releasedBy", x.ReleasedBy?.ToString());
            }),
            CallHandlingEnded x => Make(e, "call.handlingEnded", x.AgentId, x.CallId, w =>
            {
                w.WriteString("queue", x.Queue);
                w.WriteNumber("talkSeconds", x.Talk.TotalSeconds);
                w.WriteNumber("holdSeconds", x.Hold.TotalSeconds);
                w.WriteNumber("wrapUpSeconds", x.WrapUp.TotalSeconds);
            }),
            CallEnded x => Make(e, "call.ended", null, x.CallId, w =>
            {
                w.WriteString("disposition", x.Disposition.ToString());
                w.WriteNumber("visits", x.Visits);
            }),
            AgentQueuesChanged x => Make(e, "agent.queues", x.AgentId, null, w =>
            {
                w.WriteStartArray("queues");
                foreach (var q in x.Queues)
                {
                    w.WriteStartObject();
                    w.WriteString("queue", q.Queue);
                    w.WriteNumber("penalty", q.Penalty);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartObject("skills");
                foreach (var (skill, level) in x.Skills)
                {
                    w.WriteNumber(skill, level);
                }

                w.WriteEndObject();
            }),
            AcdReconfigured x => Make(e, "config.changed", null, null, w =>
            {
                Names(w, "queuesAdded", x.QueuesAdded);
                Names(w, "queuesRemoved", x.QueuesRemoved);
                Names(w, "queuesChanged", x.QueuesChanged);
                Names(w, "agentsAdded", x.AgentsAdded);
                Names(w, "agentsRemoved", x.AgentsRemoved);
                Names(w, "agentsChanged", x.AgentsChanged);
            }),
            CtiBridge.Service.Dialer.DialerPreviewNoted x => CtiBridge.Service.Dialer.DialerLiveEvents.Preview(x),
            CtiBridge.Service.Callbacks.CallbackNoticeNoted x => CtiBridge.Service.Callbacks.CallbackLiveEvents.Notice(x),
            _ => null,
        };
    }

    private static void Names(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }

        w.WriteEndArray();
    }

    /// <summary>The screen pop for <paramref name="agentId"/>: the filled URL and what is known of the caller.</summary>
    /// <param name="cause">The offer or answer that causes the pop (its sequence and time are the pop's).</param>
    /// <param name="phase"><c>ringing</c> or <c>connected</c>.</param>
    /// <param name="agentId">The agent whose desktop pops.</param>
    /// <param name="callId">The call.</param>
    /// <param name="queue">The queue.</param>
    /// <param name="url">The filled template, or null when the queue has none.</param>
    /// <param name="caller">The caller's data.</param>
    public static LiveEvent ScreenPop(AcdEvent cause, string phase, string agentId, string callId, string queue, string? url, CallerData caller)
    {
        ArgumentNullException.ThrowIfNull(cause);
        ArgumentNullException.ThrowIfNull(caller);
        return Make(cause, "screenPop", agentId, callId, w =>
        {
            w.WriteString("phase", phase);
            w.WriteString("queue", queue);
            Optional(w, "url", url);
            w.WriteStartObject("caller");
            Optional(w, "number", caller.CallerNumber);
            Optional(w, "name", caller.CallerName);
            Optional(w, "did", caller.Did);
            Optional(w, "customerId", caller.CustomerId);
            Optional(w, "language", caller.Language);
            w.WriteBoolean("vip", caller.IsVip);
            w.WriteStartArray("ivrPath");
            foreach (var step in caller.IvrPath)
            {
                w.WriteStringValue(step);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void Visit(Utf8JsonWriter w, QueueVisitEnded x)
    {
        w.WriteString("queue", x.Queue);
        w.WriteNumber("visit", x.Visit);
        w.WriteNumber("waitSeconds", x.Wait.TotalSeconds);
    }

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }

    private static LiveEvent Make(AcdEvent e, string type, string? agentId, string? callId, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteNumber("sequence", e.Sequence);
            w.WriteString("at", e.At);
            Optional(w, "agentId", agentId);
            Optional(w, "callId", callId);
            body(w);
            w.WriteEndObject();
        }

        return new LiveEvent(e.Sequence, type, agentId, callId, buffer.WrittenMemory.ToArray());
    }
}
