using System.Net;
using System.Net.Sockets;

namespace CtiBridge.TestSupport;

/// <summary>
/// A loopback TCP proxy in front of a test server (PostgreSQL, PbxSim), so a test can cut it away
/// (every open connection is reset and new ones are closed at once), stall it (connections stay
/// open but no byte passes, like a hung network path), hold only the server's replies (requests
/// reach the server, its answers wait: a slow answer, the connection intact) and restore it.
/// </summary>
public sealed class LoopbackProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Lock _gate = new();
    private readonly Task _acceptLoop;
    private volatile bool _cut;
    private TaskCompletionSource _flowing = NewFlowing(open: true);
    private TaskCompletionSource _repliesFlowing = NewFlowing(open: true);

    /// <summary>Starts a proxy on a free loopback port forwarding to the target.</summary>
    public LoopbackProxy(string targetHost, int targetPort)
    {
        _targetHost = targetHost;
        _targetPort = targetPort;
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    /// <summary>The proxy's port on 127.0.0.1.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Resets every open connection; new ones are closed until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        _cut = true;
        lock (_gate)
        {
            foreach (var client in _open)
            {
                Reset(client);
            }

            _open.Clear();
        }
    }

    /// <summary>Holds every byte in both directions until <see cref="Restore"/>; connections stay open.</summary>
    public void Stall()
    {
        lock (_gate)
        {
            if (_flowing.Task.IsCompleted)
            {
                _flowing = NewFlowing(open: false);
            }
        }
    }

    /// <summary>
    /// Holds every byte from the target to the clients until <see cref="Restore"/>; what clients send still reaches the
    /// target, and connections stay open (answers delayed, nothing broken).
    /// </summary>
    public void HoldReplies()
    {
        lock (_gate)
        {
            if (_repliesFlowing.Task.IsCompleted)
            {
                _repliesFlowing = NewFlowing(open: false);
            }
        }
    }

    /// <summary>Lets connections through again (after <see cref="Cut"/>, <see cref="Stall"/> or <see cref="HoldReplies"/>).</summary>
    public void Restore()
    {
        _cut = false;
        lock (_gate)
        {
            _flowing.TrySetResult();
            _repliesFlowing.TrySetResult();
        }
    }

    private static TaskCompletionSource NewFlowing(bool open)
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (open)
        {
            source.SetResult();
        }

        return source;
    }

    private async Task CopyAsync(NetworkStream from, NetworkStream to, bool replies, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                return;
            }

            Task flowing;
            lock (_gate)
            {
                flowing = replies ? Task.WhenAll(_flowing.Task, _repliesFlowing.Task) : _flowing.Task;
            }

            await flowing.WaitAsync(cancellationToken);
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }

    // RST instead of FIN, like a pulled cable or a killed server.
    private static void Reset(TcpClient client)
    {
        try
        {
            client.Client?.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
        {
            // Already closed by its pipe.
        }

        client.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (_cut)
            {
                Reset(client);
                continue;
            }

            _ = PipeAsync(client);
        }
    }

    private async Task PipeAsync(TcpClient client)
    {
        var upstream = new TcpClient();
        try
        {
            await upstream.ConnectAsync(_targetHost, _targetPort, _stop.Token);
            lock (_gate)
            {
                _open.Add(client);
                _open.Add(upstream);
            }

            var a = CopyAsync(client.GetStream(), upstream.GetStream(), replies: false, _stop.Token);
            var b = CopyAsync(upstream.GetStream(), client.GetStream(), replies: true, _stop.Token);
            await Task.WhenAny(a, b);
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // A cut or a closed side ends the pipe; the other side is closed below.
        }
        finally
        {
            client.Dispose();
            upstream.Dispose();
            lock (_gate)
            {
                _open.Remove(client);
                _open.Remove(upstream);
            }
        }
    }

    /// <summary>Stops the proxy and resets its connections.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        await _acceptLoop;
        _stop.Dispose();
    }
}
