using System.Globalization;
using System.Net;
using System.Text;
using CtiBridge.Service.Live;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Many Server-Sent Events clients of <c>/api/events</c> over loopback, as a thousand desktops and
/// CRMs would hold them, each reading as fast as it can. A client keeps no list of what it received
/// (a thousand clients × thousands of events would not fit a test's memory): it keeps its first frame,
/// the count, an order-free checksum of every (sequence, type) and the order faults it saw, which
/// <see cref="EventStreamReference"/> then checks against what the service published. While
/// <see cref="Measuring"/> is on, every frame's delivery latency (arrival − the event's own
/// <c>at</c>, the call center's time when the event happened) goes into <see cref="Latency"/>.
/// </summary>
internal sealed class EventStreamClients : IAsyncDisposable
{
    /// <summary>Clients per API key: the rate limit is per key (600 requests a minute), and connecting is one request.</summary>
    private const int ClientsPerKey = 100;

    private readonly List<HttpClient> _http = [];
    private readonly List<Client> _clients = [];
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _measuring;

    /// <summary>Latency of every frame received while <see cref="Measuring"/>, in microseconds.</summary>
    public LatencyHistogram Latency { get; } = new();

    /// <summary>While true, clients record each frame's latency.</summary>
    public bool Measuring
    {
        get => _measuring;
        set => _measuring = value;
    }

    /// <summary>Frames received by all clients so far (every event counts once per client).</summary>
    public long Deliveries => _clients.Sum(c => Interlocked.Read(ref c.Count));

    /// <summary>The connected clients.</summary>
    public IReadOnlyList<Client> All => _clients;

    /// <summary>How many API keys <paramref name="clients"/> clients need (one per <see cref="ClientsPerKey"/>).</summary>
    public static int KeysFor(int clients) => (clients + ClientsPerKey - 1) / ClientsPerKey;

    /// <summary>
    /// Connects <paramref name="count"/> clients to <c>/api/events</c> at <paramref name="address"/>, spread over
    /// <paramref name="keys"/> (see <see cref="KeysFor"/>), 50 connecting at a time; returns when every one has its
    /// response headers, so each is subscribed to the service's live events.
    /// </summary>
    public static async Task<EventStreamClients> ConnectAsync(Uri address, IReadOnlyList<string> keys, int count, CancellationToken ct)
    {
        Assert.True(keys.Count >= KeysFor(count), $"{count} clients need {KeysFor(count)} keys, got {keys.Count}");
        var clients = new EventStreamClients();
        foreach (var key in keys)
        {
            var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                BaseAddress = address,
                Timeout = Timeout.InfiniteTimeSpan,
            };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            clients._http.Add(http);
        }

        using var gate = new SemaphoreSlim(50);
        var connecting = Enumerable.Range(0, count).Select(async n =>
        {
            await gate.WaitAsync(ct);
            try
            {
                return await clients.ConnectOneAsync(clients._http[n / ClientsPerKey], n, ct);
            }
            finally
            {
                gate.Release();
            }
        }).ToList();
        try
        {
            clients._clients.AddRange(await Task.WhenAll(connecting));
        }
        catch
        {
            await clients.DisposeAsync();
            throw;
        }

