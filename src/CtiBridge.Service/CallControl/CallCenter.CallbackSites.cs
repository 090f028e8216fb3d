using System.Data.Common;
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
    /// (looked up, or still live here), else the owner agent's server; with none known, the first server and no
    /// site (any agent of the queue), as before several servers.
    /// </summary>
    private (StasisApp App, string? Site) CallbackServer(Callback callback, string? originServer)
    {
        var server = originServer
            ?? (callback.OriginCallId is { } origin && _calls.TryGetValue(origin, out var live) ? live.App.Server : null)
            ?? (callback.OwnerAgentId is { } owner && Sites is not null && _agents.TryGetValue(owner, out var agent) ? Sites.ServerOf(agent) : null);
        return server is not null && _apps.FirstOrDefault(a => string.Equals(a.Server, server, StringComparison.OrdinalIgnoreCase)) is { } own
            ? (own, own.Server)
            : (_apps[0], null);
    }

    [LoggerMessage(EventId = 1412, Level = LogLevel.Warning, Message = "Callback {CallbackId}: the server of its origin call {CallId} could not be read ({Reason}); placed from its owner's or the first server")]
    private static partial void LogCallbackOriginUnknown(ILogger logger, Guid callbackId, string callId, string reason);
}
