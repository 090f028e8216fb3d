using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace CtiBridge.PbxSim.Ami;

/// <summary>
/// The AMI listener: accepts connections, runs one <see cref="AmiSession"/> each, fans events out to
/// the sessions whose read permission and <c>Events:</c> mask cover the event's class.
/// </summary>
internal sealed partial class AmiServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<AmiSession, byte> _sessions = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _logger;
    private readonly AmiActions _actions;
    private TcpListener? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private long _sessionCount;

    public AmiServer(PbxSimulator simulator, ILogger logger)
    {
        Simulator = simulator;
        _logger = logger;
        _actions = new AmiActions(simulator, this);
    }

    public PbxSimulator Simulator { get; }

    public TimeProvider Time => Simulator.Time;

    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>Fault injection: every message written waits this long first.</summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>Fault injection: every login fails as if the secret were wrong.</summary>
    public bool RefuseLogins { get; set; }

    public int SessionCount => _sessions.Count;

    public void Start(IPAddress address, int port)
    {
        _listener = new TcpListener(address, port);
        _listener.Start(512);
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

    /// <summary>Sends an event to every session that should see it, preserving publication order.</summary>
    public void Publish(AmiPrivilege category, AmiMessage message)
    {
        if (_sessions.IsEmpty)
        {
            return;
        }

        byte[]? bytes = null;
        foreach (var session in _sessions.Keys)
        {
            if (session.Wants(category))
            {
                bytes ??= message.ToWireBytes();
                session.Send(bytes);
            }
        }
    }

    /// <summary>Drops every AMI connection (fault injection and restart).</summary>
    public void DropConnections()
    {
        foreach (var session in _sessions.Keys)
        {
            session.Abort();
        }
    }

    internal Task ExecuteAsync(AmiSession session, AmiMessage action, CancellationToken cancellationToken) =>
        _actions.ExecuteAsync(session, action, cancellationToken);

    internal void Remove(AmiSession session)
    {
        _sessions.TryRemove(session, out _);
        LogDisconnected(session.RemoteEndPoint.ToString());
    }

    private Task AcceptLoopAsync(CancellationToken cancellationToken) =>
        SocketAccept.LoopAsync(_listener!, socket =>
        {
            var session = new AmiSession(this, socket, Interlocked.Increment(ref _sessionCount));
            _sessions.TryAdd(session, 0);
            LogConnected(session.RemoteEndPoint.ToString());
            _ = session.RunAsync(cancellationToken);
        }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        await _acceptLoop;
        foreach (var session in _sessions.Keys)
        {
            await session.DisposeAsync();
        }

        _stop.Dispose();
    }

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Debug, Message = "AMI connection from {Remote}")]
    private partial void LogConnected(string remote);

    [LoggerMessage(Level = LogLevel.Debug, Message = "AMI connection from {Remote} closed")]
    private partial void LogDisconnected(string remote);
}
