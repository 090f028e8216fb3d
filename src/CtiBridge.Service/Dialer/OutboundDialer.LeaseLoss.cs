namespace CtiBridge.Service.Dialer;

/// <summary>
/// The loss of this instance's own session lease while it keeps running (PostgreSQL restarted, its lock
/// connection cut or terminated; issue 14, docs/high-availability.md). A survivor may take the free lock for a
/// death and adopt this instance's calls, so the moment the hold's check fails this instance stops dialling and
/// stops acting on its calls: its in-memory lines, agents and campaigns are dropped without hanging anything up
/// (they may be a survivor's now), events are ignored, and it takes its lock again. Then it looks at its rows in
/// the database: adopted meanwhile (not its own any more), it starts clean; still its own, it resumes them from
/// the database and Asterisk's lists exactly as an adopter would.
/// </summary>
public sealed partial class OutboundDialer
{
    // Loop-only: the hold was lost and not yet taken back; no dialling, no event acted on.
    private bool _leaseLost;
    private CancellationTokenRegistration _leaseLostRegistration;
    private int _leaseLosses;
    private Task _leaseTakeBack = Task.CompletedTask;

    /// <summary>How many times this instance lost its session lease while running (each one followed by a resume or a clean start).</summary>
    public int LeaseLosses => Volatile.Read(ref _leaseLosses);

    /// <summary>Watches the current hold: its loss is handled on the loop, before any further work.</summary>
    private void WatchLease() =>
        _leaseLostRegistration = _sessions.Lost.Register(() => Post(OnLeaseLostAsync));

    /// <summary>On the loop: stops acting on every call at once and starts taking the lease back.</summary>
    private Task OnLeaseLostAsync(DateTimeOffset now)
    {
        if (_leaseLost || _stopping.IsCancellationRequested)
        {
            return Task.CompletedTask;
        }

        _leaseLost = true;
        Interlocked.Increment(ref _leaseLosses);
        LogLeaseLost(_logger, InstanceId, _sessions.LostReason ?? "unknown", _lines.Count, _agents.Count);

        // Nothing hung up, nothing recorded: a survivor may be adopting these calls now, and if nobody does they are
        // read back from the database and Asterisk when the lease is ours again.
        _lines.Clear();
        _agentsByChannel.Clear();
        _agents.Clear();
        _onLines.Clear();
        _running.Clear();
        _pendingResyncs.Clear();
        _auditTokens.Clear();
        _leaseTakeBack = Task.Run(TakeLeaseBackAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Off the loop: takes the lock again (retrying while the database is away), then resumes or starts clean.</summary>
    private async Task TakeLeaseBackAsync()
    {
        var ct = _stopping.Token;
        var delay = TimeSpan.FromSeconds(1);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var own = await _sessions.ResumeAsync(ct).ConfigureAwait(false);
                WatchLease();
                LogLeaseTakenBack(_logger, InstanceId, own.AgentLines.Count, own.Attempts.Count);
                if (own.AgentLines.Count > 0 || own.Attempts.Count > 0)
                {
                    // Still ours: resumed like an adopter (same app, so no second events connection).
                    await TryPrepareAdoptionAsync(own).ConfigureAwait(false);
                }

                // Acting again only with the new hold still certain; lost again meanwhile, it is all done once more.
                Post(now =>
                {
                    _leaseLost = false;
                    return _sessions.Lost.IsCancellationRequested ? OnLeaseLostAsync(now) : Task.CompletedTask;
                });
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // Whatever failed (database away, Asterisk's lists unreadable), the instance must not stay stopped: tried again.
                LogLeaseNotTakenBack(_logger, InstanceId, ex.Message, delay.TotalSeconds);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 5));
        }
    }

    /// <summary>At dispose (after the stop was signalled): no take-back runs beside the session's end.</summary>
    private async Task StopLeaseWatchAsync()
    {
        await _leaseLostRegistration.DisposeAsync().ConfigureAwait(false);
        await _leaseTakeBack.ConfigureAwait(false); // ends on the stop; its failures are logged inside
    }

    [LoggerMessage(EventId = 1069, Level = LogLevel.Error, Message = "Dialer instance {Instance} LOST its session lease ({Reason}): stopped dialling and acting on its {Calls} calls and {Agents} agent lines (dropped, not hung up: a survivor may adopt them); taking the lease back")]
    private static partial void LogLeaseLost(ILogger logger, string instance, string reason, int calls, int agents);

    [LoggerMessage(EventId = 1070, Level = LogLevel.Warning, Message = "Dialer instance {Instance} holds its session lease again: {Agents} agent lines and {Attempts} open attempts were still its own and are resumed (none: adopted by a survivor meanwhile, started clean)")]
    private static partial void LogLeaseTakenBack(ILogger logger, string instance, int agents, int attempts);

    [LoggerMessage(EventId = 1071, Level = LogLevel.Warning, Message = "Dialer instance {Instance} could not take its session lease back ({Reason}); trying again in {Seconds} s")]
    private static partial void LogLeaseNotTakenBack(ILogger logger, string instance, string reason, double seconds);
}
