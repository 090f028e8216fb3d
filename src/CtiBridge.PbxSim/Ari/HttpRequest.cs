using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace CtiBridge.PbxSim.Ari;

/// <summary>One parsed HTTP/1.1 request (head and Content-Length body).</summary>
internal sealed class HttpRequest
{
    private const int MaxHead = 64 * 1024;
    private const int MaxBody = 1024 * 1024;

    public required string Method { get; init; }

    /// <summary>The path without the query, percent-decoded per segment later.</summary>
    public required string Path { get; init; }

    public required Dictionary<string, string> Query { get; init; }

    public required List<KeyValuePair<string, string>> Headers { get; init; }

    public byte[] Body { get; init; } = [];

    public string? Header(string name) =>
        Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    /// <summary>Reads the next request from the pipe, or null at end of stream.</summary>
    public static async Task<HttpRequest?> ReadAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var end = Find(buffer, "\r\n\r\n"u8);
            if (end is { } headEnd)
            {
                var head = Encoding.ASCII.GetString(buffer.Slice(0, headEnd));
                var request = ParseHead(head);
                var length = int.TryParse(request.Header("Content-Length"), out var l) ? Math.Clamp(l, 0, MaxBody) : 0;
                var bodyStart = buffer.GetPosition(headEnd + 4);
                while (buffer.Slice(bodyStart).Length < length && !result.IsCompleted)
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    result = await reader.ReadAsync(cancellationToken);
                    buffer = result.Buffer;
                    bodyStart = buffer.GetPosition(headEnd + 4);
                }

                var available = Math.Min(length, buffer.Slice(bodyStart).Length);
                var body = buffer.Slice(bodyStart, available).ToArray();
                reader.AdvanceTo(buffer.GetPosition(available, bodyStart));
                return new HttpRequest { Method = request.Method, Path = request.Path, Query = request.Query, Headers = request.Headers, Body = body };
            }

            if (buffer.Length > MaxHead || result.IsCompleted)
            {
                reader.AdvanceTo(buffer.End);
                return null;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static long? Find(ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> pattern)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> before, pattern, advancePastDelimiter: false) ? before.Length : null;
    }

    private static HttpRequest ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var parts = lines[0].Split(' ');
        var target = parts.Length > 1 ? parts[1] : "/";
        var question = target.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? target : target[..question];
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        if (question >= 0)
        {
            foreach (var pair in target[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                var key = Uri.UnescapeDataString((equals < 0 ? pair : pair[..equals]).Replace('+', ' '));
                var value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
                query[key] = value;
            }
        }

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
        }

        return new HttpRequest { Method = parts[0], Path = path, Query = query, Headers = headers };
    }
}

/// <summary>An HTTP response the way Asterisk's HTTP server writes it (header order and spelling included).</summary>
internal sealed record HttpResponse(int Status, string Reason, string? Json, IReadOnlyList<KeyValuePair<string, string>>? ExtraHeaders = null)
{
    public static HttpResponse Ok(string json) => new(200, "OK", json);

    public static HttpResponse NoContent() => new(204, "No Content", null);

    public static HttpResponse Error(int status, string reason, string message) =>
        new(status, reason, "{\"message\":" + System.Text.Json.JsonSerializer.Serialize(message, AriJson.Options) + "}");

    /// <summary>
    /// The response's bytes. With <paramref name="close"/> it says <c>Connection: close</c> after
    /// the date, where Asterisk's ast_http_send puts it when the session ends after this answer.
    /// </summary>
    public byte[] ToBytes(DateTimeOffset now, bool close = false)
    {
        var body = Json is null ? [] : Encoding.UTF8.GetBytes(Json);
        var head = new StringBuilder()
            .Append("HTTP/1.1 ").Append(Status).Append(' ').Append(Reason).Append("\r\n")
            .Append("Server: Asterisk/").Append(PbxSimulator.AsteriskVersion).Append("\r\n")
            .Append("Date: ").Append(now.UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n")
            .Append(close ? "Connection: close\r\n" : "")
            .Append("Cache-Control: no-cache, no-store\r\n");
        foreach (var (name, value) in ExtraHeaders ?? [])
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (Json is not null)
        {
            head.Append("Content-type: application/json\r\n");
        }

        head.Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. body];
    }
}
