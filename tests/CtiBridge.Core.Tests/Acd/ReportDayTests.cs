using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Tests.Acd;

public sealed class ReportDayTests
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    [Fact]
    public void AnOrdinaryDay_StartsAtLocalMidnight_AndLasts24Hours()
    {
        var noon = new DateTimeOffset(2026, 11, 30, 11, 0, 0, TimeSpan.Zero); // 12:00 CET

        Assert.Equal(new DateTimeOffset(2026, 11, 29, 23, 0, 0, TimeSpan.Zero), ReportDay.StartOf(noon, Berlin));
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero), ReportDay.NextStartAfter(noon, Berlin));
    }

    [Fact]
    public void TheSpringDay_Lasts23Hours_AndTheAutumnDay25()
    {
        var spring = new DateTimeOffset(2026, 3, 29, 12, 0, 0, TimeSpan.Zero);
        var autumn = new DateTimeOffset(2026, 10, 25, 12, 0, 0, TimeSpan.Zero);

        Assert.Equal(TimeSpan.FromHours(23), ReportDay.NextStartAfter(spring, Berlin) - ReportDay.StartOf(spring, Berlin));
        Assert.Equal(TimeSpan.FromHours(25), ReportDay.NextStartAfter(autumn, Berlin) - ReportDay.StartOf(autumn, Berlin));
        Assert.Equal(new DateTimeOffset(2026, 10, 24, 22, 0, 0, TimeSpan.Zero), ReportDay.StartOf(autumn, Berlin)); // 00:00 CEST
        Assert.Equal(new DateTimeOffset(2026, 10, 25, 23, 0, 0, TimeSpan.Zero), ReportDay.NextStartAfter(autumn, Berlin)); // 00:00 CET
    }

    [Fact]
    public void MidnightItself_BelongsToTheNewDay_AndTheNextStartIsAlwaysLater()
    {
        var midnight = new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero);

        Assert.Equal(midnight, ReportDay.StartOf(midnight, Berlin));
        Assert.Equal(midnight.AddDays(1), ReportDay.NextStartAfter(midnight, Berlin));
        Assert.Equal(midnight, ReportDay.NextStartAfter(midnight.AddTicks(-1), Berlin));
    }

    [Fact]
    public void AMidnightTheClocksSkip_StartsTheDayWhenTheyJump()
    {
        // America/Santiago: on 2026-09-06 the clocks jump from 00:00 (-04) to 01:00 (-03); 00:00 local does not exist.
        var santiago = TimeZoneInfo.FindSystemTimeZoneById("America/Santiago");
        var morning = new DateTimeOffset(2026, 9, 6, 12, 0, 0, TimeSpan.Zero);
        var jump = new DateTimeOffset(2026, 9, 6, 4, 0, 0, TimeSpan.Zero);

        Assert.True(santiago.IsInvalidTime(new DateTime(2026, 9, 6, 0, 0, 0, DateTimeKind.Unspecified)), "the test's premise: Santiago skips midnight on 2026-09-06");
        Assert.Equal(jump, ReportDay.StartOf(morning, santiago));
        Assert.Equal(jump, ReportDay.NextStartAfter(jump.AddMinutes(-1), santiago));
    }
}
