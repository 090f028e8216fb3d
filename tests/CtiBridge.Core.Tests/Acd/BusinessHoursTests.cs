using CtiBridge.Core.Acd;

namespace CtiBridge.Core.Tests.Acd;

public sealed class BusinessHoursTests
{
    [Fact]
    public void IsOpen_ShanghaiCalendar_EvaluatedInLocalTimeNotUtc()
    {
        var shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        var hours = BusinessHours.Weekdays(new TimeOnly(9, 0), new TimeOnly(18, 0), shanghai);

        Assert.True(hours.IsOpen(new DateTimeOffset(2026, 11, 30, 1, 30, 0, TimeSpan.Zero)));   // Monday 09:30 in Shanghai
        Assert.False(hours.IsOpen(new DateTimeOffset(2026, 11, 30, 10, 30, 0, TimeSpan.Zero)));  // Monday 18:30 in Shanghai
        Assert.False(hours.IsOpen(new DateTimeOffset(2026, 11, 29, 23, 30, 0, TimeSpan.Zero)));  // Monday 07:30 in Shanghai
    }

    [Fact]
    public void IsOpen_IntervalClosingAtMidnight_OpenUntilEndOfDay()
    {
        var hours = new BusinessHours { Weekly = [new OpeningInterval(DayOfWeek.Saturday, new TimeOnly(18, 0), TimeOnly.MinValue)] };

        Assert.True(hours.IsOpen(new DateTimeOffset(2026, 12, 5, 23, 59, 0, TimeSpan.Zero)));
        Assert.False(hours.IsOpen(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Login_WithPauseReason_StartsPausedAndTakesNoCall()
    {
        var h = new AcdHarness([AcdHarness.Queue("q")], [AcdHarness.Agent("a1", "q")]);
        h.Arrive("c1", "q", 0);

        h.At(1, t => new AgentLogin(t, "a1", "201", "1234", PauseReason: PauseReasons.Training));

        Assert.Equal(AgentState.Paused, h.StateOf("a1"));
        Assert.Empty(h.RungFor("c1"));
        h.At(2, t => new AgentResume(t, "a1"));
        Assert.Equal(["a1"], h.RungFor("c1"));
    }
}
