using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace CtiBridge.PbxSim.Ami;

/// <summary>
/// One AMI connection: a reader loop that parses actions and runs them one at a time (as Asterisk's
/// per-session thread does), and a writer loop fed by a channel, so responses and events leave in the
/// order the model produced them.
/// </summary>
internal sealed class AmiSession : IAsyncDisposable
{
    private const int MaxLineLength = 64 * 1024;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new() { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly AmiServer _server;
    private int _closed;
    private volatile bool _closing;

    public AmiSession(AmiServer server, Socket socket, long number)
    {
        _server = server;
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        // Asterisk prints the session's heap address; a stable fake pointer keeps the shape.
        SessionId = "0x7f8c" + (0x3c0027a0 + (number * 0x1460)).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
    }

    public string SessionId { get; }

    public IPEndPoint LocalEndPoint { get; }

    public IPEndPoint RemoteEndPoint { get; }

    public AmiUserOptions? User { get; set; }

    public bool Authenticated => User is not null;

    public AmiPrivilege ReadPermission { get; set; }

    public AmiPrivilege WritePermission { get; set; }

    /// <summary>The <c>Events:</c> mask the client asked for (all by default).</summary>
    public AmiPrivilege EventMask { get; set; } = AmiPrivilege.All;

    /// <summary>The last challenge handed out by the <c>Challenge</c> action.</summary>
    public string? Challenge { get; set; }

    public DateTimeOffset? AuthenticatedAt { get; set; }

    public CancellationToken Stopping => _stop.Token;

    /// <summary>True when an event of this class should be delivered to this session.</summary>
    public bool Wants(AmiPrivilege category) =>
        Authenticated && (ReadPermission & category) == category && (EventMask & category) == category;

    public void Send(AmiMessage message) => Send(message.ToWireBytes());

    public void Send(byte[] bytes) => _outgoing.Writer.TryWrite(bytes);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var writer = WriteLoopAsync(linked.Token);
        try
        {
            Send("Asterisk Call Manager/11.0.0\r\n"u8.ToArray());
            await ReadLoopAsync(linked.Token);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The peer went away or the server is stopping: nothing to answer.
        }
        finally
        {
            _outgoing.Writer.TryComplete();
            await writer;
            await CloseAsync();
        }
    }

    /// <summary>Sends what is queued, then closes (Logoff, failed login).</summary>
    public void CloseAfterFlush()
    {
        _closing = true;
        _outgoing.Writer.TryComplete();
    }

    /// <summary>Drops the connection at once (fault injection, restart).</summary>
    public void Abort()
    {
        _closing = true;
        _outgoing.Writer.TryComplete();
        _stop.Cancel();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task ReadLoopAsync(CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        var lines = new List<string>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var result = await reader.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                while (TryReadLine(ref buffer, out var line))
                {
                    if (line.Length == 0)
                    {
                        if (lines.Count > 0)
                        {
                            var action = AmiMessage.Parse(string.Join("\n", lines));
                            lines.Clear();
                            var running = _server.ExecuteAsync(this, action, cancellationToken);
                            _server.Simulator.Progress.Signal();
                            await running;
                            if (_closing)
                            {
                                return;
                            }
                        }
                    }
                    else
                    {
                        lines.Add(line);
                    }
                }

                if (buffer.Length > MaxLineLength)
                {
                    // A line this long is not AMI: drop the connection rather than buffer forever.
                    return;
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out string line)
    {
        var position = buffer.PositionOf((byte)'\n');
        if (position is null)
        {
            line = string.Empty;
            return false;
        }

        var slice = buffer.Slice(0, position.Value);
        line = Encoding.UTF8.GetString(slice).TrimEnd('\r');
        buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
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
                    if (bytes.Length > 0)
                    {
                        var delay = _server.ResponseDelay;
                        if (delay > TimeSpan.Zero)
                        {
                            await Task.Delay(delay, _server.Time, cancellationToken);
                        }

                        await _stream.WriteAsync(bytes, cancellationToken);
                    }
                }

                await _stream.FlushAsync(cancellationToken);
            }

            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Closed under us; the reader notices too.
        }
        finally
        {
            _stop.Cancel();
        }
    }

    private async ValueTask CloseAsync()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _server.Remove(this);
            await _stream.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Abort();
        await CloseAsync();
        _stop.Dispose();
    }
}
