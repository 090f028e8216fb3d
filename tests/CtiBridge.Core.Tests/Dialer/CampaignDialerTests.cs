using CtiBridge.Core.Dialer;
using static CtiBridge.Core.Tests.Dialer.DialerTestKit;

namespace CtiBridge.Core.Tests.Dialer;

public sealed class CampaignDialerTests
{
    private static readonly DateTimeOffset Now = Monday10Utc;

    [Fact]
    public void Plan_ProgressiveWithThreeReadyAgents_DialsThreeLeadsWithCampaignCallerIdAndTrunk()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());

        var plan = dialer.Plan(Now, Ready(3, busy: 2), Leads(10), NoDnc);

        Assert.Equal(3, plan.Orders.Count);
        Assert.All(plan.Orders, o => Assert.Equal(("+18005550100", "Acme Sales", TimeSpan.FromSeconds(26)), (o.CallerId, o.CallerName, o.RingTimeout)));
        Assert.Equal("PJSIP/trunk1/912125550000", plan.Orders[0].Call.Endpoint);
        Assert.Equal(3, dialer.Calls.Count);
        Assert.Empty(dialer.Plan(Now.AddSeconds(1), Ready(3, busy: 2), Leads(10), NoDnc).Orders); // every ready agent has its line
    }

    [Fact]
    public void Plan_NoAgentLoggedIn_DialsNothingInAnyAgentMode()
    {
        foreach (var mode in new[] { DialingMode.Progressive, DialingMode.Power, DialingMode.Predictive })
        {
            var dialer = new CampaignDialer(Campaign(mode), Zones());
            Assert.Empty(dialer.Plan(Now, AgentSnapshot.Empty, Leads(10), NoDnc).Orders);
        }
    }

    [Fact]
    public void Plan_NumberOnDoNotCallList_SkippedWithReason()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var dnc = new HashSet<string> { Lead(0).PhoneNumber };

        var plan = dialer.Plan(Now, Ready(1), Leads(2), dnc);

        Assert.Equal("lead-1", Assert.Single(plan.Orders).Call.LeadId);
        Assert.Equal(SkipReason.DoNotCall, Assert.Single(plan.Skipped).Reason);
    }

    [Fact]
    public void Plan_CaliforniaLeadAt7LocalTime_SkippedUntilItsWindowOpens_NewYorkLeadDialled()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var at = new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero); // 10:00 New York, 07:00 San Francisco
        var california = Lead(1, "+14155550100");
        var newYork = Lead(2, "+12125550100");

        var plan = dialer.Plan(at, Ready(2), [california, newYork], NoDnc);

        Assert.Equal("lead-2", Assert.Single(plan.Orders).Call.LeadId);
        var skip = Assert.Single(plan.Skipped);
        Assert.Equal((SkipReason.OutsideCallingWindow, (DateTimeOffset?)at.AddHours(1)), (skip.Reason, skip.NotBefore));
    }

    [Fact]
    public void Plan_LeadAlreadyRinging_NotDialledTwice_EvenUnderAnotherLeadIdWithTheSameNumber()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        dialer.Plan(Now, Ready(1), Leads(1), NoDnc);

        var plan = dialer.Plan(Now.AddSeconds(1), Ready(3), [Lead(0), Lead(99, Lead(0).PhoneNumber)], NoDnc);

        Assert.Empty(plan.Orders);
        Assert.All(plan.Skipped, s => Assert.Equal(SkipReason.AlreadyInCall, s.Reason));
    }

    [Fact]
    public void Plan_BeforeStartOrAfterDeadline_DialsNothing()
    {
        var campaign = Campaign(DialingMode.Progressive) with { Start = Now.AddHours(1), Deadline = Now.AddHours(2) };
        var dialer = new CampaignDialer(campaign, Zones());

        Assert.Empty(dialer.Plan(Now, Ready(2), Leads(2), NoDnc).Orders);
        Assert.NotEmpty(dialer.Plan(Now.AddHours(1.5), Ready(2), Leads(2), NoDnc).Orders);
        Assert.Empty(dialer.Plan(Now.AddHours(2), Ready(4), Leads(4, from: 10), NoDnc).Orders);
    }

    [Fact]
    public void Plan_PowerRatioTwoWithTenReadyAgents_StopsAtTheLineCap()
    {
        var campaign = Campaign(DialingMode.Power, lines: 15) with { PowerRatio = 2 };
        var dialer = new CampaignDialer(campaign, Zones());
        WarmUp(dialer, 120); // 40 live answers: room for one abandon under 3 %

        var plan = dialer.Plan(Now.AddMinutes(30), Ready(10), Leads(100, from: 1000), NoDnc);

        Assert.Equal(DialingMode.Power, plan.EffectiveMode);
        Assert.Equal(15, dialer.Calls.Count);
    }

    [Fact]
    public void Plan_PredictiveBeforeEnoughResults_StartsProgressive()
    {
        var dialer = new CampaignDialer(Campaign(), Zones());

        var plan = dialer.Plan(Now, Ready(4, busy: 6), Leads(50), NoDnc);

        Assert.Equal(DialingMode.Progressive, plan.EffectiveMode);
        Assert.Equal(4, plan.Orders.Count);
    }

    [Fact]
    public void Plan_PredictiveWarmedUpWithLowAnswerRate_DialsMoreLinesThanReadyAgents()
    {
        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5);

        var plan = dialer.Plan(Now.AddHours(1), Ready(5, busy: 15), Leads(100, from: 5000), NoDnc);

        Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
        Assert.True(plan.Orders.Count > 5, $"dialled {plan.Orders.Count} lines for 5 ready agents at 20 % live answers");
        Assert.True(plan.Orders.Count <= 100);
    }

    [Theory]
    [InlineData(45, DialingMode.Progressive)] // 40 talks ended, 45 agents talking: the estimate has seen only the short ones
    [InlineData(40, DialingMode.Predictive)]
    public void Plan_PredictiveWithFewerTalksEndedThanAgentsTalking_StaysProgressive(int talking, DialingMode expected)
    {
        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5); // 40 live answers, 40 talks ended

        var plan = dialer.Plan(Now.AddHours(1), Ready(5, busy: talking), Leads(100, from: 5000), NoDnc);

        Assert.Equal(expected, plan.EffectiveMode);
        Assert.Equal(expected == DialingMode.Progressive, plan.Orders.Count == 5);
    }

    [Fact]
    public void Plan_PredictiveAtTheAbandonLimit_FallsBackToProgressive()
    {
        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5, abandonEvery: 10); // 40 live answers, 4 abandoned = 10 %

        var plan = dialer.Plan(Now.AddHours(1), Ready(5, busy: 15), Leads(100, from: 5000), NoDnc);

        Assert.Equal(DialingMode.Progressive, plan.EffectiveMode);
        Assert.Equal(5, plan.Orders.Count);
    }

    [Theory]
    [InlineData(1, 0, true)] // one agent free: a late answer would likely find nobody
    [InlineData(0, 0, true)]
    [InlineData(2, 0, false)] // two free: the lines ring on
    [InlineData(1, 1, false)] // one ready and one ending wrap-up within the connect deadline
    public void Plan_PredictiveLinesRungTheMinimumRingTime_GivenUpUnansweredOnlyWithAtMostOneAgentFree(int ready, int wrapUpEnding, bool givenUp)
    {
        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var start = Now.AddHours(1);
        var dialled = dialer.Plan(start, Ready(5, busy: 15), Leads(100, from: 5000), NoDnc).Orders.Select(o => o.Call.CallId).ToHashSet();
        Assert.NotEmpty(dialled);
        BusyAgent[] busy =
        [
            .. Enumerable.Range(0, 15).Select(i => new BusyAgent(TimeSpan.FromSeconds(40 + i))),
            .. Enumerable.Range(0, wrapUpEnding).Select(_ => new BusyAgent(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1.5))),
        ];
        var agents = new AgentSnapshot(ready + busy.Length, ready, busy);

        // Never before the policy's minimum ring time (15 s under the TSR), whoever is free.
        Assert.Empty(dialer.Plan(start.AddSeconds(14.9), new AgentSnapshot(busy.Length, 0, busy), [], NoDnc).GivenUp);
        var plan = dialer.Plan(start.AddSeconds(15), agents, [], NoDnc);

        Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
        if (!givenUp)
        {
            Assert.Empty(plan.GivenUp);
            Assert.True(dialled.IsSubsetOf(dialer.Calls.Select(c => c.CallId)));
            return;
        }

        Assert.Equal(dialled, plan.GivenUp.Select(g => g.Call.CallId).ToHashSet());
        Assert.All(plan.GivenUp, g =>
        {
            Assert.Equal(CallOutcome.NoAnswer, g.Outcome);
            Assert.Equal(start.AddSeconds(15), g.EndedAt);
            Assert.Equal(LeadStatus.Open, g.UpdatedLead.Status); // retried as a no-answer
        });
        Assert.DoesNotContain(dialer.Calls, c => dialled.Contains(c.CallId));
        var rows = dialer.Ledger.Entries.Where(e => e.Kind == LedgerEntryKind.Unanswered && dialled.Contains(e.CallId)).ToList();
        Assert.Equal(dialled.Count, rows.Count);
        Assert.All(rows, r => Assert.Equal(TimeSpan.FromSeconds(15), r.RingTime));
        Assert.Equal(0, dialer.Ledger.ShortRings);
    }

    [Fact]
    public void Plan_PredictiveWithGiveUpTurnedOff_LinesRungTheMinimumRingTimeRingOn()
    {
        var dialer = new CampaignDialer(Campaign(lines: 100) with { GiveUpUnanswered = false }, Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var start = Now.AddHours(1);
        var dialled = dialer.Plan(start, Ready(5, busy: 15), Leads(100, from: 5000), NoDnc).Orders.Select(o => o.Call.CallId).ToHashSet();
        Assert.NotEmpty(dialled);

        // No agent free at all, rung 15 s and 25 s: still ringing (the ring timeout, 26 s, ends them at Asterisk).
        foreach (var rung in new[] { 15, 25 })
        {
            var plan = dialer.Plan(start.AddSeconds(rung), Ready(0, busy: 20), [], NoDnc);
            Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
            Assert.Empty(plan.GivenUp);
        }

        Assert.True(dialled.IsSubsetOf(dialer.Calls.Select(c => c.CallId)));
        Assert.Equal(0, dialer.Ledger.Entries.Count(e => e.Kind == LedgerEntryKind.Unanswered && dialled.Contains(e.CallId)));
    }

    [Theory]
    [InlineData(19.9, 0, false)] // before the campaign's 20 s
    [InlineData(20, 1, false)] // one agent free, the campaign gives up only with none
    [InlineData(20, 0, true)]
    public void Plan_PredictiveGiveUpAfterTwentySecondsWithNoAgentFree_AsTheCampaignSays(double rung, int ready, bool givenUp)
    {
        var dialer = new CampaignDialer(Campaign(lines: 100) with { GiveUpAfter = TimeSpan.FromSeconds(20), GiveUpWhenAgentsFreeAtMost = 0 }, Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var start = Now.AddHours(1);
        var dialled = dialer.Plan(start, Ready(5, busy: 15), Leads(100, from: 5000), NoDnc).Orders.Select(o => o.Call.CallId).ToHashSet();
        Assert.NotEmpty(dialled);

        var plan = dialer.Plan(start.AddSeconds(rung), Ready(ready, busy: 20 - ready), [], NoDnc);

        Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
        Assert.Equal(givenUp ? dialled : [], plan.GivenUp.Select(g => g.Call.CallId).ToHashSet());
        Assert.All(plan.GivenUp, g => Assert.Equal(start.AddSeconds(rung), g.EndedAt));
    }

    [Fact]
    public void Plan_PredictiveLineWhoseAnswerWasReported_IsNotGivenUp_AndIsAnsweredAfterwards()
    {
        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var start = Now.AddHours(1);
        var dialled = dialer.Plan(start, Ready(5, busy: 15), Leads(100, from: 5000), NoDnc).Orders.Select(o => o.Call.CallId).ToList();
        Assert.True(dialled.Count >= 2, $"{dialled.Count} dialled");
        var answered = dialled[0];

        // The answer was read, not yet handled, when the round that would give the lines up runs.
        dialer.OnAnswerReported(answered);
        var plan = dialer.Plan(start.AddSeconds(15), Ready(1, busy: 19), [], NoDnc);

        Assert.Equal(dialled.Skip(1).ToHashSet(), plan.GivenUp.Select(g => g.Call.CallId).ToHashSet());
        dialer.OnAnswered(answered, start.AddSeconds(15.1), CallOutcome.HumanAnswer);
        Assert.Equal(DialedCallState.WaitingForAgent, dialer.Find(answered)!.State);
        Assert.DoesNotContain(dialer.Ledger.Entries, e => e.CallId == answered && e.Kind == LedgerEntryKind.Unanswered);
    }

    [Fact]
    public void OnAnsweredAfterGivenUp_TheAttemptBecomesAnAbandonedLiveAnswer_LeadRetriedAfterTheAbandonDelay_CountedOnce()
    {
        var campaign = Campaign(lines: 100) with { Retry = new RetryDelays { NoAnswer = TimeSpan.FromMinutes(30), Abandoned = TimeSpan.FromHours(3) } };
        var dialer = new CampaignDialer(campaign, Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var start = Now.AddHours(1);
        Assert.NotEmpty(dialer.Plan(start, Ready(5, busy: 15), Leads(100, from: 5000), NoDnc).Orders);
        var givenUp = dialer.Plan(start.AddSeconds(15), Ready(0, busy: 20), [], NoDnc).GivenUp[0];
        Assert.Equal(start.AddSeconds(15) + TimeSpan.FromMinutes(30), givenUp.UpdatedLead.NextAttemptAt);
        var abandonsBefore = dialer.Ledger.CampaignToDate.Abandons;

        var answered = dialer.OnAnsweredAfterGivenUp(givenUp, start.AddSeconds(15.4));

        Assert.NotNull(answered);
        Assert.Equal((CallOutcome.HumanAnswer, start.AddSeconds(15.4)), (answered.Outcome, answered.EndedAt));
        Assert.True(answered.Call.Abandoned);
        Assert.Equal((CallOutcome?)CallOutcome.HumanAnswer, answered.Call.AnsweredBy);
        Assert.Equal(start.AddSeconds(15.4), answered.Call.AnsweredAt);
        Assert.Equal(start.AddSeconds(15.4) + TimeSpan.FromHours(3), answered.UpdatedLead.NextAttemptAt);
        Assert.Equal((givenUp.UpdatedLead.Attempts, LeadStatus.Open), (answered.UpdatedLead.Attempts, answered.UpdatedLead.Status));
        Assert.Equal(abandonsBefore + 1, dialer.Ledger.CampaignToDate.Abandons);
        var row = Assert.Single(dialer.Ledger.Entries, e => e.CallId == givenUp.Call.CallId && e.Kind == LedgerEntryKind.Abandoned);
        Assert.Equal(TimeSpan.FromSeconds(15.4), row.RingTime);
        Assert.DoesNotContain(dialer.Ledger.Entries, e => e.CallId == givenUp.Call.CallId && e.Kind == LedgerEntryKind.MessagePlayed);

        // Reported twice (the answer of a machine-detection round trip, say): counted once.
        Assert.Null(dialer.OnAnsweredAfterGivenUp(givenUp, start.AddSeconds(16)));
        Assert.Equal(abandonsBefore + 1, dialer.Ledger.CampaignToDate.Abandons);
    }

    [Theory]
    [InlineData(DialingMode.Progressive)]
    [InlineData(DialingMode.Power)]
    public void Plan_OtherModesLinesRungTheMinimumRingTime_RingOnToTheTimeout(DialingMode mode)
    {
        var dialer = new CampaignDialer(Campaign(mode, lines: 100) with { PowerRatio = 2 }, Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var start = Now.AddHours(1);
        Assert.NotEmpty(dialer.Plan(start, Ready(5, busy: 15), Leads(100, from: 5000), NoDnc).Orders);

        Assert.Empty(dialer.Plan(start.AddSeconds(20), Ready(0, busy: 20), [], NoDnc).GivenUp);
        Assert.Equal(0, dialer.Ledger.Entries.Count(e => e.Kind == LedgerEntryKind.Unanswered && e.At > start));
    }

    [Fact]
    public void Plan_PredictiveWithNoAbandonBudgetLeft_DialsProgressive()
    {
        // The ledger alone would allow predictive (40 live answers, none abandoned); another instance holds the headroom.
        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5);

        var plan = dialer.Plan(Now.AddHours(1), Ready(5, busy: 15), Leads(100, from: 5000), NoDnc, abandonBudget: 0);

        Assert.Equal(DialingMode.Progressive, plan.EffectiveMode);
        Assert.Equal(5, plan.Orders.Count);
        Assert.Equal(0, dialer.LinesAtRiskOfAbandon(Ready(5, busy: 15)));
    }

    [Fact]
    public void Plan_PredictiveWithAnAbandonBudget_KeepsTheAnswersBeyondTheReadyAgentsWithinItAtThreeSigmas()
    {
        var unlimited = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(unlimited, 200, liveEvery: 5);
        var free = unlimited.Plan(Now.AddHours(1), Ready(5, busy: 15), Leads(100, from: 5000), NoDnc);
        Assert.True(free.Orders.Count > 13, $"without a budget predictive dialled {free.Orders.Count} lines for 5 ready agents");

        var dialer = new CampaignDialer(Campaign(lines: 100), Zones());
        WarmUp(dialer, 200, liveEvery: 5);
        var plan = dialer.Plan(Now.AddHours(1), Ready(5, busy: 15), Leads(100, from: 5000), NoDnc, abandonBudget: 2);

        // p 0.2, 5 ready, budget 2: 13 lines give 13 × 0.2 + 3 √(13 × 0.16) − 5 = 1.93 answers beyond the agents; 14 give 2.29.
        // Pairing each ready agent with one line (the rule before) allowed 7: the two beyond the agents counted as abandons.
        Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
        Assert.Equal(13, plan.Orders.Count);
        Assert.Equal(8, dialer.LinesAtRiskOfAbandon(Ready(5, busy: 15)));

        // The lines still ring: the next round has nothing left to put at risk.
        Assert.Empty(dialer.Plan(Now.AddHours(1).AddSeconds(1), Ready(5, busy: 15), Leads(100, from: 6000), NoDnc, abandonBudget: 2).Orders);
    }

    [Theory]
    [InlineData(2, 5, 0, 0.2, 13)] // 13 × 0.2 + 3 √(13 × 0.16) = 6.93 ≤ 2 + 5; pairing agents with lines: 7
    [InlineData(28, 10, 0, 0.15, 162)] // 162 × 0.15 + 3 √(162 × 0.1275) = 37.93 ≤ 38; pairing: 121
    [InlineData(28, 0, 5, 0.15, 91)] // no agent ready: as MostLinesAtRisk
    [InlineData(2, 0, 0, 0.2, 2)]
    [InlineData(3, 4, 0, 0, 7)] // no estimate yet: every line beyond the ready agents an abandon
    public void MostLinesInFlight_TheAnswersBeyondTheReadyAgentsWithinTheBudgetAtThreeSigmas(int budget, int ready, int waiting, double p, int expected)
    {
        Assert.Equal(expected, CampaignDialer.MostLinesInFlight(budget, ready, waiting, p));
    }

    [Fact]
    public void MostLinesInFlight_NeverBelowTheBudgetPlusTheReadyAgents_AndTheBoundHolds()
    {
        var random = new Random(11);
        for (var i = 0; i < 2000; i++)
        {
            var budget = random.Next(1, 400);
            var ready = random.Next(0, 60);
            var waiting = random.Next(0, 40);
            var p = random.NextDouble();
            var most = CampaignDialer.MostLinesInFlight(budget, ready, waiting, p);
            Assert.True(most >= budget + ready, $"budget {budget}, ready {ready}, waiting {waiting}, p {p}: {most}");
            if (most > budget + ready)
            {
                var ringing = most - waiting;
                var bound = waiting + (ringing * p) + (CampaignDialer.AbandonBoundSigmas * Math.Sqrt(ringing * p * (1 - p))) - ready;
                Assert.True(bound <= budget + 1e-6, $"budget {budget}, ready {ready}, waiting {waiting}, p {p}: {most} lines bound {bound}");
            }
        }
    }

    [Theory]
    [InlineData(2, 0, 0.2, 2)] // small budgets: every line counted as an abandon is the larger allowance
    [InlineData(28, 0, 0.15, 111)] // 111 × 0.15 + 3 √(111 × 0.1275) = 27.94; 112 lines: 28.14
    [InlineData(28, 5, 0.15, 91)] // five answered people waiting use five of the budget for sure
    [InlineData(28, 0, 0, 28)] // no estimate yet: every line an abandon
    [InlineData(28, 30, 0.15, 28)] // more waiting than the budget: no ringing line beyond it
    [InlineData(-1, 0, 0.3, -1)]
    public void MostLinesAtRisk_TheBudgetOrTheRingingLinesWithinItAtThreeSigmas(int budget, int waiting, double p, int expected)
    {
        Assert.Equal(expected, CampaignDialer.MostLinesAtRisk(budget, waiting, p));
    }

    [Fact]
    public void MostLinesAtRisk_NeverBelowTheBudget_AndTheBoundHolds()
    {
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var budget = random.Next(-1, 400);
            var waiting = random.Next(0, 40);
            var p = random.NextDouble();
            var most = CampaignDialer.MostLinesAtRisk(budget, waiting, p);
            Assert.True(most >= budget, $"budget {budget}, waiting {waiting}, p {p}: {most}");
            if (most > budget)
            {
                var ringing = most - waiting;
                var bound = waiting + (ringing * p) + (CampaignDialer.AbandonBoundSigmas * Math.Sqrt(ringing * p * (1 - p)));
                Assert.True(bound <= budget + 1e-6, $"budget {budget}, waiting {waiting}, p {p}: {most} lines bound {bound}");
            }
        }
    }

    [Theory]
    [InlineData(100, 2, 100, 2, 1.0309)] // 3 of 101 is under 3 %, 4 of 102 is not
    [InlineData(259, 7, 259, 7, 0.7938)] // FiveHundredLeadsFakeClockTests at the end: no room for another
    [InlineData(1000, 10, 330, 9, 0.9278)] // the smaller of the two tallies counts
    [InlineData(100, 4, 100, 4, -1.0309)]
    public void AbandonsThatFit_EachAbandonAddsToBothCounts(int live, int abandons, int windowLive, int windowAbandons, double expected)
    {
        var fit = ComplianceLedger.AbandonsThatFit(CompliancePolicy.UsTelemarketingSalesRule, new AbandonTally(live, abandons), new AbandonTally(windowLive, windowAbandons));

        Assert.Equal(expected, fit, 4);
    }

    [Fact]
    public void ReleaseLostLines_NoReplyAfterRingTimeoutAndGrace_LineFreedAndLeadRetried()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var call = dialer.Plan(Now, Ready(1), Leads(1), NoDnc).Orders[0].Call;

        Assert.Empty(dialer.ReleaseLostLines(Now.AddSeconds(55)));
        var released = Assert.Single(dialer.ReleaseLostLines(Now.AddSeconds(56)));

        Assert.Equal((call.CallId, CallOutcome.LostReply), (released.Call.CallId, released.Outcome));
        Assert.Equal(LeadStatus.Open, released.UpdatedLead.Status);
        Assert.Empty(dialer.Calls);
        Assert.Throws<KeyNotFoundException>(() => dialer.OnCallEnded(call.CallId, Now.AddSeconds(60), CallOutcome.Busy));
    }

    [Fact]
    public void ReleaseLostLines_ConnectedCallWithoutHangup_ReleasedAfterMaxCallDuration()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var call = dialer.Plan(Now, Ready(1), Leads(1), NoDnc).Orders[0].Call;
        dialer.OnAnswered(call.CallId, Now.AddSeconds(5), CallOutcome.HumanAnswer);
        dialer.OnAgentConnected(call.CallId, Now.AddSeconds(5));

        Assert.Empty(dialer.ReleaseLostLines(Now.AddHours(3)));
        Assert.Single(dialer.ReleaseLostLines(Now.AddHours(4.01)));
    }

    [Fact]
    public void VoiceBroadcastMessageOnly_NoAgents_FillsTheLinesAndMachineAnswerCloses()
    {
        var campaign = Campaign(DialingMode.VoiceBroadcast, lines: 5) with { AgentGroup = "" };
        var dialer = new CampaignDialer(campaign, Zones());

        var plan = dialer.Plan(Now, AgentSnapshot.Empty, Leads(20), NoDnc);
        Assert.Equal(5, plan.Orders.Count);
        var call = plan.Orders[0].Call;
        dialer.OnAnswered(call.CallId, Now.AddSeconds(8), CallOutcome.Machine);
        dialer.OnMessagePlayed(call.CallId, Now.AddSeconds(30), "acme-offer");
        var result = dialer.OnCallEnded(call.CallId, Now.AddSeconds(31));

        Assert.Equal(LeadStatus.Reached, result.UpdatedLead.Status);
        Assert.Contains(dialer.Ledger.Entries, e => e.Kind == LedgerEntryKind.MessagePlayed && e.Message == "acme-offer");
    }

    [Fact]
    public void Preview_AgentSeesLeadThenDials_LeadNotOfferedTwiceMeanwhile()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Preview), Zones());
        Assert.Empty(dialer.Plan(Now, Ready(2), Leads(3), NoDnc).Orders);

        var first = dialer.NextPreview(Now, Ready(2), Leads(3), NoDnc);
        var second = dialer.NextPreview(Now, Ready(2), Leads(3), NoDnc);
        Assert.Equal(("lead-0", "lead-1"), (first!.Id, second!.Id));

        var (order, skip) = dialer.DialPreviewed(Now.AddSeconds(20), first, new HashSet<string> { first.PhoneNumber });
        Assert.Null(order);
        Assert.Equal(SkipReason.DoNotCall, skip!.Reason);
        (order, _) = dialer.DialPreviewed(Now.AddSeconds(20), second, NoDnc);
        Assert.Equal("lead-1", order!.Call.LeadId);
    }

    [Fact]
    public void Stats_TwoRingingOneWaiting_ShowsLinesAndDialLevel()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var calls = dialer.Plan(Now, Ready(3), Leads(3), NoDnc).Orders;
        dialer.OnAnswered(calls[0].Call.CallId, Now.AddSeconds(4), CallOutcome.HumanAnswer);

        var stats = dialer.Stats(Now.AddSeconds(5), Ready(2, busy: 1));

        Assert.Equal((3, 2, 1, 2), (stats.Lines, stats.Ringing, stats.WaitingForAgent, stats.AgentsWaiting));
        Assert.Equal(1.5, stats.DialLevel);
    }

    [Fact]
    public void Plan_TwoCampaignsSharingSixTrunkLines_HigherPriorityServedFirst()
    {
        var renewals = new CampaignDialer(Campaign(DialingMode.Progressive) with { Id = "renewals", Priority = 5 }, Zones());
        var survey = new CampaignDialer(Campaign(DialingMode.Progressive) with { Id = "survey", Priority = 1 }, Zones());
        var trunkLinesLeft = 6;
        var dialled = new Dictionary<string, int>();

        foreach (var dialer in CampaignDialer.InPriorityOrder([survey, renewals]))
        {
            var plan = dialer.Plan(Now, Ready(4), Leads(10), NoDnc, sharedLinesLeft: trunkLinesLeft);
            trunkLinesLeft -= plan.Orders.Count;
            dialled[dialer.Campaign.Id] = plan.Orders.Count;
        }

        Assert.Equal(4, dialled["renewals"]);
        Assert.Equal(2, dialled["survey"]);
        Assert.Equal(0, trunkLinesLeft);
    }

    [Fact]
    public void Constructor_InvalidCampaign_ThrowsWithEveryProblem()
    {
        var error = Assert.Throws<DialerConfigurationException>(() => new CampaignDialer(Campaign() with { MaxConcurrentLines = 0, CallerId = "x" }, Zones()));
        Assert.Equal(2, error.Errors.Count);
    }

    /// <summary>Feeds <paramref name="calls"/> finished calls through the dialer (every <paramref name="liveEvery"/>th a person, 60 s talk).</summary>
    internal static void WarmUp(CampaignDialer dialer, int calls, int liveEvery = 3, int abandonEvery = 0)
    {
        var at = Now;
        var live = 0;
        for (var i = 0; i < calls; i++)
        {
            var call = dialer.Plan(at, Ready(1), [Lead(100_000 + i)], NoDnc).Orders.Single().Call;
            if (i % liveEvery == 0)
            {
                dialer.OnAnswered(call.CallId, at.AddSeconds(8), CallOutcome.HumanAnswer);
                live++;
                if (abandonEvery > 0 && live % abandonEvery == 0)
                {
                    dialer.OnAbandoned(call.CallId, at.AddSeconds(10), messagePlayed: true);
                    dialer.OnCallEnded(call.CallId, at.AddSeconds(15));
                }
                else
                {
                    dialer.OnAgentConnected(call.CallId, at.AddSeconds(8));
                    dialer.OnCallEnded(call.CallId, at.AddSeconds(68));
                    dialer.OnWrapUpEnded(TimeSpan.FromSeconds(10));
                }
            }
            else
            {
                dialer.OnCallEnded(call.CallId, at.AddSeconds(20), CallOutcome.NoAnswer);
            }

            at = at.AddSeconds(1);
        }
    }
}
