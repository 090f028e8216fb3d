using System.Text;
using System.Text.Json;
using CtiBridge.PbxSim.Tests.Support;
using CtiBridge.TestSupport;

namespace CtiBridge.PbxSim.Tests.Ari;

/// <summary>
/// Plays on one channel queue up as Asterisk's res_stasis_playback queues them (each play is a command
/// on the channel's Stasis control, run one after another): the second starts when the first ends, a
/// play of several media says Started / Continuing per medium, and a queued play that is stopped never
/// starts (its only event is the Finished when its turn comes).
/// </summary>
public sealed class AriPlaybackQueueTests
{
    [Fact]
    public async Task PlaysOnOneChannel_RunInTurn_AQueuedOneStoppedNeverStarts_SeveralMediaContinue()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        await using var events = await AriRestFidelityTests.OpenEventsAsync(sim, ct);
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        // The recorded inbound call's first exchanges put an answered caller into the app.
        var recorded = File.ReadLines(Path.Combine(RepositoryPaths.AsteriskFixtures, "ari", "inbound-call.rest.jsonl")).Take(4).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.GetProperty("request").GetString()!;
        });
        foreach (var request in recorded)
        {
            await http.SendAsync(Encoding.UTF8.GetBytes(request), ct);
            Assert.Matches("^HTTP/1.1 20[04]", await http.ReadResponseAsync(ct));
        }

        var start = clock.GetUtcNow();
        var first = await SendAsync(http, "POST", "/ari/channels/cust-0001-2/play?media=sound:hello-world&playbackId=pb-1", ct);
        Assert.StartsWith("HTTP/1.1 201", first);
        Assert.EndsWith("\"state\":\"queued\"}", first);
        Assert.StartsWith("HTTP/1.1 201", await SendAsync(http, "POST", "/ari/channels/cust-0001-2/play?media=sound:beep&playbackId=pb-2", ct));
        var several = await SendAsync(http, "POST", "/ari/channels/cust-0001-2/play?media=sound:hello-world,sound:beep&playbackId=pb-3", ct);
        Assert.EndsWith("{\"id\":\"pb-3\",\"media_uri\":\"sound:hello-world\",\"next_media_uri\":\"sound:beep\",\"target_uri\":\"channel:cust-0001-2\",\"language\":\"en\",\"state\":\"queued\"}", several);

        // pb-2 waits behind pb-1: stopping it cancels it (204), and it never plays.
        Assert.StartsWith("HTTP/1.1 204", await SendAsync(http, "DELETE", "/ari/playbacks/pb-2", ct));

        // hello-world is 1.42 s and beep 0.44 s long (the clock runs each timer at its due time).
        foreach (var seconds in new[] { 1.0, 1.5, 2.0, 3.0, 3.5, 5.0 })
        {
            clock.AdvanceTo(start + TimeSpan.FromSeconds(seconds));
            await SendAsync(http, "GET", "/ari/asterisk/ping", ct);
        }

        Assert.StartsWith("HTTP/1.1 404", await SendAsync(http, "DELETE", "/ari/playbacks/pb-3", ct));
        await events.SendAsync([0x88, 0x82, 0x4a, 0xec, 0x41, 0x03, 0x49, 0x04], ct);
        var playbacks = AriScenarioReplay.Frames(await events.ReadToEndAsync(ct)).Select(Describe).OfType<string>().ToList();

        Assert.Equal(
            [
                "PlaybackStarted pb-1 sound:hello-world playing at 0.00",
                "PlaybackFinished pb-1 sound:hello-world done at 1.42",
                "PlaybackFinished pb-2 sound:beep done at 1.42",
                "PlaybackStarted pb-3 sound:hello-world next sound:beep playing at 1.42",
                "PlaybackContinuing pb-3 sound:hello-world next sound:beep continuing at 2.84",
                "PlaybackStarted pb-3 sound:beep playing at 2.84",
                "PlaybackFinished pb-3 sound:beep done at 3.28",
            ],
            playbacks);

        string? Describe(string json)
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (!root.TryGetProperty("playback", out var playback))
            {
                return null;
            }

            var at = (DateTimeOffset.Parse(root.GetProperty("timestamp").GetString()!.Replace("+0000", "+00:00", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) - start).TotalSeconds;
            var next = playback.TryGetProperty("next_media_uri", out var n) ? " next " + n.GetString() : string.Empty;
            return $"{root.GetProperty("type").GetString()} {playback.GetProperty("id").GetString()} {playback.GetProperty("media_uri").GetString()}{next} {playback.GetProperty("state").GetString()} at {at.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)}";
        }
    }

    private static async Task<string> SendAsync(HttpTestConnection http, string method, string path, CancellationToken ct)
    {
        await http.SendAsync(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nAuthorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=\r\nContent-Length: 0\r\n\r\n"), ct);
        return await http.ReadResponseAsync(ct);
    }
}
