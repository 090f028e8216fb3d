using System.Text.Json;
using CtiBridge.Data.Callbacks;

namespace CtiBridge.Service.Live;

/// <summary>
/// The wallboard's callback tiles (issue 12; the callbacks engineer's part of the feed): per queue,
/// the callbacks still owed — scheduled, due (waiting for an agent), being dialled, waiting to retry
/// — how many are overdue and how long the oldest due one has waited. Read from PostgreSQL (the
/// whole centre, whichever instance placed them) at most every <see cref="CallbackRefresh"/>; the
/// snapshot is rebuilt at that pace too, since callbacks change without ACD events.
/// </summary>
public sealed partial class WallboardFeed
{
    /// <summary>How often the callback figures are read again (and the snapshot rebuilt without an event).</summary>
    internal static readonly TimeSpan CallbackRefresh = TimeSpan.FromSeconds(2);

    private readonly CallbackStore? _callbackStore;
    private IReadOnlyList<OpenCallbackCount> _callbackCounts = [];
    private DateTimeOffset _callbackCountsAt = DateTimeOffset.MinValue;

    private async Task<IReadOnlyList<OpenCallbackCount>> CallbackCountsAsync(CancellationToken cancellationToken)
    {
        if (_callbackStore is null)
        {
            return [];
        }

        var now = _time.GetUtcNow();
        if (now - _callbackCountsAt >= CallbackRefresh || now < _callbackCountsAt)
        {
            try
            {
                _callbackCounts = await _callbackStore.OpenCountsAsync(cancellationToken).ConfigureAwait(false);
                _callbackCountsAt = now;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
            {
                // The database is out of reach: the last figures stay on the board.
            }
        }

        return _callbackCounts;
    }

    private static void WriteCallbacks(Utf8JsonWriter w, IReadOnlyList<OpenCallbackCount> counts, DateTimeOffset now)
    {
        w.WriteStartArray("callbacks");
        foreach (var queue in counts.GroupBy(c => c.Queue).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            long Of(Core.Callbacks.CallbackState state) => queue.Where(c => c.State == state).Sum(c => c.Open);
            var oldest = queue.Select(c => c.OldestDue).Where(d => d is not null).Min();
            w.WriteStartObject();
            w.WriteString("queue", queue.Key);
            w.WriteNumber("scheduled", Of(Core.Callbacks.CallbackState.Scheduled));
            w.WriteNumber("due", Of(Core.Callbacks.CallbackState.Due));
            w.WriteNumber("dialing", Of(Core.Callbacks.CallbackState.Dialing));
            w.WriteNumber("retry", Of(Core.Callbacks.CallbackState.Retry));
            w.WriteNumber("overdue", queue.Sum(c => c.Overdue));
            w.WriteNumber("oldestDueWaitSeconds", oldest is { } o && o < now ? Math.Round((now - o).TotalSeconds) : 0);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
