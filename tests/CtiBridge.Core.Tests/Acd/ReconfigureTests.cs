using CsCheck;
using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>The engine takes a new configuration while agents are logged in and calls wait (no restart).</summary>
public sealed class ReconfigureTests
{
    private static AcdConfiguration Config(IEnumerable<QueueConfiguration> queues, params AgentProfile[] agents) =>
        new() { Queues = [.. queues], Agents = agents };

    private static IReadOnlyList<string> Reconfigure(AcdHarness h, double at, AcdConfiguration config)
    {
        h.AdvanceTo(at);
        return h.Engine.Reconfigure(h.Now, config);
    }

    [Fact]
    public void AgentAddedToQueue_WhileReady_TakesTheWaitingCallAtOnce()
    {
        var h = new AcdHarness([Queue("sales"), Queue("support")], [Agent("alice", "sales")]);
        h.Login("alice");
        h.Arrive("c1", "support", 1);
        Assert.Empty(h.RungFor("c1"));

        var problems = Reconfigure(h, 2, Config([Queue("sales"), Queue("support")], Agent("alice", "sales", "support:3")));

        Assert.Empty(problems);
        Assert.Equal(["alice"], h.RungFor("c1"));
        var change = Assert.Single(h.Events<AgentQueuesChanged>());
        Assert.Equal([new QueueMembership("sales"), new QueueMembership("support", 3)], change.Queues);
        Assert.Equal(["sales", "support"], h.Engine.GetAgent("alice")!.Queues.Select(q => q.Queue));
        Assert.Equal(1, h.Engine.GetQueueStatus("support").LoggedIn);
        var reconfigured = Assert.Single(h.Events<AcdReconfigured>());
        Assert.Equal(["alice"], reconfigured.AgentsChanged);
        Assert.Empty(reconfigured.QueuesChanged);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void AgentRemovedFromQueue_IsNoLongerOffered_AndLeaveWhenEmptyApplies()
    {
        var support = Queue("support", tweak: q => q with { LeaveWhen = EmptyQueueCondition.NoAgentsLoggedIn });
        var h = new AcdHarness([Queue("sales"), support], [Agent("alice", "sales", "support"), Agent("bob", "sales")]);
        h.Login("alice");
        h.Login("bob");
        h.Arrive("c1", "sales", 1);
        h.Answer("c1", h.RungFor("c1").Single(), 2);
        var busy = h.RungFor("c1").Single();

        // The other agent is busy too, so a support call waits.
        h.Arrive("c2", "sales", 3);
        h.Answer("c2", h.RungFor("c2").Single(), 4);
        h.Arrive("c3", "support", 5);

        var problems = Reconfigure(h, 6, Config([Queue("sales"), support], Agent("alice", "sales"), Agent("bob", "sales")));

        Assert.Empty(problems);
        Assert.Equal(0, h.Engine.GetQueueStatus("support").LoggedIn);
        var left = Assert.Single(h.Events<CallOverflowed>());
        Assert.Equal(("c3", OverflowCondition.NoAgents), (left.CallId, left.Condition));
        Assert.NotNull(busy);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    [Fact]
    public void PenaltyRaised_TheOtherAgentGetsTheNextCall()
    {
        var h = new AcdHarness([Queue("q")], [Agent("alice", "q:0"), Agent("bob", "q:1")]);
        h.Login("alice");
        h.Login("bob", at: 1);
        Assert.Empty(Reconfigure(h, 2, Config([Queue("q")], Agent("alice", "q:5"), Agent("bob", "q:1"))));

        h.Arrive("c1", "q", 3);

        Assert.Equal(["bob"], h.RungFor("c1"));
        Assert.Equal(5, h.Engine.GetAgent("alice")!.Queues.Single().Penalty);
    }

    [Fact]
    public void SkillGiven_LoggedInAgentServesCallsNeedingIt()
    {
        var h = new AcdHarness([Queue("q")], [Agent("alice", "q")]);
        h.Login("alice");
        h.Arrive("c1", "q", 1, new CallerData { RequiredSkills = ["french"] });
        Assert.Empty(h.RungFor("c1"));

        var withSkill = Agent("alice", "q") with { Skills = new Dictionary<string, int> { ["french"] = 7 } };
        Assert.Empty(Reconfigure(h, 2, Config([Queue("q")], withSkill)));

        Assert.Equal(["alice"], h.RungFor("c1"));
        Assert.Equal(7, Assert.Single(h.Events<AgentQueuesChanged>()).Skills["french"]);
    }

    [Fact]
    public void QueueDeclinedAtLogin_StaysUnserved_WhenOnlyItsPenaltyChanges()
    {
        var h = new AcdHarness([Queue("a"), Queue("b")], [Agent("alice", "a", "b")]);
        h.Login("alice", queues: ["a"]);

        Assert.Empty(Reconfigure(h, 1, Config([Queue("a"), Queue("b"), Queue("c")], Agent("alice", "a", "b:4", "c"))));

        // 'b' was declined at login; 'c' is new in the profile, so the agent joins it.
        Assert.Equal(["a", "c"], h.Engine.GetAgent("alice")!.Queues.Select(q => q.Queue));
    }

    [Fact]
    public void QueueAddedAndRemoved_CallsFollowTheNewSet()
    {
        var h = new AcdHarness([Queue("old"), Queue("main")], [Agent("alice", "main", "old")]);
        h.Login("alice");

        var problems = Reconfigure(h, 1, Config([Queue("main"), Queue("new")], Agent("alice", "main", "new")));

        Assert.Empty(problems);
        Assert.False(h.Arrive("c1", "old", 2).Accepted);
        Assert.True(h.Arrive("c2", "new", 3).Accepted);
        Assert.Equal(["alice"], h.RungFor("c2"));
        var e = Assert.Single(h.Events<AcdReconfigured>());
        Assert.Equal(["new"], e.QueuesAdded);
        Assert.Equal(["old"], e.QueuesRemoved);
        Assert.Equal(["main", "new"], h.Engine.GetAgent("alice")!.Queues.Select(q => q.Queue));
    }

    [Fact]
    public void QueueWithCallsRemoved_RefusedAndTheOldConfigurationKeepsRunning()
    {
        var h = new AcdHarness([Queue("main"), Queue("old")], [Agent("alice", "main")]);
        h.Arrive("c1", "old", 1);

        var problems = Reconfigure(h, 2, Config([Queue("main")], Agent("alice", "main")));

        Assert.Equal("queue 'old': cannot be removed while 1 call(s) are in it; remove it once it is empty (or send its calls elsewhere first)", Assert.Single(problems));
        Assert.Empty(h.Events<AcdReconfigured>());
        Assert.Equal(1, h.Engine.GetQueueStatus("old").Waiting);
        Assert.True(h.Arrive("c2", "old", 3).Accepted);
    }

    [Fact]
    public void QueueWithAgentInWrapUpFromIt_RemovalRefused()
    {
        var h = new AcdHarness([Queue("main"), Queue("old")], [Agent("alice", "main", "old")]);
        h.Login("alice");
        h.Arrive("c1", "old", 1);
        h.Answer("c1", "alice", 2);
        h.HangUp("c1", 3);

        var problems = Reconfigure(h, 4, Config([Queue("main")], Agent("alice", "main")));

        Assert.Contains("alice", Assert.Single(problems), StringComparison.Ordinal);
        Assert.Contains("wrap-up", problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public void LoggedInAgentRemoved_Refused_LoggedOutAgentRemoved()
    {
        var h = new AcdHarness([Queue("q")], [Agent("alice", "q"), Agent("bob", "q")]);
        h.Login("alice");

        var refused = Reconfigure(h, 1, Config([Queue("q")]));
        var accepted = Reconfigure(h, 2, Config([Queue("q")], Agent("alice", "q")));

        Assert.Equal("agent 'alice': cannot be removed while logged in (state Ready); log the agent out first", Assert.Single(refused));
        Assert.Empty(accepted);
        Assert.Null(h.Engine.GetAgent("bob"));
        Assert.False(h.Login("bob", at: 3).Accepted);
    }

    [Fact]
    public void InvalidConfiguration_EveryProblemListed_NothingChanges()
    {
        var h = new AcdHarness([Queue("q")], [Agent("alice", "q")]);
        h.Login("alice");

        var problems = Reconfigure(h, 1, Config(
            [Queue("q", "leastrecnt"), Queue("r", tweak: q => q with { RingTimeout = TimeSpan.Zero })],
            Agent("alice", "q", "nowhere")));

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("leastrecnt", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("RingTimeout", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'nowhere'", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => h.Engine.GetQueueStatus("r"));
        Assert.Equal(["q"], h.Engine.GetAgent("alice")!.Queues.Select(q => q.Queue));
    }

    [Fact]
    public void QueueSettingChanged_TheNextRingUsesIt()
    {
        var h = new AcdHarness([Queue("q")], [Agent("alice", "q")]);
        h.Login("alice");
        Assert.Empty(Reconfigure(h, 1, Config([Queue("q", tweak: q => q with { RingTimeout = TimeSpan.FromSeconds(40) })], Agent("alice", "q"))));

        h.Arrive("c1", "q", 2);

        Assert.Equal(TimeSpan.FromSeconds(40), h.Commands<RingAgent>().Single().RingTimeout);
        Assert.Equal(["q"], h.Events<AcdReconfigured>().Single().QueuesChanged);
    }

    [Fact]
    public void SameConfigurationBuiltAgain_NothingReportedChanged()
    {
        static AcdConfiguration Build() => Config(
            [Queue("q", tweak: q => q with { Overflow = [new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToVoicemail("1"), TimeSpan.FromSeconds(60))], VipCallerNumbers = ["1"] })],
            Agent("alice", "q:2") with { Skills = new Dictionary<string, int> { ["x"] = 1 } });
        var h = new AcdHarness([], []);
        Assert.Empty(Reconfigure(h, 0, Build()));

        Assert.Empty(Reconfigure(h, 1, Build()));

        var second = h.Events<AcdReconfigured>().Last();
        Assert.Empty(second.QueuesChanged.Concat(second.QueuesAdded).Concat(second.AgentsChanged).Concat(second.AgentsAdded));
    }

    [Fact]
    public void RingingAgentLeavesTheQueue_TheRingGoesOnAndMayBeAnswered()
    {
        var h = new AcdHarness([Queue("a"), Queue("b")], [Agent("alice", "a", "b")]);
        h.Login("alice");
        h.Arrive("c1", "b", 1);
        Assert.Equal(["alice"], h.RungFor("c1"));

        Assert.Empty(Reconfigure(h, 2, Config([Queue("a"), Queue("b")], Agent("alice", "a"))));
        var answered = h.Answer("c1", "alice", 3);

        Assert.True(answered.Accepted);
        Assert.Equal(AgentState.OnCall, h.StateOf("alice"));
        Assert.Equal(0, h.Engine.GetQueueStatus("b").LoggedIn);
        Assert.Equal(1, h.Engine.GetQueueStatus("a").LoggedIn);
        EventLogInvariants.Check(h.Outbox.Events);
    }

    private static readonly string[] AgentIds = ["a1", "a2", "a3", "a4"];

    private static AcdConfiguration RandomConfig(int seed)
    {
        var queues = new List<QueueConfiguration>
        {
            Queue("q1", seed % 3 == 0 ? "ringall" : "leastrecent", q => q with { WrapUp = TimeSpan.FromSeconds(seed % 4), RingTimeout = TimeSpan.FromSeconds(5 + (seed % 5)) }),
            Queue("q2", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(2), LeaveWhen = seed % 2 == 0 ? EmptyQueueCondition.NoAgentsServing : null }),
        };
        if (seed % 5 != 0)
        {
            queues.Add(Queue("q3"));
        }

        var agents = AgentIds.Select((id, i) =>
        {
            var names = queues.Select(q => q.Name).Where((_, k) => ((seed >> (i * 3 + k)) & 1) == 1 || k == i % queues.Count).ToList();
            return Agent(id, [.. names.Select(n => $"{n}:{(seed >> i) % 3}")]) with
            {
                Skills = ((seed >> i) & 4) != 0 ? new Dictionary<string, int> { ["s"] = 1 + (seed % 9) } : new Dictionary<string, int>(),
            };
        });
        return Config(queues, [.. agents]);
    }

    /// <summary>
    /// Random agent and caller behaviour mixed with random reconfigurations: the event log keeps its
    /// invariants, every call ends, and each queue's member counts equal the agents that say they serve it.
    /// </summary>
    [Fact]
    public void RandomReconfigurations_InvariantsAndMemberCountsHold()
    {
        var gen = Gen.Select(Gen.Int[0, 9], Gen.Int[0, 1000], Gen.Double[0, 10]).Array[1, 120];
        gen.Sample(script =>
        {
            var h = new AcdHarness(RandomConfig(1).Queues, RandomConfig(1).Agents);
            var arrived = new HashSet<string>();
            var n = 0;
            var t = 0.0;
            foreach (var (kind, pick, delay) in script)
            {
                t += delay;
                var agent = AgentIds[pick % AgentIds.Length];
                var status = h.Engine.GetAgent(agent)!;
                switch (kind)
                {
                    case 0 or 1:
                        var id = "c" + n++;
                        var queue = "q" + (1 + (pick % 3));
                        if (h.Arrive(id, queue, t, new CallerData { RequiredSkills = pick % 4 == 0 ? ["s"] : [] }).Accepted)
                        {
                            arrived.Add(id);
                        }

                        break;
                    case 2:
                        h.Login(agent, t);
                        break;
                    case 3:
                        h.At(t, x => pick % 2 == 0 ? new AgentLogout(x, agent) : new AgentPause(x, agent, PauseReasons.Break));
                        break;
                    case 4:
                        h.At(t, x => new AgentResume(x, agent));
                        break;
                    case 5:
                        if (status.State == AgentState.Ringing)
                        {
                            h.Answer(status.CallId!, agent, t);
                        }

                        break;
                    case 6:
                        var live = arrived.Except(h.Events<CallEnded>().Select(e => e.CallId)).Order(StringComparer.Ordinal).ToList();
                        if (live.Count > 0)
                        {
                            h.HangUp(live[pick % live.Count], t, pick % 2 == 0 ? HangupParty.Caller : HangupParty.Agent);
                        }

                        break;
                    default:
                        h.AdvanceTo(t);
                        h.Engine.Reconfigure(h.Now, RandomConfig(pick));
                        break;
                }

                CheckMemberCounts(h);
            }

            t = h.Seconds + 1;
            foreach (var id in arrived.Except(h.Events<CallEnded>().Select(e => e.CallId)).Order(StringComparer.Ordinal).ToList())
            {
                h.HangUp(id, t);
            }

            h.AdvanceTo(t + 3600);
            EventLogInvariants.Check(h.Outbox.Events);
            Assert.Equal(arrived.Order(StringComparer.Ordinal), h.Events<CallEnded>().Select(e => e.CallId).Order(StringComparer.Ordinal));
            Assert.Equal(0, h.Engine.LiveCalls);
        }, iter: 150);
    }

    private static void CheckMemberCounts(AcdHarness h)
    {
        var agents = AgentIds.Select(h.Engine.GetAgent).OfType<AgentStatus>().ToList();
        foreach (var queue in new[] { "q1", "q2", "q3" })
        {
            QueueStatus status;
            try
            {
                status = h.Engine.GetQueueStatus(queue);
            }
            catch (ArgumentException)
            {
                Assert.DoesNotContain(agents, a => a.Queues.Any(q => q.Queue == queue));
                continue;
            }

            var members = agents.Where(a => a.Queues.Any(q => q.Queue == queue)).ToList();
            Assert.Equal(members.Count, status.LoggedIn);
            Assert.Equal(members.Count(a => a.State == AgentState.Ready), status.Ready);
            Assert.Equal(members.Count(a => a.State != AgentState.Paused), status.Serving);
        }
    }
}
