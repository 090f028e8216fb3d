using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>A request as the loopback server received it: its request line, headers and body.</summary>
internal sealed record ReceivedRequest(string Line, Dictionary<string, string> Headers, string Body)
{
    public string Method => Line.Split(' ')[0];

    public string Target => Line.Split(' ')[1];

    public string Path => Target.Split('?', 2)[0];

    public string? Query => Target.Contains('?', StringComparison.Ordinal) ? Target.Split('?', 2)[1] : null;
}

/// <summary>What the server does after a request: bytes to send now (one answer, several, or none), and whether to close then.</summary>
internal sealed record ServerReply(byte[] Bytes, bool Close = false);

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1:0 standing in for Asterisk's in the ARI REST tests (Content-Length
/// bodies, keep-alive, pipelined requests read as they come). Either it answers each request with the bytes
/// its responder returns (recorded Asterisk responses, byte for byte), or, scripted, it asks the test after each
/// request what to send, given the connection's number (from 1) and the requests read on it so far: nothing
/// yet (null), or a <see cref="ServerReply"/> (several answers at once, a close). It counts the connections it
/// accepted and keeps every request it read.
/// </summary>
internal sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<int, IReadOnlyList<ReceivedRequest>, Task<ServerReply?>> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly ConcurrentDictionary<int, ConcurrentQueue<string>> _lines = new();
    private readonly Task _accept;
    private int _accepted;

    /// <summary>A server answering each request, at once, with the bytes <paramref name="respond"/> returns.</summary>
    public LoopbackHttpServer(Func<ReceivedRequest, Task<byte[]>> respond)
        : this(async (_, requests) => new ServerReply(await respond(requests[^1])))
    {
    }

    /// <summary>A server that, after each request, sends what <paramref name="script"/> says (see the class summary).</summary>
    public LoopbackHttpServer(Func<int, IReadOnlyList<ReceivedRequest>, Task<ServerReply?>> script)
    {
        _script = script;
        _listener.Start(512);
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri AriBase => new($"http://127.0.0.1:{Port}/ari");

    /// <summary>How many connections the server accepted.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Every request read, on all connections, in the order read.</summary>
    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    /// <summary>The request lines read on the <paramref name="connection"/>th connection (from 1).</summary>
    public List<string> Lines(int connection) => _lines.TryGetValue(connection, out var lines) ? [.. lines] : [];

    /// <summary>A loopback port nothing listens on (just released by the OS), for "Asterisk is down" tests.</summary>
    public static int UnusedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        await _accept;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                socket.NoDelay = true;
                _sockets.Add(socket);
                _ = ServeAsync(socket, Interlocked.Increment(ref _accepted));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        catch (InvalidOperationException) when (_stop.IsCancellationRequested)
        {
            // Stopped between two accepts: the listener says "not listening".
        }
    }

    private async Task ServeAsync(Socket socket, int connection)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        var read = new List<ReceivedRequest>();
        var seen = _lines.GetOrAdd(connection, _ => new ConcurrentQueue<string>());
        try
        {
            while (true)
            {
                int end;
                while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled), _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, end).Split("\r\n");
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var pair in head.Skip(1).Select(l => l.Split(':', 2)))
                {
                    headers[pair[0].Trim()] = pair[1].Trim();
                }

                var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
                var total = end + 4 + length;
                while (filled < total)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(filled), _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                var request = new ReceivedRequest(head[0], headers, Encoding.UTF8.GetString(buffer, end + 4, length));
                Buffer.BlockCopy(buffer, total, buffer, 0, filled - total);
                filled -= total;
                read.Add(request);
                seen.Enqueue(request.Line);
                Requests.Enqueue(request);
                var reply = await _script(connection, read);
                if (reply is null)
                {
                    continue;
                }

                if (reply.Bytes.Length > 0)
                {
                    await socket.SendAsync(reply.Bytes, _stop.Token);
                }

                if (reply.Close)
                {
                    socket.Shutdown(SocketShutdown.Both);
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }
}
