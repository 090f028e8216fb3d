using System.Security.Cryptography;
using System.Text;
using CtiBridge.Data.Leases;
using Npgsql;

namespace CtiBridge.Service.HighAvailability;

/// <summary>Timing of a <see cref="CallControlLease"/> (why it is safe: <see cref="LockSessionTiming"/>).</summary>
public sealed record CallControlLeaseOptions
{
    /// <summary>How long a standby waits before it tries again after the database could not be reached (a held lease is
    /// waited for in the database's lock queue instead, and granted the moment it is free). Default 1 s.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the holder checks its lock connection and that it still holds the lock. Default 1 s.</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A check not answered within this is logged as slow; it stops nothing by itself (a loaded host answers late, and
    /// the lock is still held). It also bounds a standby's wait for an answer to its lock request. Default 2 s.
    /// </summary>
    public TimeSpan SlowCheck { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// PostgreSQL ends the lock session when it hears nothing from the holder for this long
    /// (<c>idle_session_timeout</c>; the session's TCP timeouts are set no shorter), which frees the lock for a standby
    /// even when the holder is cut off from the database (rather than crashed). Default 4 s.
    /// </summary>
    public TimeSpan ServerIdleTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>
    /// The holder counts the lease lost when no check has been answered for <see cref="ServerIdleTimeout"/> minus this
    /// since the last answered one was sent: strictly before the server could end its session, so a cut-off holder
    /// always stops before a standby can take over (no split brain). Default 0.5 s.
    /// </summary>
    public TimeSpan StopMargin { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>The same timing as the lock session's watch takes it.</summary>
    public LockSessionTiming Timing => new()
    {
        CheckInterval = CheckInterval,
        SlowCheck = SlowCheck,
        ServerIdleTimeout = ServerIdleTimeout,
        StopMargin = StopMargin,
    };
}

/// <summary>
/// Which CtiBridge instance controls the calls of one Asterisk server (issue 14): a PostgreSQL
/// session-level advisory lock held on a dedicated, unpooled connection. Every instance sharing
/// the database asks for the same server's lease; one holds it, the others wait. The holder checks
/// its connection every <see cref="CallControlLeaseOptions.CheckInterval"/>; when a check fails
/// (database restarted, connection cut, backend terminated) the hold's <see cref="LeaseHold.Lost"/>
/// token is cancelled at once, and call control must stop.
/// </summary>
public sealed partial class CallControlLease
{
    private readonly string _connectionString;
    private readonly CallControlLeaseOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the lease of <paramref name="server"/> for this instance.</summary>
    /// <param name="connectionString">The shared database (pooling is turned off for the lock connection).</param>
    /// <param name="server">The Asterisk server's name (the lease key derives from it).</param>
    /// <param name="instanceId">This instance, shown as the lock connection's application name.</param>
    /// <param name="options">Timing.</param>
    /// <param name="time">Clock for the retry and check intervals.</param>
    /// <param name="logger">Log.</param>
    public CallControlLease(string connectionString, string server, string instanceId, CallControlLeaseOptions options, TimeProvider time, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        ArgumentException.ThrowIfNullOrEmpty(server);
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        ArgumentNullException.ThrowIfNull(options);
        options.Timing.Validate(nameof(options));

        Server = server;
        InstanceId = instanceId;
        Key = KeyOf(server);
        _options = options;
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        // A standby waits on its own connection, under a name of its own, and takes the lease's name once the lock is
        // granted: who holds a lease stays "the ctibridge-lease connection" (docs/high-availability.md).
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString)
        {
            Pooling = false,
            ApplicationName = StandbyApplicationNameOf(instanceId),
            // The server gives up one wait for the lock after LockWait (lock_timeout): the standby's connection
            // never sits in a wait nobody bounds.
            // The server's timeouts of a silent session (idle, and the TCP ones set no shorter) are what the holder's own
            // verdict must come before (LockSessionTiming).
            Options = $"{options.Timing.StartupOptions} -c lock_timeout={(long)LockWait.TotalMilliseconds}",
            // A cancelled command breaks the connection at once instead of waiting for the server.
            CancellationTimeout = -1,
        }.ConnectionString;
    }

    /// <summary>
    /// How long one wait of a standby for the lock lasts at most on the server (<c>lock_timeout</c>); the next wait
    /// follows at once. The lock is granted the moment its holder's session ends, whenever that is inside a wait.
    /// </summary>
    internal static readonly TimeSpan LockWait = TimeSpan.FromSeconds(2);

    /// <summary>The Asterisk server this lease is for.</summary>
    public string Server { get; }

    /// <summary>This instance.</summary>
    public string InstanceId { get; }

    /// <summary>The advisory lock key: the first 8 bytes of SHA-256 of "ctibridge.call-control:" + server.</summary>
    public long Key { get; }

    /// <summary>The advisory lock key of a server's lease.</summary>
    public static long KeyOf(string server) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("ctibridge.call-control:" + server)), 0);

    /// <summary>The application name an instance's lock connection carries while it holds the lease (visible in pg_stat_activity).</summary>
    public static string ApplicationNameOf(string instanceId) => LeasePrefix + instanceId;

    /// <summary>The application name of a standby's connection waiting for the lock (until it is granted).</summary>
    public static string StandbyApplicationNameOf(string instanceId) => StandbyPrefix + instanceId;

    private const string LeasePrefix = "ctibridge-lease:";

    private const string StandbyPrefix = "ctibridge-standby:";

    /// <summary>
    /// Waits until this instance holds the lease. A free lease is taken at the first try; a held one is waited for on
    /// one open connection, in the database's own lock queue (<c>pg_advisory_lock</c>, given up and asked again every
    /// <see cref="LockWait"/>), so it is granted the moment the holder's session ends — not at the next of a standby's
    /// polls. A database that cannot be reached is tried again every <see cref="CallControlLeaseOptions.RetryInterval"/>.
    /// </summary>
    public async Task<LeaseHold> AcquireAsync(CancellationToken cancellationToken)
    {
        var attempt = 1;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var connection = new NpgsqlConnection(_connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                while (!await TryLockAsync(connection, wait: attempt > 1, cancellationToken).ConfigureAwait(false))
                {
                    attempt++;
                }

                // Named as the holder only now: pg_stat_activity shows who holds the lease, not who waits for it. Its answer
                // proves the lock held when it was sent: the watch's first proof.
                var provenAt = _time.GetTimestamp();
                await using (var rename = new NpgsqlCommand("SELECT set_config('application_name', @name, false)", connection))
                {
                    rename.Parameters.AddWithValue("name", ApplicationNameOf(InstanceId));
                    await rename.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                }

                LogTaken(_logger, Server, InstanceId, attempt);
                return new LeaseHold(this, connection, attempt, provenAt);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                LogUnreachable(_logger, Server, ex.Message);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            attempt++;
            await Task.Delay(_options.RetryInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One try: <c>pg_try_advisory_lock</c> (answers at once), or with <paramref name="wait"/> <c>pg_advisory_lock</c>,
    /// which waits in the lock's queue until granted or <see cref="LockWait"/> passes (false). A wait with no answer
    /// LockWait + SlowCheck later counts as a broken connection (<see cref="TimeoutException"/>).
    /// </summary>
    private async Task<bool> TryLockAsync(NpgsqlConnection connection, bool wait, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(wait ? "SELECT pg_advisory_lock(@key)" : "SELECT pg_try_advisory_lock(@key)", connection);
        command.Parameters.AddWithValue("key", Key);
        using var bound = new CancellationTokenSource(LockWait + _options.SlowCheck, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, bound.Token);
        try
        {
            var result = await command.ExecuteScalarAsync(linked.Token).ConfigureAwait(false);
            return !wait ? result is true : true; // pg_advisory_lock returns only once the lock is granted
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return false; // lock_timeout: still held; wait again
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from the database within {(LockWait + _options.SlowCheck).TotalSeconds} s while waiting for the lock");
        }
    }

    /// <summary>The instance holding a server's lease now, or null (read from the database's lock table).</summary>
    public static async Task<string?> HolderAsync(NpgsqlDataSource dataSource, string server, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var key = KeyOf(server);
        await using var command = dataSource.CreateCommand(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid " +
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) " +
            "AND l.classid = ((@key >> 32) & 4294967295)::oid AND l.objid = (@key & 4294967295)::oid AND l.objsubid = 1");
        command.Parameters.AddWithValue("key", key);
        var name = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        // Granted a moment before its connection took the lease's name: a standby's name then.
        return name is null ? null
            : name.StartsWith(LeasePrefix, StringComparison.Ordinal) ? name[LeasePrefix.Length..]
            : name.StartsWith(StandbyPrefix, StringComparison.Ordinal) ? name[StandbyPrefix.Length..]
            : name;
    }

    internal CallControlLeaseOptions Options => _options;

    internal TimeProvider Time => _time;

    internal ILogger Logger => _logger;

    // The first phase of a takeover (docs/high-availability.md, "Where a takeover's time goes"): more than one try
    // means another instance held the lease until just now.
    [LoggerMessage(EventId = 1474, Level = LogLevel.Warning, Message = "Call control lease of {Server}: database not reachable ({Reason}); retrying")]
    private static partial void LogUnreachable(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 1470, Level = LogLevel.Information, Message = "Call control lease of {Server} taken by instance {Instance} (try {Attempts})")]
    private static partial void LogTaken(ILogger logger, string server, string instance, int attempts);
}

