using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using CtiBridge.Asterisk.Ari.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Asterisk.Ari;

/// <summary>Where the events stream stands.</summary>
public enum AriEventConnectionState
{
    /// <summary><see cref="AriEventConnection.StartAsync"/> has not succeeded yet.</summary>
    NotStarted,

    /// <summary>The WebSocket is open and events flow.</summary>
    Connected,

    /// <summary>The WebSocket was lost; reconnect attempts run (forever, with backoff and jitter).</summary>
    Reconnecting,

    /// <summary>Disposed; the stream has ended.</summary>
    Stopped,
}

/// <summary>
/// The ARI events WebSocket (<c>/ari/events?app=...</c>, credentials in the <c>Authorization</c> header).
/// One reader per connection decodes frames into typed <see cref="Message"/>s and queues them, without
/// limit, into a channel that <see cref="ReadAllAsync"/> hands out in exact wire order; consumer code never
/// runs on the reader, so it may await REST calls while handling an event without stalling the socket.
/// A lost connection is replaced forever (exponential backoff with jitter on the <see cref="TimeProvider"/>),
/// and an <see cref="AriEventGap"/> marks where events may be missing. Pings keep idle connections honest.
/// </summary>
public sealed class AriEventConnection : IAsyncDisposable
{
    private readonly AriClientOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly AriMetrics _metrics;
    private readonly bool _ownsMetrics;
    private readonly string _authorization;
    private readonly Channel<Message> _events = System.Threading.Channels.Channel.CreateUnbounded<Message>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _lifetime = new();
    private readonly object _gate = new();
    private Task? _run;
    private Connection? _current;
    private int _consumers;
    private int _started;
    private bool _disposing;

