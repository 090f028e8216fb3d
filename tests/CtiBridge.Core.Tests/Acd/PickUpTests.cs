using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>Call pickup (抢接, <see cref="CallPickUp"/>): a ready agent takes a call ringing another agent of the same queue.</summary>
public sealed class PickUpTests
{
    /// <summary>a1 rings for c1 from 1 s, a2 for c2 from 5 s (both sales); b1 serves billing only; p (sales) logs in at 6 s with nothing waiting.</summary>
    private static AcdHarness TwoRinging()
    {
        var h = new AcdHarness(
            [Queue("sales", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(10), RingTimeout = TimeSpan.FromSeconds(20) }),
             Queue("billing", tweak: q => q with { RingTimeout = TimeSpan.FromSeconds(20) })],
            [Agent("a1", "sales"), Agent("a2", "sales"), Agent("b1", "billing"), Agent("p", "sales", "billing")]);
        h.Login("a1");
        h.Arrive("c1", "sales", 1);
        h.Login("a2", at: 2);
        h.Arrive("c2", "sales", 5);
        Assert.Equal(["a1"], h.RungFor("c1"));
        Assert.Equal(["a2"], h.RungFor("c2"));
        h.Login("p", at: 6);
        Assert.Equal(AgentState.Ready, h.StateOf("p"));
        return h;
    }

    [Fact]
    public void PickUp_TakesTheLongestRingingCall_TheRungAgentIsReadyWithoutAMiss_AndThePickerAnswers()
    {
        var h = TwoRinging();
        Assert.Equal("c1", h.Engine.FindPickUpCall("p"));

        Assert.True(h.At(8, t => new CallPickUp(t, "p")).Accepted);

        var picked = Assert.Single(h.Events<CallPickedUp>());
        Assert.Equal(("c1", "sales", "p", "a1"), (picked.CallId, picked.Queue, picked.AgentId, string.Join(',', picked.RingingAgentIds)));
        var offerEnd = Assert.Single(h.Events<CallOfferEnded>());
        Assert.Equal(("c1", "a1", OfferEnd.Withdrawn, 7.0), (offerEnd.CallId, offerEnd.AgentId, offerEnd.End, offerEnd.RingTime.TotalSeconds));
        Assert.Equal("a1", Assert.Single(h.Commands<StopRinging>()).AgentId);
        var connect = Assert.Single(h.Commands<ConnectAgent>());
        Assert.Equal(("c1", "p", "ext-p"), (connect.CallId, connect.AgentId, connect.Extension));
        var answered = Assert.Single(h.Events<CallAnswered>());
        Assert.Equal(("c1", "p", 7.0), (answered.CallId, answered.AgentId, answered.Wait.TotalSeconds));
        Assert.Equal(AgentState.OnCall, h.StateOf("p"));
        Assert.Equal(AgentState.Ready, h.StateOf("a1"));
        Assert.Equal(AgentState.Ringing, h.StateOf("a2"));
        Assert.Equal("c1", h.Engine.GetAgent("p")!.CallId);

        // The old ring timeout (1 s + 20 s) passes with nothing happening to the picked-up call.
        h.AdvanceTo(22);
        Assert.Equal(AgentState.OnCall, h.StateOf("p"));
        Assert.Equal(0, h.Engine.Statistics.ForAgent("a1", h.Now).Missed);
        Assert.Equal(1, h.Engine.Statistics.ForAgent("p", h.Now).Calls);

        h.HangUp("c1", 30);
        h.AdvanceTo(50);
        var handled = Assert.Single(h.Events<CallHandlingEnded>(), e => e.CallId == "c1");
        Assert.Equal(("p", 22.0, 10.0), (handled.AgentId, handled.Talk.TotalSeconds, handled.WrapUp.TotalSeconds));
        Assert.Equal(CallDisposition.Answered, Assert.Single(h.Events<CallEnded>(), e => e.CallId == "c1").Disposition);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void PickUp_ByCallId_TakesThatCall()
    {
        var h = TwoRinging();
        Assert.True(h.At(8, t => new CallPickUp(t, "p", "c2")).Accepted);
        Assert.Equal(("c2", "p"), (Assert.Single(h.Events<CallAnswered>()).CallId, Assert.Single(h.Events<CallAnswered>()).AgentId));
        Assert.Equal(AgentState.Ready, h.StateOf("a2"));
        Assert.Equal(AgentState.Ringing, h.StateOf("a1"));
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void PickUp_ByAnAgentHeldPausedForThePickUp_IsAccepted_OtherPausesAreRefused()
    {
        // Call control holds an API picker paused "pickup" while its phone rings; no other call is offered meanwhile.
        var h = TwoRinging();
        Assert.True(h.At(7, t => new AgentPause(t, "p", PauseReasons.PickUp, ChangeSource.System)).Accepted);
        Assert.Equal("c1", h.Engine.FindPickUpCall("p"));
        Assert.True(h.Engine.IsRinging("c2"));
        Assert.True(h.At(8, t => new CallPickUp(t, "p", "c2")).Accepted);
        Assert.Equal(AgentState.OnCall, h.StateOf("p"));
        Assert.False(h.Engine.IsRinging("c2"));

        var other = TwoRinging();
        Assert.True(other.At(7, t => new AgentPause(t, "p", PauseReasons.Break)).Accepted);
        Assert.Null(other.Engine.FindPickUpCall("p"));
        Assert.False(other.At(8, t => new CallPickUp(t, "p", "c2")).Accepted);
        Assert.Equal(AgentState.Paused, other.StateOf("p"));
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void PickUp_WithNothingRingingInThePickersQueues_IsRefusedAndChangesNothing()
    {
        var h = new AcdHarness(
            [Queue("sales"), Queue("billing")],
            [Agent("b1", "billing"), Agent("p", "sales")]);
        h.Login("b1");
        h.Arrive("c1", "billing", 1);
        Assert.Equal(["b1"], h.RungFor("c1"));
        h.Login("p", at: 2);
        var before = h.Outbox.Events.Count;

        Assert.Null(h.Engine.FindPickUpCall("p"));
        var outcome = h.At(3, t => new CallPickUp(t, "p"));

        Assert.False(outcome.Accepted);
        Assert.Contains("no call is ringing", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(before, h.Outbox.Events.Count);
        Assert.Equal(AgentState.Ringing, h.StateOf("b1"));

        var other = h.At(4, t => new CallPickUp(t, "p", "c1"));
        Assert.False(other.Accepted);
        Assert.Contains("does not serve queue 'billing'", other.Reason, StringComparison.Ordinal);
        Assert.Equal(AgentState.Ready, h.StateOf("p"));
    }

    [Fact]
    public void PickUp_ByAnAgentWhoIsNotReady_IsRefused()
    {
        var h = TwoRinging();
        Assert.True(h.At(7, t => new AgentPause(t, "p", PauseReasons.Break)).Accepted);
        Assert.Null(h.Engine.FindPickUpCall("p"));

        var paused = h.At(8, t => new CallPickUp(t, "p"));
        Assert.False(paused.Accepted);
        Assert.Contains("only a ready agent", paused.Reason, StringComparison.Ordinal);

        var ringing = h.At(9, t => new CallPickUp(t, "a2", "c1"));
        Assert.False(ringing.Accepted);
        Assert.False(h.At(9, t => new CallPickUp(t, "nobody")).Accepted);
        Assert.Equal(AgentState.Ringing, h.StateOf("a1"));
        Assert.Empty(h.Events<CallAnswered>());
    }

    [Fact]
    public void PickUp_AgentsFreedByThePickUpTakeTheNextWaitingCall()
    {
        var h = new AcdHarness(
            [Queue("sales", strategy: "ringall"), Queue("support")],
            [Agent("a1", "sales", "support"), Agent("a2", "sales", "support"), Agent("p", "sales")]);
        h.Login("a1");
        h.Login("a2");
        h.Arrive("c1", "sales", 1);
        h.Arrive("c2", "support", 2);
        Assert.Equal(["a1", "a2"], h.RungFor("c1").Order(StringComparer.Ordinal));
        Assert.Empty(h.RungFor("c2"));
        h.Login("p", at: 3);

        Assert.True(h.At(4, t => new CallPickUp(t, "p")).Accepted);

        // Both ringall agents were freed (no miss of theirs); the waiting support call rings one of them now.
        var picked = Assert.Single(h.Events<CallPickedUp>());
        Assert.Equal(["a1", "a2"], picked.RingingAgentIds.Order(StringComparer.Ordinal));
        Assert.All(h.Events<CallOfferEnded>().Where(e => e.CallId == "c1"), e => Assert.Equal(OfferEnd.Withdrawn, e.End));
        Assert.Equal(2, h.Events<CallOfferEnded>().Count(e => e.CallId == "c1"));
        Assert.Contains(Assert.Single(h.RungFor("c2")), new[] { "a1", "a2" });
        Assert.Equal(0, h.Engine.Statistics.ForAgent("a1", h.Now).Missed + h.Engine.Statistics.ForAgent("a2", h.Now).Missed);
        EventLogInvariants.Check(h.Outbox.Events);
    }
}
