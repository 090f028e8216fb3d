using CtiBridge.Core.Dialer;
using static CtiBridge.Core.Tests.Dialer.DialerTestKit;

namespace CtiBridge.Core.Tests.Dialer;

public sealed class ComplianceLedgerTests
{
    private static readonly DateTimeOffset Start = Monday10Utc;

    [Fact]
    public void RecordedElsewhere_CountsInEveryRateAndTheHeadroom_ButIsNotExported()
    {
        var (dialer, call) = AnsweredCall(Start);
        dialer.OnAgentConnected(call.CallId, Start.AddSeconds(11));
        var ledger = dialer.Ledger;
        Assert.True(ledger.AbandonHeadroom(Start.AddSeconds(20)) < 1);

        // 99 live answers and 2 abandons stored by another instance (or before a restart), 60 and 1 of them in the window.
        ledger.SetRecordedElsewhere(new AbandonTally(99, 2), new AbandonTally(60, 1), Start.AddDays(-40));

        Assert.Equal(new AbandonTally(100, 2), ledger.CampaignToDate);
        Assert.Equal(new AbandonTally(61, 1), ledger.Rolling(Start.AddSeconds(20)));
        Assert.Equal(Start.AddDays(-40), ledger.CampaignStart);
        Assert.Equal(new AbandonTally(61, 1), ledger.Measured(Start.AddSeconds(20))); // older than 30 days: the rolling window
        Assert.Equal((0.03 * 61) - 1, ledger.AbandonHeadroom(Start.AddSeconds(20)), 9);
        Assert.Single(ledger.Entries);

        // Re-read figures replace the previous ones; a later first row does not move the start.
        ledger.SetRecordedElsewhere(new AbandonTally(10, 0), new AbandonTally(10, 0), Start.AddDays(-1));
        Assert.Equal(new AbandonTally(11, 0), ledger.CampaignToDate);
        Assert.Equal(Start.AddDays(-40), ledger.CampaignStart);
    }

    [Fact]
    public void RecordedElsewhere_InconsistentTallies_Refused()
    {
        var (dialer, _) = AnsweredCall(Start);

        Assert.Throws<ArgumentException>(() => dialer.Ledger.SetRecordedElsewhere(new AbandonTally(5, 6), new AbandonTally(0, 0), null));
        Assert.Throws<ArgumentException>(() => dialer.Ledger.SetRecordedElsewhere(new AbandonTally(5, 0), new AbandonTally(6, 0), null));
    }

