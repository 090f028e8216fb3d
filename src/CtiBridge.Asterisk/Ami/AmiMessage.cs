using System.Buffers.Binary;
using System.Collections;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// One AMI message (a response or an event): an ordered list of headers in wire order.
/// Repeated keys are kept (<c>Output</c>, <c>Variable</c>, <c>ChanVariable</c>); lookups by key
/// are case-insensitive and return the first occurrence. Values are decoded as UTF-8.
/// </summary>
/// <remarks>
/// Immutable and safe to share between threads once received. The message keeps the UTF-8 bytes
/// of its headers and decodes a key or value into a string only when it is first asked for (then
/// remembers it): the socket reader never spends time on strings nobody reads, which is most of
/// them in a busy event stream. Received messages of up to 2 KiB share 64 KiB arrays with the
/// messages read before and after them, so a message kept for a long time keeps that array alive:
/// keep the values you need (strings), not the message.
/// </remarks>
public sealed class AmiMessage : IReadOnlyList<KeyValuePair<string, string>>
{
    private const byte KindNone = 0;
    private const byte KindEvent = 1;
    private const byte KindResponse = 2;

    // The message's bytes, at _base in _data (an array the parser shares between the messages
    // it reads in a row, see AmiFrameParser): first every header line as received, terminator
    // included ("Key: Value\r\n", or a line without a colon), back to back; then the offset table
    // (at _tableStart), 2 * Count + 1 entries relative to _base, 16-bit when the lines fit in
    // 64 KiB, else 32-bit. Header i's line is [t[2i], t[2i+2]) and its key ends at t[2i+1]; the
    // line's text ends before its '\n' and one '\r' before that, and the value starts after the
    // colon and one space, when they are there (see ValueBytes). No separate offset array, and the
    // reader copies a message's lines with one copy, not one per header.
    private readonly byte[] _data;
    private readonly int _base;
    private readonly int _tableStart;
    private readonly int _count;
    private readonly bool _wideTable;

    // The value of the first header when it is Event or Response (decoded by the parser's cache).
    private readonly string? _firstValue;
    private readonly byte _kind;

    // Decoded strings, created on first use: key i at 2i, value i at 2i + 1. Two threads decoding
    // the same slot at once both store an equal string, so no lock is needed.
    private string?[]? _strings;

    /// <summary>Creates a message from headers in wire order.</summary>
    /// <param name="headers">The headers; keys and values must not be null.</param>
    public AmiMessage(IEnumerable<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var strings = new List<string>();
        foreach (var (key, value) in headers)
        {
            ArgumentNullException.ThrowIfNull(key);
            ArgumentNullException.ThrowIfNull(value);
            strings.Add(key);
            strings.Add(value);
        }

        // Same layout as a received message: "Key: Value\r\n" per header.
        var offsets = new int[strings.Count + 1];
        var length = 0;
        for (var i = 0; i < strings.Count; i += 2)
        {
            offsets[i] = length;
            length += Encoding.UTF8.GetByteCount(strings[i]);
            offsets[i + 1] = length;
            length += 2 + Encoding.UTF8.GetByteCount(strings[i + 1]) + 2;
        }

        offsets[^1] = length;
        _wideTable = IsWide(length);
        _tableStart = length;
        _data = new byte[length + TableSize(strings.Count / 2, _wideTable)];
        WriteTable(_data.AsSpan(length), offsets, _wideTable);
        for (var i = 0; i < strings.Count; i += 2)
        {
            var at = offsets[i + 1];
            Encoding.UTF8.GetBytes(strings[i], _data.AsSpan(offsets[i]));
            _data[at] = (byte)':';
            _data[at + 1] = (byte)' ';
            var end = at + 2 + Encoding.UTF8.GetBytes(strings[i + 1], _data.AsSpan(at + 2));
            _data[end] = (byte)'\r';
            _data[end + 1] = (byte)'\n';
        }

        _count = strings.Count / 2;
        _strings = [.. strings];
        if (strings.Count > 0)
        {
            _kind = KindOf(_data.AsSpan(0, offsets[1]));
            _firstValue = _kind == KindNone ? null : strings[1];
        }
    }

