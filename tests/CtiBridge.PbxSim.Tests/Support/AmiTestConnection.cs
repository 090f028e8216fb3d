using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>A raw AMI client for tests: writes exact bytes, reads exact messages (no CtiBridge client code).</summary>
internal sealed class AmiTestConnection : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly StringBuilder _pending = new();

    private AmiTestConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<AmiTestConnection> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var client = new TcpClient();
        await client.ConnectAsync(endPoint, cancellationToken);
        return new AmiTestConnection(client);
    }

    public Task SendAsync(string text, CancellationToken cancellationToken) =>
        _stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken).AsTask();

    /// <summary>Reads the one-line banner (CRLF, no blank line after it).</summary>
    public Task<string?> ReadBannerAsync(CancellationToken cancellationToken) => ReadUntilAsync("\r\n", cancellationToken);

    /// <summary>Reads one message including its terminating empty line, or null at end of stream.</summary>
    public Task<string?> ReadMessageAsync(CancellationToken cancellationToken) => ReadUntilAsync("\r\n\r\n", cancellationToken);

    /// <summary>True when the server closed the connection and nothing more is buffered.</summary>
    public async Task<bool> IsClosedByServerAsync(CancellationToken cancellationToken)
    {
        if (_pending.Length > 0)
        {
            return false;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadTimeout);
        try
        {
            var read = await _stream.ReadAsync(_buffer, timeout.Token);
            if (read > 0)
            {
                _pending.Append(Encoding.UTF8.GetString(_buffer, 0, read));
            }

            return read == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<string?> ReadUntilAsync(string terminator, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadTimeout);
        while (true)
        {
            var text = _pending.ToString();
            var end = text.IndexOf(terminator, StringComparison.Ordinal);
            if (end >= 0)
            {
                _pending.Remove(0, end + terminator.Length);
                return text[..(end + terminator.Length)];
            }

            int read;
            try
            {
                read = await _stream.ReadAsync(_buffer, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No complete AMI message within {ReadTimeout}; buffered so far: {text}");
            }

            if (read == 0)
            {
                return null;
            }

            _pending.Append(Encoding.UTF8.GetString(_buffer, 0, read));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }
}
