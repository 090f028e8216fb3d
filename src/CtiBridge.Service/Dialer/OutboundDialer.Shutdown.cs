namespace CtiBridge.Service.Dialer;

/// <summary>
/// Stopping the dialer without cutting people off (the service's graceful stop, docs/service.md):
/// no new call is dialled; calls up (ringing, in answering-machine detection, waiting for an agent,
/// talking) may end by themselves within the stop's time limit; those still up then are hung up by
/// the dialer (stored as released by the system); the agents' nailed-up lines are released last.
/// Every attempt, lead, ledger row and call record of those calls is stored before the dialer closes.
/// </summary>
public sealed partial class OutboundDialer
{
    private static readonly TimeSpan HangUpWait = TimeSpan.FromSeconds(5);
    private volatile bool _draining;
    private TaskCompletionSource? _linesGone;

    /// <summary>True once a graceful stop has begun: nothing new is dialled.</summary>
    public bool IsDraining => _draining;

    /// <summary>
    /// The graceful stop: stops dialling, waits up to <paramref name="callsFinishWithin"/> for the
    /// calls up to end, hangs up the rest and waits (bounded) for their ends to be stored, then
    /// releases the agents' nailed-up lines. Call <see cref="DisposeAsync"/> afterwards.
    /// </summary>
    /// <param name="callsFinishWithin">How long calls in progress may go on.</param>
    /// <param name="cancellationToken">The host's stop deadline: cut the wait short.</param>
    /// <returns>How many calls the dialer hung up at the limit.</returns>
    public async Task<int> DrainAsync(TimeSpan callsFinishWithin, CancellationToken cancellationToken = default)
    {
        if (_tasks.Count == 0 || _work.Reader.Completion.IsCompleted)
        {
            return 0; // never started, or already stopped
        }

        var (up, gone) = await RequestAsync(_ =>
        {
            _draining = true;
            _linesGone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var campaign in _running.Values)
            {
                campaign.Accepting = false;
            }

            CheckLinesGone();
            return Task.FromResult((_lines.Count, _linesGone.Task));
        }, cancellationToken).ConfigureAwait(false);
        LogDrainStarted(_logger, up, callsFinishWithin.TotalSeconds);

        var cut = 0;
        if (up > 0 && !await EndsWithinAsync(gone, callsFinishWithin, cancellationToken).ConfigureAwait(false))
        {
            cut = await RequestAsync(_ =>
            {
                foreach (var line in _lines.Values)
                {
                    line.HungUpByDialer = true;
                    var callId = line.CallId;
                    line.Run("hang up at the stop", _logger, ct => _ari.Channels.HangupAsync(callId, reason: "normal", cancellationToken: ct), null, CancellationToken.None);
                }

                return Task.FromResult(_lines.Count);
            }, CancellationToken.None).ConfigureAwait(false);

            // Their ends (and so their attempts and records) come back as events: bounded, Asterisk may be gone.
            if (!await EndsWithinAsync(gone, HangUpWait, CancellationToken.None).ConfigureAwait(false))
            {
                LogLinesNotEnded(_logger, await RequestAsync(_ => Task.FromResult(_lines.Count), CancellationToken.None).ConfigureAwait(false));
            }
        }

        var agents = await RequestAsync(_ =>
        {
            var list = _agents.Values.ToList();
            foreach (var agent in list)
            {
                var channelId = agent.ChannelId;
                RemoveAgent(agent, "the service stopped");
                agent.Run("release the nailed-up line", _logger, ct => _ari.Channels.HangupAsync(channelId, reason: "normal", cancellationToken: ct), null, CancellationToken.None);
            }

            return Task.FromResult(list.Count);
        }, CancellationToken.None).ConfigureAwait(false);
        LogDrained(_logger, cut, agents);
        return cut;
    }

    /// <summary>On the loop after every step: completes the stop's wait once no call is up.</summary>
    private void CheckLinesGone()
    {
        if (_linesGone is { } gone && _lines.Count == 0)
        {
            gone.TrySetResult();
        }
    }

    private async Task<bool> EndsWithinAsync(Task gone, TimeSpan limit, CancellationToken cancellationToken)
    {
        try
        {
            await gone.WaitAsync(limit, _connectionTime, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1040, Level = LogLevel.Warning, Message = "Dialer stopping: nothing new is dialled; {Calls} call(s) up may finish within {Seconds} s")]
    private static partial void LogDrainStarted(ILogger logger, int calls, double seconds);

    [LoggerMessage(EventId = 1041, Level = LogLevel.Warning, Message = "Dialer stopping: {Calls} call(s) hung up at the stop did not report their end; their attempts are finished by the claim expiry")]
    private static partial void LogLinesNotEnded(ILogger logger, int calls);

    [LoggerMessage(EventId = 1042, Level = LogLevel.Information, Message = "Dialer stopped taking calls: {Cut} call(s) hung up at the time limit, {Agents} nailed-up line(s) released")]
    private static partial void LogDrained(ILogger logger, int cut, int agents);
}
