using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CtiBridge.PbxSim.Tests.Support;
using CtiBridge.TestSupport;

namespace CtiBridge.PbxSim.Tests.Ari;

/// <summary>PbxSim's ARI REST answers against <c>ari/rest/</c>: same requests, same responses.</summary>
public sealed partial class AriRestFidelityTests
{
    private static readonly DateTimeOffset RecordingStart = new DateTimeOffset(2026, 11, 22, 16, 38, 58, TimeSpan.Zero).AddMilliseconds(388);

    private static string RestDirectory => Path.Combine(RepositoryPaths.AsteriskFixtures, "ari", "rest");

    [GeneratedRegex(@"^\d{9,}\.\d+$")]
    private static partial Regex GeneratedId();

    /// <summary>The exchanges recorded with the ctibridge WebSocket open and no call up (01-29).</summary>
    public static TheoryData<string> NoCallExchanges()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(RestDirectory, "*.req").Order())
        {
            var name = Path.GetFileNameWithoutExtension(file);
            if (int.Parse(name[..2]) <= 29)
            {
                data.Add(name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NoCallExchanges))]
    public async Task Rest_RecordedRequestWithoutCalls_AnswersAsRecorded(string exchange)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        await using var events = await OpenEventsAsync(sim, ct);

        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);
        await http.SendAsync(await File.ReadAllBytesAsync(Path.Combine(RestDirectory, exchange + ".req"), ct), ct);
        var actual = await http.ReadResponseAsync(ct);

        var expected = await File.ReadAllTextAsync(Path.Combine(RestDirectory, exchange + ".http"), ct);
        AriComparison.AssertSameResponse(expected, actual, exchange, (field, value) => field == "id" && GeneratedId().IsMatch(value));
    }

    /// <summary>
    /// Exchanges 30-44, recorded with one inbound call up (set up by the recorder's AMI connection):
    /// the same call is placed over AMI at the same time, with Asterisk's uniqueid and Local numbering
    /// continued from where the recording instance was, so the recorded requests address the same
    /// channel ids; then every exchange is replayed on one connection at its recorded time.
    /// </summary>
    [Fact]
    public async Task Rest_RecordedRequestsWithACall_AnswerAsRecorded()
    {
        var ct = TestContext.Current.CancellationToken;

        // The session's t=0: the bridge created at t=3.194 says 16:41:33.541.
        var sessionStart = new DateTimeOffset(2026, 11, 22, 16, 41, 30, TimeSpan.Zero).AddMilliseconds(347);
        var clock = new SignallingTimeProvider(sessionStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        lock (sim.Gate)
        {
            sim.Model.SeedUniqueSequence(88);
            sim.Model.SeedLocalSequence(0x2c);
        }

        await using var events = await OpenEventsAsync(sim, ct);
        var exchanges = File.ReadLines(Path.Combine(RestDirectory, "index.jsonl")).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return (File: r.GetProperty("file").GetString()!, T: r.GetProperty("t").GetDouble(), Request: r.GetProperty("request").GetString()!, Response: r.GetProperty("response").GetString()!);
        }).Where(e => int.Parse(e.File[..2]) >= 30).ToList();
        Assert.Equal(15, exchanges.Count);

        // The call: channels created at 16:41:30.655 (creationtime in 30-channels-with-calls).
        clock.AdvanceTo(sessionStart + TimeSpan.FromMilliseconds(308));
        await using (var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct))
        {
            await ami.ReadBannerAsync(ct);
            var dispatched = sim.Progress.Count;
            await ami.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\nEvents: off\r\n\r\n", ct);
            await sim.Progress.WaitForAsync(++dispatched, ct);
            await ami.SendAsync(AmiListReplay.Originate("Local/1@inbound", "\"Jane Customer\" <5551234567>", "CTI_CALL_ID=rest-1"), ct);
            await sim.Progress.WaitForAsync(++dispatched, ct);
        }

        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);
        foreach (var exchange in exchanges)
        {
            clock.AdvanceTo(sessionStart + TimeSpan.FromSeconds(exchange.T));
            await http.SendAsync(Encoding.UTF8.GetBytes(exchange.Request), ct);
            var actual = await http.ReadResponseAsync(ct);
            AriComparison.AssertSameResponse(exchange.Response, actual, exchange.File, (field, value) => field == "id" && BridgeUuid().IsMatch(value));
        }
    }

    [GeneratedRegex(@"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    private static partial Regex BridgeUuid();

    [Theory]
    [InlineData("ws-upgrade-unauthorized", "Basic Y3RpYnJpZGdlOndyb25n", "?app=ctibridge")]
    [InlineData("ws-upgrade-missing-app", "Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=", "")]
    public async Task EventsUpgrade_Refused_AnswersAsRecorded(string recording, string authorization, string query)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        await http.SendAsync(Encoding.ASCII.GetBytes($"GET /ari/events{query} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: 3nI9ihnPmcV3+xJiGxSJkg==\r\nSec-WebSocket-Version: 13\r\nAuthorization: {authorization}\r\n\r\n"), ct);
        var actual = Encoding.UTF8.GetString(await http.ReadToEndAsync(ct));

        var expected = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.AsteriskFixtures, "ari", recording + ".raw"), ct);
        Assert.Equal(DateLine().Replace(expected, "Date: *"), DateLine().Replace(actual, "Date: *"));
    }

    [GeneratedRegex(@"Date: [^\r]*")]
    private static partial Regex DateLine();

    internal static async Task<HttpTestConnection> OpenEventsAsync(PbxSimulator sim, CancellationToken ct, string app = "ctibridge")
    {
        var ws = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);
        var dispatched = sim.Progress.Count;
        await ws.SendAsync(Encoding.ASCII.GetBytes($"GET /ari/events?app={app} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: 3nI9ihnPmcV3+xJiGxSJkg==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=\r\n\r\n"), ct);
        await sim.Progress.WaitForAsync(dispatched + 1, ct);
        return ws;
    }
}
