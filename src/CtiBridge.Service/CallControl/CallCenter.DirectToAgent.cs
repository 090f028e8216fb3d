using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Direct-to-agent routes (an IVR <c>agent</c> node, a DID routed to an agent): the agent's phone
/// rings at once when the agent is ready, whatever the queue's strategy; when the agent is not ready
/// the call goes to the route's fallback from here (it never waited in a queue), and when the agent
/// does not answer the ACD sends it there (<see cref="CallArrivedForAgent"/>, then an overflow).
/// </summary>
public sealed partial class CallCenter
{
    private void RouteToAgent(CallSession session, DirectAgentRoute route, DateTimeOffset at)
    {
        // The caller is the agent's customer from here on: a sticky fallback queue prefers the agent too.
        // The fallback travels with the call (live_calls' attributes): an instance adopting it after a
        // restart rings that agent alone again and otherwise sends it there, as this one would have.
        var attributes = new Dictionary<string, string>(session.Caller.Attributes, StringComparer.Ordinal)
        {
            [DirectFallbackAttribute] = CallControlConfiguration.FormatTarget(route.Fallback),
        };
        var caller = session.Caller with { AssignedAgentId = route.AgentId, IvrPath = [.. session.IvrPath] };
        var outcome = _engine.Handle(new CallArrivedForAgent(at, session.CallId, route.AgentId, route.Queue, caller with { Attributes = attributes }, route.Fallback));
        if (outcome.Accepted)
        {
            session.Queue = route.Queue;
            session.Stage = CallStage.Acd;
            session.EnqueuedAt = at;
            session.Caller = caller with { Attributes = attributes };
            return;
        }

        LogAgentNotAvailable(_logger, session.CallId, route.AgentId, outcome.Reason ?? "refused", route.Fallback.ToString());
        session.Caller = caller;
        switch (route.Fallback.Kind)
        {
            case OverflowTargetKind.Queue:
                EnterQueue(session, route.Fallback.Destination!, caller, at);
                break;
            case OverflowTargetKind.ExternalNumber:
                DialExternal(session, route.Fallback.Destination!, _settings.Fallback.ExternalRingTimeout, at);
                break;
            case OverflowTargetKind.Voicemail:
                // The agent's queue calls the voicemail back.
                session.CallbackQueue = route.Queue;
                StartVoicemail(session, route.Fallback.Destination!, null, _settings.Fallback.VoicemailMaxMessage);
                break;
            case OverflowTargetKind.CallbackOffer:
                session.CallbackQueue = route.Queue;
                RequestCallback(session, voicemail: false);
                Leave(session, "queue-thankyou");
                break;
            default:
                Leave(session, route.Fallback.Destination);
                break;
        }
    }

    /// <summary>The caller data attribute holding a direct-to-agent call's fallback (<c>queue:x</c>, <c>number:n</c>, ...).</summary>
    internal const string DirectFallbackAttribute = "direct.fallback";

    /// <summary>The fallback of an adopted call that was for one named agent; null for other calls.</summary>
    private static OverflowTarget? DirectFallbackOf(CallerData caller) =>
        caller.AssignedAgentId is not null && caller.Attributes.TryGetValue(DirectFallbackAttribute, out var text) ? CallControlConfiguration.ParseTarget(text) : null;

    [LoggerMessage(EventId = 940, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId} cannot take it now ({Reason}); fallback {Fallback}")]
    private static partial void LogAgentNotAvailable(ILogger logger, string callId, string agentId, string reason, string fallback);
}
