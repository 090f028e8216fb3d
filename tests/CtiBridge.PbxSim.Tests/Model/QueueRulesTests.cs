using CtiBridge.PbxSim.Model;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Model;

/// <summary>
/// app_queue behaviour no recording shows, built to Asterisk 22's documentation and app_queue.c:
/// configured queues, wrap-up time, maxlen, joinempty/leavewhenempty, weight, announcements and the
/// Queue() options n, r, R and position. Each is driven over a real AMI connection on a fake clock.
/// </summary>
public sealed class QueueRulesTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>The recording instance's dialplan plus <c>exten@queues</c> running Queue(args), then recording QUEUESTATUS in AFTER.</summary>
    private static Dictionary<string, Dictionary<string, List<string>>> Plan(params (string Exten, string QueueArgs)[] entries)
    {
        var plan = Dialplan.RecordingInstance();
        foreach (var (exten, args) in entries)
        {
            plan["queues"][exten] = ["Answer()", $"Queue({args})", "Set(AFTER=${QUEUESTATUS})", "Wait(3600)"];
        }

        return plan;
    }

    private static QueueMemberOptions Agent(int n, int penalty = 0) =>
        new() { Interface = $"Local/agent{n}@agents", Name = $"Agent {n}", StateInterface = $"Custom:agent{n}", Penalty = penalty };

    private static PbxSimOptions Options(Dictionary<string, Dictionary<string, List<string>>> plan, params QueueOptions[] queues) =>
        new() { AmiPort = 0, AriPort = 0, Dialplan = plan, Queues = [.. queues] };

    /// <summary>Originates a caller into exten@queues and returns its queue channel (the <c>;2</c> half) once it joined or was refused.</summary>
    private static async Task<(string Channel, List<string> Seen)> CallAsync(QueueRig rig, string exten, CancellationToken ct)
    {
        await rig.OriginateAsync($"Local/{exten}@queues", ct);

        // The originated pair is set up on PbxSim's side before the clock may move (its first media frame is a timer).
        var seen = await rig.ReadUntilAsync(m => QueueRig.Is(m, "OriginateResponse"), ct);
        rig.Advance(Tick);
        seen = await rig.ReadUntilAsync(m => QueueRig.Is(m, "QueueCallerJoin") || (QueueRig.Is(m, "VarSet", "Variable: AFTER")), ct);
        var channel = seen[^1].Split("\r\n").First(l => l.StartsWith("Channel: ", StringComparison.Ordinal))["Channel: ".Length..];
        return (channel, seen);
    }

    [Fact]
    public async Task ConfiguredQueues_ReplaceTheRecordingInstancesThree_AndShowTheirSettings()
    {
        var ct = TestContext.Current.CancellationToken;
        var billing = new QueueOptions
        {
            Name = "billing", Strategy = "leastrecent", MaxLen = 7, Weight = 3, ServiceLevel = 30,
            Members = [Agent(5), new() { Interface = "PJSIP/2001", WrapUpTime = 12, Paused = true }],
        };
        await using var rig = await QueueRig.StartAsync(Options(Plan(), billing, new QueueOptions { Name = "empty" }), ct);
        await rig.SendAsync("Action: QueueStatus\r\nActionID: st\r\n\r\n", ct);
        var status = await rig.ReadUntilAsync(m => m.Contains("Event: QueueStatusComplete", StringComparison.Ordinal), ct);

        var queues = status.Where(m => QueueRig.Is(m, "QueueParams")).ToList();
        Assert.Equal(2, queues.Count);
        Assert.Contains(queues, m => QueueRig.Is(m, "QueueParams", "Queue: billing", "Max: 7", "Strategy: leastrecent", "ServiceLevel: 30", "Weight: 3"));
        Assert.Contains(queues, m => QueueRig.Is(m, "QueueParams", "Queue: empty", "Max: 0", "Strategy: ringall", "Weight: 0"));
        Assert.DoesNotContain(status, m => m.Contains("Queue: support\r\n", StringComparison.Ordinal));
        Assert.Contains(status, m => QueueRig.Is(m, "QueueMember", "Queue: billing", "Name: Agent 5", "Location: Local/agent5@agents", "StateInterface: Custom:agent5", "Membership: static", "Paused: 0", "Wrapuptime: 0"));
        Assert.Contains(status, m => QueueRig.Is(m, "QueueMember", "Queue: billing", "Name: PJSIP/2001", "Location: PJSIP/2001", "StateInterface: PJSIP/2001", "Paused: 1", "Wrapuptime: 12"));
    }

    [Fact]
    public void InvalidQueueOptions_AreRefusedWithOneLinePerProblem()
    {
        var options = new PbxSimOptions
        {
            AmiPort = 0,
            AriPort = 0,
            Queues =
            [
                new() { Name = "a", Strategy = "fastest", WrapUpTime = -1, JoinEmpty = "paused,sometimes" },
                new() { Name = "a", AnnouncePosition = "maybe", Members = [new() { Interface = "agent1" }, new() { Interface = "PJSIP/1", Penalty = -2 }, new() { Interface = "PJSIP/1" }] },
                new() { Name = "bad name" },
            ],
        };

        var error = Assert.Throws<ArgumentException>(() => new PbxSimulator(options));

        Assert.Contains("PbxSim.Queues[0] 'a': Strategy 'fastest' is not an app_queue strategy", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[0] 'a': WrapUpTime must be 0 or more, got -1", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[0] 'a': JoinEmpty word 'sometimes' is not one of", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[1]: queue 'a' is defined twice", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[1] 'a': AnnouncePosition 'maybe' must be yes, no, limit or more", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[1] 'a' Members[0]: Interface 'agent1' is not a channel interface", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[1] 'a' Members[1]: Penalty must be 0 or more, got -2", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[1] 'a' Members[2]: Interface 'PJSIP/1' is listed twice in this queue", error.Message, StringComparison.Ordinal);
        Assert.Contains("PbxSim.Queues[2].Name: 'bad name' is not a queue name", error.Message, StringComparison.Ordinal);
        Assert.Equal(9, error.Message.Split('\n').Length - 1);
    }

    [Fact]
    public void SampleConfigFile_ConfiguresItsQueueAndHasNoProblems()
    {
        var path = Path.Combine(CtiBridge.TestSupport.RepositoryPaths.Root, "src", "CtiBridge.PbxSim", "pbxsim.sample.json");
        var config = System.Text.Json.JsonSerializer.Deserialize<PbxSimConfig>(File.ReadAllText(path), PbxSimConfig.JsonOptions)!;

        Assert.Empty(config.PbxSim.Problems());
        Assert.Empty(config.BehaviourProblems());
        Assert.Equal(["1002"], config.DialerPhones!.Endpoints);
        Assert.Equal(2, config.Traffic!.Profile.Count);
        var queue = Assert.Single(config.PbxSim.Queues!);
        Assert.Equal(("support", 5, 2), (queue.Name, queue.WrapUpTime, queue.Members.Count));
        Assert.Equal("PJSIP/1001", queue.Members[0].Interface);
    }

    [Fact]
    public async Task WrapUpTime_MemberIsNotRungAgainUntilItHasPassed()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = new QueueOptions { Name = "wrap", Retry = 5, WrapUpTime = 10, Members = [Agent(4)] };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("wrap", "wrap")), queue), ct);
        var (first, _) = await CallAsync(rig, "wrap", ct);
        rig.Advance(TimeSpan.FromSeconds(1.2));
        await rig.ReadUntilAsync(m => QueueRig.Is(m, "AgentConnect", "Queue: wrap"), ct);

        // The caller hangs up: the call completes and agent4's wrap-up starts.
        await rig.SendAsync($"Action: Hangup\r\nChannel: {first[..^2]};1\r\n\r\n", ct);
        await rig.ReadUntilAsync(m => QueueRig.Is(m, "AgentComplete", "Queue: wrap"), ct);
        await CallAsync(rig, "wrap", ct);
        rig.Advance(TimeSpan.FromSeconds(9.5));
        var inWrapUp = await rig.DrainAsync(ct);
        Assert.DoesNotContain(inWrapUp, m => QueueRig.Is(m, "AgentCalled"));

        rig.Advance(TimeSpan.FromSeconds(1));
        var after = await rig.DrainAsync(ct);
        Assert.Single(after, m => QueueRig.Is(m, "AgentCalled", "Queue: wrap", "Interface: Local/agent4@agents"));
    }

    [Fact]
    public async Task MaxLen_CallerBeyondItIsRefusedWithFullAndTheDialplanGoesOn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await QueueRig.StartAsync(Options(Plan(("small", "small")), new QueueOptions { Name = "small", MaxLen = 1 }), ct);
        var (_, first) = await CallAsync(rig, "small", ct);
        Assert.True(QueueRig.Is(first[^1], "QueueCallerJoin", "Queue: small", "Position: 1", "Count: 1"));

        var (second, refused) = await CallAsync(rig, "small", ct);

        Assert.True(QueueRig.Is(refused[^1], "VarSet", "Variable: AFTER", "Value: FULL"), QueueRig.Summary(refused[^1]));
        Assert.Contains(refused, m => QueueRig.Is(m, "VarSet", "Channel: " + second, "Variable: QUEUESTATUS", "Value: FULL"));
        Assert.DoesNotContain(refused, m => QueueRig.Is(m, "QueueCallerJoin") || QueueRig.Is(m, "MusicOnHoldStart", "Channel: " + second));
        Assert.Single(rig.QueueLog(), l => l.Contains("|small|NONE|ENTERQUEUE|", StringComparison.Ordinal));
    }

    [Fact]
    public async Task JoinEmpty_PausedMembersDoNotCount_CallerIsRefusedUntilOneIsUnpaused()
    {
        var ct = TestContext.Current.CancellationToken;
        var member = Agent(4);
        member.Paused = true;
        var queue = new QueueOptions { Name = "strict", JoinEmpty = "paused,unavailable", Members = [member] };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("strict", "strict")), queue), ct);

        var (_, refused) = await CallAsync(rig, "strict", ct);
        Assert.True(QueueRig.Is(refused[^1], "VarSet", "Variable: AFTER", "Value: JOINEMPTY"), QueueRig.Summary(refused[^1]));

        await rig.SendAsync("Action: QueuePause\r\nQueue: strict\r\nInterface: Local/agent4@agents\r\nPaused: false\r\n\r\n", ct);
        var (_, joined) = await CallAsync(rig, "strict", ct);
        Assert.True(QueueRig.Is(joined[^1], "QueueCallerJoin", "Queue: strict"), QueueRig.Summary(joined[^1]));
    }

    [Fact]
    public async Task LeaveWhenEmpty_WaitingCallerLeavesWithinASecondOfTheLastMemberPausing()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = new QueueOptions { Name = "leave", LeaveWhenEmpty = "paused", Members = [Agent(4)] };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("leave", "leave")), queue), ct);

        // agent4 is busy elsewhere: the caller waits (inuse does not count as empty here).
        await rig.SendAsync("Action: Command\r\nCommand: devstate change Custom:agent4 INUSE\r\n\r\n", ct);
        var (caller, _) = await CallAsync(rig, "leave", ct);
        rig.Advance(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(await rig.DrainAsync(ct), m => QueueRig.Is(m, "QueueCallerLeave"));

        await rig.SendAsync("Action: QueuePause\r\nQueue: leave\r\nInterface: Local/agent4@agents\r\nPaused: true\r\n\r\n", ct);
        rig.Advance(TimeSpan.FromSeconds(1));
        var left = await rig.DrainAsync(ct);

        Assert.Contains(left, m => QueueRig.Is(m, "QueueCallerLeave", "Channel: " + caller, "Queue: leave", "Count: 0"));
        Assert.Contains(left, m => QueueRig.Is(m, "VarSet", "Channel: " + caller, "Variable: AFTER", "Value: LEAVEEMPTY"));
        Assert.Contains(left, m => QueueRig.Is(m, "MusicOnHoldStop", "Channel: " + caller));

        // Left from the waiting loop: not counted as an abandon (app_queue's wait_our_turn).
        Assert.DoesNotContain(left, m => QueueRig.Is(m, "QueueCallerAbandon"));
        Assert.Contains(rig.QueueLog(), l => l.Contains("|leave|NONE|EXITEMPTY|1|1|", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Weight_SharedMemberGoesToTheHeavierQueuesCallerFirst()
    {
        var ct = TestContext.Current.CancellationToken;
        var light = new QueueOptions { Name = "light", Retry = 2, Members = [Agent(4)] };
        var heavy = new QueueOptions { Name = "heavy", Retry = 5, Weight = 10, Members = [Agent(4)] };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("light", "light"), ("heavy", "heavy")), light, heavy), ct);
        await rig.SendAsync("Action: Command\r\nCommand: devstate change Custom:agent4 INUSE\r\n\r\n", ct);
        await CallAsync(rig, "light", ct);
        await CallAsync(rig, "heavy", ct);

        // agent4 comes free; the light queue retries first (every 2 s) but must leave agent4 to the heavy queue.
        await rig.SendAsync("Action: Command\r\nCommand: devstate change Custom:agent4 NOT_INUSE\r\n\r\n", ct);
        rig.Advance(TimeSpan.FromSeconds(5.5));
        var seen = await rig.DrainAsync(ct);

        var called = seen.Where(m => QueueRig.Is(m, "AgentCalled")).ToList();
        Assert.NotEmpty(called);
        Assert.True(QueueRig.Is(called[0], "AgentCalled", "Queue: heavy", "Interface: Local/agent4@agents"), string.Join(" / ", called.Select(QueueRig.Summary)));
        Assert.DoesNotContain(called, m => m.Contains("Queue: light\r\n", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Weight_Zero_FirstRetryWins()
    {
        var ct = TestContext.Current.CancellationToken;
        var light = new QueueOptions { Name = "light", Retry = 2, Members = [Agent(4)] };
        var other = new QueueOptions { Name = "other", Retry = 5, Members = [Agent(4)] };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("light", "light"), ("other", "other")), light, other), ct);
        await rig.SendAsync("Action: Command\r\nCommand: devstate change Custom:agent4 INUSE\r\n\r\n", ct);
        await CallAsync(rig, "light", ct);
        await CallAsync(rig, "other", ct);
        await rig.SendAsync("Action: Command\r\nCommand: devstate change Custom:agent4 NOT_INUSE\r\n\r\n", ct);
        rig.Advance(TimeSpan.FromSeconds(5.5));
        var called = (await rig.DrainAsync(ct)).Where(m => QueueRig.Is(m, "AgentCalled")).ToList();

        Assert.NotEmpty(called);
        Assert.True(QueueRig.Is(called[0], "AgentCalled", "Queue: light"), string.Join(" / ", called.Select(QueueRig.Summary)));
    }

    [Fact]
    public async Task PositionAnnouncements_WaitingCallersHearTheirPlaceBetweenMusic()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = new QueueOptions { Name = "ann", AnnounceFrequency = 30, MinAnnounceFrequency = 15 };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("ann", "ann")), queue), ct);
        var (first, _) = await CallAsync(rig, "ann", ct);
        var (second, _) = await CallAsync(rig, "ann", ct);
        var joined = await rig.DrainAsync(ct);

        // Music stops at once for the announcement ...
        Assert.Contains(joined, m => QueueRig.Is(m, "MusicOnHoldStop", "Channel: " + second));
        Assert.Equal(["sound:queue-youarenext", "sound:queue-thankyou"], rig.Sim.MediaPlayedOn(first));
        Assert.Equal(["sound:queue-thereare", "number:2", "sound:queue-callswaiting", "sound:queue-thankyou"], rig.Sim.MediaPlayedOn(second));

        // ... and starts again when it is over (queue-thereare 1.0 + "2" 0.5 + callswaiting 1.4 + thankyou 1.9 = 4.8 s;
        // the caller joined at most one 100 ms step ago).
        rig.Advance(TimeSpan.FromSeconds(4.6));
        Assert.DoesNotContain(await rig.DrainAsync(ct), m => QueueRig.Is(m, "MusicOnHoldStart", "Channel: " + second));
        rig.Advance(TimeSpan.FromSeconds(0.3));
        Assert.Contains(await rig.DrainAsync(ct), m => QueueRig.Is(m, "MusicOnHoldStart", "Channel: " + second, "Class: default"));

        // The same position is not announced again before announce-frequency (30 s).
        rig.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(4, rig.Sim.MediaPlayedOn(second).Count);
        rig.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(8, rig.Sim.MediaPlayedOn(second).Count);
    }

    [Fact]
    public async Task PeriodicAnnouncements_PlayInTurnEveryFrequencySeconds()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = new QueueOptions { Name = "per", PeriodicAnnounceFrequency = 20, PeriodicAnnounce = ["queue-periodic-announce", "tt-monkeys"], MusicClass = "jazz" };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("per", "per")), queue), ct);
        var (caller, _) = await CallAsync(rig, "per", ct);
        Assert.Contains(await rig.DrainAsync(ct), m => QueueRig.Is(m, "MusicOnHoldStart", "Channel: " + caller, "Class: jazz"));

        rig.Advance(TimeSpan.FromSeconds(19));
        Assert.Empty(rig.Sim.MediaPlayedOn(caller));
        rig.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["sound:queue-periodic-announce"], rig.Sim.MediaPlayedOn(caller));
        rig.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(["sound:queue-periodic-announce", "sound:tt-monkeys"], rig.Sim.MediaPlayedOn(caller));
        rig.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal("sound:queue-periodic-announce", rig.Sim.MediaPlayedOn(caller)[^1]);
        rig.Advance(TimeSpan.FromSeconds(5));
        var music = (await rig.DrainAsync(ct)).Where(m => m.Contains("Channel: " + caller + "\r\n", StringComparison.Ordinal)
            && (QueueRig.Is(m, "MusicOnHoldStart") || QueueRig.Is(m, "MusicOnHoldStop"))).Select(m => m.Split("\r\n")[0]).ToList();
        Assert.Equal(["Event: MusicOnHoldStop", "Event: MusicOnHoldStart", "Event: MusicOnHoldStop", "Event: MusicOnHoldStart", "Event: MusicOnHoldStop", "Event: MusicOnHoldStart"], music);
    }

    [Fact]
    public async Task OptionN_CallerLeavesAfterEveryMemberWasTriedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = new QueueOptions
        {
            Name = "once", Strategy = "linear", Timeout = 3, Retry = 1,
            Members = [new() { Interface = "Local/noanswer9@agents", Name = "Never Answers" }],
        };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("once", "once,n")), queue), ct);
        var (caller, _) = await CallAsync(rig, "once", ct);
        rig.Advance(TimeSpan.FromSeconds(3.1));
        var seen = await rig.DrainAsync(ct);

        Assert.Contains(seen, m => QueueRig.Is(m, "AgentRingNoAnswer", "Queue: once"));
        Assert.Contains(seen, m => QueueRig.Is(m, "QueueCallerAbandon", "Channel: " + caller, "Queue: once", "Position: 1", "OriginalPosition: 1", "HoldTime: 3"));
        Assert.Contains(seen, m => QueueRig.Is(m, "VarSet", "Channel: " + caller, "Variable: AFTER", "Value: TIMEOUT"));
        Assert.Single(seen, m => QueueRig.Is(m, "AgentCalled"));
        Assert.Contains(rig.QueueLog(), l => l.Contains("|once|NONE|EXITWITHTIMEOUT|1|1|3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OptionR_LowerCase_RingingInsteadOfMusic_UpperCase_MusicUntilAMemberRings()
    {
        var ct = TestContext.Current.CancellationToken;
        var ring = new QueueOptions { Name = "ring" };
        var ringWhen = new QueueOptions { Name = "ringwhen", Members = [Agent(4)] };
        await using var rig = await QueueRig.StartAsync(Options(Plan(("ring", "ring,r"), ("ringwhen", "ringwhen,R")), ring, ringWhen), ct);
        var (ringing, _) = await CallAsync(rig, "ring", ct);
        var (musicFirst, _) = await CallAsync(rig, "ringwhen", ct);
        rig.Advance(Tick);
        var seen = await rig.DrainAsync(ct);

        Assert.DoesNotContain(seen, m => QueueRig.Is(m, "MusicOnHoldStart", "Channel: " + ringing));
        var forR = seen.Where(m => m.Contains("Channel: " + musicFirst + "\r\n", StringComparison.Ordinal)
            && (QueueRig.Is(m, "MusicOnHoldStart") || QueueRig.Is(m, "MusicOnHoldStop"))).Select(m => m.Split("\r\n")[0]).ToList();
        Assert.Equal(["Event: MusicOnHoldStart", "Event: MusicOnHoldStop"], forR);
    }

    [Fact]
    public async Task PositionArgument_PutsTheCallerAheadOfThoseWaiting()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await QueueRig.StartAsync(Options(Plan(("line", "line"), ("vip", "line,,,,,,,,1")), new QueueOptions { Name = "line" }), ct);
        await CallAsync(rig, "line", ct);
        await CallAsync(rig, "line", ct);
        var (_, vip) = await CallAsync(rig, "vip", ct);

        Assert.True(QueueRig.Is(vip[^1], "QueueCallerJoin", "Queue: line", "Position: 1", "Count: 3"), QueueRig.Summary(vip[^1]));
    }
}
