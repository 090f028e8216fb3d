using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// Typed client for the Asterisk REST Interface. One instance per Asterisk server, shared by all callers
/// (thread-safe). Credentials travel only in the Basic <c>Authorization</c> header. Every call is async,
/// takes a <see cref="CancellationToken"/>, is bounded by <see cref="AriClientOptions.RequestTimeout"/>, and
/// turns a non-2xx answer into an <see cref="AriRequestException"/>. Events come from <see cref="AriEventConnection"/>.
/// </summary>
public sealed class AriClient : IDisposable
{
    // Largest body read straight into a pooled buffer; a larger one (a recording's file) is
    // buffered by HttpContent as before.
    private const int PooledBodyLimit = 1024 * 1024;

    // Our own HTTP/1.1 transport (the default), or null when calls go through _http.
    private readonly IAriRestTransport? _transport;

    // An HttpClient given by the host, or (when the client owns it, RestTransport = HttpClient) a
    // bare HttpMessageInvoker over the handler: HttpClient.SendAsync would add a linked
    // CancellationTokenSource and its own bookkeeping to every call, on top of the timeout this
    // client applies itself. Null when the own transport is used.
    private readonly HttpMessageInvoker? _http;
    private readonly bool _ownsHttp;
    private readonly string _baseUrl;
    // Header values written as they are: typed header objects are formatted again on every request.
    private readonly string _authorization;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly bool _ownsMetrics;
    private readonly AriRequestTimeouts _timeouts;

    /// <summary>Creates the client.</summary>
    /// <param name="options">Connection settings; validated here.</param>
    /// <param name="httpClient">An HttpClient to send through (e.g. from IHttpClientFactory), or null for the client's own
    /// transport (<see cref="AriClientOptions.RestTransport"/>). Its BaseAddress and Timeout are not used: the client builds
    /// absolute URLs and applies its own timeout.</param>
    /// <param name="timeProvider">Clock for timeouts (tests pass a fake one); default system time.</param>
    /// <param name="loggerFactory">Logs (passwords are never logged); default none.</param>
    /// <param name="metrics">Instruments to record into; default a private <see cref="AriMetrics"/>.</param>
    /// <exception cref="ArgumentException">The options are invalid (the message lists every problem).</exception>
    public AriClient(AriClientOptions options, HttpClient? httpClient = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, AriMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        Options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _timeouts = new AriRequestTimeouts(options.RequestTimeout, _timeProvider);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("CtiBridge.Asterisk.Ari.AriClient");
        _ownsMetrics = metrics is null;
        Metrics = metrics ?? new AriMetrics();
        _ownsHttp = httpClient is null;
        _baseUrl = options.BaseAddress.GetLeftPart(UriPartial.Path).TrimEnd('/');
        _authorization = new AuthenticationHeaderValue("Basic", options.BasicCredentials()).ToString();
        if (httpClient is null && options.RestTransport == AriRestTransport.Sockets)
        {
            _transport = options.MaxPipelineDepth > 1
                ? new AriPipelinedTransport(options, _authorization, _timeProvider)
                : new AriHttpTransport(options, _authorization, _timeProvider);
        }
        else
        {
            _http = httpClient ?? new HttpMessageInvoker(
                new SocketsHttpHandler
                {
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                    ConnectTimeout = options.ConnectTimeout,
                    MaxConnectionsPerServer = options.MaxConnections,
                    AutomaticDecompression = System.Net.DecompressionMethods.None,
                    SslOptions = options.Tls is { } tls ? AriTls.ForHost(tls, options.BaseAddress.Host) : new(),
                    // Per-call work Asterisk has no use for (issue 5's profile): W3C trace-context
                    // headers on every request, cookie-jar lookups (ARI sets no cookies), a proxy
                    // lookup per request (Asterisk is reached directly; a proxy would not carry the
                    // events WebSocket either) and redirect handling (ARI does not redirect).
                    ActivityHeadersPropagator = null,
                    UseCookies = false,
                    UseProxy = false,
                    AllowAutoRedirect = false,
                },
                disposeHandler: true);
        }

        Applications = new AriApplications(this);
        Asterisk = new AriAsteriskSystem(this);
        Bridges = new AriBridges(this);
        Channels = new AriChannels(this);
        DeviceStates = new AriDeviceStates(this);
        Endpoints = new AriEndpoints(this);
        Events = new AriUserEvents(this);
        Mailboxes = new AriMailboxes(this);
        Playbacks = new AriPlaybacks(this);
        Recordings = new AriRecordings(this);
        Sounds = new AriSounds(this);
    }

    /// <summary>The options this client runs with.</summary>
    public AriClientOptions Options { get; }

    /// <summary>The instruments this client records into.</summary>
    public AriMetrics Metrics { get; }

    /// <summary>Stasis applications: get, subscribe to event sources, filter events.</summary>
    public AriApplications Applications { get; }

    /// <summary>Asterisk itself: info, ping, global variables, modules, logging, dynamic config.</summary>
    public AriAsteriskSystem Asterisk { get; }

