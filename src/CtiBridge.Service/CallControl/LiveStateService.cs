using CtiBridge.Data.LiveState;
using Npgsql;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Keeps <c>live_agents</c> and <c>live_calls</c> current from the call center's events, so a
/// restarted instance or a standby taking over can restore agents and adopt calls. Writes are
/// batched (whatever has accumulated goes in one transaction) and retried while the database is
/// down; on stop, every event already published is written first.
/// </summary>
internal sealed partial class LiveStateService(CallCenter center, LiveStateStore store, TimeProvider timeProvider, ILogger<LiveStateService> logger) : IHostedService, IDisposable
{
    private CallCenterSubscription? _subscription;
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _eventsDone = new();
    private Task _writing = Task.CompletedTask;
    private Task _writingIvr = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribed before call control starts (registered first), so no event is missed.
        _subscription = center.SubscribeEvents();
        var reader = _subscription.Reader;
        _writing = Task.Run(() => WriteAsync(reader, _abort.Token), CancellationToken.None);
        _writingIvr = Task.Run(() => WriteIvrAsync(center.IvrStates, _eventsDone.Token, _abort.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Writes where callers outside a queue (<c>live_ivr_calls</c>) and callback conversations (<c>live_callback_calls</c>) are, in order, batched like the events;
    /// at <paramref name="done"/> (call control has stopped) what is still queued is written, then it ends.
    /// </summary>
    private Task WriteIvrAsync(System.Threading.Channels.ChannelReader<LiveStateWrite> changes, CancellationToken done, CancellationToken abort) =>
        WriteBatchesAsync(changes, pending => [.. pending.SelectMany(c => c.Commands())], order: null, done, abort);

    /// <summary>Writes <c>live_agents</c> and <c>live_calls</c> from the call center's events until the subscription ends.</summary>
    private Task WriteAsync(System.Threading.Channels.ChannelReader<Core.Acd.AcdEvent> events, CancellationToken abort) =>
        WriteBatchesAsync(
            events,
            pending => [.. pending.SelectMany(e => LiveStateStore.ChangesOf(e, center.KeepsAbandonedCallers, center.CallerGoneAtAdoptionKeepsRow, center.AbandonedCallerRows.Forgotten))],
            center.AbandonedCallerRows,
            CancellationToken.None,
            abort);

    /// <summary>
    /// The write loop both tables' changes go through: whatever has accumulated (up to 2 000) in one
    /// transaction, kept in order and tried again each second while the database is down (the state must
    /// not skip a change). Ends when <paramref name="changes"/> completes, or at <paramref name="done"/>
    /// once what is queued is written; at <paramref name="abort"/> at once, saying how much was not stored. With
    /// <paramref name="order"/>, each batch is made and stored inside its gate (abandoned callers' rows).
    /// </summary>
    private async Task WriteBatchesAsync<T>(
        System.Threading.Channels.ChannelReader<T> changes, Func<List<T>, NpgsqlBatchCommand[]> commands, AbandonedCallerRows? order, CancellationToken done, CancellationToken abort)
    {
        var pending = new List<T>();
        var more = true;
        while (more || pending.Count > 0)
        {
            if (pending.Count == 0)
            {
                try
                {
                    more = await changes.WaitToReadAsync(done).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    more = false;
                }
            }

            while (pending.Count < 2000 && changes.TryRead(out var change))
            {
                pending.Add(change);
            }

            if (pending.Count == 0)
            {
                continue;
            }

            try
            {
                // Commands are made per attempt: a batch command cannot go into a second batch.
                using (order is null ? null : await order.EnterWriteAsync(abort).ConfigureAwait(false))
                {
                    await store.ApplyAsync(commands(pending), abort).ConfigureAwait(false);
                }

                pending = [];
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                LogNotWritten(logger, pending.Count);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                LogWriteFailed(logger, pending.Count, ex.Message);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), timeProvider, abort).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    LogNotWritten(logger, pending.Count);
                    return;
                }
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        using (cancellationToken.Register(_abort.Cancel))
        {
            await _writing.ConfigureAwait(false);

            // Call control stops before this service (registered after it): every IVR change is queued by now.
            await _eventsDone.CancelAsync().ConfigureAwait(false);
            await _writingIvr.ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _abort.Dispose();
        _eventsDone.Dispose();
    }

    [LoggerMessage(EventId = 874, Level = LogLevel.Warning, Message = "Live state: {Count} change(s) could not be stored ({Reason}); retrying")]
    private static partial void LogWriteFailed(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 875, Level = LogLevel.Warning, Message = "Live state: stopped with {Count} change(s) not stored; a restart restores the state before them")]
    private static partial void LogNotWritten(ILogger logger, int count);
}
