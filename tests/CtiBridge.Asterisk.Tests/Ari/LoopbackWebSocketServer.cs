using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>One accepted connection of <see cref="LoopbackWebSocketServer"/>, as the scripted Asterisk sees it.</summary>
internal sealed class ScriptedAsteriskConnection(int index, TcpClient client, string requestHead)
{
    private readonly NetworkStream _stream = client.GetStream();

    /// <summary>0 for the first connection, 1 for the first reconnect, ...</summary>
    public int Index { get; } = index;

    /// <summary>The upgrade request as received (request line and headers).</summary>
    public string RequestHead { get; } = requestHead;

    public string RequestTarget => RequestHead.Split("\r\n")[0].Split(' ')[1];

    public string? Header(string name) => RequestHead.Split("\r\n").Skip(1)
        .Select(l => l.Split(':', 2)).Where(p => p.Length == 2 && p[0].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
        .Select(p => p[1].Trim()).FirstOrDefault();

    /// <summary>Answers the upgrade with 101 and the correct Sec-WebSocket-Accept, as Asterisk does.</summary>
    public Task AcceptAsync(CancellationToken ct)
    {
        var key = Header("Sec-WebSocket-Key")!;
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 here.
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        return SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), ct);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        await _stream.WriteAsync(bytes, ct);
        await _stream.FlushAsync(ct);
    }

    /// <summary>Reads one (masked) client frame: opcode and unmasked payload; null at end of stream.</summary>
    public async Task<(int Opcode, byte[] Payload)?> ReadFrameAsync(CancellationToken ct)
    {
        var header = new byte[2];
        if (!await ReadExactlyAsync(header, ct))
        {
            return null;
        }

        long length = header[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await ReadExactlyAsync(ext, ct);
            length = BinaryPrimitives.ReadUInt16BigEndian(ext);
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            await ReadExactlyAsync(ext, ct);
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(ext);
        }

        Assert.True((header[1] & 0x80) != 0, "client frames must be masked");
        var mask = new byte[4];
        await ReadExactlyAsync(mask, ct);
        var payload = new byte[length];
        await ReadExactlyAsync(payload, ct);
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] ^= mask[i & 3];
        }

        return (header[0] & 0x0F, payload);
    }

    /// <summary>Drops the TCP connection at once (what a crash or network cut looks like).</summary>
    public void Drop() => client.Dispose();

    private async Task<bool> ReadExactlyAsync(byte[] buffer, CancellationToken ct)
    {
        try
        {
            await _stream.ReadExactlyAsync(buffer, ct);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
    }
}

/// <summary>
/// A scripted stand-in for Asterisk's /ari/events endpoint on 127.0.0.1:0: every accepted connection's
/// upgrade request is read, then handed to the script with its index.
/// </summary>
internal sealed class LoopbackWebSocketServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<ScriptedAsteriskConnection, CancellationToken, Task> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly ConcurrentBag<TcpClient> _clients = [];
    private int _count;

    public LoopbackWebSocketServer(Func<ScriptedAsteriskConnection, CancellationToken, Task> script)
    {
        _script = script;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public Uri AriBase => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/ari");

    public ConcurrentQueue<ScriptedAsteriskConnection> Connections { get; } = new();

    public ConcurrentQueue<Exception> ScriptErrors { get; } = new();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                client.NoDelay = true;
                _clients.Add(client);
                _ = RunAsync(client, _count++);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
    }

    private async Task RunAsync(TcpClient client, int index)
    {
        try
        {
            var stream = client.GetStream();
            var head = new List<byte>();
            var one = new byte[1];
            while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (await stream.ReadAsync(one, _stop.Token) == 0)
                {
                    return;
                }

                head.Add(one[0]);
            }

            var connection = new ScriptedAsteriskConnection(index, client, Encoding.ASCII.GetString([.. head]));
            Connections.Enqueue(connection);
            await _script(connection, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
        }
        catch (Exception e)
        {
            ScriptErrors.Enqueue(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        await _accept;
        _stop.Dispose();
    }

    /// <summary>The frames of a recorded *.ws.raw stream (after the 101 head), each as its exact bytes; the close frame last.</summary>
    public static List<byte[]> RecordedFrames(string scenario)
    {
        var bytes = AriFixtures.WebSocketBytes(scenario);
        var at = bytes.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        var frames = new List<byte[]>();
        while (at < bytes.Length)
        {
            long length = bytes[at + 1] & 0x7F;
            var headerLength = 2;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 2));
                headerLength = 4;
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(at + 2));
                headerLength = 10;
            }

            var size = headerLength + (int)length;
            frames.Add(bytes.AsSpan(at, size).ToArray());
            at += size;
        }

        return frames;
    }
}
