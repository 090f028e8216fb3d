namespace CtiBridge.Core.Acd;

/// <summary>
/// A call for one named agent (an IVR <c>agent</c> node, a DID routed to an agent), whatever the
/// queue's strategy: the agent's phone rings at once if the agent is ready; otherwise the input is
/// refused and the caller's side carries out the route's fallback itself (the call never waited in
/// a queue). Rung and not answered (ring timeout, declined, the agent paused or logged out while it
/// rang), the call leaves the queue to <see cref="CallArrivedForAgent.Fallback"/>.
/// </summary>
/// <param name="At">When.</param>
/// <param name="CallId">The call id; unique among live calls.</param>
/// <param name="AgentId">The agent the call is for.</param>
/// <param name="Queue">The queue the call is counted in (one the agent serves).</param>
/// <param name="Caller">Caller data.</param>
/// <param name="Fallback">Where the call goes when the agent does not answer; a queue target naming <paramref name="Queue"/> keeps it waiting there for any agent.</param>
public sealed record CallArrivedForAgent(DateTimeOffset At, string CallId, string AgentId, string Queue, CallerData Caller, OverflowTarget Fallback) : AcdInput(At);

/// <summary>Direct-to-agent routing (<see cref="CallArrivedForAgent"/>).</summary>
public sealed partial class AcdEngine
{
    private InputOutcome ArriveForAgent(CallArrivedForAgent x)
    {
        ArgumentNullException.ThrowIfNull(x.Fallback);
        if (!_agents.TryGetValue(x.AgentId ?? string.Empty, out var a))
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is not configured");
        }

        if (!_queues.TryGetValue(x.Queue ?? string.Empty, out var q))
        {
            return InputOutcome.Refused($"call '{x.CallId}' arrived for unknown queue '{x.Queue}' (known: {string.Join(", ", _queues.Keys)})");
        }

        if (x.Fallback.Kind == OverflowTargetKind.Queue && !_queues.ContainsKey(x.Fallback.Destination ?? string.Empty))
        {
            return InputOutcome.Refused($"fallback queue '{x.Fallback.Destination}' is not configured");
        }

        if (a.State != AgentState.Ready || a.Call is not null)
        {
            return InputOutcome.Refused($"agent '{a.Id}' is {a.State.ToString().ToLowerInvariant()}, not ready");
        }

        if (a.MembershipIn(q) is null)
        {
            return InputOutcome.Refused($"agent '{a.Id}' does not serve queue '{q.Name}'");
        }

        // The same queue as fallback: no fallback at all, the call just waits there for any agent.
        var fallback = x.Fallback.Kind == OverflowTargetKind.Queue && x.Fallback.Destination == q.Name ? null : x.Fallback;
        return Admit(x.CallId, q.Name, x.Caller, Now, isCallback: false, direct: a, directFallback: fallback);
    }

    /// <summary>The fallback of a call for one agent whose first offer ended unanswered (used once); null for any other call.</summary>
    private static OverflowTarget? TakeDirectFallback(Call call)
    {
        var fallback = call.Visit == 1 ? call.DirectFallback : null;
        call.DirectFallback = null;
        return fallback;
    }

    /// <summary>A call whose ringing agent paused or logged out: to its fallback if it was for that agent alone, else routed again.</summary>
    private void RouteWithdrawnCall(Call call)
    {
        if (TakeDirectFallback(call) is { } fallback)
        {
            OverflowFromQueue(call, OverflowCondition.NoAnswer, fallback);
            return;
        }

        TryRouteCall(call, RoutingTrigger.OfferEnded);
    }
}
