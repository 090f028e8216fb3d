using System.Data.Common;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Callbacks with several Asterisk servers (issue 14, docs/sites.md): a callback is placed from its own
/// server — the one its origin call came in on (an abandoned caller, a caller who asked in the queue), else
/// its owner agent's phone's server — through that server's carrier (<c>asterisk[].externalEndpoint</c>).
/// It then follows the same site rules as a call that came in there: a queue that does not span servers
/// offers it only to that server's agents; a spanning one also to others, rung over the trunk.
/// </summary>
public sealed partial class CallCenter
{
    // Calls ended here lately and their servers: an abandoned caller's callback is usually due before the call's
    // record reaches PostgreSQL. Written by the loop, read by OfferCallbackAsync; bounded, oldest forgotten first.
    private const int RecentCallServersKept = 10_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _recentCallServers = new(StringComparer.Ordinal);
    private readonly Queue<string> _recentCallOrder = new();

    /// <summary>Remembers the server of a call (not a callback's own) that ended here: its callback is placed from there.</summary>
    private void RememberCallServer(CallSession session)
    {
        if (session.Placed is not null || Sites is not { Servers.Count: > 1 } || !_recentCallServers.TryAdd(session.CallId, session.App.Server))
        {
            return;
        }

        _recentCallOrder.Enqueue(session.CallId);
        if (_recentCallOrder.Count > RecentCallServersKept)
        {
            _recentCallServers.TryRemove(_recentCallOrder.Dequeue(), out _);
        }
    }

    /// <summary>
    /// The server the callback's origin call was on: ended here lately, else as recorded (one lookup per due callback,
    /// with several servers only); null when there is one server, no origin call, no record (yet), or PostgreSQL does not answer.
    /// </summary>
    private async Task<string?> OriginServerAsync(Callback callback, CancellationToken cancellationToken)
    {
        if (Sites is not { Servers.Count: > 1 } || callback.OriginCallId is not { } origin)
        {
            return null;
        }

        if (_recentCallServers.TryGetValue(origin, out var recent))
        {
            return recent;
        }

        if (LiveState is not { } store)
        {
            return null;
        }

        try
        {
            return await store.CallServerAsync(origin, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DbException or TimeoutException)
        {
            // Placed all the same, from the owner's or the first server: a callback is never held back for this.
            LogCallbackOriginUnknown(_logger, callback.Id, origin, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// The app (server) to place the callback through, and the site it is routed as: the origin call's server
    /// (looked up, or still live here), else the owner agent's server; with none known (a callback made over the
    /// API for a number that never called), the connected server that serves the callback's queue best
    /// (<see cref="ServingServer"/>). With one server, that server and no site.
    /// </summary>
    private (StasisApp App, string? Site) CallbackServer(Callback callback, string? originServer)
    {
        // The server a hand-off named binds only when servers are split; without a split it only addressed the
        // hand-off from a standby to the active instance, which controls every server and picks the best one.
        var server = (_controlled is not null ? callback.PlacedFrom : null) ?? originServer
            ?? (callback.OriginCallId is { } origin && _calls.TryGetValue(origin, out var live) ? live.App.Server : null)
            ?? (callback.OwnerAgentId is { } owner && Sites is not null && _agents.TryGetValue(owner, out var agent) ? Sites.ServerOf(agent) : null);
        if (server is not null && _apps.FirstOrDefault(a => string.Equals(a.Server, server, StringComparison.OrdinalIgnoreCase)) is { } own)
        {
            return (own, own.Server);
        }

        if (Sites is not { Servers.Count: > 1 } || _apps.Count < 2)
        {
            return (_apps[0], null);
        }

        var serving = ServingServer(callback.Queue);
        LogCallbackServerChosen(_logger, callback.Id, callback.Queue, serving.Server);
        return (serving, serving.Server);
    }

    /// <summary>
    /// The server a callback with no server of its own is placed from: of the servers whose Stasis app is connected
    /// (one that is down could not dial), the one with most of the queue's agents logged in, then most of its agents
    /// configured, then the first in <c>asterisk[]</c>. The customer is thus dialled where the agents who will take
    /// the call are (no trunk between sites needed, and a queue that does not span servers can be served at all);
    /// only when no server is connected is it the first server, as before, and the dial fails and is retried.
    /// </summary>
    private StasisApp ServingServer(string queue)
    {
        var loggedIn = _engine.GetAgents().Where(a => a.State != AgentState.LoggedOut && a.Queues.Any(m => string.Equals(m.Queue, queue, StringComparison.Ordinal)))
            .Select(a => a.AgentId).ToHashSet(StringComparer.Ordinal);
        var best = _apps[0];
        (bool Connected, int LoggedIn, int Configured) bestScore = (false, -1, -1);
        foreach (var app in _apps)
        {
            var members = _agents.Values.Where(a => a.Queues.Contains(queue, StringComparer.Ordinal) && Sites!.ServerOf(a) is { } own
                && string.Equals(own, app.Server, StringComparison.OrdinalIgnoreCase)).ToList();
            var score = (app.EventsState == AriEventConnectionState.Connected, members.Count(a => loggedIn.Contains(a.Id)), members.Count);
            if (score.CompareTo(bestScore) > 0)
            {
                (best, bestScore) = (app, score);
            }
        }

        return best;
    }

    [LoggerMessage(EventId = 1413, Level = LogLevel.Information, Message = "Callback {CallbackId} has no origin call and no owner: placed from server {Server}, connected and serving queue {Queue} best")]
    private static partial void LogCallbackServerChosen(ILogger logger, Guid callbackId, string queue, string server);

    [LoggerMessage(EventId = 1412, Level = LogLevel.Warning, Message = "Callback {CallbackId}: the server of its origin call {CallId} could not be read ({Reason}); placed from its owner's or the first server")]
    private static partial void LogCallbackOriginUnknown(ILogger logger, Guid callbackId, string callId, string reason);
}
