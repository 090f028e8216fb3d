using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CtiBridge.PbxSim.Ari;

/// <summary>
/// The ARI HTTP server (<c>/ari</c>): Basic auth, REST, and the <c>/ari/events</c> WebSocket. Its own
/// small HTTP/1.1 server rather than Kestrel, because Asterisk's exact heads (header order, the
/// <c>Content-type</c> spelling, two responses to one failed upgrade) are part of the contract.
/// </summary>
internal sealed partial class AriServer : IAsyncDisposable
{
    private readonly PbxSimulator _sim;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _connections = new();
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;

    public AriServer(PbxSimulator simulator, ILogger logger)
    {
        _sim = simulator;
        _logger = logger;
    }

    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>Fault injection: every response waits this long first.</summary>
    public TimeSpan ResponseDelay { get; set; }

    private readonly object _holdLock = new();
    private (Func<string, string, bool> Matches, TaskCompletionSource Released)? _requestHold;
    private int _requestsHeld;

    /// <summary>Requests that waited (or wait) at a <see cref="HoldRequests"/> gate since start.</summary>
    public int RequestsHeld => Volatile.Read(ref _requestsHeld);

    /// <summary>
    /// Fault injection: requests for which <paramref name="matches"/>(method, path) holds wait, before
    /// they are handled, until the returned handle is disposed (so their answer says what is true then).
    /// </summary>
    public IDisposable HoldRequests(Func<string, string, bool> matches)
    {
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_holdLock)
        {
            _requestHold = (matches, released);
        }

        return new RequestRelease(this, released);
    }

    private Task? HeldBy(HttpRequest request)
    {
        lock (_holdLock)
        {
            return _requestHold is var (matches, released) && matches(request.Method, request.Path) ? released.Task : null;
        }
    }

    private sealed class RequestRelease(AriServer server, TaskCompletionSource released) : IDisposable
    {
        public void Dispose()
        {
            lock (server._holdLock)
            {
                if (server._requestHold?.Released == released)
                {
                    server._requestHold = null;
                }
            }

            released.TrySetResult();
        }
    }

    public void Start(IPAddress address, int port)
    {
        _listener = new TcpListener(address, port);
        _listener.Start(512);
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    /// <summary>Drops every ARI connection, WebSockets included (fault injection, restart).</summary>
    public void DropConnections()
    {
        foreach (var socket in _connections.Keys)
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private Task AcceptLoopAsync(CancellationToken cancellationToken) =>
        SocketAccept.LoopAsync(_listener!, socket =>
        {
            _connections.TryAdd(socket, 0);
            _ = ServeAsync(socket, cancellationToken);
        }, cancellationToken);

    private async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var request = await HttpRequest.ReadAsync(reader, cancellationToken);
                if (request is null)
                {
                    return;
                }

                // The events WebSocket's upgrade too can be held: the events gap then lasts until it is released.
                if (HeldBy(request) is { } held)
                {
                    Interlocked.Increment(ref _requestsHeld);
                    await held.WaitAsync(cancellationToken);
                }

                if (request.Path.TrimEnd('/') == "/ari/events" && request.Method == "GET")
                {
                    await EventsAsync(request, stream, reader, cancellationToken);
                    return;
                }

                var response = Handle(request);
                _sim.Progress.Signal();
                if (ResponseDelay > TimeSpan.Zero)
                {
                    await Task.Delay(ResponseDelay, _sim.Time, cancellationToken);
                }

                // Requests come one after the other off the buffered reader, so pipelined ones are
                // answered in order, as Asterisk's httpd_helper_thread does (docs/ari.md, "Pipelining");
                // a client's "Connection: close" ends the session after its answer, which says so.
                var close = string.Equals(request.Header("Connection"), "close", StringComparison.OrdinalIgnoreCase);
                await stream.WriteAsync(response.ToBytes(_sim.Time.GetUtcNow(), close), cancellationToken);
                if (close)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away or the server is stopping.
        }
        finally
        {
            _connections.TryRemove(socket, out _);
            await reader.CompleteAsync();
        }
    }

    /// <summary>Basic auth (or <c>api_key=user:password</c>) against the configured ARI users.</summary>
    private bool Authorised(HttpRequest request)
    {
        string? credentials = null;
        if (request.Header("Authorization") is { } header && header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                credentials = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }
        }
        else if (request.Query.TryGetValue("api_key", out var key))
        {
            credentials = key;
        }

        if (credentials is null)
        {
            return false;
        }

        var colon = credentials.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && _sim.Options.AriUsers.Exists(u => u.Username == credentials[..colon] && u.Password == credentials[(colon + 1)..]);
    }

    private static HttpResponse Unauthorised() =>
        new(401, "Unauthorized", "{\"message\":\"Authentication required\"}",
            [new("WWW-Authenticate", "Basic realm=\"Asterisk REST Interface\"")]);

    private async Task EventsAsync(HttpRequest request, NetworkStream stream, PipeReader reader, CancellationToken cancellationToken)
    {
        var now = _sim.Time.GetUtcNow();
        if (!Authorised(request))
        {
            await stream.WriteAsync(Unauthorised().ToBytes(now), cancellationToken);
            return;
        }

        if (!request.Query.TryGetValue("app", out var apps) || apps.Length == 0)
        {
            // Asterisk answers a WebSocket upgrade without app= twice on the same connection.
            var date = now.UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture);
            var html = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n<address>Asterisk/" + PbxSimulator.AsteriskVersion + "</address>\r\n</body></html>\r\n";
            var first = $"HTTP/1.1 400 Bad Request\r\nServer: Asterisk/{PbxSimulator.AsteriskVersion}\r\nDate: {date}\r\nCache-Control: no-cache, no-store\r\nContent-type: text/html\r\nContent-Length: {Encoding.UTF8.GetByteCount(html)}\r\n\r\n{html}";
            var second = $"HTTP/1.1 400 Bad Request\r\nServer: Asterisk/{PbxSimulator.AsteriskVersion}\r\nDate: {date}\r\nCache-Control: no-cache, no-store\r\nSec-WebSocket-Version: 7, 8, 13\r\nContent-Length: 0\r\n\r\n";
            await stream.WriteAsync(Encoding.UTF8.GetBytes(first + second), cancellationToken);
            return;
        }

        var key = request.Header("Sec-WebSocket-Key") ?? "";
