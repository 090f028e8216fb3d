using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Tests;

/// <summary>Invariants checked on any ACD event stream (property tests and simulations).</summary>
internal static class EventLogInvariants
{
    /// <summary>
    /// Offers go only to Ready agents (never paused, logged out, in wrap-up, ringing or on a call);
    /// sequence numbers are gap-free; every queue visit ends exactly once; every call ends at most once
    /// and nothing happens to it afterwards except the end of its handling.
    /// </summary>
    public static void Check(IReadOnlyList<AcdEvent> events)
    {
        var state = new Dictionary<string, AgentState>();
        var openVisits = new HashSet<(string, int)>();
        var ended = new HashSet<string>();
        long seq = 0;
        foreach (var e in events)
        {
            Assert.Equal(++seq, e.Sequence);
            switch (e)
            {
                case AgentStateChanged s:
                    Assert.Equal(state.GetValueOrDefault(s.AgentId, AgentState.LoggedOut), s.From);
                    state[s.AgentId] = s.To;
                    break;
                case CallOffered o:
                    Assert.True(state.GetValueOrDefault(o.AgentId) == AgentState.Ready,
                        $"call {o.CallId} offered to agent {o.AgentId} in state {state.GetValueOrDefault(o.AgentId)} (event {o.Sequence})");
                    Assert.Contains((o.CallId, GetVisit(openVisits, o.CallId)), openVisits);
                    break;
                case CallEnqueued q:
                    Assert.DoesNotContain(q.CallId, ended);
                    Assert.True(openVisits.Add((q.CallId, q.Visit)), $"visit {q.Visit} of call {q.CallId} entered twice");
                    Assert.DoesNotContain(openVisits, v => v.Item1 == q.CallId && v.Item2 != q.Visit);
                    break;
                case CallAdopted { AgentId: null } adopted:
                    // Taken over waiting: its visit goes on here (a connected one's visit ended with the answer, in the engine before).
                    Assert.DoesNotContain(adopted.CallId, ended);
                    Assert.True(openVisits.Add((adopted.CallId, adopted.Visit)), $"visit {adopted.Visit} of call {adopted.CallId} adopted while open");
                    break;
                case QueueVisitEnded v:
                    Assert.True(openVisits.Remove((v.CallId, v.Visit)), $"visit {v.Visit} of call {v.CallId} ended without being open");
                    break;
                case CallEnded c:
                    Assert.True(ended.Add(c.CallId), $"call {c.CallId} ended twice");
                    Assert.DoesNotContain(openVisits, v => v.Item1 == c.CallId);
                    break;
                case CallHandlingEnded:
                case AgentLoggedIn:
                case AgentLoginRefused:
                case AgentMuteChanged:
                    break;
                case RoutingDecision d:
                    Assert.DoesNotContain(d.CallId, ended);
                    break;
                case CallOfferEnded x:
                    Assert.DoesNotContain(x.CallId, ended);
                    break;
            }
        }
    }

    private static int GetVisit(HashSet<(string, int)> open, string callId) => open.Where(v => v.Item1 == callId).Select(v => v.Item2).DefaultIfEmpty(-1).Single();

    /// <summary>The live statistics equal an independent recount from the event log.</summary>
    public static void CheckStatistics(IReadOnlyList<AcdEvent> events, AcdStatistics statistics, MetricsParameters p)
    {
        var ends = events.OfType<QueueVisitEnded>().ToList();
        foreach (var queue in events.OfType<CallEnqueued>().Select(e => e.Queue).Distinct())
        {
            var mine = ends.Where(e => e.Queue == queue).ToList();
            var answered = mine.OfType<CallAnswered>().ToList();
            var abandoned = mine.OfType<CallAbandoned>().ToList();
            var answeredCalls = answered.Select(a => a.CallId).ToHashSet();
            var handled = events.OfType<CallHandlingEnded>().Where(h => h.Queue == queue && answeredCalls.Contains(h.CallId)).ToList();
            var expected = new QueueStatistics(
                queue,
                events.OfType<CallEnqueued>().Count(e => e.Queue == queue),
                answered.Count,
                answered.Count(a => a.Wait <= p.ServiceLevelThreshold),
                abandoned.Count,
                abandoned.Count(a => a.Wait < p.ShortAbandonThreshold),
                mine.Count(e => e.Outcome is QueueVisitOutcome.Timeout or QueueVisitOutcome.ExitEmpty or QueueVisitOutcome.ExitKey),
                mine.Count(e => e.Outcome == QueueVisitOutcome.SystemLost),
                answered.Aggregate(TimeSpan.Zero, (s, a) => s + a.Wait),
                mine.Select(e => e.Wait).DefaultIfEmpty(TimeSpan.Zero).Max(),
                handled.Count,
                handled.Aggregate(TimeSpan.Zero, (s, h) => s + h.Talk),
                handled.Aggregate(TimeSpan.Zero, (s, h) => s + h.Hold),
                handled.Aggregate(TimeSpan.Zero, (s, h) => s + h.WrapUp));
            Assert.Equal(expected, statistics.ForQueue(queue));
        }

        foreach (var agent in events.OfType<AgentLoggedIn>().Select(e => e.AgentId).Distinct())
        {
            var s = statistics.ForAgent(agent, events[^1].At);
            Assert.Equal(events.OfType<CallAnswered>().Count(a => a.AgentId == agent), s.Calls);
            Assert.Equal(events.OfType<CallOfferEnded>().Count(o => o.AgentId == agent && o.End != OfferEnd.Withdrawn), s.Missed);
            Assert.Equal(events.OfType<AgentLoggedIn>().Count(a => a.AgentId == agent && a.RestoredLoginAt is null), s.Logins);
        }
    }
}