    /// <summary>Bridges: create (mixing / holding), add and remove channels, play, record, music on hold, destroy.</summary>
    public AriBridges Bridges { get; }

    /// <summary>Channels: originate, create, dial, answer, ring, hang up, play, hold, mute, DTMF, variables, redirect, snoop, record.</summary>
    public AriChannels Channels { get; }

    /// <summary>Device states (custom presence of agents' devices).</summary>
    public AriDeviceStates DeviceStates { get; }

    /// <summary>Endpoints (phones and trunks) and out-of-call messages.</summary>
    public AriEndpoints Endpoints { get; }

    /// <summary>User events raised to applications, and channel claims.</summary>
    public AriUserEvents Events { get; }

    /// <summary>Mailboxes (message-waiting counts).</summary>
    public AriMailboxes Mailboxes { get; }

    /// <summary>Playbacks: get, stop, control (pause, restart, forward...).</summary>
    public AriPlaybacks Playbacks { get; }

    /// <summary>Recordings: stored (list, get, copy, delete, file) and live (stop, pause, mute, cancel).</summary>
    public AriRecordings Recordings { get; }

    /// <summary>Sounds installed on Asterisk.</summary>
    public AriSounds Sounds { get; }

    /// <summary>
    /// What an application owns right now: its channels and bridges, as a starting point after the events
    /// stream reports an <see cref="AriEventGap"/> (Asterisk does not replay missed events).
    /// </summary>
    /// <param name="application">The Stasis application; default the first of <see cref="AriClientOptions.Applications"/>.</param>
    /// <param name="cancellationToken">Cancels the calls.</param>
    /// <returns>The application with its channels and bridges.</returns>
    public async Task<AriApplicationSnapshot> GetApplicationSnapshotAsync(string? application = null, CancellationToken cancellationToken = default)
    {
        application ??= Options.Applications[0];
        // The application first: a channel that enters afterwards is then seen by the events stream.
        var app = await Applications.GetAsync(application, cancellationToken);
        var channelsTask = Channels.ListAsync(cancellationToken);
        var bridgesTask = Bridges.ListAsync(cancellationToken);
        var channels = await channelsTask;
        var bridges = await bridgesTask;
        var channelIds = app.ChannelIds.ToHashSet(StringComparer.Ordinal);
        var bridgeIds = app.BridgeIds.ToHashSet(StringComparer.Ordinal);
        return new AriApplicationSnapshot(
            app,
            [.. channels.Where(c => channelIds.Contains(c.Id))],
            [.. bridges.Where(b => bridgeIds.Contains(b.Id))],
            _timeProvider.GetUtcNow());
    }

    /// <summary>Disposes the HttpClient if this client created it.</summary>
    public void Dispose()
    {
        _transport?.Dispose();
        _timeouts.Dispose();
        if (_ownsHttp)
        {
            _http?.Dispose();
        }

        if (_ownsMetrics)
        {
            Metrics.Dispose();
        }
    }

    internal async Task SendAsync(AriRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendCoreAsync(request, cancellationToken);
    }

    internal async Task<T> SendAsync<T>(AriRequest request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        using var response = await SendCoreAsync(request, cancellationToken);
        var body = response.Body;
        if (body.IsEmpty)
        {
            throw new AriResponseFormatException($"ARI {request.Method} {request.Path} answered {response.StatusCode} without the {typeof(T).Name} body the API description promises.", request.Method, request.Path, "", null);
        }

        try
        {
            return JsonSerializer.Deserialize(body.Span, typeInfo)
                ?? throw new JsonException("The body is JSON null.");
        }
        catch (JsonException e)
        {
            var text = Encoding.UTF8.GetString(body.Span);
            throw new AriResponseFormatException($"ARI {request.Method} {request.Path} answered a body that is not a valid {typeof(T).Name}: {e.Message}", request.Method, request.Path, text, e);
        }
    }

    /// <summary>The same with a generated direct reader of the model (AriJsonReaders), which costs less than the metadata path.</summary>
    internal async Task<T> SendAsync<T>(AriRequest request, AriJsonRead<T> read, CancellationToken cancellationToken)
        where T : class
    {
        using var response = await SendCoreAsync(request, cancellationToken);
        var body = response.Body;
        if (body.IsEmpty)
        {
            throw new AriResponseFormatException($"ARI {request.Method} {request.Path} answered {response.StatusCode} without the {typeof(T).Name} body the API description promises.", request.Method, request.Path, "", null);
        }

        try
        {
            return AriJsonReaders.Parse(body.Span, read)
                ?? throw new JsonException("The body is JSON null.");
        }
        catch (JsonException e)
        {
            var text = Encoding.UTF8.GetString(body.Span);
            throw new AriResponseFormatException($"ARI {request.Method} {request.Path} answered a body that is not a valid {typeof(T).Name}: {e.Message}", request.Method, request.Path, text, e);
        }
    }

