using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Live;
using Npgsql;
using Prometheus;

namespace CtiBridge.Service.Callbacks;

/// <summary>
/// Callback metrics on <c>/metrics</c> (docs/service.md, issue 12), in the host's registry beside the
/// call-center ones: open callbacks per queue and state, the overdue (escalated) ones and the longest
/// wait of a due callback for an agent — read from PostgreSQL when scraped, so every instance reports
/// the whole centre's promises — and this instance's transitions by new state (a counter).
/// </summary>
internal sealed class CallbackMetrics : ICallbackObserver
{
    private readonly CallbackStore _store;
    private readonly TimeProvider _clock;
    private readonly Gauge _open;
    private readonly Gauge _overdue;
    private readonly Gauge _oldestDue;
    private readonly Counter _transitions;
    private readonly HashSet<(string Queue, string State)> _reported = [];
    private readonly Lock _gate = new();

    public CallbackMetrics(DomainMetrics? metrics, CallbackStore store, TimeProvider clock)
    {
        _store = store;
        _clock = clock;
        var registry = metrics?.Registry ?? Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(registry);
        _open = factory.CreateGauge("ctibridge_callbacks_open", "Callbacks still owed, by queue and state (scheduled, due, dialing, retry); the whole centre (from PostgreSQL).", "queue", "state");
        _overdue = factory.CreateGauge("ctibridge_callbacks_overdue", "Open callbacks escalated as overdue (past their deadline or long after due), by queue.", "queue");
        _oldestDue = factory.CreateGauge("ctibridge_callbacks_oldest_due_seconds", "How long the longest-waiting due callback of the queue has waited for an agent (0 when none is due).", "queue");
        _transitions = factory.CreateCounter("ctibridge_callback_transitions_total", "Callback state changes made by this instance, by new state (connected, failed, expired, retry, ...).", "state");
        registry.AddBeforeCollectCallback(RefreshAsync);
    }

    public void Changed(Callback callback, string reason) => _transitions.WithLabels(CallbackStates.Name(callback.State)).Inc();

    public void Reminder(Callback callback)
    {
    }

    public void Escalated(Callback callback)
    {
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<OpenCallbackCount> counts;
        try
        {
            counts = await _store.OpenCountsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return; // the database is out of reach: the last values stay (the scrape still answers)
        }

        var now = _clock.GetUtcNow();
        lock (_gate)
        {
            // A queue/state pair that emptied since the last scrape reads 0, not its old value.
            var current = counts.Select(c => (c.Queue, CallbackStates.Name(c.State))).ToHashSet();
            foreach (var (queue, state) in _reported.Where(r => !current.Contains(r)))
            {
                _open.WithLabels(queue, state).Set(0);
            }

            foreach (var queue in _reported.Select(r => r.Queue).Distinct().Where(q => counts.All(c => c.Queue != q)))
            {
                _overdue.WithLabels(queue).Set(0);
                _oldestDue.WithLabels(queue).Set(0);
            }

            foreach (var byQueue in counts.GroupBy(c => c.Queue))
            {
                foreach (var c in byQueue)
                {
                    _open.WithLabels(c.Queue, CallbackStates.Name(c.State)).Set(c.Open);
                    _reported.Add((c.Queue, CallbackStates.Name(c.State)));
                }

                _overdue.WithLabels(byQueue.Key).Set(byQueue.Sum(c => c.Overdue));
                var oldest = byQueue.Select(c => c.OldestDue).Where(d => d is not null).Min();
                _oldestDue.WithLabels(byQueue.Key).Set(oldest is { } o && o < now ? (now - o).TotalSeconds : 0);
            }
        }
    }
}
