using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>
/// What an agent was doing when the engine before a restart stopped, restored (<see cref="AgentRestored"/>):
/// the wrap-up time that was left, and a pause or logout that waited for the call's end. The events a
/// first engine publishes for them (<see cref="AgentWrapUpTimed"/>, <see cref="AgentPendingChanged"/>)
/// are what the live state store keeps, so each test runs a first engine, then a second one from them.
/// </summary>
public sealed class AgentRestoreTests
{
    private static AcdHarness Engine() => new([Queue("sales", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(60) })], [Agent("bob", "sales"), Agent("amy", "sales")]);

    [Fact]
    public void WrapUpLeft_RestoredForTheTimeLeft_ThenReadyAndOfferedTheWaitingCall()
    {
        var first = Engine();
        first.Login("bob");
        first.Arrive("c1", "sales", 0);
        first.Answer("c1", "bob", 1);
        first.HangUp("c1", 20);
        first.At(30, t => new WrapUpExtend(t, "bob", TimeSpan.FromSeconds(15)));
        var timed = first.Events<AgentWrapUpTimed>().Last();
        Assert.Equal(("bob", "c1", "sales", T0.AddSeconds(95)), (timed.AgentId, timed.CallId, timed.Queue, timed.EndsAt));

        // The restart at 40 s: 55 s of wrap-up left; a caller already waits.
        var second = Engine();
        second.AdvanceTo(40);
        Assert.True(second.At(40, t => new AgentRestored(t, "bob", "ext-bob", WrapUpEndsAt: timed.EndsAt, WrapUpCallId: timed.CallId, WrapUpQueue: timed.Queue)).Accepted);
        second.Arrive("c2", "sales", 41);

        var status = second.Engine.GetAgent("bob")!;
        Assert.Equal((AgentState.WrapUp, "c1", T0.AddSeconds(95)), (status.State, status.CallId, status.WrapUpEndsAt));
        Assert.Equal(AgentState.WrapUp, second.Events<AgentStateChanged>().Last(e => e.AgentId == "bob").To);
        Assert.Empty(second.RungFor("c2"));
        Assert.Equal(T0.AddSeconds(95), Assert.Single(second.Events<AgentWrapUpTimed>()).EndsAt);
        second.AdvanceTo(94.9);
        Assert.Empty(second.RungFor("c2"));
        second.AdvanceTo(95);
        Assert.Equal(["bob"], second.RungFor("c2"));

        // The handling's talk and hold were the first engine's: its records ended with it.
        Assert.Empty(second.Events<CallHandlingEnded>());
    }

    [Fact]
    public void WrapUpOverWhileDown_RestoredReady()
    {
        var second = Engine();
        second.AdvanceTo(200);
        Assert.True(second.At(200, t => new AgentRestored(t, "bob", "ext-bob", WrapUpEndsAt: T0.AddSeconds(95), WrapUpCallId: "c1", WrapUpQueue: "sales")).Accepted);

        Assert.Equal(AgentState.Ready, second.StateOf("bob"));
        Assert.Empty(second.Events<AgentWrapUpTimed>());
    }

    [Fact]
    public void PauseAskedForOnTheCall_InRestoredWrapUp_AppliesAtItsEnd_WithItsReasonAndSource()
    {
        var first = Engine();
        first.Login("bob");
        first.Arrive("c1", "sales", 0);
        first.Answer("c1", "bob", 1);
        first.At(5, t => new AgentPause(t, "bob", PauseReasons.Meal, ChangeSource.Supervisor));
        var pending = Assert.Single(first.Events<AgentPendingChanged>());
        Assert.Equal(("bob", PauseReasons.Meal, false, ChangeSource.Supervisor), (pending.AgentId, pending.PauseReason, pending.Logout, pending.Source));
        first.HangUp("c1", 20);
        var timed = Assert.Single(first.Events<AgentWrapUpTimed>());

        var second = Engine();
        second.AdvanceTo(30);
        second.At(30, t => new AgentRestored(t, "bob", "ext-bob", WrapUpEndsAt: timed.EndsAt, WrapUpCallId: "c1", WrapUpQueue: "sales",
            PendingPauseReason: pending.PauseReason, PendingSource: pending.Source));

        var status = second.Engine.GetAgent("bob")!;
        Assert.Equal((AgentState.WrapUp, true), (status.State, status.PendingPause));
        Assert.Equal(PauseReasons.Meal, Assert.Single(second.Events<AgentPendingChanged>()).PauseReason);
        second.AdvanceTo(80);
        var paused = second.Events<AgentStateChanged>().Last();
        Assert.Equal((AgentState.WrapUp, AgentState.Paused, PauseReasons.Meal, ChangeSource.Supervisor), (paused.From, paused.To, paused.Reason, paused.Source));
    }

    [Fact]
    public void PauseAskedForOnTheCall_CallEndedWhileDown_PausedAtOnce_NeverOfferedACall()
    {
        var second = Engine();
        second.Arrive("c9", "sales", 0);
        second.At(1, t => new AgentRestored(t, "bob", "ext-bob", PendingPauseReason: PauseReasons.Meal));

        Assert.Equal(AgentState.Paused, second.StateOf("bob"));
        Assert.Equal(PauseReasons.Meal, second.Engine.GetAgent("bob")!.PauseReason);
        Assert.Empty(second.RungFor("c9"));
    }

    [Fact]
    public void LogoutAskedForOnTheCall_InRestoredWrapUp_LogsOutAtItsEnd_AndAtOnceWithoutWrapUp()
    {
        var first = Engine();
        first.Login("bob");
        first.Arrive("c1", "sales", 0);
        first.Answer("c1", "bob", 1);
        first.At(5, t => new AgentLogout(t, "bob", ChangeSource.Supervisor));
        var pending = Assert.Single(first.Events<AgentPendingChanged>());
        Assert.True(pending.Logout);

        var second = Engine();
        second.Arrive("c9", "sales", 0);
        second.At(1, t => new AgentRestored(t, "bob", "ext-bob", WrapUpEndsAt: T0.AddSeconds(61), WrapUpCallId: "c1", WrapUpQueue: "sales",
            PendingPauseReason: pending.PauseReason, PendingLogout: true, PendingSource: ChangeSource.Supervisor));
        second.At(2, t => new AgentRestored(t, "amy", "ext-amy", PendingPauseReason: "logged out", PendingLogout: true, PendingSource: ChangeSource.Agent));

        Assert.Equal(AgentState.LoggedOut, second.StateOf("amy"));
        Assert.Equal(AgentState.WrapUp, second.StateOf("bob"));
        Assert.True(second.Engine.GetAgent("bob")!.PendingLogout);
        second.AdvanceTo(61);
        Assert.Equal(AgentState.LoggedOut, second.StateOf("bob"));
        Assert.Equal(ChangeSource.Supervisor, second.Events<AgentStateChanged>().Last(e => e.AgentId == "bob").Source);
        Assert.Empty(second.RungFor("c9"));
    }

    [Fact]
    public void PendingPauseWithdrawn_ByResume_PublishesAnEmptyPendingChange()
    {
        var h = Engine();
        h.Login("bob");
        h.Arrive("c1", "sales", 0);
        h.Answer("c1", "bob", 1);
        h.At(5, t => new AgentPause(t, "bob", PauseReasons.Meal));
        h.At(6, t => new AgentResume(t, "bob"));

        var withdrawn = h.Events<AgentPendingChanged>().Last();
        Assert.Equal(((string?)null, false), (withdrawn.PauseReason, withdrawn.Logout));
        Assert.False(h.Engine.GetAgent("bob")!.PendingPause);
    }
}
