using System.Threading.Channels;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Customers;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Live;

/// <summary>
/// Reads the call center's domain events once and fans them out, serialized once, to every live
/// subscriber: agent desktops and CRMs (<c>/api/events</c>), the wallboard, webhooks, metrics. It
/// also keeps what a screen pop needs (the caller's data per live call) and the list of live calls.
/// A subscriber that falls <see cref="SubscriberCapacity"/> events behind is cut off (it reconnects
/// and reads the current state) rather than slowing call handling or every other subscriber.
/// </summary>
public sealed partial class LiveEventHub : IHostedService, IDisposable
{
    /// <summary>Events a subscriber may fall behind before it is cut off.</summary>
    public const int SubscriberCapacity = 10_000;

    private readonly CallCenterSubscription _source;
    private readonly CallCenter _center;
    private TemplateSet _templates;
    private readonly Dictionary<string, LiveCall> _calls = new(StringComparer.Ordinal);
    private readonly Lock _callsGate = new();
    private readonly Lock _subscribersGate = new();
    private readonly ILogger<LiveEventHub> _logger;
    private LiveSubscription[] _subscribers = [];
    private Task _pump = Task.CompletedTask;
    private readonly CallerRegions? _regions;

    /// <summary>
    /// Subscribes to <paramref name="center"/> at once, so no event published after start-up is missed;
    /// <paramref name="regions"/> fills a template's <c>{callerRegion}</c> (empty without it).
    /// </summary>
    public LiveEventHub(CallCenter center, CallControlSettings settings, ILogger<LiveEventHub> logger, CallerRegions? regions = null)
    {
        ArgumentNullException.ThrowIfNull(center);
        ArgumentNullException.ThrowIfNull(settings);
        _source = center.SubscribeEvents();
        _center = center;
        _templates = new TemplateSet(settings, TemplatesOf(settings));
        _logger = logger;
        _regions = regions;
    }

    /// <summary>True when a queue's current screen-pop template asks for <c>{callerRegion}</c>.</summary>
    public bool NeedsCallerRegions => _center.Settings.Queues.Any(q => ScreenPopTemplate.From(q.ScreenPopUrl)?.UsesCallerRegion == true);

    /// <summary>The screen-pop templates of one version of the settings (replaced whole, so readers never see half of one).</summary>
    private sealed record TemplateSet(CallControlSettings Settings, Dictionary<string, ScreenPopTemplate?> ByQueue);

    private static Dictionary<string, ScreenPopTemplate?> TemplatesOf(CallControlSettings settings) =>
        settings.Queues.ToDictionary(q => q.Name, q => ScreenPopTemplate.From(q.ScreenPopUrl), StringComparer.Ordinal);

    /// <summary>Raised on the hub's reader for every domain event, before it is fanned out (metrics count here).</summary>
    public event Action<AcdEvent>? DomainEvent;

    /// <summary>Number of connected subscribers.</summary>
    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>Subscribers cut off so far for falling behind.</summary>
    public long SubscribersCutOff => Interlocked.Read(ref _cutOff);

    private long _cutOff;

    /// <summary>
    /// Starts receiving events that pass <paramref name="filter"/> (null for all). Dispose to stop;
    /// the reader completes with <see cref="LiveSubscriberTooSlowException"/> if the subscriber falls behind.
    /// </summary>
    public LiveSubscription Subscribe(Func<LiveEvent, bool>? filter = null, int capacity = SubscriberCapacity)
    {
        LiveSubscription? subscription = null;
        subscription = new LiveSubscription(filter, capacity, () => Remove(subscription!));
        lock (_subscribersGate)
        {
            _subscribers = [.. _subscribers, subscription];
        }

        return subscription;
    }

