using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// Reads and writes ARI <c>Date</c> values. Asterisk writes <c>2026-11-22T16:42:35.513+0000</c>: an
/// offset without a colon, which the ISO 8601 reader of System.Text.Json rejects.
/// </summary>
public sealed class AriDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
{
    /// <inheritdoc/>
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"An ARI date must be a JSON string, not {reader.TokenType}.");
        }

        Span<char> buffer = stackalloc char[40];
        var length = reader.HasValueSequence || reader.ValueSpan.Length > 34
            ? -1
            : System.Text.Encoding.UTF8.GetChars(reader.ValueSpan, buffer);
        if (length < 0)
        {
            return Parse(reader.GetString()!);
        }

        var text = buffer[..length];
        // "+0000" -> "+00:00": the only difference from what DateTimeOffset parses natively.
        if (length >= 5 && text[length - 5] is '+' or '-' && char.IsAsciiDigit(text[length - 1]) && text[length - 3] != ':')
        {
            text[(length - 2)..length].CopyTo(buffer[(length - 1)..]);
            buffer[length - 2] = ':';
            text = buffer[..(length + 1)];
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value)
            ? value
            : throw new JsonException($"'{reader.GetString()}' is not an ARI date (expected e.g. 2026-11-22T16:42:35.513+0000).");
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(Format(value));
    }

    /// <summary>Formats a time the way Asterisk does (<c>yyyy-MM-ddTHH:mm:ss.fff+hhmm</c>).</summary>
    /// <param name="value">The time.</param>
    /// <returns>The ARI text.</returns>
    public static string Format(DateTimeOffset value)
    {
        var offset = value.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        offset = offset.Duration();
        return string.Create(CultureInfo.InvariantCulture, $"{value:yyyy-MM-dd'T'HH:mm:ss.fff}{sign}{offset.Hours:00}{offset.Minutes:00}");
    }

    private static DateTimeOffset Parse(string text)
    {
        var normalized = text.Length >= 5 && text[^5] is '+' or '-' && text[^3] != ':'
            ? string.Concat(text.AsSpan(0, text.Length - 2), ":", text.AsSpan(text.Length - 2))
            : text;
        return DateTimeOffset.TryParse(normalized, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value)
            ? value
            : throw new JsonException($"'{text}' is not an ARI date (expected e.g. 2026-11-22T16:42:35.513+0000).");
    }
}
