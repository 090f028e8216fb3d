namespace CtiBridge.Core.Dialer;

/// <summary>One span of local time in which calls may be placed, e.g. 09:00–20:00.</summary>
/// <param name="Start">First local time of day at which dialling is allowed (inclusive).</param>
/// <param name="End">Local time of day at which dialling stops (exclusive); must be after <paramref name="Start"/>.</param>
public readonly record struct CallingSpan(TimeOnly Start, TimeOnly End)
{
    /// <summary>True when <paramref name="time"/> is inside the span.</summary>
    public bool Contains(TimeOnly time) => time >= Start && time < End;
}

/// <summary>
/// Calling hours per weekday in the lead's own time zone. A weekday with no spans is closed.
/// </summary>
public sealed class CallingWindows
{
    private readonly IReadOnlyList<CallingSpan>[] _byDay;

    /// <summary>Creates windows from spans per weekday; missing weekdays are closed.</summary>
    public CallingWindows(IReadOnlyDictionary<DayOfWeek, IReadOnlyList<CallingSpan>> spans)
    {
        ArgumentNullException.ThrowIfNull(spans);
        _byDay = new IReadOnlyList<CallingSpan>[7];
        for (var d = 0; d < 7; d++)
        {
            _byDay[d] = spans.TryGetValue((DayOfWeek)d, out var list) ? list.OrderBy(s => s.Start).ToArray() : [];
        }
    }

    /// <summary>The same hours every day of the week.</summary>
    public static CallingWindows EveryDay(TimeOnly start, TimeOnly end) =>
        new(Enum.GetValues<DayOfWeek>().ToDictionary(d => d, _ => (IReadOnlyList<CallingSpan>)[new CallingSpan(start, end)]));

    /// <summary>
    /// The US federal default (TSR 16 CFR 310.4(c)): 8:00 to 21:00 local time, every day. States
    /// and campaigns often narrow it; pass narrower windows for those.
    /// </summary>
    public static CallingWindows UsFederalDefault { get; } = EveryDay(new TimeOnly(8, 0), new TimeOnly(21, 0));

    /// <summary>The spans of one weekday, in start order.</summary>
    public IReadOnlyList<CallingSpan> On(DayOfWeek day) => _byDay[(int)day];

    /// <summary>True when a call may be placed at <paramref name="instant"/> to someone in <paramref name="zone"/>.</summary>
    public bool IsOpen(DateTimeOffset instant, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = TimeZoneInfo.ConvertTime(instant, zone);
        var time = TimeOnly.FromTimeSpan(local.TimeOfDay);
        foreach (var span in _byDay[(int)local.DayOfWeek])
        {
            if (span.Contains(time))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The first instant at or after <paramref name="instant"/> at which the window is open for
    /// <paramref name="zone"/>, or null when no weekday is open at all. Checks minute by minute
    /// around each span start, so DST gaps are handled by <see cref="TimeZoneInfo"/>.
    /// </summary>
    public DateTimeOffset? NextOpening(DateTimeOffset instant, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (IsOpen(instant, zone))
        {
            return instant;
        }

        var local = TimeZoneInfo.ConvertTime(instant, zone);
        for (var dayOffset = 0; dayOffset <= 8; dayOffset++)
        {
            var date = DateOnly.FromDateTime(local.DateTime).AddDays(dayOffset);
            foreach (var span in _byDay[(int)date.DayOfWeek])
            {
                var localStart = date.ToDateTime(span.Start);
                if (zone.IsInvalidTime(localStart))
                {
                    // The span starts inside a DST gap: the first valid minute after it opens it.
                    while (zone.IsInvalidTime(localStart))
                    {
                        localStart = localStart.AddMinutes(1);
                    }
                }

                var candidate = new DateTimeOffset(localStart, zone.GetUtcOffset(localStart));
                if (candidate > instant && IsOpen(candidate, zone))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
