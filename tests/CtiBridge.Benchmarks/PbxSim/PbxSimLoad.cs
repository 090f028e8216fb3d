using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using CtiBridge.PbxSim;

namespace CtiBridge.Benchmarks.PbxSim;

/// <summary>What one PbxSim load run is made of (defaults: the issue's load, 60 s of model time).</summary>
public sealed record PbxSimLoadSettings
{
    /// <summary>Registered PJSIP desk phones.</summary>
    public int Phones { get; init; } = 1000;

    /// <summary>New inbound calls per second of model time.</summary>
    public int CallsPerSecond { get; init; } = 50;

    /// <summary>How long each customer stays on the line before hanging up.</summary>
    public int TalkSeconds { get; init; } = 6;

    /// <summary>Model seconds of arrivals.</summary>
    public int ModelSeconds { get; init; } = 60;

    /// <summary>
    /// Paces model time to the wall clock (the issue's "sustains ... 50 new calls/s" as it would
    /// run for real) instead of running it as fast as the machine allows.
    /// </summary>
    public bool RealTime { get; init; }
}

/// <summary>What one run measured.</summary>
public sealed record PbxSimLoadResult(
    int Calls,
    int PeakCustomers,
    int PeakChannels,
    long AmiEvents,
    long AriEvents,
    TimeSpan Wall,
    TimeSpan Cpu,
    long PeakManagedBytes,
    long AllocatedBytes,
    long PeakWorkingSetBytes,
    int ModelSeconds,
    bool RealTime = false,
    TimeSpan Lag = default,
    double ModelTotalSeconds = 0)
{
    /// <summary>One line for the console and docs/benchmarks.md.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"// PbxSim load{(RealTime ? " (real time)" : "")}: {Calls} calls = {Calls / Wall.TotalSeconds:0} calls/s wall ({ModelSeconds / Wall.TotalSeconds:0.0}x real time), peak {PeakCustomers} customer calls / {PeakChannels} channels up at once, "
        + $"{AmiEvents} AMI + {AriEvents} ARI events read in {Wall.TotalSeconds:0.00} s = {(AmiEvents + AriEvents) / Wall.TotalSeconds:0} events/s; "
        + $"{(RealTime ? string.Create(CultureInfo.InvariantCulture, $"clients behind the model clock at most {Lag.TotalMilliseconds:0} ms; ") : "")}"
        + $"CPU {Cpu.TotalSeconds:0.00} s = {100 * Cpu.TotalSeconds / Wall.TotalSeconds:0}% of one core while running, {100 * Cpu.TotalSeconds / ModelTotalSeconds:0.0}% of one core at real time "
        + $"({Cpu.TotalSeconds * 1000 / ModelTotalSeconds:0} ms CPU per model second, process incl. both clients); managed heap peak {PeakManagedBytes / 1048576.0:0.0} MB, "
        + $"allocated {AllocatedBytes / 1048576.0:0} MB, process peak working set {PeakWorkingSetBytes / 1048576.0:0} MB");
}