    internal async Task<byte[]> SendForBytesAsync(AriRequest request, CancellationToken cancellationToken)
    {
        using var response = await SendCoreAsync(request, cancellationToken);
        return response.Body.ToArray();
    }

    /// <summary>Sends a request as given (path, query and body untouched), e.g. one the API description does not cover.</summary>
    internal Task SendRawAsync(string method, string path, string? query, byte[]? body, CancellationToken cancellationToken)
    {
        var request = new AriRequest(method, path, path);
        request.SetRaw(query, body);
        return SendAsync(request, cancellationToken);
    }

    // Pooled (one per call in flight): SendAsync<T> and friends await it exactly once.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AriHttpResponse> SendCoreAsync(AriRequest request, CancellationToken cancellationToken)
    {
        var body = request.BuildBody();
        var timeout = _timeouts.Rent();
        // The caller's cancellation is passed on to the timeout's source (which is then not reused),
        // rather than a linked source per call; most callers pass a token that cannot be cancelled.
        var callerCancels = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout)
            : default;
        var token = timeout.Token;
        var started = Stopwatch.GetTimestamp();
        AriHttpResponse response;
        try
        {
            response = _transport is not null
                ? await _transport.SendAsync(request.Method, request.Path, request.QueryString, body, token)
                : await SendThroughHttpClientAsync(_http!, request, body, token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Metrics.RequestFailed(request.Method, request.Route, "timeout");
            AriLog.RequestTimedOut(_logger, request.Method, request.Path, Options.RequestTimeout.TotalMilliseconds);
            // Our timeout, or the Timeout of an HttpClient the host passed in: either way no answer in time.
            throw new AriTimeoutException(request.Method, request.Path, Options.RequestTimeout);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or SocketException or AuthenticationException)
        {
            // IOException: the connection broke, or the body read straight from it ended early.
            Metrics.RequestFailed(request.Method, request.Route, "transport");
            AriLog.RequestTransportFailed(_logger, request.Method, request.Path, e.Message);
            throw new AriConnectionException($"ARI {request.Method} {request.Path} could not reach Asterisk at {_baseUrl}: {e.Message}", request.Method, request.Path, e);
        }
        finally
        {
            // Disposing the registration waits for a cancellation running on another thread, so the
            // source is not reset under it.
            callerCancels.Dispose();
            _timeouts.Return(timeout);
        }

        var status = response.StatusCode;
        var elapsed = Stopwatch.GetElapsedTime(started);
        Metrics.RequestCompleted(request.Method, request.Route, status, elapsed.TotalSeconds);
        if (status is < 200 or > 299)
        {
            using (response)
            {
                var text = Encoding.UTF8.GetString(response.Body.Span);
                var asteriskMessage = AriErrorBody.ExtractMessage(text);
                AriLog.RequestFailed(_logger, request.Method, request.Path, status, asteriskMessage);
                throw new AriRequestException(request.Method, request.Path, status, response.ReasonPhrase, asteriskMessage, text);
            }
        }

        AriLog.RequestCompleted(_logger, request.Method, request.Path, status, elapsed.TotalMilliseconds);
        return response;
    }

    private async Task<AriHttpResponse> SendThroughHttpClientAsync(HttpMessageInvoker http, AriRequest request, byte[]? body, CancellationToken token)
    {
        var query = request.QueryString;
        var uri = new Uri(query is null ? _baseUrl + request.Path : string.Concat(_baseUrl, request.Path, "?", query), UriKind.Absolute);
        // Parse returns the shared instance for the standard methods (a new HttpMethod per call
        // would be compared and validated as a custom method).
        using var message = new HttpRequestMessage(HttpMethod.Parse(request.Method), uri);
        message.Headers.TryAddWithoutValidation("Authorization", _authorization);
        message.Headers.TryAddWithoutValidation("Accept", "application/json");
        if (body is not null)
        {
            message.Content = new ByteArrayContent(body);
            message.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        }

        // A host's HttpClient would buffer the whole body first by default; the answer is read below.
        using var response = await (http is HttpClient client
            ? client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token)
            : http.SendAsync(message, token));
        return await ReadBodyAsync(response, token);
    }

    /// <summary>
    /// The whole body: read straight from the connection into a pooled buffer when its length is
    /// known and small (every ARI answer but a recording's file), instead of HttpContent's
    /// buffering stream plus a copy to a new array.
    /// </summary>
    private static async ValueTask<AriHttpResponse> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var reason = status is >= 200 and <= 299 ? null : response.ReasonPhrase;
        if (response.Content.Headers.ContentLength is not { } length || length > PooledBodyLimit)
        {
            var whole = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            return new AriHttpResponse(status, reason, whole, whole.Length, pooled: false);
        }

        if (length == 0)
        {
            return new AriHttpResponse(status, reason, [], 0, pooled: false);
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            await using (stream)
            {
                await stream.ReadExactlyAsync(buffer.AsMemory(0, (int)length), cancellationToken);
            }

            return new AriHttpResponse(status, reason, buffer, (int)length, pooled: true);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
