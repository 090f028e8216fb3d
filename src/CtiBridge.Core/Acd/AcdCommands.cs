namespace CtiBridge.Core.Acd;

/// <summary>
/// Something the PBX side must do, emitted by the engine in the order it must be done. The service
/// turns commands into ARI/AMI requests; the simulation turns them into simulated reactions.
/// </summary>
/// <param name="CallId">The call the command is about.</param>
public abstract record AcdCommand(string CallId);

/// <summary>Ring the agent's phone for a call (the queue name goes into the caller name display).</summary>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The agent's extension.</param>
/// <param name="Queue">The queue name.</param>
/// <param name="RingTimeout">How long the engine lets it ring.</param>
/// <param name="Caller">Caller data for screen pop.</param>
public sealed record RingAgent(string CallId, string AgentId, string Extension, string Queue, TimeSpan RingTimeout, CallerData Caller) : AcdCommand(CallId);

/// <summary>Stop ringing an agent's phone for the call.</summary>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The agent's extension.</param>
public sealed record StopRinging(string CallId, string AgentId, string Extension) : AcdCommand(CallId);

/// <summary>Play the agent's ID to the caller (before <see cref="ConnectAgent"/>).</summary>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent ID to speak.</param>
public sealed record AnnounceAgentId(string CallId, string AgentId) : AcdCommand(CallId);

/// <summary>Connect (bridge) the caller with the agent who answered; music on hold stops.</summary>
/// <param name="CallId">The call.</param>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The agent's extension.</param>
public sealed record ConnectAgent(string CallId, string AgentId, string Extension) : AcdCommand(CallId);

/// <summary>Start (or switch) music on hold for a waiting caller.</summary>
/// <param name="CallId">The call.</param>
/// <param name="MusicClass">Music-on-hold class.</param>
public sealed record StartMusicOnHold(string CallId, string MusicClass) : AcdCommand(CallId);

/// <summary>Play a prompt to the waiting caller (music resumes after it).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Prompt">Prompt (sound) name.</param>
public sealed record PlayPrompt(string CallId, string Prompt) : AcdCommand(CallId);

/// <summary>Announce the caller's position and, when known, expected wait.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue.</param>
/// <param name="Position">1-based position in the queue.</param>
/// <param name="ExpectedWait">Expected wait; null when it cannot be estimated (no serving agents).</param>
public sealed record AnnouncePosition(string CallId, string Queue, int Position, TimeSpan? ExpectedWait) : AcdCommand(CallId);

/// <summary>Send the call out of the ACD (external number, voicemail, callback offer, disconnect).</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">The queue it leaves.</param>
/// <param name="Condition">Why.</param>
/// <param name="Target">Where to.</param>
public sealed record OverflowCall(string CallId, string Queue, OverflowCondition Condition, OverflowTarget Target) : AcdCommand(CallId);

/// <summary>
/// Hand the connected call from the agent to the transfer target: the agent's leg is released;
/// for a queue or agent target the caller waits (music on hold and ringing follow as further
/// commands), for an external number the PBX connects the caller to that number.
/// </summary>
/// <param name="CallId">The call.</param>
/// <param name="FromAgentId">The agent who had it.</param>
/// <param name="Target">Where it goes.</param>
/// <param name="Attended">True when the agent consulted the target first (the PBX may already have the target on a consult leg).</param>
public sealed record TransferCall(string CallId, string FromAgentId, TransferTarget Target, bool Attended) : AcdCommand(CallId);
