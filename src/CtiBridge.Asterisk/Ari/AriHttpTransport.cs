using System.Buffers;
using System.Threading.Tasks.Sources;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// The REST client's own HTTP/1.1 transport: a pool of keep-alive connections to one Asterisk, one
/// request at a time per connection (the default; HTTP pipelining is the option
/// <see cref="AriPipelinedTransport"/>, see <see cref="AriClientOptions.MaxPipelineDepth"/>). It exists for issue 5's cost per call: HttpClient's request and
/// response objects, header collections and connection pool cost about as much CPU per call as the
/// kernel's loopback work itself. Here a request is one buffer written with one send (request line,
/// precomputed Host/Authorization/Accept lines, body), and the answer's head is scanned in place for
/// the three headers that matter (Content-Length, Transfer-Encoding, Connection).
/// <para>
/// Behaviour kept from SocketsHttpHandler: at most <see cref="AriClientOptions.MaxConnections"/>
/// connections (more calls wait for one), <see cref="AriClientOptions.ConnectTimeout"/> per connect,
/// TLS with <see cref="AriClientOptions.Tls"/>, connections replaced after 5 minutes, an idle
/// connection the server has closed is not used again, and a request
/// sent on a reused connection that the server had already closed (no byte of answer) is sent once
/// more on a new connection, as SocketsHttpHandler does: Asterisk closes idle HTTP sessions after
/// http.conf's <c>session_inactivity</c> (30 s by default).
/// </para>
/// </summary>
internal sealed class AriHttpTransport : IAriRestTransport
{
    // Largest answer head accepted (SocketsHttpHandler's default MaxResponseHeadersLength is 64 KiB).
    private const int MaxHeadBytes = 64 * 1024;

    // Largest body read into a pooled buffer; a larger one (a recording's file) gets its own array.
    private const int PooledBodyLimit = 1024 * 1024;

    internal static readonly long ConnectionLifetime = Stopwatch.Frequency * 300;

    // A connection idle longer than this is dropped instead of reused: Asterisk's httpd_helper_thread
    // waits http.conf's session_keep_alive (15 s by default) for the next request on a kept-alive
    // session, then closes it, and a request sent as it does so would need the resend.
    internal static readonly long IdleLimit = Stopwatch.Frequency * 10;

    // An idle connection is polled for a close by the server before reuse only after this long idle.
    private static readonly long PollAfterIdle = Stopwatch.Frequency / 10;

    private readonly AriRestEndpoint _server;

    // The pool, all under _lock: idle connections (most recently used on top), calls waiting for a
    // connection (oldest first), and how many connections exist or are being opened (a waiter told
    // to open one counts from the moment it is told).
    private readonly Lock _lock = new();
    private readonly Stack<Connection> _idle = new();
    private readonly Queue<ConnectionWaiter> _waiters = new();
    private readonly Stack<ConnectionWaiter> _freeWaiters = new();
    private int _connections;
    private volatile bool _disposed;

    public AriHttpTransport(AriClientOptions options, string authorization, TimeProvider timeProvider)
    {
        _server = new AriRestEndpoint(options, authorization, timeProvider);
    }

    /// <summary>
    /// Sends one request and reads the whole answer. Transport failures are <see cref="IOException"/>,
    /// <see cref="SocketException"/> or <see cref="System.Security.Authentication.AuthenticationException"/>;
    /// a cancelled <paramref name="cancellationToken"/> gives <see cref="OperationCanceledException"/>.
    /// The per-call state machines of this path are pooled (each ValueTask is awaited once, by AriClient).
    /// </summary>
    public ValueTask<AriHttpResponse> SendAsync(string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // A kept-alive connection, or null: this call holds a slot and opens its own; or, with every
        // slot taken, a waiter that the call freeing a connection sends on this call's behalf.
        var connection = TakeConnection(method, path, query, body, cancellationToken, out var waiter);
        return waiter is null
            ? RunAsync(connection, method, path, query, body, cancellationToken)
            : WaitForAnswerAsync(waiter, cancellationToken);
    }

