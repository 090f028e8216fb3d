using System.Diagnostics;
using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The soak of issue 8: 100 agents, customers calling in at 20 calls per second against PbxSim and
/// the real PostgreSQL, for a bounded run. Afterwards: every call placed entered the queue and was
/// answered (none lost), every call ended exactly once, nobody is left in PbxSim, every agent is
/// Ready again (none stuck ringing, talking or in wrap-up), and every call is stored exactly once.
/// </summary>
/// <remarks>
/// In the suite the run lasts 15 s of arrivals (300 calls). <c>scripts/soak.sh</c> runs the same
/// test longer through environment variables (docs/soak.md): <c>CTIBRIDGE_SOAK_SECONDS</c>,
/// <c>CTIBRIDGE_SOAK_RATE</c> (calls per second), <c>CTIBRIDGE_SOAK_AGENTS</c>. Every loop is
/// bounded in count (rate × seconds calls) and in time (the waits below).
/// </remarks>
[Trait("Tier", "Soak")]
public sealed class SoakTests
{
    [Fact]
    public async Task HundredAgentsTwentyCallsPerSecond_EveryCallAnsweredEndedAndStoredOnce_NoAgentStuck()
    {
        var ct = TestContext.Current.CancellationToken;
        var seconds = RunSettings.WholeNumber("CTIBRIDGE_SOAK_SECONDS", 15, 1, 24 * 3600);
        var rate = RunSettings.WholeNumber("CTIBRIDGE_SOAK_RATE", 20, 1, 500);
        var agentCount = RunSettings.WholeNumber("CTIBRIDGE_SOAK_AGENTS", 100, 1, 1000);
        var (talkMin, talkMax) = TalkSetting();
        var callCount = seconds * rate;

        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var team = CallTraffic.Agents(agentCount);
        // Talk 1-3 s, answer after 0.1-0.5 s, wrap-up 0.5 s: about 2.5 s of an agent per call, so
        // 20 calls/s keep some 50 agents busy at once, half the team: callers rarely wait long,
        // but the ACD is choosing among many agents all the time.
        var queue = CallTraffic.Queue(ringSeconds: 10, wrapUpSeconds: 0.5);
        await using var rig = await CallCenterRig.StartAsync(database, queue, team, ct);
        foreach (var (agentId, phone) in team)
        {
            rig.Pbx.Phone(phone).AnswersLikeAPerson(
                TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(talkMin), TimeSpan.FromSeconds(talkMax));
            await rig.LoginAsync(agentId, ct);
        }

        // Arrivals on a schedule (call n due at n / rate s), not a fixed sleep between calls, so a
        // slow moment is caught up rather than lowering the rate. Bounded: callCount calls.
        var clock = Stopwatch.StartNew();
        var callers = new List<string>(callCount);
        var mostChannels = 0;
        // Load figures (issue 8's "CPU per 100 concurrent calls"): once a second, the calls in the
        // system (entered the queue, not yet ended); process CPU over the second half of the
        // arrivals, when the number of calls up has levelled out (arrivals replace departures).
        var load = new LoadSampler(rig);
        for (var n = 0; n < callCount; n++)
        {
            var due = TimeSpan.FromSeconds((double)n / rate);
            if (due > clock.Elapsed)
            {
                await Task.Delay(due - clock.Elapsed, ct);
            }

            callers.Add(rig.Trunk.CallIn("4008001", string.Create(CultureInfo.InvariantCulture, $"55{n:D6}"), $"Soak {n}"));
            if (n % rate == 0)
            {
                mostChannels = Math.Max(mostChannels, rig.Pbx.ChannelNames.Count);
                load.Sample(steady: n >= callCount / 2);
            }
        }

        var arrivalSeconds = clock.Elapsed.TotalSeconds;
        load.Sample(steady: true);

        // Every caller entered the queue: the ACD saw as many calls as were placed.
        var settleBy = TimeSpan.FromSeconds(60) + TimeSpan.FromSeconds(seconds / 10.0);
        await EventuallyAsync(() => Entered(rig).Count >= callCount, settleBy,
            () => $"{Entered(rig).Count} of {callCount} calls entered the queue", ct);
        Assert.Equal(callCount, Entered(rig).Count);

        // Every call ended, each exactly once, and answered by an agent (no call lost or stuck).
        await EventuallyAsync(() => Ended(rig).Count >= callCount, settleBy,
            () => $"{Ended(rig).Count} of {callCount} calls ended; still up in PbxSim: {rig.Pbx.ChannelNames.Count} channels", ct);
        var endings = rig.AcdEvents.Snapshot().OfType<CallEnded>().ToList();
        var twice = endings.GroupBy(e => e.CallId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(twice.Count == 0, $"calls ended more than once: {string.Join(", ", twice.Take(20))}");
        Assert.Equal(Entered(rig).Order(StringComparer.Ordinal), endings.Select(e => e.CallId).Order(StringComparer.Ordinal));
        var notAnswered = endings.Where(e => e.Disposition != CallDisposition.Answered).ToList();
        Assert.True(notAnswered.Count == 0,
            $"{notAnswered.Count} calls were not answered: {string.Join(", ", notAnswered.Take(20).Select(e => $"{e.CallId} {e.Disposition}"))}");

        // Nobody left in PbxSim, every agent Ready again.
        await EventuallyAsync(() => Task.FromResult(rig.Pbx.ChannelNames.Count == 0), TimeSpan.FromSeconds(30),
            () => CallTraffic.StrandedStoryAsync(rig, ct), ct);
        var stuck = new List<string>();
        await EventuallyAsync(async () =>
        {
            stuck = [.. (await rig.Center.GetAgentsAsync(ct)).Where(a => a.Status.State != AgentState.Ready).Select(a => $"{a.Status.AgentId} {a.Status.State}")];
            return stuck.Count == 0;
        }, TimeSpan.FromSeconds(30), () => Task.FromResult($"agents not Ready after the traffic ended: {string.Join(", ", stuck.Take(20))}"), ct);

        // Stored once each (the service is stopped first, so every record is written).
        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
        var answeredStored = await database.ScalarAsync<string>("SELECT count(*)::text FROM calls WHERE disposition = 'answered'", ct);
        Assert.Equal(callCount.ToString(CultureInfo.InvariantCulture), answeredStored);

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"Soak: {agentCount} agents, {callCount} calls placed in {arrivalSeconds:F1} s ({callCount / arrivalSeconds:F1} calls/s, asked {rate}), " +
            $"up to {mostChannels} PbxSim channels at once, all answered, ended and stored once; {clock.Elapsed.TotalSeconds:F1} s until settled and stored. " +
            $"Talk {talkMin:0.#}-{talkMax:0.#} s. {load.Describe()}");
        TestContext.Current.SendDiagnosticMessage(summary);
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_SOAK_OUT") is { Length: > 0 } output)
        {
            await File.WriteAllTextAsync(output, summary + Environment.NewLine, ct);
        }
    }

