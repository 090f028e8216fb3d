using CtiBridge.Asterisk.Ari;
using CtiBridge.Data.LiveState;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Callers at the very start of a call across a restart or an HA takeover (issue 8): still in the customer lookup,
/// or blocked (blacklist) and hearing the blocked prompt. Both are in <c>live_ivr_calls</c> (stages <c>lookup</c> and
/// <c>blocked</c>), so the adopter carries them on under the same call id: the lookup is asked again and the call goes
/// where its answer says (the DID's plan, agent or queue as configured now); a blocked caller hears the blocked prompt
/// again (the previous owner's is stopped first) and is released, one call row <c>blocked</c>. Before, each came back
/// as a new inbound call: a second call id, and a blocked caller looked up and blocked again.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Looks the caller up (off the loop) and goes on with <see cref="Entered"/>; without a lookup, at once.</summary>
    private void LookUpCaller(CallSession session, string did, DateTimeOffset at)
    {
        if (_lookup is null)
        {
            Entered(session, CustomerInfo.Unknown, at);
            return;
        }

        // A restart before the answer finds the caller here, not as a new call.
        StoreIvrState(session, LiveIvrStage.Lookup, at);
        var lookup = _lookup;
        session.Run("customer lookup", async ct =>
        {
            var info = await lookup.LookupAsync(session.Caller.CallerNumber, did, ct).ConfigureAwait(false);
            Post(when =>
            {
                Entered(session, info, when);
                return null;
            });
        });
    }

    /// <summary>The caller was in the lookup: the DID's route as configured now, and the lookup again.</summary>
    private void ResumeLookup(CallSession session, DateTimeOffset at)
    {
        var did = session.Caller.Did ?? string.Empty;
        var routes = _routes;
        routes.PlanByDid.TryGetValue(did, out var plan);
        routes.AgentByDid.TryGetValue(did, out var agentRoute);
        string? queue = agentRoute?.Queue;
        if (agentRoute is null && plan is null && !routes.QueueByDid.TryGetValue(did, out queue))
        {
            // Routed no more (a reload took the DID away meanwhile): released, as a new call to it would be.
            LogUnknownDid(_logger, did, session.CallerChannelId);
            EndSession(session);
            return;
        }

        session.Plan = plan;
        session.AgentRoute = agentRoute;
        session.Queue = queue ?? string.Empty;
        session.Caller = session.Caller with { Language = session.Caller.Language ?? plan?.Language };
        LookUpCaller(session, did, at);
    }

    /// <summary>A blocked caller: the previous owner's prompt stopped, the blocked prompt again, then released.</summary>
    private void ResumeBlocked(CallSession session, string? previousPrompt, DateTimeOffset at)
    {
        StopPreviousPrompt(session, previousPrompt);
        Leave(session, _settings.CustomerLookup?.BlockedPrompt);
        if (!session.Ended)
        {
            StoreIvrState(session, LiveIvrStage.Blocked, at); // the prompt playing now, for a next adopter to stop
        }
    }

    /// <summary>Stops the previous owner's prompt, if still playing: Asterisk queues playbacks on a channel, so it would go first.</summary>
    private static void StopPreviousPrompt(CallSession session, string? previousPrompt)
    {
        if (previousPrompt is null)
        {
            return;
        }

        var ari = session.App.Ari;
        session.Run("stop the previous prompt", async ct =>
        {
            try
            {
                await ari.Playbacks.StopAsync(previousPrompt, ct).ConfigureAwait(false);
            }
            catch (AriRequestException ex) when (ex.StatusCode == 404)
            {
            }
        });
    }
}
