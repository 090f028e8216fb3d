using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// The own HTTP/1.1 transport with pipelining (<see cref="AriClientOptions.MaxPipelineDepth"/> &gt; 1):
/// up to that many requests written on one keep-alive connection before their answers are back.
/// Asterisk 22's HTTP server reads a connection's requests one after the other from its buffered
/// stream and answers each before reading the next (docs/ari.md, "Pipelining", with the source
/// citations), so the answers come back in request order and are matched to their requests by
/// position alone.
/// <para>
/// A call goes to the open connection with the fewest requests in flight; a new connection is opened
/// (up to <see cref="AriClientOptions.MaxConnections"/>) before any request is put behind another;
/// with every connection at the depth, calls wait in the client, oldest first. Requests that come
/// together are written together: a connection's writes are queued on the thread pool, so the
/// requests added while answers are being handled go out in one send.
/// </para>
/// <para>
/// When something goes wrong mid-pipeline no answer is ever given to the wrong request:
/// <list type="bullet">
/// <item>A call that times out or is cancelled after its request was written fails at once; its
/// connection takes no new request, keeps reading the answers in order (the abandoned call's is
/// dropped, so the calls behind it still get theirs) and is closed once nothing is in flight.</item>
/// <item>An answer with <c>Connection: close</c>: Asterisk reads nothing after it (httpd_helper_thread
/// leaves its loop), so the requests behind it were never carried out and are sent again on another
/// connection, whatever their method.</item>
/// <item>A connection that breaks (end of stream, reset) with requests unanswered: a reused
/// connection that closed before any byte of the first unanswered answer had, as the one-at-a-time
/// transport assumes, closed while idle, so all are sent again; otherwise only GET and HEAD are sent
/// again (once), and any other request fails with a connection error saying it may have been
/// carried out.</item>
/// <item>An answer that cannot be parsed: every call in flight on that connection fails.</item>
/// </list>
/// </para>
/// </summary>
internal sealed class AriPipelinedTransport : IAriRestTransport
{
    private const int MaxHeadBytes = 64 * 1024;

    private readonly AriRestEndpoint _server;
    private readonly int _depth;

    // Everything below under _lock: the connections (open or opening) and the calls waiting for room.
    private readonly Lock _lock = new();
    private readonly List<PipeConnection> _connections = [];
    private readonly Queue<PendingCall> _waiting = new();
    private bool _disposed;

    public AriPipelinedTransport(AriClientOptions options, string authorization, TimeProvider timeProvider)
    {
        _server = new AriRestEndpoint(options, authorization, timeProvider);
        _depth = options.MaxPipelineDepth;
    }

    public ValueTask<AriHttpResponse> SendAsync(string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var call = new PendingCall(this, method, path, query, body, cancellationToken);
        Dispatch(call);
        call.WatchCancellation();
        return new ValueTask<AriHttpResponse>(call.Task);
    }

    public void Dispose()
    {
        List<PipeConnection> connections;
        List<PendingCall> waiting;
        lock (_lock)
        {
            _disposed = true;
            connections = [.. _connections];
            _connections.Clear();
            waiting = [.. _waiting];
            _waiting.Clear();
        }

        foreach (var call in waiting)
        {
            call.Fail(new ObjectDisposedException(nameof(AriPipelinedTransport)));
        }

        foreach (var connection in connections)
        {
            connection.Abort(new ObjectDisposedException(nameof(AriPipelinedTransport)));
        }
    }

    /// <summary>Puts the call on a connection with room, on a new one, or in the waiting queue.</summary>
    private void Dispatch(PendingCall call)
    {
        PipeConnection? opened = null;
        lock (_lock)
        {
            if (_disposed)
            {
                call.Fail(new ObjectDisposedException(nameof(AriPipelinedTransport)));
                return;
            }

            if (_waiting.Count > 0 && !call.Resent)
            {
                // Older calls wait already: keep the order.
                _waiting.Enqueue(call);
                return;
            }

            var target = LeastLoaded();
            if ((target is null || target.InFlight > 0) && _connections.Count < _server.MaxConnections)
            {
                opened = new PipeConnection(this);
                _connections.Add(opened);
                target = opened;
            }

            if (target is null)
            {
                _waiting.Enqueue(call);
                return;
            }

            target.Add(call);
        }

        opened?.Start();
    }

