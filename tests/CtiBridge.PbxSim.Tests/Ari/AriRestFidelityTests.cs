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
