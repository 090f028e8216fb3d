using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Queries;
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
public sealed class DialerSessions(NpgsqlDataSource dataSource, string instanceId, TimeProvider timeProvider) : IAsyncDisposable
{
    private NpgsqlConnection? _session;

    /// <summary>
    /// Starts this instance's session: names its Stasis app and takes its lock, waiting while an adopter
    /// holds it (a restart under the same id while its calls are being adopted).
    /// </summary>
    public async Task StartAsync(string application, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(application);
        await using (var command = dataSource.CreateCommand(NamedQueries.Get("dialer_session_start")))
        {
            command.Parameters.AddWithValue("instance_id", instanceId);
            command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
            command.Parameters.AddWithValue("application", application);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var session = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var lockCommand = new NpgsqlCommand(NamedQueries.Get("dialer_session_lock"), session);
            lockCommand.Parameters.AddWithValue("instance_id", instanceId);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        _session = session;
    }

    /// <summary>
    /// Adopts what every dead dialer instance (other than this one, its session lock free) left: each in one
    /// transaction holding the dead instance's lock, its agent lines and open attempts moved to this instance.
    /// </summary>
    /// <param name="adoptIfFree">Called with each candidate and whether its lock is free now; adoption goes ahead only when it is and this returns true (e.g. free on two checks in a row).</param>
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

            var lines = new List<AdoptedAgentLine>();
            await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_adopt_agent_lines"), connection, transaction))
            {
                command.Parameters.AddWithValue("instance_id", instanceId);
                command.Parameters.AddWithValue("dead_instance_id", dead);
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
                command.Parameters.AddWithValue("dead_instance_id", dead);
                command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var lead = new Lead
                    {
                        Id = reader.GetInt64(2).ToString(CultureInfo.InvariantCulture),
                        PhoneNumber = reader.GetString(3),
                        TimeZoneId = reader.IsDBNull(9) ? null : reader.GetString(9),
                        Attempts = reader.GetInt32(10),
                        NextAttemptAt = reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
                        LastOutcome = reader.IsDBNull(12) ? null : Enum.Parse<CallOutcome>(reader.GetString(12)),
                    };
                    attempts.Add(new AdoptedAttempt(
                        reader.GetString(0), reader.GetString(1), lead, reader.GetFieldValue<DateTimeOffset>(4),
                        reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                        reader.IsDBNull(6) ? null : Enum.TryParse<CallOutcome>(reader.GetString(6), out var by) ? by : null,
                        reader.IsDBNull(7) ? null : reader.GetString(7),
                        reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                        reader.GetBoolean(13), reader.GetBoolean(14)));
                }
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            takeovers.Add(new DialerTakeover(dead, app, lines, attempts));
        }

        return takeovers;
    }

    /// <summary>
    /// Ends the session after a clean stop: the app is no longer named (nothing of a clean stop is adopted), then the
    /// lock goes with its connection. Bounded: a database that does not answer still lets the stop finish.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
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
