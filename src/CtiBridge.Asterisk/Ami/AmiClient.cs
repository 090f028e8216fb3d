using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// An Asterisk Manager Interface client: one logged-in TCP (or TLS) connection at a time,
/// re-established forever by default with exponential backoff and jitter. Actions are correlated
/// by ActionID; events reach consumers in order through <see cref="SubscribeEvents"/>, never on
/// the socket reader, and are never dropped silently (see <see cref="AmiClientOptions.EventBacklogLimit"/>).
/// </summary>
/// <remarks>Thread-safe. Create one per Asterisk server and keep it for the process lifetime.</remarks>
public sealed class AmiClient : IAsyncDisposable
{
    private readonly AmiClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AmiMetrics _metrics;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private AmiEventSubscription[] _subscriptions = [];
    private Channel<AmiConnectionStateChange>[] _stateWatchers = [];
    private AmiConnectionStateChange _state;
    private AmiConnection? _current;
    private AmiResync? _currentResync;
    private Exception? _lastDisconnectReason;
    private bool _everLoggedIn;
    private int _nextSubscriptionId;
    private Task? _supervisor;

    /// <summary>Creates a client; nothing connects until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Connection settings; validated here.</param>
    /// <param name="logger">Where to log; secrets are never logged.</param>
    /// <param name="timeProvider">Clock for timeouts, keep-alive and backoff (tests pass a fake one).</param>
    /// <param name="meterFactory">Creates the <c>CtiBridge.Asterisk.Ami</c> meter; null uses a private meter.</param>
    /// <exception cref="ArgumentException">The options are invalid (every problem is listed).</exception>
    public AmiClient(AmiClientOptions options, ILogger<AmiClient>? logger = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = new AmiMetrics(meterFactory, () => Volatile.Read(ref _current)?.PendingCount ?? 0, TotalBacklog);
        _state = new AmiConnectionStateChange(AmiConnectionState.NotStarted, 0, false, null, null, _time.GetUtcNow(), null);
        InstanceTag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    }

    /// <summary>The latest connection state.</summary>
    public AmiConnectionStateChange State => Volatile.Read(ref _state);

    /// <summary>The banner of the current connection (e.g. <c>Asterisk Call Manager/11.0.0</c>), or null.</summary>
    public string? ProtocolVersion => Volatile.Read(ref _current)?.ProtocolVersion;

    /// <summary>The name of the meter carrying the client's instruments.</summary>
    public static string MeterName => AmiMetrics.MeterName;

    /// <summary>Random tag that starts every ActionID of this client (unique per client instance).</summary>
    internal string InstanceTag { get; }

    /// <summary>Entries in the current connection's timeout queue, answered ones included (tests).</summary>
    internal int TimeoutEntries => Volatile.Read(ref _current)?.TimeoutEntries ?? 0;

    /// <summary>The option values in use.</summary>
    public AmiClientOptions Options => _options;

    /// <summary>
    /// Starts the connection loop (once) and waits until the client is logged in. The loop keeps
    /// running in the background whatever happens to this call.
    /// </summary>
    /// <exception cref="AmiLoginException">Asterisk refused the login (the client retries later, not in a tight loop).</exception>
    /// <exception cref="AmiConnectionException">The client gave up after <see cref="AmiClientOptions.MaxReconnectAttempts"/>.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        lock (_gate)
        {
            _supervisor ??= Task.Run(() => RunAsync(_disposed.Token), CancellationToken.None);
        }

        if (State.State == AmiConnectionState.Connected)
        {
            return;
        }

