using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>
/// The demo's outbound side: dialer agents' desk phones keep their nailed-up line up while each
/// customer's conversation ends after a talk time, and inbound callers who press the callback key.
/// </summary>
public sealed class DialerPhoneTests
{
    private const string Auth = "Authorization: Basic Y3RpYnJpZGdlOmN0aWJyaWRnZS1zZWNyZXQ=";

    private static PbxSimOptions Options() => new()
    {
        AmiPort = 0,
        AriPort = 0,
        Endpoints =
        [
            new EndpointOptions { Name = "1001", Context = "agents-phones" },
            new EndpointOptions { Name = "1002", Context = "agents-phones" },
            new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" },
        ],
        Dialplan = new() { ["from-trunk"] = new() { ["_X."] = ["Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] } },
    };

    /// <summary>Advances the fake clock in 50 ms steps (every model timer fires in order).</summary>
    private static void Advance(SignallingTimeProvider clock, TimeSpan by)
    {
        var end = clock.GetUtcNow() + by;
        while (clock.GetUtcNow() < end)
        {
            clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromMilliseconds(50));
        }
    }

    [Fact]
    public async Task NailedUpLine_StaysUp_WhileEachCustomersConversationEndsAfterTheTalkTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        var phones = new DeskPhoneBehaviour { Endpoints = ["1001"], AnswerMinSeconds = 1, AnswerMaxSeconds = 1, TalkMinSeconds = 3, TalkMaxSeconds = 3 };
        Assert.Equal(1, phones.ApplyTo(sim, nailedUp: true));
        // Customers answer after 1 s and would stay on for ever: only the agent's side ends the talk here.
        sim.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 1, TalkSeconds = 0 };
        await using var events = await Ari.AriRestFidelityTests.OpenEventsAsync(sim, ct, "dialer");
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        // The dialer calls the agent's phone once (the line) and parks it in its own bridge.
        Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "POST", "/ari/channels?endpoint=PJSIP/1001&app=dialer&channelId=line", ct));
        Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "POST", "/ari/bridges?type=mixing&bridgeId=talk", ct));
        Advance(clock, TimeSpan.FromSeconds(1.2));
        Assert.Contains("\"state\":\"Up\"", await SendAsync(http, "GET", "/ari/channels/line", ct));
        Assert.StartsWith("HTTP/1.1 204", await SendAsync(http, "POST", "/ari/bridges/talk/addChannel?channel=line", ct));
        Advance(clock, TimeSpan.FromSeconds(10));   // alone on the line: nobody to talk to, nothing ends
        Assert.Contains("\"state\":\"Up\"", await SendAsync(http, "GET", "/ari/channels/line", ct));

        for (var customer = 1; customer <= 3; customer++)
        {
            var id = $"customer-{customer}";
            Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "POST", $"/ari/channels?endpoint=PJSIP/carrier/555000{customer}&app=dialer&channelId={id}", ct));
            Advance(clock, TimeSpan.FromSeconds(1.2));
            Assert.StartsWith("HTTP/1.1 204", await SendAsync(http, "POST", $"/ari/bridges/talk/addChannel?channel={id}", ct));
            Advance(clock, TimeSpan.FromSeconds(2.5));
            Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "GET", $"/ari/channels/{id}", ct));   // still talking
            Advance(clock, TimeSpan.FromSeconds(1.5));
            Assert.StartsWith("HTTP/1.1 404", await SendAsync(http, "GET", $"/ari/channels/{id}", ct));   // that conversation is over
            Assert.Contains("\"state\":\"Up\"", await SendAsync(http, "GET", "/ari/channels/line", ct));  // the line is not
            Advance(clock, TimeSpan.FromSeconds(5));   // wrap-up between customers
        }

        Assert.Equal(["line"], ChannelIds(await SendAsync(http, "GET", "/ari/channels", ct)));
        Assert.Single(sim.Phone("1001").Channels);
    }

    [Fact]
    public async Task OrdinaryDeskPhone_HangsUpItsOwnLineAfterTheTalkTime_WhichIsWhyDialerPhonesNeedTheirOwnBehaviour()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        new DeskPhoneBehaviour { Endpoints = ["1002"], AnswerMinSeconds = 1, AnswerMaxSeconds = 1, TalkMinSeconds = 3, TalkMaxSeconds = 3 }.ApplyTo(sim);
        await using var events = await Ari.AriRestFidelityTests.OpenEventsAsync(sim, ct, "dialer");
        await using var http = await HttpTestConnection.ConnectAsync(sim.AriEndPoint, ct);

        Assert.StartsWith("HTTP/1.1 200", await SendAsync(http, "POST", "/ari/channels?endpoint=PJSIP/1002&app=dialer&channelId=line", ct));
        Advance(clock, TimeSpan.FromSeconds(1.2 + 3.2));
        Assert.StartsWith("HTTP/1.1 404", await SendAsync(http, "GET", "/ari/channels/line", ct));
    }

    [Fact]
    public void DialerPhones_WithoutEndpoints_AndImpossibleRanges_AreNamed()
    {
        var config = JsonSerializer.Deserialize<PbxSimConfig>("""
            { "DialerPhones": { "AnswerMinSeconds": 3, "AnswerMaxSeconds": 1 },
              "Traffic": { "CallbackKeyShare": 1.5, "CallbackKey": "12" } }
            """, PbxSimConfig.JsonOptions)!;

        var problems = config.BehaviourProblems().ToList();

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("DialerPhones.AnswerMinSeconds/AnswerMaxSeconds:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("DialerPhones.Endpoints: list the dialer agents' phones", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Traffic.CallbackKeyShare: a share between 0 and 1, got 1.5", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Traffic.CallbackKey: one DTMF key", StringComparison.Ordinal));
        Assert.Empty(JsonSerializer.Deserialize<PbxSimConfig>("""{ "DialerPhones": { "Endpoints": [ "1001" ] }, "Traffic": { "CallbackKeyShare": 0.2 } }""", PbxSimConfig.JsonOptions)!.BehaviourProblems());
    }

    [Fact]
    public async Task Traffic_CallersWhoWait_PressTheCallbackKeyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{sim.AriEndPoint}/ari/events?app=ctibridge&api_key=ctibridge:ctibridge-secret"), ct);
        // Nobody answers them (they wait in Stasis): every caller presses 3 once, about 2 s in.
        var placed = sim.StartTraffic(new InboundTraffic
        {
            Trunk = "carrier", Number = "4008001", CallsPerSecond = 2, MaxCalls = 6, MeanPatienceSeconds = 100_000, MeanTalkSeconds = 10,
            CallbackKeyShare = 1, CallbackKey = "3", CallbackKeyAfterSeconds = 2,
        });

        Advance(clock, TimeSpan.FromSeconds(60));
        Assert.Equal(6, placed());

        var pressed = new Dictionary<string, List<string>>();
        var buffer = new byte[64 * 1024];
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(ct);
        quiet.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            while (pressed.Count < 6 || pressed.Values.Any(d => d.Count != 1))
            {
                var message = new StringBuilder();
                WebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer, quiet.Token);
                    message.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
                }
                while (!result.EndOfMessage);
                using var doc = JsonDocument.Parse(message.ToString());
                if (doc.RootElement.GetProperty("type").GetString() == "ChannelDtmfReceived")
                {
                    var channel = doc.RootElement.GetProperty("channel").GetProperty("id").GetString()!;
                    (pressed.TryGetValue(channel, out var digits) ? digits : pressed[channel] = []).Add(doc.RootElement.GetProperty("digit").GetString()!);
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Everything sent was read: the assertions below say what was missing.
        }

        Assert.Equal(6, pressed.Count);
        Assert.All(pressed.Values, digits => Assert.Equal(["3"], digits));
        Assert.Equal(6, sim.ChannelNames.Count);   // they keep waiting: ending the call is the system's job
    }

    private static List<string> ChannelIds(string response)
    {
        using var doc = JsonDocument.Parse(response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        return doc.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()!).ToList();
    }

    private static async Task<string> SendAsync(HttpTestConnection http, string method, string path, CancellationToken ct)
    {
        await http.SendAsync(Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8088\r\n{Auth}\r\nContent-Length: 0\r\n\r\n"), ct);
        return await http.ReadResponseAsync(ct);
    }
}
