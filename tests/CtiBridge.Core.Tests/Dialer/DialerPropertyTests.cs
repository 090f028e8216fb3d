using CsCheck;
using CtiBridge.Core.Dialer;
using CtiBridge.Core.Dialer.Simulation;
using static CtiBridge.Core.Tests.Dialer.DialerTestKit;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>Pacing invariants on random sequences of agents, clock jumps and call outcomes.</summary>
public sealed class DialerPropertyTests
{
    private static readonly IReadOnlySet<string> Dnc = Enumerable.Range(0, 40).Where(i => i % 7 == 3).Select(i => NumberOf(i)).ToHashSet();

    /// <summary>One step: agents now, how far the clock moves, and what the PBX reports for the calls up.</summary>
    private sealed record Step(int Ready, int Busy, int Advance, int Event);

    private static readonly Gen<Step> StepGen = Gen.Select(Gen.Int[0, 6], Gen.Int[0, 6], Gen.Int[0, 45], Gen.Int[0, 99], (r, b, a, e) => new Step(r, b, a, e));

    [Theory]
    [InlineData(DialingMode.Progressive)]
    [InlineData(DialingMode.Power)]
    [InlineData(DialingMode.Predictive)]
    public void Plan_RandomOutcomeSequences_NeverBreaksLineCapWindowDncOrOneCallPerLead(DialingMode mode)
    {
        StepGen.Array[10, 150].Sample(steps => Drive(mode, steps), iter: 150);
    }

    [Fact]
    public void Plan_RandomOutcomeSequences_AtTheAbandonLimitOnlyProgressiveDialling()
    {
        // Many abandons: the guard must kick in and hold whenever the headroom is below one call.
        StepGen.Array[50, 200].Sample(steps => Drive(DialingMode.Predictive, steps, abandonHeavy: true), iter: 60);
    }

    [Fact]
    public void Simulation_RandomSmallTeams_PredictiveStaysUnderTheAbandonLimit()
    {
        // Seeded: every run of the suite checks the same 6 random teams (a simulation is a few hundred ms each).
        Gen.Select(Gen.Int[2, 15], Gen.Double[0.1, 0.6], Gen.Double[30, 240], Gen.Int[1, 1000])
            .Sample((agents, p, talk, seed) =>
            {
                var scenario = new DialerScenario
                {
                    Agents = agents,
                    LiveAnswerProbability = p,
                    MeanTalkSeconds = talk,
                    TargetLiveAnswers = 800,
                    MinimumMeasured = TimeSpan.FromMinutes(30),
                    Seed = seed,
                };
                var result = DialerSimulation.Run(scenario, new SimulatedPacing(DialingMode.Predictive));
                return result.LedgerAbandonRate <= 0.03 && result.AbandonRate <= 0.03;
            }, iter: 6, seed: "0N0XIzNsQ0O2", threads: 1);
    }

    private static string NumberOf(int i) => i % 5 == 1 ? $"+1415555{i:0000}" : i % 5 == 2 ? $"+86138{i:00000000}" : $"+1212555{i:0000}";

