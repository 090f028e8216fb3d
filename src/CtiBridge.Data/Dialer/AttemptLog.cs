using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>How an attempt ended, beyond what the domain's <see cref="AttemptResult"/> says.</summary>
/// <param name="Result">The domain result (outcome, updated lead).</param>
/// <param name="AgentId">The agent who took the call, if one did.</param>
/// <param name="HangupCause">The Q.850 cause Asterisk reported, if any.</param>
public sealed record StoredAttemptEnd(AttemptResult Result, string? AgentId, int? HangupCause);

/// <summary>A campaign's compliance figures from ledger rows other than one ledger's own.</summary>
/// <param name="ToDate">Live answers and abandons since the campaign began.</param>
/// <param name="InWindow">Those in the abandon window ending now.</param>
/// <param name="FirstRowAt">The campaign's first ledger row (any ledger), if any.</param>
public sealed record LedgerElsewhere(AbandonTally ToDate, AbandonTally InWindow, DateTimeOffset? FirstRowAt);

/// <summary>What <see cref="AttemptLog.AnsweredAfterGiveUpAsync"/> changed.</summary>
/// <param name="AttemptCorrected">The attempt was stored again as a person answered and abandoned (false: it was no longer as the give-up stored it).</param>
/// <param name="LeadRescheduled">The lead was rescheduled as after an abandon (false: it had changed since the give-up and is left as it is).</param>
public sealed record GivenUpAnswerStored(bool AttemptCorrected, bool LeadRescheduled);

/// <summary>A stored dial attempt, as a disposition needs it.</summary>
/// <param name="CallId">The call id.</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="LeadId">The lead.</param>
/// <param name="PhoneNumber">The number dialled (E.164).</param>
/// <param name="AgentId">The agent who talked to the customer, if one did.</param>
public sealed record StoredAttempt(string CallId, string CampaignId, string LeadId, string PhoneNumber, string? AgentId);

/// <summary>An attempt left open by a dialer instance that died, as the sweep ended it (its call record is written from this).</summary>
/// <param name="CallId">The call id (the customer's channel id).</param>
/// <param name="CampaignId">The campaign.</param>
/// <param name="LeadId">The lead.</param>
/// <param name="PhoneNumber">The number dialled (E.164).</param>
/// <param name="CallerId">The campaign's caller ID, if the campaign is still stored.</param>
/// <param name="DialedAt">When it was dialled.</param>
/// <param name="AnsweredAt">When the customer answered, if that was stored before the instance died.</param>
/// <param name="AgentId">The agent the customer was put through to, if that was written ahead.</param>
/// <param name="AgentConnectedAt">When the customer was put through to that agent.</param>
/// <param name="AsteriskServer">The Asterisk server that placed the call, if known.</param>
/// <param name="EndedAt">When the sweep found the channel gone and ended the attempt (the real end is not known).</param>
/// <param name="Outcome">The outcome its instance stored with the end (<see cref="AttemptLog.EndedUnrecordedAsync"/>); null when the sweep ended it (a lost reply).</param>
/// <param name="HangupCause">The Q.850 cause stored with the end, if any.</param>
/// <param name="Abandoned">Whether its instance counted it abandoned (a person answered and no agent came in time).</param>
public sealed record OrphanedAttempt(
    string CallId, string CampaignId, string LeadId, string PhoneNumber, string? CallerId, DateTimeOffset DialedAt, DateTimeOffset? AnsweredAt,
    string? AgentId, DateTimeOffset? AgentConnectedAt, string? AsteriskServer, DateTimeOffset EndedAt,
    string? Outcome = null, int? HangupCause = null, bool Abandoned = false);

