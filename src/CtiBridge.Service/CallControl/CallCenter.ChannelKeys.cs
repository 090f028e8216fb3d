namespace CtiBridge.Service.CallControl;

/// <summary>
/// Channels are known by their server and id together (docs/sites.md): Asterisk numbers channels
/// <c>[systemname-]epoch.seq</c> with a counter of its own, so two servers without a systemname can give two
/// callers the same id in the same second. Known by id alone, the second caller was taken for the other
/// server's call and dropped. Every leg in <c>_channels</c> is on its call's server (agents on other sites
/// are rung from the caller's server through its trunk, a pickup is refused across servers), so a leg's key
/// is its call's server and the id; an event's key is the server whose Stasis app delivered it.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>A channel as call control knows it: ids are unique only on their own Asterisk server.</summary>
    /// <param name="Server">The server's name (<c>asterisk[].name</c>, as its <see cref="StasisApp.Server"/>).</param>
    /// <param name="Id">The channel's id on that server.</param>
    private readonly record struct ChannelKey(string Server, string Id);

    /// <summary>The key of channel <paramref name="channelId"/> on <paramref name="app"/>'s server.</summary>
    private static ChannelKey On(StasisApp app, string channelId) => new(app.Server, channelId);

    /// <summary>
    /// A new caller whose channel id another server's call also has: both are served (the keys differ), but the
    /// servers share a systemname (or have none), which makes Asterisk's own records (CDRs, queue_log, CEL) and the
    /// logs ambiguous between them: said once per clash, naming both servers (check-asterisk's system-name line).
    /// </summary>
    private void WarnOfChannelIdClash(StasisApp app, string channelId)
    {
        foreach (var other in _apps)
        {
            if (other != app && _channels.TryGetValue(On(other, channelId), out var leg))
            {
                LogChannelIdClash(_logger, channelId, app.Server, other.Server, leg.Session.CallId);
                return;
            }
        }
    }

    [LoggerMessage(EventId = 815, Level = LogLevel.Warning, Message = "Inbound channel {ChannelId} on server {Server} has the id of a channel of call {CallId} on server {OtherServer}: both calls are served (channels are known by server and id), but give every Asterisk server its own asterisk.conf systemname, or Asterisk's own records of the two servers cannot be told apart (see 'ctibridge check-asterisk')")]
    private static partial void LogChannelIdClash(ILogger logger, string channelId, string server, string otherServer, string callId);
}
