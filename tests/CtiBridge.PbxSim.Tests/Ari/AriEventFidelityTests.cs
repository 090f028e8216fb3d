using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ari;

/// <summary>PbxSim's ARI events against the recorded WebSocket scenarios, channel by channel.</summary>
public sealed class AriEventFidelityTests
{
    [Theory]
    [InlineData("originate-into-app", 8.0)]
    [InlineData("inbound-call", 9.0)]
    [InlineData("dialer", 22.0)]
    [InlineData("snoop", 5.0)]
    public async Task Replay_AriScenario_MatchesRecordingPerChannel(string scenario, double end)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);

        await AriScenarioReplay.ReplayAsync(scenario, sim, clock, end, ct);
    }
}
