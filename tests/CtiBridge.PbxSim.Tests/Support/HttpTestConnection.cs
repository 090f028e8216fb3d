using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>A raw HTTP/1.1 client for tests: sends recorded request bytes, reads one response at a time.</summary>
internal sealed class HttpTestConnection : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];
    private readonly byte[] _buffer = new byte[64 * 1024];

    private HttpTestConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public NetworkStream Stream => _stream;

    public static async Task<HttpTestConnection> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var client = new TcpClient();
        await client.ConnectAsync(endPoint, cancellationToken);
        return new HttpTestConnection(client);
    }

    public Task SendAsync(byte[] bytes, CancellationToken cancellationToken) => _stream.WriteAsync(bytes, cancellationToken).AsTask();

    /// <summary>Reads one response (head and Content-Length body) as a string.</summary>
    public async Task<string> ReadResponseAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var text = Encoding.UTF8.GetString(_pending.ToArray());
            var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (headEnd >= 0)
            {
                var head = text[..headEnd];
                var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                var length = lengthLine is null ? 0 : int.Parse(lengthLine[15..].Trim());
                var headBytes = Encoding.UTF8.GetByteCount(text[..(headEnd + 4)]);
                if (_pending.Count >= headBytes + length)
                {
                    var response = Encoding.UTF8.GetString(_pending.GetRange(0, headBytes + length).ToArray());
                    _pending.RemoveRange(0, headBytes + length);
                    return response;
                }
            }

            await ReadMoreAsync(cancellationToken);
        }
    }

    /// <summary>Reads until the server closes, returning everything received.</summary>
    public async Task<byte[]> ReadToEndAsync(CancellationToken cancellationToken)
    {
        while (await ReadMoreAsync(cancellationToken) > 0)
        {
        }

        return [.. _pending];
    }

    /// <summary>Reads the bytes that are there (or waits for some).</summary>
    public async Task<int> ReadMoreAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        int read;
        try
        {
            read = await _stream.ReadAsync(_buffer, timeout.Token);
        }
        catch (IOException)
        {
            return 0;
        }

        _pending.AddRange(_buffer.AsSpan(0, read).ToArray());
        return read;
    }

    public List<byte> Pending => _pending;

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }
}