        await Volatile.Read(ref _started).Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Sends an action and returns its <c>Response:</c> message (which may be <c>Response: Error</c>:
    /// check <see cref="AmiMessage.IsSuccess"/>). The timeout starts when the action is written.
    /// </summary>
    /// <exception cref="AmiConnectionException">Not connected, or the connection broke before the answer.</exception>
    /// <exception cref="AmiActionTimeoutException">No answer within the timeout.</exception>
    public async Task<AmiMessage> SendAsync(AmiAction action, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        var result = await CurrentConnection().SendAsync(action, AmiAnswerKind.Response, null, cancellationToken);
        return result.Response;
    }

    /// <summary>
    /// Sends a list action (<c>QueueStatus</c>, <c>CoreShowChannels</c>, <c>Status</c>...) and returns
    /// the response with every item in order and the closing <c>...Complete</c> event. The timeout
    /// covers the whole list.
    /// </summary>
    /// <exception cref="AmiConnectionException">Not connected, or the connection broke mid-list.</exception>
    /// <exception cref="AmiActionTimeoutException">The list did not complete within the timeout.</exception>
    public Task<AmiListResult> SendListAsync(AmiAction action, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        return CurrentConnection().SendAsync(action, AmiAnswerKind.List, null, cancellationToken);
    }

    /// <summary>
    /// Sends an action whose outcome comes as an event with the same ActionID (asynchronous
    /// <c>Originate</c> answers with <c>OriginateResponse</c>): returns the response and that event
    /// (<see cref="AmiListResult.Complete"/>; null when the response was an error). The event also
    /// reaches subscribers.
    /// </summary>
    public Task<AmiListResult> SendAndAwaitEventAsync(AmiAction action, string eventName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentException.ThrowIfNullOrEmpty(eventName);
        return CurrentConnection().SendAsync(action, AmiAnswerKind.ResponseThenEvent, eventName, cancellationToken);
    }

    /// <summary>
    /// Opens an in-order event stream. <paramref name="eventNames"/> (case-insensitive) limits it to
    /// those events; null or empty means all. Resync signals always pass the filter. The stream
    /// starts with a resync signal: at the next login, or at once when the client is already
    /// logged in (the consumer loads its initial state the same way as after a reconnect).
    /// </summary>
    public AmiEventSubscription SubscribeEvents(IEnumerable<string>? eventNames = null)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var subscription = new AmiEventSubscription(this, Interlocked.Increment(ref _nextSubscriptionId), eventNames);
        lock (_gate)
        {
            // Under the gate shared with OnLoggedIn: either that login's signal reaches the new
            // subscription or this one does, never both; and it is queued before any event,
            // because the reader cannot see the subscription until the array below is published.
            if (_currentResync is { } resync && Volatile.Read(ref _current) is { IsBroken: false })
            {
                subscription.DeliverResync(resync);
            }

            _subscriptions = [.. _subscriptions, subscription];
        }

        return subscription;
    }

