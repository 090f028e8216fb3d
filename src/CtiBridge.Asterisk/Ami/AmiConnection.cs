using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// One AMI socket: one reader loop (parses, correlates, queues events; never runs user code),
/// one writer loop fed by a bounded channel, an optional keep-alive loop. The first failure
/// breaks it (<see cref="Break"/>): every pending action fails with that reason, and the
/// owning <see cref="AmiClient"/> reconnects with a new instance.
/// </summary>
internal sealed class AmiConnection : IAsyncDisposable
{
    private readonly AmiClient _client;
    private readonly AmiClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AmiMetrics _metrics;
    // Keyed by the counter part of the ActionID: the reader finds the action from the response's
    // bytes without making a string of the ActionID.
    private readonly ConcurrentDictionary<long, AmiPendingAction> _pending = new();
    private readonly AmiActionTimeouts _timeouts;
    private readonly Channel<AmiPendingAction> _writeQueue;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<string> _banner = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _prefix;
    private readonly byte[] _prefixBytes;
    private long _counter;
    private int _pendingCount;
    private Exception? _breakReason;
    private Socket? _socket;
    private Stream? _stream;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private Task _pingLoop = Task.CompletedTask;

    public AmiConnection(AmiClient client, int number, AmiClientOptions options, TimeProvider time, ILogger logger, AmiMetrics metrics)
    {
        _client = client;
        Number = number;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _writeQueue = Channel.CreateBounded<AmiPendingAction>(new BoundedChannelOptions(options.WriteQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        // Unique per connection and per client, so an ActionID can never match across connections.
        _prefix = string.Create(CultureInfo.InvariantCulture, $"{client.InstanceTag}.{number}-");
        _prefixBytes = Encoding.ASCII.GetBytes(_prefix);
        _timeouts = new AmiActionTimeouts(time, () => PendingCount);
    }

    public int Number { get; }

    public string? ProtocolVersion { get; private set; }

    public int PendingCount => Volatile.Read(ref _pendingCount);

    public int TimeoutEntries => _timeouts.Count;

    /// <summary>Completes with the reason once the connection is broken.</summary>
    public Task<Exception> Closed => _closed.Task;

    public bool IsBroken => Volatile.Read(ref _breakReason) is not null;

    /// <summary>Connects, reads the banner and logs in; throws (and breaks) on any failure.</summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token, _stop.Token);
        var token = linked.Token;
        try
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _socket = socket;
            await socket.ConnectAsync(_options.Host, _options.Port, token);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (_options.Tls is { } tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                var settings = new SslClientAuthenticationOptions
                {
                    TargetHost = tls.TargetHost ?? _options.Host,
                    RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback,
                    ClientCertificates = tls.ClientCertificates,
                    EnabledSslProtocols = tls.EnabledSslProtocols,
                    CertificateRevocationCheckMode = tls.CertificateRevocationCheckMode,
                };
                _stream = stream;
                await ssl.AuthenticateAsClientAsync(settings, token);
            }

            _stream = stream;
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(
                bufferSize: _options.ReceiveBufferSize, minimumReadSize: Math.Min(4096, _options.ReceiveBufferSize), leaveOpen: true));
            _readLoop = Task.Run(() => ReadLoopAsync(reader), CancellationToken.None);
            _writeLoop = Task.Run(WriteLoopAsync, CancellationToken.None);

            ProtocolVersion = await _banner.Task.WaitAsync(token);
            await LoginAsync(token);
            if (_options.PingInterval > TimeSpan.Zero)
            {
                // Called directly: its first timer exists before the client reports Connected.
                _pingLoop = KeepAliveLoopAsync();
            }
        }
        catch (Exception ex)
        {
            var reason = ex;
            if (ex is OperationCanceledException && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                reason = new AmiConnectionException(
                    $"AMI connect and login to {_options.Host}:{_options.Port} did not complete within {_options.ConnectTimeout}.");
            }
            else if (ex is OperationCanceledException && Volatile.Read(ref _breakReason) is { } broke)
            {
                reason = new AmiConnectionException(
                    $"AMI connection to {_options.Host}:{_options.Port} broke during login: {broke.Message}", broke);
            }

            Break(reason);
            if (ReferenceEquals(reason, ex))
            {
                throw;
            }

            throw reason;
        }
    }

    /// <summary>Queues an action; completes with its answer, or fails (timeout, break, cancellation).</summary>
    public Task<AmiListResult> SendAsync(AmiAction action, AmiAnswerKind kind, string? awaitedEvent, CancellationToken cancellationToken, bool isLogin = false)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<AmiListResult>(cancellationToken);
        }

        if (Volatile.Read(ref _breakReason) is { } reason)
        {
            return Task.FromException<AmiListResult>(NotConnected(reason));
        }

        var key = Interlocked.Increment(ref _counter);
        var id = string.Concat(_prefix, key.ToString(CultureInfo.InvariantCulture));
        var pending = new AmiPendingAction(this, action, key, id, kind, awaitedEvent, action.Timeout ?? _options.ActionTimeout) { IsLogin = isLogin };
        _pending[key] = pending;
        Interlocked.Increment(ref _pendingCount);
        _client.ReleaseReader();
        // Break() may have swept the table just before the add above.
        if (Volatile.Read(ref _breakReason) is { } late && TryTakePending(key, out _))
        {
            return Task.FromException<AmiListResult>(NotConnected(late));
        }

        if (!_writeQueue.Writer.TryWrite(pending))
        {
            return QueueSlowlyAsync(pending, cancellationToken);
        }

        // The common case allocates no async state of its own: the caller awaits the action itself.
        return cancellationToken.CanBeCanceled ? AwaitCancellableAsync(pending, cancellationToken) : pending.Task;
    }

    private async Task<AmiListResult> QueueSlowlyAsync(AmiPendingAction pending, CancellationToken cancellationToken)
    {
        try
        {
            await _writeQueue.Writer.WriteAsync(pending, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            TryTakePending(pending.Key, out _);
            throw NotConnected(Volatile.Read(ref _breakReason));
        }
        catch (OperationCanceledException)
        {
            TryTakePending(pending.Key, out _);
            throw;
        }

        return await AwaitCancellableAsync(pending, cancellationToken);
    }

    private static async Task<AmiListResult> AwaitCancellableAsync(AmiPendingAction pending, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return await pending.Task;
        }

        using var registration = cancellationToken.UnsafeRegister(
            static (state, token) => ((AmiPendingAction)state!).Cancel(token), pending);
        return await pending.Task;
    }

    public bool TryTakePending(long key, out AmiPendingAction? pending)
    {
        if (_pending.TryRemove(key, out pending))
        {
            Interlocked.Decrement(ref _pendingCount);
            return true;
        }

        return false;
    }

    public AmiActionTimeoutException CreateTimeoutException(AmiPendingAction action)
    {
        AmiLog.ActionTimedOut(_logger, action.Action.Name, action.ActionId, action.Timeout);
        return new AmiActionTimeoutException(
            $"AMI action {action.Action.Name} (ActionID {action.ActionId}) got no complete answer within {action.Timeout} " +
            $"of being written to {_options.Host}:{_options.Port} (connection {Number}, {PendingCount} other actions pending" +
            (action.Response is null ? ")." : $", response received, {action.Items?.Count ?? 0} list items so far)."));
    }

    /// <summary>Breaks the connection once: the first reason wins; every pending action fails with it.</summary>
    public void Break(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _breakReason, reason, null) is not null)
        {
            return;
        }

        _stop.Cancel();
        _writeQueue.Writer.TryComplete();
        FailPending(reason);
        _banner.TrySetException(NotConnected(reason));
        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed by the peer: nothing left to shut down.
        }

        _closed.TrySetResult(reason);
    }

    /// <summary>Fails every pending action with <paramref name="reason"/>; the connection stays up (dispose, before Logoff).</summary>
    public void FailPending(Exception reason)
    {
        var error = NotConnected(reason);
        foreach (var key in _pending.Keys)
        {
            if (TryTakePending(key, out var pending))
            {
                pending!.Fail(error);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Break(new ObjectDisposedException(nameof(AmiClient), "The AMI client was disposed."));
        try
        {
            await Task.WhenAll(_readLoop, _writeLoop, _pingLoop);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
            // The loops end by these when the socket closes under them; the reason is recorded already.
        }

        if (_stream is not null)
        {
            await _stream.DisposeAsync();
        }

        _socket?.Dispose();
        _timeouts.Dispose();
        _stop.Dispose();
    }

    private AmiConnectionException NotConnected(Exception? reason) =>
        reason is null
            ? new AmiConnectionException($"AMI connection {Number} to {_options.Host}:{_options.Port} is closed.")
            : new AmiConnectionException($"AMI connection {Number} to {_options.Host}:{_options.Port} broke: {reason.Message}", reason);

    private async Task LoginAsync(CancellationToken cancellationToken)
    {
        AmiAction login;
        if (_options.Authentication == AmiAuthentication.Md5)
        {
            var challenge = await SendAsync(new AmiAction("Challenge").Add("AuthType", "MD5"), AmiAnswerKind.Response, null, cancellationToken);
            if (!challenge.Response.IsSuccess || challenge.Response["Challenge"] is not { Length: > 0 } text)
            {
                throw LoginRefused(challenge.Response);
            }

#pragma warning disable CA5351 // AMI's challenge-response is defined as MD5; it is not our choice of hash.
            var key = Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text + _options.Secret)));
#pragma warning restore CA5351
            login = new AmiAction("Login") { IsSensitive = true }
                .Add("AuthType", "MD5").Add("Username", _options.Username).Add("Key", key);
        }
        else
        {
            login = new AmiAction("Login") { IsSensitive = true }
                .Add("Username", _options.Username).Add("Secret", _options.Secret);
        }

        login.Add("Events", _options.Events);
        var answer = await SendAsync(login, AmiAnswerKind.Response, null, cancellationToken, isLogin: true);
        if (!answer.Response.IsSuccess)
        {
            throw LoginRefused(answer.Response);
        }
    }

    private AmiLoginException LoginRefused(AmiMessage response)
    {
        AmiLog.LoginRefused(_logger, _options.Host, _options.Port, _options.Username, response.Text);
        return new AmiLoginException(
            $"Asterisk at {_options.Host}:{_options.Port} refused the AMI login of user '{_options.Username}': {response.Text ?? response.Response ?? "no reason given"}.");
    }

    private async Task ReadLoopAsync(PipeReader reader)
    {
        var parser = new AmiFrameParser(_options.MaxLineLength, _options.MaxMessageLength);
        Exception reason;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_stop.Token);
                var buffer = result.Buffer;
                var events = 0;
                var keepReading = true;
                try
                {
                    while (keepReading && parser.TryRead(ref buffer, out var frame))
                    {
                        if (frame.IsBanner)
                        {
                            _banner.TrySetResult(frame.Banner!);
                            continue;
                        }

                        if (!_banner.Task.IsCompleted)
                        {
                            throw new AmiProtocolException(
                                $"{_options.Host}:{_options.Port} did not start with an AMI banner (\"Asterisk Call Manager/...\"); the first message was: {Truncate(frame.Message!)}");
                        }

                        keepReading = Dispatch(frame.Message!, ref events);
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (events > 0)
                    {
                        // Consumers are woken once per socket read, after the whole batch is queued.
                        _client.FlushEvents();
                        _metrics.EventsReceived.Add(events);
                    }
                }

                if (!keepReading)
                {
                    return;
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    reason = parser.HasPartialMessage || !buffer.IsEmpty
                        ? new AmiConnectionException($"{_options.Host}:{_options.Port} closed the AMI connection in the middle of a message.")
                        : new AmiConnectionException($"{_options.Host}:{_options.Port} closed the AMI connection.");
                    break;
                }

                await _client.PaceReaderAsync(this, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex) when (IsBroken)
        {
            // Broken elsewhere (keep-alive, dispose): the socket error is only the consequence.
            _ = ex;
            return;
        }
        catch (Exception ex)
        {
            reason = ex;
        }
        finally
        {
            await reader.CompleteAsync();
        }

        Break(reason);
    }

    /// <summary>Routes one message; false when the connection must stop reading (backlog overflow).</summary>
    private bool Dispatch(AmiMessage message, ref int events)
    {
        if (!message.IsEvent)
        {
            if (TryFindPending(message, out var pending))
            {
                OnResponse(pending, message);
            }
            else
            {
                AmiLog.UnmatchedResponseDropped(_logger, message.ActionId, message.Response, message.Text);
            }

            return true;
        }

        events++;
        if (Volatile.Read(ref _pendingCount) > 0 &&
            TryFindPending(message, out var owner) &&
            owner.Response is not null &&
            OnActionEvent(owner, message))
        {
            return true;
        }

        return _client.DeliverEvent(this, message);
    }

    /// <summary>The pending action a message's ActionID names, if it is one of this connection's.</summary>
    private bool TryFindPending(AmiMessage message, [NotNullWhen(true)] out AmiPendingAction? pending)
    {
        pending = null;
        if (!message.TryGetValueBytes("ActionID", out var id) || !id.StartsWith(_prefixBytes))
        {
            return false;
        }

        return Utf8Parser.TryParse(id[_prefixBytes.Length..], out long key, out var consumed) &&
               consumed == id.Length - _prefixBytes.Length &&
               _pending.TryGetValue(key, out pending);
    }

    private void OnResponse(AmiPendingAction pending, AmiMessage response)
    {
        var collects = pending.Kind switch
        {
            AmiAnswerKind.List => response.IsSuccess && string.Equals(response["EventList"], "start", StringComparison.OrdinalIgnoreCase),
            AmiAnswerKind.ResponseThenEvent => response.IsSuccess,
            _ => false,
        };
        if (collects)
        {
            pending.Response = response;
            return;
        }

        if (!TryTakePending(pending.Key, out _))
        {
            return;
        }

        if (pending.IsLogin && response.IsSuccess)
        {
            // On the reader, before the next message: the resync signal must precede this connection's events.
            _client.OnLoggedIn(this);
        }

        pending.Complete(new AmiListResult(response, [], null));
    }

    /// <summary>A list item, list end or awaited event for a pending action; false to treat it as a plain event.</summary>
    private bool OnActionEvent(AmiPendingAction pending, AmiMessage message)
    {
        if (pending.Kind == AmiAnswerKind.List)
        {
            if (string.Equals(message["EventList"], "Complete", StringComparison.OrdinalIgnoreCase))
            {
                if (TryTakePending(pending.Key, out _))
                {
                    pending.Complete(new AmiListResult(pending.Response!, (IReadOnlyList<AmiMessage>?)pending.Items ?? [], message));
                }
            }
            else
            {
                (pending.Items ??= []).Add(message);
            }

            return true;
        }

        if (pending.Kind == AmiAnswerKind.ResponseThenEvent &&
            string.Equals(message.EventName, pending.AwaitedEvent, StringComparison.OrdinalIgnoreCase) &&
            TryTakePending(pending.Key, out _))
        {
            pending.Complete(new AmiListResult(pending.Response!, [], message));
        }

        // The awaited event (OriginateResponse) is also an ordinary event for subscribers.
        return false;
    }

    private async Task WriteLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        var written = new List<AmiPendingAction>();
        var reader = _writeQueue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token))
            {
                // Batch whatever is queued into one write: fewer syscalls with many actions in flight.
                while (buffer.WrittenCount < 64 * 1024 && reader.TryRead(out var pending))
                {
                    if (pending.Task.IsCompleted)
                    {
                        continue;
                    }

                    pending.Action.WriteTo(buffer, pending.ActionId);
                    written.Add(pending);
                }

                if (written.Count == 0)
                {
                    continue;
                }

                // Timeouts start as the batch goes to the socket (not while queued); arming them
                // just before the write means an answer can never beat its own timer.
                _timeouts.Arm(written);

                // Counted as the batch goes to the socket: Asterisk may answer before this loop resumes
                // after the write, and the counter must already include an action whose answer was seen.
                _metrics.ActionsSent.Add(written.Count);
                await _stream!.WriteAsync(buffer.WrittenMemory, _stop.Token);
                buffer.ResetWrittenCount();

                written.Clear();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Broken: Break() fails whatever was queued.
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Break(new AmiConnectionException($"Writing to {_options.Host}:{_options.Port} failed: {ex.Message}", ex));
        }
    }

    private async Task KeepAliveLoopAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(_options.PingInterval, _time, _stop.Token);
                try
                {
                    await SendAsync(new AmiAction("Ping") { Timeout = _options.PingTimeout }, AmiAnswerKind.Response, null, _stop.Token);
                }
                catch (AmiActionTimeoutException)
                {
                    AmiLog.KeepAliveFailed(_logger, _options.Host, _options.Port, _options.PingTimeout);
                    Break(new AmiConnectionException(
                        $"{_options.Host}:{_options.Port} did not answer the keep-alive Ping within {_options.PingTimeout}; the peer is presumed dead."));
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or AmiConnectionException)
        {
            // The connection ended; the reason is recorded by Break().
        }
    }

    private static string Truncate(AmiMessage message)
    {
        var text = message.ToString().Replace("\r\n", " | ", StringComparison.Ordinal);
        return text.Length <= 200 ? text : text[..200] + "...";
    }
}
