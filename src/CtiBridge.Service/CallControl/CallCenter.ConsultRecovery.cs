using System.Globalization;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Acd;
using CtiBridge.Data.LiveState;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Consultations and three-way conferences across a restart or an HA takeover (issue 8). Who is consulted
/// travels in the consult leg's channel ID (<c>{call}-consult.a.{agent}-{n}</c> for a colleague,
/// <c>{call}-consult.x.{number}-{n}</c> for an outside number), as the agent travels in an agent leg's, so
/// the adopter reads the consultation from Asterisk's topology alone: the agent's leg in the call's bridge
/// with the caller held outside it (consulting), or with the caller in it (conference), and the consult leg
/// in that bridge (answered) or still ringing. Before, the adopter hung the agent's leg up as "not bridged
/// with its caller", released the consulted party and put the caller back in the queue.
/// </summary>
public sealed partial class CallCenter
{
    private const string ConsultName = "consult";

    /// <summary>The consult leg's channel ID for <paramref name="target"/> (an agent or an outside number).</summary>
    private static string ConsultLegId(CallSession session, TransferTarget target) =>
        $"{session.CallId}-{ConsultName}.{(target.Kind == TransferTargetKind.Agent ? 'a' : 'x')}.{target.Destination}-{++session.Consults}";

    /// <summary><c>{call}-consult.a.{agent}-{n}</c> → agent target; <c>{call}-consult.x.{number}-{n}</c> → outside number; anything else → null.</summary>
    private static TransferTarget? ParseConsultLeg(string callId, string channelId)
    {
        var prefix = callId + "-" + ConsultName + ".";
        if (!channelId.StartsWith(prefix, StringComparison.Ordinal) || channelId.Length < prefix.Length + 5 || channelId[prefix.Length + 1] != '.')
        {
            return null;
        }

        var kind = channelId[prefix.Length];
        var rest = channelId[(prefix.Length + 2)..];
        var dash = rest.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(rest.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return null;
        }

        var destination = rest[..dash];
        return kind switch
        {
            'a' => TransferTarget.ToAgent(destination),
            'x' => TransferTarget.ToExternal(destination),
            _ => null,
        };
    }

    /// <summary>A leg the call's agent talks on: its own agent leg, or the consult leg it took over by a completed consult transfer.</summary>
    private static bool IsLegOfAgent(string callId, string channelId, string agentId) =>
        ParseLeg(callId, channelId) is ({ } agent, _) ? agent == agentId
            : ParseConsultLeg(callId, channelId) is { Kind: TransferTargetKind.Agent } consulted && consulted.Destination == agentId;

    /// <summary>
    /// The agent's leg of a call whose caller is held outside the bridge (agent hold, or consulting): the caller is in
    /// the app and in no bridge, and the connected agent's leg is in one of this call's bridges.
    /// </summary>
    private static (string AgentId, string LegId, Bridge Bridge)? HeldAgentLegOf(LiveCall call, ICollection<string> live, Dictionary<string, Bridge> bridgeOf)
    {
        if (call.AgentId is not { } agentId || !live.Contains(call.ChannelId) || bridgeOf.ContainsKey(call.ChannelId))
        {
            return null;
        }

        var bridgePrefix = call.CallId + "-bridge-";
        foreach (var id in live)
        {
            if (IsLegOfAgent(call.CallId, id, agentId) && bridgeOf.TryGetValue(id, out var bridge) && bridge.Id.StartsWith(bridgePrefix, StringComparison.Ordinal))
            {
                return (agentId, id, bridge);
            }
        }

        return null;
    }

    /// <summary>
    /// The consultation the previous owner had going on an adopted connected call: its leg answered in the agent's
    /// bridge, or still ringing (its answer then bridges it here as before). The newest one wins; null when none.
    /// </summary>
    private (string LegId, TransferTarget Target, bool Answered)? ConsultToKeep(string callId, string agentLegId, string bridgeId,
        Dictionary<string, Channel> live, Dictionary<string, Bridge> bridgeOf)
    {
        (string LegId, TransferTarget Target, bool Answered, int N)? best = null;
        foreach (var id in live.Keys.Concat(_ringingAtAdoption))
        {
            if (id == agentLegId || ParseConsultLeg(callId, id) is not { } target || ParseLeg(callId, id) is not (_, var n))
            {
                continue;
            }

            var answered = live.ContainsKey(id);
            if ((answered && bridgeOf.GetValueOrDefault(id)?.Id != bridgeId) || (target.Kind == TransferTargetKind.Agent && !_agents.ContainsKey(target.Destination)))
            {
                continue; // answered but not with the agent (never bridged, or left), or a colleague no longer configured: released
            }

            if (best is null || n > best.Value.N)
            {
                best = (id, target, answered, n);
            }
        }

        return best is { } b ? (b.LegId, b.Target, b.Answered) : null;
    }

    /// <summary>Rebuilds the adopted call's consultation or conference on the session (the engine has adopted the call connected).</summary>
    private void AdoptConsult(CallSession session, (string LegId, TransferTarget Target, bool Answered) consult, bool callerInBridge, DateTimeOffset at)
    {
        session.Consult = new ConsultLeg(consult.LegId, consult.Target, consult.Target.Kind == TransferTargetKind.Agent ? consult.Target.Destination : null)
        {
            AnsweredAt = consult.Answered ? at : null,
        };
        _consultLegs[consult.LegId] = session;
        session.Conference = consult.Answered && callerInBridge;
        if (session.Consult.AgentId is { } consulted && _engine.GetAgent(consulted) is { State: not AgentState.Paused })
        {
            // Held for the consultation, as StartConsult did: not offered a queue call while talking to the agent.
            _engine.Handle(new AgentPause(at, consulted, PauseReasons.Consult, ChangeSource.System));
        }

        LogConsultAdopted(_logger, session.CallId, consult.Target.ToString(), session.Conference ? "conference" : consult.Answered ? "answered" : "ringing");
    }

    /// <summary>
    /// Colleagues restored paused "consult" whose consultation was not adopted (the call ended while nobody controlled
    /// it, or its consult leg is gone) would stay paused for ever: they are ready again. Done once every server's app has
    /// adopted its calls (a consultation on another server's call may not be adopted yet).
    /// </summary>
    private void ResumeConsultedWithoutConsultation(StasisApp recovering, DateTimeOffset at)
    {
        if (_apps.Any(a => a != recovering && !a.Recovered))
        {
            return;
        }

        var consulting = _calls.Values.Select(s => s.Consult?.AgentId).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (var agent in _engine.GetAgents().Where(a => a.State == AgentState.Paused && a.PauseReason == PauseReasons.Consult && !consulting.Contains(a.AgentId)).ToList())
        {
            LogConsultedResumed(_logger, agent.AgentId);
            _engine.Handle(new AgentResume(at, agent.AgentId, ChangeSource.System));
        }
    }

    [LoggerMessage(EventId = 2183, Level = LogLevel.Information, Message = "Call {CallId}: the consultation with {Target} is adopted ({How})")]
    private static partial void LogConsultAdopted(ILogger logger, string callId, string target, string how);

    [LoggerMessage(EventId = 2184, Level = LogLevel.Information, Message = "Agent {AgentId} was held for a consultation that did not survive the restart: ready again")]
    private static partial void LogConsultedResumed(ILogger logger, string agentId);
}
