using CtiBridge.Core.Dialer;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>What a do-not-call request asks for.</summary>
public enum DoNotCallAction
{
    /// <summary>Put the number on the list.</summary>
    Add,

    /// <summary>Take the number off the list.</summary>
    Remove,
}

/// <summary>Where a do-not-call request stands.</summary>
public enum DoNotCallRequestStatus
{
    /// <summary>Waiting for a supervisor.</summary>
    Pending,

    /// <summary>Approved: the list was changed.</summary>
    Approved,

    /// <summary>Rejected: the list was not changed.</summary>
    Rejected,
}

/// <summary>One do-not-call change request and its decision.</summary>
/// <param name="Id">Request id.</param>
/// <param name="Action">Add or remove.</param>
/// <param name="Scope"><see cref="DoNotCallList.GlobalScope"/> or a campaign id.</param>
/// <param name="PhoneNumber">The number (E.164).</param>
/// <param name="Reason">Why (e.g. "customer asked on call 42").</param>
/// <param name="RequestedBy">Who asked.</param>
/// <param name="RequestedAt">When.</param>
/// <param name="Status">Pending, approved or rejected.</param>
/// <param name="DecidedBy">The supervisor who decided.</param>
/// <param name="DecidedAt">When.</param>
/// <param name="DecisionNote">The supervisor's note.</param>
public sealed record DoNotCallRequest(
    long Id, DoNotCallAction Action, string Scope, string PhoneNumber, string Reason, string RequestedBy, DateTimeOffset RequestedAt,
    DoNotCallRequestStatus Status, string? DecidedBy, DateTimeOffset? DecidedAt, string? DecisionNote);

/// <summary>A do-not-call change that was refused, with the reason in operator words.</summary>
public sealed class DoNotCallException(string message) : Exception(message);

/// <summary>
/// The internal do-not-call lists (global and per campaign). A number gets on or off a list only
/// through a request that a supervisor other than the requester approves; requests, decisions and
/// list changes are kept (<c>dnc_requests</c>) and written to the audit log. The dialer reads the
/// list before every plan (<see cref="NumbersForCampaignAsync"/>) and never dials a number on it.
/// </summary>
public sealed class DoNotCallList(NpgsqlDataSource dataSource, TimeProvider timeProvider)
{
    /// <summary>The scope of the global list.</summary>
    public const string GlobalScope = "*";

    /// <summary>Files a request; <paramref name="phoneNumber"/> must already be E.164. Returns the pending request.</summary>
    /// <exception cref="DoNotCallException">Bad number, empty reason, or the same request is already pending.</exception>
    public async Task<DoNotCallRequest> RequestAsync(DoNotCallAction action, string scope, string phoneNumber, string reason, string requestedBy, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scope);
        ArgumentException.ThrowIfNullOrWhiteSpace(requestedBy);
        if (!PhoneNumbers.IsE164(phoneNumber))
        {
            throw new DoNotCallException($"'{phoneNumber}' is not an E.164 number (+ and the country code, e.g. +12125550100)");
        }

        if (string.IsNullOrWhiteSpace(reason))
        {
            throw new DoNotCallException("a do-not-call request needs a reason (who asked, on which call)");
        }

        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long id;
        try
        {
            await using var command = new NpgsqlCommand(NamedQueries.Get("dnc_request_insert"), connection, transaction);
            command.Parameters.AddWithValue("action", ActionText(action));
            command.Parameters.AddWithValue("scope", scope);
            command.Parameters.AddWithValue("phone_number", phoneNumber);
            command.Parameters.AddWithValue("reason", reason);
            command.Parameters.AddWithValue("requested_by", requestedBy);
            command.Parameters.AddWithValue("now", now);
            id = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new DoNotCallException($"a request to {ActionText(action)} {phoneNumber} ({ScopeText(scope)}) is already waiting for a supervisor");
        }

        await DialerAudit.WriteAsync(connection, transaction, now, requestedBy, "dnc request " + ActionText(action), phoneNumber,
            new { requestId = id, scope, reason }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new DoNotCallRequest(id, action, scope, phoneNumber, reason, requestedBy, now, DoNotCallRequestStatus.Pending, null, null, null);
    }

