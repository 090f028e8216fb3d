using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Desk-phone feature codes end to end: the agent dials <c>*9X</c> on a PbxSim phone, the dialplan
/// sends it into the Stasis app, CtiBridge prompts, reads the keys and changes the agent's state.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class FeatureCodeTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CallQueueSettings Queue() => new()
    {
        Name = "support", RingTimeout = TimeSpan.FromSeconds(5), RetryAfterNoAnswer = TimeSpan.FromSeconds(30), WrapUp = TimeSpan.FromSeconds(30), MusicOnHold = "default",
    };

    [Fact]
    public async Task DeskPhone_LoginWithIdAndPin_PauseWithReasonDigit_Resume_EndWrapUp_Logout()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        var phone = rig.Pbx.Phone("1001");

        // *90: agent ID then PIN, each ended with #; the agent is logged in at this phone.
        var login = phone.Dial("*90");
        await rig.PbxEvents.WaitAsync("Newstate", login, ct, e => e["ChannelStateDesc"] == "Up");
        phone.PressDigits("2001#");
        await rig.PbxEvents.WaitAsync("DTMFEnd", login, ct, e => e["Digit"] == "#"); // keys are 250 ms apart
        phone.PressDigits(CallCenterRig.Pin + "#");
        await rig.AgentWentAsync("2001", AgentState.LoggedOut, AgentState.Ready, ct);
        await rig.PbxEvents.WaitAsync("Hangup", login, ct);
        Assert.Equal("PJSIP/1001", (await rig.Center.GetAgentAsync("2001", ct))!.Extension);

        // *922: pause with reason digit 2 (meal) in the code itself.
        var pause = phone.Dial("*922");
        await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, ct);
        await rig.PbxEvents.WaitAsync("Hangup", pause, ct);
        Assert.Equal("meal", (await rig.Center.GetAgentAsync("2001", ct))!.PauseReason);

        // *93: resume.
        var resume = phone.Dial("*93");
        await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, ct);
        await rig.PbxEvents.WaitAsync("Hangup", resume, ct);

        // *92 then the reason digit at the prompt.
        var asked = phone.Dial("*92");
        await rig.PbxEvents.WaitAsync("Newstate", asked, ct, e => e["ChannelStateDesc"] == "Up");
        phone.PressDigits("1");
        await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, ct, nth: 2);
        Assert.Equal("break", (await rig.Center.GetAgentAsync("2001", ct))!.PauseReason);
        await rig.PbxEvents.WaitAsync("Hangup", asked, ct);
        resume = phone.Dial("*93");
        await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, ct, nth: 2);
        await rig.PbxEvents.WaitAsync("Hangup", resume, ct); // the phone is free for the next call

        // A call, then *94 ends the 30 s wrap-up at once.
        phone.AnswersAfter(TimeSpan.FromMilliseconds(200));
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane");
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        var endWrapUp = phone.Dial("*94");
        var ready = await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        Assert.Equal("wrap-up ended by agent", ready.Reason);
        await rig.PbxEvents.WaitAsync("Hangup", endWrapUp, ct);

        // *91: log out.
        phone.Dial("*91");
        await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.LoggedOut, ct);
    }

    [Fact]
    public async Task DeskPhoneLogin_WrongPinThreeTimes_IsRefusedAndTheCallEnds()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct);
        var phone = rig.Pbx.Phone("1001");
        var login = phone.Dial("*90");
        await rig.PbxEvents.WaitAsync("Newstate", login, ct, e => e["ChannelStateDesc"] == "Up");
        phone.PressDigits("2001#");
        for (var i = 1; i <= 3; i++)
        {
            await rig.PbxEvents.WaitAsync("DTMFEnd", login, ct, e => e["Digit"] == "#", nth: i);
            phone.PressDigits("0000#");
            await rig.AcdEvents.WaitForAsync<AgentLoginRefused>(e => e.Refusal == LoginRefusal.WrongPin, $"wrong PIN {i}", ct, nth: i);
        }

        await rig.PbxEvents.WaitAsync("Hangup", login, ct);
        Assert.Equal(3, rig.AcdEvents.Snapshot().OfType<AgentLoginRefused>().Count());
        Assert.Equal(AgentState.LoggedOut, (await rig.Center.GetAgentAsync("2001", ct))!.State);

        // An unknown code and a pause from a phone with nobody logged in are refused, the phone released.
        var unknown = phone.Dial("*99");
        await rig.PbxEvents.WaitAsync("Hangup", unknown, ct);
        var pause = phone.Dial("*921");
        await rig.PbxEvents.WaitAsync("Hangup", pause, ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is AgentStateChanged);
    }

    [Fact]
    public async Task MissedCallsCode_SaysHowManyCallsRangTheAgentTodayUnanswered()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct,
            sounds: new Dictionary<string, double> { ["ctibridge-missed-calls"] = 30 });
        var phone = rig.Pbx.Phone("1001").Rejects(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", ct);

        // The phone rejects the call once: one missed call (the call then waits; the caller gives up).
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane");
        await rig.AcdEvents.WaitForAsync<CallOfferEnded>(e => e.AgentId == "2001" && e.End == OfferEnd.Declined, "the offer declined", ct);
        rig.Trunk.HangUp(caller);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);

        var missed = phone.Dial("*96");
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (rig.Pbx.MediaPlayedOn(missed).Count == 0)
        {
            Assert.True(DateTime.UtcNow < until, "nothing was played on the *96 call within 15 s");
            await Task.Delay(20, ct);
        }

        Assert.Equal(["sound:vm-youhave,number:1,sound:ctibridge-missed-calls"], rig.Pbx.MediaPlayedOn(missed));
        phone.Hangup();
    }

    [Fact]
    public async Task PickUpCode_TakesTheCallRingingAnotherAgentOfTheQueue_TheRungAgentIsReadyWithoutAMiss_AndThePickerIsRecorded()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.RingTimeout = TimeSpan.FromSeconds(60); // the first agent's phone rings on, unanswered, until picked up
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], ct,
            sounds: new Dictionary<string, double> { ["ctibridge-nothing-to-pick-up"] = 30 });
        var rungPhone = rig.Pbx.Phone("1001").NeverAnswers(); // registered; it rings and nobody answers (PbxSim's default answers after 1 s)
        var pickerPhone = rig.Pbx.Phone("1002");
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane");
        var ring = await rig.PbxEvents.DialToAsync("1001", ct);
        var ringingLeg = ring["DestChannel"]!;
        await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Ringing, ct);

        // 2002 logs in with nothing waiting (ready), then dials *95 from the desk phone.
        await rig.LoginAsync("2002", ct);
        await rig.AgentWentAsync("2002", AgentState.LoggedOut, AgentState.Ready, ct);
        var picker = pickerPhone.Dial("*95");

        var picked = await rig.AcdEvents.WaitForAsync<CallPickedUp>(_ => true, "the call to be picked up", ct);
        Assert.Equal(("2002", "support", "2001"), (picked.AgentId, picked.Queue, string.Join(',', picked.RingingAgentIds)));
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.Ready, ct);
        await rig.AgentWentAsync("2002", AgentState.Ready, AgentState.OnCall, ct);
        await rig.PbxEvents.WaitAsync("Hangup", ringingLeg, ct); // the rung phone stops ringing

        // The caller and the picker's phone are in one bridge.
        var callerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var pickerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", picker, ct);
        Assert.Equal(callerInBridge["BridgeUniqueid"], pickerInBridge["BridgeUniqueid"]);
        var withdrawn = Assert.Single(rig.AcdEvents.Snapshot().OfType<CallOfferEnded>());
        Assert.Equal(("2001", OfferEnd.Withdrawn), (withdrawn.AgentId, withdrawn.End));
        var figures = (await rig.Center.GetAgentsAsync(ct)).ToDictionary(a => a.Status.AgentId, a => a.Statistics);
        Assert.Equal((0, 0), (figures["2001"].Missed, figures["2001"].Calls));
        Assert.Equal(1, figures["2002"].Calls);

        // The picker hangs up: the call completes with the picker, who wraps up; 2001 was never on it.
        pickerPhone.Hangup();
        await rig.AgentWentAsync("2002", AgentState.OnCall, AgentState.WrapUp, ct);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        Assert.Equal(CallDisposition.Answered, ended.Disposition);
        Assert.Equal("2002", Assert.Single(rig.AcdEvents.Snapshot().OfType<CallCompleted>()).AgentId);

        // Nothing ringing now: *95 says so and hangs up; nothing changes.
        // (The recording's end is noted a moment after the call ended: count only what *95 could change.)
        int Changes() => rig.AcdEvents.Snapshot().Count(e => e is AgentStateChanged or CallPickedUp or CallAnswered or CallOfferEnded);
        var before = Changes();
        var nothing = rungPhone.Dial("*95");
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (rig.Pbx.MediaPlayedOn(nothing).Count == 0)
        {
            Assert.True(DateTime.UtcNow < until, "nothing was played on the *95 call within 15 s");
            await Task.Delay(20, ct);
        }

        Assert.Equal(["sound:ctibridge-nothing-to-pick-up"], rig.Pbx.MediaPlayedOn(nothing));
        rungPhone.Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", nothing, ct);
        Assert.Equal(before, Changes());

        await rig.StopServiceAsync();
        var db = database.Database;
        var id = ended.CallId.Replace("'", "''", StringComparison.Ordinal);
        Assert.Equal("4008001|5551234|2002|t", await db.ScalarAsync<string>($"SELECT concat_ws('|', did, caller, agent_id, answered_at IS NOT NULL) FROM calls WHERE call_id = '{id}'", ct));
        Assert.Equal("support|answered|2002", await db.ScalarAsync<string>($"SELECT concat_ws('|', queue, outcome, agent_id) FROM queue_visits WHERE call_id = '{id}'", ct));
    }
}