    /// <summary>The open connection taking requests with the fewest in flight below the depth; null when none has room.</summary>
    private PipeConnection? LeastLoaded()
    {
        PipeConnection? best = null;
        var now = Stopwatch.GetTimestamp();
        foreach (var connection in _connections)
        {
            if (!connection.TakesRequests(now) || connection.InFlight >= _depth)
            {
                continue;
            }

            if (best is null || connection.InFlight < best.InFlight)
            {
                best = connection;
            }
        }

        return best;
    }

    /// <summary>Room was freed (an answer came, a connection ended): waiting calls move onto connections.</summary>
    private void Pump()
    {
        var started = new List<PipeConnection>();
        lock (_lock)
        {
            while (!_disposed && _waiting.TryPeek(out var call))
            {
                if (call.IsDone)
                {
                    _waiting.Dequeue();
                    continue;
                }

                var target = LeastLoaded();
                if ((target is null || target.InFlight > 0) && _connections.Count < _server.MaxConnections)
                {
                    target = new PipeConnection(this);
                    _connections.Add(target);
                    started.Add(target);
                }

                if (target is null)
                {
                    break;
                }

                _waiting.Dequeue();
                target.Add(call);
            }
        }

        foreach (var connection in started)
        {
            connection.Start();
        }
    }

    private void Remove(PipeConnection connection)
    {
        lock (_lock)
        {
            _connections.Remove(connection);
        }

        Pump();
    }

    /// <summary>One REST call: its request, its caller's completion, and where it stands.</summary>
    private sealed class PendingCall(AriPipelinedTransport transport, string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
    {
        // Continuations of an answer run inline, where the answer is read (as on the one-at-a-time path);
        // failures are set from the thread pool, so no caller continues inside a timer or a cancellation.
        private readonly TaskCompletionSource<AriHttpResponse> _completion = new();
        private CancellationTokenRegistration _registration;
        private int _done;

        public string Method { get; } = method;

        public string Path { get; } = path;

        public string? Query { get; } = query;

        public byte[]? Body { get; } = body;

        /// <summary>Sent again once already (after its connection was lost): never sent a third time.</summary>
        public bool Resent { get; set; }

        /// <summary>Written on a connection that had answered before and had nothing in flight (so possibly closing for idleness).</summary>
        public bool WrittenOnIdleReusedConnection { get; set; }

        public bool Idempotent => Method is "GET" or "HEAD" or "OPTIONS";

        public bool IsDone => Volatile.Read(ref _done) != 0;

        public Task<AriHttpResponse> Task => _completion.Task;

        public PipeConnection? Connection { get; set; }

        public void WatchCancellation()
        {
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(static state => ((PendingCall)state!).Cancelled(), this);
                if (IsDone)
                {
                    // Answered or failed before the registration existed.
                    _registration.Unregister();
                }
            }
        }

        /// <summary>Gives the answer to the caller; false (and the answer is the caller's to drop) when the call had already ended.</summary>
        public bool TryAnswer(AriHttpResponse response)
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return false;
            }

