using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>
/// A call's end learned late (a hang-up inside an ARI events gap, found at the resync: <see cref="CallHungUp.EndedAt"/>)
/// is recorded at its real end: the visit's wait, the talk and hold, the call's end and the agent's state changes,
/// while the engine's clock and the offers it makes afterwards stay at the input's time.
/// </summary>
public sealed class LateEndTests
{
    private static AcdHarness Sales(double wrapUpSeconds) => new(
        [Queue("sales", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(wrapUpSeconds) })],
        [Agent("alice", "sales"), Agent("bob", "sales")]);

    [Fact]
    public void WaitingCallerHungUpInTheGap_AbandonedAtTheRealEnd_WaitUpToIt()
    {
        var h = Sales(0);
        h.Arrive("c1", "sales", at: 10);

        h.At(100, t => new CallHungUp(t, "c1") { EndedAt = T0.AddSeconds(40) });

        var abandoned = Assert.Single(h.Events<CallAbandoned>());
        Assert.Equal(T0.AddSeconds(40), abandoned.At);
        Assert.Equal(TimeSpan.FromSeconds(30), abandoned.Wait);
        var ended = Assert.Single(h.Events<CallEnded>());
        Assert.Equal((T0.AddSeconds(40), CallDisposition.Abandoned, false), (ended.At, ended.Disposition, ended.EndEstimated));
        Assert.Equal(T0.AddSeconds(100), h.Engine.Now);
    }

    [Fact]
    public void TalkingCallEndedInTheGap_TalkAndHoldUpToTheRealEnd_WrapUpFromIt_NextOfferNow()
    {
        var h = Sales(60);
        h.Login("alice");
        h.Arrive("c1", "sales", at: 10);
        h.Answer("c1", "alice", at: 15);
        h.At(20, t => new CallHoldChanged(t, "c1", true));
        h.Arrive("c2", "sales", at: 30); // waits: alice is busy, bob logged out

        h.At(200, t => new CallHungUp(t, "c1", HangupParty.Caller) { EndedAt = T0.AddSeconds(50) });

        var completed = Assert.Single(h.Events<CallCompleted>());
        Assert.Equal(T0.AddSeconds(50), completed.At);
        Assert.Equal(TimeSpan.FromSeconds(5), completed.Talk);
        Assert.Equal(TimeSpan.FromSeconds(30), completed.Hold);
        Assert.Equal(T0.AddSeconds(50), Assert.Single(h.Events<CallEnded>()).At);

        // On the call until the real end; in wrap-up for its 60 s from there (over at 110, before the resync at 200):
        // ready at 110, and then offered the waiting call at the engine's time, not in the past.
        var changes = h.Events<AgentStateChanged>().Where(e => e.AgentId == "alice").ToList();
        var wrap = Assert.Single(changes, e => e.From == AgentState.OnCall);
        Assert.Equal((AgentState.WrapUp, T0.AddSeconds(50)), (wrap.To, wrap.At));
        var ready = Assert.Single(changes, e => e.From == AgentState.WrapUp);
        Assert.Equal((AgentState.Ready, T0.AddSeconds(110)), (ready.To, ready.At));
        Assert.Equal(TimeSpan.FromSeconds(60), Assert.Single(h.Events<CallHandlingEnded>()).WrapUp);
        var offered = Assert.Single(h.Events<CallOffered>(), e => e.CallId == "c2");
        Assert.Equal(T0.AddSeconds(200), offered.At);
        Assert.Equal(AgentState.Ringing, h.StateOf("alice"));
    }

    [Fact]
    public void WrapUpNotOverAtTheResync_EndsWrapUpAfterFromTheRealEnd()
    {
        var h = Sales(60);
        h.Login("alice");
        h.Arrive("c1", "sales", at: 10);
        h.Answer("c1", "alice", at: 15);

        h.At(40, t => new CallHungUp(t, "c1") { EndedAt = T0.AddSeconds(25) });
        Assert.Equal(AgentState.WrapUp, h.StateOf("alice"));
        Assert.Equal(T0.AddSeconds(85), h.Engine.NextDueTime);
        h.AdvanceTo(85);

        Assert.Equal(AgentState.Ready, h.StateOf("alice"));
        Assert.Equal(TimeSpan.FromSeconds(10), Assert.Single(h.Events<CallCompleted>()).Talk);
        Assert.Equal(TimeSpan.FromSeconds(60), Assert.Single(h.Events<CallHandlingEnded>()).WrapUp);
    }

    [Fact]
    public void LostUnseen_EstimatedEnd_MarkedOnTheCallsEnd()
    {
        var h = Sales(0);
        h.Arrive("c1", "sales", at: 10);

        h.At(30, t => new CallLost(t, "c1", "vanished in the gap") { EndedAt = T0.AddSeconds(20), EndEstimated = true });

        var lost = Assert.Single(h.Events<CallSystemLost>());
        Assert.Equal((T0.AddSeconds(20), TimeSpan.FromSeconds(10)), (lost.At, lost.Wait));
        var ended = Assert.Single(h.Events<CallEnded>());
        Assert.True(ended.EndEstimated);
        Assert.Equal(T0.AddSeconds(20), ended.At);
    }

    [Fact]
    public void RealEndBeforeWhatTheEngineDidMeanwhile_KeptAfterIt()
    {
        // The caller hung up at 12, but the engine rang alice at 20 (it could not know): the end is put at the
        // ring's start, never before something the engine already published about the call.
        var h = Sales(0);
        h.Arrive("c1", "sales", at: 10);
        h.Login("alice", at: 20);

        h.At(30, t => new CallHungUp(t, "c1") { EndedAt = T0.AddSeconds(12) });

        Assert.Equal(T0.AddSeconds(20), Assert.Single(h.Events<CallEnded>()).At);
        var withdrawn = Assert.Single(h.Events<CallOfferEnded>());
        Assert.Equal((OfferEnd.Withdrawn, TimeSpan.Zero), (withdrawn.End, withdrawn.RingTime));
        Assert.Equal(AgentState.Ready, h.StateOf("alice"));
    }

    [Fact]
    public void EndedAtNotBeforeTheInput_TheInputsTime()
    {
        var h = Sales(0);
        h.Arrive("c1", "sales", at: 10);

        h.At(30, t => new CallHungUp(t, "c1") { EndedAt = T0.AddSeconds(45) });

        Assert.Equal(T0.AddSeconds(30), Assert.Single(h.Events<CallEnded>()).At);
    }
}