/// <summary>
/// PbxSim under the load the issue asks it to carry: registered phones, new calls per second, calls
/// up at once, with one AMI client (events on) and one ARI WebSocket client reading every event over
/// loopback. Model time runs on a manual clock (20 ms steps at 50 calls/s); half the calls ring a
/// phone that answers after 1 s and are bridged (AMI-heavy), half enter the Stasis app (ARI). A run
/// ends when both clients have read every event. Used by <see cref="PbxSimLoadBenchmarks"/> and, one
/// run per process, by <c>scripts/bench-pbxsim.sh</c> (<c>pbxsim-load</c>).
/// </summary>
public static class PbxSimLoad
{
    /// <summary>One run; throws if the clients do not read every event within three minutes.</summary>
    public static async Task<PbxSimLoadResult> RunAsync(PbxSimLoadSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 16, 0, 0, TimeSpan.Zero));
        var options = new PbxSimOptions
        {
            AmiPort = 0,
            AriPort = 0,
            Endpoints = [.. Enumerable.Range(0, settings.Phones).Select(i => new EndpointOptions { Name = PhoneName(i) }),
                new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }],
            Dialplan = new()
            {
                ["from-trunk"] = new()
                {
                    ["_1XXX"] = ["Answer()", "Dial(PJSIP/${EXTEN},20,tT)"],
                    ["_2XXX"] = ["Answer()", "Stasis(ctibridge,inbound,${EXTEN})"],
                },
            },
        };
        await using var sim = new PbxSimulator(options, clock);
        await sim.StartAsync();
        for (var i = 0; i < settings.Phones; i++)
        {
            sim.Phone(PhoneName(i)).AnswersAfter(TimeSpan.FromSeconds(1));
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ami = new StreamCounter();
        var ari = new StreamCounter();
        using var amiClient = new TcpClient();
        await amiClient.ConnectAsync(sim.AmiEndPoint, cts.Token);
        var amiStream = amiClient.GetStream();
        await amiStream.WriteAsync(Encoding.ASCII.GetBytes("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\n\r\n"), cts.Token);
        var amiReader = ami.CountAmiAsync(amiStream, cts.Token);
        using var ariClient = new TcpClient();
        await ariClient.ConnectAsync(sim.AriEndPoint, cts.Token);
        var ariStream = ariClient.GetStream();
        await ariStream.WriteAsync(Encoding.ASCII.GetBytes("GET /ari/events?app=ctibridge HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: 3nI9ihnPmcV3+xJiGxSJkg==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=\r\n\r\n"), cts.Token);
        var ariReader = ari.CountWebSocketAsync(ariStream, cts.Token);
        while (!sim.AriHasApplication("ctibridge"))
        {
            cts.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var trunk = sim.Trunk("carrier");
        var step = TimeSpan.FromMilliseconds(1000.0 / settings.CallsPerSecond);
        var calls = settings.ModelSeconds * settings.CallsPerSecond;
        var (customers, peakCustomers, peakChannels, peakManaged) = (0, 0, 0, 0L);
        var lag = TimeSpan.Zero;
        var modelElapsed = TimeSpan.Zero;
        async Task PaceAsync()
        {
            modelElapsed += step;
            if (!settings.RealTime)
            {
                return;
            }

            // Real time: the next step is due when the wall clock reaches it; how far the two
            // clients are behind what PbxSim published is noted once per model second.
            var wait = modelElapsed - wall.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cts.Token);
            }

            if (modelElapsed.Ticks % TimeSpan.TicksPerSecond < step.Ticks)
            {
                var (amiNow, ariNow) = sim.EventCounts;
                var probe = Stopwatch.StartNew();
                while ((ami.Messages < amiNow + 3 || ari.Messages < ariNow) && probe.Elapsed < TimeSpan.FromSeconds(1))
                {
                    await Task.Delay(1, cts.Token);
                }

                lag = probe.Elapsed > lag ? probe.Elapsed : lag;
            }
        }

        for (var call = 0; call < calls; call++)
        {
            var number = (call % 2 == 0 ? 1000 : 2000) + (call / 2 % settings.Phones);
            var channel = trunk.CallIn(number.ToString(CultureInfo.InvariantCulture), "555" + call.ToString("D7", CultureInfo.InvariantCulture), "Load Caller");
            customers++;
            sim.ScheduleAfter(TimeSpan.FromSeconds(settings.TalkSeconds), () =>
            {
                customers--;
                trunk.HangUp(channel);
            });
            peakCustomers = Math.Max(peakCustomers, customers);
            clock.Advance(step);
            await PaceAsync();
            peakChannels = Math.Max(peakChannels, sim.ChannelCount);
            if (call % settings.CallsPerSecond == 0)
            {
                peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(forceFullCollection: false));
            }
        }

        for (var i = 0; i < (settings.TalkSeconds + 5) * settings.CallsPerSecond; i++)
        {
            clock.Advance(step);
            await PaceAsync();
        }

        var (amiPublished, ariPublished) = sim.EventCounts;
        while (ami.Messages < amiPublished + 3 || ari.Messages < ariPublished)
        {
            await Task.Delay(5, cts.Token);
        }

        wall.Stop();
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime - cpuBefore;
        var result = new PbxSimLoadResult(calls, peakCustomers, peakChannels, ami.Messages, ari.Messages, wall.Elapsed, cpu,
            peakManaged, GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore, process.PeakWorkingSet64, settings.ModelSeconds, settings.RealTime, lag, modelElapsed.TotalSeconds);
        await cts.CancelAsync();
        amiClient.Close();
        ariClient.Close();
        await Task.WhenAll(amiReader, ariReader).ContinueWith(_ => { }, TaskScheduler.Default);
        if (sim.ChannelCount != 0)
        {
            throw new InvalidOperationException($"PbxSim load: {sim.ChannelCount} channel(s) still up after every caller hung up");
        }

        return result;
    }

    /// <summary>
    /// <c>pbxsim-load [--phones N] [--calls-per-second N] [--talk-seconds N] [--seconds N] [--real-time]</c>: one run,
    /// its result line on stdout (scripts/bench-pbxsim.sh runs each in a fresh process).
    /// </summary>
    public static async Task<int> RunConsoleAsync(string[] args)
    {
        var settings = new PbxSimLoadSettings();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--real-time")
            {
                settings = settings with { RealTime = true };
                continue;
            }

            int Value() => i + 1 < args.Length && int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0
                ? v
                : throw new ArgumentException($"pbxsim-load: {args[i - 1]} needs a positive whole number");
            try
            {
                settings = args[i] switch
                {
                    "--phones" => settings with { Phones = Value() },
                    "--calls-per-second" => settings with { CallsPerSecond = Value() },
                    "--talk-seconds" => settings with { TalkSeconds = Value() },
                    "--seconds" => settings with { ModelSeconds = Value() },
                    _ => throw new ArgumentException($"pbxsim-load: unknown argument '{args[i]}' (expected --phones N, --calls-per-second N, --talk-seconds N, --seconds N, --real-time)"),
                };
            }
            catch (ArgumentException ex)
            {
                Console.Error.WriteLine(ex.Message);
                return 2;
            }
        }

        if (settings.Phones > 1000)
        {
            Console.Error.WriteLine("pbxsim-load: --phones is at most 1000 (the dialplan numbers phones 1000-1999)");
            return 2;
        }

        Console.WriteLine((await RunAsync(settings)).ToString());
        return 0;
    }

    private static string PhoneName(int index) => (1000 + index).ToString(CultureInfo.InvariantCulture);

    /// <summary>Counts AMI messages (blank-line terminated) or WebSocket frames read from a stream.</summary>
    private sealed class StreamCounter
    {
        private long _messages;

        public long Messages => Interlocked.Read(ref _messages);

        public async Task CountAmiAsync(NetworkStream stream, CancellationToken ct)
        {
            var buffer = new byte[256 * 1024];
            var tail = 0;
            try
            {
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, ct);
                    if (read == 0)
                    {
                        return;
                    }

                    for (var i = 0; i < read; i++)
                    {
                        // Count "\r\n\r\n" across reads with a small state machine.
                        tail = buffer[i] == (tail % 2 == 0 ? (byte)'\r' : (byte)'\n') ? tail + 1 : buffer[i] == '\r' ? 1 : 0;
                        if (tail == 4)
                        {
                            Interlocked.Increment(ref _messages);
                            tail = 0;
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }

        public async Task CountWebSocketAsync(NetworkStream stream, CancellationToken ct)
        {
            var pending = new List<byte>();
            var buffer = new byte[256 * 1024];
            var headDone = false;
            try
            {
                while (true)
                {
                    var read = await stream.ReadAsync(buffer, ct);
                    if (read == 0)
                    {
                        return;
                    }

                    pending.AddRange(buffer.AsSpan(0, read).ToArray());
                    var offset = 0;
                    if (!headDone)
                    {
                        var text = Encoding.ASCII.GetString(pending.ToArray());
                        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                        if (end < 0)
                        {
                            continue;
                        }

                        headDone = true;
                        offset = end + 4;
                    }

                    while (pending.Count - offset >= 2)
                    {
                        var length = pending[offset + 1] & 0x7f;
                        var header = length == 126 ? 4 : length == 127 ? 10 : 2;
                        if (pending.Count - offset < header)
                        {
                            break;
                        }

                        var size = length == 126 ? (pending[offset + 2] << 8) | pending[offset + 3] : length;
                        if (pending.Count - offset < header + size)
                        {
                            break;
                        }

                        Interlocked.Increment(ref _messages);
                        offset += header + size;
                    }

                    pending.RemoveRange(0, offset);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>A clock advanced by hand; timers fire synchronously when their time is reached.</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private readonly List<ManualTimer> _timers = [];
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow()
        {
            lock (_timers)
            {
                return _now;
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = new ManualTimer(this, callback, state);
            timer.Change(dueTime, period);
            return timer;
        }

        public void Advance(TimeSpan by)
        {
            DateTimeOffset target;
            lock (_timers)
            {
                target = _now + by;
            }

            while (true)
            {
                ManualTimer? due;
                lock (_timers)
                {
                    due = _timers.Where(t => t.Due <= target).MinBy(t => t.Due);
                    if (due is null)
                    {
                        _now = target;
                        return;
                    }

                    _now = due.Due!.Value;
                    due.Due = null;
                    _timers.Remove(due);
                }

                due.Fire();
            }
        }

        private sealed class ManualTimer(ManualClock clock, TimerCallback callback, object? state) : ITimer
        {
            public DateTimeOffset? Due { get; set; }

            public void Fire() => callback(state);

            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                lock (clock._timers)
                {
                    clock._timers.Remove(this);
                    Due = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + dueTime;
                    if (Due is not null)
                    {
                        clock._timers.Add(this);
                    }
                }

                return true;
            }

            public void Dispose() => Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
