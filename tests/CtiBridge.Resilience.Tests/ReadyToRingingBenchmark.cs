using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Issue 8's latency benchmark: an agent becomes Ready while a caller waits → that agent's desk
/// phone is ringing in PbxSim. Explicit (not part of the suite; no timing is asserted):
/// <c>scripts/bench-ready-ringing.sh</c> runs it and docs/benchmarks.md has the numbers.
/// </summary>
/// <remarks>
/// Each sample: every agent paused but one about to resume; one caller waiting in the queue
/// (CallEnqueued seen); the clock starts just before <c>ResumeAgentAsync</c> (the agent goes
/// Ready) and stops when the AMI observer receives PbxSim's <c>Newstate</c> Ringing for a channel of
/// that agent's phone. So the figure includes the ACD's routing decision, the ARI originate,
/// PbxSim's dial and the AMI event back to the observer (an upper bound of what the agent waits
/// for). The phone then answers at once and hangs up after 50 ms, the agent is paused again and
/// the next sample uses the next agent. Bounded: <c>CTIBRIDGE_READY_RINGING_SAMPLES</c> (default
/// 300) samples after 20 warm-up ones, every wait bounded in time.
/// </remarks>
[Trait("Tier", "Benchmark")]
public sealed class ReadyToRingingBenchmark
{
    private const int Agents = 20;
    private const int WarmUp = 20;

    [Fact(Explicit = true)]
    public async Task ReadyToRinging_LatencyPercentiles()
    {
        var ct = TestContext.Current.CancellationToken;
        var samples = int.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_READY_RINGING_SAMPLES"), CultureInfo.InvariantCulture, out var s) && s is > 0 and <= 100_000 ? s : 300;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var team = CallTraffic.Agents(Agents);
        var queue = CallTraffic.Queue(ringSeconds: 10, wrapUpSeconds: 0);
        await using var rig = await CallCenterRig.StartAsync(database, queue, team, ct);

        // Ringing seen by the observer, per phone, with the time it arrived.
        var ringing = new ConcurrentDictionary<string, long>();
        using var newstates = rig.Observer.SubscribeEvents(["Newstate"]);
        var watcher = Task.Run(async () =>
        {
            await foreach (var item in newstates.WithCancellation(ct))
            {
                if (item.Event is { } e && e["ChannelStateDesc"] == "Ringing" && e["Channel"] is { } channel && channel.StartsWith("PJSIP/1", StringComparison.Ordinal))
                {
                    ringing.TryAdd(channel[6..channel.IndexOf('-', StringComparison.Ordinal)], Stopwatch.GetTimestamp());
                }
            }
        }, ct);

        foreach (var (agentId, phone) in team)
        {
            rig.Pbx.Phone(phone).AnswersLikeAPerson(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
            await rig.LoginAsync(agentId, ct);
            var paused = await rig.Center.PauseAgentAsync(agentId, PauseReasons.Break, ct);
            Assert.True(paused.Accepted, paused.Reason);
        }

        var latencies = new List<double>(samples);
        for (var n = 0; n < WarmUp + samples; n++)
        {
            var (agentId, phone) = team[n % Agents];
            rig.Trunk.CallIn("4008001", string.Create(CultureInfo.InvariantCulture, $"56{n:D6}"), "Waiting caller");
            var waiting = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, $"caller {n} waiting", ct, nth: n + 1);
            ringing.TryRemove(phone, out _);

            var start = Stopwatch.GetTimestamp();
            var resumed = await rig.Center.ResumeAgentAsync(agentId, ct);
            Assert.True(resumed.Accepted, resumed.Reason);
            var rang = await WaitForRingingAsync(ringing, phone, ct);
            if (n >= WarmUp)
            {
                latencies.Add(Stopwatch.GetElapsedTime(start, rang).TotalMilliseconds);
            }

            // The phone answers at once and hangs up after 50 ms; then the agent is paused again
            // (at once if Ready, else when its wrap-up ends), so it cannot take the next caller.
            await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == waiting.CallId, $"call {waiting.CallId} to end", ct);
            var paused = await rig.Center.PauseAgentAsync(agentId, PauseReasons.Break, ct);
            Assert.True(paused.Accepted, paused.Reason);
        }

        latencies.Sort();
        double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        var line = string.Create(CultureInfo.InvariantCulture,
            $"Ready → ringing in PbxSim, {latencies.Count} samples ({Agents} agents logged in, {WarmUp} warm-up samples left out): " +
            $"p50 {P(0.50):F2} ms, p90 {P(0.90):F2} ms, p99 {P(0.99):F2} ms, max {latencies[^1]:F2} ms");
        TestContext.Current.SendDiagnosticMessage(line);
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_READY_RINGING_OUT") is { Length: > 0 } output)
        {
            await File.WriteAllTextAsync(output, line + Environment.NewLine, ct);
        }

        newstates.Dispose();
        await watcher;
    }

    private static async Task<long> WaitForRingingAsync(ConcurrentDictionary<string, long> ringing, string phone, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long at;
        while (!ringing.TryGetValue(phone, out at))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(15))
            {
                Assert.Fail($"phone {phone} did not ring within 15 s of its agent becoming Ready");
            }

            // Short polls: the arrival time is taken by the watcher, not here, so this does not
            // change the measured figure.
            await Task.Delay(1, ct);
        }

        return at;
    }
}
