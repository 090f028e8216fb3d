using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>Direct-to-agent routing (<see cref="CallArrivedForAgent"/>): one named agent, any strategy, a fallback when that agent does not take the call.</summary>
public sealed class DirectToAgentTests
{
    /// <summary>sales (leastrecent, 10 s ring) with a1 and a2, both ready; a2 has been idle longer, so leastrecent would pick a2.</summary>
    private static AcdHarness TwoReady()
    {
        var h = new AcdHarness(
            [Queue("sales", tweak: q => q with { RingTimeout = TimeSpan.FromSeconds(10) }), Queue("backup")],
            [Agent("a1", "sales"), Agent("a2", "sales"), Agent("b1", "backup")]);
        h.Login("a2");
        h.Login("a1", at: 1);
        h.Login("b1", at: 1);
        return h;
    }

    private static InputOutcome ForAgent(AcdHarness h, string call, string agent, double at, OverflowTarget fallback, string queue = "sales") =>
        h.At(at, t => new CallArrivedForAgent(t, call, agent, queue, new CallerData { CallerNumber = "5551234" }, fallback));

    [Fact]
    public void ReadyAgent_IsRungAlone_WhateverTheStrategyWouldPick_AndAnswers()
    {
        var h = TwoReady();
        Assert.True(ForAgent(h, "c1", "a1", 2, OverflowTarget.ToVoicemail("800")).Accepted);

        Assert.Equal(["a1"], h.RungFor("c1"));
        Assert.Equal(AgentState.Ready, h.StateOf("a2"));
        Assert.True(h.Answer("c1", "a1", 4).Accepted);
        h.HangUp("c1", 10);
        Assert.Equal(CallDisposition.Answered, Assert.Single(h.Events<CallEnded>()).Disposition);
        Assert.Empty(h.Commands<OverflowCall>());
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void AgentNotReady_IsRefused_NothingEntersTheAcd()
    {
        var h = TwoReady();
        Assert.True(h.At(2, t => new AgentPause(t, "a1", "lunch")).Accepted);

        var outcome = ForAgent(h, "c1", "a1", 3, OverflowTarget.ToQueue("sales"));

        Assert.False(outcome.Accepted);
        Assert.Contains("paused", outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(h.Events<CallEnqueued>());
        Assert.Empty(h.Commands<RingAgent>());
        Assert.Equal(0, h.Engine.LiveCalls);

        Assert.False(ForAgent(h, "c2", "nobody", 3, OverflowTarget.ToQueue("sales")).Accepted);
        Assert.False(ForAgent(h, "c3", "a2", 3, OverflowTarget.ToQueue("sales"), queue: "backup").Accepted);
        Assert.False(ForAgent(h, "c4", "a2", 3, OverflowTarget.ToQueue("nowhere")).Accepted);
    }

    [Fact]
    public void RingTimeout_GoesToTheVoicemailFallback_NotToTheOtherReadyAgent()
    {
        var h = TwoReady();
        ForAgent(h, "c1", "a1", 2, OverflowTarget.ToVoicemail("800"));

        h.AdvanceTo(12);

        var overflow = Assert.Single(h.Commands<OverflowCall>());
        Assert.Equal((OverflowCondition.NoAnswer, OverflowTargetKind.Voicemail, "800"), (overflow.Condition, overflow.Target.Kind, overflow.Target.Destination));
        Assert.Equal(["a1"], h.RungFor("c1"));
        Assert.Equal(CallDisposition.Voicemail, Assert.Single(h.Events<CallEnded>()).Disposition);
        Assert.Equal(AgentState.Ready, h.StateOf("a1"));
        Assert.Equal(1, h.Engine.Statistics.ForAgent("a1", h.Now).Missed);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void Declined_GoesToTheFallbackQueue_WhereItsAgentAnswers()
    {
        var h = TwoReady();
        ForAgent(h, "c1", "a1", 2, OverflowTarget.ToQueue("backup"));

        Assert.True(h.At(3, t => new AgentDeclined(t, "c1", "a1")).Accepted);

        Assert.Equal(["a1", "b1"], h.RungFor("c1"));
        Assert.Equal("backup", h.Commands<RingAgent>().Last().Queue);
        Assert.True(h.Answer("c1", "b1", 4).Accepted);

        // A later no-answer in the fallback queue follows that queue's own rules: the fallback is used once.
        h.HangUp("c1", 9);
        Assert.Equal(CallDisposition.Answered, Assert.Single(h.Events<CallEnded>()).Disposition);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void AgentPausesWhileRinging_TheCallGoesToTheFallback()
    {
        var h = TwoReady();
        ForAgent(h, "c1", "a1", 2, OverflowTarget.ToNumber("5550199"));

        Assert.True(h.At(3, t => new AgentPause(t, "a1", "phone-unavailable")).Accepted);

        var overflow = Assert.Single(h.Commands<OverflowCall>());
        Assert.Equal((OverflowTargetKind.ExternalNumber, "5550199"), (overflow.Target.Kind, overflow.Target.Destination));
        Assert.Equal(AgentState.Ready, h.StateOf("a2"));
        Assert.Equal(["a1"], h.RungFor("c1"));
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void FallbackIsTheSameQueue_UnansweredTheCallWaitsThereForAnyAgent()
    {
        var h = TwoReady();
        ForAgent(h, "c1", "a1", 2, OverflowTarget.ToQueue("sales"));

        h.AdvanceTo(12);

        Assert.Equal(["a1", "a2"], h.RungFor("c1"));
        Assert.Empty(h.Commands<OverflowCall>());
        Assert.Empty(h.Events<CallOverflowed>());
        EventLogInvariants.Check(h.Outbox.Events);
    }

    private static InputOutcome Adopt(AcdHarness h, string call, double at, OverflowTarget? fallback, int visit = 1, string assigned = "a1") =>
        h.At(at, t => new CallAdoption(t, call, "sales", new CallerData { CallerNumber = "5551234", AssignedAgentId = assigned }, T0, T0, T0, visit, ["sales"],
            DirectFallback: fallback));

    [Fact]
    public void Adopted_ForOneAgent_ThatAgentAloneIsRungAgain_UnansweredItGoesToTheFallback()
    {
        var h = TwoReady();
        Assert.True(Adopt(h, "c1", 2, OverflowTarget.ToQueue("backup")).Accepted);

        Assert.Equal(["a1"], h.RungFor("c1"));
        h.AdvanceTo(12);
        Assert.Equal(["a1", "b1"], h.RungFor("c1"));
        var overflowed = Assert.Single(h.Events<CallOverflowed>());
        Assert.Equal(("sales", OverflowCondition.NoAnswer), (overflowed.Queue, overflowed.Condition));
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void Adopted_ForOneAgentWhoIsNotReadyNow_GoesToTheFallbackAtOnce_NotToTheOtherReadyAgent()
    {
        var h = TwoReady();
        Assert.True(h.At(2, t => new AgentPause(t, "a1", "lunch")).Accepted);

        Assert.True(Adopt(h, "c1", 3, OverflowTarget.ToVoicemail("800")).Accepted);

        Assert.Empty(h.RungFor("c1"));
        Assert.Equal(OverflowTarget.ToVoicemail("800"), Assert.Single(h.Commands<OverflowCall>()).Target);
        Assert.Single(h.Events<CallAdopted>());
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void Adopted_WithoutAFallbackOrOnALaterVisit_IsAnOrdinaryWaitingCall()
    {
        var h = TwoReady();
        Assert.True(h.At(2, t => new AgentPause(t, "a1", "lunch")).Accepted);

        Assert.True(Adopt(h, "c1", 3, fallback: null).Accepted);
        Assert.True(Adopt(h, "c2", 3, OverflowTarget.ToVoicemail("800"), visit: 2).Accepted);

        // Sticky at most (a1 is paused): a2 takes them; nothing overflowed.
        h.AdvanceTo(60);
        Assert.Contains("a2", h.RungFor("c1").Concat(h.RungFor("c2")));
        Assert.Empty(h.Commands<OverflowCall>());
        Assert.Empty(h.Events<CallOverflowed>());
    }
}
