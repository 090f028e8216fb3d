using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CtiBridge.TestSupport;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// Replays an ARI scenario: the recorded REST calls at their recorded times on a fake clock, with the
/// ctibridge WebSocket open; then compares each REST response and, per channel (or playback, or
/// bridge), the sequence of WebSocket events with their JSON fields.
/// </summary>
internal static partial class AriScenarioReplay
{
    private sealed record RestCall(double T, string Name, string Request, string Response);

    [GeneratedRegex(@"^\d{9,}\.\d+$")]
    private static partial Regex GeneratedId();

    private static bool VolatileValue(string field, string value) => field == "id" && GeneratedId().IsMatch(value);

    public static async Task ReplayAsync(string name, PbxSimulator sim, SignallingTimeProvider clock, double endSeconds, CancellationToken ct)
    {
        var directory = Path.Combine(RepositoryPaths.AsteriskFixtures, "ari");
        var calls = File.ReadLines(Path.Combine(directory, name + ".rest.jsonl")).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new RestCall(r.GetProperty("t").GetDouble(), r.GetProperty("name").GetString()!, r.GetProperty("request").GetString()!, r.GetProperty("response").GetString()!);
        }).ToList();
        var expectedEvents = File.ReadLines(Path.Combine(directory, name + ".events.jsonl")).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("opcode").GetString() == "text" ? doc.RootElement.GetProperty("payload").GetString() : null;
        }).OfType<string>().ToList();

        var first = expectedEvents.Select(e => Regex.Match(e, @"Local/[^""]*-([0-9a-f]{8});[12]")).First(m => m.Success);
        lock (sim.Gate)
        {
            sim.Model.SeedLocalSequence(Convert.ToInt64(first.Groups[1].Value, 16));
        }

        var start = clock.GetUtcNow();
        await using var events = await Ari.AriRestFidelityTests.OpenEventsAsync(sim, ct);
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);
        foreach (var call in calls)
        {
            clock.AdvanceTo(start + TimeSpan.FromSeconds(call.T));
            await http.SendAsync(Encoding.UTF8.GetBytes(call.Request), ct);
            var response = await http.ReadResponseAsync(ct);
            AriComparison.AssertSameResponse(call.Response, response, $"{name} {call.Name}", VolatileValue);
        }

        clock.AdvanceTo(start + TimeSpan.FromSeconds(endSeconds));
        await events.SendAsync([0x88, 0x82, 0x4a, 0xec, 0x41, 0x03, 0x49, 0x04], ct);
        var raw = await events.ReadToEndAsync(ct);
        var actualEvents = Frames(raw).ToList();

        var expectedGroups = expectedEvents.GroupBy(GroupOf).ToDictionary(g => g.Key, g => g.ToList());
        var actualGroups = actualEvents.GroupBy(GroupOf).ToDictionary(g => g.Key, g => g.ToList());
        Assert.True(expectedGroups.Keys.Order().SequenceEqual(actualGroups.Keys.Order()),
            $"{name}: event streams differ\nexpected {string.Join(", ", expectedGroups.Keys.Order())}\nactual   {string.Join(", ", actualGroups.Keys.Order())}");
        foreach (var (group, expected) in expectedGroups)
        {
            var actual = actualGroups[group];
            var summary = $"\nexpected: {string.Join(", ", expected.Select(Type))}\nactual:   {string.Join(", ", actual.Select(Type))}";
            for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
            {
                using var e = JsonDocument.Parse(expected[i]);
                using var a = JsonDocument.Parse(actual[i]);
                AriComparison.AssertSameJson(e.RootElement, a.RootElement, $"{name} [{group}] #{i}{summary}\n", VolatileValue);
            }

            Assert.True(expected.Count == actual.Count, $"{name} [{group}]: {expected.Count} events recorded, PbxSim sent {actual.Count}{summary}");
        }
    }

    private static string Type(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        var type = r.GetProperty("type").GetString()!;
        return r.TryGetProperty("dialstatus", out var status) ? $"{type}({status.GetString()})"
            : r.TryGetProperty("variable", out var variable) ? $"{type}({variable.GetString()})"
            : r.TryGetProperty("channel", out var channel) ? $"{type}({channel.GetProperty("state").GetString()})" : type;
    }

    private static string GroupOf(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        if (r.TryGetProperty("peer", out var peer))
        {
            return "channel " + peer.GetProperty("id").GetString();
        }

        if (r.TryGetProperty("channel", out var channel))
        {
            return "channel " + channel.GetProperty("id").GetString();
        }

        if (r.TryGetProperty("playback", out var playback))
        {
            return "playback " + playback.GetProperty("id").GetString();
        }

        if (r.TryGetProperty("recording", out var recording))
        {
            return "recording " + recording.GetProperty("name").GetString();
        }

        return r.TryGetProperty("bridge", out var bridge) ? "bridge " + bridge.GetProperty("id").GetString() : "other";
    }

    /// <summary>Text frames after the 101 head (server frames are unmasked).</summary>
    internal static IEnumerable<string> Frames(byte[] raw)
    {
        var text = Encoding.ASCII.GetString(raw);
        var offset = text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        while (offset + 2 <= raw.Length)
        {
            var opcode = raw[offset] & 0x0f;
            long length = raw[offset + 1] & 0x7f;
            var header = 2;
            if (length == 126)
            {
                length = (raw[offset + 2] << 8) | raw[offset + 3];
                header = 4;
            }
            else if (length == 127)
            {
                length = 0;
                for (var i = 0; i < 8; i++)
                {
                    length = (length << 8) | raw[offset + 2 + i];
                }

                header = 10;
            }

            if (opcode == 1)
            {
                yield return Encoding.UTF8.GetString(raw, offset + header, (int)length);
            }

            offset += header + (int)length;
        }
    }
}
