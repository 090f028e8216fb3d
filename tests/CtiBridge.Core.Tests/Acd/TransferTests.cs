using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>Transfers of a connected call: to a queue, to a named agent, to an outside number.</summary>
public sealed class TransferTests
{
    private static AcdHarness TwoQueues()
    {
        var h = new AcdHarness(
            [Queue("sales", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(10), RingTimeout = TimeSpan.FromSeconds(15) }),
             Queue("billing", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(20), RingTimeout = TimeSpan.FromSeconds(15) })],
            [Agent("a1", "sales"), Agent("b1", "billing"), Agent("s2", "sales")]);
        h.Login("a1");
        h.Arrive("c1", "sales", 1);
        h.Answer("c1", "a1", 3);
        return h;
    }

    [Fact]
    public void BlindTransferToQueue_AgentWrapsUpAndTheCallWaitsInTheTargetQueueAsASecondVisit()
    {
        var h = TwoQueues();
        h.Login("b1", at: 4);

        Assert.True(h.At(33, t => new CallTransferRequested(t, "c1", TransferTarget.ToQueue("billing"))).Accepted);

        var transferred = Assert.Single(h.Events<CallTransferred>());
        Assert.Equal(("sales", "a1", "queue:billing", false), (transferred.Queue, transferred.FromAgentId, transferred.Target.ToString(), transferred.Attended));
        var command = Assert.Single(h.Commands<TransferCall>());
        Assert.Equal("a1", command.FromAgentId);
        var completed = Assert.Single(h.Events<CallCompleted>());
        Assert.Equal((TimeSpan.FromSeconds(30), HangupParty.Agent), (completed.Talk, completed.ReleasedBy));
        Assert.Equal(AgentState.WrapUp, h.StateOf("a1"));
        var second = h.Events<CallEnqueued>().Last();
        Assert.Equal(("billing", 2), (second.Queue, second.Visit));
        Assert.Equal(["a1", "b1"], h.RungFor("c1"));
        Assert.Empty(h.Events<CallEnded>());

        h.Answer("c1", "b1", 40);
        h.HangUp("c1", 100);
        var ended = Assert.Single(h.Events<CallEnded>());
        Assert.Equal((CallDisposition.Answered, 2), (ended.Disposition, ended.Visits));

        // Each agent handled its leg (docs/metrics.md §5), with its own queue's wrap-up.
        h.AdvanceTo(200);
        var handled = h.Events<CallHandlingEnded>().ToList();
        Assert.Equal([("a1", "sales", 30.0, 10.0), ("b1", "billing", 60.0, 20.0)],
            handled.Select(e => (e.AgentId, e.Queue, e.Talk.TotalSeconds, e.WrapUp.TotalSeconds)));
        Assert.Equal(1, h.Engine.Statistics.ForQueue("sales").Handled);
        Assert.Equal(1, h.Engine.Statistics.ForQueue("billing").Handled);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void TransferToReadyAgent_RingsThatAgentFirst_UnansweredTheCallWaitsForAnyAgentOfTheQueue()
    {
        var h = TwoQueues();
        h.Login("s2", at: 4);
        h.Login("b1", at: 4);

        Assert.True(h.At(10, t => new CallTransferRequested(t, "c1", TransferTarget.ToAgent("b1"))).Accepted);
        Assert.Equal(["a1", "b1"], h.RungFor("c1"));
        Assert.Equal("billing", h.Events<CallEnqueued>().Last().Queue);

        // b1 lets it ring out: the call stays in billing, whose only member is b1 (retry rules apply).
        h.AdvanceTo(26);
        Assert.Contains(h.Events<CallOfferEnded>(), e => e.AgentId == "b1" && e.End == OfferEnd.RingTimeout);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void TransferToAgentOfTheSameQueue_StaysInTheCallsQueue()
    {
        var h = TwoQueues();
        h.Login("s2", at: 4);
        Assert.True(h.At(10, t => new CallTransferRequested(t, "c1", TransferTarget.ToAgent("s2"), Attended: true)).Accepted);
        Assert.Equal("sales", h.Events<CallEnqueued>().Last().Queue);
        Assert.Equal(["a1", "s2"], h.RungFor("c1"));
        Assert.True(Assert.Single(h.Events<CallTransferred>()).Attended);
    }

    [Fact]
    public void AttendedTransferToAColleagueHeldForConsult_RingsThatColleagueWithoutAnyOtherCallInBetween()
    {
        var h = TwoQueues();
        h.Login("s2", at: 4);
        h.Arrive("c2", "sales", 5); // waits: a1 busy, s2 about to be held for the consult
        Assert.Equal(["s2"], h.RungFor("c2"));
        h.At(6, t => new CallHungUp(t, "c2"));
        Assert.True(h.At(7, t => new AgentPause(t, "s2", PauseReasons.Consult, ChangeSource.System)).Accepted);
        h.Arrive("c3", "sales", 8);

        Assert.False(h.At(9, t => new CallTransferRequested(t, "c1", TransferTarget.ToAgent("s2"))).Accepted); // blind: not ready
        Assert.True(h.At(10, t => new CallTransferRequested(t, "c1", TransferTarget.ToAgent("s2"), Attended: true)).Accepted);

        Assert.Equal(["a1", "s2"], h.RungFor("c1"));
        Assert.Empty(h.RungFor("c3"));
        Assert.Equal(AgentState.Ringing, h.StateOf("s2"));
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void TransferToExternalNumber_CallLeavesTheAcdAnswered()
    {
        var h = TwoQueues();
        Assert.True(h.At(20, t => new CallTransferRequested(t, "c1", TransferTarget.ToExternal("5550199"))).Accepted);
        var ended = Assert.Single(h.Events<CallEnded>());
        Assert.Equal(CallDisposition.Answered, ended.Disposition);
        Assert.Equal(AgentState.WrapUp, h.StateOf("a1"));
        Assert.Equal(0, h.Engine.LiveCalls);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void SupervisorTakeOver_CutsTheAgentOff_AndTheCallLeavesTheAcdAnswered_WithTheSupervisorInTheChain()
    {
        var h = TwoQueues();
        Assert.True(h.At(20, t => new CallTransferRequested(t, "c1", TransferTarget.ToSupervisor("9001"), Attended: true)).Accepted);
        Assert.Equal("supervisor:9001", Assert.Single(h.Events<CallTransferred>()).Target.ToString());
        Assert.Equal(CallDisposition.Answered, Assert.Single(h.Events<CallEnded>()).Disposition);
        Assert.Equal(AgentState.WrapUp, h.StateOf("a1"));
        Assert.Equal(0, h.Engine.LiveCalls);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Theory]
    [InlineData(TransferTargetKind.Queue, "nowhere", "transfer target queue 'nowhere' is not configured")]
    [InlineData(TransferTargetKind.Agent, "zz", "transfer target agent 'zz' is not configured")]
    [InlineData(TransferTargetKind.Agent, "a1", "agent 'a1' already has call 'c1'")]
    [InlineData(TransferTargetKind.Agent, "b1", "transfer target agent 'b1' is not ready (state LoggedOut)")]
    [InlineData(TransferTargetKind.External, "", "an external transfer needs a number")]
    [InlineData(TransferTargetKind.Supervisor, " ", "a take-over needs the supervisor's ID")]
    public void BadTransfer_IsRefusedWithTheReason_AndTheCallStaysConnected(TransferTargetKind kind, string destination, string reason)
    {
        var h = TwoQueues();
        var outcome = h.At(10, t => new CallTransferRequested(t, "c1", new TransferTarget(kind, destination)));
        Assert.False(outcome.Accepted);
        Assert.StartsWith(reason, outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(AgentState.OnCall, h.StateOf("a1"));
        Assert.Empty(h.Events<CallTransferred>());
    }

    [Fact]
    public void TransferOfACallNotConnected_IsRefused()
    {
        var h = TwoQueues();
        h.Arrive("c2", "sales", 5);
        var outcome = h.At(6, t => new CallTransferRequested(t, "c2", TransferTarget.ToQueue("billing")));
        Assert.False(outcome.Accepted);
        Assert.Contains("not connected", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Note_PutsAPbxFactIntoTheOrderedStream()
    {
        var h = TwoQueues();
        h.Engine.Note(h.Now.AddSeconds(1), new CallRecordingStarted("c1", "rec-1", "ctibridge/rec-1", "wav", "a1"));
        var noted = Assert.Single(h.Events<CallRecordingStarted>());
        Assert.Equal(h.Outbox.Events.Count, noted.Sequence);
        Assert.Equal(h.Now.AddSeconds(1), noted.At);
    }
}