    /// <summary>
    /// Sends the request on <paramref name="connection"/> (null: on a new one, the slot being the
    /// caller's) and reads its answer; then passes the connection (or its slot) on.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AriHttpResponse> RunAsync(Connection? connection, string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
    {
        var holdsSlot = true;
        try
        {
            while (true)
            {
                // A resend goes out on a new connection (connection is null then): a call is sent at
                // most twice, because the resend's connection is not a reused one.
                connection ??= await OpenAsync(cancellationToken).ConfigureAwait(false);
                var reused = connection.Requests > 0;
                try
                {
                    var response = await connection.SendAsync(this, method, path, query, body, cancellationToken).ConfigureAwait(false);
                    holdsSlot = false;
                    // The next waiting call's request goes out on this connection here, before this
                    // call's caller gets its answer.
                    PassOn(connection.Reusable && Stopwatch.GetTimestamp() - connection.Opened < ConnectionLifetime ? connection : Drop(connection));
                    return response;
                }
                catch (ServerClosedException) when (reused && !cancellationToken.IsCancellationRequested)
                {
                    // The server had closed this kept-alive connection before reading the request
                    // (no byte of answer came back): send it again on a new one.
                    connection.Dispose();
                    connection = null;
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            }
        }
        finally
        {
            if (holdsSlot)
            {
                PassOn(null);
            }
        }
    }

    public void Dispose()
    {
        List<ConnectionWaiter> waiting;
        List<Connection> idle;
        lock (_lock)
        {
            _disposed = true;
            waiting = [.. _waiters];
            _waiters.Clear();
            idle = [.. _idle];
            _idle.Clear();
        }

        foreach (var connection in idle)
        {
            connection.Dispose();
        }

        foreach (var waiter in waiting)
        {
            waiter.TryFail(new ObjectDisposedException(nameof(AriHttpTransport)));
        }
    }

    private static Connection? Drop(Connection connection)
    {
        connection.Dispose();
        return null;
    }

    /// <summary>
    /// An idle connection fit for reuse; or null with <paramref name="waiter"/> null when the call
    /// may open a new one (its slot is counted); or null with a waiter, holding the request, to
    /// await when every slot is taken.
    /// </summary>
    private Connection? TakeConnection(string method, string path, string? query, byte[]? body, CancellationToken cancellationToken, out ConnectionWaiter? waiter)
    {
        waiter = null;
        Connection? candidate;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_idle.TryPop(out candidate))
            {
                if (_connections < _server.MaxConnections)
                {
                    _connections++;
                    return null;
                }

                // Waiters that gave up stay queued until they reach the front; do not let them pile up.
                while (_waiters.TryPeek(out var first) && first.GaveUp)
                {
                    _waiters.Dequeue();
                }

                waiter = _freeWaiters.TryPop(out var free) ? free : new ConnectionWaiter(this);
                waiter.Reset(method, path, query, body, cancellationToken);
                _waiters.Enqueue(waiter);
                return null;
            }
        }

        if (IsFitForReuse(candidate))
        {
            return candidate;
        }

        // Closed by the server, or idle too long: its slot is this call's now.
        candidate.Dispose();
        return null;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AriHttpResponse> WaitForAnswerAsync(ConnectionWaiter waiter, CancellationToken cancellationToken)
    {
        try
        {
            // Until a connection is passed to it, the caller's cancellation (or timeout) takes the
            // waiter out; once it is sent, the same token cancels the send or the read.
            using (cancellationToken.UnsafeRegister(static (state, token) => ((ConnectionWaiter)state!).TryFail(new OperationCanceledException(token)), waiter))
            {
                return await waiter.Answer.ConfigureAwait(false);
            }
        }
        finally
        {
            // A waiter that gave up may still sit in the queue, so only those that were sent are
            // reused (dequeued by the one who sent them, and their registration is gone).
            if (!waiter.GaveUp)
            {
                lock (_lock)
                {
                    _freeWaiters.Push(waiter);
                }
            }
        }
    }

