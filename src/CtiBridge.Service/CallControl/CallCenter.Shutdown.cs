using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Stopping without dropping callers: new calls and calls not yet with anyone go back to the
/// dialplan at once; conversations (with an agent or an external number) may finish within
/// <see cref="ShutdownSettings.CallsFinishWithin"/>; the callers still on the line then are handed
/// back to the dialplan too (ARI continue to <see cref="ShutdownSettings.HandBackContext"/>, the DID).
/// </summary>
public sealed partial class CallCenter
{
    private const string HandBackDetail = "handed back to the dialplan: CtiBridge stopped";
    private static readonly TimeSpan HandBackSendLimit = TimeSpan.FromSeconds(5);
    private readonly List<Task> _handBacks = [];
    private volatile bool _drainStarted;
    private TaskCompletionSource? _drained;

    /// <summary>True once a graceful stop has begun: new calls are handed back to the dialplan.</summary>
    public bool IsDraining => _drainStarted;

    /// <summary>
    /// The graceful stop (the host calls it when the service is stopped, before the Stasis apps
    /// close): stops taking calls, hands back those not in a conversation, waits up to
    /// <see cref="ShutdownSettings.CallsFinishWithin"/> for conversations to end, hands back the
    /// rest, and returns once the hand-backs were sent to Asterisk. Calls handed back are recorded
    /// as lost by the system (<c>system_lost</c>, detail "handed back to the dialplan").
    /// </summary>
    /// <param name="cancellationToken">The host's stop deadline: cut the wait short.</param>
    /// <returns>How many calls were handed back.</returns>
    public async Task<int> DrainAsync(CancellationToken cancellationToken = default)
    {
        if (_loop.IsCompleted)
        {
            return 0; // never started (start-up failed) or already stopped: no call is held
        }

        var limit = Settings.Shutdown.CallsFinishWithin;
        var (handedBack, talking, drained) = await RequestAsync(at =>
        {
            _drainStarted = true;
            _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var n = 0;
            foreach (var session in _calls.Values.ToList())
            {
                if (!InConversation(session) && HandBack(session, at))
                {
                    n++;
                }
            }

            CheckDrained();
            return (n, _calls.Count, _drained.Task);
        }, cancellationToken).ConfigureAwait(false);
        LogDrainStarted(_logger, handedBack, talking, limit.TotalSeconds);

        if (talking > 0)
        {
            try
            {
                await drained.WaitAsync(limit, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                handedBack += await RequestAsync(at => _calls.Values.ToList().Count(s => HandBack(s, at)), CancellationToken.None).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                handedBack += await RequestAsync(at => _calls.Values.ToList().Count(s => HandBack(s, at)), CancellationToken.None).ConfigureAwait(false);
            }
        }

        // The continue requests must reach Asterisk before the apps close (bounded: Asterisk may be gone).
        Task[] sends;
        lock (_handBacks)
        {
            sends = [.. _handBacks];
        }

        try
        {
            await Task.WhenAll(sends).WaitAsync(HandBackSendLimit, _time, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            LogHandBackSlow(_logger, sends.Count(t => !t.IsCompleted));
        }

        LogDrained(_logger, handedBack);
        return handedBack;
    }

    private bool InConversation(CallSession session) =>
        session.ConnectedAgentId is not null || (session.Stage == CallStage.External && _externalLegs.ContainsValue(session));

    private void CheckDrained()
    {
        if (_drained is { } drained && _calls.Count == 0)
        {
            drained.TrySetResult();
        }
    }

    /// <summary>Takes the call out of the ACD and sends the caller back to the dialplan at the DID; false when it had ended.</summary>
    private bool HandBack(CallSession session, DateTimeOffset at)
    {
        if (session.Ended)
        {
            return false;
        }

        // A call the ACD does not hold (still in the IVR) is refused here: nothing to record in the engine.
        _engine.Handle(new CallLost(at, session.CallId, HandBackDetail));
        if (!session.CallerGone && session.Caller.Did is { Length: > 0 } did)
        {
            var context = Settings.Shutdown.HandBackContext;
            var app = session.App;
            session.HandedBack = true;
            session.Run("hand back to the dialplan", ct => app.Ari.Channels.ContinueInDialplanAsync(session.CallerChannelId, context, did, 1, cancellationToken: ct));
            LogHandedBack(_logger, session.CallId, context, did);
        }

        // Agent legs, supervisors' legs and snoops, and the bridge go; the caller's channel (handed back) stays.
        // A callback (no DID to go back to) ends: not yet connected, its attempt does not count and it is due again.
        session.EndedByStop = true;
        EndSession(session);
        lock (_handBacks)
        {
            _handBacks.Add(session.Sent);
        }

        return true;
    }

    /// <summary>A call entering while the service stops: straight back to the dialplan, never answered here.</summary>
    private void HandBackNewCall(StasisApp app, Asterisk.Ari.Models.Channel channel, string did)
    {
        var context = Settings.Shutdown.HandBackContext;
        LogNewCallHandedBack(_logger, channel.Id, did, context);
        var send = ContinueAsync(app, channel.Id, context, did);
        lock (_handBacks)
        {
            _handBacks.Add(send);
        }

        async Task ContinueAsync(StasisApp app, string channelId, string context, string did)
        {
            try
            {
                await app.Ari.Channels.ContinueInDialplanAsync(channelId, context, did, 1, cancellationToken: CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException)
            {
                LogHandBackFailed(_logger, channelId, ex.Message);
                app.Release(channelId, "normal");
            }
        }
    }

    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "Stopping: no new calls are taken; {HandedBack} call(s) not yet with anyone handed back to the dialplan; {Talking} conversation(s) may finish within {Seconds} s")]
    private static partial void LogDrainStarted(ILogger logger, int handedBack, int talking, double seconds);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Information, Message = "Call {CallId} handed back to the dialplan at {Context},{Did},1")]
    private static partial void LogHandedBack(ILogger logger, string callId, string context, string did);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Information, Message = "Stopping: new call on channel {ChannelId} (DID {Did}) handed back to the dialplan at {Context}")]
    private static partial void LogNewCallHandedBack(ILogger logger, string channelId, string did, string context);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Warning, Message = "Stopping: {Count} hand-back request(s) still unanswered by Asterisk; going on")]
    private static partial void LogHandBackSlow(ILogger logger, int count);

    [LoggerMessage(EventId = 1114, Level = LogLevel.Warning, Message = "Channel {ChannelId} could not be handed back to the dialplan ({Reason}); released")]
    private static partial void LogHandBackFailed(ILogger logger, string channelId, string reason);

    [LoggerMessage(EventId = 1115, Level = LogLevel.Information, Message = "Stopped taking calls; {HandedBack} call(s) handed back to the dialplan in all")]
    private static partial void LogDrained(ILogger logger, int handedBack);
}
