using System.Buffers;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Live;

/// <summary>
/// The wallboard's data: one snapshot of every queue and agent (docs/metrics.md definitions),
/// rebuilt after each burst of domain events and shared by every connected wallboard. Events that
/// arrive while a snapshot is being built are folded into the next one, so a busy centre costs one
/// snapshot per burst, not one per event per screen.
/// </summary>
public sealed partial class WallboardFeed : IHostedService, IDisposable
{
    /// <summary>How often the snapshot is rebuilt without an event while campaigns run (their figures change without ACD events).</summary>
    internal static readonly TimeSpan CampaignRefresh = TimeSpan.FromSeconds(2);

    private readonly CallCenter _center;
    private readonly Dialer.OutboundDialer? _dialer;
    private readonly TimeProvider _time;
    private readonly ILogger<WallboardFeed> _logger;
    private readonly LiveSubscription _events;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Snapshot _current = new(0, "{}"u8.ToArray());
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;

    /// <summary>Creates the feed (it subscribes to the hub at once).</summary>
    public WallboardFeed(CallCenter center, LiveEventHub hub, TimeProvider timeProvider, ILogger<WallboardFeed> logger, Dialer.OutboundDialer? dialer = null,
        Data.Callbacks.CallbackStore? callbackStore = null, Npgsql.NpgsqlDataSource? dataSource = null)
    {
        _dialer = dialer;
        _outboundCalls = dataSource is null ? null : new Data.Records.AgentOutboundCalls(dataSource);
        _callbackStore = callbackStore;
        ArgumentNullException.ThrowIfNull(hub);
        _center = center;
        _time = timeProvider;
        _logger = logger;
        _events = hub.Subscribe();
    }

