using System.Buffers;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>What one parsed unit of the AMI stream holds: the banner line or a message.</summary>
public readonly struct AmiFrame
{
    internal AmiFrame(string? banner, AmiMessage? message)
    {
        Banner = banner;
        Message = message;
    }

    /// <summary>The greeting line (e.g. <c>Asterisk Call Manager/11.0.0</c>), or null for a message.</summary>
    public string? Banner { get; }

    /// <summary>The message, or null for the banner.</summary>
    public AmiMessage? Message { get; }

    /// <summary>True when this frame is the banner line.</summary>
    public bool IsBanner => Banner is not null;
}

/// <summary>
/// Incremental AMI framing over a byte stream: the banner line, then messages made of
/// <c>Key: Value</c> lines ending in an empty line (CRLF CRLF). Also reads the pre-Asterisk-14
/// command output (<c>Response: Follows</c> ... <c>--END COMMAND--</c>), turning each output line
/// into an <c>Output</c> header, the shape Asterisk 14+ sends.
/// </summary>
/// <remarks>
/// One instance per connection; not thread-safe. Complete lines are consumed from the buffer as
/// soon as they are read, so the caller's buffer never holds more than one unfinished line.
/// Header lines are copied as bytes into the message (one copy per line, no string per header);
/// <see cref="AmiMessage"/> decodes a value only when it is read, so a UTF-8 character split
/// across reads survives and the reader never pays for strings nobody reads.
/// </remarks>
public sealed class AmiFrameParser
{
    /// <summary>Default for <see cref="MaxLineLength"/>: 64 KiB.</summary>
    public const int DefaultMaxLineLength = 64 * 1024;

    /// <summary>Default for <see cref="MaxMessageLength"/>: 16 MiB (large <c>Command</c> outputs).</summary>
    public const int DefaultMaxMessageLength = 16 * 1024 * 1024;

    private static ReadOnlySpan<byte> EndCommand => "--END COMMAND--"u8;

    // Event and Response names recur in every message: decoded once, then shared.
    private readonly AmiStringCache _names = new(1024, 64);

    // The message being read: header bytes back to back, and two offsets per header (key start,
    // value start); see AmiMessage for the layout both become.
    private byte[] _bytes = new byte[1024];
    private int _byteCount;
    private int[] _offsets = new int[64];
    private int _offsetCount;
    private byte[] _lineScratch = [];
    private bool _atStart = true;
    private bool _follows;
    private bool _followsOutputStarted;
    private long _messageBytes;
    private long _lineNumber;

