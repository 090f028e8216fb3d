using System.Net.WebSockets;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>The actors the demo runs on: desk phones answering like people, and callers on several DIDs who wait for the app.</summary>
public sealed class DemoActorTests
{
    private static PbxSimOptions Options() => new()
    {
        AmiPort = 0,
        AriPort = 0,
        Endpoints =
        [
            new EndpointOptions { Name = "1001", Context = "from-internal" },
            new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" },
        ],
        Dialplan = new()
        {
            ["from-trunk"] = new()
            {
                ["100"] = ["Answer()", "Dial(PJSIP/1001,60)", "Hangup()"],
                ["200"] = ["Answer()", "Wait(600)", "Hangup()"],
            },
        },
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
    public async Task DeskPhone_AnswersWithinItsRingRange_AndHangsUpAfterItsTalkTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        var phones = new DeskPhoneBehaviour { AnswerMinSeconds = 2, AnswerMaxSeconds = 4, TalkMinSeconds = 3, TalkMaxSeconds = 3 };
        Assert.Empty(phones.Problems());
        Assert.Equal(1, phones.ApplyTo(sim));

        for (var call = 0; call < 5; call++)
        {
            sim.Trunk("carrier").CallIn("100", "5550000" + call, "Caller");
            Advance(clock, TimeSpan.FromSeconds(1.9));
            Assert.Equal(2, sim.ChannelNames.Count);
            Assert.Single(sim.Phone("1001").Channels);
            Advance(clock, TimeSpan.FromSeconds(2.2));   // answered by 4 s at the latest; talking until 5..7 s
            Assert.Equal(2, sim.ChannelNames.Count);
            Advance(clock, TimeSpan.FromSeconds(3.2));   // 3 s of talk are over by 7.3 s: the agent hung up, so did the caller's dialplan
            Assert.Empty(sim.ChannelNames);
        }
    }

    [Theory]
    [InlineData(-1, 2, 0, 0, "AnswerMinSeconds")]
    [InlineData(3, 2, 0, 0, "AnswerMinSeconds")]
    [InlineData(1, 2, 5, 4, "TalkMinSeconds")]
    public void DeskPhones_ImpossibleRanges_AreNamed(double answerMin, double answerMax, double talkMin, double talkMax, string field)
    {
        var problems = new DeskPhoneBehaviour { AnswerMinSeconds = answerMin, AnswerMaxSeconds = answerMax, TalkMinSeconds = talkMin, TalkMaxSeconds = talkMax }.Problems().ToList();
        Assert.Single(problems);
        Assert.Contains(field, problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Traffic_WaitsForTheApp_ThenCallsEveryDid_AndStopsArrivingOnTime()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        sim.Phone("1001").NeverAnswers();
        var placed = sim.StartTraffic(new InboundTraffic
        {
            Trunk = "carrier",
            Numbers = ["100", "200"],
            CallsPerSecond = 5,
            MeanPatienceSeconds = 1000,
            MeanTalkSeconds = 1000,
            MaxCalls = 1000,
            StartWhenAppRegistered = "ctibridge",
            StopAfterSeconds = 10,
        });

        Advance(clock, TimeSpan.FromSeconds(5));
        Assert.Equal(0, placed());

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{sim.AriEndPoint}/ari/events?app=ctibridge&api_key=ctibridge:ctibridge-secret"), ct);
        Assert.True(sim.AriHasApplication("ctibridge"));
        Advance(clock, TimeSpan.FromSeconds(30));

        // About 50 arrivals in 10 s (Poisson, fixed seed); none after the 10 s window.
        var total = placed();
        Assert.InRange(total, 25, 80);
        Advance(clock, TimeSpan.FromSeconds(10));
        Assert.Equal(total, placed());
        // Both numbers were called: the first call to 100 rings the one phone, the later ones find it
        // busy and end; calls to 200 wait in Wait(600) (patience and talk are long).
        var waiting = sim.ChannelNames.Count(n => n.StartsWith("PJSIP/carrier-", StringComparison.Ordinal));
        Assert.Single(sim.Phone("1001").Channels);
        Assert.InRange(waiting, 2, total - 1);
    }

    [Fact]
    public async Task Traffic_TalkTimeCountsFromTheBridge_NotFromArrival()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        sim.Phone("1001").AnswersAfter(TimeSpan.FromSeconds(2));
        var placed = sim.StartTraffic(new InboundTraffic { Trunk = "carrier", Number = "100", CallsPerSecond = 1000, MeanPatienceSeconds = 100_000, MeanTalkSeconds = 0.01, MaxCalls = 1 });

        Advance(clock, TimeSpan.FromSeconds(1));
        Assert.Equal(1, placed());
        Assert.Equal(2, sim.ChannelNames.Count);

        // Bridged at 2 s; the caller's (tiny) talk time starts then, although its patience would last for days.
        Advance(clock, TimeSpan.FromSeconds(2));
        Assert.Empty(sim.ChannelNames);
    }

    [Fact]
    public async Task Traffic_Profile_CallersArriveOnlyInTheStepsThatHaveCallers()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        // Quiet morning (nobody), a 10 s peak at 4 calls/s, a quiet afternoon (nobody), then the evening at 1 call/s.
        var placed = sim.StartTraffic(new InboundTraffic
        {
            Trunk = "carrier", Number = "200", CallsPerSecond = 0, MeanPatienceSeconds = 1000, MeanTalkSeconds = 1000, MaxCalls = 1000, StopAfterSeconds = 40,
            Profile = [new TrafficStep { AfterSeconds = 10, CallsPerSecond = 4 }, new TrafficStep { AfterSeconds = 20, CallsPerSecond = 0 }, new TrafficStep { AfterSeconds = 30, CallsPerSecond = 1 }],
        });

        Advance(clock, TimeSpan.FromSeconds(9.9));
        Assert.Equal(0, placed());
        Advance(clock, TimeSpan.FromSeconds(10.1));
        var peak = placed();
        Assert.InRange(peak, 20, 60);   // about 40 (Poisson, fixed seed)
        // Until 29 s: only what the peak's rate drew just before it ended (the model starts the first draw one clock step late).
        Advance(clock, TimeSpan.FromSeconds(9));
        Assert.InRange(placed() - peak, 0, 2);
        Advance(clock, TimeSpan.FromSeconds(30));
        Assert.InRange(placed() - peak, 3, 20);   // about 10 in the evening's 10 s, none after StopAfterSeconds
        Assert.Empty(new InboundTraffic { Profile = [new TrafficStep { AfterSeconds = 5, CallsPerSecond = 2 }] }.Problems());
        Assert.Contains("Traffic.Profile[0]", Assert.Single(new InboundTraffic { Profile = [new TrafficStep { AfterSeconds = -1, CallsPerSecond = 2 }] }.Problems()), StringComparison.Ordinal);
    }
}