/// <summary>The lease, held: <see cref="Lost"/> is cancelled the moment it is no longer certain. Dispose to release it.</summary>
public sealed class LeaseHold : IAsyncDisposable
{
    private readonly CallControlLease _lease;
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _lost = new();
    private readonly LockSessionWatch _watch;
    private readonly CancellationTokenRegistration _watchLost;
    private int _released;

    internal LeaseHold(CallControlLease lease, NpgsqlConnection connection, int attempts, long provenAt)
    {
        _lease = lease;
        Attempts = attempts;
        _connection = connection;
        AcquiredAt = lease.Time.GetUtcNow();
        // The lock lives as long as this backend; the watch tells a lost lease (the connection broke, the lock is not
        // held, no answer for so long that the server may have ended the session) from a slow check, which stops nothing.
        _watch = new LockSessionWatch(connection, lease.Key, provenAt, lease.Options.Timing, lease.Time, lease.Logger,
            $"call control lease of {lease.Server} (instance {lease.InstanceId})");
        _watchLost = _watch.Lost.Register(() =>
        {
            LostReason = _watch.LostReason;
            _lost.Cancel();
        });
    }

    /// <summary>
    /// Tries it took: more than one means another instance held the lease until just now (a
    /// standby taking over), and that holder may learn of its loss only at its next check.
    /// </summary>
    public int Attempts { get; }

    /// <summary>The Asterisk server whose calls the lease is for.</summary>
    public string Server => _lease.Server;

    /// <summary>When the lease was taken.</summary>
    public DateTimeOffset AcquiredAt { get; }

    /// <summary>Cancelled when the lease is lost (or released): call control must stop at once.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Why the lease was lost, once it was.</summary>
    public string? LostReason { get; private set; }

    /// <summary>The watch of the lock connection (its checks, slow ones included).</summary>
    public LockSessionWatch Watch => _watch;

    /// <summary>Releases the lease (a standby can take it at once) and stops watching.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _released, 1) == 1)
        {
            return;
        }

        await _watch.DisposeAsync().ConfigureAwait(false);
        await _watchLost.DisposeAsync().ConfigureAwait(false);
        if (!_lost.IsCancellationRequested)
        {
            LostReason = "released";
            await _lost.CancelAsync().ConfigureAwait(false);
        }

        // Closing the session releases the lock; no unlock round trip needed (and none possible if the connection is gone).
        await _connection.DisposeAsync().ConfigureAwait(false);
        // _lost stays undisposed: callers may still read Lost after the hold is released.
    }
}