    /// <summary>
    /// Passes a connection (or, with null, the slot of one that was closed or never opened) straight
    /// to the oldest waiting call, whose request is then sent on it from this thread's queue of the
    /// thread pool (no check of the connection: it has just answered). With nobody waiting the
    /// connection goes idle (or the slot is freed).
    /// </summary>
    private void PassOn(Connection? connection)
    {
        ConnectionWaiter? granted = null;
        var disposeIt = false;
        lock (_lock)
        {
            while (_waiters.TryDequeue(out var waiter))
            {
                if (waiter.TryClaim())
                {
                    granted = waiter;
                    break;
                }
            }

            if (granted is null)
            {
                if (connection is null)
                {
                    _connections--;
                }
                else if (_disposed)
                {
                    _connections--;
                    disposeIt = true;
                }
                else
                {
                    connection.IdleSince = Stopwatch.GetTimestamp();
                    _idle.Push(connection);
                }
            }
        }

        if (disposeIt)
        {
            connection!.Dispose();
        }

        granted?.StartSoon(connection);
    }

    private bool IsFitForReuse(Connection connection)
    {
        var now = Stopwatch.GetTimestamp();
        if (now - connection.Opened >= ConnectionLifetime || now - connection.IdleSince >= IdleLimit)
        {
            return false;
        }

        // Checked for a close by the server only after some idle time (one poll, as SocketsHttpHandler
        // looks at its read-ahead): a connection in steady use has just answered, and the close that
        // matters, Asterisk's session_inactivity, comes after 30 s idle. A close that crosses the
        // request is left to the resend. Plain connections only: over TLS the socket may hold records
        // the server sent unasked (session tickets) that SslStream has not read yet.
        return now - connection.IdleSince < PollAfterIdle || _server.Tls is not null || connection.LooksOpen();
    }

    private async Task<Connection> OpenAsync(CancellationToken cancellationToken)
    {
        var (socket, stream) = await _server.OpenAsync(cancellationToken).ConfigureAwait(false);
        return new Connection(socket, stream);
    }

    /// <summary>The server closed a reused connection before sending any byte of the answer.</summary>
    private sealed class ServerClosedException(string message, Exception? inner = null) : IOException(message, inner);

    /// <summary>One keep-alive connection; used by one request at a time.</summary>
    private sealed class Connection(Socket socket, Stream stream) : IDisposable
    {
        private byte[] _write = new byte[1024];
        private byte[] _read = new byte[16 * 1024];

        public long Opened { get; } = Stopwatch.GetTimestamp();

        public long IdleSince { get; set; }

        public int Requests { get; private set; }

        public bool Reusable { get; private set; }

        /// <summary>False when the server has closed (or sent something unasked): readable while idle means either.</summary>
        public bool LooksOpen()
        {
            try
            {
                return !socket.Poll(0, SelectMode.SelectRead);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return false;
            }
        }

