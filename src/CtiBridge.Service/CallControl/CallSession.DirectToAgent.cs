namespace CtiBridge.Service.CallControl;

/// <summary>A call routed to one named agent (a DID routed to an agent).</summary>
internal sealed partial class CallSession
{
    /// <summary>The DID's direct-to-agent route, applied once the customer lookup has answered; null for other DIDs.</summary>
    public DirectAgentRoute? AgentRoute { get; set; }
}
