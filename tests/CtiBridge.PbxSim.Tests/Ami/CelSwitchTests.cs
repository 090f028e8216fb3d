using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>CEL is cel.conf's <c>enable</c>: off unless configured (the recorded scenarios switch it on and compare it).</summary>
public sealed class CelSwitchTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task QueueCall_PublishesCel_OnlyWhenSwitchedOn(bool cel)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await QueueRig.StartAsync(new PbxSimOptions { AmiPort = 0, AriPort = 0, Cel = cel }, ct);
        await rig.OriginateAsync("Local/support@queues", ct);
        await rig.ReadUntilAsync(m => QueueRig.Is(m, "OriginateResponse"), ct);
        rig.Advance(TimeSpan.FromSeconds(3));
        var seen = await rig.DrainAsync(ct);

        Assert.Contains(seen, m => QueueRig.Is(m, "AgentConnect", "Queue: support"));
        var events = seen.Where(m => QueueRig.Is(m, "CEL")).Select(m => m.Split("\r\n").First(l => l.StartsWith("EventName: ", StringComparison.Ordinal))).ToList();
        if (!cel)
        {
            Assert.Empty(events);
            return;
        }

        Assert.Contains("EventName: APP_START", events);
        Assert.Contains("EventName: BRIDGE_ENTER", events);
        Assert.Contains(seen, m => QueueRig.Is(m, "CEL", "EventName: STREAM_BEGIN", "Extra: {\"class\":\"default\"}"));
    }
}