    private static void Drive(DialingMode mode, Step[] steps, bool abandonHeavy = false)
    {
        var campaign = Campaign(mode, lines: 8) with
        {
            PowerRatio = 2.5,
            PredictiveWarmUpCalls = 10,
            Windows = new CallingWindows(new Dictionary<DayOfWeek, IReadOnlyList<CallingSpan>>
            {
                [DayOfWeek.Monday] = [new(new TimeOnly(9, 0), new TimeOnly(17, 0))],
                [DayOfWeek.Tuesday] = [new(new TimeOnly(9, 0), new TimeOnly(12, 0))],
                [DayOfWeek.Wednesday] = [new(new TimeOnly(8, 0), new TimeOnly(21, 0))],
            }),
        };
        var dialer = new CampaignDialer(campaign, Zones());
        var zones = Zones();
        var leads = Enumerable.Range(0, 40).ToDictionary(i => $"lead-{i}", i => Lead(i, NumberOf(i)));
        var now = Monday10Utc;
        foreach (var step in steps)
        {
            now += step.Advance > 40 ? TimeSpan.FromHours(step.Advance - 35) : TimeSpan.FromSeconds(step.Advance);
            var agents = step.Event % 10 == 0 ? AgentSnapshot.Empty : Ready(step.Ready, step.Busy);
            var atLimitBefore = dialer.Ledger.AbandonHeadroom(now) < 1;
            var ringingBefore = dialer.Calls.Count(c => c.State != DialedCallState.Connected);
            var due = leads.Values.Where(l => l.IsDue(now)).ToList();

            var plan = dialer.Plan(now, agents, due, Dnc);

            foreach (var released in plan.Released)
            {
                leads[released.Call.LeadId] = released.UpdatedLead;
            }

            foreach (var givenUp in plan.GivenUp)
            {
                // Only predictive gives lines up, only as unanswered, and never before the minimum ring time.
                leads[givenUp.Call.LeadId] = givenUp.UpdatedLead;
                Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
                Assert.Equal(CallOutcome.NoAnswer, givenUp.Outcome);
                Assert.True(givenUp.EndedAt - givenUp.Call.DialedAt >= campaign.Policy.MinimumRingTime, $"{givenUp.Call.CallId} given up after {(givenUp.EndedAt - givenUp.Call.DialedAt).TotalSeconds} s");
                Assert.DoesNotContain(dialer.Calls, c => c.CallId == givenUp.Call.CallId);
            }

            Assert.True(dialer.Calls.Count <= campaign.MaxConcurrentLines, $"{dialer.Calls.Count} calls up over the cap of {campaign.MaxConcurrentLines}");
            if (agents.LoggedIn == 0)
            {
                Assert.Empty(plan.Orders);
            }

            if (atLimitBefore && mode != DialingMode.Progressive)
            {
                Assert.Equal(DialingMode.Progressive, plan.EffectiveMode);
            }

            if (plan.EffectiveMode == DialingMode.Progressive)
            {
                // Progressive never has more lines ringing or waiting than ready agents.
                var ringingAfterRelease = ringingBefore - plan.Released.Count(r => r.Call.State != DialedCallState.Connected);
                Assert.True(plan.Orders.Count <= Math.Max(0, agents.Ready - ringingAfterRelease), $"{plan.Orders.Count} progressive dials for {agents.Ready} ready agents and {ringingAfterRelease} lines");
            }

            foreach (var order in plan.Orders)
            {
                var lead = order.Call.Lead;
                Assert.DoesNotContain(lead.PhoneNumber, Dnc);
                Assert.True(campaign.Windows.IsOpen(now, zones.ZoneOf(lead)!), $"{lead.PhoneNumber} dialled outside its window at {now:O}");
                Assert.True(lead.IsDue(now));
                Assert.True(order.RingTimeout >= campaign.Policy.MinimumRingTime);
            }

            var calls = dialer.Calls.ToList();
            Assert.Equal(calls.Count, calls.Select(c => c.LeadId).Distinct().Count());
            Assert.Equal(calls.Count, calls.Select(c => c.PhoneNumber).Distinct().Count());
            Assert.All(calls.Where(c => c.State == DialedCallState.Ringing),
                c => Assert.True(now - c.DialedAt < campaign.RingTimeout + campaign.LostReplyGrace, "a ringing line outlived its bound"));

            React(dialer, calls, step.Event, now, leads, abandonHeavy);
        }
    }

    /// <summary>What the PBX says about each call up; some replies are lost on purpose.</summary>
    private static void React(CampaignDialer dialer, List<DialedCall> calls, int seed, DateTimeOffset now, Dictionary<string, Lead> leads, bool abandonHeavy)
    {
        var at = now.AddSeconds(1);
        for (var i = 0; i < calls.Count; i++)
        {
            var call = calls[i];
            var pick = (seed + (i * 37)) % 100;
            AttemptResult? ended = null;
            switch (call.State)
            {
                case DialedCallState.Ringing when pick < 25:
                    dialer.OnAnswered(call.CallId, at, pick < 20 ? CallOutcome.HumanAnswer : CallOutcome.Machine);
                    break;
                case DialedCallState.Ringing when pick < 60:
                    ended = dialer.OnCallEnded(call.CallId, at, (CallOutcome)(2 + (pick % 6)));
                    break;
                case DialedCallState.WaitingForAgent when abandonHeavy ? pick < 70 : pick < 10:
                    dialer.OnAbandoned(call.CallId, at, messagePlayed: true);
                    break;
                case DialedCallState.WaitingForAgent when pick < 90:
                    dialer.OnAgentConnected(call.CallId, at.AddMilliseconds(pick * 30));
                    break;
                case DialedCallState.Connected when pick < 50:
                    ended = dialer.OnCallEnded(call.CallId, at.AddSeconds(pick));
                    break;
                default:
                    break; // no reply (lost or still going)
            }

            if (ended is not null)
            {
                leads[ended.Call.LeadId] = ended.UpdatedLead;
                Assert.True(ended.UpdatedLead.Status != LeadStatus.Open || ended.UpdatedLead.NextAttemptAt > ended.EndedAt || ended.UpdatedLead.NextAttemptAt == ended.EndedAt);
                if (ended.Outcome == CallOutcome.InvalidNumber)
                {
                    Assert.Equal(LeadStatus.InvalidNumber, ended.UpdatedLead.Status);
                }
            }
        }
    }
}
