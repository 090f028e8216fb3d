using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Agents' desk phones seen through AMI device state: a logged-in agent whose phone becomes
/// <c>UNAVAILABLE</c> / <c>INVALID</c> (unregistered, unreachable) is paused with reason
/// <c>phone-unavailable</c> (source System; on a call it applies when the call ends), so no call
/// rings a dead phone; when the phone is back (any other known state), an agent paused for that
/// reason is ready again. An agent paused for another reason keeps that pause.
/// </summary>
public sealed partial class CallCenter
{
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

    private AcdInput? OnPhoneState(string server, string device, string state, DateTimeOffset at)
    {
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

    [LoggerMessage(EventId = 897, Level = LogLevel.Warning, Message = "Agent {AgentId}'s phone {Device} is {State} on {Server}: paused (phone-unavailable) until it is back")]
    private static partial void LogPhoneUnavailable(ILogger logger, string agentId, string device, string state, string server);

    [LoggerMessage(EventId = 898, Level = LogLevel.Information, Message = "Agent {AgentId}'s phone {Device} is back ({State}): ready again")]
    private static partial void LogPhoneBack(ILogger logger, string agentId, string device, string state);
}
