using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>PbxSim's call model against the recorded call scenarios, channel by channel.</summary>
public sealed class AmiCallFidelityTests
{
    [Theory]
    [InlineData("originate-agent", 10.0)]
    // The recorder hung the machine call up from another connection at t=20.9; compare up to there.
    [InlineData("originate-outcomes", 20.9)]
    [InlineData("call-flow", 30.0)]
    [InlineData("chanspy", 30.0)]
    [InlineData("blind-transfer", 30.0)]
    [InlineData("attended-transfer", 30.0)]
    public async Task Replay_CallScenario_MatchesRecordingPerChannel(string scenario, double cutoff)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0, Cel = true }, clock);
        await sim.StartAsync(ct);

        await AmiGroupedReplay.ReplayAsync(scenario, sim, clock, cutoff, ct);
    }
}