    /// <summary>
    /// A supervisor approves (the list changes now) or rejects a pending request.
    /// </summary>
    /// <exception cref="DoNotCallException">No such pending request, or the supervisor is the requester.</exception>
    public async Task<DoNotCallRequest> DecideAsync(long requestId, bool approve, string supervisor, string? note, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(supervisor);
        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        string action, scope, number, requestedBy;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dnc_request_decide"), connection, transaction))
        {
            command.Parameters.AddWithValue("request_id", requestId);
            command.Parameters.AddWithValue("status", approve ? "approved" : "rejected");
            command.Parameters.AddWithValue("decided_by", supervisor);
            command.Parameters.AddWithValue("now", now);
            command.Parameters.AddWithValue("note", NpgsqlDbType.Text, (object?)note ?? DBNull.Value);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new DoNotCallException($"there is no pending do-not-call request {requestId} (unknown, or already decided)");
            }

            (action, scope, number, requestedBy) = (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3));
        }

        if (string.Equals(requestedBy, supervisor, StringComparison.Ordinal))
        {
            // Four eyes: nobody approves their own request (the transaction is rolled back).
            throw new DoNotCallException($"request {requestId} was filed by {supervisor}; another supervisor must decide it");
        }

        if (approve)
        {
            await using var change = new NpgsqlCommand(NamedQueries.Get(action == "add" ? "dnc_number_add" : "dnc_number_remove"), connection, transaction);
            change.Parameters.AddWithValue("scope", scope);
            change.Parameters.AddWithValue("phone_number", number);
            if (action == "add")
            {
                change.Parameters.AddWithValue("now", now);
                change.Parameters.AddWithValue("request_id", requestId);
            }

            await change.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await DialerAudit.WriteAsync(connection, transaction, now, supervisor, $"dnc {(approve ? "approve" : "reject")} {action}", number,
            new { requestId, scope, note }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return (await ListAsync(requestId, null, cancellationToken).ConfigureAwait(false))[0];
    }

    /// <summary>Requests, all or one, optionally only those with <paramref name="status"/>, oldest first.</summary>
    public async Task<IReadOnlyList<DoNotCallRequest>> ListAsync(long? requestId, DoNotCallRequestStatus? status, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dnc_request_get"));
        command.Parameters.AddWithValue("request_id", NpgsqlDbType.Bigint, (object?)requestId ?? DBNull.Value);
        command.Parameters.AddWithValue("status", NpgsqlDbType.Text, status is { } s ? s.ToString().ToLowerInvariant() : DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<DoNotCallRequest>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new DoNotCallRequest(
                reader.GetInt64(0),
                reader.GetString(1) == "add" ? DoNotCallAction.Add : DoNotCallAction.Remove,
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6),
                Enum.Parse<DoNotCallRequestStatus>(reader.GetString(7), ignoreCase: true),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
                reader.IsDBNull(10) ? null : reader.GetString(10)));
        }

        return list;
    }

    /// <summary>Every number the campaign must never dial (the global list and its own).</summary>
    public async Task<IReadOnlySet<string>> NumbersForCampaignAsync(string campaignId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dnc_numbers_for_campaign"));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var numbers = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            numbers.Add(reader.GetString(0));
        }

        return numbers;
    }

    /// <summary>Which of <paramref name="numbers"/> the campaign must not dial (checked right before each dial).</summary>
    public async Task<IReadOnlySet<string>> BlockedAmongAsync(string campaignId, IReadOnlyCollection<string> numbers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(numbers);
        var blocked = new HashSet<string>(StringComparer.Ordinal);
        if (numbers.Count == 0)
        {
            return blocked;
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("dnc_numbers_among"));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("numbers", numbers.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            blocked.Add(reader.GetString(0));
        }

        return blocked;
    }

    private static string ActionText(DoNotCallAction action) => action == DoNotCallAction.Add ? "add" : "remove";

    private static string ScopeText(string scope) => scope == GlobalScope ? "global list" : $"campaign {scope}";
}
