using System.Buffers;
using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Benchmarks.Ami;

/// <summary>
/// In-process parsing of the recorded event mix (no sockets, Garnet "embedded" style), against
/// two ceilings over the same bytes: a scan for CRLF CRLF only, and an allocation-free split of
/// every header line into key and value. Times are per event (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
public class AmiParseBenchmarks
{
    public const int Events = 10_000;

    private byte[] _data = [];
    private ReadOnlySequence<byte> _segmented;
    private long _messages;
    private TimeSpan _cpuAtStart;

    [GlobalSetup]
    public void Setup()
    {
        _data = AmiEventMix.Build(Events);
        _segmented = Segment(_data, 4096);
        _messages = 0;
        _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
    }

    /// <summary>
    /// Process CPU per event over the whole case (BenchmarkDotNet's pilot and overhead runs included,
    /// so a slight over-estimate): unlike wall time it does not grow while the process waits for a
    /// core on a loaded machine, so it is the figure to compare between runs there.
    /// </summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
        if (_messages > 0)
        {
            Console.WriteLine($"// AMI parse CPU: {cpu.TotalNanoseconds / _messages:F0} ns of process CPU per event over {_messages:N0} events");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public int ScanForMessageEnds()
    {
        ReadOnlySpan<byte> span = _data;
        var count = 0;
        int index;
        while ((index = span.IndexOf("\r\n\r\n"u8)) >= 0)
        {
            count++;
            span = span[(index + 4)..];
        }

        _messages += count;
        return count;
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public int SplitHeadersWithoutAllocating()
    {
        ReadOnlySpan<byte> span = _data;
        var messages = 0;
        var checksum = 0;
        int newline;
        while ((newline = span.IndexOf((byte)'\n')) >= 0)
        {
            var line = span[..newline];
            span = span[(newline + 1)..];
            if (line.Length <= 1)
            {
                messages++;
                continue;
            }

            var colon = line.IndexOf((byte)':');
            var key = line[..colon];
            var value = line[(colon + 2)..^1];
            checksum += key.Length + value.Length;
        }

        _messages += messages;
        return messages + (checksum & 1);
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public int ParseToAmiMessages()
    {
        var parser = new AmiFrameParser();
        var buffer = new ReadOnlySequence<byte>(_data);
        var count = 0;
        while (parser.TryRead(ref buffer, out var frame))
        {
            count += frame.Message!.Count > 0 ? 1 : 0;
        }

        _messages += count;
        return count;
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public int ParseToAmiMessagesIn4KiBSegments()
    {
        var parser = new AmiFrameParser();
        var buffer = _segmented;
        var count = 0;
        while (parser.TryRead(ref buffer, out var frame))
        {
            count += frame.Message!.Count > 0 ? 1 : 0;
        }

        _messages += count;
        return count;
    }

    private static ReadOnlySequence<byte> Segment(byte[] data, int size)
    {
        Chunk? first = null;
        Chunk? last = null;
        for (var offset = 0; offset < data.Length; offset += size)
        {
            var chunk = new Chunk(data.AsMemory(offset, Math.Min(size, data.Length - offset)), last);
            first ??= chunk;
            last = chunk;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory, Chunk? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
