using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Ari;

/// <summary>One REST call being built: method, route template, concrete path, query and JSON body.</summary>
/// <param name="method">The HTTP method.</param>
/// <param name="route">The path template from the description (metrics use it: bounded cardinality).</param>
/// <param name="path">The concrete, escaped path relative to the ARI base URL.</param>
internal sealed class AriRequest(string method, string route, string path)
{
    private StringBuilder? _query;
    private List<KeyValuePair<string, object>>? _bodyFields;
    private JsonElement? _rawBody;
    private byte[]? _rawBodyBytes;

    public string Method { get; } = method;

    public string Route { get; } = route;

    public string Path { get; } = path;

    public string? QueryString => _query?.ToString();

    public static string EscapePathSegment(string value) => Uri.EscapeDataString(value);

    public void AddQuery(string name, string? value)
    {
        if (value is not null)
        {
            AppendName(name).Append(Uri.EscapeDataString(value));
        }
    }

    public void AddQuery(string name, int? value)
    {
        if (value is { } v)
        {
            AppendName(name).Append(v.ToString(CultureInfo.InvariantCulture));
        }
    }

    public void AddQuery(string name, long? value)
    {
        if (value is { } v)
        {
            AppendName(name).Append(v.ToString(CultureInfo.InvariantCulture));
        }
    }

    public void AddQuery(string name, bool? value)
    {
        if (value is { } v)
        {
            AppendName(name).Append(v ? "true" : "false");
        }
    }

    /// <summary>Multi-valued parameters: Asterisk splits one comma-separated value (a repeated name would overwrite).</summary>
    public void AddQuery(string name, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            return;
        }

        var builder = AppendName(name);
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i].Contains(',', StringComparison.Ordinal))
            {
                throw new ArgumentException($"ARI parameter '{name}' value '{values[i]}' contains a comma, which Asterisk would split into two values.", name);
            }

            if (i > 0)
            {
                builder.Append(',');
            }

            builder.Append(Uri.EscapeDataString(values[i]));
        }
    }

    public void AddBodyField(string name, IReadOnlyDictionary<string, string>? value)
    {
        if (value is not null)
        {
            (_bodyFields ??= []).Add(new(name, value));
        }
    }

    public void AddBodyField(string name, IReadOnlyList<ConfigTuple>? value)
    {
        if (value is not null)
        {
            (_bodyFields ??= []).Add(new(name, value));
        }
    }

    public void SetBody(JsonElement? value) => _rawBody = value;

    /// <summary>A query string and body passed through untouched (calls outside the API description).</summary>
    public void SetRaw(string? query, byte[]? body)
    {
        _query = query is null ? null : new StringBuilder(query);
        _rawBodyBytes = body;
    }

    /// <summary>The JSON body, or null when the call has none.</summary>
    public byte[]? BuildBody()
    {
        if (_rawBodyBytes is not null)
        {
            return _rawBodyBytes;
        }

        if (_rawBody is { } raw)
        {
            return JsonSerializer.SerializeToUtf8Bytes(raw, AriJsonContext.Default.JsonElement);
        }

        if (_bodyFields is null)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in _bodyFields)
            {
                writer.WritePropertyName(name);
                switch (value)
                {
                    case IReadOnlyDictionary<string, string> map:
                        writer.WriteStartObject();
                        foreach (var (key, text) in map)
                        {
                            writer.WriteString(key, text);
                        }

                        writer.WriteEndObject();
                        break;
                    case IReadOnlyList<ConfigTuple> tuples:
                        JsonSerializer.Serialize(writer, tuples, AriJsonContext.Default.IReadOnlyListConfigTuple);
                        break;
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private StringBuilder AppendName(string name)
    {
        if (_query is null)
        {
            _query = new StringBuilder(64);
        }
        else
        {
            _query.Append('&');
        }

        return _query.Append(name).Append('=');
    }
}
