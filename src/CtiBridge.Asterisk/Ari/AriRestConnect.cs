using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace CtiBridge.Asterisk.Ari;

/// <summary>Opens one REST connection to Asterisk for both socket transports (one call at a time, and pipelined).</summary>
internal static class AriRestConnect
{
    /// <summary>
    /// TCP connect (no Nagle) and, with <paramref name="tls"/>, the TLS handshake, both within <paramref name="connectTimeout"/>;
    /// running out of it is an <see cref="IOException"/> naming the server and the timeout. The socket is disposed on failure.
    /// </summary>
    public static async Task<(Socket Socket, Stream Stream)> OpenAsync(
        string host, int port, SslClientAuthenticationOptions? tls, TimeSpan connectTimeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(connectTimeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new DnsEndPoint(host, port), linked.Token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(tls, linked.Token).ConfigureAwait(false);
            }

            return (socket, stream);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new IOException(string.Create(CultureInfo.InvariantCulture,
                $"no connection to {host}:{port} within the connect timeout of {connectTimeout.TotalSeconds:0.###} s"));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
