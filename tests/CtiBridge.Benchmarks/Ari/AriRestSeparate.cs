using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Benchmarks.Ari;

/// <summary>
/// ARI REST round trips with the server in a process of its own (pinned to its own core by
/// scripts/bench-ari-rest.sh), so that what the client adds to each call can be told apart from
/// what the server takes. <c>ari-server</c> answers <c>GET /ari/channels/{n}</c> with the recorded
/// Asterisk response and notes, per request number, when its read of the request returned and
/// when its write of the response completed (monotonic clock, shared by processes on one
/// machine); <c>GET /__timings</c> hands those notes over. <c>ari-client --port P [--in-flight K]
/// [--calls N] [--connections C] [--raw 1] [--transport Sockets|HttpClient] [--pipeline D]</c> makes N calls (after warm-up rounds of 2 000 calls
/// that end once every connection the run can use is open), K at a time, and
/// prints per call p50/p99 of: the client's round trip, the server's own time, and their
/// difference (what the client, the kernel and the wait for the server's read added); plus the
/// client process's CPU per call, which no other process inflates.
/// </summary>
internal static class AriRestSeparate
{
    private const string ChannelPrefix = "/ari/channels/";

    // Connections the server has accepted: the client checks that all of its connections were
    // open before it started timing, and that none was opened while it timed.
    private static int s_accepted;

