using CtiBridge.Core.Dialer;
using static CtiBridge.Core.Tests.Dialer.DialerTestKit;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>
/// <see cref="CampaignDialer.Adopt"/>: a call another dialer instance placed and died with is followed by this
/// one to exactly one end, with the ledger counting its live answer once (issue 14).
/// </summary>
public sealed class CampaignDialerAdoptTests
{
    private static readonly DateTimeOffset Now = Monday10Utc;

    [Fact]
    public void Adopt_Ringing_EndsOnceWithItsOutcome_TheLeadCountsOneAttempt()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var call = dialer.Adopt("dead-1", Lead(1), Now.AddSeconds(-3), null, null, null, answerInLedger: false, abandonedInLedger: false);

        Assert.Equal(DialedCallState.Ringing, call.State);
        Assert.Empty(dialer.Plan(Now, Ready(1), [Lead(1)], NoDnc).Orders); // its lead is in a call: never dialled twice
        var result = dialer.OnCallEnded("dead-1", Now, CallOutcome.Busy);

        Assert.Equal((CallOutcome.Busy, 1), (result.Outcome, result.UpdatedLead.Attempts));
        Assert.Null(dialer.Find("dead-1"));
        Assert.Throws<KeyNotFoundException>(() => dialer.OnCallEnded("dead-1", Now, CallOutcome.Busy));
    }

    [Fact]
    public void Adopt_PersonAnsweredNoAgent_WaitsUnderTheConnectDeadlineFromTheRealAnswer_AbandonCountedOnceWithTheMessage()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var answered = Now.AddSeconds(-1.5);
        dialer.Adopt("dead-2", Lead(2), Now.AddSeconds(-5), answered, CallOutcome.HumanAnswer, null, answerInLedger: false, abandonedInLedger: false);

        Assert.Equal(DialedCallState.WaitingForAgent, dialer.Find("dead-2")!.State);
        Assert.Equal(answered + dialer.Campaign.Policy.ConnectDeadline, dialer.ConnectDeadlineOf("dead-2"));
        dialer.OnAbandoned("dead-2", Now.AddSeconds(1), messagePlayed: true);
        var result = dialer.OnCallEnded("dead-2", Now.AddSeconds(3));

        Assert.True(result.Call.Abandoned);
        Assert.Equal(1, dialer.Ledger.Entries.Count(e => e.CallId == "dead-2" && e.Kind == LedgerEntryKind.Abandoned));
        Assert.Equal(1, dialer.Ledger.Entries.Count(e => e.CallId == "dead-2" && e.Kind == LedgerEntryKind.MessagePlayed));
    }

    [Fact]
    public void Adopt_PersonAnsweredNoAgent_PutThroughInTime_IsALiveAnswerConnected()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        dialer.Adopt("dead-3", Lead(3), Now.AddSeconds(-5), Now.AddSeconds(-1), CallOutcome.HumanAnswer, null, answerInLedger: false, abandonedInLedger: false);

        Assert.True(dialer.OnAgentConnected("dead-3", Now));
        var entry = Assert.Single(dialer.Ledger.Entries, e => e.CallId == "dead-3");
        Assert.Equal((LedgerEntryKind.LiveAnswerConnected, (TimeSpan?)TimeSpan.FromSeconds(1)), (entry.Kind, entry.ConnectDelay));
    }

    [Fact]
    public void Adopt_ConversationWhoseAnswerTheDeadInstanceNeverStoredInTheLedger_IsCountedOnce_AndEndsAsReached()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        var call = dialer.Adopt("dead-4", Lead(4), Now.AddSeconds(-30), Now.AddSeconds(-20), CallOutcome.HumanAnswer, Now.AddSeconds(-19.5), answerInLedger: false, abandonedInLedger: false);

        Assert.Equal(DialedCallState.Connected, call.State);
        var result = dialer.OnCallEnded("dead-4", Now);

        Assert.Equal((CallOutcome.HumanAnswer, LeadStatus.Reached), (result.Outcome, result.UpdatedLead.Status));
        Assert.Equal(LedgerEntryKind.LiveAnswerConnected, Assert.Single(dialer.Ledger.Entries, e => e.CallId == "dead-4").Kind);
    }

    [Fact]
    public void Adopt_AnswerAlreadyInTheStoredLedger_IsNotCountedAgain()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        dialer.Adopt("dead-5", Lead(5), Now.AddSeconds(-30), Now.AddSeconds(-20), CallOutcome.HumanAnswer, Now.AddSeconds(-19.5), answerInLedger: true, abandonedInLedger: false);
        dialer.Adopt("dead-6", Lead(6), Now.AddSeconds(-30), Now.AddSeconds(-5), CallOutcome.HumanAnswer, null, answerInLedger: true, abandonedInLedger: true);

        Assert.Equal(DialedCallState.Connected, dialer.Find("dead-6")!.State); // its abandon message was playing
        dialer.OnCallEnded("dead-5", Now);
        var abandoned = dialer.OnCallEnded("dead-6", Now);

        Assert.True(abandoned.Call.Abandoned);
        Assert.DoesNotContain(dialer.Ledger.Entries, e => e.CallId is "dead-5" or "dead-6" && e.Kind is LedgerEntryKind.LiveAnswerConnected or LedgerEntryKind.Abandoned);
    }

    [Fact]
    public void Adopt_ACallWhoseLeadOrNumberIsAlreadyInACall_IsRefusedWithTheReason()
    {
        var dialer = new CampaignDialer(Campaign(DialingMode.Progressive), Zones());
        dialer.Adopt("dead-7", Lead(7), Now, null, null, null, answerInLedger: false, abandonedInLedger: false);

        var ex = Assert.Throws<InvalidOperationException>(() => dialer.Adopt("dead-8", Lead(7), Now, null, null, null, answerInLedger: false, abandonedInLedger: false));
        Assert.Contains("dead-8", ex.Message, StringComparison.Ordinal);
    }
}