#pragma warning disable CA5350 // RFC 6455 defines the accept hash as SHA-1.
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        var session = new AriWebSocket(stream);
        lock (_sim.Gate)
        {
            foreach (var app in apps.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                _sim.Ari.Subscribe(app, session);
            }

            // The 101 goes out first, then events: queue it ahead of anything published later.
            session.SendRaw(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"));
        }

        _sim.Progress.Signal();
        try
        {
            await session.RunAsync(reader, cancellationToken);
        }
        finally
        {
            lock (_sim.Gate)
            {
                _sim.Ari.Unsubscribe(session);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        await _acceptLoop;
        DropConnections();
        _stop.Dispose();
    }
}

/// <summary>One <c>/ari/events</c> WebSocket: unmasked text frames out, the client's close answered with close 1000.</summary>
internal sealed class AriWebSocket(NetworkStream stream) : IAriSubscriber
{
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new() { SingleReader = true });

    public void Send(byte[] json) => _outgoing.Writer.TryWrite(Frame(0x1, json));

    public void SendRaw(byte[] bytes) => _outgoing.Writer.TryWrite(bytes);

    public static byte[] Frame(byte opcode, ReadOnlySpan<byte> payload)
    {
        var header = payload.Length < 126 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[header + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        if (payload.Length < 126)
        {
            frame[1] = (byte)payload.Length;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame[1] = 126;
            frame[2] = (byte)(payload.Length >> 8);
            frame[3] = (byte)payload.Length;
        }
        else
        {
            frame[1] = 127;
            for (var i = 0; i < 8; i++)
            {
                frame[2 + i] = (byte)((long)payload.Length >> (56 - (8 * i)));
            }
        }

        payload.CopyTo(frame.AsSpan(header));
        return frame;
    }

    public async Task RunAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writer = WriteLoopAsync(linked.Token);
        try
        {
            await ReadLoopAsync(reader, linked.Token);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
        }
        finally
        {
            _outgoing.Writer.TryComplete();
            await writer;
            await linked.CancelAsync();
        }
    }

    private async Task ReadLoopAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            while (TryReadFrame(ref buffer, out var opcode, out var payload))
            {
                switch (opcode)
                {
                    case 0x8:
                        // Close: answer with close 1000 and stop.
                        _outgoing.Writer.TryWrite(Frame(0x8, [0x03, 0xe8]));
                        reader.AdvanceTo(buffer.Start, buffer.End);
                        return;
                    case 0x9:
                        _outgoing.Writer.TryWrite(Frame(0xA, payload));
                        break;
                }
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out byte opcode, out byte[] payload)
    {
        opcode = 0;
        payload = [];
        if (buffer.Length < 2)
        {
            return false;
        }

        Span<byte> head = stackalloc byte[14];
        var available = (int)Math.Min(14, buffer.Length);
        buffer.Slice(0, available).CopyTo(head);
        var masked = (head[1] & 0x80) != 0;
        long length = head[1] & 0x7f;
        var offset = 2;
        if (length == 126)
        {
            if (available < 4)
            {
                return false;
            }

            length = (head[2] << 8) | head[3];
            offset = 4;
        }
        else if (length == 127)
        {
            if (available < 10)
            {
                return false;
            }

            length = 0;
            for (var i = 0; i < 8; i++)
            {
                length = (length << 8) | head[2 + i];
            }

            offset = 10;
        }

        if (length > 1024 * 1024)
        {
            throw new InvalidDataException("WebSocket frame too large");
        }

        var total = offset + (masked ? 4 : 0) + length;
        if (buffer.Length < total)
        {
            return false;
        }

        var mask = masked ? buffer.Slice(offset, 4).ToArray() : null;
        payload = buffer.Slice(offset + (masked ? 4 : 0), length).ToArray();
        if (mask is not null)
        {
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] ^= mask[i % 4];
            }
        }

        opcode = (byte)(head[0] & 0x0f);
        buffer = buffer.Slice(total);
        return true;
    }

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _outgoing.Reader.WaitToReadAsync(cancellationToken))
            {
                while (_outgoing.Reader.TryRead(out var bytes))
                {
                    await stream.WriteAsync(bytes, cancellationToken);
                }

                await stream.FlushAsync(cancellationToken);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
