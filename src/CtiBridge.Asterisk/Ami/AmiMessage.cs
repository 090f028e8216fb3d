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
/// them in a busy event stream.
/// </remarks>
public sealed class AmiMessage : IReadOnlyList<KeyValuePair<string, string>>
{
    private const byte KindNone = 0;
    private const byte KindEvent = 1;
    private const byte KindResponse = 2;

    // Every header line as received ("Key: Value", or a line without a colon), back to back,
    // without CRLF.
    private readonly byte[] _data;

    // 2 * Count + 1 offsets into _data: header i's line is [o[2i], o[2i+2]) and its key ends at
    // o[2i+1]. The value starts after the colon and one space, when they are there (ValueStart).
    private readonly int[] _offsets;

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

        // Same layout as a received message: "Key: Value" per header.
        _offsets = new int[strings.Count + 1];
        var length = 0;
        for (var i = 0; i < strings.Count; i += 2)
        {
            _offsets[i] = length;
            length += Encoding.UTF8.GetByteCount(strings[i]);
            _offsets[i + 1] = length;
            length += 2 + Encoding.UTF8.GetByteCount(strings[i + 1]);
        }

        _offsets[^1] = length;
        _data = new byte[length];
        for (var i = 0; i < strings.Count; i += 2)
        {
            var at = _offsets[i + 1];
            Encoding.UTF8.GetBytes(strings[i], _data.AsSpan(_offsets[i]));
            _data[at] = (byte)':';
            _data[at + 1] = (byte)' ';
            Encoding.UTF8.GetBytes(strings[i + 1], _data.AsSpan(at + 2));
        }

        _strings = [.. strings];
        if (strings.Count > 0)
        {
            _kind = KindOf(_data.AsSpan(0, _offsets[1]));
            _firstValue = _kind == KindNone ? null : strings[1];
        }
    }

    /// <summary>Takes ownership of the parser's arrays (see the field comments for their layout).</summary>
    internal AmiMessage(byte[] data, int[] offsets, string? firstValue)
    {
        _data = data;
        _offsets = offsets;
        if (offsets.Length > 1)
        {
            _kind = KindOf(data.AsSpan(0, offsets[1]));
            _firstValue = _kind == KindNone ? null : firstValue;
        }
    }

    /// <summary>Number of header lines.</summary>
    public int Count => _offsets.Length >> 1;

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

        value = ValueBytes(_data, _offsets, index);
        return true;
    }

    /// <summary>The value bytes of header <paramref name="index"/>: after the key's colon and one space, when present.</summary>
    internal static ReadOnlySpan<byte> ValueBytes(byte[] data, int[] offsets, int index)
    {
        var start = offsets[(2 * index) + 1];
        var end = offsets[(2 * index) + 2];
        if (start < end && data[start] == (byte)':')
        {
            start++;
            if (start < end && data[start] == (byte)' ')
            {
                start++;
            }
        }

        return data.AsSpan(start, end - start);
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
        var offsets = _offsets;
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
            var keyStart = offsets[2 * i];
            var keyLength = offsets[(2 * i) + 1] - keyStart;
            if (keyLength == key.Length && AsciiEqualsIgnoreCase(_data.AsSpan(keyStart, keyLength), key))
            {
                return i;
            }
        }

        return -1;
    }

    private string Decode(int slot)
    {
        var strings = _strings ?? Interlocked.CompareExchange(ref _strings, new string?[_offsets.Length - 1], null) ?? _strings;
        if (strings[slot] is { } cached)
        {
            return cached;
        }

        var text = (slot & 1) == 0
            ? Encoding.UTF8.GetString(_data, _offsets[slot], _offsets[slot + 1] - _offsets[slot])
            : slot == 1 && _firstValue is not null
                ? _firstValue
                : Encoding.UTF8.GetString(ValueBytes(_data, _offsets, slot >> 1));
        strings[slot] = text;
        return text;
    }
}
