using System.Text;
using System.Text.Json;
using CtiBridge.PbxSim.Tests.Support;
using CtiBridge.TestSupport;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>
/// The shipped dialplan (asterisk-config/extensions.conf) run by PbxSim: an inbound caller who finds no
/// CtiBridge connected (Stasis() to an unregistered app sets STASISSTATUS=FAILED and the dialplan goes on,
/// as Asterisk documents) hears ringing and tries the app again every second, STASIS_TRIES_MAX (10) times,
/// before the fallback routing; an instance that connects meanwhile (a standby taking over) gets the caller.
/// On a fake clock.
/// </summary>
public sealed class ShippedDialplanTests
{
    private const string Auth = "Authorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=";

    private static PbxSimOptions Options()
    {
        var (dialplan, globals) = ExtensionsConf.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "asterisk-config", "extensions.conf")));
        var options = new PbxSimOptions
        {
            AmiPort = 0,
            AriPort = 0,
            Dialplan = dialplan,
            Endpoints =
            [
                new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-carrier" },
                new EndpointOptions { Name = "1001", Context = "agents-phones" },   // FALLBACK_DIAL's hunt group
                new EndpointOptions { Name = "1002", Context = "agents-phones" },
            ],
        };
        foreach (var (name, value) in globals)
        {
            options.GlobalVariables[name] = value;
        }

        return options;
    }

    private static void Advance(SignallingTimeProvider clock, TimeSpan by)
    {
        var end = clock.GetUtcNow() + by;
        while (clock.GetUtcNow() < end)
        {
            clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromMilliseconds(50));
        }
    }

    [Fact]
    public async Task CallerBeforeTheAppIsConnected_IsHeldRinging_AndEntersTheAppOnceItConnects()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        var caller = sim.Trunk("carrier").CallIn("4008001", "5550101", "Early caller");
        Advance(clock, TimeSpan.FromSeconds(5.5));   // five failed tries so far: still there, ringing, waiting to retry
        var held = Single(await SendAsync(http, "GET", "/ari/channels", ct));
        Assert.Equal(caller, held.GetProperty("name").GetString());
        Assert.Equal("from-carrier", held.GetProperty("dialplan").GetProperty("context").GetString());
        Assert.Equal("Wait", held.GetProperty("dialplan").GetProperty("app_name").GetString());

        await using var events = await Ari.AriRestFidelityTests.OpenEventsAsync(sim, ct);   // the standby connects
        Advance(clock, TimeSpan.FromSeconds(1.1));
        var entered = Single(await SendAsync(http, "GET", "/ari/channels", ct));
        Assert.Equal(caller, entered.GetProperty("name").GetString());
        Assert.Equal("Stasis", entered.GetProperty("dialplan").GetProperty("app_name").GetString());
        Assert.Equal("ctibridge,inbound,4008001", entered.GetProperty("dialplan").GetProperty("app_data").GetString());
    }

    [Fact]
    public async Task CallerWhenNoInstanceConnectsWithin10Tries_GoesToTheFallbackRouting()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        sim.Phone("1001").NeverAnswers();
        sim.Phone("1002").NeverAnswers();
        var caller = sim.Trunk("carrier").CallIn("4008001", "5550102", "Caller while CtiBridge is down");
        Advance(clock, TimeSpan.FromSeconds(8.5));
        Assert.Equal("from-carrier", Single(await SendAsync(http, "GET", "/ari/channels", ct)).GetProperty("dialplan").GetProperty("context").GetString());
        Assert.Empty(sim.Phone("1001").Channels);
        Advance(clock, TimeSpan.FromSeconds(5));   // the 10th try failed at 9 s: the fallback hunt group rings, the caller is not hung up
        using var channels = JsonDocument.Parse(Body(await SendAsync(http, "GET", "/ari/channels", ct)));
        var fallback = Assert.Single(channels.RootElement.EnumerateArray(), c => c.GetProperty("name").GetString() == caller);
        Assert.Equal("ctibridge-fallback", fallback.GetProperty("dialplan").GetProperty("context").GetString());
        Assert.Equal("Dial", fallback.GetProperty("dialplan").GetProperty("app_name").GetString());
        Assert.Single(sim.Phone("1001").Channels);   // FALLBACK_DIAL rings (PbxSim rings the first of a '&' list only)
    }

    [Fact]
    public void ExtensionsConf_PriorityOutOfOrder_IsAnErrorNamingTheLine()
    {
        var error = Assert.Throws<FormatException>(() => ExtensionsConf.Parse("[ctx]\nexten => s,1,NoOp()\n same => 3,Hangup()\n", "test.conf"));
        Assert.Contains("test.conf line 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("priority '3'", error.Message, StringComparison.Ordinal);
    }

    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    private static JsonElement Single(string response)
    {
        using var doc = JsonDocument.Parse(Body(response));
        return Assert.Single(doc.RootElement.EnumerateArray().ToList()).Clone();
    }

    private static async Task<string> SendAsync(HttpTestConnection http, string method, string path, CancellationToken ct)
    {
        await http.SendAsync(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\n{Auth}\r\nContent-Length: 0\r\n\r\n"), ct);
        return await http.ReadResponseAsync(ct);
    }
}
