using System.Text.Json;

namespace CtiBridge.Service.Tests.Live;

/// <summary>Reads a Server-Sent Events response frame by frame (bounded waits).</summary>
internal sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private SseClient(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public List<(string Event, JsonElement Data)> Seen { get; } = [];

    /// <summary>Connects; the response must be 200 text/event-stream.</summary>
    public static async Task<SseClient> ConnectAsync(HttpClient http, string path, CancellationToken ct)
    {
        var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        return new SseClient(response, reader);
    }

    /// <summary>The first frame (already read or still to come) matching <paramref name="match"/>, reading up to 15 s.</summary>
    public async Task<JsonElement> WaitForAsync(string eventName, Func<JsonElement, bool> match, CancellationToken ct)
    {
        foreach (var (name, data) in Seen)
        {
            if (name == eventName && match(data))
            {
                return data;
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            while (true)
            {
                var (name, data) = await NextAsync(timeout.Token);
                if (name == eventName && match(data))
                {
                    return data;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No '{eventName}' event matched within 15 s. Seen: {string.Join(" | ", Seen.Select(s => s.Event + " " + s.Data.GetRawText()))}");
        }
    }

    private async Task<(string Event, JsonElement Data)> NextAsync(CancellationToken ct)
    {
        string name = "message";
        var data = new System.Text.StringBuilder();
        while (true)
        {
            var line = await _reader.ReadLineAsync(ct) ?? throw new EndOfStreamException("The event stream ended.");
            if (line.Length == 0)
            {
                if (data.Length > 0)
                {
                    using var document = JsonDocument.Parse(data.ToString());
                    var frame = (name, document.RootElement.Clone());
                    Seen.Add(frame);
                    return frame;
                }

                name = "message";
                continue;
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data.Append(line["data: ".Length..]);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}
