using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>
/// https and wss on loopback: a TLS server with a certificate made in the test answers a REST call
/// and upgrades the events WebSocket. Trusted through <see cref="AriClientOptions.Tls"/>, both work
/// and carry the Basic credentials inside TLS; untrusted, both fail with a clear connection error.
/// </summary>
public sealed class AriTlsTests
{
    /// <summary>
    /// How long the test waits for an answer or an error. The first TLS request of a process costs
    /// ~0.2 s of CPU (OpenSSL set-up, the system trust store read for chain building, JIT of the TLS
    /// and HTTP stacks; measured: later requests ~3 ms), which at load 75 on 2 cores is more than the
    /// client's default 10 s RequestTimeout/ConnectTimeout. Those defaults are how soon call control
    /// gives up on a live Asterisk, not what this test checks, so here the client's bounds are the
    /// test's own hang guard.
    /// </summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create();
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    private static AriClientOptions Options(TlsAsterisk server, SslClientAuthenticationOptions? tls) => new()
    {
        BaseAddress = new Uri($"https://127.0.0.1:{server.Port}/ari"),
        UserName = "ctibridge",
        Password = "ctibridge-secret",
        Tls = tls,
        PingInterval = TimeSpan.FromMinutes(10),
        RequestTimeout = Patience,
        ConnectTimeout = Patience,
    };

    [Fact]
    public async Task HttpsRestAndWssEvents_TrustedSelfSignedCertificate_Work()
    {
        var ct = TestContext.Current.CancellationToken;
        using var certificate = SelfSigned();
        var thumbprint = certificate.GetCertHashString();
        await using var server = new TlsAsterisk(certificate);
        var tls = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == thumbprint,
        };
        using var client = new AriClient(Options(server, tls));
        await using var events = new AriEventConnection(Options(server, tls));

        var ping = await client.Asterisk.PingAsync(ct).WaitAsync(Patience, ct);
        await events.StartAsync(ct).WaitAsync(Patience, ct);
        await using var stream = events.ReadAllAsync(ct).GetAsyncEnumerator(ct);
        Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(Patience, ct));

        Assert.Equal("pong", ping.Ping);
        var start = Assert.IsType<StasisStart>(stream.Current);
        Assert.Equal("cust-0001-2", start.Channel.Id);
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("ctibridge:ctibridge-secret"));
        Assert.Equal(2, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Contains("Authorization: " + expected + "\r\n", r, StringComparison.Ordinal));
        Assert.StartsWith("GET /ari/asterisk/ping ", server.Requests.First(), StringComparison.Ordinal);
        Assert.StartsWith("GET /ari/events?app=ctibridge", server.Requests.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task HttpsRestAndWssEvents_UntrustedCertificate_FailWithConnectionError()
    {
        var ct = TestContext.Current.CancellationToken;
        using var certificate = SelfSigned();
        await using var server = new TlsAsterisk(certificate);
        using var client = new AriClient(Options(server, null));
        await using var events = new AriEventConnection(Options(server, null));

        var rest = await Assert.ThrowsAsync<AriConnectionException>(() => client.Asterisk.PingAsync(ct).WaitAsync(Patience, ct));
        var socket = await Assert.ThrowsAsync<AriConnectionException>(() => events.StartAsync(ct).WaitAsync(Patience, ct));

        Assert.Contains("/asterisk/ping", rest.Message, StringComparison.Ordinal);
        Assert.IsType<System.Security.Authentication.AuthenticationException>(socket.InnerException);
        Assert.Empty(server.Requests);
    }

    /// <summary>
    /// A TLS "Asterisk" on 127.0.0.1:0: <c>GET /ari/asterisk/ping</c> gets the recorded answer, <c>/ari/events</c>
    /// is upgraded and sent the first recorded event of the inbound call. Every request head is kept.
    /// </summary>
    private sealed class TlsAsterisk : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly X509Certificate2 _certificate;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accept;
        private readonly List<Task> _sessions = [];

        public TlsAsterisk(X509Certificate2 certificate)
        {
            _certificate = certificate;
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _accept = AcceptAsync();
        }

        public int Port { get; }

        public System.Collections.Concurrent.ConcurrentQueue<string> Requests { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            try
            {
                await _accept;
            }
            // Stopping the listener ends the accept loop with whichever of these the race gives.
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
            }

            Task[] sessions;
            lock (_sessions)
            {
                sessions = [.. _sessions];
            }

            await Task.WhenAll(sessions).WaitAsync(Patience);
            _stop.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_sessions)
                {
                    _sessions.Add(ServeAsync(socket));
                }
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
            try
            {
                await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                while (await ReadHeadAsync(ssl) is { } head)
                {
                    Requests.Enqueue(head);
                    if (head.StartsWith("GET /ari/events", StringComparison.Ordinal))
                    {
                        await UpgradeAndSendFirstEventAsync(ssl, head);
                        return;
                    }

                    var body = "{\"ping\":\"pong\",\"timestamp\":\"2026-11-22T16:41:30.649+0000\",\"asterisk_id\":\"02:fc:00:00:00:01\"}";
                    await ssl.WriteAsync(Encoding.ASCII.GetBytes(
                        $"HTTP/1.1 200 OK\r\nServer: Asterisk/22.10.1\r\nContent-type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}"), _stop.Token);
                }
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException or SocketException)
            {
                // The client rejected the certificate or left; the test's assertions say which.
            }
        }

        private async Task UpgradeAndSendFirstEventAsync(SslStream ssl, string head)
        {
            var key = head.Split("\r\n").First(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase)).Split(':', 2)[1].Trim();
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 here.
            var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
            await ssl.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), _stop.Token);
            using var first = JsonDocument.Parse(File.ReadLines(Path.Combine(AriFixtures.Directory, "inbound-call.events.jsonl")).First());
            var payload = Encoding.UTF8.GetBytes(first.RootElement.GetProperty("payload").GetString()!);
            var frame = new List<byte> { 0x81 };
            if (payload.Length < 126)
            {
                frame.Add((byte)payload.Length);
            }
            else
            {
                frame.Add(126);
                frame.Add((byte)(payload.Length >> 8));
                frame.Add((byte)payload.Length);
            }

            frame.AddRange(payload);
            await ssl.WriteAsync(frame.ToArray(), _stop.Token);
            // Hold the socket open until the client closes it or the server stops.
            var sink = new byte[1024];
            while (await ssl.ReadAsync(sink, _stop.Token) > 0)
            {
            }
        }

        private async Task<string?> ReadHeadAsync(SslStream ssl)
        {
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await ssl.ReadAsync(one, _stop.Token) == 0)
                {
                    return null;
                }

                head.Append((char)one[0]);
            }

            return head.ToString();
        }
    }
}
