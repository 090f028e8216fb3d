using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>A consultation leg: the agent talks to a colleague or an outside number while the caller is held.</summary>
/// <param name="LegId">The consult channel's ID.</param>
/// <param name="Target">Who is consulted (agent or external number).</param>
/// <param name="AgentId">The consulted agent (held as paused "consult" meanwhile); null for a number.</param>
internal sealed record ConsultLeg(string LegId, TransferTarget Target, string? AgentId)
{
    /// <summary>When the consulted party answered; null while it rings.</summary>
    public DateTimeOffset? AnsweredAt { get; set; }
}

/// <summary>The agent-side state of a call: hold, consultation, conference, recording, survey (loop only).</summary>
internal sealed partial class CallSession
{
    /// <summary>The caller is out of the bridge hearing music (agent hold or consultation).</summary>
    public bool CallerOnHold { get; set; }

    /// <summary>The consultation in progress, if any.</summary>
    public ConsultLeg? Consult { get; set; }

    /// <summary>Consultations started, for unique leg IDs.</summary>
    public int Consults { get; set; }

    /// <summary>The consulted party, the agent and the caller talk together (three-way call).</summary>
    public bool Conference { get; set; }

    /// <summary>Bridges made, for unique bridge and recording names (a transferred call gets a new bridge).</summary>
    public int BridgeCount { get; set; }

    /// <summary>
    /// Answered agent legs being bridged before the ACD hears of the answer (CallCenter.AnswerBridge.cs): agent ID →
    /// the bridge (and its number, for the recording's name) the caller joins once the ACD connects that agent.
    /// </summary>
    public Dictionary<string, (string BridgeId, int Number)> AnswerBridges { get; } = new(StringComparer.Ordinal);

    /// <summary>The bridge recording running now (its name on Asterisk).</summary>
    public string? CallRecording { get; set; }

    /// <summary>The queue of the latest offer (the survey is the queue's choice).</summary>
    public string? CurrentQueue { get; set; }

    /// <summary>The agent the caller talked to last.</summary>
    public string? LastAgentId { get; set; }

    /// <summary>The survey the caller is in after the agent hung up, if any.</summary>
    public SurveySettings? Survey { get; set; }

    /// <summary>Ends the survey when the caller presses nothing.</summary>
    public ITimer? SurveyTimer { get; set; }

    /// <summary>The survey prompt playing now.</summary>
    public string? SurveyPlaybackId { get; set; }
}
