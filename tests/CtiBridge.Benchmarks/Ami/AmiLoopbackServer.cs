using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Benchmarks.Ami;

/// <summary>
/// A minimal AMI server on 127.0.0.1:0 for the loopback benchmarks: banner, accepts any Login,
/// answers Ping with Pong, and answers <c>Action: Stream</c> (header <c>Repeat</c>) by writing
/// the prepared event block that many times as fast as the socket takes it.
/// </summary>
internal sealed class AmiLoopbackServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _block;
    private readonly Task _accept;

    public AmiLoopbackServer(byte[] block)
    {
        _block = block;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = AcceptAsync();
    }

    public int Port { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accept;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        socket.NoDelay = true;
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = PipeReader.Create(stream);
        var parser = new AmiFrameParser();
        try
        {
            await stream.WriteAsync("Asterisk Call Manager/11.0.0\r\n"u8.ToArray(), _stop.Token);
            var replies = new StringBuilder();
            while (true)
            {
                var result = await reader.ReadAsync(_stop.Token);
                var buffer = result.Buffer;
                var streams = 0;
                while (parser.TryRead(ref buffer, out var frame))
                {
                    var action = frame.Message!;
                    var id = action.ActionId;
                    switch (action["Action"])
                    {
                        case "Stream":
                            replies.Append("Response: Success\r\nActionID: ").Append(id).Append("\r\nMessage: Streaming\r\n\r\n");
                            streams += int.Parse(action["Repeat"] ?? "1", System.Globalization.CultureInfo.InvariantCulture);
                            break;
                        case "Ping":
                            replies.Append("Response: Success\r\nActionID: ").Append(id).Append("\r\nPing: Pong\r\nTimestamp: 1795365559.569011\r\n\r\n");
                            break;
                        default:
                            replies.Append("Response: Success\r\nActionID: ").Append(id).Append("\r\nMessage: Authentication accepted\r\n\r\n");
                            break;
                    }
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (replies.Length > 0)
                {
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(replies.ToString()), _stop.Token);
                    replies.Clear();
                }

                for (var i = 0; i < streams; i++)
                {
                    await stream.WriteAsync(_block, _stop.Token);
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
            // Client gone or benchmark over.
        }
    }
}