/// <summary>Per-attempt rows, lead updates, the persisted compliance ledger, dispositions and recycling.</summary>
/// <param name="dataSource">The database.</param>
/// <param name="instanceId">The dialer instance whose attempts these are.</param>
/// <param name="timeProvider">The clock.</param>
/// <param name="asteriskServer">The Asterisk server (asterisk[].name) that places this instance's calls, stored on every attempt; null when unknown.</param>
public sealed class AttemptLog(NpgsqlDataSource dataSource, string instanceId, TimeProvider timeProvider, string? asteriskServer = null)
{
    /// <summary>Stores a dial as it is placed.</summary>
    public async Task StartAsync(string campaignId, DialedCall call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempt_start"));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("lead_id", long.Parse(call.LeadId, CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("call_id", call.CallId);
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("phone_number", call.PhoneNumber);
        command.Parameters.AddWithValue("dialed_at", call.DialedAt);
        command.Parameters.AddWithValue("asterisk_server", NpgsqlDbType.Text, (object?)asteriskServer ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes ahead that the attempt's customer was put through to <paramref name="agentId"/> (nothing once
    /// the attempt has ended): an instance killed on the call never stores its end, and the sweep that
    /// ends the orphan then knows the person was reached. Returns false when the attempt had already ended.
    /// </summary>
    public async Task<bool> ConnectedAsync(string callId, string agentId, DateTimeOffset answeredAt, DateTimeOffset connectedAt, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempt_connected"));
        command.Parameters.AddWithValue("call_id", callId);
        command.Parameters.AddWithValue("agent_id", agentId);
        command.Parameters.AddWithValue("answered_at", answeredAt);
        command.Parameters.AddWithValue("agent_connected_at", connectedAt);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>
    /// Writes ahead that the attempt's customer answered (nothing once it has ended): an adopter of a killed
    /// instance then knows a person is waiting for an agent and since when (the 2 s rule).
    /// </summary>
    public async Task<bool> AnsweredAsync(string callId, DateTimeOffset answeredAt, CallOutcome answeredBy, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempt_answered"));
        command.Parameters.AddWithValue("call_id", callId);
        command.Parameters.AddWithValue("answered_at", answeredAt);
        command.Parameters.AddWithValue("answered_by", answeredBy.ToString());
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Stores the end of an attempt and what becomes of its lead (which also ends the hopper's claim), in one transaction.</summary>
    public Task EndAsync(StoredAttemptEnd end, CancellationToken cancellationToken = default) => EndAsync(end, null, [], cancellationToken);

    /// <summary>
    /// Stores the end of an attempt, what becomes of its lead (which also ends the hopper's claim) and the compliance-ledger
    /// rows of <paramref name="campaignId"/> counted so far and not yet stored (<paramref name="ledgerRows"/>, e.g. the
    /// abandon of a person who hung up while waiting for an agent), in one transaction: a kill between the attempt's
    /// end and its ledger rows cannot lose the rows (the lead closed, the abandon not counted).
    /// </summary>
    public async Task EndAsync(StoredAttemptEnd end, string? campaignId, IReadOnlyList<LedgerEntry> ledgerRows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(end);
        ArgumentNullException.ThrowIfNull(ledgerRows);
        if (ledgerRows.Count > 0 && string.IsNullOrEmpty(campaignId))
        {
            throw new ArgumentException("ledger rows need their campaign id", nameof(campaignId));
        }

        var (result, call, lead) = (end.Result, end.Result.Call, end.Result.UpdatedLead);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_attempt_end"), connection, transaction))
        {
            command.Parameters.AddWithValue("call_id", call.CallId);
            command.Parameters.AddWithValue("answered_at", NpgsqlDbType.TimestampTz, (object?)call.AnsweredAt ?? DBNull.Value);
            command.Parameters.AddWithValue("answered_by", NpgsqlDbType.Text, (object?)call.AnsweredBy?.ToString() ?? DBNull.Value);
            command.Parameters.AddWithValue("agent_id", NpgsqlDbType.Text, (object?)end.AgentId ?? DBNull.Value);
            command.Parameters.AddWithValue("agent_connected_at", NpgsqlDbType.TimestampTz, (object?)call.AgentConnectedAt ?? DBNull.Value);
            command.Parameters.AddWithValue("ended_at", result.EndedAt);
            command.Parameters.AddWithValue("outcome", result.Outcome.ToString());
            command.Parameters.AddWithValue("hangup_cause", NpgsqlDbType.Integer, (object?)end.HangupCause ?? DBNull.Value);
            command.Parameters.AddWithValue("abandoned", call.Abandoned);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_lead_after_attempt"), connection, transaction))
        {
            command.Parameters.AddWithValue("lead_id", long.Parse(lead.Id, CultureInfo.InvariantCulture));
            command.Parameters.AddWithValue("status", StatusText(lead.Status));
            command.Parameters.AddWithValue("attempts", lead.Attempts);
            command.Parameters.AddWithValue("next_attempt_at", NpgsqlDbType.TimestampTz, (object?)lead.NextAttemptAt ?? DBNull.Value);
            command.Parameters.AddWithValue("last_outcome", NpgsqlDbType.Text, (object?)lead.LastOutcome?.ToString() ?? DBNull.Value);
            command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (ledgerRows.Count > 0)
        {
            await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_ledger_append"), connection, transaction);
            AddLedgerParameters(command, campaignId!, ledgerRows);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A person answered a line just after the dialer gave it up (<see cref="CampaignDialer.OnAnsweredAfterGivenUp"/>): the
    /// attempt stored by the give-up is replaced by how it really ended (<paramref name="answered"/>: a person answered,
    /// abandoned), its lead is rescheduled as <paramref name="answered"/> says if it is still as the give-up left it, and the
    /// ledger rows not yet stored (<paramref name="ledgerRows"/>: the abandon) are appended, in one transaction.
    /// </summary>
    /// <param name="givenUp">The give-up's result, as it was stored.</param>
    /// <param name="answered">The attempt as it really ended, with its lead.</param>
    /// <param name="campaignId">The campaign.</param>
    /// <param name="ledgerRows">The campaign's ledger rows counted and not yet stored.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<GivenUpAnswerStored> AnsweredAfterGiveUpAsync(
        AttemptResult givenUp, AttemptResult answered, string campaignId, IReadOnlyList<LedgerEntry> ledgerRows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(givenUp);
        ArgumentNullException.ThrowIfNull(answered);
        ArgumentNullException.ThrowIfNull(ledgerRows);
        ArgumentException.ThrowIfNullOrEmpty(campaignId);
        if (answered.Call.CallId != givenUp.Call.CallId || answered.Call.AnsweredAt is not { } answeredAt)
        {
            throw new ArgumentException($"call {answered.Call.CallId} is not the answered call of the given-up call {givenUp.Call.CallId}", nameof(answered));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int attempts;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_attempt_answered_after_give_up"), connection, transaction))
        {
            command.Parameters.AddWithValue("call_id", answered.Call.CallId);
            command.Parameters.AddWithValue("answered_at", answeredAt);
            command.Parameters.AddWithValue("ended_at", answered.EndedAt);
            command.Parameters.AddWithValue("given_up_outcome", givenUp.Outcome.ToString());
            attempts = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var leads = 0;
        if (attempts == 1)
        {
            var (was, lead) = (givenUp.UpdatedLead, answered.UpdatedLead);
            await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_lead_after_given_up_answer"), connection, transaction);
            command.Parameters.AddWithValue("lead_id", long.Parse(lead.Id, CultureInfo.InvariantCulture));
            command.Parameters.AddWithValue("campaign_id", campaignId);
            command.Parameters.AddWithValue("status", StatusText(lead.Status));
            command.Parameters.AddWithValue("attempts", lead.Attempts);
            command.Parameters.AddWithValue("next_attempt_at", NpgsqlDbType.TimestampTz, (object?)lead.NextAttemptAt ?? DBNull.Value);
            command.Parameters.AddWithValue("last_outcome", NpgsqlDbType.Text, (object?)lead.LastOutcome?.ToString() ?? DBNull.Value);
            command.Parameters.AddWithValue("was_status", StatusText(was.Status));
            command.Parameters.AddWithValue("was_last_outcome", NpgsqlDbType.Text, (object?)was.LastOutcome?.ToString() ?? DBNull.Value);
            command.Parameters.AddWithValue("was_next_attempt_at", NpgsqlDbType.TimestampTz, (object?)was.NextAttemptAt ?? DBNull.Value);
            command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
            leads = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (ledgerRows.Count > 0)
        {
            await using var command = new NpgsqlCommand(NamedQueries.Get("dialer_ledger_append"), connection, transaction);
            AddLedgerParameters(command, campaignId, ledgerRows);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new GivenUpAnswerStored(attempts == 1, leads == 1);
    }

    /// <summary>Appends compliance-ledger rows (the domain ledger's new entries) for the campaign.</summary>
    public async Task AppendLedgerAsync(string campaignId, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_ledger_append"));
        AddLedgerParameters(command, campaignId, entries);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private void AddLedgerParameters(NpgsqlCommand command, string campaignId, IReadOnlyList<LedgerEntry> entries)
    {
        static object Ms(TimeSpan? span) => span is { } s ? (object)(int)Math.Round(s.TotalMilliseconds) : DBNull.Value;
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("at", entries.Select(e => e.At.ToUniversalTime()).ToArray());
        command.Parameters.AddWithValue("kind", entries.Select(e => e.Kind.ToString()).ToArray());
        command.Parameters.AddWithValue("call_id", entries.Select(e => e.CallId).ToArray());
        command.Parameters.AddWithValue("lead_id", entries.Select(e => e.LeadId).ToArray());
        command.Parameters.AddWithValue("phone_number", entries.Select(e => e.PhoneNumber).ToArray());
        command.Parameters.Add(new NpgsqlParameter("connect_delay_ms", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = entries.Select(e => Ms(e.ConnectDelay)).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("ring_ms", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = entries.Select(e => Ms(e.RingTime)).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("message", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = entries.Select(e => (object?)e.Message ?? DBNull.Value).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("outcome", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = entries.Select(e => (object?)e.Outcome?.ToString() ?? DBNull.Value).ToArray() });
    }

    /// <summary>Live answers and abandons of the campaign in [from, to), over every instance's ledger rows.</summary>
    public async Task<AbandonTally> TallyAsync(string campaignId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_ledger_tally"));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new AbandonTally((int)reader.GetInt64(0), (int)reader.GetInt64(1));
    }

    /// <summary>
    /// A campaign's compliance figures recorded outside the ledger whose call ids start with
    /// <paramref name="ownCallIdPrefix"/>: other instances' rows and this instance's rows from before
    /// a restart (or a settings change). Feed it to <see cref="ComplianceLedger.SetRecordedElsewhere"/>.
    /// </summary>
    public async Task<LedgerElsewhere> TallyElsewhereAsync(string campaignId, string ownCallIdPrefix, TimeSpan window, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ownCallIdPrefix);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_ledger_elsewhere"));
        command.Parameters.AddWithValue("campaign_id", campaignId);
        command.Parameters.AddWithValue("own_prefix", ownCallIdPrefix);
        command.Parameters.AddWithValue("window_from", timeProvider.GetUtcNow() - window);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new LedgerElsewhere(
            new AbandonTally((int)reader.GetInt64(0), (int)reader.GetInt64(1)),
            new AbandonTally((int)reader.GetInt64(2), (int)reader.GetInt64(3)),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4));
    }

    /// <summary>
    /// Call ids of open attempts nobody will end (docs/dialer.md, "Instances"): those of instances whose
    /// heartbeat is older than <see cref="LeadHopper.ClaimLease"/>, and this instance id's own dialled
    /// before <paramref name="ownBefore"/> (when its current run started). At most <paramref name="limit"/>, oldest first.
    /// </summary>
    public async Task<IReadOnlyList<string>> OrphanedAsync(DateTimeOffset ownBefore, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempts_orphaned"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("stale_before", timeProvider.GetUtcNow() - LeadHopper.ClaimLease);
        command.Parameters.AddWithValue("own_before", ownBefore);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var callIds = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            callIds.Add(reader.GetString(0));
        }

        return callIds;
    }

    /// <summary>
    /// Ends an orphaned attempt whose channel is gone from Asterisk, as a lost reply (its outcome died
    /// with its instance); the lead counts one attempt more and is due again unless that was its last.
    /// Returns the attempt as ended, or null when it was already ended (by another sweep or its instance).
    /// </summary>
    public async Task<OrphanedAttempt?> EndOrphanAsync(string callId, CancellationToken cancellationToken = default)
    {
        var now = timeProvider.GetUtcNow();
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempt_orphan_end"));
        command.Parameters.AddWithValue("call_id", callId);
        command.Parameters.AddWithValue("now", now);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new OrphanedAttempt(
            callId, reader.GetString(0), reader.GetInt64(1).ToString(CultureInfo.InvariantCulture), reader.GetString(2),
            reader.IsDBNull(8) ? null : reader.GetString(8),
            reader.GetFieldValue<DateTimeOffset>(3),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
            reader.IsDBNull(5) ? null : reader.GetString(5),
            reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
            reader.IsDBNull(7) ? null : reader.GetString(7),
            now);
    }

    /// <summary>
    /// Ended attempts of instances that stopped (and this id's own from before <paramref name="ownBefore"/>) whose call
    /// record is not in <c>calls</c>: their instance stored the end and died before its writer stored the record.
    /// Only those ended since <paramref name="endedAfter"/> (older calls may have been removed by retention).
    /// </summary>
    public async Task<IReadOnlyList<OrphanedAttempt>> EndedUnrecordedAsync(DateTimeOffset ownBefore, DateTimeOffset endedAfter, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempts_ended_unrecorded"));
        command.Parameters.AddWithValue("instance_id", instanceId);
        command.Parameters.AddWithValue("stale_before", timeProvider.GetUtcNow() - LeadHopper.ClaimLease);
        command.Parameters.AddWithValue("own_before", ownBefore);
        command.Parameters.AddWithValue("ended_after", endedAfter);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var attempts = new List<OrphanedAttempt>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            attempts.Add(new OrphanedAttempt(
                reader.GetString(0), reader.GetString(1), reader.GetInt64(2).ToString(CultureInfo.InvariantCulture), reader.GetString(3),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetString(11),
                reader.IsDBNull(12) ? null : reader.GetInt32(12),
                reader.GetBoolean(13)));
        }

        return attempts;
    }

    /// <summary>One attempt by its call id, or null.</summary>
    public async Task<StoredAttempt?> GetAsync(string callId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_attempt_get"));
        command.Parameters.AddWithValue("call_id", callId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new StoredAttempt(callId, reader.GetString(0), reader.GetInt64(1).ToString(CultureInfo.InvariantCulture), reader.GetString(2),
            reader.IsDBNull(3) || reader.IsDBNull(4) ? null : reader.GetString(3));
    }

    /// <summary>
    /// The agent's disposition of a call (e.g. <c>sale</c>, <c>not-interested</c>). With
    /// <paramref name="callbackAt"/> the lead is reopened and not dialled before then (call back
    /// later), remembering <paramref name="agentId"/> as its agent. Returns false for an unknown call.
    /// </summary>
    public async Task<bool> SetDispositionAsync(string callId, string disposition, DateTimeOffset? callbackAt, string? agentId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(disposition);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("dialer_lead_disposition"));
        command.Parameters.AddWithValue("call_id", callId);
        command.Parameters.AddWithValue("disposition", disposition);
        command.Parameters.AddWithValue("callback_at", NpgsqlDbType.TimestampTz, (object?)callbackAt ?? DBNull.Value);
        command.Parameters.AddWithValue("agent_id", NpgsqlDbType.Text, (object?)agentId ?? DBNull.Value);
        command.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <summary>
    /// Recycling: leads of the campaign that used all their attempts and last ended with one of
    /// <paramref name="lastOutcomes"/> get their attempts back, dialled from <paramref name="notBefore"/>.
    /// Reached leads and invalid numbers are never recycled. Returns how many leads were reopened.
    /// </summary>
    public async Task<int> RecycleAsync(string campaignId, IReadOnlyCollection<CallOutcome> lastOutcomes, DateTimeOffset notBefore, string actor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lastOutcomes);
        if (lastOutcomes.Contains(CallOutcome.InvalidNumber))
        {
            throw new ArgumentException("invalid numbers are never recycled", nameof(lastOutcomes));
        }

        var now = timeProvider.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        int count;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("dialer_leads_recycle"), connection, transaction))
        {
            command.Parameters.AddWithValue("campaign_id", campaignId);
            command.Parameters.AddWithValue("outcomes", lastOutcomes.Select(o => o.ToString()).ToArray());
            command.Parameters.AddWithValue("not_before", notBefore);
            command.Parameters.AddWithValue("now", now);
            count = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await DialerAudit.WriteAsync(connection, transaction, now, actor, "leads recycle", campaignId,
            new { outcomes = lastOutcomes.Select(o => o.ToString()).ToArray(), notBefore, leads = count }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>The database text of a lead status.</summary>
    public static string StatusText(LeadStatus status) => status switch
    {
        LeadStatus.Open => "open",
        LeadStatus.Reached => "reached",
        LeadStatus.InvalidNumber => "invalid_number",
        LeadStatus.AttemptsExhausted => "attempts_exhausted",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };
}
