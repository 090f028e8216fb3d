using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Agents' desk phones seen through AMI device state: a logged-in agent whose phone becomes
/// <c>UNAVAILABLE</c> / <c>INVALID</c> (unregistered, unreachable) is paused with reason
/// <c>phone-unavailable</c> (source System; on a call it applies when the call ends), so no call
/// rings a dead phone; when the phone is back (any other known state), an agent paused for that
/// reason is ready again. An agent paused for another reason keeps that pause. The last state of
/// every device is kept, read whole by <c>DeviceStateList</c> when the AMI link is (re)established
/// (events of a gap are lost), so an agent logging in at a phone that is already unregistered is
/// paused at once, not when a call to it fails.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Last known state of each device, from DeviceStateChange events and lists (the loop's own).</summary>
    private readonly Dictionary<string, (string Server, string State)> _phoneStates = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads <paramref name="ami"/>'s DeviceStateChange events into the loop until <paramref name="cancellationToken"/> ends.</summary>
    internal async Task WatchPhonesAsync(AmiClient ami, string server, CancellationToken cancellationToken)
    {
        AmiEventSubscription events;
        try
        {
            events = ami.SubscribeEvents(["DeviceStateChange"]);
        }
        catch (ObjectDisposedException)
        {
            return; // stopping: the AMI client went first
        }

        using var subscription = events;
        try
        {
            await foreach (var item in events.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (item.IsResync)
                {
                    // Logged in (again): what changed while the link was down is only in the list.
                    await ReadPhoneStatesAsync(ami, server, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (item.Event is { } e && e["Device"] is { Length: > 0 } device && e["State"] is { Length: > 0 } state)
                {
                    Post(at => OnPhoneState(server, device, state, at));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary><c>DeviceStateList</c>: every device's state now, each handled as a change (a failed list is logged; events still come).</summary>
    private async Task ReadPhoneStatesAsync(AmiClient ami, string server, CancellationToken cancellationToken)
    {
        AmiListResult list;
        try
        {
            list = await ami.SendListAsync(new AmiAction("DeviceStateList"), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AmiConnectionException or AmiActionTimeoutException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
        {
            LogPhoneListFailed(_logger, server, ex.Message);
            return;
        }

        var count = 0;
        foreach (var item in list.Items)
        {
            if (item["Device"] is { Length: > 0 } device && item["State"] is { Length: > 0 } state)
            {
                count++;
                Post(at => OnPhoneState(server, device, state, at));
            }
        }

        LogPhoneListRead(_logger, server, count);
    }

    /// <summary>An agent just logged in (or was restored): a phone already known to be unreachable pauses the agent at once.</summary>
    private void ObservePhoneLogins(AcdEvent domainEvent)
    {
        if (domainEvent is AgentStateChanged { From: AgentState.LoggedOut } login)
        {
            Post(at => _engine.GetAgent(login.AgentId) is { Extension: { } extension } && _phoneStates.TryGetValue(extension, out var known)
                ? OnPhoneState(known.Server, extension, known.State, at)
                : null);
        }
    }

    private AcdInput? OnPhoneState(string server, string device, string state, DateTimeOffset at)
    {
        _phoneStates[device] = (server, state);
        var available = state.ToUpperInvariant() switch
        {
            "UNAVAILABLE" or "INVALID" => false,
            "NOT_INUSE" or "INUSE" or "BUSY" or "RINGING" or "RINGINUSE" or "ONHOLD" => true,
            _ => (bool?)null, // UNKNOWN says nothing either way
        };
        if (available is null)
        {
            return null;
        }

        // Two sites may number their phones alike: only an agent whose phone is on this server.
        var agent = _engine.GetAgents().FirstOrDefault(a => a.State != AgentState.LoggedOut && string.Equals(a.Extension, device, StringComparison.OrdinalIgnoreCase) && AgentIsOn(a.AgentId, server));
        if (agent is null)
        {
            return null;
        }

        if (available == false && agent.State != AgentState.Paused && !agent.PendingPause)
        {
            LogPhoneUnavailable(_logger, agent.AgentId, device, state, server);
            return new AgentPause(at, agent.AgentId, PauseReasons.PhoneUnavailable, ChangeSource.System);
        }

        if (available == true && agent.State == AgentState.Paused && agent.PauseReason == PauseReasons.PhoneUnavailable)
        {
            LogPhoneBack(_logger, agent.AgentId, device, state);
            return new AgentResume(at, agent.AgentId, ChangeSource.System);
        }

        return null;
    }

    [LoggerMessage(EventId = 942, Level = LogLevel.Information, Message = "Device states of Asterisk server {Server} read (DeviceStateList): {Count} device(s)")]
    private static partial void LogPhoneListRead(ILogger logger, string server, int count);

    [LoggerMessage(EventId = 943, Level = LogLevel.Warning, Message = "Device states of Asterisk server {Server} could not be read ({Reason}); phones that changed while the AMI link was down are noticed at their next change")]
    private static partial void LogPhoneListFailed(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 897, Level = LogLevel.Warning, Message = "Agent {AgentId}'s phone {Device} is {State} on {Server}: paused (phone-unavailable) until it is back")]
    private static partial void LogPhoneUnavailable(ILogger logger, string agentId, string device, string state, string server);

    [LoggerMessage(EventId = 898, Level = LogLevel.Information, Message = "Agent {AgentId}'s phone {Device} is back ({State}): ready again")]
    private static partial void LogPhoneBack(ILogger logger, string agentId, string device, string state);
}
