using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;

namespace CtiBridge.Core.Tests.Callbacks;

public sealed class CallbackPlannerTests
{
    // Monday 2026-11-30.
    private static readonly TimeZoneInfo Shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");

    private static CallbackPolicy Policy(BusinessHours? hours = null) => new() { Hours = hours };

    private static DateTimeOffset Local(int y, int mo, int d, int h, int mi, TimeZoneInfo zone)
    {
        var local = new DateTime(y, mo, d, h, mi, 0, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    [Fact]
    public void AbandonedCall_IsDueNow_WithTheTenMinuteDeadline()
    {
        var now = Local(2026, 11, 30, 10, 0, Shanghai);

        var times = CallbackPlanner.Plan(Policy(), CallbackRequest.AbandonedCall("13800000000", "sales", "c1", TimeSpan.FromSeconds(30)), now);

        Assert.Equal(new CallbackTimes(now, now, now.AddMinutes(10)), times);
    }

    [Fact]
    public void ShortAbandon_EarnsNoCallback()
    {
        Assert.False(CallbackPlanner.AbandonEarnsCallback(Policy(), TimeSpan.FromSeconds(9), "13800000000"));
        Assert.True(CallbackPlanner.AbandonEarnsCallback(Policy(), TimeSpan.FromSeconds(10), "13800000000"));
        Assert.False(CallbackPlanner.AbandonEarnsCallback(Policy(), TimeSpan.FromMinutes(5), " "));
    }

    [Fact]
    public void DueAtClosingTime_MovesToTheNextMorning()
    {
        var hours = BusinessHours.Weekdays(new(8, 0), new(18, 0), Shanghai);
        var closing = Local(2026, 11, 30, 18, 0, Shanghai);
        var justBefore = Local(2026, 11, 30, 17, 59, Shanghai);

        Assert.Equal(justBefore, CallbackPlanner.InHours(Policy(hours), justBefore));
        Assert.Equal(Local(2026, 12, 1, 8, 0, Shanghai), CallbackPlanner.InHours(Policy(hours), closing));
    }

    [Fact]
    public void DueOnFridayEvening_MovesOverTheWeekendAndAHoliday()
    {
        var hours = BusinessHours.Weekdays(new(8, 0), new(18, 0), Shanghai) with { Holidays = [new DateOnly(2026, 12, 7)] };
        var friday = Local(2026, 12, 4, 19, 30, Shanghai);

        var times = CallbackPlanner.Plan(Policy(hours), CallbackRequest.AgentScheduled("13800000000", "sales", friday, null, null, "test"), Local(2026, 12, 4, 12, 0, Shanghai));

        Assert.Equal(friday, times.PromisedAt);
        Assert.Equal(Local(2026, 12, 8, 8, 0, Shanghai), times.DueAt);
    }

    [Fact]
    public void OpeningInsideTheSkippedDaylightSavingHour_OpensWhenTheClocksHaveMoved()
    {
        // Berlin: Sunday 2026-03-29 02:00 local jumps to 03:00. A Sunday opening at 02:30 does not exist that day.
        var hours = new BusinessHours { Weekly = [new OpeningInterval(DayOfWeek.Sunday, new(2, 30), new(6, 0))], TimeZone = Berlin };
        var saturdayNight = new DateTimeOffset(2026, 3, 28, 22, 0, 0, TimeSpan.FromHours(1));

        var opens = hours.NextOpening(saturdayNight);

        Assert.Equal(new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero), opens.ToUniversalTime());
        Assert.True(hours.IsOpen(opens));
    }

    [Fact]
    public void AcrossTheAutumnChange_TheOpeningKeepsItsLocalTime()
    {
        // Berlin: 2026-10-25 03:00 CEST -> 02:00 CET. Monday 08:00 local is 07:00 UTC after the change.
        var hours = BusinessHours.Weekdays(new(8, 0), new(18, 0), Berlin);
        var fridayEvening = new DateTimeOffset(2026, 10, 23, 18, 0, 0, TimeSpan.FromHours(2));

        Assert.Equal(new DateTimeOffset(2026, 10, 26, 7, 0, 0, TimeSpan.Zero), hours.NextOpening(fridayEvening).ToUniversalTime());
    }

    [Fact]
    public void ACalendarThatNeverOpens_IsAClearError()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new BusinessHours().NextOpening(DateTimeOffset.UnixEpoch));
        Assert.Contains("does not open within a year", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Retries_BackOffUpToTheLimit_ThenStop()
    {
        var policy = new CallbackPolicy { RetryDelay = TimeSpan.FromMinutes(5), RetryBackoff = 2, MaxRetryDelay = TimeSpan.FromMinutes(15), MaxAttempts = 4 };
        var now = DateTimeOffset.UnixEpoch;

        Assert.Equal(now.AddMinutes(5), CallbackPlanner.NextAttempt(policy, 1, policy.MaxAttempts, now));
        Assert.Equal(now.AddMinutes(10), CallbackPlanner.NextAttempt(policy, 2, policy.MaxAttempts, now));
        Assert.Equal(now.AddMinutes(15), CallbackPlanner.NextAttempt(policy, 3, policy.MaxAttempts, now));
        Assert.Null(CallbackPlanner.NextAttempt(policy, 4, policy.MaxAttempts, now));
    }

    [Fact]
    public void Escalation_IsTheDeadlineOrDuePlusTheAllowance_WhicheverIsFirst()
    {
        var policy = new CallbackPolicy { EscalateAfter = TimeSpan.FromMinutes(10) };
        var due = DateTimeOffset.UnixEpoch;

        Assert.Equal(due.AddMinutes(10), CallbackPlanner.EscalatesAt(policy, due, null));
        Assert.Equal(due.AddMinutes(4), CallbackPlanner.EscalatesAt(policy, due, due.AddMinutes(4)));
        Assert.Equal(due.AddMinutes(10), CallbackPlanner.EscalatesAt(policy, due, due.AddHours(1)));
    }

    [Fact]
    public void Reminder_ComesBeforeAScheduledDueTimeOnly()
    {
        var policy = new CallbackPolicy { ReminderBefore = TimeSpan.FromMinutes(5) };
        var now = DateTimeOffset.UnixEpoch;

        Assert.Equal(now.AddMinutes(55), CallbackPlanner.RemindAt(policy, now.AddHours(1), now));
        Assert.Null(CallbackPlanner.RemindAt(policy, now.AddMinutes(3), now));
        Assert.Null(CallbackPlanner.RemindAt(policy with { ReminderBefore = TimeSpan.Zero }, now.AddHours(1), now));
    }

    [Fact]
    public void StateNames_RoundTrip_AndUnknownNamesAreClearErrors()
    {
        foreach (var state in Enum.GetValues<CallbackState>())
        {
            Assert.Equal(state, CallbackStates.Parse(CallbackStates.Name(state)));
        }

        Assert.Equal("resolved_by_inbound", CallbackStates.Name(CallbackState.ResolvedByInbound));
        var ex = Assert.Throws<FormatException>(() => CallbackStates.Parse("done"));
        Assert.Contains("connected", ex.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => CallbackStates.ParseSource("1"));
    }

    [Fact]
    public void PolicyValidation_NamesEveryBadSetting()
    {
        var problems = new CallbackPolicy { MaxAttempts = 0, RetryBackoff = 0.5, AbandonedCallbackWithin = TimeSpan.Zero }.Validate();

        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("maxAttempts", StringComparison.Ordinal));
        Assert.Empty(new CallbackPolicy().Validate());
    }
}