        return clients;
    }

    private async Task<Client> ConnectOneAsync(HttpClient http, int number, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var response = await http.GetAsync("/api/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            response.Dispose();
            Assert.Fail($"event stream client {number}: /api/events answered {(int)response.StatusCode}: {body}");
        }

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var client = new Client(number, response, this);
        client.Reading = Task.Run(() => client.ReadAsync(_stop.Token), CancellationToken.None);
        return client;
    }

    /// <summary>Closes every stream and waits for the readers to end.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var client in _clients)
        {
            client.Response.Dispose();
        }

        await Task.WhenAll(_clients.Select(c => c.Reading));
        foreach (var http in _http)
        {
            http.Dispose();
        }

        _stop.Dispose();
    }

    /// <summary>The mix of one frame into a client's checksum (summed, so a client's sum is over a set).</summary>
    public static ulong Mix(long sequence, uint type)
    {
        // splitmix64 of the pair: distinct frames give unrelated terms, so a missing, extra or altered
        // frame changes the sum (up to a 2^-64 coincidence).
        var z = unchecked(((ulong)sequence * 0x9E3779B97F4A7C15UL) ^ ((ulong)type << 17) ^ type);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>FNV-1a of an event type's UTF-8 name (the SSE <c>event:</c> line).</summary>
    public static uint TypeCode(ReadOnlySpan<byte> name)
    {
        var hash = 2166136261u;
        foreach (var b in name)
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }

        return hash;
    }

    /// <summary>One SSE client: what it received, in summary.</summary>
    internal sealed class Client(int number, HttpResponseMessage response, EventStreamClients owner)
    {
        private static readonly byte[] AtField = "\"at\":\""u8.ToArray();

        public long Count;
        private long _lastSequence = -1;
        private uint _lastType;

        public int Number { get; } = number;

        public HttpResponseMessage Response { get; } = response;

        public Task Reading { get; set; } = Task.CompletedTask;

        /// <summary>The first event frame received (sequence, type); null before any.</summary>
        public (long Sequence, uint Type)? First { get; private set; }

        /// <summary>Sum of <see cref="Mix"/> over every frame received.</summary>
        public ulong Checksum { get; private set; }

        /// <summary>Frames that came out of order (a lower sequence after a higher one) or twice in a row.</summary>
        public List<string> OrderFaults { get; } = [];

        /// <summary>Why the stream ended or broke, if it did (an overflow notice, the end of the response, an error).</summary>
        public string? Ended { get; private set; }

        public async Task ReadAsync(CancellationToken ct)
        {
            var buffer = new byte[16 * 1024];
            var filled = 0;
            try
            {
                await using var stream = await Response.Content.ReadAsStreamAsync(ct);
                while (true)
                {
                    if (filled == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    var read = await stream.ReadAsync(buffer.AsMemory(filled), ct);
                    if (read == 0)
                    {
                        Ended ??= "the service ended the stream";
                        return;
                    }

                    // Everything in this read arrived by now: one clock reading serves its frames.
                    var now = TimeProvider.System.GetUtcNow();
                    filled += read;
                    var consumed = Frames(buffer.AsSpan(0, filled), now);
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or ObjectDisposedException)
            {
                if (!ct.IsCancellationRequested)
                {
                    Ended ??= $"{ex.GetType().Name}: {ex.Message}";
                }
            }
        }

        private int Frames(ReadOnlySpan<byte> data, DateTimeOffset now)
        {
            var consumed = 0;
            while (true)
            {
                var end = data[consumed..].IndexOf("\n\n"u8);
                if (end < 0)
                {
                    return consumed;
                }

                Frame(data.Slice(consumed, end), now);
                consumed += end + 2;
            }
        }

        private void Frame(ReadOnlySpan<byte> frame, DateTimeOffset now)
        {
            if (frame.IsEmpty || frame[0] == (byte)':')
            {
                return; // ": connected", ": heartbeat"
            }

            long? sequence = null;
            var type = ReadOnlySpan<byte>.Empty;
            var payload = ReadOnlySpan<byte>.Empty;
            foreach (var range in frame.Split((byte)'\n'))
            {
                var line = frame[range];
                if (line.StartsWith("id: "u8))
                {
                    sequence = long.Parse(line[4..], NumberStyles.None, CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("event: "u8))
                {
                    type = line[7..];
                }
                else if (line.StartsWith("data: "u8))
                {
                    payload = line[6..];
                }
            }

            if (sequence is not { } seq)
            {
                // The service cut this client off ("overflow") or sent something this client does not know.
                Ended ??= $"frame without an id: {Encoding.UTF8.GetString(frame)}";
                return;
            }

            var code = TypeCode(type);
            if (seq < _lastSequence || (seq == _lastSequence && code == _lastType))
            {
                if (OrderFaults.Count < 10)
                {
                    OrderFaults.Add($"#{seq} {Encoding.UTF8.GetString(type)} after #{_lastSequence}");
                }
            }

            _lastSequence = seq;
            _lastType = code;
            First ??= (seq, code);
            Checksum = unchecked(Checksum + Mix(seq, code));
            Interlocked.Increment(ref Count);
            if (owner.Measuring)
            {
                owner.Latency.Record(LatencyMicros(payload, now));
            }
        }

        private static long LatencyMicros(ReadOnlySpan<byte> payload, DateTimeOffset now)
        {
            var at = payload.IndexOf(AtField);
            Assert.True(at >= 0, $"an event without 'at': {Encoding.UTF8.GetString(payload)}");
            var value = payload[(at + AtField.Length)..];
            value = value[..value.IndexOf((byte)'"')];
            Span<char> text = stackalloc char[value.Length];
            Encoding.ASCII.GetChars(value, text);
            var happened = DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
            return (now - happened).Ticks / TimeSpan.TicksPerMicrosecond;
        }
    }
}

/// <summary>
/// What the service published, read by an in-process subscriber of its <see cref="LiveEventHub"/>
/// that subscribed before any client: the list every client's summary is checked against.
/// </summary>
internal sealed class EventStreamReference : IDisposable
{
    private readonly LiveSubscription _subscription;
    private readonly List<(long Sequence, uint Type)> _frames = [];
    private readonly Task _reading;

    public EventStreamReference(LiveEventHub hub)
    {
        _subscription = hub.Subscribe();
        _reading = Task.Run(async () =>
        {
            await foreach (var e in _subscription.Reader.ReadAllAsync())
            {
                var code = EventStreamClients.TypeCode(Encoding.UTF8.GetBytes(e.Type));
                lock (_frames)
                {
                    _frames.Add((e.Sequence, code));
                }
            }
        });
    }

    /// <summary>Events published since this reference subscribed.</summary>
    public int Count
    {
        get
        {
            lock (_frames)
            {
                return _frames.Count;
            }
        }
    }

    /// <summary>
    /// Why <paramref name="client"/> did not receive exactly the events published from its first frame
    /// on, or null when it did. <paramref name="publishedBeforeAllConnected"/>: events published before
    /// the last client connected; a client's first frame must be no later than the next one.
    /// </summary>
    public string? Fault(EventStreamClients.Client client, int publishedBeforeAllConnected)
    {
        if (client.Ended is { } ended)
        {
            return $"client {client.Number}: its stream ended: {ended}";
        }

        if (client.OrderFaults.Count > 0)
        {
            return $"client {client.Number}: frames out of order: {string.Join(", ", client.OrderFaults)}";
        }

        List<(long Sequence, uint Type)> frames;
        lock (_frames)
        {
            frames = [.. _frames];
        }

        if (client.First is not { } first)
        {
            return frames.Count > publishedBeforeAllConnected ? $"client {client.Number}: received nothing of {frames.Count - publishedBeforeAllConnected} events" : null;
        }

        var from = frames.IndexOf(first);
        if (from < 0)
        {
            return $"client {client.Number}: its first frame #{first.Sequence} was never published";
        }

        if (from > publishedBeforeAllConnected)
        {
            return $"client {client.Number}: missed {from - publishedBeforeAllConnected} events published after it had connected";
        }

        var count = Interlocked.Read(ref client.Count);
        if (count != frames.Count - from)
        {
            return $"client {client.Number}: received {count} events, {frames.Count - from} were published from its first one on";
        }

        var sum = 0UL;
        foreach (var (sequence, type) in frames.Skip(from))
        {
            sum = unchecked(sum + EventStreamClients.Mix(sequence, type));
        }

        return sum == client.Checksum ? null : $"client {client.Number}: received {count} events as published, but not the same ones (checksum differs)";
    }

    public void Dispose()
    {
        _subscription.Dispose();
        _reading.GetAwaiter().GetResult();
    }
}

/// <summary>Latencies in 10 µs buckets up to 5 s (beyond: counted, with the largest kept), safe to record from many threads.</summary>
internal sealed class LatencyHistogram
{
    private const int BucketMicros = 10;
    private const int Buckets = 500_000;
    private readonly long[] _counts = new long[Buckets];
    private long _beyond;
    private long _max;
    private long _early;

    /// <summary>Latencies recorded.</summary>
    public long Count => _counts.Sum() + Interlocked.Read(ref _beyond);

    /// <summary>Frames whose arrival read earlier than their event's time (recorded as 0; the call center's clock may run up to a few ms ahead of the wall clock).</summary>
    public long Early => Interlocked.Read(ref _early);

    /// <summary>The largest latency, in milliseconds.</summary>
    public double MaxMilliseconds => Interlocked.Read(ref _max) / 1000.0;

    public void Record(long micros)
    {
        if (micros < 0)
        {
            Interlocked.Increment(ref _early);
            micros = 0;
        }

        var bucket = micros / BucketMicros;
        if (bucket < Buckets)
        {
            Interlocked.Increment(ref _counts[bucket]);
        }
        else
        {
            Interlocked.Increment(ref _beyond);
        }

        var max = Interlocked.Read(ref _max);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref _max, micros, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>The <paramref name="quantile"/> latency in milliseconds (the bucket's upper edge; beyond 5 s: the largest).</summary>
    public double Milliseconds(double quantile)
    {
        var total = Count;
        if (total == 0)
        {
            return double.NaN;
        }

        var rank = (long)Math.Ceiling(quantile * total);
        var seen = 0L;
        for (var b = 0; b < Buckets; b++)
        {
            seen += _counts[b];
            if (seen >= rank)
            {
                return (b + 1) * BucketMicros / 1000.0;
            }
        }

        return MaxMilliseconds;
    }
}
