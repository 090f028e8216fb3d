using System.Collections;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// One AMI message (a response or an event): an ordered list of headers in wire order.
/// Repeated keys are kept (<c>Output</c>, <c>Variable</c>, <c>ChanVariable</c>); lookups by key
/// are case-insensitive and return the first occurrence. Values are decoded as UTF-8.
/// </summary>
/// <remarks>Immutable and safe to share between threads once received.</remarks>
public sealed class AmiMessage : IReadOnlyList<KeyValuePair<string, string>>
{
    // Keys and values interleaved (key0, value0, key1, value1, ...): one array per message.
    private readonly string[] _parts;

    /// <summary>Creates a message from headers in wire order.</summary>
    /// <param name="headers">The headers; keys and values must not be null.</param>
    public AmiMessage(IEnumerable<KeyValuePair<string, string>> headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var parts = new List<string>();
        foreach (var (key, value) in headers)
        {
            ArgumentNullException.ThrowIfNull(key);
            ArgumentNullException.ThrowIfNull(value);
            parts.Add(key);
            parts.Add(value);
        }

        _parts = [.. parts];
    }

    /// <summary>Takes ownership of an interleaved key/value array (the parser's output).</summary>
    internal AmiMessage(string[] parts)
    {
        _parts = parts;
    }

    /// <summary>Number of header lines.</summary>
    public int Count => _parts.Length / 2;

    /// <summary>The header at <paramref name="index"/> in wire order.</summary>
    public KeyValuePair<string, string> this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return new(_parts[2 * index], _parts[(2 * index) + 1]);
        }
    }

    /// <summary>The first value of <paramref name="key"/> (case-insensitive), or null when absent.</summary>
    public string? this[string key] => TryGetValue(key, out var value) ? value : null;

    /// <summary>The value of the <c>Response</c> header (e.g. <c>Success</c>, <c>Error</c>), or null for an event.</summary>
    public string? Response => this["Response"];

    /// <summary>The value of the <c>Event</c> header (e.g. <c>Newchannel</c>), or null for a response.</summary>
    public string? EventName => this["Event"];

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
    public bool IsEvent => _parts.Length > 0 && KeyEquals(_parts[0], "Event");

    /// <summary>True when the first header is <c>Response</c>.</summary>
    public bool IsResponse => _parts.Length > 0 && KeyEquals(_parts[0], "Response");

    /// <summary>Finds the first value of <paramref name="key"/> (case-insensitive).</summary>
    public bool TryGetValue(string key, out string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parts = _parts;
        for (var i = 0; i < parts.Length; i += 2)
        {
            if (KeyEquals(parts[i], key))
            {
                value = parts[i + 1];
                return true;
            }
        }

        value = string.Empty;
        return false;
    }

    /// <summary>Every value of <paramref name="key"/> (case-insensitive) in wire order; empty when absent.</summary>
    public IReadOnlyList<string> GetValues(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        List<string>? values = null;
        for (var i = 0; i < _parts.Length; i += 2)
        {
            if (KeyEquals(_parts[i], key))
            {
                (values ??= []).Add(_parts[i + 1]);
            }
        }

        return values ?? (IReadOnlyList<string>)[];
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < _parts.Length; i += 2)
        {
            yield return new(_parts[i], _parts[i + 1]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The message in wire form (<c>Key: Value</c> lines joined by CRLF, no trailing blank line).</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (var i = 0; i < _parts.Length; i += 2)
        {
            if (i > 0)
            {
                text.Append("\r\n");
            }

            text.Append(_parts[i]).Append(": ").Append(_parts[i + 1]);
        }

        return text.ToString();
    }

    private static bool KeyEquals(string candidate, string key) =>
        ReferenceEquals(candidate, key) || string.Equals(candidate, key, StringComparison.OrdinalIgnoreCase);
}
