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

        if (!reader.HasValueSequence && !reader.ValueIsEscaped && TryParseAsteriskFormat(reader.ValueSpan, out var fast))
        {
            return fast;
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

    /// <summary>
    /// The exact shape Asterisk writes, <c>yyyy-MM-ddTHH:mm:ss.fff+hhmm</c> (28 bytes), parsed without
    /// culture machinery: every event carries one or more of these, so this is on the reader's hot path.
    /// </summary>
    private static bool TryParseAsteriskFormat(ReadOnlySpan<byte> text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length != 28 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' || text[19] != '.' || text[23] is not ((byte)'+' or (byte)'-'))
        {
            return false;
        }

        if (!Digits(text, 0, 4, out var year) || !Digits(text, 5, 2, out var month) || !Digits(text, 8, 2, out var day)
            || !Digits(text, 11, 2, out var hour) || !Digits(text, 14, 2, out var minute) || !Digits(text, 17, 2, out var second)
            || !Digits(text, 20, 3, out var millisecond) || !Digits(text, 24, 2, out var offsetHours) || !Digits(text, 26, 2, out var offsetMinutes))
        {
            return false;
        }

        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || offsetHours > 14 || offsetMinutes > 59)
        {
            return false;
        }

        var offset = new TimeSpan(offsetHours, offsetMinutes, 0);
        value = new DateTimeOffset(year, month, day, hour, minute, second, millisecond, text[23] == '-' ? -offset : offset);
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> text, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var digit = text[i] - '0';
            if ((uint)digit > 9)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
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
