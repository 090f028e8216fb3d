using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Ari;

/// <summary>
/// Turns one ARI WebSocket text frame into a typed message. Never throws: unknown types become
/// <see cref="AriUnknownMessage"/>, broken JSON becomes <see cref="AriUndecodableMessage"/>.
/// </summary>
public static class AriEventDecoder
{
    private static readonly Dictionary<string, JsonTypeInfo>.AlternateLookup<ReadOnlySpan<char>> Lookup =
        new Dictionary<string, JsonTypeInfo>(AriMessageTypes.ByName, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Decodes one message.</summary>
    /// <param name="utf8Json">The frame payload (UTF-8 JSON).</param>
    /// <returns>The typed message, an <see cref="AriUnknownMessage"/> or an <see cref="AriUndecodableMessage"/>.</returns>
    public static Message Decode(ReadOnlySpan<byte> utf8Json)
    {
        Span<char> typeBuffer = stackalloc char[64];
        int typeLength;
        try
        {
            typeLength = FindType(utf8Json, typeBuffer);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not valid UTF-8 (System.Text.Json transcoding).
            return Undecodable(utf8Json, e.Message);
        }

        if (typeLength < 0)
        {
            return Undecodable(utf8Json, "the message has no string \"type\" field at its top level");
        }

        var type = typeBuffer[..typeLength];
        if (typeLength > 0 && Lookup.TryGetValue(type, out var typeInfo))
        {
            try
            {
                return JsonSerializer.Deserialize(utf8Json, typeInfo) as Message
                    ?? Undecodable(utf8Json, $"a {type} message decoded to null");
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                return Undecodable(utf8Json, $"not a valid {type}: {e.Message}");
            }
        }

        try
        {
            using var document = JsonDocument.Parse(utf8Json.ToArray());
            var root = document.RootElement.Clone();
            return new AriUnknownMessage
            {
                Type = type.ToString(),
                AsteriskId = root.TryGetProperty("asterisk_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null,
                Json = root,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return Undecodable(utf8Json, e.Message);
        }
    }

    /// <summary>Writes the top-level "type" into <paramref name="destination"/>; -1 when absent.</summary>
    private static int FindType(ReadOnlySpan<byte> utf8Json, Span<char> destination)
    {
        var reader = new Utf8JsonReader(utf8Json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("an ARI message must be a JSON object");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // Asterisk writes "type" first, so this loop normally ends at the first property.
            var isType = reader.ValueTextEquals("type"u8);
            reader.Read();
            if (isType)
            {
                if (reader.TokenType != JsonTokenType.String)
                {
                    return -1;
                }

                // No known type is longer than the buffer; a longer one is kept as unknown, truncated in name only.
                if (!reader.HasValueSequence && reader.ValueSpan.Length <= destination.Length)
                {
                    return reader.CopyString(destination);
                }

                var text = reader.GetString()!;
                var length = Math.Min(text.Length, destination.Length);
                text.AsSpan(0, length).CopyTo(destination);
                return length;
            }

            reader.Skip();
        }

        return -1;
    }

    private static AriUndecodableMessage Undecodable(ReadOnlySpan<byte> utf8Json, string error) => new()
    {
        Type = AriUndecodableMessage.TypeName,
        Text = Encoding.UTF8.GetString(utf8Json),
        Error = error,
    };
}
