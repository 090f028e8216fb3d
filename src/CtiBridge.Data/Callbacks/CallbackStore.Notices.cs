using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Queries;

namespace CtiBridge.Data.Callbacks;

/// <summary>
/// A reminder or an escalation of a callback, read back from its history for the live event streams (migration 0037).
/// </summary>
/// <param name="Kind"><c>reminded</c> or <c>escalated</c>.</param>
/// <param name="Sequence">The history row's sequence number (with the callback id, the notice's identity).</param>
/// <param name="At">When the sweep wrote it (the writer's clock).</param>
/// <param name="Reason">Why: <c>due at …</c>, <c>past its deadline …</c>, <c>open 10 min after due</c>.</param>
/// <param name="WrittenAt">The database's time of the write: the readers' cursor.</param>
/// <param name="Callback">The callback as it is now.</param>
public sealed record CallbackNotice(string Kind, int Sequence, DateTimeOffset At, string Reason, DateTimeOffset WrittenAt, Callback Callback);

/// <summary>Reading reminders and escalations back for the event streams.</summary>
public sealed partial class CallbackStore
{
    /// <summary>The database's time now (where a reader of <see cref="NoticesSinceAsync"/> starts).</summary>
    public async Task<DateTimeOffset> DatabaseNowAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_notices_now"));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    /// <summary>Reminders and escalations written after <paramref name="since"/> (database time), oldest first, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<CallbackNotice>> NoticesSinceAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(NamedQueries.Get("callback_notices_since"));
        command.Parameters.AddWithValue("since", since);
        command.Parameters.AddWithValue("limit", limit);
        return await ReadAllAsync(
            command,
            reader => new CallbackNotice(
                reader.GetString(reader.GetOrdinal("notice_kind")), reader.GetInt32(reader.GetOrdinal("notice_seq")),
                reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("notice_at")), reader.GetString(reader.GetOrdinal("notice_reason")),
                reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("notice_written_at")), Read(reader)),
            cancellationToken).ConfigureAwait(false);
    }
}
