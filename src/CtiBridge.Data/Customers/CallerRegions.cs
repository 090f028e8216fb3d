using Npgsql;

namespace CtiBridge.Data.Customers;

/// <summary>
/// The caller-region table (<c>number_prefixes</c>, loaded by the administrator from a CSV) held in
/// memory, so a screen pop can name the caller's region without a database round trip while the
/// phone rings. The region is that of the longest prefix of the caller number, as the caller-origin
/// report (<c>report_caller_origin</c>) finds it, so the desktop and the report agree.
/// </summary>
public sealed class CallerRegions
{
    /// <summary>The longest prefix the table may hold (its CHECK constraint).</summary>
    public const int MaxPrefixLength = 16;

    private volatile Dictionary<string, string> _byPrefix = new(StringComparer.Ordinal);

    /// <summary>Prefixes loaded (0 before the first load or with an empty table).</summary>
    public int Count => _byPrefix.Count;

    /// <summary>Reads the whole table and replaces the one in memory (readers see the old or the new, never half).</summary>
    public async Task LoadAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var byPrefix = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = dataSource.CreateCommand(Queries.NamedQueries.Get("number_prefix_regions"));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            byPrefix[reader.GetString(0)] = reader.GetString(1);
        }

        _byPrefix = byPrefix;
    }

    /// <summary>The region of <paramref name="callerNumber"/> (longest matching prefix), or null when none matches.</summary>
    public string? RegionOf(string? callerNumber)
    {
        if (string.IsNullOrEmpty(callerNumber))
        {
            return null;
        }

        var byPrefix = _byPrefix;
        if (byPrefix.Count == 0)
        {
            return null;
        }

        var lookup = byPrefix.GetAlternateLookup<ReadOnlySpan<char>>();
        for (var length = Math.Min(callerNumber.Length, MaxPrefixLength); length > 0; length--)
        {
            if (lookup.TryGetValue(callerNumber.AsSpan(0, length), out var region))
            {
                return region;
            }
        }

        return null;
    }
}
