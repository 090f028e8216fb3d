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