    /// <summary>The latest snapshot and its version (0 before the first).</summary>
    public Snapshot Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>The first snapshot newer than <paramref name="version"/>, waiting for it.</summary>
    public async Task<Snapshot> NextAsync(long version, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_current.Version > version)
                {
                    return _current;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _events.Dispose();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Call control refuses requests until it runs (a standby until it takes over).
            await _center.Started.WaitAsync(cancellationToken).ConfigureAwait(false);
            do
            {
                while (_events.Reader.TryRead(out _))
                {
                    // Drained: the snapshot below shows all of them.
                }

                try
                {
                    var json = await BuildAsync(cancellationToken).ConfigureAwait(false);
                    TaskCompletionSource changed;
                    lock (_gate)
                    {
                        _current = new Snapshot(_current.Version + 1, json);
                        changed = _changed;
                        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    }

                    changed.TrySetResult();
                }
                catch (InvalidOperationException ex)
                {
                    LogSnapshotFailed(_logger, ex.Message);
                }
            }
            while (await NextChangeAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (LiveSubscriberTooSlowException)
        {
            // Cannot happen while snapshots are built faster than the hub's capacity; logged if it does.
            LogSnapshotFailed(_logger, "the wallboard fell behind the live events");
        }
    }

    /// <summary>Waits for the next event; with campaigns running, at most <see cref="CampaignRefresh"/>.</summary>
    private async Task<bool> NextChangeAsync(CancellationToken cancellationToken)
    {
        if (_dialer is null && _callbackStore is null && _outboundCalls is null)
        {
            return await _events.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        }

        using var refresh = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        refresh.CancelAfter(_dialer is null ? CallbackRefresh : CampaignRefresh);
        try
        {
            return await _events.Reader.WaitToReadAsync(refresh.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true;
        }
    }

    private async Task<IReadOnlyList<Dialer.CampaignWallboard>> CampaignsAsync(CancellationToken cancellationToken)
    {
        if (_dialer is null)
        {
            return [];
        }

        try
        {
            return await _dialer.GetStatsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or System.Threading.Channels.ChannelClosedException)
        {
            return []; // the dialer has stopped
        }
    }

    private async Task<byte[]> BuildAsync(CancellationToken cancellationToken)
    {
        var queues = await _center.GetQueuesAsync(cancellationToken).ConfigureAwait(false);
        var agents = await _center.GetAgentsAsync(cancellationToken).ConfigureAwait(false);
        var servers = await _center.GetServersAsync(cancellationToken).ConfigureAwait(false);
        var campaigns = await CampaignsAsync(cancellationToken).ConfigureAwait(false);
        var callbacks = await CallbackCountsAsync(cancellationToken).ConfigureAwait(false);
        var outbound = await OutboundFiguresAsync(cancellationToken).ConfigureAwait(false);
        var names = _center.Settings.Agents.ToDictionary(a => a.Id, a => a.Name, StringComparer.Ordinal);
        var now = _time.GetUtcNow();
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("serverTime", now);
            w.WriteNumber("definitionsVersion", AcdStatistics.DefinitionsVersion);
            w.WriteStartObject("targets");
            // The database's metrics.service_level_target / metrics.aht_target_seconds, read when call control started.
            w.WriteNumber("serviceLevel", _center.Targets.ServiceLevel);
            w.WriteNumber("averageHandleTimeSeconds", _center.Targets.AverageHandleTime.TotalSeconds);
            w.WriteEndObject();
            w.WriteStartArray("queues");
            foreach (var (status, stats) in queues)
            {
                var members = agents.Where(a => a.Status.Queues.Any(q => q.Queue == status.Queue)).Select(a => a.Status.State).ToList();
                w.WriteStartObject();
                w.WriteString("queue", status.Queue);
                w.WriteNumber("waiting", status.Waiting);
                w.WriteNumber("callbacksWaiting", status.CallbacksWaiting);
                w.WriteNumber("longestCurrentWaitSeconds", Math.Round(status.LongestCurrentWait.TotalSeconds, 1));
                w.WriteNumber("offered", stats.Offered);
                w.WriteNumber("answered", stats.Answered);
                w.WriteNumber("abandoned", stats.Abandoned);
                w.WriteNumber("abandonedShort", stats.ShortAbandoned);
                w.WriteNumber("overflowed", stats.Overflowed);
                Nullable(w, "serviceLevel", stats.ServiceLevel);
                Nullable(w, "abandonRate", stats.AbandonRate);
                Nullable(w, "averageHandleTimeSeconds", stats.AverageHandleTime?.TotalSeconds);
                Nullable(w, "averageSpeedOfAnswerSeconds", stats.AverageSpeedOfAnswer?.TotalSeconds);
                w.WriteNumber("agentsLoggedIn", status.LoggedIn);
                w.WriteNumber("agentsReady", members.Count(s => s == AgentState.Ready));
                w.WriteNumber("agentsOnCall", members.Count(s => s is AgentState.OnCall or AgentState.Ringing));
                w.WriteNumber("agentsWrapUp", members.Count(s => s == AgentState.WrapUp));
                w.WriteNumber("agentsPaused", members.Count(s => s == AgentState.Paused));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteServers(w, servers);
            w.WriteStartArray("agents");
            foreach (var (status, stats) in agents)
            {
                w.WriteStartObject();
                w.WriteString("agentId", status.AgentId);
                if (names.GetValueOrDefault(status.AgentId) is { } name)
                {
                    w.WriteString("name", name);
                }

                w.WriteString("state", status.State.ToString());
                w.WriteString("since", status.Since);
                if (status.PauseReason is { } reason)
                {
                    w.WriteString("reason", reason);
                }

                if (status.CallId is { } callId)
                {
                    w.WriteString("callId", callId);
                }

                // Definitions version 3: inbound queue calls (ACD events) + campaign and callback calls (call records).
                var outboundCalls = outbound.GetValueOrDefault(status.AgentId)?.Calls ?? 0;
                w.WriteNumber("callsToday", stats.Calls + outboundCalls);
                w.WriteNumber("inboundCallsToday", stats.Calls);
                w.WriteNumber("outboundCallsToday", outboundCalls);
                w.WriteNumber("missedToday", stats.Missed);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("campaigns");
            foreach (var c in campaigns)
            {
                w.WriteStartObject();
                w.WriteString("campaignId", c.CampaignId);
                w.WriteString("mode", c.EffectiveMode.ToString());
                w.WriteNumber("dialLevel", Math.Round(c.DialLevel, 2));
                w.WriteNumber("abandonRate", Math.Round(c.AbandonRate, 4));
                w.WriteNumber("lines", c.Lines);
                w.WriteNumber("ringing", c.Ringing);
                w.WriteNumber("waitingForAgent", c.WaitingForAgent);
                w.WriteNumber("agentsLoggedIn", c.AgentsLoggedIn);
                w.WriteNumber("agentsIdle", c.AgentsIdle);
                w.WriteNumber("agentsBusy", c.AgentsBusy);
                w.WriteNumber("dials", c.Dials);
                w.WriteNumber("liveAnswers", c.LiveAnswers);
                w.WriteNumber("abandons", c.Abandons);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteCallbacks(w, callbacks, now);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Per Asterisk server (docs/sites.md): its callers waiting now and today's figures of its calls, its agents by state.</summary>
    private static void WriteServers(Utf8JsonWriter w, IReadOnlyList<ServerStatus> servers)
    {
        w.WriteStartArray("servers");
        foreach (var server in servers)
        {
            var stats = server.Statistics;
            w.WriteStartObject();
            w.WriteString("server", server.Server);
            w.WriteNumber("waiting", server.Waiting);
            w.WriteNumber("longestCurrentWaitSeconds", Math.Round(server.LongestCurrentWait.TotalSeconds, 1));
            w.WriteNumber("offered", stats.Offered);
            w.WriteNumber("answered", stats.Answered);
            w.WriteNumber("abandoned", stats.Abandoned);
            Nullable(w, "serviceLevel", stats.ServiceLevel);
            Nullable(w, "averageHandleTimeSeconds", stats.AverageHandleTime?.TotalSeconds);
            w.WriteNumber("agentsLoggedIn", server.AgentsLoggedIn);
            w.WriteNumber("agentsReady", server.AgentsReady);
            w.WriteNumber("agentsOnCall", server.AgentsOnCall);
            w.WriteNumber("agentsWrapUp", server.AgentsWrapUp);
            w.WriteNumber("agentsPaused", server.AgentsPaused);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, Math.Round(v, 4));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _events.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 910, Level = LogLevel.Warning, Message = "Wallboard snapshot not built: {Reason}")]
    private static partial void LogSnapshotFailed(ILogger logger, string reason);

    /// <summary>One wallboard snapshot.</summary>
    /// <param name="Version">Increases by one per snapshot.</param>
    /// <param name="Json">The snapshot as JSON (UTF-8).</param>
    public sealed record Snapshot(long Version, byte[] Json);
}
