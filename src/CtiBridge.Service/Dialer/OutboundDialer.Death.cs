using CtiBridge.Data.Dialer;
using CtiBridge.Data.Records;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>
/// The in-process stand-in for a kill -9 of a dialer instance (fault tests, issue 14): what a killed process leaves
/// behind, and none of what a clean stop does.
/// </summary>
public sealed partial class OutboundDialer
{
    /// <summary>
    /// Stops this instance as a kill -9 would, inside the caller's process: the loop, the timers and every connection stop
    /// (the events WebSockets close, so Asterisk sees its app go), nothing more is stored (no call record, no agent
    /// interval, no row cleared, records not yet written are lost) and the session lease is let go of without ending the
    /// session (<see cref="DialerSessions.LetGoAsync"/>): the lock is free and the app still named, which is
    /// what a living instance sees after a real kill, so it adopts this instance's calls. Calls up in Asterisk stay up.
    /// <see cref="DisposeAsync"/> is a clean stop instead: the app is cleared, and what it leaves is only swept.
    /// </summary>
    internal async Task DieAsync()
    {
        if (!_work.Writer.TryComplete())
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _recordsAbort.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _events.DisposeAsync().ConfigureAwait(false);
        await StopAdoptedEventsAsync().ConfigureAwait(false);
        await StopLeaseWatchAsync().ConfigureAwait(false);
        await _sessions.LetGoAsync().ConfigureAwait(false);

        // The record writer stops where it is (aborted above): what was not written dies with the "process".
        _records.Writer.TryComplete();
        try
        {
            await _recordWriting.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or NpgsqlException or RecordJournalFullException or InvalidCallRecordException)
        {
        }

        if (_journal is not null)
        {
            await _journal.DisposeAsync().ConfigureAwait(false);
        }

        _sink?.Dispose();
        foreach (var line in _lines.Values)
        {
            line.DeadlineTimer?.Dispose();
        }

        foreach (var agent in _agents.Values)
        {
            agent.WrapUpTimer?.Dispose();
            agent.PreviewTimer?.Dispose();
        }
    }
}
