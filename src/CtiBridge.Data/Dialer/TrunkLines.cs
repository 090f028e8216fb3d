using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>
/// A trunk several campaigns dial through, with a limit on its lines (issue 10: a line budget shared
/// between campaigns). Its lines in use are the open attempts of <paramref name="CampaignIds"/> on
/// one Asterisk server, whichever instance placed them.
/// </summary>
/// <param name="Name">The trunk's name (logs, errors).</param>
/// <param name="Key">What identifies the trunk for every instance (server and trunk prefix): the lock is taken on it.</param>
/// <param name="MaxLines">Calls the trunk carries at once.</param>
/// <param name="CampaignIds">The campaigns that dial through it.</param>
/// <param name="AllServers">
/// False for a trunk (the lines of one Asterisk server); true for a campaign's own
/// <c>maxConcurrentLines</c>, which holds over every instance and server (issue 10: a campaign's lines
/// split between dialer instances).
/// </param>
public sealed record TrunkBudget(string Name, string Key, int MaxLines, IReadOnlyCollection<string> CampaignIds, bool AllServers = false)
{
    /// <summary>A campaign's own line cap as a budget over every instance (its <c>maxConcurrentLines</c>).</summary>
    public static TrunkBudget OfCampaign(string campaignId, int maxConcurrentLines) =>
        new("campaign " + campaignId, "campaign:" + campaignId, maxConcurrentLines, [campaignId], AllServers: true);
}

/// <summary>
/// Takes lines of a shared trunk for new attempts, exactly across instances: <see cref="LeaseAsync(IReadOnlyList{TrunkBudget}, CancellationToken)"/>
/// locks the trunk (a PostgreSQL advisory lock held by a transaction), counts the lines in use, and
/// the attempts started through the lease are inserted in that transaction; nobody else counts the
/// trunk's lines until it commits, so the limit is never passed.
/// </summary>
/// <param name="dataSource">The database.</param>
/// <param name="instanceId">This dialer instance (stored on its attempts).</param>
/// <param name="asteriskServer">The Asterisk server this instance dials on (the trunk is that server's).</param>
public sealed class TrunkLines(NpgsqlDataSource dataSource, string instanceId, string asteriskServer)
{
    /// <summary>Locks <paramref name="trunk"/> until the lease is committed or disposed, and counts its lines in use.</summary>
    public Task<TrunkLease> LeaseAsync(TrunkBudget trunk, CancellationToken cancellationToken = default) => LeaseAsync([trunk], cancellationToken);

    /// <summary>
    /// Locks every budget of <paramref name="budgets"/>, in the order given (callers keep one order, the
    /// campaign's before its trunk's, so two dialers never wait for each other), until the lease is
    /// committed or disposed, and counts each one's lines in use; the lease's lines left are the fewest.
    /// </summary>
    public async Task<TrunkLease> LeaseAsync(IReadOnlyList<TrunkBudget> budgets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentOutOfRangeException.ThrowIfZero(budgets.Count);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var counted = new List<(TrunkBudget Budget, int InUse)>();
            foreach (var budget in budgets)
            {
                await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_trunk_lock"), connection, transaction))
                {
                    command.Parameters.AddWithValue("trunk_key", budget.AllServers ? "ctibridge-dialer-" + budget.Key : "ctibridge-dialer-trunk:" + asteriskServer + ":" + budget.Key);
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_trunk_lines_in_use"), connection, transaction))
                {
                    command.Parameters.AddWithValue("all_servers", budget.AllServers);
                    command.Parameters.AddWithValue("asterisk_server", asteriskServer);
                    command.Parameters.AddWithValue("campaign_ids", budget.CampaignIds.ToArray());
                    counted.Add((budget, (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!));
                }
            }

            return new TrunkLease(counted, connection, transaction, instanceId, asteriskServer);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>
/// A trunk locked for one pacing decision: its lines left, and the attempts started on it (inserted
/// in the lock's transaction). <see cref="CommitAsync"/> stores them and frees the trunk; disposing
/// without it stores none.
/// </summary>
public sealed class TrunkLease : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly string _instanceId;
    private readonly string _asteriskServer;

    private readonly IReadOnlyList<(TrunkBudget Budget, int InUse)> _counted;

    internal TrunkLease(IReadOnlyList<(TrunkBudget Budget, int InUse)> counted, NpgsqlConnection connection, NpgsqlTransaction transaction, string instanceId, string asteriskServer)
    {
        _counted = counted;
        _connection = connection;
        _transaction = transaction;
        _instanceId = instanceId;
        _asteriskServer = asteriskServer;
    }

    /// <summary>The budget with the fewest lines left (the one that limits this lease).</summary>
    public TrunkBudget Trunk => Tightest.Budget;

    /// <summary>Lines in use of <see cref="Trunk"/> when the lock was taken (every instance's open attempts on it).</summary>
    public int InUse => Tightest.InUse;

    /// <summary>Lines still free for new attempts in every budget of the lease (never below 0).</summary>
    public int Left => Math.Max(0, Tightest.Budget.MaxLines - Tightest.InUse - Started);

    private (TrunkBudget Budget, int InUse) Tightest => _counted.MinBy(c => c.Budget.MaxLines - c.InUse);

    /// <summary>Attempts started through this lease.</summary>
    public int Started { get; private set; }

    /// <summary>Stores a dial on the trunk, as <see cref="AttemptLog.StartAsync"/> does, inside the lock.</summary>
    /// <exception cref="InvalidOperationException">The trunk has no line left.</exception>
    public async Task StartAsync(string campaignId, DialedCall call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (Left <= 0)
        {
            throw new InvalidOperationException($"{(Trunk.AllServers ? string.Empty : "trunk ")}'{Trunk.Name}' has no line left ({InUse + Started} of {Trunk.MaxLines} in use)");
        }

        await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_attempt_start"), _connection, _transaction);
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("lead_id", long.Parse(call.LeadId, CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("call_id", call.CallId);
        command.Parameters.AddWithValue("instance_id", _instanceId);
        command.Parameters.AddWithValue("phone_number", call.PhoneNumber);
        command.Parameters.AddWithValue("dialed_at", call.DialedAt);
        command.Parameters.AddWithValue("asterisk_server", NpgsqlDbType.Text, _asteriskServer);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        Started++;
    }

    /// <summary>Stores the attempts started and releases the trunk's lock.</summary>
    public Task CommitAsync(CancellationToken cancellationToken = default) => _transaction.CommitAsync(cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