    [Fact]
    public void RecordedElsewhere_OverTheLimit_PowerFallsBackToProgressive()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Power), Zones());

        // A new campaign has no room for an abandon: progressive. With the stored history it has.
        Assert.Equal(DialingMode.Progressive, dialer.Plan(Start, Ready(2), [], NoDnc).EffectiveMode);
        dialer.Ledger.SetRecordedElsewhere(new AbandonTally(100, 1), new AbandonTally(100, 1), Start.AddDays(-1));
        Assert.Equal(DialingMode.Power, dialer.Plan(Start, Ready(2), [], NoDnc).EffectiveMode);

        dialer.Ledger.SetRecordedElsewhere(new AbandonTally(100, 4), new AbandonTally(100, 4), Start.AddDays(-1));

        Assert.Equal(DialingMode.Progressive, dialer.Plan(Start.AddSeconds(1), Ready(2), [], NoDnc).EffectiveMode);
    }

    [Fact]
    public void RecordLiveAnswer_AgentWithin2Seconds_ConnectedNotAbandoned()
    {
        var (dialer, call) = AnsweredCall(Start);

        Assert.True(dialer.OnAgentConnected(call.CallId, Start.AddSeconds(12)));

        var row = Assert.Single(dialer.Ledger.Entries);
        Assert.Equal(LedgerEntryKind.LiveAnswerConnected, row.Kind);
        Assert.Equal(TimeSpan.FromSeconds(2), row.ConnectDelay);
        Assert.Equal(TimeSpan.FromSeconds(10), row.RingTime);
        Assert.Equal(new AbandonTally(1, 0), dialer.Ledger.CampaignToDate);
    }

    [Fact]
    public void RecordLiveAnswer_AgentAfter2Seconds_CountsAsAbandonedWithItsDelay()
    {
        var (dialer, call) = AnsweredCall(Start);

        Assert.False(dialer.OnAgentConnected(call.CallId, Start.AddSeconds(12.5)));

        var row = Assert.Single(dialer.Ledger.Entries);
        Assert.Equal(LedgerEntryKind.Abandoned, row.Kind);
        Assert.Equal(TimeSpan.FromSeconds(2.5), row.ConnectDelay);
        Assert.Equal(new AbandonTally(1, 1), dialer.Ledger.CampaignToDate);
    }

    [Fact]
    public void OnAbandoned_NoAgent_AbandonAndMessageBothRecorded_LeadRetriedLater()
    {
        var (dialer, call) = AnsweredCall(Start);

        dialer.OnAbandoned(call.CallId, Start.AddSeconds(12), messagePlayed: true);
        var result = dialer.OnCallEnded(call.CallId, Start.AddSeconds(20));

        Assert.Collection(dialer.Ledger.Entries,
            e => Assert.Equal((LedgerEntryKind.Abandoned, (TimeSpan?)null), (e.Kind, e.ConnectDelay)),
            e => Assert.Equal((LedgerEntryKind.MessagePlayed, "acme-abandon"), (e.Kind, e.Message)));
        Assert.Equal(LeadStatus.Open, result.UpdatedLead.Status);
        Assert.NotNull(result.UpdatedLead.NextAttemptAt);
    }

    [Fact]
    public void OnCallEnded_PersonHangsUpBeforeAnyAgent_CountsAsAbandoned()
    {
        var (dialer, call) = AnsweredCall(Start);

        dialer.OnCallEnded(call.CallId, Start.AddSeconds(11));

        Assert.Equal(new AbandonTally(1, 1), dialer.Ledger.CampaignToDate);
    }

    [Fact]
    public void RecordUnanswered_NoAnswer_RingTimeKept()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var call = dialer.Plan(Start, Ready(1), Leads(1), NoDnc).Orders[0].Call;

        dialer.OnCallEnded(call.CallId, Start.AddSeconds(26), CallOutcome.NoAnswer);

        var row = Assert.Single(dialer.Ledger.Entries);
        Assert.Equal((LedgerEntryKind.Unanswered, TimeSpan.FromSeconds(26), CallOutcome.NoAnswer), (row.Kind, row.RingTime, row.Outcome));
    }

    [Fact]
    public void RecordUnanswered_NoAnswerGivenUpBefore15Seconds_CountedAsShortRing()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var calls = dialer.Plan(Start, Ready(3), Leads(3), NoDnc).Orders.Select(o => o.Call).ToList();

        dialer.OnCallEnded(calls[0].CallId, Start.AddSeconds(4), CallOutcome.Busy);
        dialer.OnCallEnded(calls[1].CallId, Start.AddSeconds(15), CallOutcome.NoAnswer);
        dialer.OnCallEnded(calls[2].CallId, Start.AddSeconds(12), CallOutcome.NoAnswer);

        Assert.Equal(1, dialer.Ledger.ShortRings);
    }

    [Fact]
    public void Measured_CampaignWithoutStart_MeasuredFromItsFirstCall()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive) with { Start = DateTimeOffset.MinValue }, Zones());
        Assert.Null(dialer.Ledger.CampaignStart);

        var call = dialer.Plan(Start, Ready(1), Leads(1), NoDnc).Orders[0].Call;
        dialer.OnCallEnded(call.CallId, Start.AddSeconds(20), CallOutcome.NoAnswer);

        Assert.Equal(Start.AddSeconds(20), dialer.Ledger.CampaignStart);
    }

    [Fact]
    public void Measured_YoungCampaign_CampaignToDate_OlderCampaign_Rolling30Days()
    {
        var ledger = new ComplianceLedger("c", CompliancePolicy.UsTelemarketingSalesRule, Start);
        var call = new CampaignDialer(Campaign(DialingMode.Progressive), Zones()).Plan(Start, Ready(1), Leads(1), NoDnc).Orders[0].Call;
        for (var i = 0; i < 10; i++)
        {
            ledger.RecordLiveAnswer(call, Start.AddDays(i), null, TimeSpan.FromSeconds(5)); // 10 abandons in the first 10 days
        }

        Assert.Equal(new AbandonTally(10, 10), ledger.Measured(Start.AddDays(20)));

        for (var i = 0; i < 90; i++)
        {
            ledger.RecordLiveAnswer(call, Start.AddDays(40).AddMinutes(i), Start.AddDays(40).AddMinutes(i).AddSeconds(1), TimeSpan.FromSeconds(5));
        }

        Assert.Equal(new AbandonTally(100, 10), ledger.CampaignToDate);
        Assert.Equal(new AbandonTally(90, 0), ledger.Measured(Start.AddDays(41)));
        Assert.Equal(0, ledger.Rolling(Start.AddDays(41)).Rate);
    }

    [Fact]
    public void AbandonHeadroom_ThreePercentOf100LiveAnswers_AllowsThreeAbandons()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive, lines: 200), Zones());
        var calls = dialer.Plan(Start, Ready(100), Leads(100), NoDnc).Orders.Select(o => o.Call).ToList();
        var at = Start.AddSeconds(10);
        foreach (var call in calls)
        {
            dialer.OnAnswered(call.CallId, at, CallOutcome.HumanAnswer);
            dialer.OnAgentConnected(call.CallId, at);
        }

        Assert.Equal(3.0, dialer.Ledger.AbandonHeadroom(at), 6);
    }

    [Fact]
    public void ToCsv_EveryRowWithHeaderAndInvariantNumbers()
    {
        var (dialer, call) = AnsweredCall(Start);
        dialer.OnAgentConnected(call.CallId, Start.AddSeconds(11.25));

        var csv = dialer.Ledger.ToCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("campaign,at_utc,kind,call_id,lead_id,phone_number,connect_delay_s,ring_time_s,message,outcome,policy", csv[0]);
        Assert.Equal("spring-sale,2026-11-30T15:00:10.000Z,LiveAnswerConnected,spring-sale-1,lead-0,+12125550000,1.250,10.000,,HumanAnswer,US-TSR", csv[1]);
    }

    [Fact]
    public void Policy_UkProfile_MachineFalsePositiveCountsAsAbandon()
    {
        var campaign = Campaign(DialingMode.Progressive) with { Policy = CompliancePolicy.UkOfcom };
        var dialer = new CampaignDialer(campaign, Zones());
        var call = dialer.Plan(Start, Ready(1), Leads(1), NoDnc).Orders[0].Call;

        dialer.Ledger.RecordMachineAnswer(call, Start.AddSeconds(5), TimeSpan.FromSeconds(5), confirmedPerson: true);

        Assert.Equal(new AbandonTally(1, 1), dialer.Ledger.CampaignToDate);
        Assert.Equal(TimeSpan.FromHours(24), dialer.Ledger.Policy.AbandonWindow);
    }

    private static (CampaignDialer Dialer, DialedCall Call) AnsweredCall(DateTimeOffset start)
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var call = dialer.Plan(start, Ready(1), Leads(1), NoDnc).Orders[0].Call;
        dialer.OnAnswered(call.CallId, start.AddSeconds(10), CallOutcome.HumanAnswer);
        return (dialer, call);
    }
}
