using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// An agent's answer counts only once the agent's leg is in the call's bridge. Asked first (the engine's
/// <c>AgentAnswered</c>, then the bridge's three ARI requests), an agent leg that hung up in between — a desk phone
/// put down at once, a line dropped right after the pick-up, 0.3–0.9 s under load — was the answering agent hanging
/// up on the call, and the caller was released without ever talking to anyone. Now the answered leg is bridged
/// first, in a bridge of its own that becomes the call's: until the leg is in it the ACD still sees the agent
/// ringing, so a leg that ends meanwhile is a ring-no-answer of that agent (counted toward its auto-pause, the
/// call not offered to it again for <c>retryAfterNoAnswer</c>), and the caller, still waiting at the head of its
/// line with its wait and entry time, is offered to the next agent (docs/acd.md, "Ring timeout"). Only the
/// caller's own join (stop the music, add the caller) is left between the ACD's answer and the conversation.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>The agent answered its leg <paramref name="legId"/>: bridge the leg, then tell the ACD.</summary>
    private void BridgeAnsweringAgent(CallSession session, string agentId, string legId)
    {
        DropAnswerBridge(session, agentId); // an earlier answer of this agent whose leg is gone (normally dropped with it)
        var n = ++session.BridgeCount;
        var bridgeId = $"{session.CallId}-bridge-{n}";
        session.AnswerBridges[agentId] = (bridgeId, n);
        var ari = session.App.Ari;
        session.Run("bridge answering agent " + agentId, async ct =>
        {
            await ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: session.Queue, cancellationToken: ct).ConfigureAwait(false);
            await ari.Bridges.AddChannelAsync(bridgeId, [legId], cancellationToken: ct).ConfigureAwait(false);
            Post(at =>
            {
                AnsweringAgentBridged(session, agentId, legId, bridgeId, at);
                return null;
            });
        });
    }

    /// <summary>The answering agent's leg is in its bridge: now the answer goes to the ACD.</summary>
    private void AnsweringAgentBridged(CallSession session, string agentId, string legId, string bridgeId, DateTimeOffset at)
    {
        if (session.Ended || !session.IsCurrentLeg(agentId, legId) || session.AnswerBridges.GetValueOrDefault(agentId).BridgeId != bridgeId)
        {
            // The leg ended, or its ring was stopped (timed out, withdrawn, the call ended), while it was bridged:
            // whoever did so dropped the bridge, or does it here.
            DropAnswerBridge(session, agentId, bridgeId);
            return;
        }

        var outcome = _engine.Handle(new AgentAnswered(at, session.CallId, agentId));
        if (!outcome.Accepted)
        {
            // Answered just after its ring timeout or after another agent won: not this agent's call any more.
            LogRefused(_logger, session.CallId, outcome.Reason ?? "refused");
            session.AgentLegs.Remove(agentId);
            DropAnswerBridge(session, agentId, bridgeId);
            session.App.Release(legId, "normal");
        }
    }

    /// <summary>
    /// Forgets and destroys the agent's answer bridge (with <paramref name="bridgeId"/>: only if it is that one).
    /// True when there was one: the agent had answered, and the caller had not joined yet.
    /// </summary>
    private static bool DropAnswerBridge(CallSession session, string agentId, string? bridgeId = null)
    {
        if (!session.AnswerBridges.TryGetValue(agentId, out var answer) || (bridgeId is not null && answer.BridgeId != bridgeId))
        {
            return false;
        }

        session.AnswerBridges.Remove(agentId);
        var doomed = answer.BridgeId;
        var ari = session.App.Ari;
        session.Run("destroy answer bridge of " + agentId, ct => ari.Bridges.DestroyAsync(doomed, ct));
        return true;
    }

    /// <summary>Destroys every answer bridge the caller never joined (the call ended).</summary>
    private static void DropAnswerBridges(CallSession session)
    {
        foreach (var agentId in session.AnswerBridges.Keys.ToList())
        {
            DropAnswerBridge(session, agentId);
        }
    }

    [LoggerMessage(EventId = 1461, Level = LogLevel.Information, Message = "Call {CallId}: agent {AgentId}'s phone hung up after answering, before it was bridged with the caller ({How}); a ring-no-answer of the agent, and the caller keeps its place in the queue")]
    private static partial void LogAnsweredLegLost(ILogger logger, string callId, string agentId, string how);
}
