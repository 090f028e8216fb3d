using System.Threading.Channels;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Records;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// The dialer's call records: every attempt becomes a <c>calls</c> row (direction outbound, with
/// campaign, lead, agent, talk and disposition) and its legs, written through the same
/// <see cref="CallRecordSink"/> as inbound calls (binary COPY, idempotent upserts, and a durable
/// journal of its own while PostgreSQL is unreachable).
/// </summary>
public sealed partial class OutboundDialer
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly Channel<CallCenterRecord> _records = Channel.CreateUnbounded<CallCenterRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _recordsAbort = new();
    private RecordJournal? _journal;
    private CallRecordSink? _sink;
    private Task _recordWriting = Task.CompletedTask;

    /// <summary>
    /// How far the dialer's record writer is behind (records handed to it and not yet in PostgreSQL);
    /// its own, not call control's: each writer stores its records in arrival order, which the lag's
    /// accounting relies on. <c>ctibridge_record_writer_lag_seconds</c> shows the older of the two.
    /// </summary>
    public RecordWriterLag RecordLag { get; } = new();

    /// <summary>The dialer's call-record journal file (records waiting for PostgreSQL; <c>ctibridge_record_journal_bytes</c> counts it).</summary>
    public string RecordJournalFile => Path.Combine(_settings.RecordJournalDirectory, RecordJournal.FileName);

    private async Task StartRecordsAsync(CancellationToken cancellationToken)
    {
        if (_journal is not null)
        {
            return;
        }

        try
        {
            _journal = await RecordJournal.OpenAsync(_settings.RecordJournalDirectory, _settings.RecordJournalMaxMegabytes * 1024L * 1024L, _logger, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or RecordJournalCorruptException)
        {
            throw new InvalidOperationException($"dialer.recordJournalDirectory '{_settings.RecordJournalDirectory}' cannot hold the dialer's call-record journal: {ex.Message}", ex);
        }

        _sink = new CallRecordSink(new CallRecordWriter(_dataSource), _journal, lag: RecordLag);
        _recordWriting = Task.Run(() => _sink.RunAsync(_records.Reader, batchSize: 200, retryInterval: TimeSpan.FromSeconds(5), _connectionTime, _recordsAbort.Token), CancellationToken.None);
    }

    // Every dialer record goes to the writer through here, so the lag metric sees when it arrived.
    private void HandRecord(CallCenterRecord record)
    {
        RecordLag.Arrived(_connectionTime.GetUtcNow());
        if (!_records.Writer.TryWrite(record))
        {
            RecordLag.Done(1); // The writer has closed (stopping); the record is not waiting for it any more.
        }
    }

    private void WriteCallRecords(RunningCampaign campaign, AttemptResult result, DialerLine? line)
    {
        var agent = line?.AgentId is { } agentId ? campaign.Agents.FirstOrDefault(a => a.Id == agentId) : null;
        var facts = new DialerCallFacts(
            campaign.Definition.Id, campaign.Definition.CallerId, line?.AgentId, agent?.Endpoint, line?.ChannelName,
            line?.HangupCause, line?.MessagePlayed, line?.HungUpByDialer ?? true, AsteriskServerName, line?.EndEstimated ?? false);
        if (line is not null)
        {
            line.Ended = (result, facts);
        }

        HandRecord(DialerCallRecords.Call(result, facts));
        foreach (var leg in DialerCallRecords.Legs(result, facts))
        {
            HandRecord(leg);
        }
    }

    /// <summary>The agent's wrap-up after a campaign call is over: the call row again, with it (a higher revision).</summary>
    private void WriteWrapUp(DialerAgent agent, DateTimeOffset now)
    {
        if (agent.LastCall is { } last)
        {
            agent.LastCall = null;
            HandRecord(DialerCallRecords.Call(last.Result, last.Facts, now - agent.TalkEndedAt, revision: 1));
        }
    }

    private async Task StopRecordsAsync()
    {
        _records.Writer.TryComplete();
        try
        {
            // Bounded: a database that does not answer leaves the records in the journal.
            await _recordWriting.WaitAsync(TimeSpan.FromSeconds(30), TimeProvider.System).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await _recordsAbort.CancelAsync().ConfigureAwait(false);
            LogRecordsNotWritten(_logger);
        }
        catch (Exception ex) when (ex is RecordJournalFullException or InvalidCallRecordException or NpgsqlException or OperationCanceledException)
        {
            LogRecordWriterFailed(_logger, ex);
        }

        if (_journal is not null)
        {
            await _journal.DisposeAsync().ConfigureAwait(false);
        }

        _sink?.Dispose();
        _recordsAbort.Dispose();
    }

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "Dialer call records: the service stopped before every record was written; records not yet in the journal are lost")]
    private static partial void LogRecordsNotWritten(ILogger logger);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Error, Message = "Dialer call records: the writer stopped")]
    private static partial void LogRecordWriterFailed(ILogger logger, Exception exception);
}
