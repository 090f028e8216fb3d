using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// A connected agent's line that failed rather than being hung up (issue 14, docs/sites.md): above all
/// an inter-site trunk whose far server went away, which Asterisk ends itself after a SIP session timer or
/// an RTP timeout. Its hangup request carries a network-failure cause (Q.850 27, 38, 41, 42, 44, 47, 102),
/// where a hang-up by the agent carries 16 (normal clearing). Such an end is the system's, not the agent's:
/// the call is recorded <c>released_by = system</c>.
/// </summary>
public sealed partial class CallCenter
{
    // Hangup requests come before StasisEnd and ChannelDestroyed; the leg's end is decided at the first of those.
    private readonly Dictionary<string, int> _droppedLines = new(StringComparer.Ordinal);

    /// <summary>Q.850 17: a rung phone that answers busy (its queue's <c>autoPauseBusy</c> decides whether that counts toward auto-pause).</summary>
    private const int UserBusy = 17;

    /// <summary>Q.850 causes that say the line or the network failed (not a person hanging up).</summary>
    internal static bool IsLineFailure(int cause) => cause is 27 or 38 or 41 or 42 or 44 or 47 or 102;

    /// <summary>Remembers a failure cause in the hangup request of an agent's leg (only those: it is asked for when that leg ends).</summary>
    private void NoteHangupRequest(StasisApp app, ChannelHangupRequest request)
    {
        if (request.Cause is { } cause && IsLineFailure(cause) && request.Channel is { } channel
            && _channels.TryGetValue(On(app, channel.Id), out var leg) && leg.AgentId is not null)
        {
            _droppedLines[channel.Id] = cause;
        }
    }

    /// <summary>Whether <paramref name="channelId"/>'s line failed (forgotten once asked: the leg has ended).</summary>
    private string? TakeDroppedLine(string channelId) =>
        _droppedLines.Remove(channelId, out var cause) ? $"line dropped (cause {cause}: {CauseText(cause)})" : null;

    private static string CauseText(int cause) => cause switch
    {
        27 => "destination out of order",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "switching equipment congestion",
        44 => "requested channel not available",
        47 => "resource unavailable",
        102 => "recovery on timer expiry",
        _ => "failure",
    };

    [LoggerMessage(EventId = 1411, Level = LogLevel.Warning, Message = "Call {CallId}: agent {AgentId}'s {How}; the call ends released by the system, not by the agent")]
    private static partial void LogAgentLineDropped(ILogger logger, string callId, string agentId, string how);
}