    private static IReadOnlyList<string> Entered(CallCenterRig rig) => CallTraffic.EnteredCalls(rig);

    /// <summary><c>CTIBRIDGE_SOAK_TALK_SECONDS</c>: "MIN-MAX" seconds of talk per call (default 1-3).</summary>
    private static (double Min, double Max) TalkSetting()
    {
        var text = Environment.GetEnvironmentVariable("CTIBRIDGE_SOAK_TALK_SECONDS");
        if (string.IsNullOrEmpty(text))
        {
            return (1, 3);
        }

        var parts = text.Split('-');
        if (parts.Length == 2 &&
            double.TryParse(parts[0], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var min) &&
            double.TryParse(parts[1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var max) &&
            min >= 0.1 && max >= min && max <= 3600)
        {
            return (min, max);
        }

        throw new ArgumentException($"CTIBRIDGE_SOAK_TALK_SECONDS must be MIN-MAX seconds (0.1 to 3600, MIN <= MAX), e.g. 25-35; got '{text}'.");
    }

    /// <summary>
    /// Calls in the system and process CPU while the traffic runs. The CPU is the whole test
    /// process's: the service, PbxSim, the rig's own AMI observer and the test, so the figure is an
    /// upper bound of the service's cost.
    /// </summary>
    private sealed class LoadSampler(CallCenterRig rig)
    {
        private readonly Stopwatch _wall = Stopwatch.StartNew();
        private readonly List<int> _steadyCalls = [];
        private TimeSpan? _steadyCpuStart;
        private TimeSpan _steadyWallStart;
        private TimeSpan _steadyCpu;
        private TimeSpan _steadyWall;
        private int _most;

        public void Sample(bool steady)
        {
            var up = Entered(rig).Count - Ended(rig).Count;
            _most = Math.Max(_most, up);
            if (!steady)
            {
                return;
            }

            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            if (_steadyCpuStart is null)
            {
                _steadyCpuStart = cpu;
                _steadyWallStart = _wall.Elapsed;
            }

            _steadyCalls.Add(up);
            _steadyCpu = cpu - _steadyCpuStart.Value;
            _steadyWall = _wall.Elapsed - _steadyWallStart;
        }

        public string Describe()
        {
            if (_steadyCalls.Count < 2 || _steadyWall <= TimeSpan.Zero)
            {
                return $"Calls up at once: most {_most} (run too short for a CPU figure).";
            }

            var mean = _steadyCalls.Average();
            var coreShare = _steadyCpu.TotalSeconds / _steadyWall.TotalSeconds;
            return string.Create(CultureInfo.InvariantCulture,
                $"Calls up at once: most {_most}; second half of the arrivals: mean {mean:F0} (min {_steadyCalls.Min()}, max {_steadyCalls.Max()}) over {_steadyWall.TotalSeconds:F0} s, " +
                $"process CPU {_steadyCpu.TotalSeconds:F1} s = {100 * coreShare:F0}% of one core (service + PbxSim + test), " +
                $"= {100 * coreShare / Math.Max(mean / 100, 0.01):F1}% of one core per 100 concurrent calls.");
        }
    }

    private static HashSet<string> Ended(CallCenterRig rig) => [.. rig.AcdEvents.Snapshot().OfType<CallEnded>().Select(e => e.CallId)];

    /// <summary>Polls every 100 ms until <paramref name="condition"/> holds, failing after <paramref name="limit"/>.</summary>
    private static Task EventuallyAsync(Func<bool> condition, TimeSpan limit, Func<string> what, CancellationToken ct) =>
        EventuallyAsync(() => Task.FromResult(condition()), limit, () => Task.FromResult(what()), ct);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan limit, Func<Task<string>> what, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Still not true after {limit.TotalSeconds:F0} s: {await what()}");
            }

            await Task.Delay(100, ct);
        }
    }
}
