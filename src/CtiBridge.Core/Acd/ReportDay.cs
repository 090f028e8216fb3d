namespace CtiBridge.Core.Acd;

/// <summary>
/// The day of the reports (<c>reports.time_zone</c>, docs/metrics.md §2): the live statistics' "today"
/// starts and ends where the daily report's interval does, local midnight, so at the end of a day the
/// wallboard's totals are the report's. Days are cut as PostgreSQL's
/// <c>date_trunc('day', t AT TIME ZONE tz) AT TIME ZONE tz</c> cuts them: a day lasts 23 or 25 hours
/// across a daylight-saving change, and a midnight the clocks skip starts the day when they jump.
/// </summary>
public static class ReportDay
{
    /// <summary>The start of the local day containing <paramref name="instant"/>.</summary>
    public static DateTimeOffset StartOf(DateTimeOffset instant, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = TimeZoneInfo.ConvertTime(instant, zone);
        var start = Midnight(local.Date, zone);

        // A midnight skipped by a clock change lies after the first instant of its date.
        return start > instant ? Midnight(local.Date.AddDays(-1), zone) : start;
    }

    /// <summary>The start of the local day after the one containing <paramref name="instant"/>.</summary>
    public static DateTimeOffset NextStartAfter(DateTimeOffset instant, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var date = TimeZoneInfo.ConvertTime(instant, zone).Date;
        for (var days = 1; ; days++)
        {
            var next = Midnight(date.AddDays(days), zone);
            if (next > instant)
            {
                return next;
            }
        }
    }

    /// <summary>The instant of 00:00 local on <paramref name="date"/>.</summary>
    private static DateTimeOffset Midnight(DateTime date, TimeZoneInfo zone)
    {
        var midnight = DateTime.SpecifyKind(date, DateTimeKind.Unspecified);
        if (zone.IsInvalidTime(midnight))
        {
            // Skipped (the clocks jump over it): read with the offset in force before the jump, as
            // PostgreSQL does, which is the instant the clocks jump.
            var before = zone.GetUtcOffset(midnight.AddHours(-3));
            return new DateTimeOffset(midnight, before).ToOffset(zone.GetUtcOffset(new DateTimeOffset(midnight, before)));
        }

        // Twice (the clocks go back over it): the first time, so the repeated hour is in the new day.
        var offset = zone.IsAmbiguousTime(midnight) ? zone.GetAmbiguousTimeOffsets(midnight).Max() : zone.GetUtcOffset(midnight);
        return new DateTimeOffset(midnight, offset);
    }
}
