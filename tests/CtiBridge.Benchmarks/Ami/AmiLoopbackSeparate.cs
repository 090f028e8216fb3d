using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Benchmarks.Ami;

/// <summary>
/// The million-event loopback run with the server in a process of its own, so that the client
/// process's CPU time and memory are the client's alone (the BenchmarkDotNet version shares one
/// process between server, harness and client). Two commands of the benchmark executable:
/// <c>ami-server</c> (prints its port, serves until stdin closes) and
/// <c>ami-client --port N [--runs 5] [--mode client|split|scan]</c>, which streams one million
/// recorded events per run and prints wall time, process CPU, events/s, allocated bytes and the
/// peak working set of the client process. <c>split</c> and <c>scan</c> are the ENGINEERING.md §6
/// ceilings over the same bytes in the same kind of process. scripts/bench-ami-loopback.sh runs
/// the three against one server pinned to its own core.
/// </summary>
internal static class AmiLoopbackSeparate
{
    public static async Task<int> RunServerAsync(string[] args)
    {
        await using var server = new AmiLoopbackServer(AmiEventMix.Build(AmiLoopbackBenchmarks.BlockEvents));
        Console.WriteLine(server.Port.ToString(CultureInfo.InvariantCulture));
        Console.Out.Flush();
        _ = args;
        // Serve until the caller closes our stdin (the script's coprocess), then exit cleanly.
        await StandardInputClosed.WaitAsync();
        return 0;
    }