            _registration.Unregister();
            _completion.SetResult(response);
            return true;
        }

        public void Fail(Exception error)
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }

            _registration.Unregister();
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Completion.TrySetException(state.Error), (Completion: _completion, Error: error), preferLocal: false);
        }

        private void Cancelled()
        {
            var connection = Connection;
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }

            // Written already: its answer will still come, in its place; the connection drops it and
            // takes no new request (docs/ari.md, "Pipelining").
            connection?.Abandoned();
            var token = cancellationToken;
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Completion.TrySetException(new OperationCanceledException(state.Token)), (Completion: _completion, Token: token), preferLocal: false);
            transport.Pump();
        }
    }

    /// <summary>One keep-alive connection carrying up to the depth of requests, answered in order.</summary>
    private sealed class PipeConnection(AriPipelinedTransport transport) : IThreadPoolWorkItem
    {
        // Under _sync: the calls written and not yet answered (oldest first) and the bytes not yet sent.
        private readonly Lock _sync = new();
        private readonly Queue<PendingCall> _inFlight = new();
        private byte[] _out = new byte[4096];
        private byte[] _sending = new byte[4096];
        private int _outLength;
        private bool _flushQueued;
        private bool _writing;
        private bool _draining;
        private bool _ended;
        private Stream? _stream;
        private int _answered;
        private long _opened = Stopwatch.GetTimestamp();
        private long _idleSince = Stopwatch.GetTimestamp();

        /// <summary>Requests written and not yet answered (read under the transport's lock).</summary>
        public int InFlight
        {
            get
            {
                lock (_sync)
                {
                    return _inFlight.Count;
                }
            }
        }

        public bool TakesRequests(long now)
        {
            lock (_sync)
            {
                if (_ended || _draining)
                {
                    return false;
                }

                if (now - _opened >= AriHttpTransport.ConnectionLifetime
                    || (_inFlight.Count == 0 && _answered > 0 && now - _idleSince >= AriHttpTransport.IdleLimit))
                {
                    // Too old, or idle long enough for Asterisk's session_keep_alive to close it.
                    _draining = true;
                    if (_inFlight.Count == 0)
                    {
                        CloseSoon();
                    }

                    return false;
                }

                return true;
            }
        }

        /// <summary>Appends the call's request to the bytes to send (under the transport's lock, so calls keep their order).</summary>
        public void Add(PendingCall call)
        {
            lock (_sync)
            {
                call.WrittenOnIdleReusedConnection = _inFlight.Count == 0 && _answered > 0;
                call.Connection = this;
                _outLength = AriHttpTransport.WriteRequest(ref _out, _outLength, transport._server.BasePath, transport._server.FixedHeaders, call.Method, call.Path, call.Query, call.Body);
                _inFlight.Enqueue(call);
                if (_stream is not null && !_flushQueued && !_writing)
                {
                    _flushQueued = true;
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                }
            }
        }

        /// <summary>Opens the socket, then sends what was added meanwhile and starts reading answers.</summary>
        public void Start() => _ = RunAsync();

        /// <summary>
        /// A call in flight here timed out or was cancelled: no new request on this connection. With
        /// no live call left in flight it is closed at once (nobody waits for its answers, and the
        /// slot is free for a new connection); otherwise it is closed once the answers behind are in.
        /// </summary>
        public void Abandoned()
        {
            lock (_sync)
            {
                _draining = true;
                foreach (var call in _inFlight)
                {
                    if (!call.IsDone)
                    {
                        return;
                    }
                }

                if (!_ended)
                {
                    CloseSoon();
                }
            }
        }

        /// <summary>Ends the connection and fails whatever is in flight with <paramref name="error"/>.</summary>
        public void Abort(Exception error)
        {
            PendingCall[] calls;
            lock (_sync)
            {
                _ended = true;
                calls = [.. _inFlight];
                _inFlight.Clear();
            }

            _stream?.Dispose();
            foreach (var call in calls)
            {
                call.Fail(error);
            }
        }

        // The queued flush: everything appended since the last send goes out in one write.
        void IThreadPoolWorkItem.Execute() => _ = FlushAsync();

        /// <summary>Ends the connection from the thread pool: never disposed under a lock, where the read loop's end could run inline.</summary>
        private void CloseSoon()
        {
            _ended = true;
            ThreadPool.UnsafeQueueUserWorkItem(static connection => connection._stream?.Dispose(), this, preferLocal: false);
        }

        private async Task FlushAsync()
        {
            while (true)
            {
                int length;
                lock (_sync)
                {
                    _flushQueued = false;
                    if (_writing || _outLength == 0 || _stream is null || _ended)
                    {
                        return;
                    }

                    _writing = true;
                    (_out, _sending) = (_sending, _out);
                    length = _outLength;
                    _outLength = 0;
                }

                try
                {
                    await _stream.WriteAsync(_sending.AsMemory(0, length)).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
                {
                    // The read loop sees the broken connection too and decides about the calls in flight.
                    _stream.Dispose();
                    lock (_sync)
                    {
                        _writing = false;
                    }

                    return;
                }

                lock (_sync)
                {
                    _writing = false;
                    if (_outLength == 0)
                    {
                        return;
                    }
                }
            }
        }

        private async Task RunAsync()
        {
            Stream stream;
            try
            {
                stream = await OpenAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
            {
                Abort(e);
                transport.Remove(this);
                return;
            }

            lock (_sync)
            {
                _stream = stream;
                _opened = Stopwatch.GetTimestamp();
                if (_ended)
                {
                    stream.Dispose();
                }
                else if (_outLength > 0 && !_flushQueued)
                {
                    _flushQueued = true;
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                }
            }

            await ReadLoopAsync(stream).ConfigureAwait(false);
        }

        private async Task<Stream> OpenAsync() =>
            (await transport._server.OpenAsync(CancellationToken.None)
                .ConfigureAwait(false)).Stream;

        /// <summary>Reads answers in order and gives each to the oldest call in flight, until the connection ends.</summary>
        private async Task ReadLoopAsync(Stream stream)
        {
            var read = new byte[16 * 1024];
            var filled = 0;
            var start = 0;
            Exception? broken = null;
            var closeAnswered = false;
            var midAnswer = false;
            var aborted = false;
            try
            {
                while (true)
                {
                    // Every complete answer in the buffer, in order.
                    while (TryParse(read, start, filled, out var consumed, out var response, out var keepAlive, out var needBody))
                    {
                        start += consumed;
                        if (needBody > 0)
                        {
                            // A body larger than what is buffered: read the rest straight into its buffer.
                            midAnswer = true;
                            response = await ReadRestAsync(stream, response, needBody).ConfigureAwait(false);
                            midAnswer = false;
                        }

                        Deliver(response);
                        if (!keepAlive)
                        {
                            closeAnswered = true;
                            return;
                        }
                    }

                    if (start > 0)
                    {
                        Buffer.BlockCopy(read, start, read, 0, filled - start);
                        filled -= start;
                        start = 0;
                    }

                    if (filled == read.Length)
                    {
                        if (read.Length >= MaxHeadBytes)
                        {
                            throw new IOException($"Asterisk's answer head is longer than {MaxHeadBytes / 1024} KiB without ending.");
                        }

                        Array.Resize(ref read, Math.Min(MaxHeadBytes, read.Length * 2));
                    }

                    var n = await stream.ReadAsync(read.AsMemory(filled)).ConfigureAwait(false);
                    if (n == 0)
                    {
                        broken = filled == 0 ? null : new IOException($"Asterisk closed the connection after {filled} bytes of an incomplete answer.");
                        return;
                    }

                    filled += n;
                }
            }
            catch (ProtocolError e)
            {
                // The answers can no longer be told apart: every call in flight here fails.
                aborted = true;
                Abort(new IOException(e.Message));
                transport.Remove(this);
            }
            catch (Exception e)
            {
                // The connection broke, or was closed by this side (a dispose aborts the read).
                broken = e;
            }
            finally
            {
                if (!aborted)
                {
                    Ended(closeAnswered, broken, partial: midAnswer || filled - start > 0);
                }

                stream.Dispose();
            }
        }

        private void Deliver(AriHttpResponse response)
        {
            PendingCall? call;
            var close = false;
            lock (_sync)
            {
                _inFlight.TryDequeue(out call);
                _answered++;
                if (_inFlight.Count == 0)
                {
                    _idleSince = Stopwatch.GetTimestamp();
                    close = _draining;
                }
            }

            if (call is null || !call.TryAnswer(response))
            {
                // An answer nobody asked for, or to a call that timed out or was cancelled.
                response.Dispose();
            }

            if (close)
            {
                CloseSoon();
            }

            transport.Pump();
        }

        /// <summary>The connection ended: each call still in flight is sent again or failed, by the rules above.</summary>
        private void Ended(bool closeAnswered, Exception? broken, bool partial)
        {
            PendingCall[] calls;
            int answered;
            lock (_sync)
            {
                _ended = true;
                calls = [.. _inFlight];
                _inFlight.Clear();
                answered = _answered;
            }

            transport.Remove(this);
            if (calls.Length == 0)
            {
                return;
            }

            // Closed as Asterisk closes an idle kept-alive session (or after an answer saying close):
            // nothing behind was read as a request.
            var unread = closeAnswered || (!partial && answered > 0 && calls[0].WrittenOnIdleReusedConnection);
            foreach (var call in calls)
            {
                if (call.IsDone)
                {
                    continue;
                }

                if (!call.Resent && (unread || call.Idempotent))
                {
                    call.Resent = true;
                    call.Connection = null;
                    transport.Dispatch(call);
                    continue;
                }

                call.Fail(answered == 0 && !partial
                    ? new IOException(string.Create(CultureInfo.InvariantCulture,
                        $"Asterisk closed the connection without answering, on a new connection: Asterisk does that while it stops, and to every session beyond its http.conf sessionlimit (100 by default, counting all its HTTP users; this client opens up to {transport._server.MaxConnections}, ari.maxConnections){(broken is null ? "" : $" ({broken.Message})")}."), broken)
                    : new IOException(string.Create(CultureInfo.InvariantCulture,
                        $"the connection to Asterisk broke with {calls.Length} pipelined request(s) unanswered{(broken is null ? "" : $" ({broken.Message})")}; this {call.Method} may or may not have been carried out, so it is not sent again."), broken));
            }
        }

        private static async ValueTask<AriHttpResponse> ReadRestAsync(Stream stream, AriHttpResponse response, int need)
        {
            var (buffer, length) = response.Unwrap();
            try
            {
                var have = length - need;
                while (have < length)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(have, length - have)).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new IOException($"Asterisk closed the connection after {have} of the {length} body bytes it announced.");
                    }

                    have += n;
                }

                return response;
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }

        /// <summary>
        /// One complete answer at <paramref name="start"/>: its head, and its body as far as buffered
        /// (<paramref name="needBody"/> bytes still to read from the connection). False when the head is
        /// not complete yet. Interim 1xx answers are skipped.
        /// </summary>
        private bool TryParse(byte[] read, int start, int filled, out int consumed, out AriHttpResponse response, out bool keepAlive, out int needBody)
        {
            consumed = 0;
            response = default;
            keepAlive = true;
            needBody = 0;
            while (true)
            {
                var available = read.AsSpan(start + consumed, filled - start - consumed);
                var headEnd = available.IndexOf("\r\n\r\n"u8);
                if (headEnd < 0)
                {
                    if (consumed > 0)
                    {
                        // Only interim answers so far: they are used up.
                        response = default;
                    }

                    return false;
                }

                AriHttpTransport.Head head;
                try
                {
                    head = AriHttpTransport.Head.Parse(available[..headEnd]);
                }
                catch (IOException e)
                {
                    throw new ProtocolError(e.Message);
                }

                if (head.Status is >= 100 and < 200)
                {
                    consumed += headEnd + 4;
                    continue;
                }

                string? reason = head.Status is >= 200 and <= 299 ? null
                    : Encoding.ASCII.GetString(available.Slice(head.ReasonStart, head.ReasonLength));
                keepAlive = head.KeepAlive;
                var method = PeekMethod();
                if (method == "HEAD" || head.Status is 204 or 304)
                {
                    consumed += headEnd + 4;
                    response = new AriHttpResponse(head.Status, reason, [], 0, pooled: false);
                    return true;
                }

                if (head.Chunked || head.ContentLength is null)
                {
                    // Asterisk's ast_http_send always sends Content-Length; without it the answers of a
                    // pipeline cannot be told apart.
                    throw new ProtocolError(head.Chunked
                        ? "Asterisk sent a chunked answer on a pipelined connection; pipelining needs Content-Length answers (set ari MaxPipelineDepth to 1)."
                        : "Asterisk sent an answer without Content-Length on a pipelined connection; its end cannot be found (set ari MaxPipelineDepth to 1).");
                }

                if (head.ContentLength > PooledLimit)
                {
                    throw new ProtocolError($"Asterisk announced a body of {head.ContentLength} bytes on a pipelined connection, more than {PooledLimit} bytes.");
                }

                var length = (int)head.ContentLength.Value;
                var bodyStart = headEnd + 4;
                var have = Math.Min(length, available.Length - bodyStart);
                var buffer = length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length);
                available.Slice(bodyStart, have).CopyTo(buffer);
                consumed += bodyStart + have;
                needBody = length - have;
                response = new AriHttpResponse(head.Status, reason, buffer, length, pooled: length > 0);
                return true;
            }
        }

        private const int PooledLimit = 16 * 1024 * 1024;

        private string? PeekMethod()
        {
            lock (_sync)
            {
                return _inFlight.TryPeek(out var call) ? call.Method : null;
            }
        }
    }

    /// <summary>An answer that breaks the HTTP framing: the connection's answers can no longer be matched.</summary>
    private sealed class ProtocolError(string message) : Exception(message);
}
