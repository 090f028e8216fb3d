using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>PbxSim against the recorded login, ping and error scenarios, message by message.</summary>
public sealed class AmiLoginFidelityTests
{
    [Theory]
    [InlineData("login-plain")]
    [InlineData("login-md5")]
    [InlineData("login-failed")]
    [InlineData("login-failed-md5")]
    [InlineData("login-unknown-user")]
    [InlineData("ping")]
    [InlineData("errors")]
    [InlineData("errors-permission")]
    public async Task Replay_RecordedScenario_MatchesRecording(string scenario)
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);

        await AmiReplay.ReplayInOrderAsync(scenario, sim, clock, ct);
    }
}
