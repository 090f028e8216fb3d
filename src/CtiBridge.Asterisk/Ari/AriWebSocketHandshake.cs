using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;

namespace CtiBridge.Asterisk.Ari;

/// <summary>The HTTP/1.1 upgrade that opens the ARI events WebSocket (RFC 6455 section 4).</summary>
internal static class AriWebSocketHandshake
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private const int MaxHeadBytes = 16 * 1024;
    private const int MaxRefusalBodyBytes = 64 * 1024;

    /// <summary>The <c>/events</c> URL for the options: applications comma-joined, <c>subscribeAll</c> when set. No credentials.</summary>
    public static Uri EventsUri(AriClientOptions options)
    {
        var baseUrl = options.BaseAddress.GetLeftPart(UriPartial.Path).TrimEnd('/');
        var query = "app=" + string.Join(',', options.Applications.Select(Uri.EscapeDataString));
        if (options.SubscribeAll)
        {
            query += "&subscribeAll=true";
        }

        return new Uri(baseUrl + "/events?" + query);
    }

    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    // RFC 6455 section 4.2.2 fixes SHA-1 for the accept value; it is a handshake checksum, not security.
#pragma warning disable CA5350
    public static string ComputeAccept(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
#pragma warning restore CA5350

    public static byte[] BuildRequest(Uri eventsUri, string authorization, string key)
    {
        var request = new StringBuilder(256)
            .Append("GET ").Append(eventsUri.PathAndQuery).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(eventsUri.Authority).Append("\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Sec-WebSocket-Key: ").Append(key).Append("\r\n")
            .Append("Sec-WebSocket-Version: 13\r\n")
            .Append("Authorization: ").Append(authorization).Append("\r\n")
            .Append("\r\n");
        return Encoding.ASCII.GetBytes(request.ToString());
    }

    /// <summary>
    /// Reads Asterisk's answer to the upgrade. Returns after a valid <c>101</c>, leaving the first frames in
    /// <paramref name="reader"/>. A refusal throws <see cref="AriWebSocketUpgradeException"/> with Asterisk's
    /// message (JSON <c>message</c> or the HTML page's text); only the first response is read, so the second
    /// response Asterisk appends after a missing <c>app</c> does not matter.
    /// </summary>
    /// <param name="reader">The connection.</param>
    /// <param name="expectedAccept">The <c>Sec-WebSocket-Accept</c> the key demands, or null to skip the check (recorded streams).</param>
    /// <param name="cancellationToken">Cancels (and bounds) the wait.</param>
    public static async ValueTask ReadResponseAsync(PipeReader reader, string? expectedAccept, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var end = FindHeadEnd(buffer);
            if (end is null)
            {
                if (buffer.Length > MaxHeadBytes)
                {
                    throw new AriWebSocketProtocolException($"The WebSocket upgrade response head exceeds {MaxHeadBytes} bytes without ending.");
                }

                if (result.IsCompleted)
                {
                    throw new AriConnectionException($"Asterisk closed the connection during the WebSocket upgrade after {buffer.Length} bytes of response.", "GET", "/events", null);
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            var head = Encoding.ASCII.GetString(buffer.Slice(0, end.Value));
            reader.AdvanceTo(buffer.GetPosition(end.Value));
            var (status, reason, headers) = ParseHead(head);
            if (status == 101)
            {
                if (!headers.TryGetValue("Upgrade", out var upgrade) || !upgrade.Equals("websocket", StringComparison.OrdinalIgnoreCase))
                {
                    throw new AriWebSocketProtocolException("Asterisk answered 101 without 'Upgrade: websocket'.");
                }

                if (expectedAccept is not null && (!headers.TryGetValue("Sec-WebSocket-Accept", out var accept) || accept != expectedAccept))
                {
                    throw new AriWebSocketProtocolException("Asterisk answered 101 with a Sec-WebSocket-Accept that does not match the key sent.");
                }

                return;
            }

            var body = await ReadBodyAsync(reader, headers, cancellationToken);
            throw new AriWebSocketUpgradeException(status, reason, AriErrorBody.ExtractMessage(body), body);
        }
    }

    private static async ValueTask<string> ReadBodyAsync(PipeReader reader, Dictionary<string, string> headers, CancellationToken cancellationToken)
    {
        if (!headers.TryGetValue("Content-Length", out var lengthText) || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length == 0)
        {
            return "";
        }

        length = Math.Min(length, MaxRefusalBodyBytes);
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            if (result.Buffer.Length >= length || result.IsCompleted)
            {
                var take = result.Buffer.Slice(0, Math.Min(length, result.Buffer.Length));
                var text = Encoding.UTF8.GetString(take);
                reader.AdvanceTo(take.End);
                return text;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static long? FindHeadEnd(ReadOnlySequence<byte> buffer)
    {
        var sequenceReader = new SequenceReader<byte>(buffer);
        return sequenceReader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true)
            ? sequenceReader.Consumed
            : null;
    }

    private static (int Status, string Reason, Dictionary<string, string> Headers) ParseHead(string head)
    {
        var lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var statusLine = lines.Length > 0 ? lines[0] : "";
        var parts = statusLine.Split(' ', 3);
        if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            throw new AriWebSocketProtocolException($"The WebSocket upgrade response does not start with an HTTP status line: '{statusLine}'.");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        return (status, parts.Length > 2 ? parts[2] : "", headers);
    }
}
