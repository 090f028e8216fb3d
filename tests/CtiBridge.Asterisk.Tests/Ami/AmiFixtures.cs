using System.Buffers;
using System.Text.Json;
using CtiBridge.Asterisk.Ami;
using CtiBridge.TestSupport;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>The recorded AMI sessions in ../shared/fixtures/asterisk/ami and what they should parse to.</summary>
internal static class AmiFixtures
{
    public static string Directory => Path.Combine(RepositoryPaths.AsteriskFixtures, "ami");

    public static IEnumerable<string> Names =>
        System.IO.Directory.GetFiles(Directory, "*.rx").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!;

    public static byte[] Rx(string name) => File.ReadAllBytes(Path.Combine(Directory, name + ".rx"));

    /// <summary>One record of a .jsonl timeline.</summary>
    public sealed record Record(double T, string Dir, string Data);

    public static IReadOnlyList<Record> Timeline(string name)
    {
        var records = new List<Record>();
        foreach (var line in File.ReadLines(Path.Combine(Directory, name + ".jsonl")))
        {
            if (line.Length == 0)
            {
                continue;
            }

            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            records.Add(new Record(root.GetProperty("t").GetDouble(), root.GetProperty("dir").GetString()!, root.GetProperty("data").GetString()!));
        }

        return records;
    }

    /// <summary>
    /// The frames a session should parse to, computed from the timeline's rx records with plain
    /// string splitting (an independent reference for the byte parser).
    /// </summary>
    public static IReadOnlyList<ExpectedFrame> ExpectedFrames(string name)
    {
        var frames = new List<ExpectedFrame>();
        foreach (var record in Timeline(name).Where(r => r.Dir == "rx"))
        {
            frames.Add(ExpectedFrame.FromWire(record.Data));
        }

        return frames;
    }

    public static List<AmiFrame> ParseAll(byte[] data, IReadOnlyList<int> cuts, AmiFrameParser? parser = null)
    {
        var frames = new List<AmiFrame>();
        ParseInto(data, cuts, parser ?? new AmiFrameParser(), frames);
        return frames;
    }

    /// <summary>Like <see cref="ParseAll"/>, but the frames read before a protocol error stay in <paramref name="frames"/>.</summary>
    public static void ParseInto(byte[] data, IReadOnlyList<int> cuts, AmiFrameParser parser, List<AmiFrame> frames)
    {
        var segments = ChunkedSequence.Build(data, cuts);
        object? startSegment = segments[0];
        var startIndex = 0;
        for (var k = 0; k < segments.Count; k++)
        {
            var buffer = new ReadOnlySequence<byte>((ChunkedSequence.Segment)startSegment!, startIndex, segments[k], segments[k].Memory.Length);
            while (parser.TryRead(ref buffer, out var frame))
            {
                frames.Add(frame);
            }

            var start = buffer.Start;
            startSegment = start.GetObject() ?? segments[k];
            startIndex = start.GetInteger();
        }
    }

    public static void AssertSame(IReadOnlyList<ExpectedFrame> expected, IReadOnlyList<AmiFrame> actual, string context)
    {
        Assert.True(expected.Count == actual.Count, $"{context}: expected {expected.Count} frames, parsed {actual.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            var e = expected[i];
            var a = actual[i];
            if (e.Banner is not null)
            {
                Assert.True(a.IsBanner, $"{context}: frame {i} should be the banner");
                Assert.Equal(e.Banner, a.Banner);
                continue;
            }

            Assert.False(a.IsBanner, $"{context}: frame {i} should be a message");
            var headers = a.Message!.ToList();
            Assert.True(e.Headers.Count == headers.Count, $"{context}: frame {i} has {headers.Count} headers, expected {e.Headers.Count}");
            for (var h = 0; h < headers.Count; h++)
            {
                Assert.Equal(e.Headers[h], headers[h]);
            }
        }
    }
}

internal sealed record ExpectedFrame(string? Banner, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public static ExpectedFrame FromWire(string data)
    {
        if (!data.EndsWith("\r\n\r\n", StringComparison.Ordinal) && !data.Contains(':', StringComparison.Ordinal))
        {
            return new ExpectedFrame(data.TrimEnd('\r', '\n'), []);
        }

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in data[..^4].Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var value = line[(colon + 1)..];
            headers.Add(new(line[..colon], value.StartsWith(' ') ? value[1..] : value));
        }

        return new ExpectedFrame(null, headers);
    }
}

/// <summary>Builds a multi-segment sequence cut at given offsets (SE.Redis FragmentedSegment style).</summary>
internal static class ChunkedSequence
{
    public sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    public static List<Segment> Build(byte[] data, IReadOnlyList<int> cuts)
    {
        var points = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().ToList();
        var segments = new List<Segment>();
        var from = 0;
        Segment? previous = null;
        foreach (var to in points.Append(data.Length))
        {
            // Each chunk gets its own array so a read past a segment end would be caught.
            var copy = data.AsSpan(from, to - from).ToArray();
            previous = new Segment(copy, previous);
            segments.Add(previous);
            from = to;
        }

        if (segments.Count == 0)
        {
            segments.Add(new Segment(Array.Empty<byte>(), null));
        }

        return segments;
    }
}
