using CtiBridge.Core.Dialer;
using static CtiBridge.Core.Tests.Dialer.DialerTestKit;

namespace CtiBridge.Core.Tests.Dialer;

public sealed class CampaignTests
{
    [Fact]
    public void Validate_WellFormedPredictiveCampaign_HasNoErrors() =>
        Assert.Empty(Campaign().Validate());

    [Fact]
    public void Validate_EverythingWrong_ListsEachProblemWithSettingAndValue()
    {
        var campaign = Campaign(DialingMode.Power) with
        {
            CallerId = "555-0100",
            TrunkPrefix = " ",
            DialPrefix = "9x",
            PowerRatio = 0.5,
            MaxConcurrentLines = 0,
            MaxAttempts = 0,
            RingTimeout = TimeSpan.FromSeconds(10),
            AbandonMessage = null,
            Deadline = Monday10Utc.AddDays(-2),
            Retry = new RetryDelays { Busy = TimeSpan.FromMinutes(-1) },
        };

        var errors = campaign.Validate();

        Assert.Contains(errors, e => e.Contains("CallerId '555-0100'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("TrunkPrefix", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("DialPrefix '9x'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("PowerRatio", StringComparison.Ordinal) && e.Contains("0.5", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxConcurrentLines", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxAttempts", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("RingTimeout 10 s", StringComparison.Ordinal) && e.Contains("15 s", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("AbandonMessage", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Deadline", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Retry.Busy", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.StartsWith("campaign 'spring-sale': ", e, StringComparison.Ordinal));
        var thrown = Assert.Throws<DialerConfigurationException>(campaign.EnsureValid);
        Assert.Equal(errors, thrown.Errors);
    }

    [Fact]
    public void Validate_MessageOnlyBroadcastWithoutAgentGroup_IsFineButNeedsItsMessage()
    {
        var broadcast = Campaign(DialingMode.VoiceBroadcast) with { AgentGroup = "" };
        Assert.Empty(broadcast.Validate());
        Assert.Contains((broadcast with { BroadcastMessage = null }).Validate(), e => e.Contains("BroadcastMessage", StringComparison.Ordinal));
        Assert.Contains((broadcast with { Broadcast = BroadcastKind.MessageThenPressOne }).Validate(), e => e.Contains("AgentGroup", StringComparison.Ordinal));
    }

    [Fact]
    public void EndpointFor_E164Number_TrunkPrefixThenDialPrefixThenDigits() =>
        Assert.Equal("PJSIP/trunk1/912125550100", Campaign().EndpointFor("+12125550100"));

    [Fact]
    public void CallingWindows_NewYorkLeadAt7LocalOnMonday_ClosedUntil8()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var sevenLocal = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

        Assert.False(CallingWindows.UsFederalDefault.IsOpen(sevenLocal, zone));
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 13, 0, 0, TimeSpan.Zero), CallingWindows.UsFederalDefault.NextOpening(sevenLocal, zone));
        Assert.True(CallingWindows.UsFederalDefault.IsOpen(sevenLocal.AddHours(1), zone));
    }

    [Fact]
    public void CallingWindows_WeekdaysOnly_SaturdayNextOpeningIsMonday()
    {
        var weekdays = new CallingWindows(new Dictionary<DayOfWeek, IReadOnlyList<CallingSpan>>
        {
            [DayOfWeek.Monday] = [new(new TimeOnly(9, 0), new TimeOnly(12, 0)), new(new TimeOnly(13, 0), new TimeOnly(18, 0))],
            [DayOfWeek.Friday] = [new(new TimeOnly(9, 0), new TimeOnly(17, 0))],
        });
        var shanghai = TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai");
        var saturdayNoon = new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.FromHours(8));
        var mondayLunch = new DateTimeOffset(2026, 12, 7, 12, 30, 0, TimeSpan.FromHours(8));

        Assert.Equal(new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.FromHours(8)), weekdays.NextOpening(saturdayNoon, shanghai));
        Assert.False(weekdays.IsOpen(mondayLunch, shanghai));
        Assert.Equal(mondayLunch.AddMinutes(30), weekdays.NextOpening(mondayLunch, shanghai));
    }

    [Fact]
    public void LeadTimeZones_LeadFieldThenLongestPrefixThenDefault()
    {
        var zones = Zones();

        Assert.Equal("Asia/Shanghai", zones.ZoneOf(Lead(1, "+8613800138000"))!.Id);
        Assert.Equal("America/Los_Angeles", zones.ZoneOf(Lead(1, "+14155550100"))!.Id);
        Assert.Equal("America/New_York", zones.ZoneOf(Lead(1, "+33155550100"))!.Id);
        Assert.Equal("Europe/Paris", zones.ZoneOf(Lead(1, "+33155550100") with { TimeZoneId = "Europe/Paris" })!.Id);
        Assert.Null(zones.ZoneOf(Lead(1) with { TimeZoneId = "Mars/Olympus" }));
    }

    [Fact]
    public void LeadTimeZones_BadPrefixOrZone_ErrorNamesEachEntry()
    {
        var error = Assert.Throws<DialerConfigurationException>(() => new LeadTimeZones(
            new Dictionary<string, string> { ["1212"] = "America/New_York", ["+44"] = "Europe/Londres" }, "Nowhere/Land"));

        Assert.Equal(3, error.Errors.Count);
        Assert.Contains(error.Errors, e => e.Contains("'1212'", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Contains("'Europe/Londres'", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Contains("'Nowhere/Land'", StringComparison.Ordinal));
    }

    [Fact]
    public void AfterAttempt_BusyThenRetries_NextAttemptAfterBusyDelayUntilAttemptsRunOut()
    {
        var campaign = Campaign() with { MaxAttempts = 2 };
        var lead = Lead(1);

        var first = LeadRetryPolicy.AfterAttempt(campaign, lead, CallOutcome.Busy, Monday10Utc);
        Assert.Equal(LeadStatus.Open, first.Status);
        Assert.Equal(Monday10Utc + campaign.Retry.Busy, first.NextAttemptAt);
        Assert.False(first.IsDue(Monday10Utc.AddMinutes(5)));
        Assert.True(first.IsDue(Monday10Utc.AddMinutes(10)));

        var second = LeadRetryPolicy.AfterAttempt(campaign, first, CallOutcome.NoAnswer, Monday10Utc.AddMinutes(10));
        Assert.Equal(LeadStatus.AttemptsExhausted, second.Status);
        Assert.Equal(2, second.Attempts);
    }

    [Theory]
    [InlineData(CallOutcome.NoAnswer, 60)]
    [InlineData(CallOutcome.Congestion, 5)]
    [InlineData(CallOutcome.LostReply, 5)]
    [InlineData(CallOutcome.Machine, 120)]
    [InlineData(CallOutcome.Rejected, 240)]
    public void AfterAttempt_UnreachedOutcome_RetriedAfterItsOwnDelay(CallOutcome outcome, int minutes)
    {
        var next = LeadRetryPolicy.AfterAttempt(Campaign(), Lead(1), outcome, Monday10Utc);
        Assert.Equal(Monday10Utc.AddMinutes(minutes), next.NextAttemptAt);
    }

    [Fact]
    public void AfterAttempt_InvalidNumber_MarkedAndNeverDueAgain()
    {
        var next = LeadRetryPolicy.AfterAttempt(Campaign(), Lead(1), CallOutcome.InvalidNumber, Monday10Utc);
        Assert.Equal(LeadStatus.InvalidNumber, next.Status);
        Assert.False(next.IsDue(Monday10Utc.AddYears(1)));
    }

    [Fact]
    public void AfterAttempt_PersonReached_LeadClosed_ButAbandonedPersonIsCalledAgain()
    {
        Assert.Equal(LeadStatus.Reached, LeadRetryPolicy.AfterAttempt(Campaign(), Lead(1), CallOutcome.HumanAnswer, Monday10Utc).Status);
        var abandoned = LeadRetryPolicy.AfterAttempt(Campaign(), Lead(1), CallOutcome.HumanAnswer, Monday10Utc, abandoned: true);
        Assert.Equal(LeadStatus.Open, abandoned.Status);
        Assert.Equal(Monday10Utc + Campaign().Retry.Abandoned, abandoned.NextAttemptAt);
    }

    [Fact]
    public void AfterAttempt_MachineWithLeaveMessage_LeadClosed()
    {
        var campaign = Campaign() with { Machines = MachineHandling.LeaveMessage, MachineMessage = "acme-vm" };
        Assert.Equal(LeadStatus.Reached, LeadRetryPolicy.AfterAttempt(campaign, Lead(1), CallOutcome.Machine, Monday10Utc).Status);
    }
}
