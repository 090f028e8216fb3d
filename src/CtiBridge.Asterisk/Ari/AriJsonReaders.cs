using System.Text.Json;

namespace CtiBridge.Asterisk.Ari;

/// <summary>Reads one value from the token the reader stands on (and leaves it on the value's last token).</summary>
/// <typeparam name="T">The value read.</typeparam>
/// <param name="reader">The reader, standing on the value's first token (never a JSON null: the caller handles that).</param>
/// <returns>The value.</returns>
internal delegate T AriJsonRead<T>(ref Utf8JsonReader reader);

/// <summary>
/// The hand-written half of the generated readers (AriJsonReaders.g.cs): the entry point and the
/// pieces every model's reader shares. The rules are System.Text.Json's with the options of
/// <see cref="AriJsonContext"/>: property names matched exactly (escapes allowed), the last of a
/// repeated property wins, a JSON null gives null for reference and optional fields and is an error
/// for a required number, boolean or date, a missing required field is an error, and an unknown
/// field is kept in ExtensionData.
/// </summary>
internal static partial class AriJsonReaders
{
    private static readonly AriDateTimeOffsetConverter DateConverter = new();

    /// <summary>
    /// Reads a whole answer body: one JSON value and nothing after it. Null for a JSON null (the
    /// caller decides whether that is allowed). Every failure is a <see cref="JsonException"/>, as
    /// System.Text.Json gives: a wrong token type or a number out of range is turned into one here.
    /// </summary>
    /// <typeparam name="T">The model (or list of models) the body holds.</typeparam>
    /// <param name="utf8">The body.</param>
    /// <param name="read">The generated reader of <typeparamref name="T"/>.</param>
    /// <returns>The value, or null for a JSON null.</returns>
    /// <exception cref="JsonException">The body is not valid JSON, or not a valid <typeparamref name="T"/>.</exception>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static T? Parse<T>(ReadOnlySpan<byte> utf8, AriJsonRead<T> read)
        where T : class
    {
        var reader = new Utf8JsonReader(utf8);
        try
        {
            if (!reader.Read())
            {
                throw new JsonException("The body holds no JSON value.");
            }

            var value = reader.TokenType == JsonTokenType.Null ? null : read(ref reader);
            // Anything but white space after the value makes the reader throw.
            reader.Read();
            return value;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // The getters' errors (a string where a number belongs, a number too large...).
            throw new JsonException($"{e.Message} (at byte {reader.TokenStartIndex}, {typeof(T).Name}).", e);
        }
    }

    private static void StartObject(ref Utf8JsonReader reader, string model)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"A {model} must be a JSON object, not {reader.TokenType} (at byte {reader.TokenStartIndex}).");
        }
    }

    /// <summary>Moves to the object's next property name; false at the object's end.</summary>
    private static bool NextProperty(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.PropertyName;
    }

    private static DateTimeOffset ReadDate(ref Utf8JsonReader reader) =>
        DateConverter.Read(ref reader, typeof(DateTimeOffset), AriJsonContext.Default.Options);

    /// <summary>An unknown field (the reader on its name), kept as System.Text.Json keeps it.</summary>
    private static IDictionary<string, JsonElement> AddExtension(ref Utf8JsonReader reader, IDictionary<string, JsonElement>? data)
    {
        var name = reader.GetString()!;
        reader.Read();
        data ??= new Dictionary<string, JsonElement>();
        data[name] = JsonElement.ParseValue(ref reader);
        return data;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static List<T> ReadList<T>(ref Utf8JsonReader reader, AriJsonRead<T> readItem)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException($"A list of {typeof(T).Name} must be a JSON array, not {reader.TokenType} (at byte {reader.TokenStartIndex}).");
        }

        var list = new List<T>();
        while (true)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return list;
            }

            // A null item is null for a model or a string; a JsonElement item reads it as a null element.
            list.Add(reader.TokenType == JsonTokenType.Null && !typeof(T).IsValueType ? default! : readItem(ref reader));
        }
    }

    private static string ReadStringItem(ref Utf8JsonReader reader) => reader.GetString()!;

    private static JsonElement ReadElementItem(ref Utf8JsonReader reader) => JsonElement.ParseValue(ref reader);

    private static JsonException MissingRequired(string model, ulong seen, string[] required)
    {
        var missing = required.Where((_, i) => (seen & (1UL << i)) == 0).Select(name => $"'{name}'");
        return new JsonException($"JSON deserialization for type '{model}' was missing required properties including: {string.Join(", ", missing)}.");
    }
}
