using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>
/// An agent whose phone was ringing when the engine before a restart or takeover stopped (issue 14:
/// <see cref="AgentRestored.RingingCallId"/>). The ring is not carried on (its leg is hung up, the call offered
/// again), but the agent's time is: ringing from the ring's start, ended at the restore (withdrawn, not a miss), at
/// the ring's timeout when that passed while nobody controlled the calls (a missed call, as the first engine would
/// have counted it), or at the answer of a call adopted connected; ready after it, and offered calls only now.
/// </summary>
public sealed class RestoredRingTests
{
    private static AcdHarness Engine() => new([Queue("sales", tweak: q => q with { RingTimeout = TimeSpan.FromSeconds(15) })], [Agent("bob", "sales"), Agent("amy", "sales")]);

    private static AgentRestored Ringing(DateTimeOffset at, double ringStart, string callId = "c1") =>
        new(at, "bob", "ext-bob") { StateSince = T0.AddSeconds(ringStart), LoggedInAt = T0, RingingCallId = callId, RingingQueue = "sales" };

    private static InputOutcome AdoptWaiting(AcdHarness h, string call, double at) =>
        h.At(at, t => new CallAdoption(t, call, "sales", new CallerData { CallerNumber = "5551234" }, T0, T0, T0, 1, ["sales"]));

    [Fact]
    public void RingCutByTheRestore_RingingFromItsStartUntilTheRestore_NotAMiss_ThenTheCallIsOfferedAgain()
    {
        var second = Engine();
        second.AdvanceTo(30);
        Assert.True(second.At(30, t => Ringing(t, 28)).Accepted);

        // Ringing from the ring's real start, ended now, withdrawn (not the agent's miss), then ready since now.
        var changes = second.Events<AgentStateChanged>().Where(e => e.AgentId == "bob").Select(e => (e.From, e.To, e.At)).ToList();
        Assert.Equal(
            [(AgentState.LoggedOut, AgentState.Ready, T0.AddSeconds(28)), (AgentState.Ready, AgentState.Ringing, T0.AddSeconds(28)), (AgentState.Ringing, AgentState.Ready, T0.AddSeconds(30))],
            changes);
        var ended = Assert.Single(second.Events<CallOfferEnded>());
        Assert.Equal(("c1", "sales", "bob", OfferEnd.Withdrawn, TimeSpan.FromSeconds(2), T0.AddSeconds(30)), (ended.CallId, ended.Queue, ended.AgentId, ended.End, ended.RingTime, ended.At));
        Assert.Equal(0, second.Engine.Statistics.ForAgent("bob", second.Now).Missed);
        Assert.Equal((AgentState.Ready, T0.AddSeconds(30)), (second.StateOf("bob"), second.Engine.GetAgent("bob")!.Since));

        // The call adopted (waiting) is offered again, from now: here to bob, the only agent.
        Assert.True(AdoptWaiting(second, "c1", 30).Accepted);
        Assert.Equal(["bob"], second.RungFor("c1"));
        Assert.Equal(T0.AddSeconds(30), second.Events<AgentStateChanged>().Last(e => e.AgentId == "bob").At);
        EventLogInvariants.Check(second.Outbox.Events);
    }

    [Fact]
    public void RingTimeoutPassedWhileNobodyControlledTheCalls_AMissedCallAtTheTimeout_ThenReady()
    {
        var second = Engine();
        second.AdvanceTo(30);
        Assert.True(second.At(30, t => Ringing(t, 5)).Accepted);

        // Rung at 5, 15 s ring timeout: missed at 20 (RINGNOANSWER, 15 s of ringing), ready from then.
        var ended = Assert.Single(second.Events<CallOfferEnded>());
        Assert.Equal((OfferEnd.RingTimeout, TimeSpan.FromSeconds(15), T0.AddSeconds(20)), (ended.End, ended.RingTime, ended.At));
        Assert.Equal(1, second.Engine.Statistics.ForAgent("bob", second.Now).Missed);
        var changes = second.Events<AgentStateChanged>().Where(e => e.AgentId == "bob").Select(e => (e.To, e.At)).ToList();
        Assert.Equal([(AgentState.Ready, T0.AddSeconds(5)), (AgentState.Ringing, T0.AddSeconds(5)), (AgentState.Ready, T0.AddSeconds(20))], changes);

        // Offered a call now, not in the past.
        Assert.True(AdoptWaiting(second, "c1", 30).Accepted);
        Assert.Equal(["bob"], second.RungFor("c1"));
        EventLogInvariants.Check(second.Outbox.Events);
    }

    [Fact]
    public void RingAnsweredBeforeTheRestore_RingingUntilTheAnswer_ThenOnTheAdoptedCallFromTheAnswer()
    {
        var second = Engine();
        second.AdvanceTo(30);
        Assert.True(second.At(30, t => Ringing(t, 26) with { RingAnsweredAt = T0.AddSeconds(27) }).Accepted);
        Assert.Empty(second.Events<CallOfferEnded>());
        Assert.True(second.At(30, t => new CallAdoption(t, "c1", "sales", new CallerData { CallerNumber = "5551234" }, T0, T0, T0, 1, ["sales"], AgentId: "bob", AnsweredAt: T0.AddSeconds(27))).Accepted);

        var changes = second.Events<AgentStateChanged>().Where(e => e.AgentId == "bob").Select(e => (e.To, e.At)).ToList();
        Assert.Equal((AgentState.Ringing, T0.AddSeconds(26)), changes[1]);
        Assert.Equal((AgentState.Ready, T0.AddSeconds(27)), changes[2]);
        Assert.Equal(AgentState.OnCall, second.StateOf("bob"));
        Assert.Equal(0, second.Engine.Statistics.ForAgent("bob", second.Now).Missed);
    }

    [Fact]
    public void PausedAgentWithAStaleRingingCall_IsRestoredPaused_NoRing()
    {
        var second = Engine();
        second.AdvanceTo(30);
        Assert.True(second.At(30, t => new AgentRestored(t, "bob", "ext-bob", PauseReason: PauseReasons.Meal) { StateSince = T0.AddSeconds(10), RingingCallId = "c1", RingingQueue = "sales" }).Accepted);

        Assert.Equal(AgentState.Paused, second.StateOf("bob"));
        Assert.DoesNotContain(second.Events<AgentStateChanged>(), e => e.To == AgentState.Ringing);
        Assert.Empty(second.Events<CallOfferEnded>());
    }
}
