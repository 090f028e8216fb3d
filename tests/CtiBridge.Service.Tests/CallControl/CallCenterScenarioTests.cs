using CtiBridge.Core.Acd;
using CtiBridge.Data.Customers;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Issue 8's test scenarios that no other class runs whole, end to end against PbxSim and
/// PostgreSQL: the full path of one call (IVR → queue → agent → talk → hang-up → wrap-up → survey),
/// a VIP jumping the line and a returning caller getting the agent who served them last (sticky),
/// all agents busy → announcements → overflow to a mobile, and the agent-ID announcement. Each
/// asserts what the caller and agent experienced on PbxSim and what was stored. Real clock,
/// short prompts, every wait bounded.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CallCenterScenarioTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal)
    {
        ["welcome"] = 1, ["ctibridge-survey"] = 0.5, ["auth-thankyou"] = 0.3, ["agent-newlocation"] = 0.6,
        ["queue-youarenext"] = 0.4, ["queue-thereare"] = 0.4, ["queue-callswaiting"] = 0.4, ["queue-holdtime"] = 0.4,
        ["queue-minutes"] = 0.3, ["queue-less-than"] = 0.3, ["queue-minute"] = 0.3,
    };

    private static CallQueueSettings Queue() => new()
    {
        Name = "support", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), RetryAfterNoAnswer = TimeSpan.FromSeconds(30),
    };

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    [Fact]
    public async Task IvrQueueAgentTalkHangUpWrapUpSurvey_OneCallRowWithItsStepsRecordingAndScore()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.Survey = new SurveySettings { Prompt = "ctibridge-survey", ThanksPrompt = "auth-thankyou", Timeout = TimeSpan.FromMinutes(5) };
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, cc =>
        {
            cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
            cc.Ivr = new IvrSettings
            {
                Plans =
                [
                    new IvrPlanSettings
                    {
                        Name = "main", Start = "welcome",
                        Nodes =
                        [
                            new IvrNodeSettings { Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "support" }] },
                            new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" },
                        ],
                    },
                ],
            };
        }, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        // IVR: the caller presses 1 in the menu and enters the queue; the agent's phone rings with the queue's name.
        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        rig.Trunk.PressDigits(caller, "1");
        var dial = await rig.PbxEvents.DialToAsync("1001", ct);
        Assert.Equal("[support] Jane Customer", dial["DestCallerIDName"]);

        // Talk: caller and agent in one bridge.
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var agentIn = await rig.PbxEvents.WaitAsync("BridgeEnter", dial["DestChannel"]!, ct);
        Assert.Equal(callerIn["BridgeUniqueid"], agentIn["BridgeUniqueid"]);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);

        // The agent hangs up: wrap-up; the caller, still on the line, leaves the bridge for the survey and presses 8.
        rig.Pbx.Phone("1001").Hangup();
        await rig.AgentWentAsync("2001", AgentState.OnCall, AgentState.WrapUp, ct);
        await rig.PbxEvents.WaitAsync("BridgeLeave", caller, ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && e["Channel"] == caller);
        rig.Trunk.PressDigits(caller, "8");
        var answer = await rig.AcdEvents.WaitForAsync<SurveyAnswered>(_ => true, "the survey answer", ct);
        Assert.Equal((8, "2001", "support"), (answer.Score, answer.AgentId, answer.Queue));

        // The thanks prompt, then the caller is released; the wrap-up ends and the agent is ready.
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        var callId = Q(answer.CallId);
        Assert.Equal("1|answered|agent|4008001|2001|8|t", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', (SELECT count(*) FROM calls WHERE caller = '5551234'), disposition, released_by, did, agent_id, survey_score, recording_id IS NOT NULL) FROM calls WHERE call_id = '{callId}'", ct));
        Assert.Equal("main/welcome main/support:1", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws(':', node, input), ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{callId}'", ct));
        Assert.Equal("1|t", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', count(*), bool_and(ended_at IS NOT NULL)) FROM recordings WHERE call_id = '{callId}'", ct));
        Assert.Equal("satisfaction|8", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', question, score) FROM survey_answers WHERE call_id = '{callId}'", ct));
    }

    [Fact]
    public async Task VipJumpsTheLine_AndAReturningCallerGetsTheAgentWhoServedThemLast_NotTheLongestIdle()
    {
        var ct = TestContext.Current.CancellationToken;
        var customers = new CustomerStore(database.Database.DataSource);
        await customers.PutAsync(new Customer("5557777", "C-7777", Vip: true), ct);
        var queue = Queue();
        queue.Strategy = "sticky";
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001"), ("2002", "1002")], ct,
            cc => cc.CustomerLookup = new CustomerLookupSettings { Source = "database", Timeout = TimeSpan.FromSeconds(2) }, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));

        // Nobody is logged in: an ordinary caller waits, then a VIP calls.
        var ordinary = rig.Trunk.CallIn("4008001", "5551000", "Early Eve");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the ordinary caller to queue", ct);
        var vip = rig.Trunk.CallIn("4008001", "5557777", "Big Boss");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the VIP to queue", ct, nth: 2);

        // The first agent takes the VIP although the ordinary caller waited longer.
        await rig.LoginAsync("2001", ct);
        var first = await rig.PbxEvents.DialToAsync("1001", ct);
        Assert.Equal("[support] Big Boss", first["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", vip, ct);

        // The second agent takes the ordinary caller: each caller's last agent is now known.
        await rig.LoginAsync("2002", ct);
        Assert.Equal("[support] Early Eve", (await rig.PbxEvents.DialToAsync("1002", ct))["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", ordinary, ct);

        // 2001's call ends first, so 2001 is the longest idle when both are ready again.
        rig.Trunk.HangUp(vip);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        rig.Trunk.HangUp(ordinary);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct);

        // The ordinary caller calls again: sticky rings 2002, who served them, not 2001 who has been idle longer.
        var again = rig.Trunk.CallIn("4008001", "5551000", "Early Eve");
        var back = await rig.AcdEvents.WaitForAsync<CallOffered>(_ => true, "the returning caller's offer", ct, nth: 3);
        Assert.Equal("2002", back.AgentId);
        await rig.PbxEvents.DialToAsync("1002", ct, nth: 2);
        await rig.PbxEvents.WaitAsync("BridgeEnter", again, ct);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1001-", StringComparison.Ordinal)));
        rig.Trunk.HangUp(again);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);
        await rig.StopServiceAsync();

        Assert.Equal("5557777:2001 5551000:2002 5551000:2002", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(concat_ws(':', caller, agent_id), ' ' ORDER BY answered_at) FROM calls WHERE caller IN ('5551000', '5557777')", ct));
    }

    [Fact]
    public async Task AllAgentsBusy_TheWaitingCallerHearsItsPlaceOverTheMusic_ThenOverflowsToAMobile()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.AnnouncePosition = true;
        queue.AnnouncementPeriod = TimeSpan.FromMinutes(5);
        queue.Overflow = [new QueueOverflowSettings { When = "waitExceeded", After = TimeSpan.FromSeconds(3), Target = "number:13800001111" }];
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, configure: null, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3 };
        await rig.LoginAsync("2001", ct);

        // The only agent is busy with a first caller.
        var talking = rig.Trunk.CallIn("4008001", "5552001", "First Fay");
        await rig.PbxEvents.WaitAsync("BridgeEnter", talking, ct);

        // The second caller waits: music, a break in it for the place in line, the music again.
        var waiting = rig.Trunk.CallIn("4008001", "5552002", "Second Sid");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", waiting, ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", waiting, ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", waiting, ct, nth: 2);
        Assert.StartsWith("sound:queue-youarenext", Assert.Single(rig.Pbx.MediaPlayedOn(waiting)));

        // The wait limit passes with the agent still busy: the mobile is dialled and bridged with the caller.
        var mobile = await rig.PbxEvents.WaitForAsync<Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13800001111", "the mobile to be dialled", ct);
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", waiting, ct);
        var mobileIn = await rig.PbxEvents.WaitAsync("BridgeEnter", mobile["DestChannel"]!, ct);
        Assert.Equal(callerIn["BridgeUniqueid"], mobileIn["BridgeUniqueid"]);
        var overflowed = await rig.AcdEvents.WaitForAsync<CallOverflowed>(_ => true, "the overflow", ct);
        Assert.Equal(OverflowCondition.WaitExceeded, overflowed.Condition);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1001-", StringComparison.Ordinal)));

        rig.Trunk.HangUp(waiting);
        await rig.PbxEvents.WaitAsync("Hangup", mobile["DestChannel"]!, ct);
        rig.Trunk.HangUp(talking);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "both calls to end", ct, nth: 2);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        Assert.Equal("5552001:answered:2001 5552002:overflowed:", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(concat_ws(':', caller, disposition, coalesce(agent_id, '')), ' ' ORDER BY caller) FROM calls WHERE caller IN ('5552001', '5552002')", ct));

        // Recorded with the mobile too (REC-05): PbxSim recorded the bridge; one recordings row, linked to the overflowed call's row.
        await ExternalRecordingStoredAsync(rig, overflowed.CallId, ct);
    }

    /// <summary>The caller's bridge with the outside number was recorded in PbxSim, stored once and linked to the call's row.</summary>
    private async Task ExternalRecordingStoredAsync(CallCenterRig rig, string callId, CancellationToken ct)
    {
        var recording = $"call-{callId}-ext";
        using (var ari = new Asterisk.Ari.AriClient(CtiBridge.Service.Hosting.AsteriskServer.ToAriOptions(CtiBridge.Service.Tests.Hosting.PbxSimSettings.For(rig.Pbx).Ari)))
        {
            Assert.Equal("wav", (await ari.Recordings.GetStoredAsync(recording, ct)).Format);
        }

        Assert.Equal($"{recording}|1|{recording}.wav|t", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', c.recording_id, count(r.*), min(substring(r.path from '[^/]+$')), bool_and(r.ended_at >= r.started_at)) FROM calls c JOIN recordings r USING (call_id) WHERE c.call_id = '{Q(callId)}' GROUP BY c.recording_id", ct));
    }

    [Fact]
    public async Task AgentIdAnnouncement_TheCallerHearsTheAgentsNumberWhole_ThenIsBridged()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.AnnounceAgentId = true;
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, configure: null, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5553001", "Curious Cat");
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);

        // The announcement was asked for before the bridge and not cut by it.
        Assert.Contains("sound:agent-newlocation,digits:2001", rig.Pbx.MediaPlayedOn(caller));
        Assert.Empty(rig.Pbx.MediaStoppedOn(caller));
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
    }

    [Fact]
    public async Task IvrMenuToAnotherMenuToAnOutsideNumber_TheCallerIsBridgedWithIt_EveryNodeRecorded()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, cc =>
        {
            cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
            cc.Ivr = new IvrSettings
            {
                Plans =
                [
                    new IvrPlanSettings
                    {
                        Name = "main", Start = "welcome",
                        Nodes =
                        [
                            new IvrNodeSettings { Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "sales" }] },
                            new IvrNodeSettings { Name = "sales", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "2", Next = "mobile" }] },
                            new IvrNodeSettings { Name = "mobile", Type = "external", Number = "13800001111" },
                        ],
                    },
                ],
            };
        }, Sounds);
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3 };

        // 1 in the first menu leads to the second menu (its prompt is asked for), 2 there to the outside number.
        var caller = rig.Trunk.CallIn("4008001", "5554001", "Outside Olga");
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        rig.Trunk.PressDigits(caller, "1");
        for (var i = 0; i < 300 && rig.Pbx.MediaPlayedOn(caller).Count < 2; i++)
        {
            await Task.Delay(50, ct);
        }

        Assert.Equal(["sound:welcome", "sound:welcome"], rig.Pbx.MediaPlayedOn(caller));
        rig.Trunk.PressDigits(caller, "2");
        var mobile = await rig.PbxEvents.WaitForAsync<Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13800001111", "the outside number to be dialled", ct);
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var mobileIn = await rig.PbxEvents.WaitAsync("BridgeEnter", mobile["DestChannel"]!, ct);
        Assert.Equal(callerIn["BridgeUniqueid"], mobileIn["BridgeUniqueid"]);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallEnqueued>());

        // The caller hangs up: the outside party is released too.
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", mobile["DestChannel"]!, ct);
        var callId = string.Empty;
        for (var i = 0; i < 300 && (callId = await database.Database.ScalarAsync<string>(
            "SELECT c.call_id FROM calls c JOIN call_legs l USING (call_id) WHERE c.caller = '5554001' AND l.ended_at IS NOT NULL", ct)) is null; i++)
        {
            await Task.Delay(50, ct);
        }

        await rig.StopServiceAsync();
        Assert.Equal("main/welcome main/sales:1 main/mobile:2", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws(':', node, input), ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId!)}'", ct));
        Assert.Equal("1|external|t", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', count(*), min(party), bool_and(answered_at IS NOT NULL)) FROM call_legs WHERE call_id = '{Q(callId!)}'", ct));
        // An answered outside number served the caller: ivr_completed (counted as answered in the answer rate).
        Assert.Equal("1|ivr_completed", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', count(*), min(disposition)) FROM calls WHERE caller = '5554001'", ct));
        await ExternalRecordingStoredAsync(rig, callId!, ct);
    }
}
