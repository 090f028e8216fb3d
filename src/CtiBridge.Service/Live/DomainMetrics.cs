using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Records;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using Prometheus;

namespace CtiBridge.Service.Live;

/// <summary>
/// The call-center metrics on <c>/metrics</c> (docs/service.md lists them): live queue and agent
/// gauges read from the call center when scraped, counters of offered/answered/abandoned visits fed
/// by the domain events, Asterisk connection states, record journal size, live subscribers and
/// webhook deliveries. Each host has its own registry, so two services in one process (tests) never
/// mix their numbers.
/// </summary>
public sealed class DomainMetrics
{
    private readonly Gauge _queueWaiting;
    private readonly Gauge _queueLongestWait;
    private readonly Gauge _queueServiceLevel;
    private readonly Gauge _agents;
    private readonly Counter _visits;
    private readonly Gauge _amiConnected;
    private readonly Gauge _ariEventsConnected;
    private readonly Gauge _journalBytes;
    private readonly Gauge _writerLag;
    private readonly Gauge _writerPending;
    private readonly Gauge _liveSubscribers;
    private readonly Counter _webhookDeliveries;
    private readonly Gauge _dialerLines;
    private readonly Gauge _dialerWaiting;
    private readonly Gauge _dialerAgents;
    private readonly Gauge _dialerAbandonRate;
    private readonly Gauge _dialerDialLevel;
    private readonly Counter _dialerAttempts;
    private readonly Gauge _serverWaiting;
    private readonly Gauge _serverLongestWait;
    private readonly Gauge _serverServiceLevel;
    private readonly Gauge _serverVisitsToday;
    private readonly Gauge _serverAgents;

    // Callback tasks are not inbound queue visits (docs/metrics.md §3a): left out of the visit counters.
    private readonly HashSet<string> _callbackTasks = new(StringComparer.Ordinal);

    /// <summary>Creates the metrics for one host.</summary>
    public DomainMetrics(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _queueWaiting = factory.CreateGauge("ctibridge_queue_waiting_calls", "Customers' calls waiting in the queue now (not counting calls ringing an agent, nor callback tasks).", "queue");
        _queueLongestWait = factory.CreateGauge("ctibridge_queue_longest_wait_seconds", "Longest current wait among the queue's calls (waiting or ringing).", "queue");
        _queueServiceLevel = factory.CreateGauge("ctibridge_queue_service_level_ratio", "Today's service level (docs/metrics.md §4); NaN while its denominator is zero.", "queue");
        _agents = factory.CreateGauge("ctibridge_agents", "Configured agents by current state.", "state");
        _visits = factory.CreateCounter("ctibridge_queue_visits_total", "Queue visits by event: offered (entered), answered, abandoned, overflowed, system_lost.", "queue", "event");
        _amiConnected = factory.CreateGauge("ctibridge_ami_connected", "1 while the server's AMI connection is logged in.", "server");
        _ariEventsConnected = factory.CreateGauge("ctibridge_ari_events_connected", "1 while the server's Stasis app events WebSocket is connected.", "server");
        _journalBytes = factory.CreateGauge("ctibridge_record_journal_bytes", "Size of the call-record journal (records waiting for PostgreSQL).");
        _writerLag = factory.CreateGauge("ctibridge_record_writer_lag_seconds", "Age of the oldest call record not yet in PostgreSQL (0 when the writer has caught up).");
        _writerPending = factory.CreateGauge("ctibridge_record_writer_pending_records", "Call records handed to the writer and not yet in PostgreSQL (in memory or in the journal).");
        _liveSubscribers = factory.CreateGauge("ctibridge_live_subscribers", "Connected live-event subscribers (event streams, wallboards, webhooks).");
        _webhookDeliveries = factory.CreateCounter("ctibridge_webhook_deliveries_total", "Webhook delivery attempts by webhook and outcome (delivered, retried, dead_lettered).", "webhook", "outcome");
        _dialerLines = factory.CreateGauge("ctibridge_dialer_lines", "Outbound lines the campaign uses now on this instance (ringing, waiting for an agent or connected).", "campaign");
        _dialerWaiting = factory.CreateGauge("ctibridge_dialer_waiting_for_agent", "Answered customers waiting (at most the connect deadline) for an agent.", "campaign");
        _dialerAgents = factory.CreateGauge("ctibridge_dialer_agents", "Agents in the campaign by state: idle (waiting for a call) or busy (talking or in wrap-up).", "campaign", "state");
        _dialerAbandonRate = factory.CreateGauge("ctibridge_dialer_abandon_ratio", "The campaign's abandon rate under its compliance policy (this instance's ledger).", "campaign");
        _dialerDialLevel = factory.CreateGauge("ctibridge_dialer_dial_level", "Lines ringing or waiting per idle agent.", "campaign");
        _dialerAttempts = factory.CreateCounter("ctibridge_dialer_attempts_total",
            "Outbound attempts since the campaign started on this instance, by outcome: dialed, live_answer, machine, abandoned.", "campaign", "outcome");
        _serverWaiting = factory.CreateGauge("ctibridge_server_waiting_calls", "Calls on the Asterisk server (the caller's server) waiting in any queue now.", "server");
        _serverLongestWait = factory.CreateGauge("ctibridge_server_longest_wait_seconds", "Longest current wait among the server's waiting calls.", "server");
        _serverServiceLevel = factory.CreateGauge("ctibridge_server_service_level_ratio", "Today's service level of the server's calls, every queue together (docs/metrics.md §4); NaN while its denominator is zero.", "server");
        _serverVisitsToday = factory.CreateGauge("ctibridge_server_queue_visits_today", "Today's queue visits of the server's calls by outcome: offered, answered, abandoned, overflowed, system_lost.", "server", "event");
        _serverAgents = factory.CreateGauge("ctibridge_server_agents", "Agents whose phone is on the server, by current state.", "server", "state");
        Registry.AddBeforeCollectCallback(cancel => RefreshAsync(services, cancel));
    }

