using System.Buffers;
using System.Runtime.CompilerServices;
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

    // The message being read, in two parts: lines already copied out of earlier buffers (or made
    // up, like the "Output: " lines of the old command format) in _bytes, then a run of lines
    // still lying contiguous in the caller's current span, [_runStart, _runEnd), copied once when
    // the message ends or the span is left. Offsets are message-relative, two per header (line
    // start, key end); AmiMessage describes the layout both become.
    // Messages of up to SharedSlabMessageLimit bytes are stored one after another in a shared,
    // unzeroed array (a slab): one allocation per ~160 events instead of one each. Why 64 KiB and
    // not smaller: the GC zeroes a fresh allocation context (~8 KiB) after every array that does
    // not fit the current one, so with 8 KiB slabs it zeroed as many bytes as the slabs held
    // (memset was 8 % of the reader's samples in perf, the parse 10-20 % slower). 64 KiB stays
    // under the large-object threshold (85 000 bytes). The price: a message a consumer keeps for a
    // long time keeps its whole slab alive (copy the values out instead; CtiBridge's own consumers
    // keep strings, never messages).
    internal const int SlabSize = 64 * 1024;
    internal const int SharedSlabMessageLimit = 2 * 1024;
    private byte[] _slab = [];
    private int _slabUsed;

    private byte[] _bytes = new byte[1024];
    private int _byteCount;
    private int _runStart;
    private int _runEnd;
    private bool _runActive;
    private int[] _offsets = new int[64];
    private int _offsetCount;
    private string? _firstValue;
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
            var lines = new AmiLineScanner(span);
            while (offset < span.Length)
            {
                var end = lines.IndexOfNewline(offset);
                if (end < 0)
                {
                    break;
                }

                var lineStart = offset;
                var newline = end - lineStart;
                offset = end + 1;
                if (TryAddPlainHeader(span, lineStart, newline, lines.IndexOfColon(lineStart, end)))
                {
                    continue;
                }

                if (ProcessLine(span, lineStart, newline, inSpan: true, out frame))
                {
                    completed = true;
                    break;
                }
            }

            // The span is about to be left: lines of the unfinished message are copied out now.
            FlushRun(span);
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
            if (ProcessLine(_lineScratch, 0, lineLength, inSpan: false, out frame))
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
        _runActive = false;
        _offsetCount = 0;
        _firstValue = null;
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

    /// <summary>
    /// The common case, kept small: a non-empty header line after the first one of an ordinary
    /// message (not the old command output), within the limits. It joins the current run. False
    /// (nothing done) for anything else, which <see cref="ProcessLine"/> handles.
    /// <paramref name="colon"/> is the first ':' of the line relative to its start, or -1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryAddPlainHeader(ReadOnlySpan<byte> span, int lineStart, int length, int colon)
    {
        if (_offsetCount == 0 || _follows || length > MaxLineLength)
        {
            return false;
        }

        var line = span.Slice(lineStart, length);
        var contentLength = length;
        if (contentLength > 0 && line[contentLength - 1] == (byte)'\r')
        {
            contentLength--;
        }

        var messageBytes = _messageBytes + contentLength + 2;
        if (contentLength == 0 || messageBytes > MaxMessageLength)
        {
            return false;
        }

        _lineNumber++;
        _messageBytes = messageBytes;
        if (!_runActive)
        {
            _runActive = true;
            _runStart = lineStart;
        }
        else if (_runEnd != lineStart)
        {
            return UndoPlainHeader(contentLength);
        }

        var start = _byteCount + (lineStart - _runStart);
        _runEnd = lineStart + length + 1;
        var at = _offsetCount;
        if (at + 3 > _offsets.Length)
        {
            Array.Resize(ref _offsets, _offsets.Length * 2);
        }

        _offsets[at] = start;
        _offsets[at + 1] = colon < 0 ? start : start + colon;
        _offsetCount = at + 2;
        return true;
    }

    /// <summary>A run that does not continue here (rare): let <see cref="ProcessLine"/> flush it and add the line.</summary>
    private bool UndoPlainHeader(int contentLength)
    {
        _lineNumber--;
        _messageBytes -= contentLength + 2;
        return false;
    }

    /// <summary>
    /// One line: <paramref name="source"/>[<paramref name="lineStart"/>, +<paramref name="length"/>)
    /// without its '\n'. <paramref name="inSpan"/>: the '\n' follows in <paramref name="source"/>,
    /// which stays valid until <see cref="FlushRun"/>, so the line can join the current run.
    /// </summary>
    private bool ProcessLine(ReadOnlySpan<byte> source, int lineStart, int length, bool inSpan, out AmiFrame frame)
    {
        _lineNumber++;
        CheckLineLength(length);
        var line = source.Slice(lineStart, length);
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
            return ProcessFollowsLine(source, lineStart, length, line, inSpan, out frame);
        }

        if (line.IsEmpty)
        {
            _atStart = false;
            // A stray blank line between messages is not a message.
            return TryCompleteMessage(source, out frame);
        }

        var colon = line.IndexOf((byte)':');
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

        AddHeader(source, lineStart, length, line, colon, inSpan);
        if (_offsetCount == 2)
        {
            OnFirstHeader(line, colon);
        }

        frame = default;
        return false;
    }

    private void OnFirstHeader(ReadOnlySpan<byte> line, int colon)
    {
        if (colon < 0)
        {
            return;
        }

        var key = line[..colon];
        if (Ascii.EqualsIgnoreCase(key, "Event"u8))
        {
            _firstValue = _names.Get(AmiMessage.ValueOfLine(line, colon));
        }
        else if (Ascii.EqualsIgnoreCase(key, "Response"u8))
        {
            _firstValue = _names.Get(AmiMessage.ValueOfLine(line, colon));
            if (Ascii.EqualsIgnoreCase(line, "Response: Follows"u8) || Ascii.EqualsIgnoreCase(line, "Response:Follows"u8))
            {
                _follows = true;
                _followsOutputStarted = false;
            }
        }
    }

    private bool ProcessFollowsLine(ReadOnlySpan<byte> source, int lineStart, int length, ReadOnlySpan<byte> line, bool inSpan, out AmiFrame frame)
    {
        frame = default;
        var end = line.IndexOf(EndCommand);
        if (end >= 0 && end + EndCommand.Length == line.Length)
        {
            // Old Asterisk appends the marker to the last output line when it lacks a newline.
            if (end > 0)
            {
                AddOutput(source, line[..end]);
            }

            _follows = false;
            return false;
        }

        // Asterisk writes Privilege and ActionID right after "Response: Follows"; output follows.
        if (!_followsOutputStarted &&
            (line.StartsWith("Privilege:"u8) || line.StartsWith("ActionID:"u8)))
        {
            AddHeader(source, lineStart, length, line, line.IndexOf((byte)':'), inSpan);
            return false;
        }

        _followsOutputStarted = true;
        AddOutput(source, line);
        return false;
    }

    private void AddOutput(ReadOnlySpan<byte> source, ReadOnlySpan<byte> line)
    {
        // Output lines of the old command format become "Output: <line>", the Asterisk 14+ shape.
        FlushRun(source);
        var start = _byteCount;
        Append("Output: "u8);
        Append(line);
        Append("\r\n"u8);
        AddOffsets(start, start + "Output".Length);
    }

    /// <summary>
    /// Adds a header line. The line is kept as it came ("Key: Value" and its line end); AmiMessage
    /// finds the value after the colon. A line without a colon is kept whole as the value of an
    /// empty key, rather than lost.
    /// </summary>
    private void AddHeader(ReadOnlySpan<byte> source, int lineStart, int length, ReadOnlySpan<byte> line, int colon, bool inSpan)
    {
        int start;
        if (inSpan)
        {
            // Lines that follow each other in the span are copied later as one run.
            if (_runActive && _runEnd != lineStart)
            {
                FlushRun(source);
            }

            if (!_runActive)
            {
                _runActive = true;
                _runStart = lineStart;
            }

            start = _byteCount + (lineStart - _runStart);
            _runEnd = lineStart + length + 1;
        }
        else
        {
            start = _byteCount;
            Append(line);
            // A uniform terminator: AmiMessage ends a line's text before '\n' and one '\r'.
            Append("\r\n"u8);
        }

        AddOffsets(start, colon < 0 ? start : start + colon);
    }

    /// <summary>Copies the pending run of lines out of <paramref name="source"/> into the message buffer.</summary>
    private void FlushRun(ReadOnlySpan<byte> source)
    {
        if (_runActive)
        {
            _runActive = false;
            Append(source[_runStart.._runEnd]);
        }
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

    private bool TryCompleteMessage(ReadOnlySpan<byte> source, out AmiFrame frame)
    {
        _messageBytes = 0;
        if (_offsetCount == 0)
        {
            frame = default;
            return false;
        }

        // One copy of the staged lines (usually none) and one of the run (usually the whole message).
        var runLength = _runActive ? _runEnd - _runStart : 0;
        var length = _byteCount + runLength;
        _offsets[_offsetCount] = length;
        var count = _offsetCount >> 1;
        var wide = AmiMessage.IsWide(length);
        var size = length + AmiMessage.TableSize(count, wide);
        byte[] data;
        int at;
        if (size > SharedSlabMessageLimit)
        {
            data = GC.AllocateUninitializedArray<byte>(size);
            at = 0;
        }
        else
        {
            if (_slabUsed + size > _slab.Length)
            {
                // Not zeroed: every byte a message reads is written below first.
                _slab = GC.AllocateUninitializedArray<byte>(SlabSize);
                _slabUsed = 0;
            }

            data = _slab;
            at = _slabUsed;
            _slabUsed += size;
        }

        var target = data.AsSpan(at, size);
        _bytes.AsSpan(0, _byteCount).CopyTo(target);
        if (runLength > 0)
        {
            source.Slice(_runStart, runLength).CopyTo(target[_byteCount..]);
        }

        AmiMessage.WriteTable(target[length..], _offsets.AsSpan(0, _offsetCount + 1), wide);
        var firstValue = _firstValue;
        _byteCount = 0;
        _runActive = false;
        _offsetCount = 0;
        _firstValue = null;
        frame = new AmiFrame(null, new AmiMessage(data, at, length, count, firstValue));
        return true;
    }
}
