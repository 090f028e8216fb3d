using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Moments the service stored (a dial, a connect, an adoption), read back for the time to recover of the dialer's and
/// callbacks' fault rows (docs/reliability.md, "Time to recover"). The service and the test share the host's wall clock.
/// </summary>
internal static class StoredMoments
{
    /// <summary>The single <c>timestamptz</c> <paramref name="sql"/> selects, or null when it is NULL (the moment never came).</summary>
    public static async Task<DateTimeOffset?> AtAsync(TestDatabase db, string sql, CancellationToken ct) =>
        await db.ScalarAsync<object>(sql, ct) is DateTime at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;

    /// <summary><paramref name="at"/> as a <c>timestamptz</c> literal for the queries above.</summary>
    public static string Sql(DateTimeOffset at) => $"'{at.UtcDateTime:O}'::timestamptz";
}
