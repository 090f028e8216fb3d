using System.Text;
using CtiBridge.PbxSim.Model;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ari;

/// <summary>
/// Answering-machine detection for the dialer: an answered customer in Stasis is sent with ARI
/// <c>continue</c> into a dialplan context running <c>AMD()</c>, which sets AMDSTATUS/AMDCAUSE as
/// app_amd does, and comes back into Stasis with them as arguments.
/// </summary>
public sealed class AriAmdTests
{
    [Theory]
    [InlineData("2125550003", "MACHINE", "LONGGREETING-1600-1500")]
    [InlineData("2125550004", "HUMAN", "HUMAN-900-800")]
    [InlineData("2125550005", "NOTSURE", "TOOLONG-5000")]
    public async Task Continue_IntoAnAmdContext_ComesBackToStasisWithTheVerdict(string number, string status, string cause)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions
        {
            AmiPort = 0,
            AriPort = 0,
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }],
            Dialplan = new() { ["dialer-amd"] = new() { ["s"] = ["AMD()", "Stasis(ctibridge,amd,${AMDSTATUS},${AMDCAUSE})"] } },
        }, clock);
        await sim.StartAsync(ct);

        // 0003 is a machine, 0004 a person; 0005 a person AMD is not sure about (a scripted verdict).
        sim.DialledCustomers = new DialledCustomers
        {
            Busy = 0, NoAnswer = 0, Invalid = 0, Machine = number == "2125550003" ? 1 : 0, RingSeconds = 1, MachineMessageSeconds = 30, AmdSeconds = 2.5,
            AmdResults = { ["2125550005"] = "NOTSURE" },
        };
        await using var events = await AriRestFidelityTests.OpenEventsAsync(sim, ct);
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "POST", $"/ari/channels?endpoint=PJSIP/carrier/{number}&app=ctibridge&appArgs=dialer&channelId=cust-1", ct));
        Assert.StartsWith("HTTP/1.1 409", await SendAsync(http, "POST", "/ari/channels/cust-1/continue?context=dialer-amd&extension=s&priority=1", ct));
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(1.5));
        Assert.Contains("\"app_name\":\"Stasis\"", await SendAsync(http, "GET", "/ari/channels/cust-1", ct));

        Assert.StartsWith("HTTP/1.1 204", await SendAsync(http, "POST", "/ari/channels/cust-1/continue?context=dialer-amd&extension=s&priority=1", ct));
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        var listening = await SendAsync(http, "GET", "/ari/channels/cust-1", ct);
        Assert.Contains("\"context\":\"dialer-amd\"", listening);
        Assert.Contains("\"app_name\":\"AMD\"", listening);

        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(2));
        var back = await SendAsync(http, "GET", "/ari/channels/cust-1", ct);
        Assert.Contains($"\"app_data\":\"ctibridge,amd,{status},{cause}\"", back);
        Assert.EndsWith($"{{\"value\":\"{status}\"}}", await SendAsync(http, "GET", "/ari/channels/cust-1/variable?variable=AMDSTATUS", ct));
        Assert.EndsWith($"{{\"value\":\"{cause}\"}}", await SendAsync(http, "GET", "/ari/channels/cust-1/variable?variable=AMDCAUSE", ct));
    }

    private static async Task<string> SendAsync(HttpTestConnection http, string method, string path, CancellationToken ct)
    {
        await http.SendAsync(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nAuthorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=\r\nContent-Length: 0\r\n\r\n"), ct);
        return await http.ReadResponseAsync(ct);
    }
}
