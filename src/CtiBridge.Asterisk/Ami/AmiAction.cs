using System.Buffers;
using System.Text;

namespace CtiBridge.Asterisk.Ami;

/// <summary>
/// An AMI action to send: its name and headers in order (repeats allowed, e.g. several
/// <c>Variable</c>). The client adds the <c>ActionID</c> itself, so it cannot be set here.
/// </summary>
public sealed class AmiAction
{
    private readonly List<KeyValuePair<string, string>> _headers = [];

    /// <summary>Creates an action, e.g. <c>new AmiAction("Hangup").Add("Channel", name)</c>.</summary>
    /// <param name="name">The AMI action name (<c>Action:</c> header).</param>
    public AmiAction(string name)
    {
        CheckText(name, nameof(name));
        if (name.Length == 0)
        {
            throw new ArgumentException("An AMI action needs a name.", nameof(name));
        }

        Name = name;
    }

    /// <summary>The action name.</summary>
    public string Name { get; }

    /// <summary>The headers after <c>Action</c> and <c>ActionID</c>, in the order they are written.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers => _headers;

    /// <summary>
    /// How long to wait for the complete answer once the action is written; null uses
    /// <see cref="AmiClientOptions.ActionTimeout"/>.
    /// </summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>True for actions whose headers must never be logged (Login carries the secret).</summary>
    internal bool IsSensitive { get; init; }

    /// <summary>Appends a header; a null value is skipped so optional fields read naturally.</summary>
    /// <exception cref="ArgumentException">The key is empty, is <c>Action</c>/<c>ActionID</c>, or a
    /// key or value holds CR or LF (which would inject headers).</exception>
    public AmiAction Add(string key, string? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (value is null)
        {
            return this;
        }

        CheckText(key, nameof(key));
        CheckText(value, nameof(value));
        if (key.Length == 0 || key.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{key}' is not a valid AMI header name.", nameof(key));
        }

        if (key.Equals("ActionID", StringComparison.OrdinalIgnoreCase) || key.Equals("Action", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"The client sets the {key} header itself.", nameof(key));
        }

        _headers.Add(new(key, value));
        return this;
    }

    /// <summary>Appends a header with an integer value (invariant culture).</summary>
    public AmiAction Add(string key, int? value) =>
        Add(key, value?.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Appends a <c>true</c>/<c>false</c> header.</summary>
    public AmiAction Add(string key, bool? value) => Add(key, value is null ? null : value.Value ? "true" : "false");

    /// <summary>The action as written on the wire, with the given ActionID, ending in CRLF CRLF.</summary>
    internal void WriteTo(IBufferWriter<byte> writer, string actionId)
    {
        Write(writer, "Action", Name);
        Write(writer, "ActionID", actionId);
        foreach (var (key, value) in _headers)
        {
            Write(writer, key, value);
        }

        writer.Write("\r\n"u8);
    }

    /// <inheritdoc />
    public override string ToString() =>
        IsSensitive ? $"Action: {Name} (headers not shown)" : $"Action: {Name}, {string.Join(", ", _headers.Select(h => h.Key + ": " + h.Value))}";

    private static void Write(IBufferWriter<byte> writer, string key, string value)
    {
        var length = Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value) + 4;
        var span = writer.GetSpan(length);
        var n = Encoding.UTF8.GetBytes(key, span);
        span[n++] = (byte)':';
        span[n++] = (byte)' ';
        n += Encoding.UTF8.GetBytes(value, span[n..]);
        span[n++] = (byte)'\r';
        span[n++] = (byte)'\n';
        writer.Advance(n);
    }

    private static void CheckText(string text, string parameter)
    {
        ArgumentNullException.ThrowIfNull(text, parameter);
        if (text.AsSpan().IndexOfAny('\r', '\n') >= 0)
        {
            throw new ArgumentException("AMI header names and values cannot contain CR or LF.", parameter);
        }
    }
}
