using System.Text;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ari;

/// <summary>ARI recordings end as real WAV files of the recorded length, and stored ones can be deleted.</summary>
public sealed class AriRecordingTests
{
    [Fact]
    public async Task BridgeRecording_StoppedAfterThreeSeconds_LeavesAWavFileUntilDeleted()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("pbxsim-rec-test").FullName;
        try
        {
            var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
            await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0, RecordingDirectory = directory }, clock);
            await sim.StartAsync(ct);
            await using var events = await AriRestFidelityTests.OpenEventsAsync(sim, ct);
            await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

            Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "POST", "/ari/bridges?type=mixing&bridgeId=rec-bridge", ct));
            var started = await SendAsync(http, "POST", "/ari/bridges/rec-bridge/record?name=call-1&format=wav&maxDurationSeconds=60", ct);
            Assert.StartsWith("HTTP/1.1 201 Created", started);
            Assert.Contains("Location: /ari/recordings/live/call-1", started);
            Assert.StartsWith("HTTP/1.1 409", await SendAsync(http, "POST", "/ari/bridges/rec-bridge/record?name=call-1&format=wav", ct));

            clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(3));
            Assert.StartsWith("HTTP/1.1 204", await SendAsync(http, "POST", "/ari/recordings/live/call-1/stop", ct));
            Assert.StartsWith("HTTP/1.1 404", await SendAsync(http, "POST", "/ari/recordings/live/call-1/stop", ct));

            // 8 kHz, 16-bit mono: 16 000 bytes a second after the 44-byte header.
            var file = new FileInfo(Path.Combine(directory, "call-1.wav"));
            Assert.True(file.Exists, "the recording was not written");
            Assert.Equal(44 + (3 * 16_000), file.Length);
            Assert.EndsWith("{\"name\":\"call-1\",\"format\":\"wav\"}", await SendAsync(http, "GET", "/ari/recordings/stored/call-1", ct));

            Assert.StartsWith("HTTP/1.1 204", await SendAsync(http, "DELETE", "/ari/recordings/stored/call-1", ct));
            Assert.False(File.Exists(file.FullName), "the deleted recording's file is still there");
            var missing = await SendAsync(http, "GET", "/ari/recordings/stored/call-1", ct);
            Assert.StartsWith("HTTP/1.1 404", missing);
            Assert.EndsWith("{\"message\":\"Recording not found\"}", missing);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<string> SendAsync(HttpTestConnection http, string method, string path, CancellationToken ct)
    {
        await http.SendAsync(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nAuthorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=\r\nContent-Length: 0\r\n\r\n"), ct);
        return await http.ReadResponseAsync(ct);
    }
}
