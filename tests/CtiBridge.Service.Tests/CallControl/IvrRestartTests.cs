using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A restart of CtiBridge while callers are outside a queue (issue 8): in an IVR menu, leaving a voicemail,
/// in the survey after the agent hung up, in the customer lookup, or blocked and hearing the blocked prompt. The calls stay in the Stasis app (no hand-back at stop); the new
/// instance finds each in <c>live_ivr_calls</c> and resumes it where it was under the same call id, so each
/// call has one row (before, each came back as a new inbound call: the IVR from its start, two call rows).
/// PbxSim + PostgreSQL, real clock, bounded waits.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class IvrRestartTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    // Long prompts: the caller is still hearing them across the restart.
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal)
    {
        ["welcome"] = 60, ["goodbye"] = 0.3, ["vm-intro"] = 0.3, ["vm-goodbye"] = 0.3, ["ctibridge-survey"] = 60, ["auth-thankyou"] = 0.3, ["ctibridge-blocked"] = 5,
    };

    private static CallQueueSettings Queue(SurveySettings? survey = null) => new()
    {
        // An answer must never lose against the ring timer: these tests are about what comes before and after it.
        Name = "support", RingTimeout = TimeSpan.FromSeconds(60), WrapUp = TimeSpan.FromSeconds(0.5), RetryAfterNoAnswer = TimeSpan.FromSeconds(30),
        MusicOnHold = "default", Survey = survey,
    };

    private static Action<CallControlSettings> Plan(params IvrNodeSettings[] nodes) => cc =>
    {
        cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
        cc.Ivr = new IvrSettings { Plans = [new IvrPlanSettings { Name = "main", Start = nodes[0].Name, Nodes = [.. nodes] }] };
        cc.Shutdown.HandBackCalls = false; // the callers stay in the Stasis app for the next instance
    };

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    /// <summary>Bounded wait (10 s) for the caller's <c>live_ivr_calls</c> row at <paramref name="stage"/>; returns the call id.</summary>
    private async Task<string> StoredAsync(string callerNumber, string stage, CancellationToken ct)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await database.Database.ScalarAsync<string>($"SELECT call_id FROM live_ivr_calls WHERE caller_number = '{Q(callerNumber)}' AND stage = '{stage}'", ct) is { } callId)
            {
                return callId;
            }

            await Task.Delay(50, ct);
        }

        Assert.Fail($"no live_ivr_calls row at stage {stage} for {callerNumber} within 10 s");
        return null!;
    }

    private async Task<string> CallRowsAsync(string callerNumber, CancellationToken ct) =>
        await database.Database.ScalarAsync<string>($"SELECT string_agg(concat_ws('|', call_id, disposition), ',') FROM calls WHERE caller = '{Q(callerNumber)}'", ct) ?? string.Empty;

    /// <summary>Bounded wait (15 s) until the caller has heard <paramref name="media"/> at least <paramref name="times"/> times; returns all they heard.</summary>
    private static async Task<IReadOnlyList<string>> HeardAsync(CallCenterRig rig, string caller, string media, int times, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        IReadOnlyList<string> heard;
        while ((heard = rig.Pbx.MediaPlayedOn(caller)).Count(m => m == media) < times)
        {
            Assert.True(DateTime.UtcNow < until, $"{media} was not played {times} time(s) within 15 s: " + string.Join(", ", heard));
            await Task.Delay(20, ct);
        }

        return heard;
    }

    /// <summary>
    /// Bounded wait (30 s) until the caller has heard <paramref name="media"/> at least <paramref name="times"/> times, started BEFORE a
    /// restart: the adopter may play a short prompt and release the caller before <see cref="CallCenterRig.StartServiceAgainAsync"/>
    /// returns (on a loaded machine the new host and its Stasis app come up seconds after adoption began), and PbxSim's
    /// <see cref="PbxSimulator.MediaPlayedOn"/> knows live channels only. A channel's list only grows, so the longest one read
    /// is what the caller heard; reading stops at the caller's Hangup.
    /// </summary>
    private static async Task<IReadOnlyList<string>> HeardAcrossRestartAsync(CallCenterRig rig, string caller, string media, int times, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        IReadOnlyList<string> heard = [];
        while (true)
        {
            var gone = rig.PbxEvents.Snapshot().Any(e => e.EventName == "Hangup" && e["Channel"] == caller);
            var now = rig.Pbx.MediaPlayedOn(caller);
            if (now.Count >= heard.Count)
            {
                heard = now;
            }

            if (heard.Count(m => m == media) >= times)
            {
                return heard;
            }

            Assert.False(gone, $"{media} was not played {times} time(s) before the caller was released: " + string.Join(", ", heard));
            Assert.True(DateTime.UtcNow < until, $"{media} was not played {times} time(s) within 30 s: " + string.Join(", ", heard));
            await Task.Delay(10, ct);
        }
    }

    /// <summary>A call center whose DID goes straight to voicemail box <paramref name="mailbox"/> (a message of up to 60 s), recordings in <paramref name="recordings"/>.</summary>
    private Task<CallCenterRig> StartVoicemailAsync(string mailbox, string recordings, Dictionary<string, double> sounds, CancellationToken ct) =>
        CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, cc =>
        {
            Plan(new IvrNodeSettings { Name = "vm", Type = "voicemail", Mailbox = mailbox, MaxMessage = TimeSpan.FromSeconds(60) })(cc);
            cc.RecordingDirectory = recordings;
        }, sounds);

    /// <summary>A caller whose greeting (0.3 s) is over and whose message is being recorded; returns the caller's channel and the call id.</summary>
    private async Task<(string Caller, string CallId)> LeavingAVoicemailAsync(CallCenterRig rig, string callerNumber, string callerName, CancellationToken ct)
    {
        var caller = rig.Trunk.CallIn("4008001", callerNumber, callerName);
        await rig.PbxEvents.WaitAsync("Newstate", caller, ct, e => e["ChannelStateDesc"] == "Up");
        var callId = await StoredAsync(callerNumber, "voicemail", ct);
        await HeardAsync(rig, caller, "sound:vm-intro", 1, ct);
        await Task.Delay(500, ct);
        return (caller, callId);
    }

    [Fact]
    public async Task RestartWhileTheCallerIsInAMenu_TheMenuGoesOn_TheKeyRoutesTheSameCall_OneCallRow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, Plan(
            new IvrNodeSettings { Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "support" }], Timeout = TimeSpan.FromSeconds(60) },
            new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" }), Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));

        var caller = rig.Trunk.CallIn("4008001", "5552001", "Ivy");
        var callId = await StoredAsync("5552001", "ivr", ct);
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.LoginAsync("2001", ct);

        // The adopter asks the menu again (its prompt is played after the adoption, asynchronously: waited for, bounded); the
        // caller's key takes the same call to the queue and to the agent.
        await HeardAsync(rig, caller, "sound:welcome", 2, ct);
        rig.Trunk.PressDigits(caller, "1");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5552001", "the call in the queue", ct);
        Assert.Equal(callId, enqueued.CallId);
        Assert.Equal(["main/welcome", "main/support"], enqueued.Caller.IvrPath);
        await rig.PbxEvents.DialToAsync("1001", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        Assert.Equal($"{callId}|answered", await CallRowsAsync("5552001", ct));
        Assert.Equal("main/welcome main/support:1", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws(':', node, input), ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId)}'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    [Fact]
    public async Task RestartWhileTheCallerLeavesAVoicemail_TheRecordingIsKept_OneCallRowWithItsRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        var recordings = Path.Combine(Path.GetTempPath(), "ctibridge-ivr-restart", Guid.NewGuid().ToString("N"));
        await using var rig = await StartVoicemailAsync("800", recordings, Sounds, ct);

        // The greeting is over and the message is being recorded when the service stops.
        var (caller, callId) = await LeavingAVoicemailAsync(rig, "5552002", "Vic", ct);
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);

        // # ends the message (the recording the first instance started): stored with the call, goodbye, released.
        rig.Trunk.PressDigits(caller, "#");
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.StopServiceAsync();

        Assert.Equal($"{callId}|voicemail", await CallRowsAsync("5552002", ct));
        Assert.Equal(Path.Combine(recordings, $"voicemail-800-{callId}.wav"),
            await database.Database.ScalarAsync<string>($"SELECT path FROM recordings WHERE call_id = '{Q(callId)}'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    [Fact]
    public async Task RestartDuringTheSurvey_TheQuestionIsAskedAgain_TheScoreIsStoredWithTheCall_OneCallRow()
    {
        var ct = TestContext.Current.CancellationToken;
        var survey = new SurveySettings { Prompt = "ctibridge-survey", ThanksPrompt = "auth-thankyou", Timeout = TimeSpan.FromMinutes(5) };
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(survey), [("2001", "1001")], ct,
            cc => cc.Shutdown.HandBackCalls = false, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5552003", "Sue");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5552003", "the call in the queue", ct);
        await rig.PbxEvents.DialToAsync("1001", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        rig.Pbx.Phone("1001").Hangup();
        var ended = await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the agent's part to end", ct);
        Assert.Equal(ended.CallId, await StoredAsync("5552003", "survey", ct));

        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await HeardAsync(rig, caller, "sound:ctibridge-survey", 2, ct); // asked again

        rig.Trunk.PressDigits(caller, "7");
        var answer = await rig.AcdEvents.WaitForAsync<SurveyAnswered>(_ => true, "the survey answer", ct);
        Assert.Equal((ended.CallId, 7, "2001"), (answer.CallId, answer.Score, answer.AgentId));
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.StopServiceAsync();

        Assert.Equal($"{ended.CallId}|answered", await CallRowsAsync("5552003", ct));
        // The answer is stored with the call: in survey_answers and on the call's row, although the new instance's
        // records mapper never saw that row (the writer scores the stored row: calls_survey_score.sql).
        Assert.Equal(7, await database.Database.ScalarAsync<short>($"SELECT survey_score FROM calls WHERE call_id = '{Q(ended.CallId)}'", ct));
        Assert.Equal("satisfaction|7|2001", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', question, score, agent_id) FROM survey_answers WHERE call_id = '{Q(ended.CallId)}'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    [Fact]
    public async Task RestartWhileTheCallerIsInTheCustomerLookup_TheLookupIsAskedAgain_TheSameCallIsQueued_OneCallRow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var crm = await StartCrmAsync(ct);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, cc =>
        {
            Plan(new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" })(cc);
            cc.CustomerLookup = new CustomerLookupSettings { Url = crm.Url + "/caller?number={callerNumber}", Timeout = TimeSpan.FromSeconds(10) };
        }, Sounds);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));

        // The CRM holds its first answer about 5552004: the service stops while the caller is in the lookup. The
        // stage is stored before the question is sent: under load, a stop before it reached the CRM made the
        // adopter's question the first, held until its 10 s limit (an unknown caller, C-2004 missing).
        var caller = rig.Trunk.CallIn("4008001", "5552004", "Lou");
        var callId = await StoredAsync("5552004", "lookup", ct);
        await Eventually.TrueAsync(() => crm.Asked("5552004") == 1, "the CRM asked about 5552004", ct);
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.LoginAsync("2001", ct);

        // The adopter asks the CRM again (it answers now) and queues the same call; the agent answers it.
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5552004", "the call in the queue", ct);
        Assert.Equal(callId, enqueued.CallId);
        Assert.Equal("C-2004", enqueued.Caller.CustomerId);
        await rig.PbxEvents.DialToAsync("1001", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        Assert.Equal(2, crm.Asked("5552004"));
        Assert.Equal($"{callId}|answered", await CallRowsAsync("5552004", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    [Fact]
    public async Task RestartWhileABlockedCallerHearsTheBlockedPrompt_ThePromptAgainThenReleased_OneBlockedCallRow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var crm = await StartCrmAsync(ct);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct, cc =>
        {
            Plan(new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" })(cc);
            cc.CustomerLookup = new CustomerLookupSettings { Url = crm.Url + "/caller?number={callerNumber}", Timeout = TimeSpan.FromSeconds(10), BlockedPrompt = "ctibridge-blocked" };
        }, Sounds);

        var caller = rig.Trunk.CallIn("4008001", "5552005", "Nuisance");
        var callId = await StoredAsync("5552005", "blocked", ct);
        await rig.StopServiceAsync();
        var heard = HeardAcrossRestartAsync(rig, caller, "sound:ctibridge-blocked", 2, ct);
        await rig.StartServiceAgainAsync(ct);

        // The adopter plays the blocked prompt again (never looks the caller up again) and releases the caller.
        await heard;

        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<CallEnqueued>());
        await rig.StopServiceAsync();

        Assert.Equal(1, crm.Asked("5552005"));
        Assert.Equal($"{callId}|blocked", await CallRowsAsync("5552005", ct));
        Assert.Equal("main/blocked", await database.Database.ScalarAsync<string>($"SELECT string_agg(node, ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId)}'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    [Fact]
    public async Task RestartWhileTheCallerTalksToAnOutsideNumber_TheyStayConnected_TheAdopterReleasesTheOutsideParty_OneCallRow()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], ct,
            Plan(new IvrNodeSettings { Name = "out", Type = "external", Number = "13800002006" }), Sounds);
        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3 };

        var caller = rig.Trunk.CallIn("4008001", "5552006", "Otto");
        var outside = (await rig.PbxEvents.WaitForAsync<AmiMessage>(e => e.EventName == "DialBegin" && e["DialString"] == "carrier/13800002006", "the outside number dialled", ct))["DestChannel"]!;
        var outsideIn = await rig.PbxEvents.WaitAsync("BridgeEnter", outside, ct);
        var callerIn = await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.Equal(outsideIn["BridgeUniqueid"], callerIn["BridgeUniqueid"]);
        var callId = await StoredAsync("5552006", "external", ct);

        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);

        // Still talking: nobody was released or dialled again. The caller hangs up; the adopter releases the outside party.
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && (e["Channel"] == caller || e["Channel"] == outside));
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", outside, ct);
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => e["DialString"] == "carrier/13800002006"));
        for (var i = 0; i < 200 && await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct) > 0; i++)
        {
            await Task.Delay(50, ct);
        }

        await rig.StopServiceAsync();
        Assert.Equal($"{callId}|ivr_completed|13800002006", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(concat_ws('|', call_id, disposition, callee), ',') FROM calls WHERE caller = '5552006'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    [Fact]
    public async Task AVoicemailFinishedWhileNoServiceRan_IsStoredByTheAdopter_GreetingNotAgain_OneCallRow()
    {
        var ct = TestContext.Current.CancellationToken;
        var recordings = Path.Combine(Path.GetTempPath(), "ctibridge-ivr-restart", Guid.NewGuid().ToString("N"));
        // vm-goodbye long enough to read what the caller heard before the release.
        await using var rig = await StartVoicemailAsync("801", recordings, new Dictionary<string, double>(Sounds, StringComparer.Ordinal) { ["vm-goodbye"] = 3 }, ct);

        // The message is being recorded when the service stops; # ends it while no service listens (its RecordingFinished goes nowhere).
        var (caller, callId) = await LeavingAVoicemailAsync(rig, "5552007", "Vera", ct);
        await rig.StopServiceAsync();
        rig.Trunk.PressDigits(caller, "#");
        var name = $"voicemail-801-{callId}";
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(rig.Pbx).Ari)))
        {
            for (var i = 0; ; i++)
            {
                try
                {
                    await ari.Recordings.GetStoredAsync(name, ct);
                    break;
                }
                catch (AriRequestException ex) when (ex.StatusCode == 404 && i < 200)
                {
                    await Task.Delay(50, ct);
                }
            }
        }

        // The adopter finds the finished recording, stores it with the call, says goodbye and releases the caller.
        var heardAcross = HeardAcrossRestartAsync(rig, caller, "sound:vm-goodbye", 1, ct);
        await rig.StartServiceAgainAsync(ct);
        var heard = await heardAcross;
        Assert.Equal(1, heard.Count(m => m == "sound:vm-intro"));
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.StopServiceAsync();

        Assert.Equal($"{callId}|voicemail", await CallRowsAsync("5552007", ct));
        Assert.Equal(Path.Combine(recordings, $"{name}.wav"),
            await database.Database.ScalarAsync<string>($"SELECT path FROM recordings WHERE call_id = '{Q(callId)}'", ct));
        Assert.Equal(0L, await database.Database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    /// <summary>A stand-in CRM: 5552005 is blocked; about 5552004 the first question is never answered (the service stops meanwhile), later ones are.</summary>
    private static async Task<Crm> StartCrmAsync(CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var crm = new Crm(app);
        app.MapGet("/caller", async (HttpContext http) =>
        {
            var number = http.Request.Query["number"].ToString();
            int asked;
            lock (crm.Requests)
            {
                crm.Requests.Add(number);
                asked = crm.Requests.Count(n => n == number);
            }

            if (number == "5552004" && asked == 1)
            {
                // Until the asking service gives up (it stops).
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            }

            return number switch
            {
                "5552004" => Results.Text("""{ "customerId": "C-2004" }""", "application/json"),
                "5552005" => Results.Text("""{ "blocked": true }""", "application/json"),
                _ => Results.NotFound(),
            };
        });
        await app.StartAsync(ct);
        crm.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return crm;
    }

    private sealed class Crm(WebApplication app) : IAsyncDisposable
    {
        public List<string> Requests { get; } = [];

        /// <summary>How many questions about <paramref name="number"/> reached the CRM so far.</summary>
        public int Asked(string number)
        {
            lock (Requests)
            {
                return Requests.Count(n => n == number);
            }
        }

        public string Url { get; set; } = string.Empty;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
