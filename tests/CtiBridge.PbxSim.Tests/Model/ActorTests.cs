using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>Scripted phones, trunks and traffic on a fake clock, observed through a real AMI connection.</summary>
public sealed class ActorTests
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
            ["from-trunk"] = new() { ["100"] = ["Answer()", "Dial(PJSIP/1001,20,tT)"] },
            ["from-internal"] = new() { ["*45"] = ["Answer()", "Playback(agent-loginok)", "Hangup()"], ["_9X."] = ["Dial(PJSIP/carrier/${EXTEN:1},30)"] },
        },
    };

    private static async Task<AmiTestConnection> LoginAsync(PbxSimulator sim, CancellationToken ct)
    {
        var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await ami.ReadBannerAsync(ct);
        await ami.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\n\r\n", ct);
        Assert.Contains("Authentication accepted", await ami.ReadMessageAsync(ct));
        return ami;
    }

    /// <summary>Reads events until one matches (bounded by the connection's read timeout).</summary>
    private static async Task<List<string>> ReadUntilAsync(AmiTestConnection ami, Func<string, bool> stop, CancellationToken ct)
    {
        var seen = new List<string>();
        while (true)
        {
            var message = await ami.ReadMessageAsync(ct);
            Assert.NotNull(message);
            seen.Add(message!);
            if (stop(message!))
            {
                return seen;
            }
        }
    }

    [Fact]
    public async Task CallIn_PhoneAnswersAfterDelay_CustomerAndAgentBridged()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        await using var ami = await LoginAsync(sim, ct);
        sim.Phone("1001").AnswersAfter(TimeSpan.FromSeconds(3));

        var customer = sim.Trunk("carrier").CallIn("100", "5551234567", "Jane Customer");
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(2));
        var beforeAnswer = await ReadUntilAsync(ami, m => m.Contains("DialStatus: RINGING"), ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(2));
        var afterAnswer = await ReadUntilAsync(ami, m => m.Contains("Event: BridgeEnter") && m.Contains("BridgeNumChannels: 2"), ct);

        Assert.StartsWith("PJSIP/carrier-", customer);
        Assert.Contains(beforeAnswer, m => m.Contains("Event: DialBegin") && m.Contains("DestChannel: PJSIP/1001-") && m.Contains("DialString: 1001"));
        Assert.DoesNotContain(beforeAnswer, m => m.Contains("DialStatus: ANSWER"));
        Assert.Contains(afterAnswer, m => m.Contains("Event: DialEnd") && m.Contains("DialStatus: ANSWER"));
        Assert.Equal(2, sim.ChannelNames.Count);
    }

    [Fact]
    public async Task CallIn_PhoneStaysBusy_DialEndsBusyAndCustomerHangsUp()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        await using var ami = await LoginAsync(sim, ct);
        sim.Phone("1001").StaysBusy();

        sim.Trunk("carrier").CallIn("100", "5551234567", "Jane Customer");
        var events = await ReadUntilAsync(ami, m => m.Contains("Event: Hangup") && m.Contains("Channel: PJSIP/carrier-"), ct);

        Assert.Contains(events, m => m.Contains("Event: DialEnd") && m.Contains("DialStatus: BUSY"));
        Assert.Contains(events, m => m.Contains("Event: Hangup") && m.Contains("Channel: PJSIP/1001-") && m.Contains("Cause: 17"));
        Assert.Empty(sim.ChannelNames);
    }

    [Fact]
    public async Task PhoneDial_FeatureCode_RunsItsDialplanAndHangsUp()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        await using var ami = await LoginAsync(sim, ct);

        sim.Phone("1001").Dial("*45");
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(2));
        var events = await ReadUntilAsync(ami, m => m.Contains("Event: Hangup"), ct);

        Assert.Contains(events, m => m.Contains("Event: Newexten") && m.Contains("Exten: *45") && m.Contains("Application: Playback") && m.Contains("AppData: agent-loginok"));
        Assert.Contains(events, m => m.Contains("Variable: PLAYBACKSTATUS"));
    }

    [Fact]
    public async Task Traffic_PoissonArrivalsWithPatience_PlacesBoundedCallsThatAllEnd()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        sim.Phone("1001").NeverAnswers();

        var placed = sim.StartTraffic(new InboundTraffic { Trunk = "carrier", Number = "100", CallsPerSecond = 2, MeanPatienceSeconds = 3, MeanTalkSeconds = 5, MaxCalls = 20 });
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(120));

        Assert.Equal(20, placed());
        Assert.Empty(sim.ChannelNames);
    }

    [Fact]
    public async Task DialOut_DialledCustomersAllBusy_EveryAttemptEndsBusy()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(Options(), clock);
        await sim.StartAsync(ct);
        await using var ami = await LoginAsync(sim, ct);
        sim.DialledCustomers = new DialledCustomers { Busy = 1, NoAnswer = 0, Invalid = 0, Machine = 0 };

        sim.Phone("1001").Dial("95551234");
        var events = await ReadUntilAsync(ami, m => m.Contains("Event: DialEnd"), ct);

        Assert.Contains(events, m => m.Contains("Event: DialBegin") && m.Contains("DialString: carrier/5551234"));
        Assert.Contains("DialStatus: BUSY", events[^1]);
    }
}
