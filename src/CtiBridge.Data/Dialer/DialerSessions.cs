using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Leases;
using CtiBridge.Data.Queries;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CtiBridge.Data.Dialer;

/// <summary>An agent's nailed-up line taken over from a dead dialer instance.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="ChannelId">The line's channel id as written ahead, if it was (null for lines joined before migration 0038).</param>
/// <param name="Endpoint">The agent's phone, to call again when the line is gone.</param>
public sealed record AdoptedAgentLine(string AgentId, string CampaignId, string? ChannelId, string? Endpoint);

/// <summary>An open attempt taken over from a dead dialer instance.</summary>
/// <param name="CallId">The call id (the customer's channel id, written before the originate).</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="Lead">The lead as it was before the attempt.</param>
/// <param name="DialedAt">When it was dialled.</param>
/// <param name="AnsweredAt">When something answered, if written ahead.</param>
/// <param name="AnsweredBy">What answered, if written ahead.</param>
/// <param name="AgentId">The agent put through, if written ahead.</param>
/// <param name="AgentConnectedAt">When that agent was put through.</param>
/// <param name="AnswerInLedger">The dead instance stored the answer's ledger row already.</param>
/// <param name="AbandonedInLedger">That row is an abandon (its message was being played).</param>
public sealed record AdoptedAttempt(
    string CallId, string CampaignId, Lead Lead, DateTimeOffset DialedAt, DateTimeOffset? AnsweredAt, CallOutcome? AnsweredBy,
    string? AgentId, DateTimeOffset? AgentConnectedAt, bool AnswerInLedger, bool AbandonedInLedger);

/// <summary>What a living dialer instance took over from one dead instance.</summary>
/// <param name="DeadInstanceId">The dead instance.</param>
/// <param name="Application">Its Stasis app, where its channels are.</param>
/// <param name="AgentLines">Its agents' lines.</param>
/// <param name="Attempts">Its open attempts.</param>
public sealed record DialerTakeover(string DeadInstanceId, string Application, IReadOnlyList<AdoptedAgentLine> AgentLines, IReadOnlyList<AdoptedAttempt> Attempts);

