using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// One agent, one state at a time: an agent on a campaign's nailed-up line (the outbound dialer's
/// agent, whose phone is held by that line and whose time the dialer logs as available / outbound /
/// wrap-up) cannot also log in to inbound queues, or the agent-state log would get two intervals
/// for the same time and double the agent's logged-in time (docs/metrics.md §6, docs/dialer.md).
/// The dialer joins in the other direction refuse an agent logged in here.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// Says why an agent is busy elsewhere (e.g. on a campaign's nailed-up line), or null when free
    /// to log in to inbound queues. Set once at start-up by the part that knows (the dialer); read on
    /// the call center's loop, so it must be safe to call from any thread.
    /// </summary>
    public Func<string, string?>? AgentWorkingElsewhere { get; set; }

    /// <summary>A refusal when the agent is working elsewhere, else null.</summary>
    private InputOutcome? RefusedAsWorkingElsewhere(string agentId) =>
        AgentWorkingElsewhere?.Invoke(agentId) is { } why ? InputOutcome.Refused(why) : null;
}
