using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// The Asterisk REST server as both socket transports (one call at a time, and pipelined) see it:
/// where it is, TLS, the connect timeout and the connection bound from <see cref="AriClientOptions"/>,
/// and the bytes written the same on every request. It opens their connections.
/// </summary>
internal sealed class AriRestEndpoint
{
    public AriRestEndpoint(AriClientOptions options, string authorization, TimeProvider timeProvider)
    {
        var address = options.BaseAddress;
        Host = address.IdnHost;
        Port = address.Port;
        Tls = address.Scheme == Uri.UriSchemeHttps
            ? options.Tls is { } tls ? AriTls.ForHost(tls, address.Host) : new SslClientAuthenticationOptions { TargetHost = address.Host }
            : null;
        ConnectTimeout = options.ConnectTimeout;
        TimeProvider = timeProvider;
        BasePath = Encoding.ASCII.GetBytes(address.AbsolutePath.TrimEnd('/'));
        // Written once: the same on every request. No Connection header: HTTP/1.1 keeps alive by default.
        FixedHeaders = Encoding.ASCII.GetBytes(
            $"Host: {address.Authority}\r\nAuthorization: {authorization}\r\nAccept: application/json\r\n");
        MaxConnections = options.MaxConnections;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>The TLS client options for an https address; null for plain http.</summary>
    public SslClientAuthenticationOptions? Tls { get; }

    public TimeSpan ConnectTimeout { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>The address's path without its trailing slash (<c>/ari</c>), put before each request's path.</summary>
    public byte[] BasePath { get; }

    /// <summary>The Host, Authorization and Accept header lines, each ending in CRLF.</summary>
    public byte[] FixedHeaders { get; }

    /// <summary><see cref="AriClientOptions.MaxConnections"/>: the most connections open (or opening) at once.</summary>
    public int MaxConnections { get; }

    /// <summary>
    /// TCP connect (no Nagle) and, with <see cref="Tls"/>, the TLS handshake, both within <see cref="ConnectTimeout"/>;
    /// running out of it is an <see cref="IOException"/> naming the server and the timeout. The socket is disposed on failure.
    /// </summary>
    public async Task<(Socket Socket, Stream Stream)> OpenAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(ConnectTimeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new DnsEndPoint(Host, Port), linked.Token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            if (Tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(Tls, linked.Token).ConfigureAwait(false);
            }

            return (socket, stream);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new IOException(string.Create(CultureInfo.InvariantCulture,
                $"no connection to {Host}:{Port} within the connect timeout of {ConnectTimeout.TotalSeconds:0.###} s"));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
