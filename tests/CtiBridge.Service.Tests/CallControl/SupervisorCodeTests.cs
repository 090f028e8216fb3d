using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A supervisor's forced changes from the desk phone, end to end against PbxSim and PostgreSQL:
/// <c>*85</c> force hang-up, <c>*86</c> force pause (reason digit), <c>*87</c> force resume,
/// <c>*88</c> force logout, the agent ID after the code or typed at the prompt, the supervisor PIN
/// asked each time; what the supervisor's phone heard, what happened to the agent and the call,
/// and the <c>audit_log</c> rows (like the API's).
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class SupervisorCodeTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CallQueueSettings Queue() => new()
    {
        Name = "support", RingTimeout = TimeSpan.FromSeconds(5), RetryAfterNoAnswer = TimeSpan.FromSeconds(30), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    private async Task<CallCenterRig> StartAsync(CancellationToken ct)
    {
        // The closing prompts play long, so what the phone heard can be read before the test hangs it up (PbxSim forgets a hung-up channel).
        var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, configure: c =>
            c.Supervisors.Add(new SupervisorSettings { Id = "9001", Extension = "PJSIP/1901", PinHash = CallCenterRig.PinHash }),
            sounds: new Dictionary<string, double> { ["beep"] = 30, ["invalid"] = 30, ["pbx-invalid"] = 30, ["vm-goodbye"] = 30, ["agent-loggedoff"] = 30 });
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        return rig;
    }

    /// <summary>The audit trail's last row ID before the test (the class shares one database).</summary>
    private Task<long> LastAuditIdAsync(CancellationToken ct) => database.Database.ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM audit_log", ct);

    /// <summary>The supervisor code's audit rows after <paramref name="after"/> (written off the call center's loop): waits up to 15 s for <paramref name="count"/> of them.</summary>
    private async Task<string> AuditAsync(long after, int count, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var rows = await database.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE actor = 'supervisor:9001' AND id > {after}", ct);
            if (rows >= count)
            {
                return await database.Database.ScalarAsync<string>(
                    $"SELECT string_agg(concat_ws('|', action, target, outcome, role, remote_address), ' ; ' ORDER BY id) FROM audit_log WHERE actor = 'supervisor:9001' AND id > {after}", ct);
            }

            Assert.True(DateTime.UtcNow < until, $"{rows} of {count} audit rows within 15 s");
            await Task.Delay(20, ct);
        }
    }

    /// <summary>
    /// What <paramref name="channel"/> was played (each play's media, in order), once it is <paramref name="expected"/>
    /// or after 15 s; then the phone hangs up.
    /// </summary>
    private static async Task<string> HeardThenHangUpAsync(CallCenterRig rig, string phone, string channel, string expected, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        string heard;
        while ((heard = string.Join(" ; ", rig.Pbx.MediaPlayedOn(channel))) != expected && DateTime.UtcNow < until)
        {
            await Task.Delay(20, ct);
        }

        rig.Pbx.Phone(phone).Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", channel, ct);
        return heard;
    }

    /// <summary><paramref name="phone"/> dials <paramref name="code"/>; returns its channel once the call center has answered it.</summary>
    private static async Task<string> DialCodeAsync(CallCenterRig rig, Phone phone, string code, CancellationToken ct)
    {
        var channel = phone.Dial(code);
        await rig.PbxEvents.WaitAsync("Newstate", channel, ct, e => e["ChannelStateDesc"] == "Up");
        return channel;
    }

    /// <summary><paramref name="phone"/> dials <paramref name="code"/> (the agent ID in it) and, once answered, types the right PIN.</summary>
    private static async Task<string> DialCodeWithPinAsync(CallCenterRig rig, Phone phone, string code, CancellationToken ct)
    {
        var channel = await DialCodeAsync(rig, phone, code, ct);
        phone.PressDigits(CallCenterRig.Pin + "#");
        return channel;
    }

    [Fact]
    public async Task ForceHangUpCode_WrongPinThenRight_BothSidesReleased_AgentWrapsUp_StoredAndAudited()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var audited = await LastAuditIdAsync(ct);
        var phone = rig.Pbx.Phone("1901");
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        var agent = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);

        // *852001: PIN asked; a wrong one is asked again, the right one cuts the call.
        var code = await DialCodeAsync(rig, phone, "*852001", ct);
        phone.PressDigits("0000#");
        await rig.PbxEvents.WaitAsync("DTMFEnd", code, ct, e => e["Digit"] == "#");
        phone.PressDigits(CallCenterRig.Pin + "#");
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.PbxEvents.WaitAsync("Hangup", agent, ct);
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        Assert.Equal("sound:agent-pass ; sound:agent-incorrect ; sound:beep", await HeardThenHangUpAsync(rig, "1901", code, "sound:agent-pass ; sound:agent-incorrect ; sound:beep", ct));

        // Again with nobody on a call: refused (the error tone), the agent left alone.
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        var again = await DialCodeWithPinAsync(rig, phone, "*852001", ct);
        Assert.Equal("sound:agent-pass ; sound:invalid", await HeardThenHangUpAsync(rig, "1901", again, "sound:agent-pass ; sound:invalid", ct));
        Assert.Equal(AgentState.Ready, (await rig.Center.GetAgentAsync("2001", ct))!.State);

        Assert.Equal("phone *85 force-hangup|2001|200|supervisor|PJSIP/1901 ; phone *85 force-hangup|2001|409|supervisor|PJSIP/1901", await AuditAsync(audited, 2, ct));
        await rig.StopServiceAsync();
        var callId = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId;
        Assert.Equal("answered|agent", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, released_by) FROM calls WHERE call_id = '{callId}'", ct));
    }

    [Fact]
    public async Task ForcePauseResumeLogoutCodes_AgentIdTypedAtThePrompt_RecordedAsTheSupervisorsAndAudited()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var audited = await LastAuditIdAsync(ct);
        var phone = rig.Pbx.Phone("1901");
        await rig.LoginAsync("2001", ct);

        // *86: agent ID at the prompt, the PIN, then the reason digit (2 = meal) at the beep.
        var pause = await DialCodeAsync(rig, phone, "*86", ct);
        phone.PressDigits("2001#");
        await rig.PbxEvents.WaitAsync("DTMFEnd", pause, ct, e => e["Digit"] == "#");
        phone.PressDigits(CallCenterRig.Pin + "#");
        await rig.PbxEvents.WaitAsync("DTMFEnd", pause, ct, e => e["Digit"] == "#", nth: 2);
        phone.PressDigits("2");
        var paused = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, ct);
        Assert.Equal(ChangeSource.Supervisor, paused.Source);
        Assert.Equal("meal", (await rig.Center.GetAgentAsync("2001", ct))!.PauseReason);
        Assert.Equal("sound:agent-user ; sound:agent-pass ; sound:beep ; sound:beep", await HeardThenHangUpAsync(rig, "1901", pause, "sound:agent-user ; sound:agent-pass ; sound:beep ; sound:beep", ct));

        // *872001: ready again.
        var resume = await DialCodeWithPinAsync(rig, phone, "*872001", ct);
        var ready = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, ct);
        Assert.Equal(ChangeSource.Supervisor, ready.Source);
        Assert.Equal("sound:agent-pass ; sound:beep", await HeardThenHangUpAsync(rig, "1901", resume, "sound:agent-pass ; sound:beep", ct));

        // *882001: logged out.
        var logout = await DialCodeWithPinAsync(rig, phone, "*882001", ct);
        var loggedOut = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.LoggedOut, ct);
        Assert.Equal(ChangeSource.Supervisor, loggedOut.Source);
        Assert.Equal("sound:agent-pass ; sound:agent-loggedoff", await HeardThenHangUpAsync(rig, "1901", logout, "sound:agent-pass ; sound:agent-loggedoff", ct));

        Assert.Equal(
            "phone *86 force-pause|2001|200|supervisor|PJSIP/1901 ; phone *87 force-resume|2001|200|supervisor|PJSIP/1901 ; phone *88 force-logout|2001|200|supervisor|PJSIP/1901",
            await AuditAsync(audited, 3, ct));
    }

    [Fact]
    public async Task ForceCodes_UnknownAgent_WrongPinThreeTimes_NotASupervisorsPhone_ClearPromptsAndNothingChanges()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        var audited = await LastAuditIdAsync(ct);
        var phone = rig.Pbx.Phone("1901");
        await rig.LoginAsync("2001", ct);

        // An agent ID that is no agent: "not a valid extension", audited as not found.
        var unknown = await DialCodeWithPinAsync(rig, phone, "*889999", ct);
        Assert.Equal("sound:agent-pass ; sound:pbx-invalid", await HeardThenHangUpAsync(rig, "1901", unknown, "sound:agent-pass ; sound:pbx-invalid", ct));

        // Three wrong PINs: asked again twice, then goodbye; audited as forbidden.
        var wrong = await DialCodeAsync(rig, phone, "*882001", ct);
        for (var i = 1; i <= 3; i++)
        {
            phone.PressDigits("0000#");
            await rig.PbxEvents.WaitAsync("DTMFEnd", wrong, ct, e => e["Digit"] == "#", nth: i);
        }

        Assert.Equal("sound:agent-pass ; sound:agent-incorrect ; sound:agent-incorrect ; sound:agent-incorrect,sound:vm-goodbye", await HeardThenHangUpAsync(rig, "1901", wrong, "sound:agent-pass ; sound:agent-incorrect ; sound:agent-incorrect ; sound:agent-incorrect,sound:vm-goodbye", ct));

        // An agent's phone is no supervisor's: the error tone, no PIN asked.
        var intruder = rig.Pbx.Phone("1002").Dial("*882001");
        Assert.Equal("sound:invalid", await HeardThenHangUpAsync(rig, "1002", intruder, "sound:invalid", ct));

        Assert.Equal("phone *88 force-logout|9999|404|supervisor|PJSIP/1901 ; phone *88 force-logout|2001|403|supervisor|PJSIP/1901", await AuditAsync(audited, 2, ct));
        Assert.Equal(AgentState.Ready, (await rig.Center.GetAgentAsync("2001", ct))!.State);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is AgentStateChanged { To: AgentState.LoggedOut });
    }
}
