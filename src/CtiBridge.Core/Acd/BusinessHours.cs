namespace CtiBridge.Core.Acd;

/// <summary>
/// A weekly opening calendar with holidays, evaluated in one time zone. Pure: the time to check
/// is always passed in.
/// </summary>
public sealed record BusinessHours
{
    /// <summary>Opening intervals per week day, in local time of <see cref="TimeZone"/>; a day not listed is closed.</summary>
    public IReadOnlyList<OpeningInterval> Weekly { get; init; } = [];

    /// <summary>Closed days (local dates), e.g. public holidays.</summary>
    public IReadOnlyCollection<DateOnly> Holidays { get; init; } = [];

    /// <summary>The calendar's time zone. Default UTC.</summary>
    public TimeZoneInfo TimeZone { get; init; } = TimeZoneInfo.Utc;

    /// <summary>True when the calendar is open at <paramref name="at"/>.</summary>
    public bool IsOpen(DateTimeOffset at)
    {
        var local = TimeZoneInfo.ConvertTime(at, TimeZone);
        var date = DateOnly.FromDateTime(local.DateTime);
        if (Holidays.Contains(date))
        {
            return false;
        }

        var time = TimeOnly.FromDateTime(local.DateTime);
        foreach (var interval in Weekly)
        {
            if (interval.Day == local.DayOfWeek && time >= interval.Opens && (time < interval.Closes || interval.Closes == TimeOnly.MinValue))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The first instant at or after <paramref name="at"/> when the calendar is open: <paramref name="at"/>
    /// itself when open, else the next opening (holidays skipped, daylight-saving changes followed:
    /// an opening that falls in a skipped local hour opens when the clocks have moved on).
    /// </summary>
    /// <exception cref="InvalidOperationException">The calendar does not open within a year (no intervals, or every day a holiday).</exception>
    public DateTimeOffset NextOpening(DateTimeOffset at)
    {
        if (IsOpen(at))
        {
            return at;
        }

        var localDate = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, TimeZone).DateTime);
        for (var day = 0; day <= 366; day++)
        {
            var date = localDate.AddDays(day);
            if (Holidays.Contains(date))
            {
                continue;
            }

            DateTimeOffset? best = null;
            foreach (var interval in Weekly)
            {
                if (interval.Day != date.DayOfWeek)
                {
                    continue;
                }

                var opens = ToInstant(date, interval.Opens);
                var closes = interval.Closes == TimeOnly.MinValue ? ToInstant(date.AddDays(1), TimeOnly.MinValue) : ToInstant(date, interval.Closes);
                if (closes <= at)
                {
                    continue;
                }

                var candidate = opens > at ? opens : at;
                if (best is null || candidate < best)
                {
                    best = candidate;
                }
            }

            if (best is { } found)
            {
                return found;
            }
        }

        throw new InvalidOperationException($"The business-hours calendar does not open within a year after {at:O} (no opening intervals, or every day is a holiday).");
    }

    private DateTimeOffset ToInstant(DateOnly date, TimeOnly time)
    {
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        // A local time skipped by a daylight-saving change does not exist: it happens when the clocks jump.
        while (TimeZone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        return new DateTimeOffset(local, TimeZone.GetUtcOffset(local));
    }

    /// <summary>Open Monday to Friday between the two times (a convenience for configuration and tests).</summary>
    public static BusinessHours Weekdays(TimeOnly opens, TimeOnly closes, TimeZoneInfo? timeZone = null) => new()
    {
        Weekly = [.. new[] { DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday }
            .Select(d => new OpeningInterval(d, opens, closes))],
        TimeZone = timeZone ?? TimeZoneInfo.Utc,
    };
}

/// <summary>An opening interval on one week day, <c>[Opens, Closes)</c>; <c>Closes = 00:00</c> means until midnight.</summary>
/// <param name="Day">The week day.</param>
/// <param name="Opens">Opening time (inclusive).</param>
/// <param name="Closes">Closing time (exclusive).</param>
public sealed record OpeningInterval(DayOfWeek Day, TimeOnly Opens, TimeOnly Closes);
