namespace CtiBridge.Core.Acd;

/// <summary>Call pickup (抢接): a ready agent takes a call ringing another agent of the same queue.</summary>
public sealed partial class AcdEngine
{
    /// <summary>
    /// The call <paramref name="agentId"/> would pick up now: the longest-ringing inbound call of one
    /// of the agent's queues, or null when nothing is ringing there (or the agent is not ready).
    /// </summary>
    /// <param name="agentId">The agent who wants to pick up.</param>
    public string? FindPickUpCall(string agentId) =>
        _agents.TryGetValue(agentId, out var a) && MayPickUp(a) ? PickUpCandidate(a)?.Id : null;

    /// <summary>
    /// Ready, or held for a pickup whose phone is being rung (paused <see cref="PauseReasons.PickUp"/>
    /// by call control so that no other call is offered to that phone meanwhile).
    /// </summary>
    private static bool MayPickUp(Agent a) =>
        a.Call is null && (a.State == AgentState.Ready || (a.State == AgentState.Paused && a.PauseReason == PauseReasons.PickUp));

    /// <summary>Whether call <paramref name="callId"/> is ringing an agent now (so that it can be picked up).</summary>
    /// <param name="callId">The call.</param>
    public bool IsRinging(string callId) =>
        _calls.TryGetValue(callId, out var c) && c.Phase == CallPhase.Ringing && c.Ringing.Count > 0;

    private Call? PickUpCandidate(Agent a)
    {
        Call? best = null;
        foreach (var c in _calls.Values)
        {
            // A callback task has no caller on the line to bridge to: it is not picked up.
            if (c.Phase != CallPhase.Ringing || c.IsCallback || c.Ringing.Count == 0 || a.MembershipIn(c.Queue) is null)
            {
                continue;
            }

            if (best is null || c.RingStartedAt < best.RingStartedAt || (c.RingStartedAt == best.RingStartedAt && c.Seq < best.Seq))
            {
                best = c;
            }
        }

        return best;
    }

    private InputOutcome PickUp(CallPickUp x)
    {
        if (!_agents.TryGetValue(x.AgentId, out var a))
        {
            return InputOutcome.Refused($"unknown agent '{x.AgentId}'");
        }

        if (!MayPickUp(a))
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' is {a.State.ToString().ToLowerInvariant()}; only a ready agent can pick up a call");
        }

        Call? call;
        if (x.CallId is null)
        {
            call = PickUpCandidate(a);
            if (call is null)
            {
                return InputOutcome.Refused($"no call is ringing another agent of agent '{x.AgentId}''s queues");
            }
        }
        else if (!_calls.TryGetValue(x.CallId, out call) || call.Phase != CallPhase.Ringing || call.Ringing.Count == 0)
        {
            return InputOutcome.Refused($"call '{x.CallId}' is not ringing an agent; nothing to pick up");
        }
        else if (call.IsCallback)
        {
            return InputOutcome.Refused($"call '{x.CallId}' is a callback task (no caller on the line); it cannot be picked up");
        }
        else if (a.MembershipIn(call.Queue) is null)
        {
            return InputOutcome.Refused($"agent '{x.AgentId}' does not serve queue '{call.Queue.Name}' of call '{x.CallId}'");
        }

        // Not a miss of the agents rung: their offers end withdrawn and they are ready again.
        var ringing = call.Ringing.Select(r => r.Id).ToList();
        var freed = WithdrawAll(call, $"call picked up by agent {a.Id}");
        call.OfferVersion++;
        a.Call = call;
        Publish(new CallPickedUp(call.Id, call.Queue.Name, a.Id, ringing));
        ConnectAnswered(call, a, freed, "picked up call");
        return InputOutcome.Ok;
    }
}