    /// <summary>The host's registry (exported after the process and runtime metrics).</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Counts one domain event (called by the live-event hub's reader).</summary>
    public void Count(AcdEvent domainEvent)
    {
        switch (domainEvent)
        {
            case CallEnqueued x when CallbackTasks.IsCallbackTask(x.Caller):
                _callbackTasks.Add(x.CallId);
                break;
            case CallEnded x:
                _callbackTasks.Remove(x.CallId);
                break;
            case QueueVisitEnded x when _callbackTasks.Contains(x.CallId):
                break;
            case CallEnqueued x:
                _visits.WithLabels(x.Queue, "offered").Inc();
                break;
            case CallAnswered x:
                _visits.WithLabels(x.Queue, "answered").Inc();
                break;
            case CallAbandoned x:
                _visits.WithLabels(x.Queue, "abandoned").Inc();
                break;
            case CallOverflowed x:
                _visits.WithLabels(x.Queue, "overflowed").Inc();
                break;
            case CallSystemLost x:
                _visits.WithLabels(x.Queue, "system_lost").Inc();
                break;
        }
    }

    /// <summary>Sets one Asterisk server's gauges (each scrape).</summary>
    internal void SetServer(ServerStatus server)
    {
        var name = server.Server;
        var stats = server.Statistics;
        _serverWaiting.WithLabels(name).Set(server.Waiting);
        _serverLongestWait.WithLabels(name).Set(server.LongestCurrentWait.TotalSeconds);
        _serverServiceLevel.WithLabels(name).Set(stats.ServiceLevel ?? double.NaN);
        _serverVisitsToday.WithLabels(name, "offered").Set(stats.Offered);
        _serverVisitsToday.WithLabels(name, "answered").Set(stats.Answered);
        _serverVisitsToday.WithLabels(name, "abandoned").Set(stats.Abandoned);
        _serverVisitsToday.WithLabels(name, "overflowed").Set(stats.Overflowed);
        _serverVisitsToday.WithLabels(name, "system_lost").Set(stats.SystemLost);
        _serverAgents.WithLabels(name, "LoggedIn").Set(server.AgentsLoggedIn);
        _serverAgents.WithLabels(name, "Ready").Set(server.AgentsReady);
        _serverAgents.WithLabels(name, "OnCall").Set(server.AgentsOnCall);
        _serverAgents.WithLabels(name, "WrapUp").Set(server.AgentsWrapUp);
        _serverAgents.WithLabels(name, "Paused").Set(server.AgentsPaused);
    }

    /// <summary>Counts one webhook delivery attempt.</summary>
    public void CountDelivery(string webhook, string outcome) => _webhookDeliveries.WithLabels(webhook, outcome).Inc();

    private async Task RefreshDialerAsync(Dialer.OutboundDialer dialer, CancellationToken cancellationToken)
    {
        IReadOnlyList<Dialer.CampaignWallboard> campaigns;
        try
        {
            campaigns = await dialer.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException or System.Threading.Channels.ChannelClosedException)
        {
            return; // the dialer has stopped (shutting down): the last values stay
        }

        SetCampaigns(campaigns);
    }

