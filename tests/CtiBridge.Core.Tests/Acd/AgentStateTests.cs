using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

public sealed class AgentStateTests
{
    private static AcdHarness TwoQueues() => new(
        [Queue("sales"), Queue("support", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(60) })],
        [Agent("alice", "sales", "support"), Agent("bob", "sales") with { Skills = new Dictionary<string, int> { ["english"] = 5, ["cantonese"] = 8 } }]);

    [Fact]
    public void Login_CorrectPin_AgentReadyWithStateEvent()
    {
        var h = TwoQueues();

        var outcome = h.Login("alice");

        Assert.True(outcome.Accepted);
        Assert.Equal(AgentState.Ready, h.StateOf("alice"));
        var change = Assert.Single(h.Events<AgentStateChanged>());
        Assert.Equal((AgentState.LoggedOut, AgentState.Ready, "logged in"), (change.From, change.To, change.Reason));
        Assert.Equal(T0, change.At);
    }

    [Fact]
    public void Login_WrongPin_RefusedAndPinAppearsNowhere()
    {
        var h = TwoQueues();
        var login = new AgentLogin(T0, "alice", "2001", "9876");

        var outcome = h.Engine.Handle(login);

        Assert.False(outcome.Accepted);
        Assert.Contains("wrong PIN", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(LoginRefusal.WrongPin, Assert.Single(h.Events<AgentLoginRefused>()).Refusal);
        Assert.DoesNotContain("9876", login.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(h.Outbox.Events, e => e.ToString().Contains("9876", StringComparison.Ordinal));
        Assert.DoesNotContain("9876", outcome.Reason!, StringComparison.Ordinal);
        Assert.Equal(AgentState.LoggedOut, h.StateOf("alice"));
    }

    [Fact]
    public void Login_QueueNotInProfile_RefusedNamingTheQueue()
    {
        var h = TwoQueues();

        var outcome = h.Login("bob", queues: ["support"]);

        Assert.False(outcome.Accepted);
        Assert.Contains("'support'", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(LoginRefusal.QueueNotPermitted, Assert.Single(h.Events<AgentLoginRefused>()).Refusal);
    }

    [Fact]
    public void Login_ExtensionAlreadyUsedByAnotherAgent_Refused()
    {
        var h = TwoQueues();
        h.Login("alice", ext: "2001");

        var outcome = h.Login("bob", ext: "2001");

        Assert.False(outcome.Accepted);
        Assert.Equal(LoginRefusal.ExtensionInUse, Assert.Single(h.Events<AgentLoginRefused>()).Refusal);
    }

    [Fact]
    public void Login_ChoosesSkillSubsetForTheShift_OnlyChosenSkillsServeWithoutRestart()
    {
        var h = TwoQueues();
        h.Login("bob", skills: ["english"]);

        h.Arrive("c1", "sales", 1, new CallerData { RequiredSkills = ["cantonese"] });
        Assert.Empty(h.RungFor("c1"));

        h.At(2, t => new AgentLogout(t, "bob"));
        h.Login("bob", at: 3, skills: ["english", "cantonese"]);
        Assert.Equal(["bob"], h.RungFor("c1"));
    }

    [Fact]
    public void WrapUp_DefaultThirtySeconds_AgentReadyWhenItEnds()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.Arrive("c1", "sales", 10);
        h.Answer("c1", "bob", 12);
        h.HangUp("c1", 100);

        Assert.Equal(AgentState.WrapUp, h.StateOf("bob"));
        Assert.Equal(T0.AddSeconds(130), h.Engine.NextDueTime);
        h.AdvanceTo(129.9);
        Assert.Equal(AgentState.WrapUp, h.StateOf("bob"));
        h.AdvanceTo(130);
        Assert.Equal(AgentState.Ready, h.StateOf("bob"));
        var handled = Assert.Single(h.Events<CallHandlingEnded>());
        Assert.Equal(TimeSpan.FromSeconds(30), handled.WrapUp);
        Assert.Equal(TimeSpan.FromSeconds(88), handled.Talk);
    }

    [Fact]
    public void WrapUp_EndedEarlyByAgent_ReadyAtOnce()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.Arrive("c1", "sales", 0);
        h.Answer("c1", "bob", 1);
        h.HangUp("c1", 20);

        Assert.True(h.At(25, t => new WrapUpEnd(t, "bob")).Accepted);

        Assert.Equal(AgentState.Ready, h.StateOf("bob"));
        Assert.Equal(TimeSpan.FromSeconds(5), Assert.Single(h.Events<CallHandlingEnded>()).WrapUp);
    }

    [Fact]
    public void WrapUp_ExtendedByAgent_EndsLater()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.Arrive("c1", "sales", 0);
        h.Answer("c1", "bob", 1);
        h.HangUp("c1", 20);

        h.At(30, t => new WrapUpExtend(t, "bob", TimeSpan.FromSeconds(45)));
        h.AdvanceTo(60);
        Assert.Equal(AgentState.WrapUp, h.StateOf("bob"));
        h.AdvanceTo(95);
        Assert.Equal(AgentState.Ready, h.StateOf("bob"));
    }

    [Fact]
    public void WrapUpAfterQueueA_CallWaitingInQueueB_NotOffered()
    {
        var h = TwoQueues();
        h.Login("alice");
        h.Arrive("c1", "support", 0);
        h.Answer("c1", "alice", 1);
        h.HangUp("c1", 10);

        h.Arrive("c2", "sales", 11);

        Assert.Empty(h.RungFor("c2"));
        var decision = h.Events<RoutingDecision>().Last(d => d.CallId == "c2");
        Assert.Equal(SkipReason.WrapUp, Assert.Single(decision.Candidates).Skip);
        h.AdvanceTo(70); // support's 60 s wrap-up belongs to alice, whatever the queue of the next call
        Assert.Equal(["alice"], h.RungFor("c2"));
    }

    [Fact]
    public void Pause_WhileOnCall_TakesEffectWhenCallEndsWithoutWrapUpOffer()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.Arrive("c1", "sales", 0);
        h.Answer("c1", "bob", 1);

        h.At(5, t => new AgentPause(t, "bob", PauseReasons.Meal));
        Assert.Equal(AgentState.OnCall, h.StateOf("bob"));
        Assert.True(h.Engine.GetAgent("bob")!.PendingPause);
        h.HangUp("c1", 50);
        h.AdvanceTo(80);

        Assert.Equal(AgentState.Paused, h.StateOf("bob"));
        Assert.Equal(PauseReasons.Meal, h.Engine.GetAgent("bob")!.PauseReason);
    }

    [Fact]
    public void SupervisorForcePause_WhileRinging_CallRingsNextAgent()
    {
        var h = TwoQueues();
        h.Login("alice", at: 0);
        h.Login("bob", at: 1);
        h.Arrive("c1", "sales", 5);
        Assert.Equal(["alice"], h.RungFor("c1"));

        h.At(6, t => new AgentPause(t, "alice", PauseReasons.Supervisor, ChangeSource.Supervisor));

        Assert.Equal(["alice", "bob"], h.RungFor("c1"));
        var paused = h.Events<AgentStateChanged>().Last(e => e.AgentId == "alice");
        Assert.Equal((AgentState.Ringing, AgentState.Paused, ChangeSource.Supervisor), (paused.From, paused.To, paused.Source));
        Assert.Equal(OfferEnd.Withdrawn, h.Events<CallOfferEnded>().Single().End);
    }

    [Fact]
    public void SupervisorForceResume_PausedAgent_ReadyAndTakesWaitingCall()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.At(1, t => new AgentPause(t, "bob", PauseReasons.Break));
        h.Arrive("c1", "sales", 2);

        h.At(3, t => new AgentResume(t, "bob", ChangeSource.Supervisor));

        Assert.Equal(["bob"], h.RungFor("c1"));
    }

    [Fact]
    public void SupervisorForceLogout_OnCall_LogsOutAfterCallWithoutWrapUp()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.Arrive("c1", "sales", 0);
        h.Answer("c1", "bob", 1);

        h.At(2, t => new AgentLogout(t, "bob", ChangeSource.Supervisor));
        Assert.Equal(AgentState.OnCall, h.StateOf("bob"));
        h.HangUp("c1", 40);

        Assert.Equal(AgentState.LoggedOut, h.StateOf("bob"));
        Assert.DoesNotContain(h.Events<AgentStateChanged>(), e => e.To == AgentState.WrapUp);
        Assert.Equal(TimeSpan.Zero, Assert.Single(h.Events<CallHandlingEnded>()).WrapUp);
    }

    [Fact]
    public void MuteAndHold_OnCall_FlagsRecordedAndHoldSubtractedFromTalk()
    {
        var h = TwoQueues();
        h.Login("bob");
        h.Arrive("c1", "sales", 0);
        h.Answer("c1", "bob", 0);

        Assert.True(h.At(10, t => new AgentMute(t, "bob", true)).Accepted);
        h.At(20, t => new CallHoldChanged(t, "c1", true));
        h.At(50, t => new CallHoldChanged(t, "c1", false));
        h.HangUp("c1", 100, HangupParty.Agent);

        Assert.True(Assert.Single(h.Events<AgentMuteChanged>()).Muted);
        var done = Assert.Single(h.Events<CallCompleted>());
        Assert.Equal((TimeSpan.FromSeconds(70), TimeSpan.FromSeconds(30), HangupParty.Agent), (done.Talk, done.Hold, done.ReleasedBy));
        Assert.False(h.At(101, t => new AgentMute(t, "bob", false)).Accepted);
    }

    [Fact]
    public void Resume_AgentNotPaused_RefusedWithState()
    {
        var h = TwoQueues();
        h.Login("bob");

        var outcome = h.At(1, t => new AgentResume(t, "bob"));

        Assert.False(outcome.Accepted);
        Assert.Contains("not paused", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_EarlierThanEngineTime_ThrowsSayingWhichInput()
    {
        var h = TwoQueues();
        h.AdvanceTo(10);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => h.Engine.Handle(new AgentLogin(T0, "bob", "1", "1234")));

        Assert.Contains("AgentLogin", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_UnknownQueueAndBadHash_OneErrorListingEveryProblem()
    {
        var e = Assert.Throws<AcdConfigurationException>(() => new AcdHarness(
            [Queue("sales", tweak: q => q with { Overflow = [new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToQueue("nowhere"), TimeSpan.FromSeconds(60))] })],
            [Agent("alice", "sales", "marketing") with { PinHash = "1234" }]));

        Assert.Contains("unknown queue 'nowhere'", e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown queue 'marketing'", e.Message, StringComparison.Ordinal);
        Assert.Contains("PinHash", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AgentPin_HashAndVerify_RightPinOnlyAndSaltDiffers()
    {
        var a = AgentPin.Hash("4321", 10);
        var b = AgentPin.Hash("4321", 10);

        Assert.NotEqual(a, b);
        Assert.True(AgentPin.Verify("4321", a));
        Assert.False(AgentPin.Verify("4322", a));
        Assert.False(AgentPin.Verify("4321", "garbage"));
        Assert.DoesNotContain("4321", a, StringComparison.Ordinal);
    }
}
