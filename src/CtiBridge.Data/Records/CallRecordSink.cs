using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CtiBridge.Data.Records;

/// <summary>Where a batch went.</summary>
public enum RecordBatchOutcome
{
    /// <summary>Stored in PostgreSQL.</summary>
    Stored,
    /// <summary>PostgreSQL was unreachable (or a journal is still draining); the batch is durable in the journal.</summary>
    Journaled,
}

/// <summary>
/// The call-record sink: writes batches to PostgreSQL and, while the database is unreachable,
/// to the durable <see cref="RecordJournal"/>. While the journal holds records every new batch goes
/// behind them, so records reach the database in the order they arrived. Replay writes the journal
/// in batches and empties it only when all of it is stored; a crash in between replays again, which
/// the writer's idempotent upserts turn into no duplicates.
/// </summary>
public sealed partial class CallRecordSink : IDisposable
{
    private readonly CallRecordWriter _writer;
    private readonly RecordJournal _journal;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly int _replayBatchSize;
    private readonly RecordWriterLag? _lag;

    // Records of this run put in the journal and not yet replayed (the lag counts them as pending until then).
    private long _journaledThisRun;

    /// <summary>Creates a sink; <paramref name="lag"/>, when given, is told which records reached PostgreSQL.</summary>
    public CallRecordSink(CallRecordWriter writer, RecordJournal journal, ILogger<CallRecordSink>? logger = null, int replayBatchSize = 5000, RecordWriterLag? lag = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(journal);
        _writer = writer;
        _journal = journal;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _replayBatchSize = replayBatchSize;
        _lag = lag;
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    /// <summary>The journal (size, near-full alarm).</summary>
    public RecordJournal Journal => _journal;

    /// <summary>Stores a batch in PostgreSQL, or durably in the journal when the database is unreachable.</summary>
    /// <exception cref="InvalidCallRecordException">A record is invalid; nothing of the batch was stored.</exception>
    /// <exception cref="RecordJournalFullException">The database is unreachable and the journal is full.</exception>
    public async Task<RecordBatchOutcome> WriteAsync(IReadOnlyList<CallCenterRecord> records, CancellationToken cancellationToken)
    {
        // Invalid input is refused before it can reach the journal and block the replay.
        CallRecordWriter.Prepare(records);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_journal.IsEmpty && !await ReplayCoreAsync(cancellationToken).ConfigureAwait(false))
            {
                await _journal.AppendAsync(records, cancellationToken).ConfigureAwait(false);
                _journaledThisRun += records.Count;
                return RecordBatchOutcome.Journaled;
            }

            try
            {
                await _writer.WriteAsync(records, cancellationToken).ConfigureAwait(false);
                _lag?.Done(records.Count);
                return RecordBatchOutcome.Stored;
            }
            catch (Exception ex) when (IsDatabaseUnreachable(ex, cancellationToken))
            {
                LogSpooling(_logger, records.Count, ex.Message);
                await _journal.AppendAsync(records, cancellationToken).ConfigureAwait(false);
                _journaledThisRun += records.Count;
                return RecordBatchOutcome.Journaled;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Replays the journal into PostgreSQL. True when the journal is empty afterwards.</summary>
    public async Task<bool> ReplayAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ReplayCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Consumes records until the reader completes: batches whatever is waiting (up to
    /// <paramref name="batchSize"/>), and while records are journaled retries the replay every
    /// <paramref name="retryInterval"/>. When the database is unreachable and the journal is full, the
    /// batch is held in memory and retried every <paramref name="retryInterval"/> (a critical log line
    /// says so) instead of ending the loop.
    /// </summary>
    public async Task RunAsync(ChannelReader<CallCenterRecord> reader, int batchSize, TimeSpan retryInterval, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var batch = new List<CallCenterRecord>(batchSize);
        while (true)
        {
            var waitForRecords = reader.WaitToReadAsync(cancellationToken).AsTask();
            if (!_journal.IsEmpty)
            {
                using var retryCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var retry = Task.Delay(retryInterval, timeProvider, retryCancel.Token);
                if (await Task.WhenAny(waitForRecords, retry).ConfigureAwait(false) == retry)
                {
                    await retry.ConfigureAwait(false);
                    await ReplayAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                await retryCancel.CancelAsync().ConfigureAwait(false);
            }

            if (!await waitForRecords.ConfigureAwait(false))
            {
                break;
            }

            while (batch.Count < batchSize && reader.TryRead(out var record))
            {
                batch.Add(record);
            }

            try
            {
                await WriteHoldingWhileFullAsync(batch, retryInterval, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidCallRecordException ex)
            {
                // One bad record must not lose the good ones: store them one by one, report the bad.
                LogInvalidBatch(_logger, ex.Message);
                foreach (var single in batch)
                {
                    try
                    {
                        await WriteHoldingWhileFullAsync([single], retryInterval, timeProvider, cancellationToken).ConfigureAwait(false);
                    }
                    catch (InvalidCallRecordException bad)
                    {
                        // Refused for good (logged): no longer waiting for the database.
                        _lag?.Done(1);
                        LogInvalidRecord(_logger, bad.Message);
                    }
                }
            }

            batch.Clear();
        }

        await ReplayAsync(cancellationToken).ConfigureAwait(false);
    }

    // The database is unreachable and the journal is full: the batch stays in memory (and the records
    // behind it wait in the reader) until the database takes the journal or the journal has room again.
    // The writer keeps going rather than dying, so nothing already published is lost while the process runs.
    private async Task WriteHoldingWhileFullAsync(List<CallCenterRecord> batch, TimeSpan retryInterval, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        var held = false;
        while (true)
        {
            try
            {
                await WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                if (held)
                {
                    LogHeldRecordsWritten(_logger, batch.Count);
                }

                return;
            }
            catch (RecordJournalFullException ex)
            {
                if (!held)
                {
                    held = true;
                    LogHoldingInMemory(_logger, batch.Count, retryInterval.TotalSeconds, ex.Message);
                }
            }

            await Task.Delay(retryInterval, timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> ReplayCoreAsync(CancellationToken cancellationToken)
    {
        if (_journal.IsEmpty)
        {
            return true;
        }

        var replayed = 0L;
        try
        {
            await foreach (var batch in _journal.ReadAsync(_replayBatchSize, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await _writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (!IsDatabaseUnreachable(ex, cancellationToken))
                {
                    // The database refuses something in this batch for good: store the rest one by one and
                    // keep the refused records aside, so one bad record neither blocks nor loses the others.
                    LogReplayBatchRefused(_logger, batch.Count, ex.MessageText);
                    await ReplayOneByOneAsync(batch, cancellationToken).ConfigureAwait(false);
                }

                replayed += batch.Count;
            }
        }
        catch (Exception ex) when (IsDatabaseUnreachable(ex, cancellationToken))
        {
            LogReplayFailed(_logger, replayed, ex.Message);
            return false;
        }

        await _journal.ClearAsync().ConfigureAwait(false);
        _lag?.Done(_journaledThisRun);
        _journaledThisRun = 0;
        LogReplayed(_logger, replayed);
        return true;
    }

    private async Task ReplayOneByOneAsync(IReadOnlyList<CallCenterRecord> batch, CancellationToken cancellationToken)
    {
        foreach (var record in batch)
        {
            try
            {
                await _writer.WriteAsync([record], cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (!IsDatabaseUnreachable(ex, cancellationToken))
            {
                await _journal.AppendRejectedAsync(record, ex.MessageText, cancellationToken).ConfigureAwait(false);
                LogRecordRejected(_logger, _journal.RejectedPath, ex.MessageText);
            }
        }
    }

    /// <summary>True for failures that mean "the database cannot be reached now" (network, server down, timeouts), not bad data.</summary>
    public static bool IsDatabaseUnreachable(Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (cancellationToken.IsCancellationRequested)
        {
            return false;
        }

        return exception switch
        {
            PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("57P", StringComparison.Ordinal) || pg.SqlState.StartsWith("08", StringComparison.Ordinal),
            NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is SocketException or IOException or TimeoutException,
            SocketException or IOException or TimeoutException => true,
            _ => false,
        };
    }

    [LoggerMessage(EventId = 9111, Level = LogLevel.Warning, Message = "PostgreSQL unreachable, {Count} call records journaled locally: {Reason}")]
    private static partial void LogSpooling(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 9112, Level = LogLevel.Warning, Message = "Journal replay stopped after {Count} records, PostgreSQL still unreachable: {Reason}")]
    private static partial void LogReplayFailed(ILogger logger, long count, string reason);

    [LoggerMessage(EventId = 9113, Level = LogLevel.Information, Message = "Journal replayed: {Count} call records stored in PostgreSQL")]
    private static partial void LogReplayed(ILogger logger, long count);

    [LoggerMessage(EventId = 9114, Level = LogLevel.Error, Message = "A batch holds an invalid record; storing its records one by one: {Reason}")]
    private static partial void LogInvalidBatch(ILogger logger, string reason);

    [LoggerMessage(EventId = 9116, Level = LogLevel.Error, Message = "Journal replay: PostgreSQL refused a batch of {Count} records ({Reason}); storing them one by one")]
    private static partial void LogReplayBatchRefused(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 9117, Level = LogLevel.Critical, Message = "Journal replay: a call record was refused for good and kept in {Path} for an operator: {Reason}")]
    private static partial void LogRecordRejected(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 9118, Level = LogLevel.Critical, Message = "Call records held in memory: PostgreSQL is unreachable and the journal is full; {Count} records wait, with every later record, and are retried every {Seconds} s. They are lost if the service stops before PostgreSQL returns: {Reason}")]
    private static partial void LogHoldingInMemory(ILogger logger, int count, double seconds, string reason);

    [LoggerMessage(EventId = 9119, Level = LogLevel.Warning, Message = "Call records held in memory while the journal was full are written again ({Count} in the first batch)")]
    private static partial void LogHeldRecordsWritten(ILogger logger, int count);

    [LoggerMessage(EventId = 9115, Level = LogLevel.Error, Message = "Call record refused: {Reason}")]
    private static partial void LogInvalidRecord(ILogger logger, string reason);
}
