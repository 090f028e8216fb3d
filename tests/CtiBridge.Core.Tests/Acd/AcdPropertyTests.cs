using CsCheck;
using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>Random event sequences against the engine: invariants hold whatever agents and callers do.</summary>
public sealed class AcdPropertyTests
{
    private static readonly string[] AgentIds = ["a1", "a2", "a3", "a4", "a5"];

    private static AcdHarness Build(string strategy) => new(
        [
            Queue("q1", strategy, q => q with { WrapUp = TimeSpan.FromSeconds(5), RingTimeout = TimeSpan.FromSeconds(8), VipCallerNumbers = ["vip"],
                ExitKeys = new Dictionary<char, OverflowTarget> { ['1'] = OverflowTarget.ToCallbackOffer(), ['2'] = OverflowTarget.ToQueue("q2") } }),
            Queue("q2", strategy, q => q with { WrapUp = TimeSpan.FromSeconds(3), RingTimeout = TimeSpan.FromSeconds(6), MaxWaiting = 4,
                Overflow = [new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToVoicemail("1"), TimeSpan.FromSeconds(60))] }),
        ],
        [Agent("a1", "q1"), Agent("a2", "q1"), Agent("a3", "q2"), Agent("a4", "q1", "q2"), Agent("a5", "q1", "q2")],
        c => c with { AutoPauseAfterConsecutiveNoAnswers = 2 });

    private static readonly Gen<(int Kind, int Pick, double Delay)[]> Scripts =
        Gen.Select(Gen.Int[0, 12], Gen.Int[0, 1000], Gen.Double[0, 12]).Array[1, 150];

    private static List<AcdEvent> Play(AcdHarness h, (int Kind, int Pick, double Delay)[] script, out HashSet<string> arrived)
    {
        arrived = [];
        var t = 0.0;
        var n = 0;
        foreach (var (kind, pick, delay) in script)
        {
            t += delay;
            var agent = AgentIds[pick % AgentIds.Length];
            var live = h.Outbox.Events.OfType<CallEnqueued>().Select(e => e.CallId).Distinct()
                .Except(h.Outbox.Events.OfType<CallEnded>().Select(e => e.CallId)).Order(StringComparer.Ordinal).ToList();
            var liveCall = live.Count > 0 ? live[pick % live.Count] : "none";
            var status = h.Engine.GetAgent(agent)!;
            switch (kind)
            {
                case 0 or 1 or 2:
                    var id = "c" + n++;
                    arrived.Add(id);
                    h.Arrive(id, pick % 3 == 0 ? "q2" : "q1", t, new CallerData { CallerNumber = pick % 7 == 0 ? "vip" : "n" + pick });
                    break;
                case 3:
                    h.Login(agent, t);
                    break;
                case 4:
                    h.At(t, x => new AgentLogout(x, agent, pick % 2 == 0 ? ChangeSource.Agent : ChangeSource.Supervisor));
                    break;
                case 5:
                    h.At(t, x => new AgentPause(x, agent, pick % 2 == 0 ? PauseReasons.Break : PauseReasons.Supervisor));
                    break;
                case 6:
                    h.At(t, x => new AgentResume(x, agent));
                    break;
                case 7 or 8:
                    if (status.State == AgentState.Ringing)
                    {
                        h.At(t, x => pick % 5 == 0 ? new AgentDeclined(x, status.CallId!, agent) : new AgentAnswered(x, status.CallId!, agent));
                    }

                    break;
                case 9:
                    h.At(t, x => new CallHungUp(x, liveCall, pick % 2 == 0 ? HangupParty.Caller : HangupParty.Agent));
                    break;
                case 10:
                    h.At(t, x => pick % 2 == 0 ? new WrapUpEnd(x, agent) : new CallHoldChanged(x, liveCall, pick % 4 == 0));
                    break;
                case 11:
                    h.At(t, x => pick % 3 == 0 ? new CallLost(x, liveCall, "fault") : new CallerPressedKey(x, liveCall, pick % 2 == 0 ? '1' : '2'));
                    break;
                default:
                    h.AdvanceTo(t + (pick % 40));
                    t = h.Seconds;
                    break;
            }
        }

        // Drain: every call still in the ACD hangs up, then time runs past every wrap-up.
        t = h.Seconds + 1;
        foreach (var id in arrived.Except(h.Outbox.Events.OfType<CallEnded>().Select(e => e.CallId)).Order(StringComparer.Ordinal).ToList())
        {
            h.HangUp(id, t);
        }

        h.AdvanceTo(t + 3600);
        return h.Outbox.Events;
    }

    [Theory]
    [InlineData("leastrecent")]
    [InlineData("ringall")]
    [InlineData("rrmemory")]
    [InlineData("random")]
    public void RandomEventSequences_InvariantsHold(string strategy)
    {
        Scripts.Sample(script =>
        {
            var h = Build(strategy);
            var events = Play(h, script, out var arrived);

            EventLogInvariants.Check(events);
            // Every call that arrived ended exactly once (answered, abandoned, overflowed or lost).
            Assert.Equal(arrived.Order(StringComparer.Ordinal), events.OfType<CallEnded>().Select(e => e.CallId).Order(StringComparer.Ordinal));
            EventLogInvariants.CheckStatistics(events, h.Engine.Statistics, new MetricsParameters());
            CheckFifoWithinPriority(events);
            Assert.Equal(0, h.Engine.LiveCalls);
        }, iter: 150);
    }

    /// <summary>
    /// When an agent is offered a call, no call of the same queue that is waiting has a higher
    /// priority, or the same priority and an earlier arrival — unless that agent let it ring out
    /// within the retry delay (5 s).
    /// </summary>
    private static void CheckFifoWithinPriority(List<AcdEvent> events)
    {
        var queued = new Dictionary<string, (string Queue, int Priority, long Order)>();
        var firstSeen = new Dictionary<string, long>();
        var waiting = new HashSet<string>();
        var ringing = new Dictionary<string, int>();
        var misses = new Dictionary<(string Call, string Agent), DateTimeOffset>();
        foreach (var e in events)
        {
            switch (e)
            {
                case CallEnqueued q:
                    firstSeen.TryAdd(q.CallId, q.Sequence);
                    queued[q.CallId] = (q.Queue, q.Priority, firstSeen[q.CallId]);
                    waiting.Add(q.CallId);
                    break;
                case CallOffered o:
                    if (waiting.Remove(o.CallId))
                    {
                        var me = queued[o.CallId];
                        foreach (var other in waiting)
                        {
                            var w = queued[other];
                            if (w.Queue != me.Queue)
                            {
                                continue;
                            }

                            var ahead = w.Priority > me.Priority || (w.Priority == me.Priority && w.Order < me.Order);
                            var excused = misses.TryGetValue((other, o.AgentId), out var missedAt) && o.At - missedAt < TimeSpan.FromSeconds(5);
                            Assert.False(ahead && !excused, $"call {o.CallId} offered to {o.AgentId} while {other} waited ahead of it in {w.Queue} (event {o.Sequence})" + Environment.NewLine
                                + string.Join(Environment.NewLine, events.Where(x => x.Sequence <= o.Sequence && (x.ToString().Contains(other + ",", StringComparison.Ordinal) || x.ToString().Contains(o.AgentId + ",", StringComparison.Ordinal) || x.ToString().Contains(o.CallId + ",", StringComparison.Ordinal))).Select(x => x.ToString())));
                        }
                    }

                    ringing[o.CallId] = ringing.GetValueOrDefault(o.CallId) + 1;
                    break;
                case CallOfferEnded x:
                    ringing[x.CallId]--;
                    if (x.End != OfferEnd.Withdrawn)
                    {
                        misses[(x.CallId, x.AgentId)] = x.At;
                    }

                    if (ringing[x.CallId] == 0 && queued.ContainsKey(x.CallId))
                    {
                        waiting.Add(x.CallId);
                    }

                    break;
                case QueueVisitEnded v:
                    queued.Remove(v.CallId);
                    waiting.Remove(v.CallId);
                    ringing.Remove(v.CallId);
                    break;
            }
        }
    }
}