    /// <summary>
    /// <c>ami-parse [--events N]</c>: the in-process parse loop without BenchmarkDotNet, for quick
    /// comparisons while changing the parser: thread CPU per event of the header-split ceiling and
    /// of AmiFrameParser over the recorded mix in 64 KiB buffers (what the socket reader sees).
    /// </summary>
    public static int RunParse(string[] args)
    {
        var events = args.Length == 2 && args[0] == "--events" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3_000_000;
        var block = AmiEventMix.Build(AmiLoopbackBenchmarks.BlockEvents);
        var parser = new AmiFrameParser();
        for (var round = 0; round < 3; round++)
        {
            var split = Measure(() => SplitBlocks(block, events));
            var parse = Measure(() => ParseBlocks(parser, block, events));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"// AMI parse round {round}: header split {split * 1e9 / events:F0} ns/event, AmiFrameParser {parse * 1e9 / events:F0} ns/event ({split / parse:P0} of the ceiling's speed)"));
        }

        return 0;
    }

    private static double Measure(Func<long> work)
    {
        var before = Process.GetCurrentProcess().TotalProcessorTime;
        var result = work();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - before).TotalSeconds;
        return result < 0 ? -cpu : cpu;
    }

    private static long SplitBlocks(byte[] block, int events)
    {
        long checksum = 0;
        for (var done = 0; done < events; done += AmiLoopbackBenchmarks.BlockEvents)
        {
            for (var at = 0; at < block.Length; at += 64 * 1024)
            {
                // Lines cut at a read's end are split wrongly here; it does not change the cost.
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(block, at, Math.Min(64 * 1024, block.Length - at)));
                while (reader.TryReadTo(out ReadOnlySpan<byte> line, (byte)'\n'))
                {
                    var colon = line.IndexOf((byte)':');
                    checksum += colon > 0 ? line[..colon].Length + line[(colon + 1)..].Length : 1;
                }
            }
        }

        return checksum;
    }

    private static long ParseBlocks(AmiFrameParser parser, byte[] block, int events)
    {
        // Reads of up to 64 KiB that end at a message end, so that no harness copying is measured.
        var cuts = new List<(int Start, int Length)>();
        for (var at = 0; at < block.Length;)
        {
            var end = Math.Min(block.Length, at + (64 * 1024));
            if (end < block.Length)
            {
                end = at + block.AsSpan(at, end - at).LastIndexOf("\r\n\r\n"u8) + 4;
            }

            cuts.Add((at, end - at));
            at = end;
        }

        long count = 0;
        for (var done = 0; done < events; done += AmiLoopbackBenchmarks.BlockEvents)
        {
            foreach (var (start, length) in cuts)
            {
                var buffer = new ReadOnlySequence<byte>(block, start, length);
                while (parser.TryRead(ref buffer, out var frame))
                {
                    count += frame.Message!.Count > 0 ? 1 : 0;
                }
            }
        }

        return count;
    }

    public static async Task<int> RunClientAsync(string[] args)
    {
        var port = 0;
        var runs = 5;
        var mode = "client";
        int? readerLead = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--port":
                    port = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--runs":
                    runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--mode":
                    mode = args[++i];
                    break;
                case "--reader-lead":
                    readerLead = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"ami-client: unknown argument '{args[i]}' (expected --port N, --runs N, --mode client|split|scan, --reader-lead BYTES)");
                    return 2;
            }
        }

        if (port is <= 0 or > 65535 || runs < 1 || mode is not ("client" or "split" or "scan"))
        {
            Console.Error.WriteLine("ami-client: needs --port 1-65535, --runs >= 1 and --mode client|split|scan");
            return 2;
        }

        AmiClient? client = null;
        AmiEventSubscription? events = null;
        if (mode == "client")
        {
            var defaults = new AmiClientOptions();
            client = new AmiClient(new AmiClientOptions
            {
                ReaderLead = readerLead ?? defaults.ReaderLead,
                Port = port,
                Username = "ctibridge",
                Secret = "ctibridge-secret",
                Authentication = AmiAuthentication.Plain,
                PingInterval = TimeSpan.Zero,
                ActionTimeout = TimeSpan.FromMinutes(1),
            });
            events = client.SubscribeEvents();
            await client.StartAsync();
            while (events.TryRead(out _))
            {
            }
        }

        var walls = new List<double>();
        var cpus = new List<double>();
        using var process = Process.GetCurrentProcess();
        // Run 0 jits and tiers the code up; it is printed but left out of the medians.
        for (var run = 0; run <= runs; run++)
        {
            PeakBacklog = 0;
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var gen0 = GC.CollectionCount(0);
            var gen1 = GC.CollectionCount(1);
            var gen2 = GC.CollectionCount(2);
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var count = mode switch
            {
                "client" => await ConsumeWithClientAsync(client!, events!),
                "split" => await RawAsync(port, split: true),
                _ => await RawAsync(port, split: false),
            };
            var wall = clock.Elapsed.TotalSeconds;
            process.Refresh();
            var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            if (count != AmiLoopbackBenchmarks.TotalEvents)
            {
                Console.Error.WriteLine($"ami-client: run {run} received {count} events, expected {AmiLoopbackBenchmarks.TotalEvents}");
                return 1;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"// AMI separate {mode} run {run}{(run == 0 ? " (warm-up)" : "")}: {wall * 1000:F0} ms wall, {cpu:F2} CPU s, " +
                $"{count / wall / 1e6:F2} M events/s, {allocated / 1e6:F0} MB allocated, peak backlog {PeakBacklog} events, GCs {GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}"));
            if (run > 0)
            {
                walls.Add(wall);
                cpus.Add(cpu);
            }
        }

        if (client is not null)
        {
            events!.Dispose();
            await client.DisposeAsync();
        }

        walls.Sort();
        cpus.Sort();
        process.Refresh();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"// AMI separate {mode}: median {walls[walls.Count / 2] * 1000:F0} ms wall = {AmiLoopbackBenchmarks.TotalEvents / walls[walls.Count / 2] / 1e6:F2} M events/s, " +
            $"median {cpus[cpus.Count / 2]:F2} CPU s per {AmiLoopbackBenchmarks.TotalEvents:N0} events; client process peak working set {process.PeakWorkingSet64 / (1024 * 1024)} MB, " +
            $"GC heap after {GC.GetGCMemoryInfo().HeapSizeBytes / (1024 * 1024)} MB"));
        return 0;
    }

    /// <summary>The most events the consumer found waiting when it woke (reader's lead), this run.</summary>
    private static long PeakBacklog;

    private static async Task<long> ConsumeWithClientAsync(AmiClient client, AmiEventSubscription events)
    {
        var response = await client.SendAsync(new AmiAction("Stream").Add("Repeat", AmiLoopbackBenchmarks.Repeat));
        if (!response.IsSuccess)
        {
            throw new InvalidOperationException("The server refused the Stream action.");
        }

        long received = 0;
        while (received < AmiLoopbackBenchmarks.TotalEvents && await events.WaitToReadAsync())
        {
            PeakBacklog = Math.Max(PeakBacklog, events.Backlog);
            while (events.TryRead(out var item))
            {
                if (item.Event is null)
                {
                    throw new InvalidOperationException("Resync during the benchmark: events were lost to a reconnect.");
                }

                received++;
            }
        }

        return received;
    }

    private static async Task<long> RawAsync(int port, bool split)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var stream = new NetworkStream(socket, ownsSocket: true);
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            $"Action: Stream\r\nActionID: raw\r\nRepeat: {AmiLoopbackBenchmarks.Repeat}\r\n\r\n"));
        var pipe = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: false));
        long messages = 0;
        long checksum = 0;
        // The banner has no blank line; the Stream response has one: it is not counted.
        while (messages < AmiLoopbackBenchmarks.TotalEvents + 1)
        {
            var result = await pipe.ReadAsync();
            var reader = new SequenceReader<byte>(result.Buffer);
            if (split)
            {
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
            }
            else
            {
                while (reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8))
                {
                    messages++;
                }
            }

            pipe.AdvanceTo(reader.Position, result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await pipe.CompleteAsync();
        return messages - 1 + (checksum & 0);
    }
}
