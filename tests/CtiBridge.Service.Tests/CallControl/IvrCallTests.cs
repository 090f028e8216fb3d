using System.Globalization;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The caller's side end to end against PbxSim and PostgreSQL: IVR plans (menu, time condition,
/// PIN check), the customer lookup's blacklist, announcements over music on hold, exit keys and
/// overflows carried out on the channel (voicemail recorded, external number bridged), and the
/// records each leaves (ivr_steps, calls, recordings). Real clock, short prompts, bounded waits.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class IvrCallTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private const string Pin = "4321";

    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal)
    {
        ["welcome"] = 2, ["enter-pin"] = 2, ["pin-invalid"] = 0.3, ["goodbye"] = 0.3, ["closed"] = 0.5, ["vm-intro"] = 0.5,
        ["vm-goodbye"] = 0.3, ["ss-noservice"] = 0.5, ["queue-thankyou"] = 0.4, ["queue-youarenext"] = 0.4, ["queue-thereare"] = 0.4,
        ["queue-callswaiting"] = 0.4, ["queue-holdtime"] = 0.4, ["queue-minutes"] = 0.3, ["queue-less-than"] = 0.3, ["queue-minute"] = 0.3,
    };

    private static CallQueueSettings Queue(string name = "support") => new()
    {
        Name = name, RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), RetryAfterNoAnswer = TimeSpan.FromSeconds(30),
    };

    private static Action<CallControlSettings> Plan(params IvrNodeSettings[] nodes) => Plan(null, nodes);

    private static Action<CallControlSettings> Plan(Action<CallControlSettings>? more, params IvrNodeSettings[] nodes) => cc =>
    {
        cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
        cc.Ivr = new IvrSettings { Plans = [new IvrPlanSettings { Name = "main", Start = nodes[0].Name, Nodes = [.. nodes] }] };
        more?.Invoke(cc);
    };

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    private async Task<string> StepsAsync(string callId, CancellationToken ct) =>
        await database.Database.ScalarAsync<string>($"SELECT string_agg(concat_ws(':', node, input, CASE WHEN terminal THEN 'T' END), ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId)}'", ct) ?? string.Empty;

    [Fact]
    public async Task Menu_CallerPresses1DuringThePrompt_GoesToTheQueueIsAnsweredAndEveryNodeIsRecorded()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, Plan(
            new IvrNodeSettings { Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "support" }, new() { Key = "2", Next = "bye" }] },
            new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support", Priority = 3 },
            new IvrNodeSettings { Name = "bye", Type = "hangup", Prompt = "goodbye", Completes = true }), Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        rig.Trunk.PressDigits(caller, "1");

        var dial = await rig.PbxEvents.DialToAsync("1001", ct);
        Assert.Equal("[support] Jane Customer", dial["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to enter the queue", ct);
        Assert.Equal(["main/welcome", "main/support"], enqueued.Caller.IvrPath);
        Assert.Equal(3, enqueued.Priority);

        rig.Trunk.HangUp(caller);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        Assert.Equal("main/welcome main/support:1", await StepsAsync(ended.CallId, ct));
        Assert.Equal("answered", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{Q(ended.CallId)}'", ct));
    }

    [Fact]
    public async Task Menu_WrongKeyThenSilence_InvalidPromptRetriesThenTheFailureNodeEndsTheCallInTheIvr()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, Plan(
            new IvrNodeSettings
            {
                Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "support" }],
                InvalidPrompt = "pin-invalid", Timeout = TimeSpan.FromSeconds(0.5), Retries = 1, Failure = "bye",
            },
            new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" },
            new IvrNodeSettings { Name = "bye", Type = "hangup", Prompt = "goodbye" }), Sounds);

        var caller = rig.Trunk.CallIn("4008001", "5550001", "Silent Sam");
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        rig.Trunk.PressDigits(caller, "7");

        // Key 7 means nothing (try 1 of 2), then no key at all (try 2): the failure node releases the caller.
        var hangup = await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        Assert.Equal("16", hangup["Cause"]);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallEnqueued>());
        await rig.StopServiceAsync();

        var callId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5550001'", ct);
        Assert.Equal("main/welcome main/bye:timeout", await StepsAsync(callId!, ct));
        Assert.Equal("ivr_abandoned|4008001", await database.Database.ScalarAsync<string>($"SELECT concat_ws('|', disposition, did) FROM calls WHERE call_id = '{Q(callId!)}'", ct));
    }

    [Fact]
    public async Task PinCheck_ThreeWrongPinsAreRefused_TheRightPinCompletesAndThePinIsNeverStored()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, Plan(
            new IvrNodeSettings
            {
                Name = "pin", Type = "pin", Prompt = "enter-pin", PinHash = AgentPin.Hash(Pin, iterations: 1000), PinLength = 4, Retries = 2,
                InvalidPrompt = "pin-invalid", Next = "served", Failure = "refused", Timeout = TimeSpan.FromSeconds(5),
            },
            new IvrNodeSettings { Name = "served", Type = "hangup", Prompt = "goodbye", Completes = true },
            new IvrNodeSettings { Name = "refused", Type = "hangup", Prompt = "goodbye" }), Sounds);

        var wrong = rig.Trunk.CallIn("4008001", "5550002", "Guess");
        await rig.PbxEvents.WaitAsync("Newstate", wrong, ct, e => e["ChannelStateDesc"] == "Up");
        rig.Trunk.PressDigits(wrong, "111122223333");
        await rig.PbxEvents.WaitAsync("Hangup", wrong, ct);

        var right = rig.Trunk.CallIn("4008001", "5550003", "Owner");
        await rig.PbxEvents.WaitAsync("Newstate", right, ct, e => e["ChannelStateDesc"] == "Up");
        rig.Trunk.PressDigits(right, Pin);
        await rig.PbxEvents.WaitAsync("Hangup", right, ct);
        await rig.StopServiceAsync();

        var refusedId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5550002'", ct);
        Assert.Equal("main/pin main/pin:pin-wrong main/pin:pin-wrong main/pin:pin-wrong main/refused:invalid", await StepsAsync(refusedId!, ct));
        var servedId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5550003'", ct);
        Assert.Equal("main/pin main/served:pin-ok:T", await StepsAsync(servedId!, ct));
        Assert.Equal("ivr_abandoned ivr_completed", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(disposition, ' ' ORDER BY caller) FROM calls WHERE caller IN ('5550002', '5550003')", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>($"SELECT count(*) FROM ivr_steps WHERE input LIKE '%{Pin}%' OR input LIKE '%1111%'", ct));
    }

    [Fact]
    public async Task TimeCondition_Holiday_AfterHoursPlanTakesAVoicemailThatIsRecordedWithTheCall()
    {
        var ct = TestContext.Current.CancellationToken;
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var recordings = Path.Combine(Path.GetTempPath(), "ctibridge-ivr-tests", Guid.NewGuid().ToString("N"));
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, Plan(cc =>
            {
                // Open around the clock every day, but today is a holiday (and 'tomorrow' would not matter: the call is now).
                cc.Ivr.Calendars = [new IvrCalendarSettings { Name = "office", Open = [new() { Days = "mon-sun", From = "00:00", To = "24:00" }], Holidays = [today] }];
                cc.RecordingDirectory = recordings;
            },
            new IvrNodeSettings { Name = "hours", Type = "time", Calendar = "office", Open = "support", Closed = "closed" },
            new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" },
            new IvrNodeSettings { Name = "closed", Type = "play", Prompt = "closed", Next = "vm" },
            new IvrNodeSettings { Name = "vm", Type = "voicemail", Mailbox = "800", MaxMessage = TimeSpan.FromSeconds(1) }), Sounds);

        var caller = rig.Trunk.CallIn("4008001", "5550004", "Late Larry");

        // Greeting, beep, a message of at most 1 s, goodbye, released.
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);

        // The call itself never queued; the voicemail's callback may already be queued as an outbound task.
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallEnqueued>(), e => !e.Caller.Attributes.ContainsKey("callbackId"));
        await rig.StopServiceAsync();

        var callId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5550004'", ct);
        Assert.Equal("main/hours main/closed main/vm", await StepsAsync(callId!, ct));
        Assert.Equal("voicemail", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{Q(callId!)}'", ct));
        var path = await database.Database.ScalarAsync<string>($"SELECT path FROM recordings WHERE call_id = '{Q(callId!)}'", ct);
        Assert.Equal(Path.Combine(recordings, $"voicemail-800-{callId}.wav"), path);

        // Issue 11: a voicemail left in the IVR (not in a queue) becomes a callback, with the voicemail deadline (2 h).
        string? callback = null;
        for (var i = 0; i < 200 && callback is null; i++)
        {
            callback = await database.Database.ScalarAsync<string>(
                "SELECT concat_ws('|', source, origin_call_id, round(extract(epoch FROM deadline_at - created_at) / 60)) FROM callbacks WHERE number = '5550004'", ct);
            await Task.Delay(callback is null ? 50 : 0, ct);
        }

        Assert.Equal($"voicemail|{callId}|120", callback);
    }

    [Fact]
    public async Task CustomerLookup_BlockedCallerHearsThePromptAndIsReleased_AVipCallerStillGetsThrough()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var crm = await StartCrmAsync(ct);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, cc =>
        {
            cc.CustomerLookup = new CustomerLookupSettings { Url = crm.Url + "/caller?number={callerNumber}&did={did}", Timeout = TimeSpan.FromSeconds(2) };
        }, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);

        var blocked = rig.Trunk.CallIn("4008001", "5550666", "Nuisance");
        await rig.PbxEvents.WaitAsync("Hangup", blocked, ct);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallEnqueued>());
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1001-", StringComparison.Ordinal)));

        var vip = rig.Trunk.CallIn("4008001", "5550777", "Big Boss");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the VIP call to queue", ct);
        Assert.True(enqueued.Caller.IsVip);
        Assert.Equal("C-777", enqueued.Caller.CustomerId);
        Assert.Equal(10, enqueued.Priority);
        await rig.PbxEvents.WaitAsync("BridgeEnter", vip, ct);
        rig.Trunk.HangUp(vip);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the VIP call to end", ct);
        await rig.StopServiceAsync();

        // One calls row, disposition blocked, released by the system, with its IVR step; not in the centre report's N.
        Assert.Equal("blocked|system|4008001|blocked", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', c.disposition, c.released_by, c.did, (SELECT string_agg(s.node, ' ') FROM ivr_steps s WHERE s.call_id = c.call_id)) FROM calls c WHERE c.caller = '5550666'", ct));
        // (Other tests of the class write calls into the same database: compare with the rows themselves.)
        const string Day = "started_at >= now() - interval '1 day' AND started_at < now() + interval '1 day'";
        Assert.Equal(
            await database.Database.ScalarAsync<string>($"SELECT concat_ws('|', count(*) FILTER (WHERE disposition <> 'blocked'), count(*) FILTER (WHERE disposition = 'blocked')) FROM calls WHERE direction = 'inbound' AND {Day}", ct),
            await database.Database.ScalarAsync<string>("SELECT concat_ws('|', sum(inbound_calls), sum(blocked)) FROM report_centre_traffic(now() - interval '1 day', now() + interval '1 day', '1d')", ct));
        Assert.True(await database.Database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE disposition = 'blocked' AND {Day}", ct) >= 1);
        Assert.Equal(2, crm.Requests.Count);
    }

    [Fact]
    public async Task Queue_AnnouncementsStopAndRestartMusic_ExitKeyTakesAVoicemail()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.AnnouncePosition = true;
        queue.AnnouncementPeriod = TimeSpan.FromMinutes(5);
        queue.ExitKeys = [new QueueExitKeySettings { Key = "1", Target = "voicemail:900" }];
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, configure: null, Sounds);

        // Nobody is logged in: the caller waits, hears the position over a break in the music, then presses 1.
        var caller = rig.Trunk.CallIn("4008001", "5550005", "Waiting Will");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct, nth: 2);
        rig.Trunk.PressDigits(caller, "1");

        var overflowed = await rig.AcdEvents.WaitForAsync<CallOverflowed>(_ => true, "the exit key", ct);
        Assert.Equal(OverflowCondition.CallerKey, overflowed.Condition);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", caller, ct, nth: 2);
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        Assert.Equal(Core.Acd.CallDisposition.Voicemail, ended.Disposition);
        await rig.StopServiceAsync();

        Assert.Equal("voicemail|exit_key", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', c.disposition, v.outcome) FROM calls c JOIN queue_visits v USING (call_id) WHERE c.call_id = '{Q(ended.CallId)}'", ct));
    }

    [Fact]
    public async Task Queue_WaitExceeded_OverflowsToAMobileThatIsBridgedWithTheCaller()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.Overflow = [new QueueOverflowSettings { When = "waitExceeded", After = TimeSpan.FromSeconds(1), Target = "number:13800001111" }];
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, configure: null, Sounds);
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3 };

        var caller = rig.Trunk.CallIn("4008001", "5550006", "Mobile Mo");
        var mobile = await rig.PbxEvents.WaitForAsync<Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? "").StartsWith("PJSIP/carrier-", StringComparison.Ordinal) && e["DialString"] == "carrier/13800001111",
            "the mobile to be dialled", ct);
        var callerBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var mobileBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", mobile["DestChannel"]!, ct);
        Assert.Equal(callerBridge["BridgeUniqueid"], mobileBridge["BridgeUniqueid"]);
        Assert.Equal(OverflowCondition.WaitExceeded, (await rig.AcdEvents.WaitForAsync<CallOverflowed>(_ => true, "the overflow", ct)).Condition);

        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", mobile["DestChannel"]!, ct);
        var callId = (await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the end", ct)).CallId;
        // The service learns of the mobile's hang-up over ARI after PbxSim's AMI Hangup: wait
        // (bounded) for the external leg's record before stopping, so a slow machine does not race.
        var leg = $"SELECT concat_ws('|', party, channel, answered_at IS NOT NULL) FROM call_legs WHERE call_id = '{Q(callId)}'";
        for (var i = 0; i < 200 && await database.Database.ScalarAsync<string>(leg, ct) is null; i++)
        {
            await Task.Delay(100, ct);
        }

        await rig.StopServiceAsync();
        Assert.Equal("overflowed|timeout", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', c.disposition, v.outcome) FROM calls c JOIN queue_visits v USING (call_id) WHERE c.call_id = '{Q(callId)}'", ct));
        Assert.Equal("external|13800001111|t", await database.Database.ScalarAsync<string>(leg, ct));
    }

    [Fact]
    public async Task Reload_ABadPlanIsRejectedAndTheOldOneKeepsRunning_AGoodPlanServesTheNextCall()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, Plan(
            new IvrNodeSettings { Name = "bye", Type = "hangup", Prompt = "goodbye", Completes = true }), Sounds);

        var bad = new CallControlSettings
        {
            Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }],
            Ivr = new IvrSettings { Plans = [new IvrPlanSettings { Name = "main", Start = "welcom", Nodes = [new() { Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "sales" }] }] }] },
        };
        var problems = (await rig.Center.ReloadIvrAsync(bad, ct)).Select(p => p.ToString()).ToList();
        Assert.Equal([
            "callControl.ivr.plans[0].start: node 'welcom' is not in this plan; did you mean 'welcome'?",
            "callControl.ivr.plans[0].nodes[0].choices[0].next: node 'sales' is not in this plan",
        ], problems);

        var first = rig.Trunk.CallIn("4008001", "5550010", "Before");
        await rig.PbxEvents.WaitAsync("Hangup", first, ct);

        var good = new CallControlSettings
        {
            Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }],
            Ivr = new IvrSettings { Plans = [new IvrPlanSettings { Name = "main", Start = "support", Nodes = [new() { Name = "support", Type = "queue", Queue = "support" }] }] },
        };
        Assert.Empty(await rig.Center.ReloadIvrAsync(good, ct));
        var second = rig.Trunk.CallIn("4008001", "5550011", "After");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to queue under the new plan", ct);
        Assert.Equal(["main/support"], enqueued.Caller.IvrPath);
        rig.Trunk.HangUp(second);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the end", ct);
        await rig.StopServiceAsync();

        Assert.Equal("ivr_completed abandoned", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(disposition, ' ' ORDER BY caller) FROM calls WHERE caller IN ('5550010', '5550011')", ct));
    }

    [Fact]
    public async Task Queue_CallbackKey_TheRequestReachesTheCallbackSchedulerWithThePlaceInLine()
    {
        var ct = TestContext.Current.CancellationToken;
        var queue = Queue();
        queue.ExitKeys = [new QueueExitKeySettings { Key = "1", Target = "callback" }];
        var callbacks = new CallbackInbox();
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, configure: null, Sounds,
            services: s => s.AddSingleton<ICallbackRequests>(callbacks));

        var caller = rig.Trunk.CallIn("4008001", "5550020", "Call Me");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to queue", ct);
        rig.Trunk.PressDigits(caller, "1");

        // The caller hears the thank-you and is released; the scheduler has the request.
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        var request = await callbacks.Received.Task.WaitAsync(TimeSpan.FromSeconds(15), ct);
        Assert.Equal(("5550020", CallbackSource.Queue, "support", enqueued.CallId, "Call Me"), (request.Number, request.Source, request.Queue, request.OriginCallId, request.CustomerName));
        Assert.Equal(enqueued.At, request.PlaceInLineSince);
        Assert.Equal(Core.Acd.CallDisposition.Overflowed, (await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the end", ct)).Disposition);
    }

    [Fact]
    public async Task Plan_ZeroDuringAnAnnouncementReachesTheOperator_MembersGoTheirOwnWay()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var crm = await StartCrmAsync(ct);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, cc =>
        {
            Plan(
                new IvrNodeSettings { Name = "who", Type = "caller", IfMember = "members", Otherwise = "news" },
                new IvrNodeSettings { Name = "news", Type = "play", Prompt = "welcome", Next = "bye" },
                new IvrNodeSettings { Name = "members", Type = "queue", Queue = "support", Priority = 7 },
                new IvrNodeSettings { Name = "operator", Type = "queue", Queue = "support" },
                new IvrNodeSettings { Name = "bye", Type = "hangup", Completes = true })(cc);
            cc.Ivr.Plans[0].Operator = "operator";
            cc.CustomerLookup = new CustomerLookupSettings { Url = crm.Url + "/caller?number={callerNumber}", Timeout = TimeSpan.FromSeconds(2) };
        }, Sounds);

        // An unknown caller hears the 2 s announcement and presses 0 during it: the operator's queue.
        var caller = rig.Trunk.CallIn("4008001", "5550030", "Needs Help");
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        await crm.Asked("5550030").WaitAsync(TimeSpan.FromSeconds(15), ct);
        rig.Trunk.PressDigits(caller, "0");
        var first = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the operator", ct);
        Assert.Equal(["main/who", "main/news", "main/operator"], first.Caller.IvrPath);

        // A member goes straight to the members' node.
        var member = rig.Trunk.CallIn("4008001", "5550888", "Member May");
        var second = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.CallId != first.CallId, "the member", ct);
        Assert.Equal(["main/who", "main/members"], second.Caller.IvrPath);
        Assert.Equal(7, second.Priority);
        rig.Trunk.HangUp(caller);
        rig.Trunk.HangUp(member);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the ends", ct, nth: 2);
        await rig.StopServiceAsync();

        Assert.Equal("main/who main/news main/operator:0", await StepsAsync(first.CallId, ct));
    }

    /// <summary>The callback scheduler as call control sees it: takes a request.</summary>
    private sealed class CallbackInbox : ICallbackRequests
    {
        public TaskCompletionSource<CallbackRequest> Received { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<CallbackTicket?> RequestAsync(CallbackRequest request, CancellationToken cancellationToken = default)
        {
            Received.TrySetResult(request);
            return Task.FromResult<CallbackTicket?>(null);
        }

        public Task<int> ResolveByInboundAsync(string number, string callId, CancellationToken cancellationToken = default) => Task.FromResult(0);
    }

    /// <summary>A stand-in CRM: 5550666 is blocked, 5550777 is a VIP, everyone else unknown (404).</summary>
    private static async Task<Crm> StartCrmAsync(CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var crm = new Crm(app);
        app.MapGet("/caller", (HttpContext http) =>
        {
            var number = http.Request.Query["number"].ToString();
            crm.Add(number);

            return number switch
            {
                "5550666" => Results.Text("""{ "blocked": true }""", "application/json"),
                "5550777" => Results.Text("""{ "customerId": "C-777", "vip": true, "language": "en" }""", "application/json"),
                "5550888" => Results.Text("""{ "member": true }""", "application/json"),
                _ => Results.NotFound(),
            };
        });
        await app.StartAsync(ct);
        crm.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return crm;
    }

    private sealed class Crm(WebApplication app) : IAsyncDisposable
    {
        private readonly Dictionary<string, TaskCompletionSource> _asked = [];

        public List<string> Requests { get; } = [];

        public void Add(string number)
        {
            lock (Requests)
            {
                Requests.Add(number);
                AskedSource(number).TrySetResult();
            }
        }

        /// <summary>Completes once the CRM has been asked about <paramref name="number"/>.</summary>
        public TaskCompletionSource AskedSource(string number)
        {
            lock (Requests)
            {
                if (!_asked.TryGetValue(number, out var asked))
                {
                    _asked[number] = asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                return asked;
            }
        }

        public Task Asked(string number) => AskedSource(number).Task;

        public string Url { get; set; } = string.Empty;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