    /// <summary>
    /// Streams connection-state changes, starting with the current state. Each watcher has its own
    /// queue, so a slow watcher delays nobody. Ends when the client is disposed or the token cancels.
    /// </summary>
    public async IAsyncEnumerable<AmiConnectionStateChange> WatchStateAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<AmiConnectionStateChange>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            channel.Writer.TryWrite(_state);
            if (_disposed.IsCancellationRequested)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _stateWatchers = [.. _stateWatchers, channel];
            }
        }

        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return change;
            }
        }
        finally
        {
            lock (_gate)
            {
                _stateWatchers = [.. _stateWatchers.Where(w => w != channel)];
            }
        }
    }

    /// <summary>
    /// Logs off (<c>Logoff</c>, waiting up to <see cref="AmiClientOptions.LogoffTimeout"/> for
    /// <c>Goodbye</c>), closes the connection, fails pending actions, ends every subscription and
    /// stops reconnecting.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Task? supervisor;
        lock (_gate)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            supervisor = _supervisor;
        }

        var connection = Volatile.Read(ref _current);
        var disposed = new ObjectDisposedException(nameof(AmiClient), "The AMI client was disposed.");
        if (connection is { IsBroken: false } && _options.LogoffTimeout > TimeSpan.Zero)
        {
            // Callers learn of the dispose now, not after the Logoff exchange.
            connection.FailPending(disposed);
            await LogoffAsync(connection);
        }

        connection?.Break(disposed);
        if (supervisor is not null)
        {
            await supervisor;
        }

        Publish(AmiConnectionState.Stopped, _state.ConnectionNumber, false, new ObjectDisposedException(nameof(AmiClient)), null, null);
        Volatile.Read(ref _started).TrySetException(new ObjectDisposedException(nameof(AmiClient)));
        lock (_gate)
        {
            foreach (var subscription in _subscriptions)
            {
                subscription.Complete();
            }

            foreach (var watcher in _stateWatchers)
            {
                watcher.Writer.TryComplete();
            }

            _subscriptions = [];
            _stateWatchers = [];
        }

        _metrics.Dispose();
        _disposed.Dispose();
    }

    /// <summary>Delay before reconnect attempt <paramref name="failures"/> (1-based) given a uniform random number in [0, 1).</summary>
    internal static TimeSpan ComputeBackoff(AmiClientOptions options, int failures, double random)
    {
        var exponent = Math.Min(Math.Max(failures - 1, 0), 30);
        var ticks = Math.Min(options.ReconnectDelayMax.Ticks, options.ReconnectDelayMin.Ticks * Math.Pow(2, exponent));
        var spread = 1 + (options.ReconnectJitter * ((2 * random) - 1));
        return TimeSpan.FromTicks((long)(ticks * spread));
    }

    internal void Unsubscribe(AmiEventSubscription subscription)
    {
        lock (_gate)
        {
            _subscriptions = [.. _subscriptions.Where(s => s != subscription)];
        }
    }

    /// <summary>Reader loop: queue an event for every matching subscription; false on backlog overflow.</summary>
    internal bool DeliverEvent(AmiConnection connection, AmiMessage message)
    {
        var ok = true;
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (subscription.Accepts(message) && !subscription.Deliver(message, _options.EventBacklogLimit, _options.EventBacklogByteLimit))
            {
                ok = false;
                AmiLog.BacklogOverflow(_logger, subscription.Id, subscription.Backlog, subscription.BacklogBytes, _options.EventBacklogLimit, _options.EventBacklogByteLimit);
                connection.Break(new AmiEventBacklogException(
                    $"AMI event subscription {subscription.Id} holds {subscription.Backlog} unread events ({subscription.BacklogBytes} bytes), over the limit of " +
                    $"{_options.EventBacklogLimit} events or {_options.EventBacklogByteLimit} bytes; " +
                    "the connection was broken so that no event is dropped silently, and will be re-established with a resync signal."));
            }
        }

        return ok;
    }

    /// <summary>Reader loop, after each socket read that queued events: wakes the waiting consumers.</summary>
    internal void FlushEvents()
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            subscription.Flush();
        }
    }

    /// <summary>
    /// Reader loop, after each socket read: while a consumer has not yet taken more than
    /// <see cref="AmiClientOptions.ReaderLead"/> bytes of events, waits (up to
    /// <see cref="AmiClientOptions.ReaderLeadWait"/>) for it to take them, so the reader's lead and
    /// with it the memory of a burst stay small. Never while an action is pending.
    /// </summary>
    internal async ValueTask PaceReaderAsync(AmiConnection connection, CancellationToken cancellationToken)
    {
        if (_options.ReaderLead == 0)
        {
            return;
        }

        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            if (subscription.TryBeginReaderPause(_options.ReaderLead) is not { } waiter)
            {
                continue;
            }

            // Published the waiter first, then look at pending actions (SendAsync counts its action
            // first, then releases waiters): one of the two sides always sees the other.
            Interlocked.MemoryBarrier();
            if (connection.PendingCount > 0)
            {
                subscription.EndReaderPause(waiter, timedOut: false);
                return;
            }

            try
            {
                await waiter.Task.WaitAsync(_options.ReaderLeadWait, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                subscription.EndReaderPause(waiter, timedOut: true);
            }
        }
    }

    /// <summary>An action was queued: a reader paused for a consumer goes on (the answer may be behind the pause).</summary>
    internal void ReleaseReader()
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            subscription.ReleaseReader();
        }
    }

    /// <summary>Reader loop, at the successful login response: the connection goes live.</summary>
    internal void OnLoggedIn(AmiConnection connection)
    {
        var resync = new AmiResync(connection.Number, _everLoggedIn, _lastDisconnectReason);
        lock (_gate)
        {
            Volatile.Write(ref _current, connection);
            _currentResync = resync;
            foreach (var subscription in _subscriptions)
            {
                subscription.DeliverResync(resync);
            }
        }
    }

    private async Task LogoffAsync(AmiConnection connection)
    {
        try
        {
            var answer = await connection
                .SendAsync(new AmiAction("Logoff") { Timeout = _options.LogoffTimeout }, AmiAnswerKind.Response, null, CancellationToken.None)
                .WaitAsync(_options.LogoffTimeout, TimeProvider.System);
            AmiLog.LoggedOff(_logger, _options.Host, _options.Port, answer.Response.Response);
        }
        catch (Exception ex) when (ex is TimeoutException or AmiConnectionException or AmiActionTimeoutException)
        {
            // No Goodbye in time, or Asterisk closed first: the socket is closed below either way.
            AmiLog.LogoffUnanswered(_logger, _options.Host, _options.Port, ex.Message);
        }
    }

    private AmiConnection CurrentConnection()
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var connection = Volatile.Read(ref _current);
        if (connection is null || connection.IsBroken)
        {
            var state = State;
            throw new AmiConnectionException(
                $"The AMI client is not connected to {_options.Host}:{_options.Port} (state {state.State}" +
                (state.Reason is null ? ")." : $"; last error: {state.Reason.Message})."),
                state.Reason ?? new InvalidOperationException("not connected"));
        }

        return connection;
    }

    private long TotalBacklog()
    {
        long total = 0;
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            total += subscription.Backlog;
        }

        return total;
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        var number = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            number++;
            Publish(AmiConnectionState.Connecting, number, false, null, null, null);
            AmiLog.Connecting(_logger, _options.Host, _options.Port, number);
            var connection = new AmiConnection(this, number, _options, _time, _logger, _metrics);
            Exception reason;
            try
            {
                await connection.OpenAsync(cancellationToken);
                var isReconnect = _everLoggedIn;
                _everLoggedIn = true;
                failures = 0;
                if (isReconnect)
                {
                    _metrics.Reconnects.Add(1);
                }

                AmiLog.Connected(_logger, _options.Host, _options.Port, _options.Username, connection.ProtocolVersion, number);
                Publish(AmiConnectionState.Connected, number, isReconnect, null, connection.ProtocolVersion, null);
                Volatile.Read(ref _started).TrySetResult();
                reason = await connection.Closed;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await connection.DisposeAsync();
                break;
            }
            catch (Exception ex)
            {
                reason = ex;
            }

            Interlocked.CompareExchange(ref _current, null, connection);
            await connection.DisposeAsync();
            _lastDisconnectReason = reason;
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            failures++;
            if (reason is AmiLoginException)
            {
                // Callers waiting now learn of the refusal; later callers wait for the next outcome.
                FailStart(reason);
            }

            if (_options.MaxReconnectAttempts >= 0 && failures > _options.MaxReconnectAttempts)
            {
                AmiLog.Disconnected(_logger, number, _options.Host, _options.Port, reason.Message, reason);
                AmiLog.GaveUp(_logger, failures, _options.Host, _options.Port);
                Publish(AmiConnectionState.Stopped, number, false, reason, null, null);
                Volatile.Read(ref _started).TrySetException(new AmiConnectionException(
                    $"The AMI client gave up after {failures} failed attempts to connect to {_options.Host}:{_options.Port}: {reason.Message}", reason));
                return;
            }

            var delay = ComputeBackoff(_options, failures, Random.Shared.NextDouble());
            if (reason is AmiLoginException && delay < _options.LoginFailureRetryDelay)
            {
                delay = _options.LoginFailureRetryDelay;
            }

            AmiLog.Disconnected(_logger, number, _options.Host, _options.Port, reason.Message, reason is AmiConnectionException or AmiLoginException ? null : reason);
            // The timer starts before the state is published, so whoever sees "Disconnected" can
            // count on the delay running from that moment (tests advance a fake clock on it).
            var wait = Task.Delay(delay, _time, cancellationToken);
            Publish(AmiConnectionState.Disconnected, number, false, reason, null, delay);
            AmiLog.ReconnectScheduled(_logger, _options.Host, _options.Port, delay);
            try
            {
                await wait;
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void FailStart(Exception reason)
    {
        var current = Volatile.Read(ref _started);
        if (!current.Task.IsCompleted)
        {
            Volatile.Write(ref _started, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            current.TrySetException(reason);
        }
    }

    private void Publish(AmiConnectionState state, int number, bool isReconnect, Exception? reason, string? version, TimeSpan? nextAttempt)
    {
        var change = new AmiConnectionStateChange(state, number, isReconnect, reason, version, _time.GetUtcNow(), nextAttempt);
        lock (_gate)
        {
            if (_state.State == AmiConnectionState.Stopped)
            {
                return;
            }

            _state = change;
            foreach (var watcher in _stateWatchers)
            {
                watcher.Writer.TryWrite(change);
            }
        }
    }
}
