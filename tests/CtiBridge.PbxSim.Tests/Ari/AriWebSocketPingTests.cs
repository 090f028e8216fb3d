using System.Text;
using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ari;

/// <summary>
/// PbxSim's <c>/ari/events</c> WebSocket answers a client's ping with a pong carrying the same
/// payload, also after a long idle time (as Asterisk does); the ARI client's keep-alive relies on it.
/// </summary>
public sealed class AriWebSocketPingTests
{
    [Fact]
    public async Task Ping_OnAnIdleEventsConnection_IsAnsweredWithPongCarryingThePayload()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new SignallingTimeProvider(new DateTimeOffset(2026, 11, 30, 7, 0, 0, TimeSpan.Zero));
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        await using var events = await AriRestFidelityTests.OpenEventsAsync(sim, ct);
        await ReadUntilAsync(events, "\r\n\r\n"u8.ToArray(), ct);
        events.Pending.Clear();

        foreach (var idle in new[] { TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(10) })
        {
            clock.AdvanceTo(clock.GetUtcNow() + idle);

            // A masked client ping (RFC 6455 5.5.2) with the payload the ARI client sends.
            var payload = "ctibridge"u8.ToArray();
            byte[] mask = [0x12, 0x34, 0x56, 0x78];
            var frame = new byte[6 + payload.Length];
            frame[0] = 0x89;
            frame[1] = (byte)(0x80 | payload.Length);
            mask.CopyTo(frame, 2);
            for (var i = 0; i < payload.Length; i++)
            {
                frame[6 + i] = (byte)(payload[i] ^ mask[i % 4]);
            }

            await events.SendAsync(frame, ct);
            byte[] pong = [0x8A, (byte)payload.Length, .. payload];
            await ReadUntilAsync(events, pong, ct);
            Assert.Equal(pong, events.Pending.ToArray());
            events.Pending.Clear();
        }
    }

    private static async Task ReadUntilAsync(HttpTestConnection connection, byte[] ending, CancellationToken ct)
    {
        for (var reads = 0; !connection.Pending.ToArray().AsSpan().EndsWith(ending); reads++)
        {
            Assert.True(reads < 50 && await connection.ReadMoreAsync(ct) > 0,
                $"no {Convert.ToHexString(ending)} from PbxSim; got {Convert.ToHexString(connection.Pending.ToArray())} ({Encoding.ASCII.GetString(connection.Pending.ToArray())})");
        }
    }
}
