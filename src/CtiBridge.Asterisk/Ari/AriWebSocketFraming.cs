using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CtiBridge.Asterisk.Ari;

/// <summary>RFC 6455 opcodes.</summary>
internal enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>What the frame parser hands over; called on the reader, so implementations must not block.</summary>
internal interface IWebSocketFrameSink
{
    /// <summary>A complete text message (fragments already joined). The span is valid only during the call.</summary>
    void OnText(ReadOnlySpan<byte> payload);

    /// <summary>A ping from the server; the payload must be echoed in a pong.</summary>
    void OnPing(ReadOnlySpan<byte> payload);

    /// <summary>A pong (answer to our ping).</summary>
    void OnPong();

    /// <summary>The server's close frame.</summary>
    void OnClose(int? statusCode, string reason);
}

/// <summary>The server broke the WebSocket protocol (RFC 6455); the connection must be dropped.</summary>
/// <param name="message">What was wrong.</param>
public sealed class AriWebSocketProtocolException(string message) : AriException(message, "GET", "/events");

/// <summary>
/// Parses server-to-client RFC 6455 frames from a byte sequence (the same code reads live sockets and the
/// recorded <c>*.ws.raw</c> streams). Joins fragmented messages, checks lengths against a limit, and
/// leaves an incomplete frame in the buffer for the next read.
/// </summary>
/// <param name="maxMessageBytes">Largest message accepted.</param>
internal sealed class WebSocketFrameParser(int maxMessageBytes)
{
    private ArrayBufferWriter<byte>? _fragments;
    private WebSocketOpcode _fragmentOpcode;
    private byte[] _scratch = [];

    /// <summary>Frames parsed so far (for diagnostics and tests).</summary>
    public long FramesRead { get; private set; }

    /// <summary>
    /// Consumes every complete frame at the start of <paramref name="buffer"/> and slices them off.
    /// Returns false once a close frame was read (nothing after it is looked at).
    /// </summary>
    public bool Process(ref ReadOnlySequence<byte> buffer, IWebSocketFrameSink sink)
    {
        Span<byte> header = stackalloc byte[14];
        while (true)
        {
            var available = (int)Math.Min(buffer.Length, header.Length);
            if (available < 2)
            {
                return true;
            }

            buffer.Slice(0, available).CopyTo(header);
            var fin = (header[0] & 0x80) != 0;
            if ((header[0] & 0x70) != 0)
            {
                throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead + 1} sets reserved bits (0x{header[0]:x2}); no extension was negotiated.");
            }

            var opcode = (WebSocketOpcode)(header[0] & 0x0F);
            if ((header[1] & 0x80) != 0)
            {
                throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead + 1} from the server is masked, which RFC 6455 forbids.");
            }

            long length = header[1] & 0x7F;
            var headerLength = 2;
            if (length == 126)
            {
                if (available < 4)
                {
                    return true;
                }

                length = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
                headerLength = 4;
            }
            else if (length == 127)
            {
                if (available < 10)
                {
                    return true;
                }

                var big = BinaryPrimitives.ReadUInt64BigEndian(header[2..]);
                if (big > (ulong)maxMessageBytes)
                {
                    throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead + 1} announces {big} bytes, above the {maxMessageBytes}-byte limit.");
                }

                length = (long)big;
                headerLength = 10;
            }

            if (opcode >= WebSocketOpcode.Close && (!fin || length > 125))
            {
                throw new AriWebSocketProtocolException($"WebSocket control frame {FramesRead + 1} (opcode 0x{(byte)opcode:x}) is fragmented or longer than 125 bytes.");
            }

            if (length > maxMessageBytes)
            {
                throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead + 1} announces {length} bytes, above the {maxMessageBytes}-byte limit.");
            }

            if (buffer.Length < headerLength + length)
            {
                return true;
            }

            var payload = buffer.Slice(headerLength, length);
            buffer = buffer.Slice(headerLength + length);
            FramesRead++;
            if (!Dispatch(fin, opcode, payload, sink))
            {
                return false;
            }
        }
    }

    private bool Dispatch(bool fin, WebSocketOpcode opcode, ReadOnlySequence<byte> payload, IWebSocketFrameSink sink)
    {
        switch (opcode)
        {
            case WebSocketOpcode.Text or WebSocketOpcode.Binary:
                if (_fragments is not null)
                {
                    throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead} starts a new message inside a fragmented one.");
                }

                if (fin)
                {
                    if (opcode == WebSocketOpcode.Text)
                    {
                        sink.OnText(Flatten(payload));
                    }

                    // ARI never sends binary messages; RFC 6455 lets us ignore their content.
                    return true;
                }

                _fragmentOpcode = opcode;
                _fragments = new ArrayBufferWriter<byte>((int)Math.Max(payload.Length * 2, 256));
                Append(payload);
                return true;
            case WebSocketOpcode.Continuation:
                if (_fragments is null)
                {
                    throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead} continues a message that was never started.");
                }

                Append(payload);
                if (fin)
                {
                    if (_fragmentOpcode == WebSocketOpcode.Text)
                    {
                        sink.OnText(_fragments.WrittenSpan);
                    }

                    _fragments = null;
                }

                return true;
            case WebSocketOpcode.Ping:
                sink.OnPing(Flatten(payload));
                return true;
            case WebSocketOpcode.Pong:
                sink.OnPong();
                return true;
            case WebSocketOpcode.Close:
                var close = Flatten(payload);
                int? code = close.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(close) : null;
                sink.OnClose(code, close.Length > 2 ? Encoding.UTF8.GetString(close[2..]) : "");
                return false;
            default:
                throw new AriWebSocketProtocolException($"WebSocket frame {FramesRead} has unknown opcode 0x{(byte)opcode:x}.");
        }
    }

    private void Append(ReadOnlySequence<byte> payload)
    {
        if (_fragments!.WrittenCount + payload.Length > maxMessageBytes)
        {
            throw new AriWebSocketProtocolException($"A fragmented WebSocket message grew beyond the {maxMessageBytes}-byte limit.");
        }

        foreach (var segment in payload)
        {
            _fragments.Write(segment.Span);
        }
    }

    private ReadOnlySpan<byte> Flatten(ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            return payload.FirstSpan;
        }

        if (_scratch.Length < payload.Length)
        {
            _scratch = new byte[Math.Max(payload.Length, _scratch.Length * 2)];
        }

        payload.CopyTo(_scratch);
        return _scratch.AsSpan(0, (int)payload.Length);
    }

    /// <summary>Builds one masked client frame (RFC 6455 requires clients to mask).</summary>
    public static byte[] BuildClientFrame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > 125 && opcode >= WebSocketOpcode.Close)
        {
            throw new ArgumentException("Control frame payloads are limited to 125 bytes.", nameof(payload));
        }

        var headerLength = payload.Length < 126 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[headerLength + 4 + payload.Length];
        frame[0] = (byte)(0x80 | (byte)opcode);
        if (headerLength == 2)
        {
            frame[1] = (byte)(0x80 | payload.Length);
        }
        else if (headerLength == 4)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
        }

        var mask = frame.AsSpan(headerLength, 4);
        RandomNumberGenerator.Fill(mask);
        var body = frame.AsSpan(headerLength + 4);
        for (var i = 0; i < payload.Length; i++)
        {
            body[i] = (byte)(payload[i] ^ mask[i & 3]);
        }

        return frame;
    }
}
