using System.Buffers;
using System.Text;
using CsCheck;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>
/// Fuzzing of the ARI readers (fault suite, docs/reliability.md): recorded event payloads with bytes
/// flipped, inserted, deleted or cut, and random bytes into the WebSocket frame parser. The decoder
/// must always hand back a message (typed, unknown kept raw, or undecodable with a reason) and never
/// throw; the frame parser must frame or refuse with its protocol error, never anything else.
/// </summary>
public sealed class AriReaderFuzzTests
{
    private static readonly byte[][] Payloads =
        [.. AriFixtures.Scenarios.SelectMany(AriFixtures.EventPayloads).Select(Encoding.UTF8.GetBytes)];

    // One mutation of a recorded payload: flip a byte, insert one, delete a run, or cut the tail.
    private static readonly Gen<byte[]> MutatedPayload =
        Gen.Select(Gen.Int[0, Payloads.Length - 1], Gen.Int[0, 3], Gen.Int[0, int.MaxValue], Gen.Byte, Gen.Int[1, 40]).Select((index, kind, at, value, run) =>
        {
            var payload = Payloads[index];
            var position = at % payload.Length;
            return kind switch
            {
                0 => [.. payload[..position], value, .. payload[(position + 1)..]],
                1 => [.. payload[..position], value, .. payload[position..]],
                2 => [.. payload[..position], .. payload[Math.Min(payload.Length, position + run)..]],
                _ => payload[..position],
            };
        });

    [Fact]
    public void Decode_MutatedRecordedEvents_AlwaysYieldsAMessageAndNeverThrows()
    {
        MutatedPayload.Sample(bytes =>
        {
            var message = AriEventDecoder.Decode(bytes);
            Assert.NotNull(message);
            if (message is AriUndecodableMessage bad)
            {
                Assert.False(string.IsNullOrWhiteSpace(bad.Error), "an undecodable message must say what was wrong");
            }
        }, iter: 3000);
    }

    [Fact]
    public void Decode_RandomBytesAndInvalidUtf8_YieldsUndecodableWithAReason()
    {
        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            var message = AriEventDecoder.Decode(bytes);
            Assert.NotNull(message);
        }, iter: 2000);

        var invalidUtf8 = AriEventDecoder.Decode([.. "{\"type\":\"StasisStart\",\"x\":\""u8, 0xC3, 0x28, .. "\"}"u8]);
        Assert.False(string.IsNullOrWhiteSpace(Assert.IsType<AriUndecodableMessage>(invalidUtf8).Error));
    }

    [Fact]
    public void FrameParser_RandomAndMutatedFrames_FramesOrRefusesWithAProtocolError()
    {
        var recorded = AriFixtures.WebSocketBytes("inbound-call");
        var mutatedStream = Gen.Select(Gen.Int[0, recorded.Length - 1], Gen.Byte, Gen.Int[1, recorded.Length]).Select((at, value, length) =>
        {
            var copy = recorded[..length];
            copy[at % length] = value;
            return copy;
        });
        var random = Gen.Byte.Array[0, 600];

        foreach (var gen in new[] { mutatedStream, random })
        {
            gen.Sample(bytes =>
            {
                var buffer = new ReadOnlySequence<byte>(bytes);
                try
                {
                    new WebSocketFrameParser(64 * 1024).Process(ref buffer, new CountingSink());
                    Assert.True(buffer.Length <= bytes.Length);
                }
                catch (AriWebSocketProtocolException ex)
                {
                    Assert.False(string.IsNullOrWhiteSpace(ex.Message));
                }
            }, iter: 1500);
        }
    }

    private sealed class CountingSink : IWebSocketFrameSink
    {
        public int Frames { get; private set; }

        public void OnText(ReadOnlySpan<byte> payload) => Frames++;

        public void OnPing(ReadOnlySpan<byte> payload) => Frames++;

        public void OnPong() => Frames++;

        public void OnClose(int? statusCode, string reason) => Frames++;
    }
}