    /// <summary>Sets the dialer gauges and counters from the campaigns' live figures (each scrape).</summary>
    internal void SetCampaigns(IReadOnlyList<Dialer.CampaignWallboard> campaigns)
    {
        foreach (var c in campaigns)
        {
            _dialerLines.WithLabels(c.CampaignId).Set(c.Lines);
            _dialerWaiting.WithLabels(c.CampaignId).Set(c.WaitingForAgent);
            _dialerAgents.WithLabels(c.CampaignId, "idle").Set(c.AgentsIdle);
            _dialerAgents.WithLabels(c.CampaignId, "busy").Set(c.AgentsBusy);
            _dialerAbandonRate.WithLabels(c.CampaignId).Set(c.AbandonRate);
            _dialerDialLevel.WithLabels(c.CampaignId).Set(c.DialLevel);

            // The dialer counts since the campaign started here; a restart of the campaign resets them (as Prometheus allows).
            SetCount(c.CampaignId, "dialed", c.Dials);
            SetCount(c.CampaignId, "live_answer", c.LiveAnswers);
            SetCount(c.CampaignId, "machine", c.MachineAnswers);
            SetCount(c.CampaignId, "abandoned", c.Abandons);
        }

        void SetCount(string campaign, string outcome, long value)
        {
            var counter = _dialerAttempts.WithLabels(campaign, outcome);
            if (value < counter.Value)
            {
                _dialerAttempts.RemoveLabelled(campaign, outcome);
                counter = _dialerAttempts.WithLabels(campaign, outcome);
            }

            counter.IncTo(value);
        }
    }

    private async Task RefreshAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        foreach (var server in services.GetRequiredService<IReadOnlyList<AsteriskServer>>())
        {
            _amiConnected.WithLabels(server.Name).Set(server.Ami.State.State == AmiConnectionState.Connected ? 1 : 0);
        }

        if (services.GetService<IReadOnlyList<StasisApp>>() is { } apps)
        {
            foreach (var app in apps)
            {
                _ariEventsConnected.WithLabels(app.Server).Set(app.EventsState == AriEventConnectionState.Connected ? 1 : 0);
            }
        }

        if (services.GetService<LiveEventHub>() is { } hub)
        {
            _liveSubscribers.Set(hub.SubscriberCount);
        }

        // Call control's journal and the dialer's (each writer spools to its own).
        string?[] journals = [
            services.GetService<CallControlSettings>() is { IsEnabled: true } settings ? Path.Combine(settings.RecordJournalDirectory, RecordJournal.FileName) : null,
            services.GetService<Dialer.OutboundDialer>()?.RecordJournalFile];
        if (journals.Any(j => j is not null))
        {
            _journalBytes.Set(journals.Sum(j => j is not null && new FileInfo(j) is { Exists: true } file ? file.Length : 0));
        }

        // Call control's writer and the dialer's each have their own lag: the metric shows both
        // writers' pending records together and the older of their oldest.
        RecordWriterLag?[] lags = [services.GetService<RecordWriterLag>(), services.GetService<Dialer.OutboundDialer>()?.RecordLag];
        if (lags.Any(l => l is not null))
        {
            var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
            _writerPending.Set(lags.Sum(l => l?.Pending ?? 0));
            _writerLag.Set(lags.Max(l => l?.Age(now) ?? TimeSpan.Zero).TotalSeconds);
        }

        if (services.GetService<Dialer.OutboundDialer>() is { } dialer)
        {
            await RefreshDialerAsync(dialer, cancellationToken).ConfigureAwait(false);
        }

        if (services.GetService<CallCenter>() is not { } center)
        {
            return;
        }

        try
        {
            foreach (var (status, statistics) in await center.GetQueuesAsync(cancellationToken).ConfigureAwait(false))
            {
                _queueWaiting.WithLabels(status.Queue).Set(status.Waiting);
                _queueLongestWait.WithLabels(status.Queue).Set(status.LongestCurrentWait.TotalSeconds);
                _queueServiceLevel.WithLabels(status.Queue).Set(statistics.ServiceLevel ?? double.NaN);
            }

            foreach (var server in await center.GetServersAsync(cancellationToken).ConfigureAwait(false))
            {
                SetServer(server);
            }

            var agents = await center.GetAgentsAsync(cancellationToken).ConfigureAwait(false);
            foreach (var state in Enum.GetValues<Core.Acd.AgentState>())
            {
                _agents.WithLabels(state.ToString()).Set(agents.Count(a => a.Status.State == state));
            }
        }
        catch (InvalidOperationException)
        {
            // Call control has stopped (shutting down): the last values stay.
        }
    }
}
