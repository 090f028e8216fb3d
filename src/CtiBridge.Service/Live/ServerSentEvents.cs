using System.Text;
using System.Threading.Channels;

namespace CtiBridge.Service.Live;

/// <summary>Writes a Server-Sent Events response: pre-serialized frames, flushed per batch, a heartbeat comment when idle.</summary>
internal static class ServerSentEvents
{
    /// <summary>How long a stream stays silent before a heartbeat comment (proxies close idle connections).</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(15);

    private static readonly byte[] HeartbeatFrame = ": heartbeat\n\n"u8.ToArray();

    /// <summary>Sets the headers and sends the first bytes so the client knows it is connected.</summary>
    public static async Task StartAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.WriteAsync(": connected\nretry: 2000\n\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends every event of <paramref name="reader"/> until the client goes or the reader completes.</summary>
    public static async Task PumpAsync(HttpResponse response, ChannelReader<LiveEvent> reader, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var wrote = false;
                while (reader.TryRead(out var liveEvent))
                {
                    await response.Body.WriteAsync(liveEvent.Sse, cancellationToken).ConfigureAwait(false);
                    wrote = true;
                }

                if (wrote)
                {
                    await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                }

                if (!await WaitOrHeartbeatAsync(response, () => reader.WaitToReadAsync(cancellationToken).AsTask(), time, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (LiveSubscriberTooSlowException ex)
        {
            await WriteAsync(response, "overflow", $"{{\"reason\":\"{ex.Message}\"}}", cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Waits for <paramref name="ready"/>; sends a heartbeat each time it takes longer than <see cref="Heartbeat"/>. False when the source has ended.</summary>
    public static async Task<bool> WaitOrHeartbeatAsync(HttpResponse response, Func<Task<bool>> ready, TimeProvider time, CancellationToken cancellationToken)
    {
        var waiting = ready();
        while (true)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var beat = Task.Delay(Heartbeat, time, idle.Token);
            var first = await Task.WhenAny(waiting, beat).ConfigureAwait(false);
            if (first == waiting)
            {
                await idle.CancelAsync().ConfigureAwait(false);
                return await waiting.ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            await response.Body.WriteAsync(HeartbeatFrame, cancellationToken).ConfigureAwait(false);
            await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes one named event with a JSON payload.</summary>
    public static async Task WriteAsync(HttpResponse response, string eventName, string json, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"event: {eventName}\ndata: {json}\n\n"), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
