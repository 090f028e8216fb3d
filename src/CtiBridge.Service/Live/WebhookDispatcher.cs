using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CtiBridge.Data.Webhooks;

namespace CtiBridge.Service.Live;

/// <summary>
/// Posts live events to the configured webhooks. Each webhook has its own subscription and its own
/// worker, so a slow or failing receiver never holds up call handling or another webhook; events of
/// one webhook are delivered one at a time in the engine's order (so in order per call). A failed
/// attempt is retried after <see cref="WebhookSettings.RetryDelay"/>, doubling up to five minutes;
/// after <see cref="WebhookSettings.MaxAttempts"/> the event goes to the dead-letter table.
/// </summary>
public sealed partial class WebhookDispatcher : IHostedService, IDisposable
{
    /// <summary>Header carrying the Unix time (seconds) the signature was made at.</summary>
    public const string TimestampHeader = "X-CtiBridge-Timestamp";

    /// <summary>Header carrying <c>sha256=</c> and the hex HMAC-SHA256 of <c>timestamp + "." + body</c>.</summary>
    public const string SignatureHeader = "X-CtiBridge-Signature";

    /// <summary>Header carrying the delivery id (the same on every retry and replay: receivers de-duplicate on it).</summary>
    public const string DeliveryHeader = "X-CtiBridge-Delivery";

    /// <summary>Header carrying the event type.</summary>
    public const string EventHeader = "X-CtiBridge-Event";

    /// <summary>Header carrying the attempt number, from 1.</summary>
    public const string AttemptHeader = "X-CtiBridge-Attempt";

    private static readonly TimeSpan LongestRetryDelay = TimeSpan.FromMinutes(5);