    /// <summary>Creates a parser.</summary>
    /// <param name="maxLineLength">Longest accepted line in bytes, without its line ending.</param>
    /// <param name="maxMessageLength">Longest accepted message in bytes.</param>
    public AmiFrameParser(int maxLineLength = DefaultMaxLineLength, int maxMessageLength = DefaultMaxMessageLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 32);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageLength, maxLineLength);
        MaxLineLength = maxLineLength;
        MaxMessageLength = maxMessageLength;
    }

    /// <summary>Longest accepted line in bytes; a longer one is an <see cref="AmiProtocolException"/>.</summary>
    public int MaxLineLength { get; }

    /// <summary>Longest accepted message in bytes; a longer one is an <see cref="AmiProtocolException"/>.</summary>
    public int MaxMessageLength { get; }

    /// <summary>Lines read so far (1-based number of the last complete line), for error messages.</summary>
    public long LineNumber => _lineNumber;

    /// <summary>True when part of a message has been read and its end has not.</summary>
    public bool HasPartialMessage => _offsetCount > 0;

    /// <summary>
    /// Reads the next frame from <paramref name="buffer"/>. Complete lines are consumed (the buffer
    /// is sliced past them) even when no frame completes; pass the remaining buffer back with more
    /// bytes appended.
    /// </summary>
    /// <returns>True when <paramref name="frame"/> holds a complete banner or message.</returns>
    /// <exception cref="AmiProtocolException">A line or message exceeds its maximum length.</exception>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out AmiFrame frame)
    {
        while (!buffer.IsEmpty)
        {
            var span = buffer.FirstSpan;
            var offset = 0;
            var completed = false;
            frame = default;
            // Fast path: walk the lines that lie entirely in the first segment.
            while (offset < span.Length)
            {
                var newline = span[offset..].IndexOf((byte)'\n');
                if (newline < 0)
                {
                    break;
                }

                var line = span.Slice(offset, newline);
                offset += newline + 1;
                if (ProcessLine(line, out frame))
                {
                    completed = true;
                    break;
                }
            }

            if (offset > 0)
            {
                buffer = buffer.Slice(offset);
            }

            if (completed)
            {
                return true;
            }

            if (buffer.IsEmpty)
            {
                break;
            }

            if (offset == span.Length && span.Length > 0)
            {
                // The first segment ended exactly at a line end: the next one takes the fast path.
                continue;
            }

            if (buffer.IsSingleSegment)
            {
                break;
            }

            // The next line starts in this segment and ends in a later one (or nowhere yet).
            var position = buffer.PositionOf((byte)'\n');
            if (position is null)
            {
                break;
            }

            var lineSequence = buffer.Slice(0, position.Value);
            var lineLength = checked((int)Math.Min(lineSequence.Length, int.MaxValue));
            CheckLineLength(lineLength);
            if (_lineScratch.Length < lineLength)
            {
                _lineScratch = new byte[Math.Max(lineLength, Math.Min(MaxLineLength, 256))];
            }

            lineSequence.CopyTo(_lineScratch);
            buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
            if (ProcessLine(_lineScratch.AsSpan(0, lineLength), out frame))
            {
                return true;
            }
        }

        // What is left is one unfinished line: refuse to buffer it past the limit.
        if (buffer.Length > MaxLineLength)
        {
            throw new AmiProtocolException(
                $"AMI line {_lineNumber + 1} is longer than the maximum of {MaxLineLength} bytes " +
                $"({buffer.Length} bytes without a line end so far).");
        }

        frame = default;
        return false;
    }

    /// <summary>Forgets any partial message, as after a new connection.</summary>
    public void Reset()
    {
        _byteCount = 0;
        _offsetCount = 0;
        _atStart = true;
        _follows = false;
        _followsOutputStarted = false;
        _messageBytes = 0;
        _lineNumber = 0;
    }

    private void CheckLineLength(int length)
    {
        if (length > MaxLineLength + 1)
        {
            throw new AmiProtocolException(
                $"AMI line {_lineNumber + 1} is {length} bytes long; the maximum is {MaxLineLength} bytes.");
        }
    }

    private bool ProcessLine(ReadOnlySpan<byte> line, out AmiFrame frame)
    {
        _lineNumber++;
        CheckLineLength(line.Length);
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        _messageBytes += line.Length + 2;
        if (_messageBytes > MaxMessageLength)
        {
            throw new AmiProtocolException(
                $"AMI message ending at line {_lineNumber} is longer than the maximum of {MaxMessageLength} bytes.");
        }

        if (_follows)
        {
            return ProcessFollowsLine(line, out frame);
        }

        if (line.IsEmpty)
        {
            _atStart = false;
            // A stray blank line between messages is not a message.
            return TryCompleteMessage(out frame);
        }

        var colon = IndexOfColon(line);
        if (_atStart)
        {
            _atStart = false;
            if (colon < 0)
            {
                _messageBytes = 0;
                frame = new AmiFrame(Encoding.UTF8.GetString(line), null);
                return true;
            }
        }

        AddHeader(line, colon);
        if (_offsetCount == 2 && IsResponseFollows())
        {
            _follows = true;
            _followsOutputStarted = false;
        }

        frame = default;
        return false;
    }

    private static int IndexOfColon(ReadOnlySpan<byte> line) => line.IndexOf((byte)':');

    private bool ProcessFollowsLine(ReadOnlySpan<byte> line, out AmiFrame frame)
    {
        frame = default;
        var end = line.IndexOf(EndCommand);
        if (end >= 0 && end + EndCommand.Length == line.Length)
        {
            // Old Asterisk appends the marker to the last output line when it lacks a newline.
            if (end > 0)
            {
                AddOutput(line[..end]);
            }

            _follows = false;
            return false;
        }

        // Asterisk writes Privilege and ActionID right after "Response: Follows"; output follows.
        if (!_followsOutputStarted &&
            (line.StartsWith("Privilege:"u8) || line.StartsWith("ActionID:"u8)))
        {
            AddHeader(line, line.IndexOf((byte)':'));
            return false;
        }

        _followsOutputStarted = true;
        AddOutput(line);
        return false;
    }

    private void AddOutput(ReadOnlySpan<byte> line)
    {
        // Output lines of the old command format become "Output: <line>", the Asterisk 14+ shape.
        var start = _byteCount;
        Append("Output: "u8);
        Append(line);
        AddOffsets(start, start + "Output".Length);
    }

    private void AddHeader(ReadOnlySpan<byte> line, int colon)
    {
        // The line is kept as it came ("Key: Value"); AmiMessage finds the value after the colon.
        // A line without a colon is kept whole as the value of an empty key, rather than lost.
        var start = _byteCount;
        Append(line);
        AddOffsets(start, colon < 0 ? start : start + colon);
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        var needed = _byteCount + bytes.Length;
        if (needed > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(needed, _bytes.Length * 2));
        }

        bytes.CopyTo(_bytes.AsSpan(_byteCount));
        _byteCount = needed;
    }

    private void AddOffsets(int keyStart, int keyEnd)
    {
        if (_offsetCount + 3 > _offsets.Length)
        {
            Array.Resize(ref _offsets, _offsets.Length * 2);
        }

        _offsets[_offsetCount] = keyStart;
        _offsets[_offsetCount + 1] = keyEnd;
        _offsetCount += 2;
    }

    private bool IsResponseFollows() =>
        Ascii.EqualsIgnoreCase(_bytes.AsSpan(0, _byteCount), "Response: Follows"u8) ||
        Ascii.EqualsIgnoreCase(_bytes.AsSpan(0, _byteCount), "Response:Follows"u8);

    private bool TryCompleteMessage(out AmiFrame frame)
    {
        _messageBytes = 0;
        if (_offsetCount == 0)
        {
            frame = default;
            return false;
        }

        var data = _bytes.AsSpan(0, _byteCount).ToArray();
        var offsets = new int[_offsetCount + 1];
        _offsets.AsSpan(0, _offsetCount).CopyTo(offsets);
        offsets[^1] = _byteCount;
        var firstKey = data.AsSpan(0, offsets[1]);
        var firstValue = Ascii.EqualsIgnoreCase(firstKey, "Event"u8) || Ascii.EqualsIgnoreCase(firstKey, "Response"u8)
            ? _names.Get(AmiMessage.ValueBytes(data, offsets, 0))
            : null;
        _byteCount = 0;
        _offsetCount = 0;
        frame = new AmiFrame(null, new AmiMessage(data, offsets, firstValue));
        return true;
    }
}