    /// <summary>
    /// A message whose lines the parser copied to <paramref name="data"/> at <paramref name="start"/>,
    /// followed by the table written with <see cref="WriteTable"/>; that part of the array is never
    /// written again.
    /// </summary>
    internal AmiMessage(byte[] data, int start, int lineBytes, int count, string? firstValue)
    {
        _data = data;
        _base = start;
        _tableStart = start + lineBytes;
        _count = count;
        _wideTable = IsWide(lineBytes);
        if (count > 0)
        {
            var keyStart = Offset(0);
            _kind = KindOf(data.AsSpan(keyStart, Offset(1) - keyStart));
            _firstValue = _kind == KindNone ? null : firstValue;
        }
    }

    /// <summary>
    /// Approximate memory this message holds: its share of the byte array (lines and offset table)
    /// plus the object itself. Used to bound a subscription's backlog in bytes.
    /// </summary>
    internal int MemorySize => _tableStart - _base + TableSize(_count, _wideTable) + 64;

    /// <summary>Number of header lines.</summary>
    public int Count => _count;

    /// <summary>The header at <paramref name="index"/> in wire order.</summary>
    public KeyValuePair<string, string> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return new(Decode(2 * index), Decode((2 * index) + 1));
        }
    }

    /// <summary>The first value of <paramref name="key"/> (case-insensitive), or null when absent.</summary>
    public string? this[string key] => TryGetValue(key, out var value) ? value : null;

    /// <summary>The value of the <c>Response</c> header (e.g. <c>Success</c>, <c>Error</c>), or null for an event.</summary>
    public string? Response => _kind == KindResponse ? _firstValue : this["Response"];

    /// <summary>The value of the <c>Event</c> header (e.g. <c>Newchannel</c>), or null for a response.</summary>
    public string? EventName => _kind == KindEvent ? _firstValue : this["Event"];

    /// <summary>The value of the <c>ActionID</c> header, or null when absent.</summary>
    public string? ActionId => this["ActionID"];

    /// <summary>The value of the <c>Message</c> header (Asterisk's human-readable outcome), or null.</summary>
    public string? Text => this["Message"];

    /// <summary>True when this is a response whose <c>Response</c> is <c>Success</c> (or <c>Goodbye</c>/<c>Follows</c>).</summary>
    public bool IsSuccess =>
        Response is { } r &&
        (r.Equals("Success", StringComparison.OrdinalIgnoreCase) ||
         r.Equals("Goodbye", StringComparison.OrdinalIgnoreCase) ||
         r.Equals("Follows", StringComparison.OrdinalIgnoreCase));

    /// <summary>True when the first header is <c>Event</c>.</summary>
    public bool IsEvent => _kind == KindEvent;

    /// <summary>True when the first header is <c>Response</c>.</summary>
    public bool IsResponse => _kind == KindResponse;

    /// <summary>Finds the first value of <paramref name="key"/> (case-insensitive).</summary>
    public bool TryGetValue(string key, out string value)
    {
        var index = IndexOf(key, 0);
        if (index < 0)
        {
            value = string.Empty;
            return false;
        }

        value = Decode((2 * index) + 1);
        return true;
    }

    /// <summary>Every value of <paramref name="key"/> (case-insensitive) in wire order; empty when absent.</summary>
    public IReadOnlyList<string> GetValues(string key)
    {
        List<string>? values = null;
        for (var index = IndexOf(key, 0); index >= 0; index = IndexOf(key, index + 1))
        {
            (values ??= []).Add(Decode((2 * index) + 1));
        }

        return values ?? (IReadOnlyList<string>)[];
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return new(Decode(2 * i), Decode((2 * i) + 1));
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The message in wire form (<c>Key: Value</c> lines joined by CRLF, no trailing blank line).</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (var i = 0; i < Count; i++)
        {
            if (i > 0)
            {
                text.Append("\r\n");
            }

            text.Append(Decode(2 * i)).Append(": ").Append(Decode((2 * i) + 1));
        }

        return text.ToString();
    }

    /// <summary>The raw UTF-8 bytes of the first value of <paramref name="asciiKey"/>; false when absent.</summary>
    /// <remarks>For the reader loop: routes responses by ActionID without making a string.</remarks>
    internal bool TryGetValueBytes(string asciiKey, out ReadOnlySpan<byte> value)
    {
        var index = IndexOf(asciiKey, 0);
        if (index < 0)
        {
            value = default;
            return false;
        }

        value = ValueBytes(index);
        return true;
    }

    /// <summary>True when a message with <paramref name="lineBytes"/> bytes of lines needs 32-bit offsets.</summary>
    internal static bool IsWide(int lineBytes) => lineBytes > ushort.MaxValue;

    /// <summary>Bytes of the offset table of a message with <paramref name="count"/> headers.</summary>
    internal static int TableSize(int count, bool wide) => ((2 * count) + 1) * (wide ? 4 : 2);

    /// <summary>Writes the offset table (2 * count + 1 entries, the last = the line bytes) to <paramref name="table"/>.</summary>
    internal static void WriteTable(Span<byte> table, ReadOnlySpan<int> offsets, bool wide)
    {
        if (wide)
        {
            for (var i = 0; i < offsets.Length; i++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(table[(4 * i)..], offsets[i]);
            }
        }
        else
        {
            for (var i = 0; i < offsets.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(table[(2 * i)..], (ushort)offsets[i]);
            }
        }
    }

    /// <summary>Entry <paramref name="index"/> of the offset table, as a position in <see cref="_data"/>.</summary>
    private int Offset(int index) =>
        _base + (_wideTable
            ? BinaryPrimitives.ReadInt32LittleEndian(_data.AsSpan(_tableStart + (4 * index), 4))
            : BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(_tableStart + (2 * index), 2)));

    /// <summary>The value bytes of header <paramref name="index"/>: after the key's colon and one space, before the line end.</summary>
    private ReadOnlySpan<byte> ValueBytes(int index)
    {
        var start = Offset((2 * index) + 1);
        var end = Offset((2 * index) + 2) - 1;
        // Every stored line ends in '\n'; one '\r' before it is the line end too.
        if (end > start && _data[end - 1] == (byte)'\r')
        {
            end--;
        }

        if (start < end && _data[start] == (byte)':')
        {
            start++;
            if (start < end && _data[start] == (byte)' ')
            {
                start++;
            }
        }

        return _data.AsSpan(start, end - start);
    }

    /// <summary>The value bytes of a header line's text (no terminator) whose key ends at <paramref name="keyEnd"/>.</summary>
    internal static ReadOnlySpan<byte> ValueOfLine(ReadOnlySpan<byte> line, int keyEnd)
    {
        var start = keyEnd;
        if (start < line.Length && line[start] == (byte)':')
        {
            start++;
            if (start < line.Length && line[start] == (byte)' ')
            {
                start++;
            }
        }

        return line[start..];
    }

    private static byte KindOf(ReadOnlySpan<byte> firstKey) =>
        AsciiEqualsIgnoreCase(firstKey, "Event") ? KindEvent :
        AsciiEqualsIgnoreCase(firstKey, "Response") ? KindResponse :
        KindNone;

    /// <summary>Case-insensitive (ASCII letters) comparison of UTF-8 bytes with an ASCII string.</summary>
    private static bool AsciiEqualsIgnoreCase(ReadOnlySpan<byte> bytes, string text)
    {
        if (bytes.Length != text.Length)
        {
            return false;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            uint b = bytes[i];
            uint c = text[i];
            if (b != c && ((b | 0x20) != (c | 0x20) || (b | 0x20) - 'a' > 'z' - 'a'))
            {
                return false;
            }
        }

        return true;
    }

    private int IndexOf(string key, int start)
    {
        ArgumentNullException.ThrowIfNull(key);
        var count = Count;
        if (!Ascii.IsValid(key))
        {
            // Rare: a non-ASCII header name; compare decoded text with the culture-free rules.
            for (var i = start; i < count; i++)
            {
                if (string.Equals(Decode(2 * i), key, StringComparison.OrdinalIgnoreCase))
                {
                    return i;
                }
            }

            return -1;
        }

        for (var i = start; i < count; i++)
        {
            var keyStart = Offset(2 * i);
            var keyLength = Offset((2 * i) + 1) - keyStart;
            if (keyLength == key.Length && AsciiEqualsIgnoreCase(_data.AsSpan(keyStart, keyLength), key))
            {
                return i;
            }
        }

        return -1;
    }

    private string Decode(int slot)
    {
        var strings = _strings ?? Interlocked.CompareExchange(ref _strings, new string?[2 * _count], null) ?? _strings;
        if (strings[slot] is { } cached)
        {
            return cached;
        }

        string text;
        if ((slot & 1) == 0)
        {
            var start = Offset(slot);
            text = Encoding.UTF8.GetString(_data, start, Offset(slot + 1) - start);
        }
        else
        {
            text = slot == 1 && _firstValue is not null ? _firstValue : Encoding.UTF8.GetString(ValueBytes(slot >> 1));
        }

        strings[slot] = text;
        return text;
    }
}