    private readonly IReadOnlyList<WebhookSettings> _webhooks;
    private readonly LiveEventHub _hub;
    private readonly WebhookDeadLetters _deadLetters;
    private readonly DomainMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan };
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Worker> _workers = [];

    /// <summary>Creates the dispatcher; each webhook subscribes to the hub at once, so no event is missed.</summary>
    public WebhookDispatcher(IReadOnlyList<WebhookSettings> webhooks, LiveEventHub hub, WebhookDeadLetters deadLetters, DomainMetrics metrics, TimeProvider timeProvider, ILogger<WebhookDispatcher> logger)
    {
        _webhooks = webhooks;
        _hub = hub;
        _deadLetters = deadLetters;
        _metrics = metrics;
        _time = timeProvider;
        _logger = logger;
        foreach (var webhook in _webhooks)
        {
            var types = webhook.Events.Count == 0 ? null : webhook.Events.ToHashSet(StringComparer.Ordinal);
            var worker = new Worker(webhook, () => _hub.Subscribe(e => types is null || types.Contains(e.Type), capacity: 100_000));
            worker.Subscription = worker.Subscribe();
            _workers.Add(worker);
        }
    }

    /// <summary>The signature header value for <paramref name="body"/> signed at <paramref name="timestamp"/> (for receivers and tests).</summary>
    public static string Sign(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(timestamp);
        var signed = new byte[Encoding.UTF8.GetByteCount(timestamp) + 1 + body.Length];
        var at = Encoding.UTF8.GetBytes(timestamp, signed);
        signed[at] = (byte)'.';
        body.CopyTo(signed.AsSpan(at + 1));
        return "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var worker in _workers)
        {
            worker.Running = Task.Run(() => RunAsync(worker, _stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var worker in _workers)
        {
            worker.Subscription.Dispose();
            await worker.Running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends a dead letter once more (signed now, same delivery id). True when the receiver took it;
    /// otherwise the reason it did not.
    /// </summary>
    public async Task<(bool Delivered, string? Error)> ReplayAsync(WebhookDeadLetter letter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(letter);
        var webhook = _webhooks.FirstOrDefault(w => w.Name == letter.Webhook);
        if (webhook is null)
        {
            return (false, $"webhook '{letter.Webhook}' is no longer configured");
        }

        var error = await SendAsync(webhook, letter.DeliveryId, letter.EventType, Encoding.UTF8.GetBytes(letter.Payload), letter.Attempts + 1, cancellationToken).ConfigureAwait(false);
        _metrics.CountDelivery(webhook.Name, error is null ? "replayed" : "replay_failed");
        return (error is null, error);
    }

    private async Task RunAsync(Worker worker, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await foreach (var liveEvent in worker.Subscription.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
                {
                    await DeliverAsync(worker.Webhook, liveEvent, stopping).ConfigureAwait(false);
                }

                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (LiveSubscriberTooSlowException ex)
            {
                // The receiver was down so long that 100 000 events piled up: those are lost; carry on with new ones.
                LogFellBehind(_logger, worker.Webhook.Name, ex.Message);
                worker.Subscription = worker.Subscribe();
            }
        }
    }

    private async Task DeliverAsync(WebhookSettings webhook, LiveEvent liveEvent, CancellationToken stopping)
    {
        var deliveryId = Guid.CreateVersion7(_time.GetUtcNow());
        var firstAttemptAt = _time.GetUtcNow();
        var delay = webhook.RetryDelay;
        string? error = null;
        for (var attempt = 1; attempt <= webhook.MaxAttempts; attempt++)
        {
            error = await SendAsync(webhook, deliveryId, liveEvent.Type, liveEvent.Json, attempt, stopping).ConfigureAwait(false);
            if (error is null)
            {
                _metrics.CountDelivery(webhook.Name, "delivered");
                return;
            }

            if (attempt == webhook.MaxAttempts)
            {
                break;
            }

            _metrics.CountDelivery(webhook.Name, "retried");
            LogRetrying(_logger, webhook.Name, liveEvent.Type, attempt, error, delay.TotalSeconds);
            await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
            delay = delay * 2 > LongestRetryDelay ? LongestRetryDelay : delay * 2;
        }

        _metrics.CountDelivery(webhook.Name, "dead_lettered");
        LogDeadLettered(_logger, webhook.Name, liveEvent.Type, webhook.MaxAttempts, error!);
        var letter = new WebhookDeadLetter(0, webhook.Name, deliveryId, liveEvent.Type, liveEvent.CallId, liveEvent.AgentId, liveEvent.ToString(),
            webhook.MaxAttempts, error!, firstAttemptAt, _time.GetUtcNow(), null, null);
        try
        {
            await _deadLetters.AddAsync(letter, stopping).ConfigureAwait(false);
        }
        catch (Npgsql.NpgsqlException ex)
        {
            // Nowhere left to keep it: the log line is the last trace, with the payload (no secrets in events).
            LogDeadLetterLost(_logger, webhook.Name, liveEvent.Type, ex.Message, liveEvent.ToString());
        }
    }

    /// <summary>One signed POST; null when the receiver answered 2xx, otherwise why not.</summary>
    private async Task<string?> SendAsync(WebhookSettings webhook, Guid deliveryId, string eventType, ReadOnlyMemory<byte> body, int attempt, CancellationToken cancellationToken)
    {
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(TimestampHeader, timestamp);
        request.Headers.Add(SignatureHeader, Sign(webhook.Secret, timestamp, body.Span));
        request.Headers.Add(DeliveryHeader, deliveryId.ToString());
        request.Headers.Add(EventHeader, eventType);
        request.Headers.Add(AttemptHeader, attempt.ToString(CultureInfo.InvariantCulture));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(webhook.Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {webhook.Timeout.TotalSeconds} s";
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _http.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 920, Level = LogLevel.Warning, Message = "Webhook {Webhook}: {Event} attempt {Attempt} failed ({Reason}); retrying in {Seconds} s")]
    private static partial void LogRetrying(ILogger logger, string webhook, string @event, int attempt, string reason, double seconds);

    [LoggerMessage(EventId = 921, Level = LogLevel.Error, Message = "Webhook {Webhook}: {Event} not delivered after {Attempts} attempts ({Reason}); kept in webhook_dead_letters for replay")]
    private static partial void LogDeadLettered(ILogger logger, string webhook, string @event, int attempts, string reason);

    [LoggerMessage(EventId = 922, Level = LogLevel.Critical, Message = "Webhook {Webhook}: {Event} could not be stored as a dead letter ({Reason}); payload {Payload}")]
    private static partial void LogDeadLetterLost(ILogger logger, string webhook, string @event, string reason, string payload);

    [LoggerMessage(EventId = 923, Level = LogLevel.Critical, Message = "Webhook {Webhook} fell too far behind the live events ({Reason}); the events not yet delivered are lost, delivery goes on with new events")]
    private static partial void LogFellBehind(ILogger logger, string webhook, string reason);

    private sealed class Worker(WebhookSettings webhook, Func<LiveSubscription> subscribe)
    {
        public WebhookSettings Webhook { get; } = webhook;

        public Func<LiveSubscription> Subscribe { get; } = subscribe;

        public LiveSubscription Subscription { get; set; } = null!;

        public Task Running { get; set; } = Task.CompletedTask;
    }
}
