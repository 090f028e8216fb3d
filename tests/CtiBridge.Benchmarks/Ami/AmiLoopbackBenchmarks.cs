using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Benchmarks.Ami;

/// <summary>
/// One million recorded events over loopback (ENGINEERING.md §6 setup), delivered to a consumer
/// that counts them: the AMI client against two bare-socket ceilings over the same bytes (a scan
/// for CRLF CRLF, and an allocation-free header split). One invocation = one million events.
/// CPU seconds and peak working set of the process (server included) are printed at the end.
/// </summary>
[MemoryDiagnoser]
public class AmiLoopbackBenchmarks
{
    public const int BlockEvents = 10_000;
    public const int Repeat = 100;
    public const int TotalEvents = BlockEvents * Repeat;

    private readonly Dictionary<string, (TimeSpan Cpu, int Runs)> _cpu = [];
    private readonly HashSet<string> _seen = [];
    private AmiLoopbackServer _server = null!;
    private AmiClient _client = null!;
    private AmiEventSubscription _events = null!;
    private TimeSpan _cpuAtStart;

    [GlobalSetup]
    public void Setup()
    {
        _server = new AmiLoopbackServer(AmiEventMix.Build(BlockEvents));
        _client = new AmiClient(new AmiClientOptions
        {
            Port = _server.Port,
            Username = "ctibridge",
            Secret = "ctibridge-secret",
            Authentication = AmiAuthentication.Plain,
            PingInterval = TimeSpan.Zero,
            ActionTimeout = TimeSpan.FromMinutes(1),
        });
        _events = _client.SubscribeEvents();
        _client.StartAsync().GetAwaiter().GetResult();
        while (_events.TryRead(out _))
        {
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _events.Dispose();
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        using var process = Process.GetCurrentProcess();
        foreach (var (name, (cpu, runs)) in _cpu)
        {
            Console.WriteLine($"// AMI loopback {name}: {cpu.TotalSeconds / runs:F2} CPU s per {TotalEvents:N0} events (process, server included), over {runs} runs (the first, jitting, run excluded)");
        }

        Console.WriteLine($"// AMI loopback peak working set: {process.PeakWorkingSet64 / (1024 * 1024)} MB");
    }

    [IterationSetup]
    public void StartCpu() => _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;

    [Benchmark(Baseline = true)]
    public async Task<long> RawSocketScanForMessageEnds()
    {
        var pipe = await ConnectRawAsync();
        long found = 0;
        // The banner has no blank line; the Stream response has one: events end the count.
        while (found < TotalEvents + 1)
        {
            var result = await pipe.ReadAsync();
            var reader = new SequenceReader<byte>(result.Buffer);
            while (reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8))
            {
                found++;
            }

            pipe.AdvanceTo(reader.Position, result.Buffer.End);
        }

        await pipe.CompleteAsync();
        Record(nameof(RawSocketScanForMessageEnds));
        return found;
    }

    [Benchmark]
    public async Task<long> RawSocketSplitHeaders()
    {
        var pipe = await ConnectRawAsync();
        long messages = 0;
        long checksum = 0;
        while (messages < TotalEvents + 1)
        {
            var result = await pipe.ReadAsync();
            var reader = new SequenceReader<byte>(result.Buffer);
            while (reader.TryReadTo(out ReadOnlySpan<byte> line, (byte)'\n'))
            {
                if (line.Length <= 1)
                {
                    messages++;
                    continue;
                }

                var colon = line.IndexOf((byte)':');
                if (colon > 0)
                {
                    checksum += line[..colon].Length + line[(colon + 1)..].Length;
                }
            }

            pipe.AdvanceTo(reader.Position, result.Buffer.End);
        }

        await pipe.CompleteAsync();
        Record(nameof(RawSocketSplitHeaders));
        return messages + (checksum & 1);
    }

    [Benchmark]
    public async Task<long> AmiClientToConsumer()
    {
        var response = await _client.SendAsync(new AmiAction("Stream").Add("Repeat", Repeat));
        long received = 0;
        while (received < TotalEvents && await _events.WaitToReadAsync())
        {
            while (_events.TryRead(out var item))
            {
                if (item.Event is not null)
                {
                    received++;
                }
                else
                {
                    throw new InvalidOperationException("Resync during the benchmark: events were lost to a reconnect.");
                }
            }
        }

        Record(nameof(AmiClientToConsumer));
        return received + (response.IsSuccess ? 0 : 1);
    }

    private void Record(string name)
    {
        // The first invocation of each method runs while the JIT is still compiling and tiering
        // up: its CPU is not the steady state, so it is left out (like the latency benchmarks do).
        if (_seen.Add(name))
        {
            return;
        }

        var cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
        _cpu[name] = _cpu.TryGetValue(name, out var sum) ? (sum.Cpu + cpu, sum.Runs + 1) : (cpu, 1);
    }

    private async Task<PipeReader> ConnectRawAsync()
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, _server.Port);
        var stream = new NetworkStream(socket, ownsSocket: true);
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"Action: Stream\r\nActionID: raw\r\nRepeat: {Repeat}\r\n\r\n"));
        return PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: false));
    }
}
