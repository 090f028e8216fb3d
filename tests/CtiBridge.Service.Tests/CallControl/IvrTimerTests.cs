using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The IVR's timers end to end on the call center's fake clock (issue 8), against PbxSim and PostgreSQL: a menu's
/// key timeout and retries fire only when the clock is advanced (PbxSim's prompts play in real time), and a time
/// condition reads the call center's clock: open until the closing minute, closed from it, closed on a holiday,
/// open again at the opening minute. Each node entered is stored with the fake clock's time.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class IvrTimerTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal)
    {
        ["welcome"] = 0.3, ["pin-invalid"] = 0.2, ["goodbye"] = 0.2, ["closed"] = 0.2,
    };

    // Today at 00:00 UTC: the records' partitions are those of today's calls (the writer makes any month's, too).
    private static readonly DateTimeOffset Today = new(DateTime.UtcNow.Date, TimeSpan.Zero);

    private static string Q(string text) => text.Replace("'", "''", StringComparison.Ordinal);

    /// <summary>hours (open 09:00–17:00 every day, tomorrow a holiday) → welcome menu (1 → bye); closed → closed → bye.</summary>
    private async Task<(CallCenterRig Rig, FakeTimeProvider Clock)> StartAsync(DateTimeOffset at, CancellationToken ct)
    {
        var clock = new FakeTimeProvider(at);
        var queue = new CallQueueSettings { Name = "support", RingTimeout = TimeSpan.FromSeconds(60), WrapUp = TimeSpan.FromSeconds(0.5) };
        var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct, cc =>
        {
            cc.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
            cc.Ivr = new IvrSettings
            {
                Calendars =
                [
                    new IvrCalendarSettings
                    {
                        Name = "office", Open = [new() { Days = "mon-sun", From = "09:00", To = "17:00" }],
                        Holidays = [Today.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)],
                    },
                ],
                Plans =
                [
                    new IvrPlanSettings
                    {
                        Name = "main", Start = "hours",
                        Nodes =
                        [
                            new IvrNodeSettings { Name = "hours", Type = "time", Calendar = "office", Open = "welcome", Closed = "closed" },
                            new IvrNodeSettings
                            {
                                Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "bye" }],
                                InvalidPrompt = "pin-invalid", Timeout = TimeSpan.FromMinutes(1), Retries = 2, Failure = "bye",
                            },
                            new IvrNodeSettings { Name = "closed", Type = "play", Prompt = "closed", Next = "bye" },
                            new IvrNodeSettings { Name = "bye", Type = "hangup", Prompt = "goodbye" },
                        ],
                    },
                ],
            };
        }, Sounds, callControlClock: clock);
        return (rig, clock);
    }

    private static int Plays(CallCenterRig rig, string caller, string media) => rig.Pbx.PlaysOn(caller).Count(p => p.Media == media);

    [Fact]
    public async Task MenuKeyTimeoutAndRetries_FireOnTheCallCentersClock_TheLastTimeoutGoesToTheFailureNode()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, clock) = await StartAsync(Today.AddHours(10), ct);
        await using var _ = rig;

        var caller = rig.Trunk.CallIn("4008001", "5556001", "Silent Sue");
        await Eventually.TrueAsync(() => Plays(rig, caller, "sound:welcome") == 1, "the menu prompt", ct);
        var entered = clock.GetUtcNow();

        // The prompt plays out in PbxSim's real time; its one-minute key wait is the call center's (on the real
        // clock this test would time out). No key for a minute: the prompt again (try 2 of 3).
        await Eventually.AdvancingAsync(clock, TimeSpan.FromSeconds(15),
            () => Plays(rig, caller, "sound:welcome") == 2 ? "again" : null, "the menu asked again after its timeout", ct);

        // A key the menu does not know: the invalid prompt, then the menu (try 3 of 3).
        rig.Trunk.PressDigits(caller, "7");
        await Eventually.TrueAsync(() => Plays(rig, caller, "sound:pin-invalid,sound:welcome") == 1, "the invalid-key prompt", ct);

        // No key again: the tries are used up, the failure node says goodbye and releases the caller.
        await Eventually.AdvancingAsync(clock, TimeSpan.FromSeconds(15),
            () => Plays(rig, caller, "sound:goodbye") == 1 ? "bye" : null, "the failure node after the last timeout", ct);
        var hangup = await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        Assert.Equal("16", hangup["Cause"]);
        Assert.Empty(rig.AcdEvents.Snapshot().OfType<Core.Acd.CallEnqueued>());
        await rig.StopServiceAsync();

        var callId = await database.Database.ScalarAsync<string>("SELECT call_id FROM calls WHERE caller = '5556001'", ct);
        Assert.Equal("main/hours main/welcome main/bye:timeout", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(concat_ws(':', node, input), ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId!)}'", ct));

        // Stored on the call center's clock: the menu entered when the call came, the failure node two full
        // timeouts later (the key in between does not wait), never earlier.
        Assert.Equal(entered, await StepAtAsync(callId!, "main/welcome", ct));
        var failedAfter = await StepAtAsync(callId!, "main/bye", ct) - entered;
        Assert.True(failedAfter >= TimeSpan.FromMinutes(2), $"the failure node was entered {failedAfter} after the menu");
        Assert.Equal("ivr_abandoned", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{Q(callId!)}'", ct));
    }

    [Fact]
    public async Task TimeCondition_ReadsTheCallCentersClock_OpenToTheMinute_ClosedAfterHoursAndOnAHoliday()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, clock) = await StartAsync(Today.AddHours(17).AddSeconds(-1), ct);
        await using var _ = rig;

        // Each caller at a moment of the call center's clock; which prompt they hear says which way the node went.
        var moments = new (string Caller, DateTimeOffset At, string Heard)[]
        {
            ("5556101", Today.AddHours(17).AddSeconds(-1), "sound:welcome"), // the last second of today's hours
            ("5556102", Today.AddHours(17), "sound:closed"),                 // closing time (exclusive)
            ("5556103", Today.AddDays(1).AddHours(10), "sound:closed"),      // tomorrow, within hours, a holiday
            ("5556104", Today.AddDays(2).AddHours(9), "sound:welcome"),      // the day after, opening time (inclusive)
        };
        foreach (var (number, at, heard) in moments)
        {
            clock.SetUtcNow(at);
            var caller = rig.Trunk.CallIn("4008001", number, "Caller " + number);
            await Eventually.TrueAsync(() => rig.Pbx.PlaysOn(caller).Count > 0, $"the first prompt to {number}", ct);
            Assert.Equal(heard, rig.Pbx.PlaysOn(caller)[0].Media);
            rig.Trunk.HangUp(caller);
            await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
        }

        await rig.StopServiceAsync();
        foreach (var (number, at, heard) in moments)
        {
            var callId = await database.Database.ScalarAsync<string>($"SELECT call_id FROM calls WHERE caller = '{number}'", ct);
            Assert.Equal(heard == "sound:welcome" ? "main/hours main/welcome" : "main/hours main/closed", await database.Database.ScalarAsync<string>(
                $"SELECT string_agg(node, ' ' ORDER BY step_no) FROM ivr_steps WHERE call_id = '{Q(callId!)}'", ct));
            Assert.Equal(at, await StepAtAsync(callId!, "main/hours", ct));
        }
    }

    private async Task<DateTimeOffset> StepAtAsync(string callId, string node, CancellationToken ct) =>
        new(DateTime.SpecifyKind(await database.Database.ScalarAsync<DateTime>(
            $"SELECT entered_at FROM ivr_steps WHERE call_id = '{Q(callId)}' AND node = '{Q(node)}' ORDER BY step_no LIMIT 1", ct), DateTimeKind.Utc));
}