    /// <summary>Creates the stream; nothing connects until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Connection settings; validated here.</param>
    /// <param name="timeProvider">Clock for keep-alive, timeouts and reconnect backoff; default system time.</param>
    /// <param name="loggerFactory">Logs (never the password); default none.</param>
    /// <param name="metrics">Instruments to record into; default a private <see cref="AriMetrics"/>.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public AriEventConnection(AriClientOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, AriMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("CtiBridge.Asterisk.Ari.AriEventConnection");
        _ownsMetrics = metrics is null;
        _metrics = metrics ?? new AriMetrics();
        _authorization = "Basic " + options.BasicCredentials();
    }

    /// <summary>Where the stream stands now.</summary>
    public AriEventConnectionState State { get; private set; } = AriEventConnectionState.NotStarted;

    /// <summary>When the current connection last received bytes (<see cref="TimeProvider.GetTimestamp"/> units); 0 when none.</summary>
    internal long LastReceivedTimestamp
    {
        get
        {
            lock (_gate)
            {
                return _current?.LastReceived ?? 0;
            }
        }
    }

    /// <summary>Random source for reconnect jitter (tests fix the seed).</summary>
    internal Random Jitter { get; set; } = Random.Shared;

    /// <summary>Raised on the run loop when a reconnect attempt is scheduled: attempt number and delay (tests advance fake time by it).</summary>
    internal event Action<int, TimeSpan>? ReconnectScheduled;

    /// <summary>
    /// Opens the WebSocket and starts the reader. Fails fast at start-up: a refused upgrade throws
    /// <see cref="AriWebSocketUpgradeException"/> (e.g. 401 bad password, 400 missing app), an unreachable
    /// Asterisk <see cref="AriConnectionException"/>, no answer within <see cref="AriClientOptions.ConnectTimeout"/>
    /// <see cref="AriTimeoutException"/>. Once started, every later loss is retried forever.
    /// </summary>
    /// <param name="cancellationToken">Cancels the first connect.</param>
    /// <returns>Completes when connected.</returns>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_lifetime.IsCancellationRequested, this);
        if (Interlocked.Exchange(ref _started, 1) == 1)
        {
            throw new InvalidOperationException("The ARI events stream is already started.");
        }

        Connection first;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
            first = await ConnectAsync(linked.Token);
        }
        catch
        {
            Volatile.Write(ref _started, 0);
            throw;
        }

        _run = Task.Run(() => RunAsync(first), CancellationToken.None);
    }

    /// <summary>
    /// The events, in the order Asterisk sent them, with <see cref="AriEventGap"/> items where the connection
    /// was replaced. One consumer at a time. Ends when the stream is disposed.
    /// </summary>
    /// <param name="cancellationToken">Stops this enumeration (the stream keeps running and buffering).</param>
    /// <returns>The messages.</returns>
    public async IAsyncEnumerable<Message> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _consumers, 1) == 1)
        {
            throw new InvalidOperationException("The ARI events stream already has a consumer; events are delivered once, in order, to one reader.");
        }

        try
        {
            var reader = _events.Reader;
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var message))
                {
                    _metrics.Queued(-1);
                    yield return message;
                }
            }
        }
        finally
        {
            Volatile.Write(ref _consumers, 0);
        }
    }

    /// <summary>Stops reconnecting, closes the WebSocket and ends <see cref="ReadAllAsync"/> after the queued events.</summary>
    /// <returns>Completes when the reader has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_lifetime.IsCancellationRequested)
        {
            return;
        }

        Volatile.Write(ref _disposing, true);
        Connection? current;
        lock (_gate)
        {
            current = _current;
        }

        // Close politely first (a close frame tells Asterisk this was deliberate), then stop everything.
        if (current is not null)
        {
            await current.CloseAsync();
        }

        await _lifetime.CancelAsync();

        if (_run is not null)
        {
            await _run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _events.Writer.TryComplete();
        State = AriEventConnectionState.Stopped;
        _lifetime.Dispose();
        if (_ownsMetrics)
        {
            _metrics.Dispose();
        }
    }

    /// <summary>
    /// Decodes a recorded <c>*.ws.raw</c> stream (upgrade answer, then server frames) with the same handshake
    /// and frame code as a live connection. Stops at the close frame or the end of the bytes.
    /// </summary>
    internal static async Task<List<Message>> DecodeRecordingAsync(PipeReader reader, int maxMessageBytes, CancellationToken cancellationToken)
    {
        await AriWebSocketHandshake.ReadResponseAsync(reader, expectedAccept: null, cancellationToken);
        var sink = new CollectingSink();
        var parser = new WebSocketFrameParser(maxMessageBytes);
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var open = parser.Process(ref buffer, sink);
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (!open || result.IsCompleted)
            {
                return sink.Messages;
            }
        }
    }

    private async Task RunAsync(Connection connection)
    {
        try
        {
            while (true)
            {
                var reason = await connection.RunAsync();
                lock (_gate)
                {
                    _current = null;
                }

                await connection.DisposeAsync();
                if (Volatile.Read(ref _disposing) || _lifetime.IsCancellationRequested)
                {
                    return;
                }

                var disconnectedAt = _timeProvider.GetUtcNow();
                State = AriEventConnectionState.Reconnecting;
                AriLog.EventsDisconnected(_logger, reason);
                var failed = 0;
                while (true)
                {
                    var delay = NextDelay(failed);
                    AriLog.EventsReconnectScheduled(_logger, failed + 1, delay.TotalMilliseconds);
                    _metrics.Reconnecting();
                    var wait = Task.Delay(delay, _timeProvider, _lifetime.Token);
                    ReconnectScheduled?.Invoke(failed + 1, delay);
                    await wait;
                    try
                    {
                        connection = await ConnectAsync(_lifetime.Token);
                        break;
                    }
                    catch (Exception e) when (!_lifetime.IsCancellationRequested)
                    {
                        failed++;
                        if (e is AriWebSocketUpgradeException refused)
                        {
                            AriLog.EventsUpgradeRejected(_logger, refused.StatusCode, refused.AsteriskMessage);
                        }
                        else
                        {
                            AriLog.EventsConnectFailed(_logger, failed, e.Message);
                        }
                    }
                }

                // Queued before the new connection reads anything: the gap sits exactly between old and new events.
                _metrics.Gap();
                Enqueue(new AriEventGap
                {
                    Type = AriEventGap.TypeName,
                    DisconnectedAt = disconnectedAt,
                    ReconnectedAt = _timeProvider.GetUtcNow(),
                    Reason = reason,
                    FailedAttempts = failed,
                });
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
            // Disposed while waiting to reconnect.
        }
        catch (Exception e)
        {
            // Not expected; the consumer must see it rather than a stream that quietly ends.
            _events.Writer.TryComplete(e);
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    private TimeSpan NextDelay(int failedAttempts)
    {
        var min = _options.ReconnectDelayMin.TotalMilliseconds;
        var max = _options.ReconnectDelayMax.TotalMilliseconds;
        var exponential = Math.Min(max, min * Math.Pow(2, Math.Min(failedAttempts, 30)));
        var spread = exponential * _options.ReconnectJitter * ((Jitter.NextDouble() * 2) - 1);
        return TimeSpan.FromMilliseconds(Math.Max(0, exponential + spread));
    }

    private async Task<Connection> ConnectAsync(CancellationToken cancellationToken)
    {
        var uri = AriWebSocketHandshake.EventsUri(_options);
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        Stream? stream = null;
        try
        {
            stream = await OpenTransportAsync(uri, _options.Tls, linked.Token);
            var key = AriWebSocketHandshake.NewKey();
            await stream.WriteAsync(AriWebSocketHandshake.BuildRequest(uri, _authorization, key), linked.Token);
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
            await AriWebSocketHandshake.ReadResponseAsync(reader, AriWebSocketHandshake.ComputeAccept(key), linked.Token);
            var connection = new Connection(this, stream, reader);
            lock (_gate)
            {
                _current = connection;
            }

            State = AriEventConnectionState.Connected;
            AriLog.EventsConnected(_logger, uri.GetLeftPart(UriPartial.Path), string.Join(',', _options.Applications));
            return connection;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietlyAsync(stream);
            throw new AriTimeoutException("GET", "/events", _options.ConnectTimeout);
        }
        catch (Exception e) when (e is SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            await DisposeQuietlyAsync(stream);
            throw new AriConnectionException($"Could not open the ARI events WebSocket at {uri.GetLeftPart(UriPartial.Path)}: {e.Message}", "GET", "/events", e);
        }
        catch
        {
            await DisposeQuietlyAsync(stream);
            throw;
        }
    }

    private static async Task<Stream> OpenTransportAsync(Uri uri, SslClientAuthenticationOptions? tls, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(uri.Host, uri.Port, cancellationToken);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (uri.Scheme == Uri.UriSchemeHttps)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                await ssl.AuthenticateAsClientAsync(
                    tls is null ? new SslClientAuthenticationOptions { TargetHost = uri.Host } : AriTls.ForHost(tls, uri.Host),
                    cancellationToken);
                stream = ssl;
            }

            return stream;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async ValueTask DisposeQuietlyAsync(Stream? stream)
    {
        if (stream is not null)
        {
            await stream.DisposeAsync();
        }
    }

    private void Enqueue(Message message)
    {
        if (_events.Writer.TryWrite(message))
        {
            _metrics.Queued(1);
        }
    }

    private sealed class CollectingSink : IWebSocketFrameSink
    {
        public List<Message> Messages { get; } = [];

        public void OnText(ReadOnlySpan<byte> payload) => Messages.Add(AriEventDecoder.Decode(payload));

        public void OnPing(ReadOnlySpan<byte> payload)
        {
        }

        public void OnPong()
        {
        }

        public void OnClose(int? statusCode, string reason)
        {
        }
    }

    /// <summary>One WebSocket connection: its reader loop and keep-alive loop.</summary>
    private sealed class Connection(AriEventConnection owner, Stream stream, PipeReader reader) : IWebSocketFrameSink, IAsyncDisposable
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly CancellationTokenSource _stop = CancellationTokenSource.CreateLinkedTokenSource(owner._lifetime.Token);
        private readonly WebSocketFrameParser _parser = new(owner._options.MaxMessageBytes);
        private long _lastReceivedTicks = owner._timeProvider.GetTimestamp();
        private string? _endReason;

        public long LastReceived => Volatile.Read(ref _lastReceivedTicks);

        /// <summary>Reads until the connection ends; returns why it ended.</summary>
        public async Task<string> RunAsync()
        {
            var keepAlive = KeepAliveAsync();
            try
            {
                while (true)
                {
                    var result = await reader.ReadAsync(_stop.Token);
                    var buffer = result.Buffer;
                    if (!buffer.IsEmpty)
                    {
                        Volatile.Write(ref _lastReceivedTicks, owner._timeProvider.GetTimestamp());
                    }

                    var open = _parser.Process(ref buffer, this);
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (!open)
                    {
                        return _endReason ?? "Asterisk closed the WebSocket";
                    }

                    if (result.IsCompleted)
                    {
                        // A partial frame left here is discarded: it was never delivered, so nothing is duplicated on reconnect.
                        return buffer.IsEmpty
                            ? "Asterisk closed the connection"
                            : $"the connection ended in the middle of a frame ({buffer.Length} bytes of it discarded)";
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return _endReason ?? "the events stream was stopped";
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever broke this connection (I/O, protocol, or a bug), the stream survives it: reconnect.
                return e is IOException or SocketException or AriWebSocketProtocolException or ObjectDisposedException
                    ? e.Message
                    : $"{e.GetType().Name}: {e.Message}";
            }
            finally
            {
                await _stop.CancelAsync();
                await keepAlive.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        public async Task CloseAsync()
        {
            // Bounded on its own: the stop token may already be cancelled, and a dead socket must not hold up shutdown.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2), owner._timeProvider);
            await SendAsync(WebSocketOpcode.Close, [0x03, 0xE8], timeout.Token);
            await _stop.CancelAsync();
        }

        public void OnText(ReadOnlySpan<byte> payload)
        {
            var message = AriEventDecoder.Decode(payload);
            double? lag = null;
            switch (message)
            {
                case Event e:
                    lag = (owner._timeProvider.GetUtcNow() - e.Timestamp).TotalSeconds;
                    break;
                case AriUndecodableMessage bad:
                    AriLog.EventUndecodable(owner._logger, bad.Error, payload.Length);
                    break;
                case AriUnknownMessage unknown:
                    AriLog.EventTypeUnknown(owner._logger, unknown.Type);
                    break;
            }

            owner._metrics.EventReceived(message.Type, lag);
            owner.Enqueue(message);
        }

        public void OnPing(ReadOnlySpan<byte> payload) => _ = SendAsync(WebSocketOpcode.Pong, payload.ToArray());

        public void OnPong()
        {
        }

        public void OnClose(int? statusCode, string reason)
        {
            _endReason = $"Asterisk closed the WebSocket ({statusCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no status"}{(reason.Length > 0 ? " " + reason : "")})";
            _ = SendAsync(WebSocketOpcode.Close, statusCode is null ? [] : [(byte)(statusCode >> 8), (byte)statusCode]);
        }

        public async ValueTask DisposeAsync()
        {
            await reader.CompleteAsync();
            await stream.DisposeAsync();
            _stop.Dispose();
            _writeLock.Dispose();
        }

        private async Task KeepAliveAsync()
        {
            // Timed from the last frame received, not on a fixed tick: on a tick, a connection whose last frame
            // came just after a tick looked not yet silent at the next one (no ping) and past the limit at the
            // one after, so an idle connection was replaced every ~30 s without ever being pinged.
            var interval = owner._options.PingInterval;
            var timeout = owner._options.PongTimeout;
            while (true)
            {
                var silent = owner._timeProvider.GetElapsedTime(Volatile.Read(ref _lastReceivedTicks));
                if (silent < interval)
                {
                    await Task.Delay(interval - silent, owner._timeProvider, _stop.Token);
                    continue;
                }

                // The wait is set before the ping goes, so a pong however quick is after it.
                var pingedAt = owner._timeProvider.GetTimestamp();
                var wait = Task.Delay(timeout, owner._timeProvider, _stop.Token);
                await SendAsync(WebSocketOpcode.Ping, "ctibridge"u8.ToArray());
                await wait;
                if (Volatile.Read(ref _lastReceivedTicks) < pingedAt)
                {
                    silent = owner._timeProvider.GetElapsedTime(Volatile.Read(ref _lastReceivedTicks));
                    AriLog.EventsPongMissing(owner._logger, silent.TotalMilliseconds);
                    _endReason = $"no frame (not even a pong) for {silent.TotalSeconds:0.#} s";
                    await _stop.CancelAsync();
                    return;
                }
            }
        }

        private Task SendAsync(WebSocketOpcode opcode, byte[] payload) => SendAsync(opcode, payload, _stop.Token);

        private async Task SendAsync(WebSocketOpcode opcode, byte[] payload, CancellationToken cancellationToken)
        {
            var frame = WebSocketFrameParser.BuildClientFrame(opcode, payload);
            try
            {
                await _writeLock.WaitAsync(cancellationToken);
                try
                {
                    await stream.WriteAsync(frame, cancellationToken);
                    await stream.FlushAsync(cancellationToken);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // A failed control write means the connection is going away; the reader notices and reconnects.
            }
        }
    }
}
