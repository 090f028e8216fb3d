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
    };

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    private async Task<CallCenterRig> StartAsync(CancellationToken ct)
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
    private static async Task<string> LanguageOfPlayAsync(CallCenterRig rig, string caller, string media, CancellationToken ct)
    {
        // The play request reaches PbxSim a moment after the event that led to it; bounded wait.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var play = rig.Pbx.PlaysOn(caller).FirstOrDefault(p => p.Media == media);
            if (play.Media is not null)
            {
                return play.Language;
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
}
