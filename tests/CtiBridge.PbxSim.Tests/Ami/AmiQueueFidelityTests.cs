using CtiBridge.PbxSim.Tests.Support;
using CtiBridge.TestSupport;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>The Queue application against the recorded app_queue scenarios, channel by channel.</summary>
public sealed class AmiQueueFidelityTests
{
    /// <summary>
    /// Each scenario's lines of the run's <c>logs/queue_log</c> (1-based, inclusive): the replay must
    /// write the same lines (call ids and the member channel's uniqueid are ids; times are not compared).
    /// </summary>
    [Theory]
    [InlineData("queue-call", 30.0, 7, 9)]
    [InlineData("queue-ringnoanswer", 30.0, 10, 13)]
    [InlineData("queue-members", 30.0, 14, 23)]
    [InlineData("redirect", 30.0, 24, 26)]
    public async Task Replay_QueueScenario_MatchesRecordingPerChannel(string scenario, double cutoff, int firstLogLine, int lastLogLine)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0, Cel = true }, clock);
        await sim.StartAsync(ct);
        lock (sim.Gate)
        {
            // What the recording instance had been through: the call of queue-status went to Agent
            // One, so rrmemory tries Agent Two first for the next support call (queue-call). In
            // redirect, Agent One had just been hung up but app_queue still saw it in use (its device
            // state thread had not caught up), so Agent Two was rung again; PbxSim updates device
            // states at once, so starting rrmemory at Agent Two gives the recorded choice.
            sim.Model.Queues.Single(q => q.Name == "support").RoundRobinNext = 1;
        }

        await AmiGroupedReplay.ReplayAsync(scenario, sim, clock, cutoff, ct);

        var recorded = File.ReadAllLines(Path.Combine(RepositoryPaths.AsteriskFixtures, "logs", "queue_log"))[(firstLogLine - 1)..lastLogLine];
        List<string> written;
        lock (sim.Gate)
        {
            written = [.. sim.Model.QueueLog];
        }

        Assert.Equal(recorded.Select(WithoutTimeAndIds), written.Select(WithoutTimeAndIds));
    }

    /// <summary>A queue_log line without its time, with uniqueids replaced (they are ids).</summary>
    private static string WithoutTimeAndIds(string line) =>
        System.Text.RegularExpressions.Regex.Replace(line[(line.IndexOf('|', StringComparison.Ordinal) + 1)..], @"\b\d{9,}\.\d+\b", "<id>");
}
