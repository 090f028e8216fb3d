using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>A request as the loopback server received it.</summary>
internal sealed record ReceivedRequest(string Method, string Target, Dictionary<string, string> Headers, string Body)
{
    public string Path => Target.Split('?', 2)[0];

    public string? Query => Target.Contains('?', StringComparison.Ordinal) ? Target.Split('?', 2)[1] : null;
}

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1:0 (keep-alive, Content-Length bodies) that answers each request
/// with the bytes its responder returns: recorded Asterisk responses, byte for byte.
/// </summary>
internal sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<ReceivedRequest, Task<byte[]>> _respond;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly ConcurrentBag<TcpClient> _clients = [];

    public LoopbackHttpServer(Func<ReceivedRequest, Task<byte[]>> respond)
    {
        _respond = respond;
        _listener.Start(512);
        _accept = AcceptAsync();
    }

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    public Uri AriBase => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/ari");

    /// <summary>A loopback port nothing listens on (just released by the OS), for "Asterisk is down" tests.</summary>
    public static int UnusedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                client.NoDelay = true;
                _clients.Add(client);
                _ = ServeAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            var stream = client.GetStream();
            var buffer = new byte[64 * 1024];
            var filled = 0;
            while (true)
            {
                int headEnd;
                while ((headEnd = IndexOf(buffer.AsSpan(0, filled), "\r\n\r\n"u8)) < 0)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, headEnd).Split("\r\n");
                var line = head[0].Split(' ');
                var headers = head.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
                var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
                var total = headEnd + 4 + length;
                while (filled < total)
                {
                    var n = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                var request = new ReceivedRequest(line[0], line[1], headers, Encoding.UTF8.GetString(buffer, headEnd + 4, length));
                Buffer.BlockCopy(buffer, total, buffer, 0, filled - total);
                filled -= total;
                Requests.Enqueue(request);
                var response = await _respond(request);
                await stream.WriteAsync(response, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private static int IndexOf(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> needle) => haystack.IndexOf(needle);

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
}
