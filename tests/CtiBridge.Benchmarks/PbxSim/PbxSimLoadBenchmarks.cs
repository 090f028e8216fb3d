using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CtiBridge.PbxSim;

namespace CtiBridge.Benchmarks.PbxSim;

/// <summary>
/// PbxSim under the load the issue asks it to carry: 1 000 registered phones, 50 new calls per second,
/// about 300 calls up at once, with one AMI client (events on) and one ARI WebSocket client reading
/// every event over loopback. Model time runs on a manual clock, 60 s of it per invocation (3 000
/// calls: half ring a phone and are bridged over AMI, half enter the Stasis app over ARI); the
/// invocation ends when both clients have read every event. Wall time below 60 s means PbxSim is
/// faster than real time at that load; the cleanup prints events/s and CPU use.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, invocationCount: 1)]
[MemoryDiagnoser]
public class PbxSimLoadBenchmarks
{
    private const int Phones = 1000;
    private const int CallsPerSecond = 50;
    private const int TalkSeconds = 6;
    private const int ModelSeconds = 60;
    private readonly List<string> _results = [];

    [Benchmark]
    public async Task FiftyCallsPerSecond_ThreeHundredConcurrent_AmiAndAriStreaming()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 22, 16, 0, 0, TimeSpan.Zero));
        var options = new PbxSimOptions
        {
            AmiPort = 0,
            AriPort = 0,
            Endpoints = [.. Enumerable.Range(0, Phones).Select(i => new EndpointOptions { Name = (1000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture) }),
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
        for (var i = 0; i < Phones; i++)
        {
            sim.Phone((1000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)).AnswersAfter(TimeSpan.FromSeconds(1));
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
            await Task.Yield();
        }

        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var trunk = sim.Trunk("carrier");
        var step = TimeSpan.FromMilliseconds(1000 / CallsPerSecond);
        var calls = ModelSeconds * CallsPerSecond;
        var peak = 0;
        for (var call = 0; call < calls; call++)
        {
            var number = (call % 2 == 0 ? 1000 : 2000) + (call / 2 % Phones);
            var channel = trunk.CallIn(number.ToString(System.Globalization.CultureInfo.InvariantCulture), "555" + call.ToString("D7", System.Globalization.CultureInfo.InvariantCulture), "Load Caller");
            sim.ScheduleAfter(TimeSpan.FromSeconds(TalkSeconds), () => trunk.HangUp(channel));
            clock.Advance(step);
            peak = Math.Max(peak, sim.CallCount);
        }

        for (var i = 0; i < (TalkSeconds + 5) * CallsPerSecond; i++)
        {
            clock.Advance(step);
        }

        var (amiPublished, ariPublished) = sim.EventCounts;
        while ((ami.Messages < amiPublished + 3 || ari.Messages < ariPublished) && !cts.IsCancellationRequested)
        {
            await Task.Delay(5, cts.Token);
        }

        wall.Stop();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var events = ami.Messages + ari.Messages;
        _results.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"// PbxSim load: {calls} calls, peak {peak} calls up, {ami.Messages} AMI + {ari.Messages} ARI events read in {wall.Elapsed.TotalSeconds:0.00} s wall = {events / wall.Elapsed.TotalSeconds:0} events/s; CPU {cpu.TotalSeconds:0.00} s = {100 * cpu.TotalSeconds / wall.Elapsed.TotalSeconds:0}% of one core; {ModelSeconds / wall.Elapsed.TotalSeconds:0.0}x real time"));
        await cts.CancelAsync();
        amiClient.Close();
        ariClient.Close();
        await Task.WhenAll(amiReader, ariReader).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    [GlobalCleanup]
    public void Report()
    {
        foreach (var line in _results)
        {
            Console.WriteLine(line);
        }
    }

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
