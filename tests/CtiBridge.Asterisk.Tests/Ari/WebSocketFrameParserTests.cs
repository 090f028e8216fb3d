using System.Buffers;
using System.Text;
using CtiBridge.Asterisk.Ari;

namespace CtiBridge.Asterisk.Tests.Ari;

public sealed class WebSocketFrameParserTests
{
    private sealed class RecordingSink : IWebSocketFrameSink
    {
        public List<string> Calls { get; } = [];

        public void OnText(ReadOnlySpan<byte> payload) => Calls.Add("text:" + Encoding.UTF8.GetString(payload));

        public void OnPing(ReadOnlySpan<byte> payload) => Calls.Add("ping:" + Encoding.UTF8.GetString(payload));

        public void OnPong() => Calls.Add("pong");

        public void OnClose(int? statusCode, string reason) => Calls.Add($"close:{statusCode}:{reason}");
    }

    private static byte[] Frame(byte first, byte[] payload)
    {
        var header = payload.Length < 126 ? new[] { first, (byte)payload.Length } : new[] { first, (byte)126, (byte)(payload.Length >> 8), (byte)payload.Length };
        return [.. header, .. payload];
    }

    private static (bool Open, List<string> Calls, long Left) Parse(byte[] bytes, int max = 1 << 20)
    {
        var sink = new RecordingSink();
        var buffer = new ReadOnlySequence<byte>(bytes);
        var open = new WebSocketFrameParser(max).Process(ref buffer, sink);
        return (open, sink.Calls, buffer.Length);
    }

    [Fact]
    public void Process_FragmentedMessageWithPingBetweenFragments_JoinsTheMessageAndAnswersThePing()
    {
        byte[] bytes =
        [
            .. Frame(0x01, "{\"type\":"u8.ToArray()),
            .. Frame(0x89, "keep"u8.ToArray()),
            .. Frame(0x00, "\"Stasis"u8.ToArray()),
            .. Frame(0x80, "Start\"}"u8.ToArray()),
            .. Frame(0x8A, []),
        ];

        var (open, calls, left) = Parse(bytes);

        Assert.True(open);
        Assert.Equal(["ping:keep", "text:{\"type\":\"StasisStart\"}", "pong"], calls);
        Assert.Equal(0, left);
    }

    [Fact]
    public void Process_IncompleteFrame_IsLeftForTheNextRead()
    {
        var frame = Frame(0x81, Encoding.UTF8.GetBytes(new string('x', 300)));

        var (open, calls, left) = Parse(frame[..150]);

        Assert.True(open);
        Assert.Empty(calls);
        Assert.Equal(150, left);
    }

    [Fact]
    public void Process_CloseFrame_ReportsStatusAndStopsReading()
    {
        byte[] bytes = [.. Frame(0x88, [0x03, 0xE9, (byte)'b', (byte)'y', (byte)'e']), .. Frame(0x81, "{}"u8.ToArray())];

        var (open, calls, left) = Parse(bytes);

        Assert.False(open);
        Assert.Equal(["close:1001:bye"], calls);
        Assert.Equal(4, left);
    }

    [Theory]
    [InlineData(new byte[] { 0x81, 0x82, 1, 2, 3, 4, 0, 0 }, "masked")]
    [InlineData(new byte[] { 0xC1, 0x00 }, "reserved bits")]
    [InlineData(new byte[] { 0x83, 0x00 }, "unknown opcode")]
    [InlineData(new byte[] { 0x09, 0x00 }, "control frame")]
    [InlineData(new byte[] { 0x80, 0x00 }, "never started")]
    [InlineData(new byte[] { 0x81, 0x7F, 0, 0, 0, 0, 0x10, 0, 0, 0 }, "limit")]
    public void Process_ProtocolViolation_ThrowsWithWhatWasWrong(byte[] bytes, string mentions)
    {
        var error = Assert.Throws<AriWebSocketProtocolException>(() => Parse(bytes, max: 1 << 20));
        Assert.Contains(mentions, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildClientFrame_AnyPayload_IsMaskedAndUnmasksToThePayload()
    {
        var payload = Encoding.UTF8.GetBytes(new string('a', 200));
        var frame = WebSocketFrameParser.BuildClientFrame(WebSocketOpcode.Text, payload);

        Assert.Equal(0x81, frame[0]);
        Assert.Equal(0x80 | 126, frame[1]);
        Assert.Equal(200, (frame[2] << 8) | frame[3]);
        var mask = frame[4..8];
        var unmasked = frame[8..].Select((b, i) => (byte)(b ^ mask[i & 3])).ToArray();
        Assert.Equal(payload, unmasked);
    }
}
