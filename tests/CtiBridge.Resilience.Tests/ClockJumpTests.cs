using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The wall clock jumps (an NTP step, an operator setting the date) while customers call. As on a
/// real machine, only the wall clock jumps: timers run on the monotonic clock. Ring timeouts and
/// wrap-ups must still end on time, agents must come back to Ready, and the records must stay
/// consistent (every call once, no overlapping or negative agent state intervals).
/// </summary>
[Trait("Tier", "Faults")]
public sealed class ClockJumpTests
{
    private const int AgentCount = 3;

    [Theory]
    [InlineData(-60)]
    [InlineData(+90)]
    public async Task WallClockJumpsMidTraffic_TimersStillEnd_AgentsReadyAndRecordsConsistent(int minutes)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new JumpingClock();
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, AgentCount, ct,
            queue: CallTraffic.Queue(ringSeconds: 2, wrapUpSeconds: 0.5),
            services: s => s.AddSingleton<TimeProvider>(clock));
        // One desk phone never answers: its calls need the ring timeout to move on.
        rig.Pbx.Phone("1003").NeverAnswers();
        long jumpedAfter = 0;

        await CallTraffic.CallInAsync(rig, 14, TimeSpan.FromMilliseconds(150), ct, async n =>
        {
            if (n == 5)
            {
                await rig.AcdEvents.WaitForAsync<Core.Acd.CallAnswered>(_ => true, "a first answered call", ct);
                jumpedAfter = rig.AcdEvents.Snapshot().Select(e => e.Sequence).DefaultIfEmpty().Max();
                clock.Jump(TimeSpan.FromMinutes(minutes));
            }
        });

        // Agent 2003's phone never answers: its ring timeouts must fire (a frozen engine clock would leave
        // it ringing), and after three it is paused for no-answer, as without a jump.
        await CallTraffic.AssertSettledAsync(rig, ["2001", "2002"], ct);
        Assert.Contains(rig.AcdEvents.Snapshot(), e => e is Core.Acd.CallOfferEnded { End: Core.Acd.OfferEnd.RingTimeout, AgentId: "2003" });

        // Time to recover (measured, never asserted): nothing stops at a jump, so what is measured is whether the
        // timers that ran across or after it kept time: the ring timeouts (2 s) that ended after the jump, with the
        // ring's length as the ACD measured it (monotonic).
        var rings = rig.AcdEvents.Snapshot().OfType<Core.Acd.CallOfferEnded>().Where(e => e.Sequence > jumpedAfter && e.End == Core.Acd.OfferEnd.RingTimeout).Select(e => e.RingTime).ToList();
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            $"wall clock stepped {(minutes < 0 ? "back" : "forward")} {Math.Abs(minutes)} min",
            "0 (not interrupted)",
            $"timers kept time across the step: {rings.Count} ring timeouts (configured 2 s) ended after it, after {(rings.Count == 0 ? "-" : $"{RecoveryReport.Seconds(rings.Min())} – {RecoveryReport.Seconds(rings.Max())}")} of ringing; 14 callers at 150 ms, {AgentCount} agents (one never answers)"));
        var never = (await rig.Center.GetAgentAsync("2003", ct))!;
        Assert.True(never.State is Core.Acd.AgentState.Ready or Core.Acd.AgentState.Paused, $"agent 2003 is {never.State}");
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM agent_state_intervals WHERE ended_at <= started_at", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls WHERE ended_at < started_at OR talk_seconds < 0", ct));
    }

    /// <summary>The system clock with a wall-clock offset that a test can step; timers and timestamps stay monotonic.</summary>
    private sealed class JumpingClock : TimeProvider
    {
        private long _offsetTicks;

        public void Jump(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
    }
}
