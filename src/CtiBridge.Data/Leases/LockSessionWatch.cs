using System.Globalization;
using CtiBridge.Data.Queries;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CtiBridge.Data.Leases;

/// <summary>
/// Timing of a lease held as a session-level advisory lock on a dedicated connection (call control's lease, the dialer's
/// session lease), watched by <see cref="LockSessionWatch"/>.
/// </summary>
/// <remarks>
/// Why a slow check is not a lost lease: another instance can take the lock only once the holder's session has ended.
/// The session ends when its connection closes (process killed, database restarted, backend terminated: the holder's
/// next check then fails at once), or when the server drops a session it has not heard from: after
/// <see cref="ServerIdleTimeout"/> of idleness (<c>idle_session_timeout</c>), or at the TCP level, whose timeouts
/// (<c>tcp_user_timeout</c>, <c>tcp_keepalives_idle</c>) are set on the session to no less than that (<see cref="SessionSettings"/>),
/// whatever the server's configuration says. Every one of those server clocks starts after the server received the
/// holder's last answered check, so after the moment the holder sent it. The holder therefore still holds the lock until
/// (that send) + <see cref="ServerIdleTimeout"/>, however long the answer took to come back, and it gives up
/// <see cref="StopMargin"/> before then (<see cref="Validity"/>): a stalled path makes it stop before any standby can take
/// the lock, and a check that is merely slow stops nothing.
/// </remarks>
public sealed record LockSessionTiming
{
    /// <summary>How often the holder sends a check (a round trip that also reads the lock table).</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A check not answered within this is logged as slow. It stops nothing by itself.</summary>
    public TimeSpan SlowCheck { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The server ends the lock session after this long without hearing from the holder.</summary>
    public TimeSpan ServerIdleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long before the server could end a silent session the holder counts its lease as lost.</summary>
    public TimeSpan StopMargin { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>
    /// How long after sending its last answered check the holder knows it still holds the lock
    /// (<see cref="ServerIdleTimeout"/> − <see cref="StopMargin"/>).
    /// </summary>
    public TimeSpan Validity => ServerIdleTimeout - StopMargin;

    /// <summary>
    /// The lock session's server settings, as <c>SET</c> statements' values by name: the idle timeout, and the TCP
    /// timeouts no shorter than it, so that no server setting can drop a silent holder before it has given up.
    /// </summary>
    public IReadOnlyList<(string Name, string Value)> SessionSettings =>
    [
        ("idle_session_timeout", Milliseconds(ServerIdleTimeout)),
        ("tcp_user_timeout", Milliseconds(ServerIdleTimeout)),
        ("tcp_keepalives_idle", ((long)Math.Ceiling(ServerIdleTimeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>The same settings as a connection string's <c>Options</c> (<c>-c name=value</c> each).</summary>
    public string StartupOptions => string.Join(' ', SessionSettings.Select(s => $"-c {s.Name}={s.Value}"));

    /// <summary>Refuses timing that could let a holder act after a standby took the lock, or lose a healthy lease.</summary>
    /// <param name="parameterName">The argument's name, for the exception.</param>
    /// <exception cref="ArgumentException">The timing is unsafe; the message says which rule it breaks.</exception>
    public void Validate(string parameterName)
    {
        if (CheckInterval <= TimeSpan.Zero || SlowCheck <= TimeSpan.Zero)
        {
            throw new ArgumentException($"CheckInterval ({CheckInterval.TotalSeconds} s) and SlowCheck ({SlowCheck.TotalSeconds} s) must be positive", parameterName);
        }

        if (StopMargin <= TimeSpan.Zero)
        {
            throw new ArgumentException($"StopMargin ({StopMargin.TotalSeconds} s) must be positive: a holder cut off from the database must give up before the server ends its session, or it could still act after a standby took over (split brain)", parameterName);
        }

        if (Validity <= CheckInterval + SlowCheck)
        {
            throw new ArgumentException($"ServerIdleTimeout ({ServerIdleTimeout.TotalSeconds} s) must be longer than CheckInterval + SlowCheck + StopMargin ({(CheckInterval + SlowCheck + StopMargin).TotalSeconds} s): otherwise a check that is merely slow would stop a healthy holder, and a shorter StopMargin would let a cut-off holder act after a standby took over (split brain)", parameterName);
        }
    }

    private static string Milliseconds(TimeSpan value) => ((long)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Watches a held advisory lock on its dedicated connection (issue 14): every <see cref="LockSessionTiming.CheckInterval"/>
/// a round trip asks the lock table whether this session still holds the lock. <see cref="Lost"/> is cancelled at once
/// when the lease is really lost — the check fails (connection broken, backend terminated, database restarted) or says
/// the lock is not held — and when no check has been answered for <see cref="LockSessionTiming.Validity"/> since the last
/// answered one was sent (a stalled path: the server may drop the session soon). A check that is only slow (CPU starvation
/// of this process or of the database) is logged and stops nothing.
/// </summary>
public sealed partial class LockSessionWatch : IAsyncDisposable
{
    private readonly NpgsqlConnection _session;
    private readonly long _key;
    private readonly LockSessionTiming _timing;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly string _what;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private long _provenAt;
    private int _checksSent;
    private int _checksAnswered;
    private int _slowChecks;
    private int _disposed;

    /// <summary>Starts watching.</summary>
    /// <param name="session">The lock's dedicated connection (not used by anything else while watched).</param>
    /// <param name="key">The advisory lock's 64-bit key.</param>
    /// <param name="provenAt">A <see cref="TimeProvider.GetTimestamp"/> of <paramref name="clock"/> taken before the last query
    /// on <paramref name="session"/> that was answered (the lock's own, or one after it) was sent.</param>
    /// <param name="timing">The timing (validated).</param>
    /// <param name="clock">The clock of the checks; real time in the service, since the bound it keeps is compared with the server's.</param>
    /// <param name="logger">Where slow checks are logged.</param>
    /// <param name="what">The lease in words, for the log and <see cref="LostReason"/>'s readers ("call control lease of pbx1").</param>
    public LockSessionWatch(NpgsqlConnection session, long key, long provenAt, LockSessionTiming timing, TimeProvider clock, ILogger logger, string what)
    {
        ArgumentNullException.ThrowIfNull(timing);
        timing.Validate(nameof(timing));
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _key = key;
        _provenAt = provenAt;
        _timing = timing;
        _clock = clock ?? throw new ArgumentNullException(nameof(clock));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _what = what;
        _watch = Task.Run(WatchAsync, CancellationToken.None);
    }

    /// <summary>Cancelled the moment the lease is lost: whoever acts under it must stop at once.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Why the lease was lost, once it was.</summary>
    public string? LostReason { get; private set; }

    /// <summary>Checks sent so far, each counted once its slow and expiry timers are set (diagnostics and tests).</summary>
    public int ChecksSent => Volatile.Read(ref _checksSent);

    /// <summary>Checks answered with the lock held so far.</summary>
    public int ChecksAnswered => Volatile.Read(ref _checksAnswered);

    /// <summary>Checks that were slower than <see cref="LockSessionTiming.SlowCheck"/> (answered or not).</summary>
    public int SlowChecks => Volatile.Read(ref _slowChecks);

    /// <summary>
    /// Whether the lease is certain now: not lost, and the last answered check was sent less than
    /// <see cref="LockSessionTiming.Validity"/> ago (true between the watch's own wake-ups too).
    /// </summary>
    public bool IsHeld => !_lost.IsCancellationRequested && _clock.GetElapsedTime(Volatile.Read(ref _provenAt)) < _timing.Validity;

    private async Task WatchAsync()
    {
        var stop = _stop.Token;
        try
        {
            while (true)
            {
                await Task.Delay(_timing.CheckInterval, _clock, stop).ConfigureAwait(false);
                var sentAt = _clock.GetTimestamp();
                if (_clock.GetElapsedTime(_provenAt, sentAt) >= _timing.Validity)
                {
                    // This process did not get to its check in time (starved or paused): the server may have ended the
                    // session meanwhile, and nothing proves otherwise.
                    Lose($"no check could be sent for {_clock.GetElapsedTime(_provenAt, sentAt).TotalSeconds:0.0} s (the server may end a silent session after {_timing.ServerIdleTimeout.TotalSeconds} s)");
                    return;
                }

                var command = new NpgsqlCommand(NamedQueries.Get("lock_session_check"), _session);
                command.Parameters.AddWithValue("key", _key);
                var check = command.ExecuteScalarAsync(stop);
                var answered = await AnsweredInTimeAsync(check, stop).ConfigureAwait(false);
                if (!answered || stop.IsCancellationRequested)
                {
                    _ = check.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                    stop.ThrowIfCancellationRequested();
                    Lose($"no answer from the database for {_timing.Validity.TotalSeconds} s since the last answered check was sent (the server may end a silent session after {_timing.ServerIdleTimeout.TotalSeconds} s)");
                    return;
                }

                bool held;
                try
                {
                    held = await check.ConfigureAwait(false) is true;
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    Lose(ex.Message); // broken connection, terminated backend, restarted database: the lock went with the session
                    return;
                }
                finally
                {
                    await command.DisposeAsync().ConfigureAwait(false);
                }

                if (!held)
                {
                    Lose("the lock is no longer held by this session");
                    return;
                }

                var took = _clock.GetElapsedTime(sentAt);
                if (took >= _timing.SlowCheck)
                {
                    LogSlowCheckAnswered(_logger, _what, took.TotalSeconds);
                }

                // The server heard this check after it was sent: the session lives at least ServerIdleTimeout from then.
                Volatile.Write(ref _provenAt, sentAt);
                Interlocked.Increment(ref _checksAnswered);
                if (_clock.GetElapsedTime(sentAt) >= _timing.Validity)
                {
                    Lose($"the check was answered {took.TotalSeconds:0.0} s after it was sent, too late to prove the lock is still held");
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Waits for the check's answer (or failure) until the lease's validity runs out; a check slower than
    /// <see cref="LockSessionTiming.SlowCheck"/> is logged and waited for. False when the validity ran out first.
    /// </summary>
    private async Task<bool> AnsweredInTimeAsync(Task check, CancellationToken stop)
    {
        using var timers = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var remaining = _timing.Validity - _clock.GetElapsedTime(_provenAt);
        var expiry = Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _clock, timers.Token);
        var slow = Task.Delay(_timing.SlowCheck, _clock, timers.Token);

        // Counted once both timers run: a test on a fake clock waits for the count before moving the clock, and a move
        // made before the slow timer existed would never fire it (the CI run of 2026-12-01 06:35 waited 30 s for it).
        Interlocked.Increment(ref _checksSent);
        try
        {
            var first = await Task.WhenAny(check, slow, expiry).ConfigureAwait(false);
            if (first == slow && !check.IsCompleted)
            {
                Interlocked.Increment(ref _slowChecks);
                LogSlowCheck(_logger, _what, _timing.SlowCheck.TotalSeconds, (_timing.Validity - _clock.GetElapsedTime(_provenAt)).TotalSeconds);
                first = await Task.WhenAny(check, expiry).ConfigureAwait(false);
            }

            // An answer that came as the validity ran out still counts: the caller judges it by when it was sent.
            return check.IsCompleted;
        }
        finally
        {
            await timers.CancelAsync().ConfigureAwait(false);
        }
    }

    private void Lose(string reason)
    {
        LostReason = reason;
        LogLost(_logger, _what, reason);
        _lost.Cancel();
    }

    /// <summary>Stops watching (the connection is the owner's to close). <see cref="Lost"/> stays as it is.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 1240, Level = LogLevel.Warning, Message = "The {Lease} check has had no answer for {SlowSeconds} s; still held for {LeftSeconds:0.0} s more on what the last answer proves, so nothing stops yet")]
    private static partial void LogSlowCheck(ILogger logger, string lease, double slowSeconds, double leftSeconds);

    [LoggerMessage(EventId = 1241, Level = LogLevel.Information, Message = "The slow {Lease} check was answered after {Seconds:0.00} s, the lock held throughout")]
    private static partial void LogSlowCheckAnswered(ILogger logger, string lease, double seconds);

    [LoggerMessage(EventId = 1242, Level = LogLevel.Error, Message = "The {Lease} is LOST: {Reason}")]
    private static partial void LogLost(ILogger logger, string lease, string reason);
}
