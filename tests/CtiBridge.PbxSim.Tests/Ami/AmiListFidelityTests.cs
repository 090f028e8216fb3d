using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>
/// The "events off" scenarios that list or query calls another connection of the recorder had set up:
/// the same calls are placed first, then the recorded actions are replayed and compared.
/// </summary>
public sealed class AmiListFidelityTests
{
    [Fact]
    public async Task CoreShowChannels_TwoBridgedCalls_MatchesRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        lock (sim.Gate)
        {
            sim.Model.SeedLocalSequence(3);
        }

        // The first CoreShowChannels (no calls) is at t=0.001: the calls start after it, so the
        // replay's actions are sent from t=0 and the calls are placed by the set-up connection in
        // between, at the times the recorded durations put them (Jane ~0.1 s, Bob ~2.8 s).
        await AmiListReplay.ReplayAsync("core-show-channels", sim, clock,
            [
                new(0.1, AmiListReplay.Originate("Local/1@inbound", "\"Jane Customer\" <5551234567>")),
                new(2.8, AmiListReplay.Originate("Local/2@inbound", "\"Bob Buyer\" <5552223333>")),
            ],
            0, ct);
    }

    [Fact]
    public async Task MiscActions_OneBridgedCall_MatchesRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        lock (sim.Gate)
        {
            sim.Model.SeedLocalSequence(0x28);
        }

        // What the recording instance had been through: agent4 was added to and removed from sales
        // (queue-members; its pause device stays cached), then one inbound call reached agent1 about
        // 2.95 s before the scenario started (Status: Seconds 2).
        await AmiListReplay.ReplayAsync("misc-actions", sim, clock,
            [
                new(0.1, "Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nMemberName: Agent Four\r\nStateInterface: Custom:agent4\r\nPenalty: 1\r\n\r\n"),
                new(0.2, "Action: QueueRemove\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\n\r\n"),
                new(0.5, AmiListReplay.Originate("Local/1@inbound", "\"Jane Customer\" <5551234567>")),
            ],
            3.45, ct);
    }
}
