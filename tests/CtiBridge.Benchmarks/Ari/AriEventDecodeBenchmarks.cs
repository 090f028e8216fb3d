using System.Buffers;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Benchmarks.Ari;

/// <summary>
/// ARI events decoded per second from the four recorded WebSocket streams, in-process (no sockets):
/// RFC 6455 frame parsing plus typed JSON decoding, the reader's whole per-event work. Goal: 200 000 events/s.
/// Events/s = 1 / Mean (one operation = one event). On a shared, loaded machine wall time mostly measures
/// waiting for a core, so the cleanup also prints events per second of this process's CPU time.
/// </summary>
[MemoryDiagnoser]
public class AriEventDecodeBenchmarks
{
    private byte[][] _frames = [];
    private FrameCounter _sink = new();
    private TimeSpan _cpuAtStart;
    private long _eventsAtStart;

    /// <summary>Events in one operation (all four recordings, close frames excluded).</summary>
    public int EventsPerOperation { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _frames = [.. AriRecordings.Scenarios.Select(AriRecordings.FramesOnly)];
        _sink = new FrameCounter();
        var parser = new WebSocketFrameParser(1 << 20);
        foreach (var frames in _frames)
        {
            var buffer = new ReadOnlySequence<byte>(frames);
            parser.Process(ref buffer, _sink);
        }

        EventsPerOperation = _sink.Count;
        Console.WriteLine($"// ARI events per pass over the recordings: {EventsPerOperation}");
        _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        _eventsAtStart = _sink.Total;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
        var events = _sink.Total - _eventsAtStart;
        Console.WriteLine($"// ARI decode: {events} events in {cpu.TotalSeconds:0.00} s of process CPU = {events / cpu.TotalSeconds:0} events per CPU second (includes BenchmarkDotNet's own work)");
    }

    /// <summary>Frames and JSON of every recorded event, as the live reader does it.</summary>
    [Benchmark(OperationsPerInvoke = 258)]
    public int FramesAndTypedEvents()
    {
        _sink.Count = 0;
        var parser = new WebSocketFrameParser(1 << 20);
        foreach (var frames in _frames)
        {
            var buffer = new ReadOnlySequence<byte>(frames);
            parser.Process(ref buffer, _sink);
        }

        return _sink.Count;
    }

    private sealed class FrameCounter : IWebSocketFrameSink
    {
        public int Count;
        public long Total;

        public void OnText(ReadOnlySpan<byte> payload)
        {
            if (AriEventDecoder.Decode(payload) is not AriUndecodableMessage)
            {
                Count++;
                Total++;
            }
        }

        public void OnPing(ReadOnlySpan<byte> payload)
        {
        }

        public void OnPong()
        {
        }

        public void OnClose(int? statusCode, string reason)
        {
        }
    }
}

/// <summary>The recorded ARI WebSocket streams under ../shared/fixtures/asterisk/ari.</summary>
internal static class AriRecordings
{
    public static readonly string[] Scenarios = ["inbound-call", "dialer", "originate-into-app", "snoop"];

    public static string Directory
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "CtiBridge.sln")))
            {
                directory = directory.Parent;
            }

            var root = Environment.GetEnvironmentVariable("CTIBRIDGE_SHARED_DIR") is { Length: > 0 } shared
                ? shared
                : Path.Combine(directory?.FullName ?? "/work/main", "..", "shared");
            return Path.Combine(root, "fixtures", "asterisk", "ari");
        }
    }

    /// <summary>The frames after the 101 head, without the final close frame.</summary>
    public static byte[] FramesOnly(string scenario)
    {
        var bytes = File.ReadAllBytes(Path.Combine(Directory, scenario + ".ws.raw"));
        var start = bytes.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        var end = bytes.Length - 4; // Asterisk's close frame: 0x88 0x02 0x03 0xE8.
        return bytes[start..end];
    }
}