/// <summary>
/// The dialer's per-instance session lease and the adoption of a dead instance's calls (issue 14,
/// docs/high-availability.md). Each dialer instance holds a session-level advisory lock keyed by its
/// instance id on a dedicated connection for its whole life; a kill -9 closes that connection and
/// PostgreSQL frees the lock at once. A living instance that finds the lock of another instance with
/// open attempts or agents on lines free takes the lock for one transaction (so only one survivor
/// adopts) and moves that instance's rows to itself.
/// </summary>
/// <param name="dataSource">The database.</param>
/// <param name="instanceId">This dialer instance.</param>
/// <param name="timeProvider">The clock.</param>
/// <param name="watchClock">The clock of the hold's checks; the real clock unless a test says otherwise, because the bound it keeps
/// is compared with the server's <c>idle_session_timeout</c>, which runs on real time.</param>
/// <param name="timing">The hold's timing; <see cref="Timing"/> unless a test says otherwise.</param>
/// <param name="logger">Where slow checks and the loss are logged.</param>
public sealed class DialerSessions(NpgsqlDataSource dataSource, string instanceId, TimeProvider timeProvider, TimeProvider? watchClock = null,
    LockSessionTiming? timing = null, ILogger? logger = null) : IAsyncDisposable
{
    /// <summary>How often the holder checks its lock connection with a round trip.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(0.5);

    /// <summary>
    /// The server ends the lock session after this much silence (<c>idle_session_timeout</c>; the TCP timeouts are set no
    /// shorter), which frees the lock of a holder cut off from the database.
    /// </summary>
    public static readonly TimeSpan ServerIdleTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The hold's timing (<see cref="LockSessionTiming"/>): a check every 0.5 s; one slower than 2 s is logged and stops
    /// nothing; with no check answered for 4.5 s since the last answered one was sent (a stalled path), the holder stops,
    /// before the server can end its silent session (5 s) and free the lock.
    /// </summary>
    public static readonly LockSessionTiming Timing = new()
    {
        CheckInterval = CheckInterval,
        SlowCheck = TimeSpan.FromSeconds(2),
        ServerIdleTimeout = ServerIdleTimeout,
        StopMargin = TimeSpan.FromSeconds(0.5),
    };

    /// <summary>
    /// The longest a holder can go on acting after its lock was freed under it (a terminated backend, a restarted server):
    /// its next check fails at once, within <see cref="CheckInterval"/>, and this allows 2 s more for that failing round
    /// trip on a loaded host. An adopter takes a lock for dead only once it has been free for longer (no split brain). A
    /// holder cut off from the database stops before the server frees its lock at all (<see cref="Timing"/>).
    /// </summary>
    public static TimeSpan HolderDetectionBound => CheckInterval + TimeSpan.FromSeconds(2);

    private readonly TimeProvider _watchClock = watchClock ?? TimeProvider.System;
    private readonly LockSessionTiming _timing = timing ?? Timing;
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private NpgsqlConnection? _session;
    private CancellationTokenSource _lost = new();
    private LockSessionWatch? _watch;
    private CancellationTokenRegistration _watchLost;
    private string? _application;

    /// <summary>
    /// Cancelled the moment this instance's hold of its lease is no longer certain (its lock connection failed a check):
    /// the dialer must stop acting on its calls at once, since a survivor may adopt them. Read again after <see cref="ResumeAsync"/>.
    /// </summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Why the hold was lost, once it was.</summary>
    public string? LostReason { get; private set; }

    /// <summary>The watch of the current hold's lock connection (its checks, slow ones included), while held.</summary>
    public LockSessionWatch? Watch => _watch;

    /// <summary>
    /// Starts this instance's session: names its Stasis app and takes its lock, waiting while an adopter
    /// holds it (a restart under the same id while its calls are being adopted).
    /// </summary>
    public async Task StartAsync(string application, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(application);
        await using (var previous = dataSource.CreateCommand(NamedQueries.Get("dialer_session_previous")))
        {
            previous.Parameters.AddWithValue("instance_id", instanceId);
            PreviousRunApplication = await previous.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }

        await using (var command = dataSource.CreateCommand(NamedQueries.Get("dialer_session_start")))
        {
            command.Parameters.AddWithValue("instance_id", instanceId);
            command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
            command.Parameters.AddWithValue("application", application);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        _application = application;
        await HoldAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The Stasis app the previous run under this instance id still named when this run started: set when that run did
    /// not stop cleanly (killed, host lost); null after a clean stop or for a new instance id.
    /// </summary>
    public string? PreviousRunApplication { get; private set; }

    /// <summary>
    /// After <see cref="StartAsync"/>, with this instance's lock held: when the previous run under this id did not stop
    /// cleanly (<see cref="PreviousRunApplication"/>), takes back what is still its own in the database (agent lines,
    /// open attempts; marked adopted now), to be resumed as an adopter would: they are that run's, not a live peer's,
    /// since nobody else can hold this id's lock. Empty when a survivor adopted them first, or after a clean stop.
    /// </summary>
    public async Task<DialerTakeover> TakeBackPreviousRunAsync(CancellationToken cancellationToken = default)
    {
        var application = _application ?? throw new InvalidOperationException("The dialer session was never started.");
        if (PreviousRunApplication is null)
        {
            return new DialerTakeover(instanceId, application, [], []);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var (lines, attempts) = await TakeRowsAsync(connection, transaction, instanceId, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new DialerTakeover(instanceId, PreviousRunApplication, lines, attempts);
    }

    /// <summary>
    /// After a loss: takes this instance's lock again (waiting while an adopter holds it), then takes back what is still
    /// this instance's in the database. Empty when a survivor adopted it meanwhile (start clean); otherwise the rows to
    /// resume as an adopter would, from the database and Asterisk's lists.
    /// </summary>
    public async Task<DialerTakeover> ResumeAsync(CancellationToken cancellationToken = default)
    {
        var application = _application ?? throw new InvalidOperationException("The dialer session was never started.");
        await StopWatchAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _session, null) is { } broken)
        {
            await broken.DisposeAsync().ConfigureAwait(false);
        }

        await HoldAsync(cancellationToken).ConfigureAwait(false);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var (lines, attempts) = await TakeRowsAsync(connection, transaction, instanceId, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new DialerTakeover(instanceId, application, lines, attempts);
    }

    /// <summary>
    /// Takes the lock on a dedicated connection the server ends after <see cref="LockSessionTiming.ServerIdleTimeout"/> of
    /// silence (the TCP timeouts no shorter), and watches it.
    /// </summary>
    private async Task HoldAsync(CancellationToken cancellationToken)
    {
        var session = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        long provenAt;
        long key;
        try
        {
            await using (var settings = new NpgsqlCommand(NamedQueries.Get("lock_session_settings"), session))
            {
                settings.Parameters.AddWithValue("names", _timing.SessionSettings.Select(s => s.Name).ToArray());
                settings.Parameters.AddWithValue("values", _timing.SessionSettings.Select(s => s.Value).ToArray());
                await settings.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            provenAt = _watchClock.GetTimestamp();
            await using var lockCommand = new NpgsqlCommand(NamedQueries.Get("dialer_session_lock"), session);
            lockCommand.Parameters.AddWithValue("instance_id", instanceId);
            key = (long)(await lockCommand.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _session = session;
        if (_lost.IsCancellationRequested)
        {
            _lost = new CancellationTokenSource();
            LostReason = null;
        }

        // The lock was granted after provenAt (pg_advisory_lock may have waited for an adopter): the session lives at
        // least the idle timeout from then. The watch tells a lost lease from a slow check, which stops nothing.
        var watch = new LockSessionWatch(session, key, provenAt, _timing, _watchClock, _logger,
            $"dialer session lease of instance {instanceId}");
        var lost = _lost;
        _watchLost = watch.Lost.Register(() =>
        {
            LostReason = watch.LostReason;
            lost.Cancel();
        });
        _watch = watch;
    }

    private async Task StopWatchAsync()
    {
        if (Interlocked.Exchange(ref _watch, null) is { } watch)
        {
            await watch.DisposeAsync().ConfigureAwait(false);
            await _watchLost.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Adopts what every dead dialer instance (other than this one, its session lock free) left: each in one
    /// transaction holding the dead instance's lock, its agent lines and open attempts moved to this instance.
    /// </summary>
    /// <param name="adoptIfFree">Called with each candidate and whether its lock is free now; adoption goes ahead only when it is and this returns true (free at every check for longer than <see cref="HolderDetectionBound"/>).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<IReadOnlyList<DialerTakeover>> AdoptDeadAsync(Func<string, bool, bool> adoptIfFree, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(adoptIfFree);
        List<(string Instance, string App)> candidates = [];
        await using (var command = dataSource.CreateCommand(NamedQueries.Get("dialer_adopt_candidates")))
        {
            command.Parameters.AddWithValue("instance_id", instanceId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                candidates.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        var takeovers = new List<DialerTakeover>();
        foreach (var (dead, app) in candidates)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var tryLock = new NpgsqlCommand(NamedQueries.Get("dialer_adopt_try_lock"), connection, transaction))
            {
                tryLock.Parameters.AddWithValue("dead_instance_id", dead);
                var free = await tryLock.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
                if (!adoptIfFree(dead, free) || !free)
                {
                    continue; // alive (its session holds the lock), being adopted by another survivor, or just seen free
                }
            }

            var (lines, attempts) = await TakeRowsAsync(connection, transaction, dead, cancellationToken).ConfigureAwait(false);
            if (lines.Count == 0 && attempts.Count == 0)
            {
                continue; // another survivor adopted it first, or it took its rows back itself
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            takeovers.Add(new DialerTakeover(dead, app, lines, attempts));
        }

        return takeovers;
    }

    // Where dialer_adopt_attempts.sql returns the lead: its id and the number dialled from the attempt row,
    // the rest from dialer_leads as it was before the attempt.
    private static readonly LeadOrdinals AdoptedLeadColumns = new(Id: 2, PhoneNumber: 3, TimeZoneId: 9, Attempts: 10, NextAttemptAt: 11, LastOutcome: 12);

    /// <summary>Moves <paramref name="owner"/>'s agent lines and open attempts to this instance, inside the caller's transaction.</summary>
    private async Task<(List<AdoptedAgentLine> Lines, List<AdoptedAttempt> Attempts)> TakeRowsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string owner, CancellationToken cancellationToken)
    {
        var lines = new List<AdoptedAgentLine>();
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_adopt_agent_lines"), connection, transaction))
        {
            command.Parameters.AddWithValue("instance_id", instanceId);
            command.Parameters.AddWithValue("dead_instance_id", owner);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lines.Add(new AdoptedAgentLine(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }

        var attempts = new List<AdoptedAttempt>();
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_adopt_attempts"), connection, transaction))
        {
            command.Parameters.AddWithValue("instance_id", instanceId);
            command.Parameters.AddWithValue("dead_instance_id", owner);
            command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var lead = LeadRow.Read(reader, AdoptedLeadColumns);
                attempts.Add(new AdoptedAttempt(
                    reader.GetString(0), reader.GetString(1), lead, reader.GetFieldValue<DateTimeOffset>(4),
                    reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                    reader.IsDBNull(6) ? null : Enum.TryParse<CallOutcome>(reader.GetString(6), out var by) ? by : null,
                    reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                    reader.GetBoolean(13), reader.GetBoolean(14)));
            }
        }

        return (lines, attempts);
    }

    /// <summary>
    /// Lets go of the lease as a crash does, without ending the session: the hold's watch stops, the lock is released and
    /// its connection closed, and the Stasis app stays named, so a living instance takes this one for dead once the lock has
    /// been free for longer than <see cref="HolderDetectionBound"/> and adopts its calls (<see cref="AdoptDeadAsync"/>).
    /// <see cref="DisposeAsync"/> is the clean stop (the app cleared: never adopted). Bounded: a database that does not
    /// answer still lets it finish; the server then frees the lock with the session.
    /// </summary>
    public async ValueTask LetGoAsync()
    {
        await StopWatchAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _session, null) is not { } session)
        {
            return;
        }

        try
        {
            // Closed, the connection would go back to the pool with its session, and so the lock, alive until it is used
            // again: released here, as the server releases a killed process's when its socket closes.
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_session_let_go"), session);
            await command.ExecuteNonQueryAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // The connection broke (the server freed the lock with it) or the server does not answer (it frees the lock
            // when it ends the silent session, ServerIdleTimeout).
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the session after a clean stop: the app is no longer named (nothing of a clean stop is adopted), then the
    /// lock goes with its connection. Bounded: a database that does not answer still lets the stop finish.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await StopWatchAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _session, null) is not { } session)
        {
            return;
        }

        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_session_end"), session);
            command.Parameters.AddWithValue("instance_id", instanceId);
            await command.ExecuteNonQueryAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // The lock is released all the same; what was left is then adopted as after a death.
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }
}
