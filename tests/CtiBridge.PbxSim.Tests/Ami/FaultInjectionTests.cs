using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>The faults PbxSim can inject so CtiBridge's recovery can be tested.</summary>
public sealed class FaultInjectionTests
{
    private static async Task<(PbxSimulator Sim, SignallingTimeProvider Clock)> StartAsync(CancellationToken ct)
    {
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        return (sim, clock);
    }

    [Fact]
    public async Task DropAmiConnections_LoggedInClient_ConnectionClosed()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sim, _) = await StartAsync(ct);
        await using var _ = sim;
        await using var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await ami.ReadBannerAsync(ct);
        await ami.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\nEvents: off\r\n\r\n", ct);
        await ami.ReadMessageAsync(ct);

        sim.DropAmiConnections();

        Assert.True(await ami.IsClosedByServerAsync(ct));
    }

    [Fact]
    public async Task RefuseAmiLogins_CorrectSecret_AuthenticationFailedAfterDelayThenClosed()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sim, clock) = await StartAsync(ct);
        await using var _ = sim;
        sim.RefuseAmiLogins = true;
        await using var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await ami.ReadBannerAsync(ct);
        var timers = clock.TimersCreated;

        await ami.SendAsync("Action: Login\r\nActionID: 1\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\n\r\n", ct);
        await clock.WaitForTimersAsync(timers + 1, ct);
        clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(1));

        Assert.Equal("Response: Error\r\nActionID: 1\r\nMessage: Authentication failed\r\n\r\n", await ami.ReadMessageAsync(ct));
        Assert.True(await ami.IsClosedByServerAsync(ct));
    }

    [Fact]
    public async Task Restart_CallUp_ChannelsVanishConnectionsCloseAndUptimeStartsAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sim, clock) = await StartAsync(ct);
        await using var _ = sim;
        await using (var ami = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct))
        {
            await ami.ReadBannerAsync(ct);
            await ami.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\nEvents: off\r\n\r\n", ct);
            await ami.ReadMessageAsync(ct);
            await ami.SendAsync("Action: Originate\r\nChannel: Local/1@inbound\r\nContext: customer\r\nExten: talk\r\nAsync: true\r\n\r\n", ct);
            await ami.ReadMessageAsync(ct);
            clock.AdvanceTo(clock.GetUtcNow() + TimeSpan.FromSeconds(60));
            Assert.NotEmpty(sim.ChannelNames);

            sim.Restart();

            Assert.True(await ami.IsClosedByServerAsync(ct));
        }

        Assert.Empty(sim.ChannelNames);
        await using var again = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await again.ReadBannerAsync(ct);
        await again.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\n\r\n", ct);
        await again.ReadMessageAsync(ct);
        Assert.Equal("Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 0\r\nLastReload: 0\r\nStatus: Fully Booted\r\n\r\n", await again.ReadMessageAsync(ct));
    }
}
