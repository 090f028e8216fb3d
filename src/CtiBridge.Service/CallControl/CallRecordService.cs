using System.Threading.Channels;
using CtiBridge.Data.Records;
using Npgsql;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Writes the call center's domain events as call records: the <see cref="AcdRecordMapper"/> turns
/// them into calls, queue visits, queue events and agent-state intervals, and the
/// <see cref="CallRecordSink"/> stores them in PostgreSQL (or in the journal while it is down).
/// On stop, every event already published is mapped and written before the journal closes, and
/// the states agents are in are written as ending at the stop.
/// </summary>
internal sealed partial class CallRecordService(
    CallCenter center, NpgsqlDataSource dataSource, CallControlSettings settings, TimeProvider timeProvider, ILoggerFactory loggerFactory, RecordWriterLag lag) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<CallRecordService>();
    private readonly Channel<CallCenterRecord> _records = Channel.CreateUnbounded<CallCenterRecord>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _ownRecordsStop = new();
    private Task _ownRecords = Task.CompletedTask;
    private readonly CancellationTokenSource _abort = new();
    private CallCenterSubscription? _subscription;
    private RecordJournal? _journal;
    private CallRecordSink? _sink;
    private Task _mapping = Task.CompletedTask;
    private Task _writing = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribe before the call center starts (this service is registered first), so no event is missed.
        _subscription = center.SubscribeEvents();
        try
        {
            _journal = await RecordJournal.OpenAsync(settings.RecordJournalDirectory, settings.RecordJournalMaxMegabytes * 1024L * 1024L, _logger, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or RecordJournalCorruptException)
        {
            throw new InvalidOperationException($"callControl.recordJournalDirectory '{settings.RecordJournalDirectory}' cannot hold the call-record journal: {ex.Message}", ex);
        }

        _sink = new CallRecordSink(new CallRecordWriter(dataSource), _journal, loggerFactory.CreateLogger<CallRecordSink>(), lag: lag);

        // Record ids derive from the stream id and each event's sequence, which restarts with the engine.
        var streamId = $"{Environment.MachineName}-{timeProvider.GetUtcNow().UtcDateTime:yyyyMMddTHHmmss.fffffff}";
        _ownRecords = Task.Run(() => ForwardOwnRecordsAsync(center.Records, _ownRecordsStop.Token), CancellationToken.None);
        _mapping = Task.Run(() => MapAsync(new AcdRecordMapper(streamId), _subscription.Reader), CancellationToken.None);
        _writing = Task.Run(() => _sink.RunAsync(_records.Reader, batchSize: 500, retryInterval: TimeSpan.FromSeconds(5), timeProvider, _abort.Token), CancellationToken.None);
    }

    // Every record goes to the writer through here, so the lag metric sees when it arrived.
    private void Hand(CallCenterRecord record)
    {
        lag.Arrived(timeProvider.GetUtcNow());
        if (!_records.Writer.TryWrite(record))
        {
            lag.Done(1); // The writer has closed (stopping); the record is not waiting for it any more.
        }
    }

    /// <summary>IVR steps, voicemail recordings and IVR-only calls that call control writes itself.</summary>
    private async Task ForwardOwnRecordsAsync(ChannelReader<CallCenterRecord> records, CancellationToken stop)
    {
        try
        {
            await foreach (var record in records.ReadAllAsync(stop).ConfigureAwait(false))
            {
                Hand(record);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping: what is already there is taken below, before the writer closes.
            while (records.TryRead(out var record))
            {
                Hand(record);
            }
        }
    }

    private async Task MapAsync(AcdRecordMapper mapper, ChannelReader<Core.Acd.AcdEvent> events)
    {
        try
        {
            await foreach (var acdEvent in events.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    foreach (var record in mapper.Map(acdEvent))
                    {
                        Hand(record);
                    }
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                {
                    LogMappingFailed(_logger, acdEvent.GetType().Name, acdEvent.Sequence, ex);
                }
            }
        }
        finally
        {
            // Stopping: the states agents are in now end here in the records (a call still in
            // progress has its agent in_call up to the stop), so state time is not lost with the
            // engine; the intervals carry a flush revision like the end-of-day ones.
            foreach (var record in mapper.FlushOpenStates(timeProvider.GetUtcNow()))
            {
                Hand(record);
            }

            await _ownRecordsStop.CancelAsync().ConfigureAwait(false);
            await _ownRecords.ConfigureAwait(false);
            _records.Writer.TryComplete();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        await _mapping.ConfigureAwait(false);
        using (cancellationToken.Register(_abort.Cancel))
        {
            try
            {
                await _writing.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                LogStoppedBeforeWritten(_logger);
            }
            catch (Exception ex) when (ex is RecordJournalFullException or InvalidCallRecordException or NpgsqlException)
            {
                LogWriterFailed(_logger, ex);
            }
        }

        if (_journal is not null)
        {
            await _journal.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _sink?.Dispose();
        _abort.Dispose();
        _ownRecordsStop.Dispose();
    }

    [LoggerMessage(EventId = 840, Level = LogLevel.Error, Message = "Call records: {Event} #{Sequence} could not be mapped; skipped")]
    private static partial void LogMappingFailed(ILogger logger, string @event, long sequence, Exception exception);

    [LoggerMessage(EventId = 841, Level = LogLevel.Warning, Message = "Call records: the service stopped before every record was written; records not yet in the journal are lost")]
    private static partial void LogStoppedBeforeWritten(ILogger logger);

    [LoggerMessage(EventId = 842, Level = LogLevel.Error, Message = "Call records: the writer stopped")]
    private static partial void LogWriterFailed(ILogger logger, Exception exception);
}
