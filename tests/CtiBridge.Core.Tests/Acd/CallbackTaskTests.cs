using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>Callback tasks in the engine: the virtual place in line of a queue callback, and scheduled callbacks as priority outbound tasks.</summary>
public sealed class CallbackTaskTests
{
    private static AcdHarness Harness(Func<QueueConfiguration, QueueConfiguration>? tweak = null) =>
        new([Queue("sales", tweak: q => (tweak ?? (x => x))(q with { ExitKeys = new Dictionary<char, OverflowTarget> { ['1'] = OverflowTarget.ToCallbackOffer() } }))],
            [Agent("a1", "sales"), Agent("a2", "sales")]);

    private static CallerData Customer(string number, int? priority = null) => new()
    {
        CallerNumber = number, Priority = priority, Attributes = new Dictionary<string, string> { ["callbackId"] = "cb-" + number },
    };

    [Fact]
    public void AQueueCallback_IsServedInThePositionItsCallerHad()
    {
        var h = Harness();
        h.Login("a1");
        h.At(1, t => new AgentPause(t, "a1", PauseReasons.Break));
        h.Arrive("A", "sales", 10);
        h.Arrive("B", "sales", 20);
        // A presses 1 (callback) at 30 and hangs up; the callback task keeps A's place (entered at 10).
        Assert.True(h.At(30, t => new CallerPressedKey(t, "A", '1')).Accepted);
        Assert.True(h.At(30, t => new CallbackQueued(t, "cb-A", "sales", Customer("555A"), h.Now.AddSeconds(-20))).Accepted);
        h.Arrive("C", "sales", 40);

        Assert.Equal(["cb-A", "B", "C"], h.Engine.GetWaitingCalls("sales").Select(w => w.CallId));
        Assert.Empty(h.Commands<RingAgent>());
        h.At(50, t => new AgentResume(t, "a1"));

        var ring = Assert.Single(h.Commands<RingAgent>());
        Assert.Equal(("cb-A", "a1"), (ring.CallId, ring.AgentId));
        Assert.Equal("cb-555A", ring.Caller.Attributes["callbackId"]);
        Assert.True(h.Answer("cb-A", "a1", 55).Accepted);
        Assert.Single(h.Commands<ConnectAgent>(), c => c.CallId == "cb-A");
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void AnOwnedCallback_WaitsForItsOwner_ThenGoesToTheQueueAfterTheGrace()
    {
        var h = Harness();
        h.Login("a1");
        h.Login("a2");
        h.At(1, t => new AgentPause(t, "a1", PauseReasons.Break));

        // Owned by a1 (paused) for 60 s: a2 is ready but is not offered it.
        Assert.True(h.At(10, t => new CallbackQueued(t, "cb-1", "sales", Customer("5551")) { OwnerAgentId = "a1", OwnerUntil = t.AddSeconds(60) }).Accepted);
        h.AdvanceTo(69);
        Assert.Empty(h.Commands<RingAgent>());
        var held = h.Outbox.Events.OfType<RoutingDecision>().Last(d => d.CallId == "cb-1");
        Assert.True(held.SkippedCounts.ContainsKey(SkipReason.HeldForPreferredAgent));

        // The grace is over: any agent of the queue.
        h.AdvanceTo(71);
        var ring = Assert.Single(h.Commands<RingAgent>());
        Assert.Equal(("cb-1", "a2"), (ring.CallId, ring.AgentId));
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void AnOwnedCallback_GoesToItsOwnerAsSoonAsTheOwnerIsReady_AheadOfOthersWaiting()
    {
        var h = Harness();
        h.Login("a1");
        h.Login("a2");
        h.At(1, t => new AgentPause(t, "a1", PauseReasons.Break));
        h.At(1, t => new AgentPause(t, "a2", PauseReasons.Break));
        Assert.True(h.At(10, t => new CallbackQueued(t, "cb-1", "sales", Customer("5551")) { OwnerAgentId = "a1", OwnerUntil = t.AddMinutes(15) }).Accepted);
        Assert.True(h.At(11, t => new CallbackQueued(t, "cb-2", "sales", Customer("5552"))).Accepted);

        // a2 comes back first: it takes the unowned one (cb-1 is held for a1 although it is ahead).
        h.At(20, t => new AgentResume(t, "a2"));
        h.At(21, t => new AgentResume(t, "a1"));

        var rings = h.Commands<RingAgent>().Select(r => (r.CallId, r.AgentId)).ToList();
        Assert.Equal([("cb-2", "a2"), ("cb-1", "a1")], rings);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void ACallbackTask_GetsNoMusicPromptsOrOverflow()
    {
        var h = Harness(q => q with
        {
            Experience = new CallerExperience { AnnouncePositionOnJoin = true, PositionAnnouncementPeriod = TimeSpan.FromSeconds(30), JoinPrompt = "welcome" },
            Overflow = [new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToDisconnect(), TimeSpan.FromSeconds(60))],
            Hours = BusinessHours.Weekdays(new(20, 0), new(21, 0)),
            LeaveWhen = EmptyQueueCondition.NoAgentsServing,
        });
        h.Login("a1");
        h.At(1, t => new AgentPause(t, "a1", PauseReasons.Break));
        h.Outbox.Clear();

        Assert.True(h.At(5, t => new CallbackQueued(t, "cb-1", "sales", Customer("5551"))).Accepted);
        h.AdvanceTo(600);

        Assert.Empty(h.Outbox.Commands);
        Assert.Equal(["cb-1"], h.Engine.GetWaitingCalls("sales").Select(w => w.CallId));
        Assert.False(h.At(601, t => new CallerPressedKey(t, "cb-1", '1')).Accepted);
    }

    // docs/metrics.md §3a (version 3): a task is not a customer's call, so the queue's live "waiting" and
    // "longest current wait" (wallboard, /api/queues, metrics) leave it out and show it apart.
    [Fact]
    public void QueueStatus_CountsCustomersWaiting_CallbackTasksApart_LongestWaitOfCustomersOnly()
    {
        var h = Harness();
        h.Login("a1");
        h.At(1, t => new AgentPause(t, "a1", PauseReasons.Break));
        h.At(10, t => new CallbackQueued(t, "cb-1", "sales", Customer("5551")));
        h.At(12, t => new CallbackQueued(t, "cb-2", "sales", Customer("5552")));
        h.Arrive("B", "sales", 40);
        h.AdvanceTo(100);

        var status = h.Engine.GetQueueStatus("sales");
        Assert.Equal((1, 2), (status.Waiting, status.CallbacksWaiting));
        Assert.Equal(60, status.LongestCurrentWait.TotalSeconds); // B's 60 s, not cb-1's 90 s
        Assert.Equal(3, h.Engine.GetWaitingCalls("sales").Count); // the tasks are still in line

        // Only tasks waiting: no customer waits, so no current wait either.
        h.At(101, t => new CallHungUp(t, "B"));
        status = h.Engine.GetQueueStatus("sales");
        Assert.Equal((0, 2, TimeSpan.Zero), (status.Waiting, status.CallbacksWaiting, status.LongestCurrentWait));
    }

    [Fact]
    public void AScheduledCallback_WithCallbackPriority_GoesBeforeOrdinaryCalls()
    {
        var h = Harness();
        h.Login("a1");
        h.At(1, t => new AgentPause(t, "a1", PauseReasons.Break));
        h.Arrive("B", "sales", 10);
        h.At(20, t => new CallbackQueued(t, "cb-9", "sales", Customer("5559", priority: 5)));
        h.Outbox.Clear();

        h.At(30, t => new AgentResume(t, "a1"));

        Assert.Equal("cb-9", Assert.Single(h.Commands<RingAgent>()).CallId);
    }

    [Fact]
    public void AWithdrawnCallbackTask_LeavesByExitKey_NotAsAnAbandon()
    {
        var h = Harness();
        h.At(5, t => new CallbackQueued(t, "cb-1", "sales", Customer("5551")));

        Assert.True(h.At(10, t => new CallbackWithdrawn(t, "cb-1")).Accepted);

        var left = Assert.Single(h.Events<CallOverflowed>());
        Assert.Equal(QueueVisitOutcome.ExitKey, left.Outcome);
        Assert.Empty(h.Events<CallAbandoned>());
        Assert.Empty(h.Engine.GetWaitingCalls("sales"));
        Assert.False(h.At(11, t => new CallbackWithdrawn(t, "cb-1")).Accepted);
        Assert.False(h.At(11, t => new CallbackWithdrawn(t, "nope")).Accepted);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void ACallbackTaskThatAnAgentMisses_GoesToTheNextAgent_NeverOverflows()
    {
        var h = Harness(q => q with { Overflow = [new OverflowRule(OverflowCondition.NoAnswer, OverflowTarget.ToDisconnect(), Attempts: 1)] });
        h.Login("a1");
        h.Login("a2", at: 1);
        h.At(5, t => new CallbackQueued(t, "cb-1", "sales", Customer("5551")));
        var first = Assert.Single(h.RungFor("cb-1"));

        h.At(6, t => new AgentDeclined(t, "cb-1", first));

        Assert.Empty(h.Events<CallOverflowed>());
        Assert.Equal(2, h.RungFor("cb-1").Distinct().Count());
        EventLogInvariants.Check(h.Outbox.Events);
    }
}
