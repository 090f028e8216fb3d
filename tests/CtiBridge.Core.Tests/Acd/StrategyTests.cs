using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

public sealed class StrategyTests
{
    private static AcdHarness ThreeAgents(string strategy, Func<QueueConfiguration, QueueConfiguration>? tweak = null) => new(
        [Queue("q", strategy, tweak)],
        [Agent("a1", "q"), Agent("a2", "q"), Agent("a3", "q")]);

    /// <summary>Answers and completes a call with no wrap-up in between (queues in these tests have WrapUp 0 when needed).</summary>
    private static string Serve(AcdHarness h, string call, double at, double talk = 10)
    {
        h.Arrive(call, "q", at);
        var agent = h.RungFor(call).Last();
        h.Answer(call, agent, at);
        h.HangUp(call, at + talk);
        return agent;
    }

    private static Func<QueueConfiguration, QueueConfiguration> NoWrapUp => q => q with { WrapUp = TimeSpan.Zero };

    [Fact]
    public void UnknownStrategyName_ConfigurationError_SuggestsClosestName()
    {
        var e = Assert.Throws<AcdConfigurationException>(() => ThreeAgents("leastrecnt"));

        Assert.Contains("Unknown distribution strategy 'leastrecnt' in queue 'q'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Did you mean 'leastrecent'?", e.Message, StringComparison.Ordinal);
        Assert.Contains("rrmemory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registry_KnowsEveryAppQueueNamePlusOwnStrategies()
    {
        var names = new DistributionStrategies().Names;

        Assert.Equal(
            ["fewestcalls", "least-talk-time", "leastrecent", "linear", "random", "ringall", "rrmemory", "rrordered", "skills", "sticky", "wrandom"],
            names);
    }

    [Fact]
    public void Registry_CustomStrategyRegisteredByName_QueueUsesIt()
    {
        var strategies = new DistributionStrategies();
        strategies.Register(new LastInListStrategy());
        var outbox = new AcdOutbox();
        var engine = new AcdEngine(new AcdConfiguration { Queues = [Queue("q", "last-in-list")], Agents = [Agent("a1", "q"), Agent("a2", "q")] }, outbox, T0, strategies);
        engine.Handle(new AgentLogin(T0, "a1", "1", "1234"));
        engine.Handle(new AgentLogin(T0, "a2", "2", "1234"));

        engine.Handle(new CallArrived(T0, "c1", "q", new CallerData()));

        Assert.Equal("a2", outbox.Commands.OfType<RingAgent>().Single().AgentId);
    }

    private sealed class LastInListStrategy : IDistributionStrategy
    {
        public string Name => "last-in-list";

        public bool UsesPenaltyTiers => true;

        public StrategyChoice Choose(in StrategyContext context, ReadOnlySpan<RoutingCandidate> candidates) => StrategyChoice.One(candidates.Length - 1, "last");
    }

    [Fact]
    public void LeastRecent_ThreeReadyAgents_LongestIdleGetsTheCall()
    {
        var h = ThreeAgents("leastrecent", NoWrapUp);
        h.Login("a1", at: 0);
        h.Login("a2", at: 1);
        h.Login("a3", at: 2);

        Assert.Equal("a1", Serve(h, "c1", 10));
        Assert.Equal("a2", Serve(h, "c2", 30));
        Assert.Equal("a3", Serve(h, "c3", 50));
        Assert.Equal("a1", Serve(h, "c4", 70));
        var why = h.Events<RoutingDecision>().First().Why;
        Assert.StartsWith("leastrecent: idle longest (10 s)", why, StringComparison.Ordinal);
    }

    [Fact]
    public void FewestCalls_AgentWithFewestAnsweredCalls_GetsTheCall()
    {
        var h = ThreeAgents("fewestcalls", NoWrapUp);
        h.Login("a1", at: 0);
        Serve(h, "c1", 1);
        Serve(h, "c2", 20);
        h.Login("a2", at: 40);
        Serve(h, "c3", 41);
        h.Login("a3", at: 60);

        Assert.Equal("a3", Serve(h, "c4", 61));
        Assert.Equal("a2", Serve(h, "c5", 80));
    }

    [Fact]
    public void RingAll_ThreeReady_AllRingFirstAnswerWinsOthersStop()
    {
        var h = ThreeAgents("ringall");
        h.Login("a1");
        h.Login("a2");
        h.Login("a3");

        h.Arrive("c1", "q", 1);
        Assert.Equal(["a1", "a2", "a3"], h.RungFor("c1").Order());
        h.Answer("c1", "a2", 3);

        Assert.Equal(AgentState.OnCall, h.StateOf("a2"));
        Assert.Equal(["a1", "a3"], h.Commands<StopRinging>().Select(s => s.AgentId).Order());
        Assert.All(h.Events<CallOfferEnded>(), e => Assert.Equal(OfferEnd.Withdrawn, e.End));
        Assert.Equal(AgentState.Ready, h.StateOf("a1"));
        Assert.False(h.Answer("c1", "a1", 4).Accepted);
    }

    [Fact]
    public void Linear_AlwaysHuntsFromTheTopOfConfiguredOrder()
    {
        var h = ThreeAgents("linear", q => q with { WrapUp = TimeSpan.Zero, MemberOrder = ["a3", "a1", "a2"] });
        h.Login("a1");
        h.Login("a2");
        h.Login("a3");

        Assert.Equal("a3", Serve(h, "c1", 1));
        Assert.Equal("a3", Serve(h, "c2", 20));
        h.Arrive("c3", "q", 40);
        h.Answer("c3", "a3", 40);
        Assert.Equal("a1", Serve(h, "c4", 41));
    }

    [Fact]
    public void RrMemory_RoundRobinContinuesAfterLastAgentRung()
    {
        var h = ThreeAgents("rrmemory", NoWrapUp);
        h.Login("a1");
        h.Login("a2");
        h.Login("a3");

        Assert.Equal(["a1", "a2", "a3", "a1"], [Serve(h, "c1", 1), Serve(h, "c2", 20), Serve(h, "c3", 40), Serve(h, "c4", 60)]);
    }

    [Fact]
    public void RrOrdered_RoundRobinInConfiguredOrder()
    {
        var h = ThreeAgents("rrordered", q => q with { WrapUp = TimeSpan.Zero, MemberOrder = ["a2", "a3", "a1"] });
        h.Login("a1");
        h.Login("a2");
        h.Login("a3");

        Assert.Equal(["a2", "a3", "a1", "a2"], [Serve(h, "c1", 1), Serve(h, "c2", 20), Serve(h, "c3", 40), Serve(h, "c4", 60)]);
    }

    [Fact]
    public void Random_SameSeed_SameChoicesAndOnlyReadyAgents()
    {
        List<string> Run()
        {
            var h = ThreeAgents("random", NoWrapUp);
            h.Login("a1");
            h.Login("a2");
            h.Login("a3");
            h.At(0.5, t => new AgentPause(t, "a3", PauseReasons.Break));
            return [.. Enumerable.Range(0, 30).Select(i => Serve(h, "c" + i, 1 + (i * 20)))];
        }

        var first = Run();
        Assert.Equal(first, Run());
        Assert.DoesNotContain("a3", first);
        Assert.Contains("a1", first);
        Assert.Contains("a2", first);
    }

    [Fact]
    public void WRandom_LowerPenaltyWinsMoreOftenButHigherPenaltyStillGetsCalls()
    {
        var h = new AcdHarness([Queue("q", "wrandom", NoWrapUp)], [Agent("low", "q:0"), Agent("high", "q:4")]);
        h.Login("low");
        h.Login("high");

        var winners = Enumerable.Range(0, 400).Select(i => Serve(h, "c" + i, 1 + (i * 20))).ToList();

        var low = winners.Count(w => w == "low");
        Assert.InRange(low, 300, 399); // P(low) ≈ 0.9 with draws mod 1000 vs mod 5000
        Assert.Contains("high", winners);
    }

    [Fact]
    public void LeastTalkTime_AgentWithLeastTalkThisSession_GetsTheCall()
    {
        var h = ThreeAgents("least-talk-time", NoWrapUp);
        h.Login("a1", at: 0);
        h.Login("a2", at: 0);
        Serve(h, "c1", 1, talk: 300); // a1 talks 300 s
        Serve(h, "c2", 400, talk: 10); // a2 talks 10 s
        Assert.Equal("a2", Serve(h, "c3", 500, talk: 10));
        Assert.Equal("a2", Serve(h, "c4", 600, talk: 10));
    }

    [Fact]
    public void Skills_BestLevelForRequiredSkillWins_AgentWithoutSkillSkipped()
    {
        var h = new AcdHarness([Queue("q", "skills")], [
            Agent("novice", "q") with { Skills = new Dictionary<string, int> { ["cantonese"] = 2 } },
            Agent("expert", "q") with { Skills = new Dictionary<string, int> { ["cantonese"] = 9 } },
            Agent("none", "q")]);
        h.Login("none");
        h.Login("novice");
        h.Login("expert");

        h.Arrive("c1", "q", 1, new CallerData { RequiredSkills = ["cantonese"] });

        Assert.Equal(["expert"], h.RungFor("c1"));
        var d = h.Events<RoutingDecision>().Single();
        Assert.Contains(d.Candidates, c => c.AgentId == "none" && c.Skip == SkipReason.MissingSkill);
        Assert.Contains(d.Candidates, c => c.AgentId == "novice" && c.Skip == SkipReason.NotPreferredByStrategy);
        Assert.Contains("score 9", d.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Sticky_ReturningCaller_RoutedToLastAgentEvenIfNotLongestIdle()
    {
        var h = ThreeAgents("sticky", NoWrapUp);
        h.Login("a1", at: 0);
        h.Login("a2", at: 1);
        var caller = new CallerData { CallerNumber = "13800000000" };
        h.Arrive("c1", "q", 5, caller);
        Assert.Equal(["a1"], h.RungFor("c1"));
        h.Answer("c1", "a1", 6);
        h.HangUp("c1", 60);

        h.Arrive("c2", "q", 100, caller);

        Assert.Equal(["a1"], h.RungFor("c2"));
        Assert.Contains("preferred agent is ready", h.Events<RoutingDecision>().Last().Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Sticky_AssignedAgentBusy_CallWaitsForThemUntilStickyWaitThenFallback()
    {
        var h = ThreeAgents("sticky", q => q with { StickyWait = TimeSpan.FromSeconds(20) });
        h.Login("a1", at: 0);
        h.Login("a2", at: 1);
        h.Arrive("busy", "q", 2);
        h.Answer("busy", "a1", 2); // a1 is now on a call
        Assert.Equal(["a1"], h.RungFor("busy"));

        h.Arrive("vip", "q", 10, new CallerData { AssignedAgentId = "a1" });
        Assert.Empty(h.RungFor("vip"));
        Assert.Contains("waiting for preferred agent a1", h.Events<RoutingDecision>().Last().Why, StringComparison.Ordinal);

        h.AdvanceTo(30);
        Assert.Equal(["a2"], h.RungFor("vip"));
    }

    [Fact]
    public void Sticky_AssignedAgentFreesWithinStickyWait_TakesHeldCall()
    {
        var h = ThreeAgents("sticky", q => q with { WrapUp = TimeSpan.Zero });
        h.Login("a1", at: 0);
        h.Login("a2", at: 1);
        h.Arrive("busy", "q", 2);
        h.Answer("busy", "a1", 2);
        h.Arrive("mine", "q", 3, new CallerData { AssignedAgentId = "a1" });

        h.HangUp("busy", 8);

        Assert.Equal(["a1"], h.RungFor("mine"));
    }

    [Fact]
    public void Penalty_LowerTierReady_HigherTierSkippedAsLowerTierAvailable()
    {
        var h = new AcdHarness([Queue("q")], [Agent("backup", "q:5"), Agent("main", "q:0")]);
        h.Login("backup", at: 0);
        h.Login("main", at: 10);

        h.Arrive("c1", "q", 20);

        Assert.Equal(["main"], h.RungFor("c1"));
        var skipped = h.Events<RoutingDecision>().Single().Candidates.Single(c => c.AgentId == "backup");
        Assert.Equal(SkipReason.LowerTierAvailable, skipped.Skip);
    }

    [Fact]
    public void PenaltyWidening_CallWaitsLongEnough_HigherTierAllowed()
    {
        var h = new AcdHarness(
            [Queue("q", tweak: q => q with { InitialMaxPenalty = 0, PenaltySteps = [new PenaltyStep(TimeSpan.FromSeconds(30), 5)] })],
            [Agent("main", "q:0"), Agent("backup", "q:5")]);
        h.Login("main");
        h.Login("backup");
        h.Arrive("c0", "q", 1);
        h.Answer("c0", "main", 1);

        h.Arrive("c1", "q", 2);
        Assert.Empty(h.RungFor("c1"));
        Assert.Equal(SkipReason.PenaltyNotYetAllowed, h.Events<RoutingDecision>().Last().Candidates.Single(c => c.AgentId == "backup").Skip);
        h.AdvanceTo(31.9);
        Assert.Empty(h.RungFor("c1"));
        h.AdvanceTo(32);
        Assert.Equal(["backup"], h.RungFor("c1"));
    }
}
