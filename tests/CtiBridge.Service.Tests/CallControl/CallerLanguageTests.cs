using CtiBridge.Core.Acd;
using CtiBridge.Data.Customers;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The caller's language reaching what the caller hears, end to end against PbxSim and PostgreSQL:
/// the DID's plan says <c>zh</c>, a customer row (the customer lookup) says <c>fr</c> for its number (PbxSim's channels are <c>en</c>, so neither is a default).
/// Every ARI play on the caller's channel (menu prompt, survey question, thanks) carries the
/// language as PbxSim received it in the play's <c>lang</c>; the call's steps and score are stored.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CallerLanguageTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal)
    {
        ["welcome"] = 0.5, ["ctibridge-survey"] = 0.5, ["auth-thankyou"] = 0.3,
        ["queue-youarenext"] = 0.3, ["queue-thereare"] = 0.3, ["queue-callswaiting"] = 0.3, ["queue-holdtime"] = 0.3,
        ["queue-minutes"] = 0.3, ["queue-less-than"] = 0.3, ["queue-minute"] = 0.3,
    };

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    private async Task<CallCenterRig> StartAsync(CancellationToken ct, Action<CallQueueSettings>? configureQueue = null)
    {
        var customers = new CustomerStore(database.Database.DataSource);
        await customers.PutAsync(new Customer("5554777", "C-4777", Language: "fr"), ct);
        var queue = new CallQueueSettings
        {
            Name = "support", RingTimeout = TimeSpan.FromSeconds(60), RetryAfterNoAnswer = TimeSpan.FromSeconds(30), WrapUp = TimeSpan.FromSeconds(0.5),
            MusicOnHold = "default",

            // The caller's key ends the survey, never its timeout.
            Survey = new SurveySettings { Prompt = "ctibridge-survey", ThanksPrompt = "auth-thankyou", Timeout = TimeSpan.FromMinutes(5) },
        };
        configureQueue?.Invoke(queue);
        var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, cc =>
        {
            cc.CustomerLookup = new CustomerLookupSettings { Source = "database", Timeout = TimeSpan.FromSeconds(2) };
            cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
            cc.Ivr = new IvrSettings
            {
                Plans =
                [
                    new IvrPlanSettings
                    {
                        Name = "main", Start = "welcome", Language = "zh",
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
        return rig;
    }

    /// <summary>Waits until the caller's channel has had a play of <paramref name="media"/>; returns its language.</summary>
    private static async Task<string> LanguageOfPlayAsync(CallCenterRig rig, string caller, string media, CancellationToken ct) =>
        (await PlayAsync(rig, caller, media, ct)).Language;

    /// <summary>
    /// Waits until the caller's channel has had a play whose media list (comma-separated, as ARI takes it) starts with
    /// <paramref name="media"/>; returns the whole media list and its language.
    /// </summary>
    private static async Task<(string Media, string Language)> PlayAsync(CallCenterRig rig, string caller, string media, CancellationToken ct)
    {
        // The play request reaches PbxSim a moment after the event that led to it; bounded wait.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var play = rig.Pbx.PlaysOn(caller).FirstOrDefault(p => p.Media == media || p.Media.StartsWith(media + ",", StringComparison.Ordinal));
            if (play.Media is not null)
            {
                return play;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Still waiting after 15 s for {media} on {caller}; played: {string.Join(", ", rig.Pbx.PlaysOn(caller))}.");
            }

            await Task.Delay(20, ct);
        }
    }

    [Fact]
    public async Task KnownCustomer_HearsMenuSurveyAndThanksInTheLanguageOfItsCustomerRow_NotThePlans()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);
        await rig.LoginAsync("2001", ct);

        var caller = rig.Trunk.CallIn("4008001", "5554777", "Known Customer");
        Assert.Equal("fr", await LanguageOfPlayAsync(rig, caller, "sound:welcome", ct));
        rig.Trunk.PressDigits(caller, "1");
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to queue", ct);
        Assert.Equal(("C-4777", "fr"), (enqueued.Caller.CustomerId, enqueued.Caller.Language));
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);

        // The agent hangs up: the caller is asked the survey question, in French, and thanked in French.
        rig.Pbx.Phone("1001").Hangup();
        await rig.PbxEvents.WaitAsync("BridgeLeave", caller, ct);
        Assert.Equal("fr", await LanguageOfPlayAsync(rig, caller, "sound:ctibridge-survey", ct));
        rig.Trunk.PressDigits(caller, "8");
        Assert.Equal("fr", await LanguageOfPlayAsync(rig, caller, "sound:auth-thankyou", ct));
        Assert.All(rig.Pbx.PlaysOn(caller), p => Assert.Equal("fr", p.Language));
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();

        Assert.Equal("main/welcome main/support:1|8|answered", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', (SELECT string_agg(concat_ws(':', s.node, s.input), ' ' ORDER BY s.step_no) FROM ivr_steps s WHERE s.call_id = c.call_id), c.survey_score, c.disposition) FROM calls c WHERE c.call_id = '{Q(enqueued.CallId)}'", ct));
    }

    [Fact]
    public async Task UnknownCaller_HearsThePromptsInThePlansLanguage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct);

        var caller = rig.Trunk.CallIn("4008001", "5554000", "Nobody Known");
        Assert.Equal("zh", await LanguageOfPlayAsync(rig, caller, "sound:welcome", ct));
        Assert.All(rig.Pbx.PlaysOn(caller), p => Assert.Equal("zh", p.Language));
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);

        // A caller who leaves in the IVR never reaches the ACD: its one calls row is found by its number.
        await rig.StopServiceAsync();
        Assert.Equal("main/welcome|ivr_abandoned", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', (SELECT string_agg(s.node, ' ' ORDER BY s.step_no) FROM ivr_steps s WHERE s.call_id = c.call_id), c.disposition) FROM calls c WHERE c.caller = '5554000'", ct));
    }

    [Fact]
    public async Task QueueAnnouncements_PositionAndExpectedWaitNumbers_AreSaidInEachCallersLanguage()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await StartAsync(ct, q =>
        {
            q.AnnouncePosition = true;
            q.AnnouncementPeriod = TimeSpan.FromMinutes(5); // the announcement on joining only
        });

        // Nobody is logged in. An unknown caller (the plan's zh) waits first, the French customer second.
        var first = rig.Trunk.CallIn("4008001", "5554001", "Nobody Known");
        await PlayAsync(rig, first, "sound:welcome", ct);
        rig.Trunk.PressDigits(first, "1");
        var firstNext = await PlayAsync(rig, first, "sound:queue-youarenext", ct);
        var firstCall = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5554001", "the first caller queued", ct);
        var second = rig.Trunk.CallIn("4008001", "5554777", "Known Customer");
        await PlayAsync(rig, second, "sound:welcome", ct);
        rig.Trunk.PressDigits(second, "1");
        var secondPosition = await PlayAsync(rig, second, "sound:queue-thereare", ct);
        var secondCall = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5554777", "the second caller queued", ct);

        // app_queue's words with a say-number (number:N) in one play request, in the caller's own language: Asterisk
        // picks both the words' and the number's sound files (digits/1 …) by the play's lang.
        Assert.Equal("zh", firstNext.Language);
        Assert.Equal("fr", secondPosition.Language);
        var words = secondPosition.Media.Split(',');
        Assert.Equal(["sound:queue-thereare", "number:1", "sound:queue-callswaiting"], words.Take(3));
        Assert.All(words.Skip(3), w => Assert.True(w.StartsWith("sound:queue-", StringComparison.Ordinal) || w.StartsWith("number:", StringComparison.Ordinal), w));
        Assert.All(rig.Pbx.PlaysOn(first), p => Assert.Equal("zh", p.Language));
        Assert.All(rig.Pbx.PlaysOn(second), p => Assert.Equal("fr", p.Language));

        rig.Trunk.HangUp(first);
        rig.Trunk.HangUp(second);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == firstCall.CallId, "the first call to end", ct);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == secondCall.CallId, "the second call to end", ct);
        await rig.StopServiceAsync();
        Assert.Equal("abandoned,abandoned", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(disposition, ',' ORDER BY caller) FROM calls WHERE caller IN ('5554001', '5554777')", ct));
    }
}