    public static async Task<int> RunServerAsync()
    {
        var response = await File.ReadAllBytesAsync(Path.Combine(AriRecordings.Directory, "rest", "31-channel-get.http"));
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1024);
        var timings = new List<(long Id, long Read, long Written)>(1 << 20);
        using var stop = new CancellationTokenSource();
        _ = AcceptAsync(listener, response, timings, stop.Token);
        Console.WriteLine(((IPEndPoint)listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture));
        Console.Out.Flush();
        await StandardInputClosed.WaitAsync();
        await stop.CancelAsync();
        listener.Stop();
        return 0;
    }

    private static async Task AcceptAsync(TcpListener listener, byte[] response, List<(long, long, long)> timings, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                var socket = await listener.AcceptSocketAsync(stop);
                Interlocked.Increment(ref s_accepted);
                socket.NoDelay = true;
                _ = ServeAsync(socket, response, timings, stop);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task ServeAsync(Socket socket, byte[] response, List<(long Id, long Read, long Written)> timings, CancellationToken stop)
    {
        var buffer = new byte[16 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(filled), stop);
                var read = Stopwatch.GetTimestamp();
                if (n == 0)
                {
                    return;
                }

                filled += n;
                int end;
                // GET requests have no body: every head is one request.
                while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) >= 0)
                {
                    var head = Encoding.ASCII.GetString(buffer, 0, end);
                    end += 4;
                    Buffer.BlockCopy(buffer, end, buffer, 0, filled - end);
                    filled -= end;
                    var path = head.Split(' ', 3)[1];
                    if (path.StartsWith(ChannelPrefix, StringComparison.Ordinal))
                    {
                        await socket.SendAsync(response, stop);
                        var written = Stopwatch.GetTimestamp();
                        var id = long.Parse(path.AsSpan(ChannelPrefix.Length), CultureInfo.InvariantCulture);
                        lock (timings)
                        {
                            timings.Add((id, read, written));
                        }
                    }
                    else
                    {
                        string body;
                        if (path == "/__connections")
                        {
                            body = Volatile.Read(ref s_accepted).ToString(CultureInfo.InvariantCulture);
                        }
                        else
                        {
                            lock (timings)
                            {
                                body = string.Join('\n', timings.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Id} {t.Read} {t.Written}")));
                                timings.Clear();
                            }
                        }

                        var bytes = Encoding.ASCII.GetBytes(body);
                        await socket.SendAsync(Encoding.ASCII.GetBytes(
                            $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {bytes.Length}\r\n\r\n"), stop);
                        await socket.SendAsync(bytes, stop);
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            socket.Dispose();
        }
    }

    public static async Task<int> RunClientAsync(string[] args)
    {
        int port = 0, inFlight = 200, calls = 20_000, connections = new AriClientOptions().MaxConnections, raw = 0, pipeline = 1;
        var transport = AriRestTransport.Sockets;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--transport")
            {
                if (!Enum.TryParse(args[i + 1], ignoreCase: true, out transport) || !Enum.IsDefined(transport))
                {
                    Console.Error.WriteLine($"ari-client: --transport must be Sockets or HttpClient (got '{args[i + 1]}')");
                    return 2;
                }

                continue;
            }

            var value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--port": port = value; break;
                case "--in-flight": inFlight = value; break;
                case "--calls": calls = value; break;
                case "--connections": connections = value; break;
                case "--raw": raw = value; break;
                case "--pipeline": pipeline = value; break;
                default:
                    Console.Error.WriteLine($"ari-client: unknown argument '{args[i]}' (expected --port, --in-flight, --calls, --connections, --raw 0|1, --transport Sockets|HttpClient, --pipeline 1-64)");
                    return 2;
            }
        }

        if (port is <= 0 or > 65535 || inFlight < 1 || calls < inFlight || connections < 1 || pipeline is < 1 or > 64 || args.Length % 2 != 0)
        {
            Console.Error.WriteLine("ari-client: needs --port 1-65535, --in-flight >= 1, --calls >= in-flight, --connections >= 1, --pipeline 1-64");
            return 2;
        }

        var baseAddress = new Uri($"http://127.0.0.1:{port}/ari");
        using var client = new AriClient(new AriClientOptions
        {
            BaseAddress = baseAddress,
            UserName = "ctibridge",
            Password = "ctibridge-secret",
            MaxConnections = connections,
            RestTransport = transport,
            MaxPipelineDepth = pipeline,
        });
        // The server is shared by the runs of the script: connections are counted from what it
        // had accepted before this client (this probe's own connection included).
        using var plain = new HttpClient();
        var connectionsUrl = new Uri($"http://127.0.0.1:{port}/__connections");
        var accepted = await ServerConnectionsAsync(plain, connectionsUrl);
        // --raw 1: the cheapest client there can be, as the floor for any client: one plain
        // socket per call in flight, a fixed GET written and the known-length answer read, no
        // HTTP parsing, headers or JSON. What it adds at 200 in flight is the queue of the
        // machine (kernel + server), which no client can avoid.
        // --raw 1 --pipeline D: the same floor for a pipelining client: the client's connection
        // count, requests written behind each other and queued writes as AriPipelinedTransport
        // does, answers read by their known length in order; still no HTTP parsing or JSON.
        RawHttpClient? rawClient = null;
        RawPipelinedClient? rawPipelined = null;
        if (raw == 1 && pipeline > 1)
        {
            rawPipelined = await RawPipelinedClient.OpenAsync(port, Math.Min(inFlight, connections));
        }
        else if (raw == 1)
        {
            connections = inFlight;
            rawClient = await RawHttpClient.OpenAsync(port, inFlight);
        }

        Func<int, long, Task> call = rawPipelined is not null ? rawPipelined.GetChannelAsync
            : rawClient is null
            ? (_, id) => client.Channels.GetAsync(id.ToString(CultureInfo.InvariantCulture))
            : rawClient.GetChannelAsync;

        // Warm-up: every connection the run will use is opened (and the code jitted) before the
        // clock starts. Opening 32 connections at once can lose a SYN to the listen queue, which
        // costs a one-second retransmit: inside the timed run that was the 0.92 s p99 of the
        // 03:33 run. Rounds of 2 000 calls until the server has accepted as many connections as
        // the run can use (bounded: 20 rounds), then a pause for a late connection to land.
        var wanted = Math.Min(inFlight, connections);
        const int WarmUp = 2_000;
        var warmUpCalls = 0;
        var warmClock = Stopwatch.StartNew();
        for (var round = 0; round < 20; round++)
        {
            await RunCallsAsync(call, warmUpCalls, WarmUp, inFlight, new long[WarmUp], new long[WarmUp]);
            warmUpCalls += WarmUp;
            if (await ServerConnectionsAsync(plain, connectionsUrl) - accepted >= wanted)
            {
                break;
            }
        }

        // Then until the code has been running for a while: the runtime compiles hot methods again,
        // optimised, only after they have run for some time (tiered compilation), and on a loaded
        // machine that background work lags; a short warm-up timed partly unoptimised code (about
        // 7 µs more CPU per call than with every method optimised from the start). A service runs
        // for hours, so the steady state is what counts. Bounded: 20 000 calls are enough when they
        // come fast, 30 s when they do not (one call at a time on a loaded machine).
        while (warmClock.Elapsed < TimeSpan.FromSeconds(3) || (warmUpCalls < 10 * WarmUp && warmClock.Elapsed < TimeSpan.FromSeconds(30)))
        {
            await RunCallsAsync(call, warmUpCalls, WarmUp, inFlight, new long[WarmUp], new long[WarmUp]);
            warmUpCalls += WarmUp;
        }

        await Task.Delay(200);
        var openBefore = await ServerConnectionsAsync(plain, connectionsUrl) - accepted;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// ARI separate, {inFlight} in flight: warm-up {warmUpCalls} calls in {warmClock.Elapsed.TotalSeconds:F1} s, {openBefore} connections open before timing (the run can use {wanted})"));
        var started = new long[calls];
        var ended = new long[calls];
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var userBefore = process.UserProcessorTime;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var collectionsBefore = GC.CollectionCount(0);
        var clock = Stopwatch.StartNew();
        await RunCallsAsync(call, warmUpCalls, calls, inFlight, started, ended);
        var wall = clock.Elapsed;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        // User CPU is the client's own code (HTTP, JSON, thread pool, GC); the rest is the kernel's
        // (loopback TCP, epoll, scheduling), which the raw-socket floor pays too.
        var user = process.UserProcessorTime - userBefore;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var collections = GC.CollectionCount(0) - collectionsBefore;
        var openedDuring = await ServerConnectionsAsync(plain, connectionsUrl) - accepted - openBefore;

        var lines = (await plain.GetStringAsync(new Uri($"http://127.0.0.1:{port}/__timings"))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var server = new Dictionary<long, (long Read, long Written)>();
        foreach (var line in lines)
        {
            var parts = line.Split(' ');
            server[long.Parse(parts[0], CultureInfo.InvariantCulture)] =
                (long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture));
        }

        var roundTrip = new List<double>(calls);
        var serverTime = new List<double>(calls);
        var added = new List<double>(calls);
        for (var i = 0; i < calls; i++)
        {
            if (!server.TryGetValue(warmUpCalls + i, out var s))
            {
                Console.Error.WriteLine($"ari-client: the server has no timing for call {warmUpCalls + i}");
                return 1;
            }

            var total = Stopwatch.GetElapsedTime(started[i], ended[i]).TotalMilliseconds;
            var own = Stopwatch.GetElapsedTime(s.Read, s.Written).TotalMilliseconds;
            roundTrip.Add(total);
            serverTime.Add(own);
            added.Add(total - own);
        }

        var prefix = string.Create(CultureInfo.InvariantCulture, $"// ARI separate{(raw == 1 ? $" RAW socket client{(pipeline > 1 ? ", pipelined" : "")}" : $" AriClient over {transport}{(pipeline > 1 ? $", pipelined up to {pipeline}" : "")}")}, {inFlight} in flight, {connections} connections, {calls} calls");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{prefix}: {calls / wall.TotalSeconds:F0} calls/s, client process CPU {cpu.TotalMicroseconds / calls:F1} µs per call (user {user.TotalMicroseconds / calls:F1}, kernel {(cpu - user).TotalMicroseconds / calls:F1}), " +
            $"{openedDuring} connections opened while timing, {(double)allocated / calls:F0} bytes allocated per call (the benchmark's own loop included), {collections} gen0 collections"));
        Report(prefix, "client round trip", roundTrip);
        Report(prefix, "server's own time (read returned → response written)", serverTime);
        Report(prefix, "added by client + kernel + wait for the server's read", added);
        return 0;
    }

    private static async Task<int> ServerConnectionsAsync(HttpClient plain, Uri url) =>
        int.Parse(await plain.GetStringAsync(url), CultureInfo.InvariantCulture);

    private static async Task RunCallsAsync(Func<int, long, Task> call, int firstId, int count, int inFlight, long[] started, long[] ended)
    {
        var next = -1;
        var workers = new Task[inFlight];
        for (var w = 0; w < inFlight; w++)
        {
            var worker = w;
            workers[w] = Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    started[i] = Stopwatch.GetTimestamp();
                    await call(worker, firstId + i);
                    ended[i] = Stopwatch.GetTimestamp();
                }
            });
        }

        await Task.WhenAll(workers);
    }

    private static void Report(string prefix, string what, List<double> samples)
    {
        var sorted = samples.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{prefix}, {what}: p50 {P(0.50):0.000} ms, p99 {P(0.99):0.000} ms, max {sorted[^1]:0.000} ms"));
    }

    /// <summary>
    /// The floor for a pipelining client: a few sockets shared by all workers (worker modulo the
    /// count), each call's GET appended to its socket's pending bytes and written by a queued
    /// thread-pool item (so requests that come together go out in one send, as in
    /// AriPipelinedTransport), and each socket's answers read in order by their known length.
    /// </summary>
    private sealed class RawPipelinedClient
    {
        private readonly Pipe[] _pipes;

        private RawPipelinedClient(Pipe[] pipes) => _pipes = pipes;

        public static async Task<RawPipelinedClient> OpenAsync(int port, int count)
        {
            var answer = await File.ReadAllBytesAsync(Path.Combine(AriRecordings.Directory, "rest", "31-channel-get.http"));
            var pipes = new Pipe[count];
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Loopback, port);
                pipes[i] = new Pipe(socket, answer.Length);
            }

            return new RawPipelinedClient(pipes);
        }

        public Task GetChannelAsync(int worker, long id) => _pipes[worker % _pipes.Length].SendAsync(id);

        private sealed class Pipe : IThreadPoolWorkItem
        {
            private readonly Socket _socket;
            private readonly int _answerLength;
            private readonly Lock _lock = new();
            private readonly Queue<TaskCompletionSource> _waiting = new();
            private byte[] _pending = new byte[4096];
            private byte[] _sending = new byte[4096];
            private int _pendingLength;
            private bool _flushQueued;
            private bool _writing;

            public Pipe(Socket socket, int answerLength)
            {
                _socket = socket;
                _answerLength = answerLength;
                _ = ReadAsync();
            }

            public Task SendAsync(long id)
            {
                var done = new TaskCompletionSource();
                var request = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"GET {ChannelPrefix}{id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                lock (_lock)
                {
                    if (_pending.Length < _pendingLength + request.Length)
                    {
                        Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + request.Length));
                    }

                    request.CopyTo(_pending, _pendingLength);
                    _pendingLength += request.Length;
                    _waiting.Enqueue(done);
                    if (!_flushQueued && !_writing)
                    {
                        _flushQueued = true;
                        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
                    }
                }

                return done.Task;
            }

            void IThreadPoolWorkItem.Execute() => _ = FlushAsync();

            private async Task FlushAsync()
            {
                while (true)
                {
                    int length;
                    lock (_lock)
                    {
                        _flushQueued = false;
                        if (_writing || _pendingLength == 0)
                        {
                            return;
                        }

                        _writing = true;
                        (_pending, _sending) = (_sending, _pending);
                        length = _pendingLength;
                        _pendingLength = 0;
                    }

                    await _socket.SendAsync(_sending.AsMemory(0, length));
                    lock (_lock)
                    {
                        _writing = false;
                        if (_pendingLength == 0)
                        {
                            return;
                        }
                    }
                }
            }

            private async Task ReadAsync()
            {
                var buffer = new byte[64 * 1024];
                var filled = 0;
                while (true)
                {
                    var n = await _socket.ReceiveAsync(buffer.AsMemory(filled));
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                    var start = 0;
                    while (filled - start >= _answerLength)
                    {
                        TaskCompletionSource done;
                        lock (_lock)
                        {
                            done = _waiting.Dequeue();
                        }

                        start += _answerLength;
                        done.SetResult();
                    }

                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                }
            }
        }
    }

    /// <summary>One socket per worker; a call writes a fixed GET and reads the recorded answer's length.</summary>
    private sealed class RawHttpClient
    {
        private readonly Socket[] _sockets;
        private readonly byte[][] _buffers;
        private readonly int _answerLength;

        private RawHttpClient(Socket[] sockets, int answerLength)
        {
            _sockets = sockets;
            _answerLength = answerLength;
            _buffers = [.. sockets.Select(_ => new byte[answerLength])];
        }

        public static async Task<RawHttpClient> OpenAsync(int port, int count)
        {
            var answer = await File.ReadAllBytesAsync(Path.Combine(AriRecordings.Directory, "rest", "31-channel-get.http"));
            var sockets = new Socket[count];
            for (var i = 0; i < count; i++)
            {
                // One at a time: no SYN lost to a burst of connects.
                sockets[i] = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await sockets[i].ConnectAsync(IPAddress.Loopback, port);
            }

            return new RawHttpClient(sockets, answer.Length);
        }

        public async Task GetChannelAsync(int worker, long id)
        {
            var socket = _sockets[worker];
            var request = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"GET {ChannelPrefix}{id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
            await socket.SendAsync(request);
            var buffer = _buffers[worker];
            for (var got = 0; got < _answerLength;)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(got));
                if (n == 0)
                {
                    throw new IOException("The ARI benchmark server closed a raw connection.");
                }

                got += n;
            }
        }
    }
}
