using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

public sealed class CallerExperienceTests
{
    private static QueueConfiguration Announcing(QueueConfiguration q) => q with
    {
        DefaultHandleTime = TimeSpan.FromSeconds(120),
        Experience = new CallerExperience
        {
            MusicOnHoldClass = "calm",
            JoinPrompt = "welcome",
            AnnouncePositionOnJoin = true,
            PositionAnnouncementPeriod = TimeSpan.FromSeconds(60),
            PeriodicPrompt = "press-1-for-callback",
            PeriodicPromptPeriod = TimeSpan.FromSeconds(45),
        },
    };

    [Fact]
    public void Join_BusyQueue_MusicClassWelcomeAndPositionWithExpectedWait()
    {
        var h = new AcdHarness([Queue("q", tweak: Announcing)], [Agent("a1", "q"), Agent("a2", "q")]);
        h.Login("a1");
        h.Login("a2");
        h.Arrive("b1", "q", 0);
        h.Answer("b1", "a1", 0);
        h.Arrive("b2", "q", 0);
        h.Answer("b2", "a2", 0);
        h.Outbox.Clear();

        h.Arrive("c1", "q", 1);
        h.Arrive("c2", "q", 2);

        Assert.Equal("calm", h.Commands<StartMusicOnHold>().First().MusicClass);
        Assert.Equal("welcome", h.Commands<PlayPrompt>().First().Prompt);
        var announcements = h.Commands<AnnouncePosition>().ToList();
        Assert.Equal([1, 2], announcements.Select(a => a.Position));
        // 2 serving agents, 0 ready, 120 s handle time: position 1 → 60 s, position 2 → 120 s.
        Assert.Equal([TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120)], announcements.Select(a => a.ExpectedWait!.Value));
    }

    [Fact]
    public void ExpectedWait_ComesFromRecentHandleTimesNotAConstant()
    {
        var h = new AcdHarness([Queue("q", tweak: q => Announcing(q) with { WrapUp = TimeSpan.FromSeconds(10) })], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("b1", "q", 0);
        h.Answer("b1", "a1", 0);
        h.HangUp("b1", 290);
        h.AdvanceTo(300); // handled: 290 s talk + 10 s wrap-up = 300 s
        h.Arrive("b2", "q", 300);
        h.Answer("b2", "a1", 300);
        h.Outbox.Clear();

        h.Arrive("c1", "q", 301);

        Assert.Equal(TimeSpan.FromSeconds(300), h.Commands<AnnouncePosition>().Single().ExpectedWait);
        Assert.Equal(TimeSpan.FromSeconds(300), h.Engine.GetQueueStatus("q").AverageHandleTime);
    }

    [Fact]
    public void ExpectedWait_NobodyServing_PositionOnly()
    {
        var h = new AcdHarness([Queue("q", tweak: Announcing)], [Agent("a1", "q")]);

        h.Arrive("c1", "q", 0);

        var a = h.Commands<AnnouncePosition>().Single();
        Assert.Equal((1, (TimeSpan?)null), (a.Position, a.ExpectedWait));
    }

    [Fact]
    public void PeriodicAnnouncements_RepeatWhileWaiting_StopWhenAnswered()
    {
        var h = new AcdHarness([Queue("q", tweak: Announcing)], [Agent("a1", "q")]);
        h.Arrive("c1", "q", 0);

        h.AdvanceTo(130);
        Assert.Equal(3, h.Commands<AnnouncePosition>().Count()); // join, 60 s, 120 s
        Assert.Equal(2, h.Commands<PlayPrompt>().Count(p => p.Prompt == "press-1-for-callback")); // 45 s, 90 s
        h.Login("a1", at: 131);
        h.Answer("c1", "a1", 132);
        h.AdvanceTo(400);

        Assert.Equal(3, h.Commands<AnnouncePosition>().Count());
    }

    [Fact]
    public void AnnounceAgentId_Configured_PlayedToCallerBeforeConnect()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { Experience = q.Experience with { AnnounceAgentId = true } })], [Agent("1007", "q")]);
        h.Login("1007");
        h.Arrive("c1", "q", 0);

        h.Answer("c1", "1007", 3);

        var tail = h.Outbox.Commands.SkipWhile(c => c is not AnnounceAgentId).ToList();
        Assert.Equal("1007", Assert.IsType<AnnounceAgentId>(tail[0]).AgentId);
        Assert.IsType<ConnectAgent>(tail[1]);
    }

    [Fact]
    public void RoutingExplanation_WhyDidThisCallGoToBob_ListsEverySkippedAgentWithReason()
    {
        var h = new AcdHarness([Queue("q")], [Agent("alice", "q"), Agent("bob", "q"), Agent("carol", "q"), Agent("dave", "q:3")]);
        h.Login("alice", at: 0);
        h.Login("bob", at: 1);
        h.Login("carol", at: 2);
        h.Login("dave", at: 2.5);
        h.At(3, t => new AgentPause(t, "alice", PauseReasons.Training));

        h.Arrive("c1", "q", 10);

        var d = h.Events<RoutingDecision>().Single();
        Assert.Equal(["bob"], d.ChosenAgents);
        Assert.Equal((RoutingTrigger.CallEnqueued, "leastrecent"), (d.Trigger, d.Strategy));
        Assert.Equal("idle longest (9 s)", d.Why["leastrecent: ".Length..]);
        Assert.Equal(SkipReason.Paused, d.Candidates.Single(c => c.AgentId == "alice").Skip);
        Assert.Equal("training", d.Candidates.Single(c => c.AgentId == "alice").Detail);
        Assert.Equal(SkipReason.NotPreferredByStrategy, d.Candidates.Single(c => c.AgentId == "carol").Skip);
        Assert.Equal(SkipReason.LowerTierAvailable, d.Candidates.Single(c => c.AgentId == "dave").Skip);
        Assert.True(d.Candidates.Single(c => c.AgentId == "bob").Chosen);
        Assert.Equal(1, d.SkippedCounts[SkipReason.Paused]);
    }
}
