namespace CtiBridge.Service.CallControl;

/// <summary>
/// An agent's phone is rung again only once CtiBridge's previous leg on it is gone. A ring that timed
/// out (or was withdrawn, or whose call ended) is hung up through that call's request chain, which
/// may lag behind the engine by a second or more when Asterisk or the host is slow. Meanwhile the
/// engine makes the agent Ready and offers the next waiting call at once: rung while our own old leg
/// still occupies it, a phone without call waiting answers busy (cause 17), which counts as the
/// agent's no-answer, and two of those within a few milliseconds turned one late answer into an
/// auto-pause (no-answer) of an agent who had done nothing wrong. So a new ring waits for the old
/// leg's end (seen as StasisEnd or ChannelDestroyed), at most the new ring's own timeout.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Agent legs CtiBridge has asked Asterisk to hang up and whose end is not seen yet (the loop's own).</summary>
    private readonly Dictionary<string, (string AgentId, TaskCompletionSource Gone)> _endingAgentLegs = new(StringComparer.Ordinal);

    /// <summary>CtiBridge is hanging up <paramref name="legId"/>, a leg to <paramref name="agentId"/>'s phone.</summary>
    private void AgentLegEnding(string agentId, string legId) =>
        _endingAgentLegs.TryAdd(legId, (agentId, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));

    /// <summary>A channel ended (or was never created): if it was an agent leg being hung up, its phone is free of it.</summary>
    private void AgentLegEnded(string channelId)
    {
        if (_endingAgentLegs.Remove(channelId, out var ending))
        {
            ending.Gone.TrySetResult();
        }
    }

    /// <summary>What a new ring of <paramref name="agentId"/> waits for first (null: the phone carries none of our old legs).</summary>
    private Task? PreviousLegsOf(string agentId)
    {
        List<Task>? pending = null;
        foreach (var (_, (owner, gone)) in _endingAgentLegs)
        {
            if (string.Equals(owner, agentId, StringComparison.Ordinal))
            {
                (pending ??= []).Add(gone.Task);
            }
        }

        return pending is null ? null : Task.WhenAll(pending);
    }

    /// <summary>Waits (in the new call's request chain) until the old legs are gone, at most <paramref name="limit"/>; then rings anyway.</summary>
    private async Task AwaitPhoneFreeAsync(Task previous, string callId, string agentId, TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            await previous.WaitAsync(limit, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Its end was missed (an events gap) or is very late: not waited for again by later rings.
            LogPreviousLegLingers(_logger, callId, agentId, limit.TotalSeconds);
            Post(_ =>
            {
                foreach (var legId in _endingAgentLegs.Where(e => string.Equals(e.Value.AgentId, agentId, StringComparison.Ordinal)).Select(e => e.Key).ToList())
                {
                    AgentLegEnded(legId);
                }

                return null;
            });
        }
    }

    [LoggerMessage(EventId = 1460, Level = LogLevel.Warning, Message = "Call {CallId}: agent {AgentId}'s phone still carries an earlier leg CtiBridge hung up, after {Seconds} s of waiting for its end; ringing it anyway")]
    private static partial void LogPreviousLegLingers(ILogger logger, string callId, string agentId, double seconds);
}
