using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Direct-to-agent routes end to end against PbxSim and PostgreSQL, in a queue that is not
/// <c>sticky</c>: a DID routed to an agent rings that agent alone when ready; an IVR <c>agent</c>
/// node whose agent is paused goes straight to its voicemail fallback; an agent who does not answer
/// sends the call to the fallback queue, where its agent answers.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class DirectToAgentCallTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal)
    {
        ["welcome"] = 0.3, ["vm-intro"] = 0.3, ["vm-goodbye"] = 0.3,
    };

    private static CallQueueSettings Support(double ringSeconds = 10) => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(ringSeconds), WrapUp = TimeSpan.FromSeconds(0.5),
        RetryAfterNoAnswer = TimeSpan.FromSeconds(30), MusicOnHold = "default",
    };

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    [Fact]
    public async Task DidRoutedToAnAgent_RingsThatAgentAlone_NotTheOneLeastrecentWouldPick()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Support(), [("2001", "1001"), ("2002", "1002")], ct,
            cc => cc.Dids.Add(new DidRouteSettings { Number = "4008002", Agent = "2002", Fallback = "voicemail:800" }));
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));

        // 2001 has been ready longest: leastrecent would give it any support call.
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);

        var caller = rig.Trunk.CallIn("4008002", "5552002", "Own Customer");
        var dial = await rig.PbxEvents.DialToAsync("1002", ct);
        Assert.Equal("[support] Own Customer", dial["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1001-", StringComparison.Ordinal)));

        rig.Trunk.HangUp(caller);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        await rig.StopServiceAsync();

        Assert.Equal("answered|4008002|2002", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, did, agent_id) FROM calls WHERE call_id = '{Q(ended.CallId)}'", ct));
        Assert.Equal("support|answered|2002", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws('|', queue, outcome, agent_id), ' ') FROM queue_visits WHERE call_id = '{Q(ended.CallId)}'", ct));
    }

    [Fact]
    public async Task IvrAgentNode_AgentPaused_GoesStraightToTheVoicemailFallback_NeverQueued()
    {
        var ct = TestContext.Current.CancellationToken;
        var recordings = Path.Combine(Path.GetTempPath(), "ctibridge-direct-tests", Guid.NewGuid().ToString("N"));
        await using var rig = await CallCenterRig.StartAsync(database.Database, Support(), [("2001", "1001"), ("2002", "1002")], ct, cc =>
        {
            cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
            cc.RecordingDirectory = recordings;
            cc.Ivr = new IvrSettings
            {
                Plans = [new IvrPlanSettings
                {
                    Name = "main", Start = "welcome",
                    Nodes =
                    [
                        new IvrNodeSettings { Name = "welcome", Type = "play", Prompt = "welcome", Next = "mine" },
                        new IvrNodeSettings { Name = "mine", Type = "agent", Agent = "2001", Fallback = "voicemail:801" },
                    ],
                }],
            };
        }, Sounds);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);
        Assert.True((await rig.Center.PauseAgentAsync("2001", "meal", ct)).Accepted);

        var caller = rig.Trunk.CallIn("4008001", "5552001", "Loyal Lisa");

        // Greeting, then the agent's voicemail: intro, beep, the message, which # ends (keys before it
        // mean nothing there), then vm-goodbye and the release. Bounded: 15 s of a key every 100 ms.
        var hangup = rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        for (var i = 0; i < 150 && !hangup.IsCompleted; i++)
        {
            try
            {
                rig.Trunk.PressDigits(caller, "#");
            }
            catch (InvalidOperationException) when (!rig.Pbx.ChannelNames.Contains(caller))
            {
                // Released between the check above and the key: its Hangup event is on its way to the observer.
                break;
            }

            await Task.WhenAny(hangup, Task.Delay(100, ct));
        }

        await hangup;
        await rig.StopServiceAsync();

        // Nobody was rung for it and it never waited in support (the free agent 2002 did not get it;
        // the voicemail's callback task may be offered to 2002 meanwhile, as an outbound task).
        var callId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5552001' AND direction = 'inbound'", ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is CallOffered o && o.CallId == callId);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot().OfType<CallEnqueued>(), e => !e.Caller.Attributes.ContainsKey("callbackId"));
        Assert.Equal("voicemail", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{Q(callId!)}'", ct));
        Assert.Equal("main/welcome main/mine", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(node, ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId!)}'", ct));
        Assert.Equal(Path.Combine(recordings, $"voicemail-801-{callId}.wav"), await database.Database.ScalarAsync<string>(
            $"SELECT path FROM recordings WHERE call_id = '{Q(callId!)}'", ct));
    }

    [Fact]
    public async Task AgentDoesNotAnswer_TheCallGoesToTheFallbackQueue_NotToTheOtherReadyAgentOfItsQueue()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Support(ringSeconds: 1), [("2001", "1001"), ("2002", "1002")], ct, cc =>
        {
            cc.Queues.Add(new CallQueueSettings { Name = "backup", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default" });
            cc.Agents.Add(new CallAgentSettings { Id = "3001", Extension = "PJSIP/1003", PinHash = CallCenterRig.PinHash, Queues = ["backup"] });
            cc.Dids.Add(new DidRouteSettings { Number = "4008002", Agent = "2001", Fallback = "queue:backup" });
        });
        rig.Pbx.Phone("1001").NeverAnswers();
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1003").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);
        await rig.LoginAsync("3001", ct);

        var caller = rig.Trunk.CallIn("4008002", "5552003", "Rang Out");
        await rig.PbxEvents.DialToAsync("1001", ct);
        var backup = await rig.PbxEvents.DialToAsync("1003", ct);
        Assert.Equal("[backup] Rang Out", backup["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var offerEnded = await rig.AcdEvents.WaitForAsync<CallOfferEnded>(e => e.AgentId == "2001", "2001's ring to end", ct);
        Assert.Equal(OfferEnd.RingTimeout, offerEnded.End);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1002-", StringComparison.Ordinal)));

        rig.Trunk.HangUp(caller);
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the call to end", ct);
        await rig.StopServiceAsync();

        Assert.Equal("answered|3001", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id) FROM calls WHERE call_id = '{Q(ended.CallId)}'", ct));
        Assert.Equal("support:timeout backup:answered", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(queue || ':' || outcome, ' ' ORDER BY entered_at) FROM queue_visits WHERE call_id = '{Q(ended.CallId)}'", ct));
    }

    [Fact]
    public async Task Fallbacks_UseTheConfiguredOutsideRingTimeAndVoicemailLength_NotTheDefaults()
    {
        var ct = TestContext.Current.CancellationToken;
        var recordings = Path.Combine(Path.GetTempPath(), "ctibridge-direct-tests", Guid.NewGuid().ToString("N"));
        await using var rig = await CallCenterRig.StartAsync(database.Database, Support(), [("2001", "1001")], ct, cc =>
        {
            cc.RecordingDirectory = recordings;
            cc.Dids.Add(new DidRouteSettings { Number = "4008003", Agent = "2001", Fallback = "number:13800001111" });
            cc.Dids.Add(new DidRouteSettings { Number = "4008004", Agent = "2001", Fallback = "voicemail:802" });

            // The defaults (30 s, 120 s) would outlast every wait below.
            cc.Fallback = new FallbackSettings { ExternalRingTimeout = TimeSpan.FromSeconds(1), VoicemailMaxMessage = TimeSpan.FromSeconds(5) };
        }, Sounds);
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 1, Invalid = 0, Machine = 0 };
        await rig.LoginAsync("2001", ct);
        Assert.True((await rig.Center.PauseAgentAsync("2001", "meal", ct)).Accepted);

        // The outside number rings 1 s unanswered (Asterisk's originate timeout), then the caller is released.
        var toMobile = rig.Trunk.CallIn("4008003", "5552031", "Outside Olga");
        var mobile = await rig.PbxEvents.WaitForAsync<Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13800001111", "the outside number to be dialled", ct);
        await rig.PbxEvents.WaitAsync("Hangup", mobile["DestChannel"]!, ct);
        await rig.PbxEvents.WaitAsync("Hangup", toMobile, ct);
        Assert.Equal(0, rig.PbxEvents.Count("BridgeEnter", e => e["Channel"] == mobile["DestChannel"]));

        // The silent caller's message ends at 5 s, then vm-goodbye and the release.
        var toVoicemail = rig.Trunk.CallIn("4008004", "5552032", "Silent Sam");
        await rig.PbxEvents.WaitAsync("Hangup", toVoicemail, ct);
        await rig.StopServiceAsync();

        var callId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5552032' AND direction = 'inbound'", ct);
        Assert.Equal("voicemail", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{Q(callId!)}'", ct));
        // PbxSim stops the recording at maxDurationSeconds (late, never early, on a loaded machine).
        Assert.InRange(await database.Database.ScalarAsync<double>(
            $"SELECT extract(epoch FROM ended_at - started_at)::float8 FROM recordings WHERE call_id = '{Q(callId!)}'", ct), 5d, 30d);
    }

    [Fact]
    public async Task ServiceRestartedWhileTheNamedAgentRings_TheAdopterRingsThatAgentAlone_ThenTheFallbackQueue()
    {
        var ct = TestContext.Current.CancellationToken;
        // A 60 s ring: the first instance's ring never times out; the adopter's ring is declined.
        await using var rig = await CallCenterRig.StartAsync(database.Database, Support(ringSeconds: 60), [("2001", "1001"), ("2002", "1002")], ct, cc =>
        {
            cc.Shutdown.HandBackCalls = false;
            cc.Queues.Add(new CallQueueSettings { Name = "backup", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default" });
            cc.Agents.Add(new CallAgentSettings { Id = "3001", Extension = "PJSIP/1003", PinHash = CallCenterRig.PinHash, Queues = ["backup"] });
            cc.Dids.Add(new DidRouteSettings { Number = "4008002", Agent = "2001", Fallback = "queue:backup" });
        });
        var named = rig.Pbx.Phone("1001").NeverAnswers();
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1003").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);
        await rig.LoginAsync("3001", ct);

        var caller = rig.Trunk.CallIn("4008002", "5552004", "Own Customer");
        await rig.PbxEvents.DialToAsync("1001", ct);
        var callId = (await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.AgentId == "2001", "2001 rung", ct)).CallId;
        await rig.StopServiceAsync();

        // Before, the adopter made it an ordinary support call: 2002, ready, would have got it.
        named.Rejects(TimeSpan.FromMilliseconds(100));
        await rig.StartServiceAgainAsync(ct);
        await rig.PbxEvents.DialToAsync("1001", ct, nth: 2);
        var backup = await rig.PbxEvents.DialToAsync("1003", ct);
        Assert.Equal("[backup] Own Customer", backup["DestCallerIDName"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith("PJSIP/1002-", StringComparison.Ordinal)));

        rig.Trunk.HangUp(caller);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == callId, "the call to end", ct);
        await rig.StopServiceAsync();

        Assert.Equal("answered|3001", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id) FROM calls WHERE call_id = '{Q(callId)}'", ct));
        Assert.Equal("support:timeout backup:answered", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(queue || ':' || outcome, ' ' ORDER BY entered_at) FROM queue_visits WHERE call_id = '{Q(callId)}'", ct));
    }
}
