using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// One inbound call: its channels and its queue of ARI requests. The call center's loop changes
/// the fields; <see cref="Run"/> chains the requests so they reach Asterisk in the order the ACD
/// decided them, without the loop (or any other call) waiting for them.
/// </summary>
internal sealed partial class CallSession(string callId, string callerChannelId, string queue, StasisApp app, ILogger logger, CancellationToken stopping)
{
    private Task _tail = Task.CompletedTask;

    public string CallId { get; } = callId;

    public string CallerChannelId { get; } = callerChannelId;

    public string Queue { get; set; } = queue;

    public StasisApp App { get; } = app;

    /// <summary>Ringing or connected agent legs: agent ID → channel ID.</summary>
    public Dictionary<string, string> AgentLegs { get; } = new(StringComparer.Ordinal);

    public string? ConnectedAgentId { get; set; }

    public string? BridgeId { get; set; }

    public int Attempts { get; set; }

    public bool CallerGone { get; set; }

    public bool Ended { get; set; }

    /// <summary>
    /// While a channel of this call that ended unseen in an ARI events gap is being ended at the resync: when it
    /// really ended (AMI's hang-up, or the gap's start as an estimate). The call's end is recorded then, not at the
    /// resync (CallCenter.GapHangups.cs). Null otherwise.
    /// </summary>
    public GapEnd? RealEnd { get; set; }

    /// <summary>
    /// Whether <paramref name="channelId"/> is the agent's live leg for this call. A leg CtiBridge
    /// stopped is no longer in <see cref="AgentLegs"/>, so its late events are neither a decline nor
    /// an answer (and a later re-ring of the same agent gets a new leg).
    /// </summary>
    public bool IsCurrentLeg(string agentId, string channelId) => AgentLegs.TryGetValue(agentId, out var current) && current == channelId;

    /// <summary>Runs <paramref name="step"/> after this call's earlier steps; failures are logged, never thrown.</summary>
    public void Run(string what, Func<CancellationToken, Task> step) => _tail = Chain(_tail, what, step);

    private async Task Chain(Task previous, string what, Func<CancellationToken, Task> step)
    {
        await previous.ConfigureAwait(false);
        try
        {
            await step(stopping).ConfigureAwait(false);
        }
        catch (AriRequestException ex) when (ex.StatusCode == 404)
        {
            // The channel or bridge is already gone (the caller hung up meanwhile): nothing to do.
            LogGone(logger, CallId, what, ex.AsteriskMessage ?? ex.Message);
        }
        catch (Exception ex) when (ex is AriException or OperationCanceledException or HttpRequestException)
        {
            LogFailed(logger, CallId, what, ex.Message);
        }
    }

    [LoggerMessage(EventId = 820, Level = LogLevel.Debug, Message = "Call {CallId}: {What} found nothing to act on ({Reason})")]
    private static partial void LogGone(ILogger logger, string callId, string what, string reason);

    [LoggerMessage(EventId = 821, Level = LogLevel.Warning, Message = "Call {CallId}: {What} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string callId, string what, string reason);
}
