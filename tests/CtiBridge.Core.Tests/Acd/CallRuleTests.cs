using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

public sealed class CallRuleTests
{
    [Fact]
    public void VipCaller_JoinsBusyQueue_AnsweredBeforeEarlierOrdinaryCalls()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { VipCallerNumbers = ["888"], WrapUp = TimeSpan.Zero })], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("busy", "q", 0);
        h.Answer("busy", "a1", 0);
        h.Arrive("early", "q", 1);
        h.Arrive("vip", "q", 2, new CallerData { CallerNumber = "888" });

        h.HangUp("busy", 10);

        Assert.Equal(["a1"], h.RungFor("vip"));
        Assert.Equal(10, h.Events<CallEnqueued>().Single(e => e.CallId == "vip").Priority);
        Assert.Equal(["early"], h.Engine.GetWaitingCalls("q").Select(c => c.CallId));
    }

    [Fact]
    public void DidPriority_CallOnPremiumNumber_GetsThatPriority()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { DidPriorities = new Dictionary<string, int> { ["4008001"] = 5 } })], [Agent("a1", "q")]);

        h.Arrive("c1", "q", 0, new CallerData { Did = "4008001" });

        Assert.Equal(5, h.Events<CallEnqueued>().Single().Priority);
    }

    [Fact]
    public void SamePriority_CallsServedFirstComeFirstServed()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { WrapUp = TimeSpan.Zero })], [Agent("a1", "q")]);
        h.Arrive("c1", "q", 0);
        h.Arrive("c2", "q", 1);
        h.Arrive("c3", "q", 2);

        h.Login("a1", at: 3);
        h.Answer("c1", "a1", 3);
        h.HangUp("c1", 4);
        h.Answer("c2", "a1", 4);
        h.HangUp("c2", 5);

        Assert.Equal(["c1", "c2", "c3"], h.Commands<RingAgent>().Select(r => r.CallId));
    }

    [Fact]
    public void RingTimeout_AgentDoesNotAnswer_CallReturnsToHeadOfLineAndNextAgentRings()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { RingTimeout = TimeSpan.FromSeconds(15) })], [Agent("a1", "q"), Agent("a2", "q")]);
        h.Login("a1", at: 0);
        h.Arrive("c1", "q", 1);
        h.Arrive("c2", "q", 2);
        Assert.Equal(["a1"], h.RungFor("c1"));

        h.Login("a2", at: 10); // a2 takes c2: c1 is ringing a1
        Assert.Equal(["a2"], h.RungFor("c2"));
        h.Answer("c2", "a2", 11);
        h.Arrive("c3", "q", 12);
        h.AdvanceTo(16);

        var miss = h.Events<CallOfferEnded>().Single();
        Assert.Equal((OfferEnd.RingTimeout, "a1", TimeSpan.FromSeconds(15)), (miss.End, miss.AgentId, miss.RingTime));
        Assert.Equal(["c1"], h.Engine.GetWaitingCalls("q").Select(c => c.CallId));
        Assert.Equal(SkipReason.DidNotAnswerRecently, h.Events<RoutingDecision>().Last(d => d.CallId == "c1").Candidates.Single(c => c.AgentId == "a1").Skip);
        Assert.Equal(["a1"], h.RungFor("c3")); // a1 may take another call, not c1 within the retry delay
        h.Answer("c3", "a1", 17);
        h.HangUp("c2", 30);
        h.AdvanceTo(60); // a2's wrap-up ends: c1 is still first in line
        Assert.Equal(["a1", "a2"], h.RungFor("c1"));
    }

    [Fact]
    public void RingNoAnswer_ThreeTimesInARow_AgentAutoPausedWithNoAnswerReason()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { RetryAfterNoAnswer = TimeSpan.Zero })], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("c1", "q", 0);

        h.AdvanceTo(15);
        h.AdvanceTo(30);
        Assert.Equal(AgentState.Ringing, h.StateOf("a1"));
        h.AdvanceTo(45);

        Assert.Equal(AgentState.Paused, h.StateOf("a1"));
        Assert.Equal(PauseReasons.NoAnswer, h.Engine.GetAgent("a1")!.PauseReason);
        Assert.Equal(3, h.Events<CallOfferEnded>().Count(e => e.End == OfferEnd.RingTimeout));
        Assert.Equal(3, h.Engine.Statistics.ForAgent("a1", h.Now).Missed);
    }

    [Theory]
    [InlineData(false, AgentState.Ready)]
    [InlineData(true, AgentState.Paused)]
    public void BusyThreeTimesInARow_CountsTowardAutoPause_OnlyWhenTheQueueSaysSo(bool autoPauseBusy, AgentState after)
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { RetryAfterNoAnswer = TimeSpan.Zero, AutoPauseBusy = autoPauseBusy })], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("c1", "q", 0);

        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(AgentState.Ringing, h.StateOf("a1"));
            h.At(i, t => new AgentDeclined(t, "c1", "a1") { Busy = true });
        }

        // Each busy ring is still a missed offer, and the call rings a1 again at once (no retry delay here).
        Assert.Equal(3, h.Events<CallOfferEnded>().Count(e => e.End == OfferEnd.Declined));
        Assert.Equal(after == AgentState.Ready ? AgentState.Ringing : AgentState.Paused, h.StateOf("a1"));
        Assert.Equal(after == AgentState.Paused ? PauseReasons.NoAnswer : null, h.Engine.GetAgent("a1")!.PauseReason);
    }

    [Fact]
    public void BusyRings_DoNotCount_ButRingNoAnswersAroundThemStillDo()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { RetryAfterNoAnswer = TimeSpan.Zero })], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("c1", "q", 0);

        h.AdvanceTo(15); // ring-no-answer 1
        h.At(16, t => new AgentDeclined(t, "c1", "a1") { Busy = true });
        h.At(17, t => new AgentDeclined(t, "c1", "a1")); // rejected: counts (2)
        Assert.Equal(AgentState.Ringing, h.StateOf("a1"));
        h.AdvanceTo(32); // ring-no-answer 3

        Assert.Equal(AgentState.Paused, h.StateOf("a1"));
    }

    [Fact]
    public void Declined_CountsAsNoAnswerAndRingsNextAgent()
    {
        var h = new AcdHarness([Queue("q")], [Agent("a1", "q"), Agent("a2", "q")]);
        h.Login("a1", at: 0);
        h.Login("a2", at: 1);
        h.Arrive("c1", "q", 2);

        h.At(3, t => new AgentDeclined(t, "c1", "a1"));

        Assert.Equal(["a1", "a2"], h.RungFor("c1"));
        Assert.Equal(OfferEnd.Declined, h.Events<CallOfferEnded>().Single().End);
    }

    [Fact]
    public void QueueFull_NextCaller_OverflowsAsExitEmptyToConfiguredTarget()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with
        {
            MaxWaiting = 2,
            Overflow = [new OverflowRule(OverflowCondition.QueueFull, OverflowTarget.ToVoicemail("800"))],
        })], [Agent("a1", "q")]);
        h.Arrive("c1", "q", 0);
        h.Arrive("c2", "q", 1);

        h.Arrive("c3", "q", 2);

        var cmd = Assert.Single(h.Commands<OverflowCall>());
        Assert.Equal(("c3", OverflowCondition.QueueFull, OverflowTargetKind.Voicemail), (cmd.CallId, cmd.Condition, cmd.Target.Kind));
        Assert.Equal(QueueVisitOutcome.ExitEmpty, h.Events<CallOverflowed>().Single().Outcome);
        Assert.Equal(CallDisposition.Voicemail, h.Events<CallEnded>().Single().Disposition);
        Assert.Equal(3, h.Engine.Statistics.ForQueue("q").Offered);
    }

    [Fact]
    public void JoinWhenEmpty_NoAgentLoggedIn_CallRefusedToOverflowNumber()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with
        {
            RefuseJoinWhen = EmptyQueueCondition.NoAgentsLoggedIn,
            Overflow = [new OverflowRule(OverflowCondition.NoAgents, OverflowTarget.ToNumber("13900000000"))],
        })], [Agent("a1", "q")]);

        h.Arrive("c1", "q", 0);

        var cmd = Assert.Single(h.Commands<OverflowCall>());
        Assert.Equal(OverflowTarget.ToNumber("13900000000"), cmd.Target);
    }

    [Fact]
    public void LeaveWhenEmpty_LastServingAgentPauses_WaitingCallsLeave()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { LeaveWhen = EmptyQueueCondition.NoAgentsServing })], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("busy", "q", 0);
        h.Answer("busy", "a1", 0);
        h.Arrive("c1", "q", 1);
        h.Arrive("c2", "q", 2);

        h.At(3, t => new AgentPause(t, "a1", PauseReasons.Break));
        Assert.Empty(h.Commands<OverflowCall>()); // the pause is pending while on the call
        h.HangUp("busy", 5);
        h.AdvanceTo(35);

        Assert.Equal(["c1", "c2"], h.Commands<OverflowCall>().Select(c => c.CallId));
        Assert.All(h.Events<CallOverflowed>(), e => Assert.Equal(OverflowCondition.NoAgents, e.Condition));
    }

    [Fact]
    public void MaxWait_Exceeded_CallMovesToOverflowQueueAsNewVisit()
    {
        var h = new AcdHarness([
            Queue("sales", tweak: q => q with { Overflow = [new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToQueue("backup"), TimeSpan.FromSeconds(120))] }),
            Queue("backup")], [Agent("b1", "backup")]);
        h.Arrive("c1", "sales", 0);
        h.AdvanceTo(119);
        Assert.Single(h.Events<CallEnqueued>());

        h.Login("b1", at: 119.5);
        Assert.Empty(h.RungFor("c1")); // b1 is not in sales
        h.AdvanceTo(120);

        var over = h.Events<CallOverflowed>().Single();
        Assert.Equal((QueueVisitOutcome.Timeout, "sales", 1), (over.Outcome, over.Queue, over.Visit));
        var second = h.Events<CallEnqueued>().Last();
        Assert.Equal(("backup", 2), (second.Queue, second.Visit));
        Assert.Equal(["b1"], h.RungFor("c1"));
        Assert.Empty(h.Events<CallEnded>());
    }

    [Fact]
    public void ClosedByCalendar_HolidayCall_OverflowsToClosedMessage()
    {
        var hours = BusinessHours.Weekdays(new TimeOnly(8, 0), new TimeOnly(18, 0)) with { Holidays = [new DateOnly(2026, 12, 1)] };
        var h = new AcdHarness([Queue("q", tweak: q => q with
        {
            Hours = hours,
            Overflow = [new OverflowRule(OverflowCondition.Closed, OverflowTarget.ToDisconnect("closed-message"))],
        })], [Agent("a1", "q")]);
        h.Login("a1");

        h.Arrive("monday", "q", 0); // Monday 09:00: open
        h.Arrive("tuesday-holiday", "q", 86_400);

        Assert.Equal("a1", h.RungFor("monday")[0]);
        var cmd = Assert.Single(h.Commands<OverflowCall>());
        Assert.Equal(("tuesday-holiday", OverflowCondition.Closed, "closed-message"), (cmd.CallId, cmd.Condition, cmd.Target.Destination));
        Assert.False(hours.IsOpen(new DateTimeOffset(2026, 11, 29, 10, 0, 0, TimeSpan.Zero))); // Sunday
        Assert.False(hours.IsOpen(new DateTimeOffset(2026, 11, 30, 18, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void NoAnswerRule_NobodyAnswersTwice_CallGoesToVoicemail()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with
        {
            RetryAfterNoAnswer = TimeSpan.Zero,
            Overflow = [new OverflowRule(OverflowCondition.NoAnswer, OverflowTarget.ToVoicemail("900"), Attempts: 2)],
        })], [Agent("a1", "q")], c => c with { AutoPauseAfterConsecutiveNoAnswers = 0 });
        h.Login("a1");
        h.Arrive("c1", "q", 0);

        h.AdvanceTo(15);
        h.AdvanceTo(30);

        Assert.Equal(OverflowTargetKind.Voicemail, Assert.Single(h.Commands<OverflowCall>()).Target.Kind);
        Assert.Equal(AgentState.Ready, h.StateOf("a1"));
    }

    [Fact]
    public void AgentInTwoQueues_FreedAgent_TakesHighestPriorityThenLongestWeightedWait()
    {
        var h = new AcdHarness(
            [Queue("normal", tweak: q => q with { WrapUp = TimeSpan.Zero }), Queue("important", tweak: q => q with { Weight = 3, WrapUp = TimeSpan.Zero })],
            [Agent("a1", "normal", "important")]);
        h.Login("a1");
        h.Arrive("busy", "normal", 0);
        h.Answer("busy", "a1", 0);
        h.Arrive("n-old", "normal", 10);      // waits 90 s at t=100, weight 1 → 90
        h.Arrive("i-new", "important", 60);   // waits 40 s at t=100, weight 3 → 120
        h.Arrive("n-vip", "normal", 90, new CallerData { IsVip = true });

        h.HangUp("busy", 100);
        Assert.Equal("n-vip", h.Commands<RingAgent>().Last().CallId);
        h.Answer("n-vip", "a1", 100);
        h.HangUp("n-vip", 101);

        Assert.Equal("i-new", h.Commands<RingAgent>().Last().CallId);
        Assert.Contains("longest weighted wait", h.Events<RoutingDecision>().Last().Why, StringComparison.Ordinal);
    }

    [Fact]
    public void CallerPressesExitKey_CallbackOffer_LeavesWithExitKeyOutcome()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { ExitKeys = new Dictionary<char, OverflowTarget> { ['1'] = OverflowTarget.ToCallbackOffer() } })], [Agent("a1", "q")]);
        h.Arrive("c1", "q", 0);

        Assert.False(h.At(5, t => new CallerPressedKey(t, "c1", '9')).Accepted);
        Assert.True(h.At(6, t => new CallerPressedKey(t, "c1", '1')).Accepted);

        Assert.Equal(OverflowTargetKind.CallbackOffer, Assert.Single(h.Commands<OverflowCall>()).Target.Kind);
        Assert.Equal(QueueVisitOutcome.ExitKey, h.Events<CallOverflowed>().Single().Outcome);
    }

    [Fact]
    public void CallerHangsUpWhileAgentRinging_AbandonedAndAgentReadyAgain()
    {
        var h = new AcdHarness([Queue("q")], [Agent("a1", "q")]);
        h.Login("a1");
        h.Arrive("c1", "q", 0);

        h.HangUp("c1", 4);

        Assert.Equal(AgentState.Ready, h.StateOf("a1"));
        Assert.Equal(TimeSpan.FromSeconds(4), h.Events<CallAbandoned>().Single().Wait);
        Assert.Equal(OfferEnd.Withdrawn, h.Events<CallOfferEnded>().Single().End);
        Assert.Equal(0, h.Engine.LiveCalls);
    }

    [Fact]
    public void CallLostByFault_SystemLostNotAbandon()
    {
        var h = new AcdHarness([Queue("q")], [Agent("a1", "q")]);
        h.Arrive("c1", "q", 0);

        h.At(3, t => new CallLost(t, "c1", "trunk down"));

        Assert.Equal(CallDisposition.SystemLost, h.Events<CallEnded>().Single().Disposition);
        var s = h.Engine.Statistics.ForQueue("q");
        Assert.Equal((1, 0, 1), (s.Offered, s.Abandoned, s.SystemLost));
    }
}