        /// <summary>
        /// Writes the request and reads its answer. Not an async method itself: the write nearly
        /// always completes at once, and the call then suspends in the read only (one state machine
        /// less per call).
        /// </summary>
        public ValueTask<AriHttpResponse> SendAsync(AriHttpTransport transport, string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
        {
            Reusable = false;
            var length = WriteRequest(transport, method, path, query, body);
            var first = Requests == 0;
            Requests++;
            ValueTask write;
            try
            {
                write = stream.WriteAsync(_write.AsMemory(0, length), cancellationToken);
                if (write.IsCompletedSuccessfully)
                {
                    // Consumed (a socket's pooled operation is released by it).
                    write.GetAwaiter().GetResult();
                    return ReadResponseAsync(method, first, transport._server.MaxConnections, cancellationToken);
                }
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                return ValueTask.FromException<AriHttpResponse>(WriteFailed(first, transport._server.MaxConnections, e));
            }

            return WriteThenReadAsync(write, method, first, transport._server.MaxConnections, cancellationToken);
        }

        public void Dispose() => stream.Dispose();

        private static IOException WriteFailed(bool first, int maxConnections, Exception e) =>
            first ? NewConnectionRefused(maxConnections, e) : new ServerClosedException("Asterisk had closed the kept-alive connection.", e);

        private async ValueTask<AriHttpResponse> WriteThenReadAsync(ValueTask write, string method, bool first, int maxConnections, CancellationToken cancellationToken)
        {
            try
            {
                await write.ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw WriteFailed(first, maxConnections, e);
            }

            return await ReadResponseAsync(method, first, maxConnections, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// A new connection closed or reset before any byte of answer. Asterisk does exactly that (it
        /// closes without reading, so the request may meet a reset) to sessions beyond its http.conf
        /// sessionlimit, 100 by default for all its HTTP users together, and a stopping Asterisk (or
        /// PbxSim) does it too: both causes are named, the limit being the one an admin can fix.
        /// </summary>
        private static IOException NewConnectionRefused(int maxConnections, Exception? inner) => new(
            string.Create(CultureInfo.InvariantCulture,
                $"Asterisk closed the connection without answering, on a new connection: Asterisk does that while it stops, and to every session beyond its http.conf sessionlimit (100 by default, counting all its HTTP users; this client opens up to {maxConnections}, ari.maxConnections){(inner is null ? "" : $" ({inner.Message})")}."),
            inner);

        private int WriteRequest(AriHttpTransport transport, string method, string path, string? query, byte[]? body) =>
            AriHttpTransport.WriteRequest(ref _write, 0, transport._server.BasePath, transport._server.FixedHeaders, method, path, query, body);

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<AriHttpResponse> ReadResponseAsync(string method, bool first, int maxConnections, CancellationToken cancellationToken)
        {
            var filled = 0;
            while (true)
            {
                // The head: read until the blank line.
                int headEnd;
                while ((headEnd = _read.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (filled == _read.Length)
                    {
                        if (_read.Length >= MaxHeadBytes)
                        {
                            throw new IOException($"Asterisk's answer head is longer than {MaxHeadBytes / 1024} KiB without ending.");
                        }

                        Array.Resize(ref _read, Math.Min(MaxHeadBytes, _read.Length * 2));
                    }

                    int n;
                    try
                    {
                        n = await stream.ReadAsync(_read.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (filled == 0 && e is IOException or SocketException)
                    {
                        throw first ? NewConnectionRefused(maxConnections, e) : new ServerClosedException("Asterisk closed the kept-alive connection without answering.", e);
                    }

                    if (n == 0)
                    {
                        if (filled == 0 && !first)
                        {
                            throw new ServerClosedException("Asterisk closed the kept-alive connection without answering.");
                        }

                        // Here filled == 0 only on a new connection (a reused one threw above).
                        throw filled == 0
                            ? NewConnectionRefused(maxConnections, null)
                            : new IOException($"Asterisk closed the connection after {filled} bytes of an incomplete answer head.");
                    }

                    filled += n;
                }

                var head = Head.Parse(_read.AsSpan(0, headEnd));
                var bodyStart = headEnd + 4;
                if (head.Status is >= 100 and < 200)
                {
                    // An interim answer (100 Continue): the real one follows.
                    Buffer.BlockCopy(_read, bodyStart, _read, 0, filled - bodyStart);
                    filled -= bodyStart;
                    continue;
                }

                string? reason = head.Status is >= 200 and <= 299 ? null : Encoding.ASCII.GetString(_read.AsSpan(head.ReasonStart, head.ReasonLength));
                AriHttpResponse response;
                var keepAlive = head.KeepAlive;
                if (method == "HEAD" || head.Status is 204 or 304)
                {
                    response = new AriHttpResponse(head.Status, reason, [], 0, pooled: false);
                }
                else if (head.Chunked)
                {
                    response = await ReadChunkedAsync(head.Status, reason, bodyStart, filled, cancellationToken).ConfigureAwait(false);
                    filled = 0;
                }
                else if (head.ContentLength is { } contentLength)
                {
                    response = await ReadLengthAsync(head.Status, reason, contentLength, bodyStart, filled, cancellationToken).ConfigureAwait(false);
                    filled = Math.Max(0, filled - bodyStart - (int)Math.Min(contentLength, int.MaxValue));
                }
                else
                {
                    // Neither length nor chunks: the body ends with the connection.
                    response = await ReadToEndAsync(head.Status, reason, bodyStart, filled, cancellationToken).ConfigureAwait(false);
                    keepAlive = false;
                    filled = 0;
                }

                // Bytes after the answer were never asked for: the connection is not in a known state.
                Reusable = keepAlive && filled == 0;
                return response;
            }
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        private async ValueTask<AriHttpResponse> ReadLengthAsync(int status, string? reason, long contentLength, int bodyStart, int filled, CancellationToken cancellationToken)
        {
            if (contentLength == 0)
            {
                return new AriHttpResponse(status, reason, [], 0, pooled: false);
            }

            if (contentLength > Array.MaxLength)
            {
                throw new IOException($"Asterisk announced a body of {contentLength} bytes, more than one buffer can hold.");
            }

            var length = (int)contentLength;
            var pooled = length <= PooledBodyLimit;
            var buffer = pooled ? ArrayPool<byte>.Shared.Rent(length) : new byte[length];
            try
            {
                var have = Math.Min(length, filled - bodyStart);
                _read.AsSpan(bodyStart, have).CopyTo(buffer);
                while (have < length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(have, length - have), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException($"Asterisk closed the connection after {have} of the {length} body bytes it announced.");
                    }

                    have += n;
                }

                return new AriHttpResponse(status, reason, buffer, length, pooled);
            }
            catch
            {
                if (pooled)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }

                throw;
            }
        }

        private async ValueTask<AriHttpResponse> ReadToEndAsync(int status, string? reason, int bodyStart, int filled, CancellationToken cancellationToken)
        {
            using var body = new MemoryStream();
            body.Write(_read, bodyStart, filled - bodyStart);
            int n;
            while ((n = await stream.ReadAsync(_read, cancellationToken).ConfigureAwait(false)) > 0)
            {
                body.Write(_read, 0, n);
            }

            var bytes = body.ToArray();
            return new AriHttpResponse(status, reason, bytes, bytes.Length, pooled: false);
        }

        /// <summary>A chunked body (RFC 9112 §7.1); chunk extensions and trailers are skipped.</summary>
        private async ValueTask<AriHttpResponse> ReadChunkedAsync(int status, string? reason, int bodyStart, int filled, CancellationToken cancellationToken)
        {
            using var body = new MemoryStream();
            var at = bodyStart;
            while (true)
            {
                // The chunk-size line.
                int lineEnd;
                while ((lineEnd = _read.AsSpan(at, filled - at).IndexOf("\r\n"u8)) < 0)
                {
                    (at, filled) = await FillAsync(at, filled, "a chunk size", cancellationToken).ConfigureAwait(false);
                }

                var line = _read.AsSpan(at, lineEnd);
                var semicolon = line.IndexOf((byte)';');
                if (semicolon >= 0)
                {
                    line = line[..semicolon];
                }

                if (!long.TryParse(Encoding.ASCII.GetString(line.Trim((byte)' ')), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0 || size > Array.MaxLength - body.Length)
                {
                    throw new IOException($"Asterisk's chunked answer has an invalid chunk size line '{Encoding.ASCII.GetString(_read, at, Math.Min(lineEnd, 40))}'.");
                }

                at += lineEnd + 2;
                if (size == 0)
                {
                    // Trailers up to the blank line.
                    while (true)
                    {
                        while ((lineEnd = _read.AsSpan(at, filled - at).IndexOf("\r\n"u8)) < 0)
                        {
                            (at, filled) = await FillAsync(at, filled, "the end of the chunked body", cancellationToken).ConfigureAwait(false);
                        }

                        at += lineEnd + 2;
                        if (lineEnd == 0)
                        {
                            if (at != filled)
                            {
                                throw new IOException("Asterisk sent bytes after the end of a chunked answer.");
                            }

                            var bytes = body.ToArray();
                            return new AriHttpResponse(status, reason, bytes, bytes.Length, pooled: false);
                        }
                    }
                }

                for (var left = size + 2; left > 0;)
                {
                    if (at == filled)
                    {
                        (at, filled) = await FillAsync(at, filled, "a chunk", cancellationToken).ConfigureAwait(false);
                    }

                    var take = (int)Math.Min(left, filled - at);
                    // The chunk's data, then its CRLF (not part of the body).
                    var data = (int)Math.Max(0, Math.Min(take, left - 2));
                    body.Write(_read, at, data);
                    at += take;
                    left -= take;
                }

                if (_read[at - 2] != (byte)'\r' || _read[at - 1] != (byte)'\n')
                {
                    throw new IOException("Asterisk's chunked answer has a chunk not followed by CRLF.");
                }
            }
        }

        /// <summary>Moves what is unread to the front and reads more; the connection ending here is an error.</summary>
        private async ValueTask<(int At, int Filled)> FillAsync(int at, int filled, string waitingFor, CancellationToken cancellationToken)
        {
            // Keep at least two bytes before the unread part: a chunk's trailing CRLF is checked there.
            var keep = Math.Min(at, 2);
            Buffer.BlockCopy(_read, at - keep, _read, 0, filled - at + keep);
            filled = filled - at + keep;
            at = keep;
            if (filled == _read.Length)
            {
                if (_read.Length >= MaxHeadBytes)
                {
                    throw new IOException($"Asterisk's chunked answer has a line longer than {MaxHeadBytes / 1024} KiB while waiting for {waitingFor}.");
                }

                Array.Resize(ref _read, Math.Min(MaxHeadBytes, _read.Length * 2));
            }

            var n = await stream.ReadAsync(_read.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException($"Asterisk closed the connection while a chunked answer waited for {waitingFor}.");
            }

            return (at, filled + n);
        }
    }

    /// <summary>
    /// Writes one request at <paramref name="at"/> in <paramref name="buffer"/> (grown as needed):
    /// request line, the fixed Host/Authorization/Accept lines, Content-Type and Content-Length when
    /// there is a body (or the method carries one), blank line, body. Returns the end.
    /// </summary>
    internal static int WriteRequest(ref byte[] buffer, int at, byte[] basePath, byte[] fixedHeaders, string method, string path, string? query, byte[]? body)
    {
        var target = EscapeTarget(path, query);
        var sendsLength = body is not null || method is "POST" or "PUT" or "PATCH";
        var bodyLength = body?.Length ?? 0;
        // Request line, fixed headers, Content-Type and Content-Length lines (<= 64), blank line, body.
        var size = at + method.Length + 1 + basePath.Length + target.Length + 11 + fixedHeaders.Length + 64 + 2 + bodyLength;
        if (buffer.Length < size)
        {
            Array.Resize(ref buffer, Math.Max(size, buffer.Length * 2));
        }

        var span = buffer.AsSpan();
        at += Encoding.ASCII.GetBytes(method, span[at..]);
        span[at++] = (byte)' ';
        basePath.CopyTo(span[at..]);
        at += basePath.Length;
        at += Encoding.ASCII.GetBytes(target, span[at..]);
        " HTTP/1.1\r\n"u8.CopyTo(span[at..]);
        at += 11;
        fixedHeaders.CopyTo(span[at..]);
        at += fixedHeaders.Length;
        if (body is not null)
        {
            "Content-Type: application/json\r\n"u8.CopyTo(span[at..]);
            at += 32;
        }

        if (sendsLength)
        {
            "Content-Length: "u8.CopyTo(span[at..]);
            at += 16;
            bodyLength.TryFormat(span[at..], out var digits, provider: CultureInfo.InvariantCulture);
            at += digits;
            "\r\n"u8.CopyTo(span[at..]);
            at += 2;
        }

        "\r\n"u8.CopyTo(span[at..]);
        at += 2;
        if (body is not null)
        {
            body.CopyTo(span[at..]);
            at += body.Length;
        }

        return at;
    }

    /// <summary>Percent-encodes what may not stand in a request target as is (spaces, controls, non-ASCII), as System.Uri does.</summary>
    internal static string EscapeTarget(string path, string? query)
    {
        var target = query is null ? path : string.Concat(path, "?", query);
        if (!target.AsSpan().ContainsAnyExceptInRange('!', '~'))
        {
            return target;
        }

        var builder = new StringBuilder(target.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in target.EnumerateRunes())
        {
            if (rune.Value is >= '!' and <= '~')
            {
                builder.Append((char)rune.Value);
                continue;
            }

            var count = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < count; i++)
            {
                builder.Append('%').Append(utf8[i].ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// A call waiting for a connection, with its request: pooled, one object per wait. When a
    /// connection comes free the waiter itself, as a thread-pool work item on the freeing thread's own
    /// queue, sends the request on it, and the answer completes the waiter where it is read: the
    /// waiting call resumes once, with its answer, instead of once to send and again for the answer.
    /// The send is queued rather than made at once by the freeing call: at 200 in flight over 32
    /// connections, sending at once (between two answers of one batch read) cost 11-14 µs more
    /// kernel CPU per call in 4 of 5 pairs (docs/benchmarks.md): each request then reached the
    /// server on its own and woke it, where queued ones go out together after the batch of answers.
    /// Sent at most once
    /// (<see cref="PassOn"/> claims it and dequeues it) or failed at most once before that (its
    /// cancellation or timeout, or the transport's disposal); the two race through one state. An
    /// answer runs the caller's continuation inline (as a socket read's completion does on the direct
    /// path); a failure runs it through the thread pool, so a caller never continues inside a
    /// cancellation callback or a timer.
    /// </summary>
    private sealed class ConnectionWaiter : IValueTaskSource<AriHttpResponse>, IThreadPoolWorkItem
    {
        private const int Waiting = 0;
        private const int Claimed = 1;
        private const int Failed = 2;

        private readonly AriHttpTransport _transport;
        private readonly Action _runEnded;
        private ManualResetValueTaskSourceCore<AriHttpResponse> _core;
        private int _state;
        private string _method = "";
        private string _path = "";
        private string? _query;
        private byte[]? _body;
        private CancellationToken _cancellationToken;
        private Connection? _connection;
        private ValueTask<AriHttpResponse> _run;

        public ConnectionWaiter(AriHttpTransport transport)
        {
            _transport = transport;
            _runEnded = RunEnded;
        }

        public bool GaveUp => Volatile.Read(ref _state) == Failed;

        public ValueTask<AriHttpResponse> Answer => new(this, _core.Version);

        public void Reset(string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
        {
            _core.Reset();
            _state = Waiting;
            _method = method;
            _path = path;
            _query = query;
            _body = body;
            _cancellationToken = cancellationToken;
        }

        public bool TryClaim() => Interlocked.CompareExchange(ref _state, Claimed, Waiting) == Waiting;

        public void TryFail(Exception error)
        {
            if (Interlocked.CompareExchange(ref _state, Failed, Waiting) == Waiting)
            {
                Forget();
                _core.RunContinuationsAsynchronously = true;
                _core.SetException(error);
            }
        }

        /// <summary>Sends the claimed request on <paramref name="connection"/> (null: on a new one, in its slot), from this thread's queue.</summary>
        public void StartSoon(Connection? connection)
        {
            _connection = connection;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        }

        void IThreadPoolWorkItem.Execute()
        {
            var connection = _connection;
            _connection = null;
            if (_cancellationToken.IsCancellationRequested)
            {
                // Cancelled (or timed out) as the connection came free: never sent, and the
                // connection goes to the next waiting call.
                var token = _cancellationToken;
                Forget();
                _core.RunContinuationsAsynchronously = true;
                _core.SetException(new OperationCanceledException(token));
                _transport.PassOn(connection);
                return;
            }

            // Up to the first wait (usually the read of the answer) this runs here.
            Follow(_transport.RunAsync(connection, _method, _path, _query, _body, _cancellationToken));
        }

        /// <summary>Completes this waiter when <paramref name="run"/> ends (consumed once, by <see cref="RunEnded"/>).</summary>
        private void Follow(ValueTask<AriHttpResponse> run)
        {
            _run = run;
            if (run.IsCompleted)
            {
                RunEnded();
            }
            else
            {
                run.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_runEnded);
            }
        }

        public AriHttpResponse GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private void RunEnded()
        {
            var run = _run;
            _run = default;
            AriHttpResponse answer;
            try
            {
                answer = run.ConfigureAwait(false).GetAwaiter().GetResult();
            }
            catch (Exception e)
            {
                Forget();
                _core.RunContinuationsAsynchronously = true;
                _core.SetException(e);
                return;
            }

            // Nothing of this waiter is touched after the answer is set: its caller may reuse it at once.
            Forget();
            _core.RunContinuationsAsynchronously = false;
            _core.SetResult(answer);
        }

        // The request's strings and body are not kept alive by a pooled waiter.
        private void Forget()
        {
            _query = null;
            _body = null;
            _cancellationToken = default;
        }
    }

    /// <summary>What the answer's head says about its body and the connection.</summary>
    internal readonly record struct Head(int Status, int ReasonStart, int ReasonLength, long? ContentLength, bool Chunked, bool KeepAlive)
    {
        public static Head Parse(ReadOnlySpan<byte> head)
        {
            var lineEnd = head.IndexOf("\r\n"u8);
            var statusLine = lineEnd < 0 ? head : head[..lineEnd];
            // "HTTP/1.1 200 OK": version, a space, three digits, then a space and the reason (may be empty).
            if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8) || statusLine[8] != (byte)' '
                || !char.IsAsciiDigit((char)statusLine[9]) || !char.IsAsciiDigit((char)statusLine[10]) || !char.IsAsciiDigit((char)statusLine[11])
                || (statusLine.Length > 12 && statusLine[12] != (byte)' '))
            {
                throw new IOException($"Asterisk's answer does not start with an HTTP/1.x status line: '{Printable(statusLine)}'.");
            }

            var status = ((statusLine[9] - '0') * 100) + ((statusLine[10] - '0') * 10) + (statusLine[11] - '0');
            var http10 = statusLine[7] == (byte)'0';
            var reasonStart = Math.Min(13, statusLine.Length);
            long? contentLength = null;
            var chunked = false;
            var close = false;
            var keepAlive = false;
            var rest = lineEnd < 0 ? [] : head[(lineEnd + 2)..];
            while (!rest.IsEmpty)
            {
                var end = rest.IndexOf("\r\n"u8);
                var line = end < 0 ? rest : rest[..end];
                rest = end < 0 ? [] : rest[(end + 2)..];
                var colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    throw new IOException($"Asterisk's answer has a header line without a name and colon: '{Printable(line)}'.");
                }

                var name = line[..colon];
                var value = line[(colon + 1)..].Trim((byte)' ').Trim((byte)'\t');
                if (System.Text.Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
                {
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || (contentLength is { } earlier && earlier != parsed))
                    {
                        throw new IOException($"Asterisk's answer has an invalid Content-Length '{Printable(value)}'.");
                    }

                    contentLength = parsed;
                }
                else if (System.Text.Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
                {
                    chunked = value.Length >= 7 && System.Text.Ascii.EqualsIgnoreCase(value[^7..], "chunked"u8);
                }
                else if (System.Text.Ascii.EqualsIgnoreCase(name, "Connection"u8))
                {
                    close |= Contains(value, "close"u8);
                    keepAlive |= Contains(value, "keep-alive"u8);
                }
            }

            return new Head(status, reasonStart, Math.Max(0, statusLine.Length - reasonStart), contentLength, chunked, !close && (!http10 || keepAlive));
        }

        private static bool Contains(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
        {
            for (var i = 0; i + token.Length <= value.Length; i++)
            {
                if (System.Text.Ascii.EqualsIgnoreCase(value.Slice(i, token.Length), token))
                {
                    return true;
                }
            }

            return false;
        }

        private static string Printable(ReadOnlySpan<byte> bytes)
        {
            var text = Encoding.ASCII.GetString(bytes[..Math.Min(bytes.Length, 80)]);
            return string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));
        }
    }
}

/// <summary>A status, the reason phrase of a non-2xx answer, and the body; disposing returns a pooled body's buffer.</summary>
internal readonly struct AriHttpResponse(int statusCode, string? reasonPhrase, byte[] buffer, int length, bool pooled) : IDisposable
{
    public int StatusCode { get; } = statusCode;

    public string? ReasonPhrase { get; } = reasonPhrase;

    public ReadOnlyMemory<byte> Body { get; } = buffer.AsMemory(0, length);

    /// <summary>The body's buffer and length, for a transport that fills the rest of the body in place.</summary>
    internal (byte[] Buffer, int Length) Unwrap() => (buffer, length);

    public void Dispose()
    {
        if (pooled)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
