using System.Text;

namespace CtiBridge.PbxSim.Ami;

/// <summary>
/// One AMI message (action, response or event): an ordered list of headers, duplicates allowed
/// (Asterisk repeats <c>Variable</c> and <c>Output</c>), written as <c>Name: value\r\n</c> lines
/// ending in an empty line.
/// </summary>
public sealed class AmiMessage
{
    private readonly List<KeyValuePair<string, string>> _headers;

    /// <summary>Creates an empty message.</summary>
    public AmiMessage() => _headers = [];

    /// <summary>Creates a message with room for <paramref name="capacity"/> headers.</summary>
    public AmiMessage(int capacity) => _headers = new(capacity);

    /// <summary>The headers in wire order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>The first value of a header (case-insensitive name, as Asterisk matches them), or null.</summary>
    public string? this[string name]
    {
        get
        {
            foreach (var header in _headers)
            {
                if (string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    return header.Value;
                }
            }

            return null;
        }
    }

    /// <summary>Every value of a repeated header, in order.</summary>
    public IEnumerable<string> All(string name) =>
        _headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value);

    /// <summary>Appends a header.</summary>
    public AmiMessage Add(string name, string value)
    {
        _headers.Add(new(name, value));
        return this;
    }

    /// <summary>Appends a header when <paramref name="value"/> is not null (Asterisk's optional ActionID).</summary>
    public AmiMessage AddIfPresent(string name, string? value)
    {
        if (value is not null)
        {
            _headers.Add(new(name, value));
        }

        return this;
    }

    /// <summary>Appends all headers of another message.</summary>
    public AmiMessage AddRange(IEnumerable<KeyValuePair<string, string>> headers)
    {
        _headers.AddRange(headers);
        return this;
    }

    /// <summary>The wire form: CRLF after each header and an empty line at the end.</summary>
    public string ToWireString()
    {
        var builder = new StringBuilder(_headers.Count * 32);
        foreach (var header in _headers)
        {
            builder.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        return builder.Append("\r\n").ToString();
    }

    /// <summary>The wire form as UTF-8 bytes.</summary>
    public byte[] ToWireBytes() => Encoding.UTF8.GetBytes(ToWireString());

    /// <summary>Parses one message's header block (lines without the final empty line).</summary>
    public static AmiMessage Parse(string block)
    {
        var message = new AmiMessage();
        foreach (var raw in block.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                // Asterisk ignores header lines without a colon; keep the line so nothing is lost.
                message.Add(line, string.Empty);
                continue;
            }

            message.Add(line[..colon], line[(colon + 1)..].TrimStart(' ', '\t'));
        }

        return message;
    }

    /// <inheritdoc />
    public override string ToString() => ToWireString();
}
