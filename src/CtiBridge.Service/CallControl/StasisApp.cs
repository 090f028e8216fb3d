using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// The Stasis application on one Asterisk server: its events WebSocket, read by one loop that hands
/// every event, in wire order, to the <see cref="CallCenter"/>.
/// </summary>
public sealed partial class StasisApp : IAsyncDisposable
{
    private readonly AriEventConnection _events;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private bool _recovered;

    /// <summary>Creates the app for one server (nothing connects until <see cref="RunAsync"/>).</summary>
    public StasisApp(string server, string application, AriClient ari, AriClientOptions options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Server = server;
        Name = application;
        Ari = ari;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger<StasisApp>();
        _events = new AriEventConnection(options, timeProvider, loggerFactory);
    }

    /// <summary>The configured server name.</summary>
    public string Server { get; }

    /// <summary>The Stasis application name (<c>ctibridge</c>).</summary>
    public string Name { get; }

    /// <summary>The server's REST client.</summary>
    public AriClient Ari { get; }

    /// <summary>Whether the events WebSocket is connected (readiness reports it).</summary>
    public AriEventConnectionState EventsState => _events.State;

    /// <summary>
    /// Whether the calls and agents found at start were adopted and events are forwarded (readiness waits
    /// for it: until then a takeover has not restored the agents nor rung anybody).
    /// </summary>
    public bool Recovered => Volatile.Read(ref _recovered);

    /// <summary>Connects (retrying until Asterisk answers) and feeds events to <paramref name="center"/> until stopped.</summary>
    public async Task RunAsync(CallCenter center, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(center);
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await _events.StartAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (AriException ex)
            {
                // After the first success the connection reconnects by itself; until then, we retry here.
                LogStartFailed(_logger, Server, Name, ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
            }
        }

        LogStarted(_logger, Server, Name);

        // Before any event is forwarded: adopt the calls already in the app and restore agents
        // (restart, HA takeover); an event for an adopted channel then always comes after its adoption.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await center.RecoverAsync(this, cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _recovered, true);
                break;
            }
            catch (Exception ex) when (ex is AriException or HttpRequestException or Npgsql.NpgsqlException && attempt < 5)
            {
                LogRecoveryFailed(_logger, Server, ex.Message, attempt);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
            }
        }

        await foreach (var message in _events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            center.Post(this, message);
        }
    }

    /// <summary>Hangs up a channel no call owns, without waiting (failures are logged).</summary>
    internal void Release(string channelId, string reason) => _ = ReleaseAsync(channelId, reason);

    private async Task ReleaseAsync(string channelId, string reason)
    {
        try
        {
            await Ari.Channels.HangupAsync(channelId, reason: reason).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AriException or HttpRequestException)
        {
            LogReleaseFailed(_logger, channelId, ex.Message);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _events.DisposeAsync();

    [LoggerMessage(EventId = 830, Level = LogLevel.Information, Message = "Stasis app {App} on Asterisk server {Server} receives events")]
    private static partial void LogStarted(ILogger logger, string server, string app);

    [LoggerMessage(EventId = 831, Level = LogLevel.Warning, Message = "Stasis app {App} on Asterisk server {Server} could not connect ({Reason}); retrying in {Seconds} s")]
    private static partial void LogStartFailed(ILogger logger, string server, string app, string reason, double seconds);

    [LoggerMessage(EventId = 833, Level = LogLevel.Error, Message = "Recovering the calls of Asterisk server {Server} failed (attempt {Attempt}): {Reason}; retrying")]
    private static partial void LogRecoveryFailed(ILogger logger, string server, string reason, int attempt);

    [LoggerMessage(EventId = 832, Level = LogLevel.Debug, Message = "Releasing channel {ChannelId} failed: {Reason}")]
    private static partial void LogReleaseFailed(ILogger logger, string channelId, string reason);
}