    /// <summary>The calls in the ACD now (waiting, ringing, connected), oldest first.</summary>
    public IReadOnlyList<LiveCall> LiveCalls()
    {
        lock (_callsGate)
        {
            return [.. _calls.Values.OrderBy(c => c.EnqueuedAt)];
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _pump = Task.Run(PumpAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _source.Dispose();
        await _pump.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes an event to the subscribers (the hub's own reader, and tests/benchmarks).</summary>
    public void Publish(LiveEvent liveEvent)
    {
        ArgumentNullException.ThrowIfNull(liveEvent);
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            if (!subscriber.Offer(liveEvent))
            {
                Interlocked.Increment(ref _cutOff);
                LogCutOff(_logger, subscriber.Capacity);
                Remove(subscriber);
            }
        }
    }

    private async Task PumpAsync()
    {
        try
        {
            await foreach (var acdEvent in _source.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    DomainEvent?.Invoke(acdEvent);
                    Track(acdEvent);
                    if (LiveEventFormat.From(acdEvent) is { } liveEvent)
                    {
                        Publish(liveEvent);
                    }

                    if (ScreenPopFor(acdEvent) is { } pop)
                    {
                        Publish(pop);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // One event that cannot be shown must not stop the stream for everybody.
                    LogEventFailed(_logger, acdEvent.GetType().Name, acdEvent.Sequence, ex);
                }
            }
        }
        finally
        {
            foreach (var subscriber in Volatile.Read(ref _subscribers))
            {
                subscriber.Complete();
            }
        }
    }

    private LiveEvent? ScreenPopFor(AcdEvent acdEvent)
    {
        var (phase, callId, agentId) = acdEvent switch
        {
            CallOffered x => ("ringing", x.CallId, x.AgentId),
            CallAnswered x => ("connected", x.CallId, x.AgentId),
            _ => (null, null, null),
        };
        if (phase is null)
        {
            return null;
        }

        LiveCall? call;
        lock (_callsGate)
        {
            _calls.TryGetValue(callId!, out call);
        }

        if (call is null)
        {
            return null;
        }

        var templates = _templates;
        if (!ReferenceEquals(templates.Settings, _center.Settings))
        {
            // Call control was reconfigured (docs/service.md, live reload): the queues' templates may have changed.
            var settings = _center.Settings;
            _templates = templates = new TemplateSet(settings, TemplatesOf(settings));
        }

        var template = templates.ByQueue.GetValueOrDefault(call.Queue);
        var region = template is { UsesCallerRegion: true } ? _regions?.RegionOf(call.Caller.CallerNumber) : null;
        var url = template?.Fill(call.CallId, call.Queue, agentId!, call.Caller, region);
        return LiveEventFormat.ScreenPop(acdEvent, phase, agentId!, call.CallId, call.Queue, url, call.Caller);
    }

    private void Track(AcdEvent acdEvent)
    {
        lock (_callsGate)
        {
            switch (acdEvent)
            {
                case CallEnqueued x:
                    _calls[x.CallId] = new LiveCall(x.CallId, x.Queue, LiveCallState.Waiting, null, x.At, null, x.Caller);
                    break;
                case CallOffered x when _calls.TryGetValue(x.CallId, out var call):
                    _calls[x.CallId] = call with { State = LiveCallState.Ringing, AgentId = x.AgentId };
                    break;
                case CallOfferEnded x when _calls.TryGetValue(x.CallId, out var call) && call.State == LiveCallState.Ringing && call.AgentId == x.AgentId:
                    _calls[x.CallId] = call with { State = LiveCallState.Waiting, AgentId = null };
                    break;
                case CallAnswered x when _calls.TryGetValue(x.CallId, out var call):
                    _calls[x.CallId] = call with { State = LiveCallState.Connected, AgentId = x.AgentId, AnsweredAt = x.At };
                    break;
                case CallCompleted x:
                    _calls.Remove(x.CallId);
                    break;
                case CallEnded x:
                    _calls.Remove(x.CallId);
                    break;
            }
        }
    }

    private void Remove(LiveSubscription subscription)
    {
        lock (_subscribersGate)
        {
            _subscribers = [.. _subscribers.Where(s => !ReferenceEquals(s, subscription))];
        }

        subscription.Complete();
    }

    /// <inheritdoc />
    public void Dispose() => _source.Dispose();

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "A live-event subscriber fell {Capacity} events behind and was cut off; it must reconnect")]
    private static partial void LogCutOff(ILogger logger, int capacity);

    [LoggerMessage(EventId = 901, Level = LogLevel.Error, Message = "Live events: {Event} #{Sequence} could not be published")]
    private static partial void LogEventFailed(ILogger logger, string @event, long sequence, Exception exception);
}

/// <summary>Where a live call is.</summary>
public enum LiveCallState
{
    /// <summary>Waiting in its queue.</summary>
    Waiting,

    /// <summary>An agent's phone rings with it.</summary>
    Ringing,

    /// <summary>Connected to an agent.</summary>
    Connected,
}

/// <summary>A call in the ACD now.</summary>
/// <param name="CallId">The call.</param>
/// <param name="Queue">Its queue (the current visit's).</param>
/// <param name="State">Waiting, ringing or connected.</param>
/// <param name="AgentId">The agent ringing or connected.</param>
/// <param name="EnqueuedAt">When it entered the queue.</param>
/// <param name="AnsweredAt">When an agent answered.</param>
/// <param name="Caller">What is known of the caller.</param>
public sealed record LiveCall(string CallId, string Queue, LiveCallState State, string? AgentId, DateTimeOffset EnqueuedAt, DateTimeOffset? AnsweredAt, CallerData Caller);

/// <summary>A subscriber fell too far behind the live events and was cut off.</summary>
public sealed class LiveSubscriberTooSlowException(string message) : Exception(message);

/// <summary>One subscriber's queue of live events.</summary>
public sealed class LiveSubscription : IDisposable
{
    private readonly Channel<LiveEvent> _channel;
    private readonly Func<LiveEvent, bool>? _filter;
    private readonly Action _unsubscribe;

    internal LiveSubscription(Func<LiveEvent, bool>? filter, int capacity, Action unsubscribe)
    {
        _channel = Channel.CreateBounded<LiveEvent>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        _filter = filter;
        _unsubscribe = unsubscribe;
        Capacity = capacity;
    }

    /// <summary>How far the subscriber may fall behind.</summary>
    public int Capacity { get; }

    /// <summary>The events, in order.</summary>
    public ChannelReader<LiveEvent> Reader => _channel.Reader;

    /// <summary>False when the subscriber is full (it is then cut off).</summary>
    internal bool Offer(LiveEvent liveEvent)
    {
        if (_filter is not null && !_filter(liveEvent))
        {
            return true;
        }

        if (_channel.Writer.TryWrite(liveEvent))
        {
            return true;
        }

        _channel.Writer.TryComplete(new LiveSubscriberTooSlowException($"fell {Capacity} events behind"));
        return false;
    }

    internal void Complete() => _channel.Writer.TryComplete();

    /// <inheritdoc />
    public void Dispose() => _unsubscribe();
}
