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
/// The campaign a lease takes lines for (issue 10: priority between campaigns across instances): the lease
/// leaves a trunk's free lines to the unmet demand of campaigns ranked above it on other live instances.
/// </summary>
/// <param name="CampaignId">The campaign asking.</param>
/// <param name="Priority">Its priority (higher first; equal priorities go by campaign id, as every round orders them).</param>
/// <param name="Now">The asking instance's time: demand rows past their <c>valid_until</c>, and instances without a heartbeat for <see cref="LeadHopper.ClaimLease"/>, do not count.</param>
public sealed record LineRequest(string CampaignId, int Priority, DateTimeOffset Now);

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
    public Task<TrunkLease> LeaseAsync(IReadOnlyList<TrunkBudget> budgets, CancellationToken cancellationToken = default) => LeaseAsync(budgets, null, cancellationToken);

    /// <summary>
    /// As <see cref="LeaseAsync(IReadOnlyList{TrunkBudget}, CancellationToken)"/>, for <paramref name="request"/>'s
    /// campaign: a trunk's lines left exclude those wanted and not yet had by campaigns ranked above it on other live
    /// instances (<see cref="TrunkLease.SetDemandAsync"/>), so the higher priority gets a freed line whichever
    /// instance paces it. A campaign's own cap (<see cref="TrunkBudget.AllServers"/>) is not shared by priority.
    /// </summary>
    public async Task<TrunkLease> LeaseAsync(IReadOnlyList<TrunkBudget> budgets, LineRequest? request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentOutOfRangeException.ThrowIfZero(budgets.Count);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var counted = new List<CountedBudget>();
            foreach (var budget in budgets)
            {
                var key = LockKey(budget);
                await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_trunk_lock"), connection, transaction))
                {
                    command.Parameters.AddWithValue("trunk_key", key);
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                int inUse;
                await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_trunk_lines_in_use"), connection, transaction))
                {
                    command.Parameters.AddWithValue("all_servers", budget.AllServers);
                    command.Parameters.AddWithValue("asterisk_server", asteriskServer);
                    command.Parameters.AddWithValue("campaign_ids", budget.CampaignIds.ToArray());
                    inUse = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                }

                var reserved = 0;
                if (request is not null && !budget.AllServers)
                {
                    // Read under the trunk's lock: a demand row is written in its writer's lease, before that lease commits.
                    await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_line_demand_above"), connection, transaction);
                    command.Parameters.AddWithValue("trunk_key", key);
                    command.Parameters.AddWithValue("instance_id", instanceId);
                    command.Parameters.AddWithValue("campaign_id", request.CampaignId);
                    command.Parameters.AddWithValue("priority", request.Priority);
                    command.Parameters.AddWithValue("now", request.Now);
                    command.Parameters.AddWithValue("stale_before", request.Now - LeadHopper.ClaimLease);
                    reserved = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                }

                counted.Add(new CountedBudget(budget, key, inUse, reserved));
            }

            return new TrunkLease(counted, connection, transaction, instanceId, asteriskServer);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Forgets <paramref name="campaignId"/>'s unmet demand written by this instance (it wants no more lines, or stopped here).</summary>
    public async Task ClearDemandAsync(string campaignId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_line_demand_clear"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("campaign_id", campaignId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets every unmet demand this instance wrote (at its start and stop).</summary>
    public async Task ClearDemandAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_line_demand_clear_instance"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets every abandon exposure this instance wrote (at its start and stop: it has no line up then).</summary>
    public async Task ClearAbandonExposureAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_abandon_exposure_clear_instance"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lowers this instance's abandon exposure for <paramref name="campaignId"/> outside any lock (its lines ended
    /// while it dialled nothing new): a lower figure never lets another instance spend headroom that is still at
    /// risk. Raising it is done in the campaign's lock only (<see cref="TrunkLease.SetAbandonExposureAsync"/>).
    /// </summary>
    public async Task LowerAbandonExposureAsync(string campaignId, int lines, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lines);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_abandon_exposure_set"));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("lines", lines);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // One lock (and one demand key) per trunk of a server, or per campaign over every server.
    private string LockKey(TrunkBudget budget) => budget.AllServers ? "ctibridge-dialer-" + budget.Key : "ctibridge-dialer-trunk:" + asteriskServer + ":" + budget.Key;
}

/// <summary>A campaign's abandon figures as one pacing decision reads them under the campaign's lock (0045).</summary>
/// <param name="ToDate">Live answers and abandons since the campaign began, every instance's, as stored now.</param>
/// <param name="InWindow">
/// Those of the abandon window: live answers of the UTC days wholly inside it, abandons of every day it touches
/// (never more headroom than the exact window has).
/// </param>
/// <param name="ExposedElsewhere">Lines of the other live instances that could still end abandoned.</param>
public sealed record AbandonFigures(AbandonTally ToDate, AbandonTally InWindow, int ExposedElsewhere);

/// <summary>A budget as a lease counted it: its lines in use, and those left to campaigns ranked above the one asking on other instances.</summary>
internal sealed record CountedBudget(TrunkBudget Budget, string Key, int InUse, int Reserved)
{
    public int Free => Budget.MaxLines - InUse - Reserved;
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

    private readonly IReadOnlyList<CountedBudget> _counted;

    internal TrunkLease(IReadOnlyList<CountedBudget> counted, NpgsqlConnection connection, NpgsqlTransaction transaction, string instanceId, string asteriskServer)
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

    /// <summary>
    /// Lines of <see cref="Trunk"/> left, when the lease was taken, to the unmet demand of campaigns ranked above the
    /// one asking on other instances (<see cref="TrunkLines.LeaseAsync(IReadOnlyList{TrunkBudget}, LineRequest?, CancellationToken)"/>).
    /// </summary>
    public int Reserved => Tightest.Reserved;

    /// <summary>Lines still free for new attempts in every budget of the lease, after those left to higher priorities elsewhere (never below 0).</summary>
    public int Left => Math.Max(0, Tightest.Free - Started);

    /// <summary>Lines left under the campaigns' own caps of the lease (<see cref="TrunkBudget.AllServers"/>), trunks aside; <see cref="int.MaxValue"/> without one.</summary>
    public int LeftOnCampaignCaps => _counted.Where(c => c.Budget.AllServers).Select(c => (int?)c.Free).Min() is { } free ? Math.Max(0, free - Started) : int.MaxValue;

    private CountedBudget Tightest => _counted.MinBy(c => c.Free)!;

    /// <summary>Attempts started through this lease.</summary>
    public int Started { get; private set; }

    /// <summary>Stores a dial on the trunk, as <see cref="AttemptLog.StartAsync"/> does, inside the lock.</summary>
    /// <exception cref="InvalidOperationException">The trunk has no line left.</exception>
    public async Task StartAsync(string campaignId, DialedCall call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (Left <= 0)
        {
            throw new InvalidOperationException($"{(Trunk.AllServers ? string.Empty : "trunk ")}'{Trunk.Name}' has no line left ({InUse + Started} of {Trunk.MaxLines} in use"
                + (Reserved > 0 ? $", {Reserved} left to higher-priority campaigns on other instances)" : ")"));
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

    /// <summary>
    /// Writes, inside the lock, how many more lines of each trunk of the lease <paramref name="campaignId"/> wanted
    /// than it got (0: it has none to ask for; the row is removed), so lower-priority campaigns on other instances
    /// leave that many free lines to it until <paramref name="validUntil"/> or its next round, whichever comes first.
    /// </summary>
    public async Task SetDemandAsync(string campaignId, int priority, int lines, DateTimeOffset validUntil, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lines);
        if (lines == 0)
        {
            await using var clear = new NpgsqlCommand(NamedQueries.Get("dialer_line_demand_clear"), _connection, _transaction);
            clear.Parameters.AddWithValue("instance_id", _instanceId);
            clear.Parameters.AddWithValue("campaign_id", campaignId);
            await clear.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var trunk in _counted.Where(c => !c.Budget.AllServers))
        {
            await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_line_demand_set"), _connection, _transaction);
            command.Parameters.AddWithValue("trunk_key", trunk.Key);
            command.Parameters.AddWithValue("instance_id", _instanceId);
            command.Parameters.AddWithValue("campaign_id", campaignId);
            command.Parameters.AddWithValue("priority", priority);
            command.Parameters.AddWithValue("lines", lines);
            command.Parameters.AddWithValue("valid_until", validUntil);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads, inside the lock (the campaign's own budget must be in the lease), <paramref name="campaignId"/>'s live answers
    /// and abandons stored by every instance and the lines other live instances could still lose as abandons: the
    /// headroom left to this instance's pacing decision, which no other instance can spend until the lease commits.
    /// </summary>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="windowStart">Start of the abandon window (now minus the policy's window).</param>
    /// <param name="staleBefore">Instances whose last heartbeat is older do not count (dead: their calls are adopted or swept).</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<AbandonFigures> AbandonFiguresAsync(string campaignId, DateTimeOffset windowStart, DateTimeOffset staleBefore, CancellationToken cancellationToken = default)
    {
        if (!_counted.Any(c => c.Budget.AllServers && c.Budget.CampaignIds.Contains(campaignId, StringComparer.Ordinal)))
        {
            throw new InvalidOperationException($"the abandon figures of campaign '{campaignId}' are read under its own lock: lease its budget (TrunkBudget.OfCampaign) first");
        }

        await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_abandon_headroom"), _connection, _transaction);
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("instance_id", _instanceId);
        command.Parameters.AddWithValue("window_from_day", DateOnly.FromDateTime(windowStart.UtcDateTime));
        command.Parameters.AddWithValue("stale_before", staleBefore);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new AbandonFigures(
            new AbandonTally(checked((int)reader.GetInt64(0)), checked((int)reader.GetInt64(1))),
            new AbandonTally(checked((int)reader.GetInt64(2)), checked((int)reader.GetInt64(3))),
            reader.GetInt32(4));
    }

    /// <summary>
    /// The most lines of <paramref name="campaignId"/> on this instance that may be at risk of ending abandoned after this
    /// pacing decision (<see cref="CampaignDialer.Plan"/>'s abandon budget), read inside the lock: the abandons that still
    /// fit under the limit by every instance's stored ledger (<see cref="ComplianceLedger.AbandonsThatFit"/>; the
    /// campaign-to-date figures while the campaign is younger than the window, as <paramref name="ledger"/> measures),
    /// less the lines other live instances have at risk and the abandons counted here and not yet stored. Every line at
    /// risk is counted as if it were abandoned, so the limit holds whatever the lines in flight turn out to be.
    /// </summary>
    /// <param name="campaignId">The campaign (its own budget must be in the lease).</param>
    /// <param name="ledger">This instance's ledger of the campaign (its policy and the start of its measuring).</param>
    /// <param name="now">The decision's time.</param>
    /// <param name="unstoredAbandons">Abandons counted by this instance and not yet in dialer_ledger.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The budget (below 1: only dialling that cannot abandon).</returns>
    public async Task<int> AbandonBudgetAsync(string campaignId, ComplianceLedger ledger, DateTimeOffset now, int unstoredAbandons, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        var policy = ledger.Policy;
        var figures = await AbandonFiguresAsync(campaignId, now - policy.AbandonWindow, now - LeadHopper.ClaimLease, cancellationToken).ConfigureAwait(false);
        var measured = ledger.CampaignStart is not { } start || now - start < policy.AbandonWindow ? figures.ToDate : figures.InWindow;
        var fit = ComplianceLedger.AbandonsThatFit(policy, measured, figures.InWindow) - figures.ExposedElsewhere - unstoredAbandons;
        return ComplianceLedger.WholeAbandons(fit);
    }

    /// <summary>
    /// Writes, inside the lock, how many of this instance's lines of <paramref name="campaignId"/> could still end
    /// abandoned after this decision; other instances take that much of the campaign's headroom as spent.
    /// </summary>
    public async Task SetAbandonExposureAsync(string campaignId, int lines, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lines);
        await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_abandon_exposure_set"), _connection, _transaction);
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("instance_id", _instanceId);
        command.Parameters.AddWithValue("lines", lines);
        command.Parameters.AddWithValue("now", now);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
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
