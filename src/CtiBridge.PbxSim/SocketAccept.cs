using System.Net.Sockets;

namespace CtiBridge.PbxSim;

/// <summary>The accept loop of PbxSim's servers (AMI and ARI): one place for how they take connections and stop.</summary>
internal static class SocketAccept
{
    /// <summary>
    /// Takes connections on <paramref name="listener"/> (Nagle off) and hands each to <paramref name="accepted"/>
    /// until <paramref name="cancellationToken"/> is cancelled or the listener is stopped.
    /// </summary>
    public static async Task LoopAsync(TcpListener listener, Action<Socket> accepted, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            socket.NoDelay = true;
            accepted(socket);
        }
    }
}
