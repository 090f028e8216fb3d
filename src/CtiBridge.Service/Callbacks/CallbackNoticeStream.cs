using System.Buffers;
using System.Text.Json;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Live;

namespace CtiBridge.Service.Callbacks;

/// <summary>
/// A callback's reminder or escalation noted in call control's event stream (<see cref="CallCenter.TryNote"/>):
/// it gets the engine's next sequence number, like every other event of <c>/api/events</c> (docs/api.md:
/// <c>callback.reminder</c>, <c>callback.escalated</c>).
/// </summary>
/// <param name="Notice">The reminder or escalation, with the callback as it is now.</param>
public sealed record CallbackNoticeNoted(CallbackNotice Notice) : AcdEvent;

/// <summary>
/// Puts the callbacks' reminders and escalations on this instance's live event stream, so they reach the owner
/// agent's desktop and the supervisors (and webhooks). The sweep that writes them runs on whichever Quartz node,
/// possibly one without call control (a standby, a dialer-only instance), so this reads them back from the
/// database (<c>callback_events.written_at</c>, migration 0037) on every instance that runs call control, about
/// once a second, rather than publishing where the sweep happens to run.
/// </summary>
internal sealed partial class CallbackNoticeStream(IServiceProvider services, ILogger<CallbackNoticeStream> logger) : BackgroundService
{
    /// <summary>How often the database is read (real time: a poll, not a business timer, so a test's fake clock does not hold it).</summary>
    internal static TimeSpan PollInterval { get; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Written this long before call control started here, a notice is still put on the stream: what the sweep wrote
    /// during a restart or a takeover is not lost. A desktop that saw it from the previous instance may see it twice
    /// (same <c>callbackId</c> and type).
    /// </summary>
    internal static TimeSpan Replay { get; } = TimeSpan.FromMinutes(1);

    /// <summary>Rows committed this late behind the newest one seen are still found (their written_at is taken before the commit).</summary>
    internal static TimeSpan LateCommit { get; } = TimeSpan.FromMinutes(2);

    private const int Page = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (services.GetService<CallCenter>() is not { } center || services.GetService<LiveEventHub>() is null
            || services.GetService<CallbackStore>() is not { } store)
        {
            return;
        }

        try
        {
            if (services.GetService<DatabaseSchemaState>() is { } schema)
            {
                await schema.WhenCurrentAsync(stoppingToken).ConfigureAwait(false);
            }

            // A standby notes nothing (its call control does not run): it starts reading when it takes over.
            await center.Started.WaitAsync(stoppingToken).ConfigureAwait(false);
            DateTimeOffset? start = null;
            DateTimeOffset? latest = null;
            var noted = new Dictionary<(Guid, int), DateTimeOffset>();
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    start ??= await store.DatabaseNowAsync(stoppingToken).ConfigureAwait(false) - Replay;
                    var since = latest is { } l && l - LateCommit > start.Value ? l - LateCommit : start.Value;
                    var from = since;
                    while (true)
                    {
                        var page = await store.NoticesSinceAsync(from, Page, stoppingToken).ConfigureAwait(false);
                        foreach (var notice in page)
                        {
                            var key = (notice.Callback.Id, notice.Sequence);
                            if (!noted.ContainsKey(key))
                            {
                                if (!await center.SendsNoticeOfAsync(notice.Callback, stoppingToken).ConfigureAwait(false))
                                {
                                    // Servers split between instances: the part controlling the callback's server sends it (once).
                                    noted[key] = notice.WrittenAt;
                                    LogLeftToItsPart(logger, notice.Kind, notice.Callback.Id);
                                }
                                else if (center.TryNote(new CallbackNoticeNoted(notice)))
                                {
                                    noted[key] = notice.WrittenAt;
                                    LogNoted(logger, notice.Kind, notice.Callback.Id, notice.Callback.OwnerAgentId ?? "(queue " + notice.Callback.Queue + ")");
                                }
                            }

                            latest = latest is { } seen && seen > notice.WrittenAt ? seen : notice.WrittenAt;
                        }

                        if (page.Count < Page)
                        {
                            break;
                        }

                        from = page[^1].WrittenAt;
                    }

                    // What lies before the window is never read again: forget it.
                    foreach (var old in noted.Where(n => n.Value <= since).Select(n => n.Key).ToList())
                    {
                        noted.Remove(old);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Whatever goes wrong here must not stop the host (a background service's exception would): the
                    // notices are still in the database, and the next read within LateCommit finds them.
                    LogReadFailed(logger, ex.Message);
                }

                await Task.Delay(PollInterval, TimeProvider.System, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Callback {Kind} of {CallbackId} put on the event stream (for {Owner})")]
    private static partial void LogNoted(ILogger logger, string kind, Guid callbackId, string owner);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Callback {Kind} of {CallbackId} left to the instance controlling its server (servers split between instances)")]
    private static partial void LogLeftToItsPart(ILogger logger, string kind, Guid callbackId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading callback reminders and escalations for the event stream failed ({Reason}); retrying")]
    private static partial void LogReadFailed(ILogger logger, string reason);
}

/// <summary>The callbacks' events on the live event stream (docs/api.md).</summary>
public static class CallbackLiveEvents
{
    /// <summary>
    /// <c>callback.reminder</c> (a scheduled callback is due soon) or <c>callback.escalated</c> (overdue), addressed to
    /// the owner agent (<c>agentId</c>; none for a callback of the queue), so an agent key sees its own and the
    /// supervisors every one.
    /// </summary>
    public static LiveEvent Notice(CallbackNoticeNoted noted)
    {
        ArgumentNullException.ThrowIfNull(noted);
        var notice = noted.Notice;
        var c = notice.Callback;
        var type = notice.Kind == "reminded" ? "callback.reminder" : "callback.escalated";
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", type);
            w.WriteNumber("sequence", noted.Sequence);
            w.WriteString("at", noted.At);
            Optional(w, "agentId", c.OwnerAgentId);
            w.WriteString("callbackId", c.Id);
            w.WriteString("number", c.Number);
            Optional(w, "customerName", c.CustomerName);
            w.WriteString("queue", c.Queue);
            w.WriteString("source", Core.Callbacks.CallbackStates.SourceName(c.Source));
            w.WriteString("state", Core.Callbacks.CallbackStates.Name(c.State));
            w.WriteString("dueAt", c.DueAt);
            if (c.Deadline is { } deadline)
            {
                w.WriteString("deadline", deadline);
            }

            Optional(w, "reason", c.Reason);
            Optional(w, "note", c.Note);
            w.WriteString(notice.Kind == "reminded" ? "remindedAt" : "escalatedAt", notice.At);
            w.WriteString("why", notice.Reason);
            w.WriteEndObject();
        }

        return new LiveEvent(noted.Sequence, type, c.OwnerAgentId, null, buffer.WrittenMemory.ToArray());
    }

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is not null)
        {
            w.WriteString(name, value);
        }
    }
}
