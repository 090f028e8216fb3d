using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>
/// A scripted AMI server on 127.0.0.1:0 (NATS MockServer style): each accepted connection runs
/// the script, which talks to the client through a <see cref="FakeAmiPeer"/>. The socket is
/// closed when the script returns.
/// </summary>
internal sealed class ScriptedAmiServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<FakeAmiPeer, CancellationToken, Task> _script;
    private readonly Task _acceptLoop;
    private readonly List<Task> _sessions = [];
    private int _connections;

    private readonly X509Certificate2? _certificate;

    public ScriptedAmiServer(Func<FakeAmiPeer, CancellationToken, Task> script, X509Certificate2? tlsCertificate = null)
    {
        _script = script;
        _certificate = tlsCertificate;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptAsync();
    }

    public int Port { get; }

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Every peer, in connection order (tests can reach a session from outside its script).</summary>
    public Channel<FakeAmiPeer> Peers { get; } = Channel.CreateUnbounded<FakeAmiPeer>();

    public AmiClientOptions Options(string secret = "ctibridge-secret") => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "ctibridge",
        Secret = secret,
        Authentication = AmiAuthentication.Plain,
        PingInterval = TimeSpan.Zero,
        ReconnectJitter = 0,
    };

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        Task[] sessions;
        lock (_sessions)
        {
            sessions = [.. _sessions];
        }

        await Task.WhenAll(sessions).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            Interlocked.Increment(ref _connections);
            lock (_sessions)
            {
                _sessions.Add(RunAsync(socket));
            }
        }
    }

    private async Task RunAsync(Socket socket)
    {
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        var peer = new FakeAmiPeer(socket, stream);
        try
        {
            if (_certificate is not null)
            {
                var tls = new SslStream(stream);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                peer = new FakeAmiPeer(socket, tls);
            }

            Peers.Writer.TryWrite(peer);
            await _script(peer, _stop.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or AuthenticationException)
        {
            // The client went away or the test ended.
        }
        finally
        {
            peer.Close();
        }
    }
}

/// <summary>The server side of one AMI connection.</summary>
internal sealed class FakeAmiPeer
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly AmiFrameParser _parser = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public FakeAmiPeer(Socket socket, Stream stream)
    {
        _socket = socket;
        _socket.NoDelay = true;
        _stream = stream;
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    /// <summary>Every action received so far, in order.</summary>
    public List<AmiMessage> Received { get; } = [];

    public Task SendAsync(string text, CancellationToken cancellationToken) => SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken);

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The next action the client sent, or null when it closed the connection.</summary>
    public async Task<AmiMessage?> ReadActionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var found = _parser.TryRead(ref buffer, out var frame);
            // Only claim to have examined everything when no frame came out of it.
            if (found)
            {
                _reader.AdvanceTo(buffer.Start);
            }
            else
            {
                _reader.AdvanceTo(buffer.Start, buffer.End);
            }

            if (found && frame.Message is { } message)
            {
                lock (Received)
                {
                    Received.Add(message);
                }

                return message;
            }

            if (!found && result.IsCompleted)
            {
                return null;
            }
        }
    }

    /// <summary>Banner, then answers Challenge/Login like Asterisk for the given secret; returns the Login action.</summary>
    public async Task<AmiMessage> ServeLoginAsync(CancellationToken cancellationToken, string secret = "ctibridge-secret")
    {
        await SendAsync("Asterisk Call Manager/11.0.0\r\n", cancellationToken);
        string? challenge = null;
        while (true)
        {
            var action = await ReadActionAsync(cancellationToken) ?? throw new IOException("client left during login");
            var id = action.ActionId;
            switch (action["Action"])
            {
                case "Challenge":
                    challenge = "607739071";
                    await SendAsync($"Response: Success\r\nActionID: {id}\r\nChallenge: {challenge}\r\n\r\n", cancellationToken);
                    break;
                case "Login":
#pragma warning disable CA5351 // Asterisk's AMI challenge is MD5 by definition.
                    var ok = challenge is null
                        ? action["Secret"] == secret
                        : action["Key"] == Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes(challenge + secret)));
#pragma warning restore CA5351
                    if (!ok)
                    {
                        await SendAsync($"Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n", cancellationToken);
                        throw new OperationCanceledException("login refused");
                    }

                    await SendAsync($"Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n", cancellationToken);
                    return action;
                default:
                    await SendAsync($"Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n", cancellationToken);
                    break;
            }
        }
    }

    /// <summary>Answers every action with its own ActionID until the client leaves (Ping gets Pong).</summary>
    public async Task EchoUntilClosedAsync(CancellationToken cancellationToken)
    {
        while (await ReadActionAsync(cancellationToken) is { } action)
        {
            await SendAsync(Response(action), cancellationToken);
        }
    }

    public static string Response(AmiMessage action) =>
        $"Response: Success\r\nActionID: {action.ActionId}\r\nPing: Pong\r\nEcho: {action["Echo"] ?? action["Action"]}\r\n\r\n";

    public void Close()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        _socket.Close();
    }
}
