using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;
using static CtiBridge.Service.Tests.BoundedWait;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// Issue 10's "retries happen at the right times (fake clock)" end to end: the real host with the
/// dialer on its own fake clock (<see cref="OutboundDialer.ClockServiceKey"/>), PbxSim over loopback on
/// real time with one scripted customer per kind (busy, no answer, congestion, machine, invalid,
/// person). The test moves the dialer's clock from one moment to the next, only while no call is up,
/// and paces a round at each (<see cref="OutboundDialer.PlanNowAsync"/>): every retry is dialled at the
/// first round at or after its per-outcome delay, never a round before it, never outside the lead's
/// calling window, invalid numbers never again, at most <c>maxAttempts</c>; every attempt is one
/// attempt row and one call row with its outcome and hang-up cause.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class DialerRetryClockTests : IAsyncLifetime
{
    // 17:00 in New York (EST, UTC-5) on a Tuesday; the campaign calls 09:00-20:00 local.
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 22, 0, 0, TimeSpan.Zero);

    private static readonly Dictionary<string, TimeSpan> RetryAfter = new(StringComparer.Ordinal)
    {
        ["Busy"] = TimeSpan.FromMinutes(10), ["Congestion"] = TimeSpan.FromMinutes(5),
        ["NoAnswer"] = TimeSpan.FromHours(1), ["Machine"] = TimeSpan.FromHours(2),
    };

    private readonly FakeTimeProvider _clock = new(T0 - TimeSpan.FromMinutes(1));
    private FakeClockDialers _floor = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] Phones = ["4101", "4102", "4103", "4104", "4105", "4106"];

    private TestDatabase Database => _floor.Database;

    // PbxSim on real time: the test moves the dialer's clock only while no call is up.
    public async ValueTask InitializeAsync() =>
        _floor = await FakeClockDialers.StartAsync("dialer-clock", _clock, pbxOnTheClock: false, ["ctibridge-dialer"], Phones, abandonMessage: TimeSpan.FromSeconds(0.3));

    public ValueTask DisposeAsync() => _floor.DisposeAsync();

    private Task<long> CountAsync(string sql) => _floor.CountAsync(sql, Ct);

    private Task<string> AttemptsAsync(string campaign) => Database.ScalarAsync<string>($"""
        SELECT coalesce(string_agg(format('lead %s %s dialed=%s ended=%s %s cause=%s agent=%s', a.lead_id, a.phone_number, a.dialed_at, a.ended_at, a.outcome, a.hangup_cause, a.agent_id), E'\n' ORDER BY a.attempt_id), '(no attempts)')
            || E'\nleads: ' || (SELECT string_agg(format('%s %s attempts=%s next=%s claimed=%s', lead_id, status, attempts, next_attempt_at, claimed_by), '; ' ORDER BY lead_id) FROM dialer_leads WHERE campaign_id = '{campaign}')
        FROM dialer_attempts a WHERE a.campaign_id = '{campaign}'
        """, Ct);

    /// <summary>
    /// Moves the dialer's clock to <paramref name="at"/> (wrap-ups and the periodic round fire on the way),
    /// paces a round there, and waits (real time, bounded) until every call it placed has ended: the clock
    /// never moves while a call is up, so a ringing customer is never taken for a lost reply.
    /// </summary>
    private async Task RoundAtAsync(OutboundDialer dialer, string campaign, DateTimeOffset at)
    {
        Assert.True(at >= _clock.GetUtcNow(), $"the test's moments go forward ({at:O} is before {_clock.GetUtcNow():O})");
        _clock.SetUtcNow(at);
        await dialer.PlanNowAsync(Ct);
        await WaitUntilAsync(async () => await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL") == 0,
            $"the calls placed at {at:O} to end", TimeSpan.FromSeconds(60), () => AttemptsAsync(campaign));
    }

    private async Task<List<(string Lead, DateTimeOffset DialedAt, DateTimeOffset EndedAt, string Outcome)>> AttemptListAsync(string campaign)
    {
        var list = new List<(string, DateTimeOffset, DateTimeOffset, string)>();
        await using var command = Database.DataSource.CreateCommand($"SELECT phone_number, dialed_at, ended_at, outcome FROM dialer_attempts WHERE campaign_id = '{campaign}' ORDER BY attempt_id");
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            list.Add((reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3)));
        }

        return list;
    }

    [Fact]
    public async Task Retries_AreDialledAtTheirPerOutcomeDelayOnTheDialersClock_NeverEarlyNorOutsideTheWindow_EachAttemptRecorded()
    {
        // One scripted customer per kind; the number as dialled after the trunk is the E.164 digits. The person talks
        // long enough (real time) not to hang up while AMD listens even at load (that would count as a machine).
        var kinds = new (string Number, DialledCustomerKind Kind)[]
        {
            ("+12125550101", DialledCustomerKind.Busy), ("+12125550102", DialledCustomerKind.NoAnswer),
            ("+12125550103", DialledCustomerKind.Congestion), ("+12125550104", DialledCustomerKind.Machine),
            ("+12125550105", DialledCustomerKind.Invalid), ("+12125550106", DialledCustomerKind.Person),
        };
        _floor.Pbx.DialledCustomers = new DialledCustomers
        {
            RingSeconds = 0.2, MachineMessageSeconds = 5, TalkSeconds = 6, AmdSeconds = 0.3,
            Numbers = kinds.ToDictionary(k => k.Number[1..], k => k.Kind, StringComparer.Ordinal),
        };

        var campaign = "clock" + Guid.NewGuid().ToString("N")[..8];
        var store = new CampaignStore(Database.DataSource, TimeProvider.System);
        await store.PutAsync(CampaignDefinition.Parse($$"""
            { "id": "{{campaign}}", "agentGroup": "sales", "mode": "Progressive",
              "callerId": "+18005550100", "callerName": "Acme", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["09:00-20:00"] }, "maxConcurrentLines": 8, "maxAttempts": 3,
              "retrySeconds": { "busy": 600, "noAnswer": 3600, "congestion": 300, "machine": 7200, "rejected": 14400, "abandoned": 14400 },
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 15, "wrapUpSeconds": 5,
              "defaultTimeZone": "America/New_York" }
            """), "test", Ct);
        var imported = await _floor.ImportAsync(campaign, kinds.Select(k => (k.Number, k.Kind.ToString())), "clock.csv", Ct);
        Assert.Equal(kinds.Length, imported);
        await store.SetStateAsync(campaign, CampaignState.Running, "test", Ct);

        var dialer = await _floor.StartDialerAsync("ctibridge-dialer", "clock", settings =>
        {
            settings.PlanIntervalSeconds = 1;
            settings.CampaignRefreshSeconds = 5;
        }, Ct);

        // Before T0 nothing is dialled: no agent yet. The agents join at T0 (the clock stands still), one per lead,
        // and every lead is dialled as an agent becomes ready.
        _clock.SetUtcNow(T0);
        for (var i = 0; i < Phones.Length; i++)
        {
            var agent = $"70{i:D2}";
            await WaitUntilAsync(async () => await dialer.JoinAsync(campaign, agent, "PJSIP/" + Phones[i], Ct) is null, $"agent {agent} to join", TimeSpan.FromSeconds(20));
        }

        await WaitUntilAsync(async () => (await dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == campaign && s.AgentsLoggedIn == Phones.Length),
            "every agent on the nailed-up line", TimeSpan.FromSeconds(20));
        await dialer.PlanNowAsync(Ct);
        await WaitUntilAsync(async () => await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NOT NULL") == kinds.Length,
            "every lead's first call to end", TimeSpan.FromSeconds(60), () => AttemptsAsync(campaign));
        // The person's agent is in wrap-up (5 s on the dialer's clock): it ends when the clock gets there.
        await RoundAtAsync(dialer, campaign, T0.AddSeconds(5));
        var first = await AttemptListAsync(campaign);
        Assert.All(first, a => Assert.Equal(T0, a.DialedAt));
        Assert.Equal(
            ["+12125550101 Busy", "+12125550102 NoAnswer", "+12125550103 Congestion", "+12125550104 Machine", "+12125550105 InvalidNumber", "+12125550106 HumanAnswer"],
            first.Select(a => $"{a.Lead} {a.Outcome}").Order(StringComparer.Ordinal));

        // Every moment a retry comes due, in order, and one second before each: nothing is dialled a round early,
        // each is dialled at its due round. The machine's third try falls due at 21:00 New York, after the window.
        var windowEnd = new DateTimeOffset(2026, 12, 2, 1, 0, 0, TimeSpan.Zero);        // 20:00 New York
        var nextMorning = new DateTimeOffset(2026, 12, 2, 14, 0, 0, TimeSpan.Zero);     // 09:00 New York
        var expected = new Dictionary<string, DateTimeOffset[]>(StringComparer.Ordinal)
        {
            ["+12125550101"] = [T0, T0.AddMinutes(10), T0.AddMinutes(20)],
            ["+12125550102"] = [T0, T0.AddHours(1), T0.AddHours(2)],
            ["+12125550103"] = [T0, T0.AddMinutes(5), T0.AddMinutes(10)],
            ["+12125550104"] = [T0, T0.AddHours(2), nextMorning],
            ["+12125550105"] = [T0],
            ["+12125550106"] = [T0],
        };
        var moments = expected.Values.SelectMany(d => d).Where(d => d > T0).Distinct().Order().ToList();
        foreach (var due in moments)
        {
            if (due == nextMorning)
            {
                // The machine's retry is due at 21:00, outside the window: a round then, and at the window's end,
                // dials nothing and puts the lead back to the next opening; a round a second before it dials nothing.
                var before = await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}'");
                await RoundAtAsync(dialer, campaign, windowEnd);
                await RoundAtAsync(dialer, campaign, T0.AddHours(4));
                Assert.Equal(before, await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}'"));
                Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND phone_number = '+12125550104' AND status = 'open' AND next_attempt_at = timestamptz '2026-12-02 14:00:00+00'"));
            }

            var dialledBefore = await AttemptListAsync(campaign);
            await RoundAtAsync(dialer, campaign, due - TimeSpan.FromSeconds(1));
            Assert.True(dialledBefore.Count == (await AttemptListAsync(campaign)).Count, $"something was dialled at {due - TimeSpan.FromSeconds(1):O}, a second before the next retry was due:\n{await AttemptsAsync(campaign)}");
            await RoundAtAsync(dialer, campaign, due);
            var now = await AttemptListAsync(campaign);
            var dueHere = expected.Where(e => e.Value.Contains(due)).Select(e => e.Key).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(dueHere, now.Skip(dialledBefore.Count).Select(a => a.Lead).Order(StringComparer.Ordinal));
            Assert.All(now.Skip(dialledBefore.Count), a => Assert.Equal(due, a.DialedAt));
        }

        // Three hours more: nobody is dialled again (three attempts each, the invalid number and the person once).
        await RoundAtAsync(dialer, campaign, nextMorning.AddHours(3));
        var attempts = await AttemptListAsync(campaign);
        TestContext.Current.SendDiagnosticMessage(await AttemptsAsync(campaign));
        foreach (var (lead, times) in expected)
        {
            Assert.Equal(times, attempts.Where(a => a.Lead == lead).Select(a => a.DialedAt));
        }

        // Never early: every retry at least its outcome's delay after the end of the attempt before it.
        foreach (var group in attempts.GroupBy(a => a.Lead))
        {
            foreach (var (previous, next) in group.Zip(group.Skip(1)))
            {
                Assert.True(next.DialedAt >= previous.EndedAt + RetryAfter[previous.Outcome], $"{group.Key}: dialled at {next.DialedAt:O}, its {previous.Outcome} ended {previous.EndedAt:O}");
            }
        }

        // Never outside 09:00-20:00 New York.
        var newYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        Assert.All(attempts, a => Assert.InRange(TimeZoneInfo.ConvertTime(a.DialedAt, newYork).TimeOfDay, TimeSpan.FromHours(9), TimeSpan.FromHours(20)));

        // Final states: exhausted after three, the invalid number marked after one, the person reached.
        Assert.Equal(
            "+12125550101 attempts_exhausted 3,+12125550102 attempts_exhausted 3,+12125550103 attempts_exhausted 3,+12125550104 attempts_exhausted 3,+12125550105 invalid_number 1,+12125550106 reached 1",
            await Database.ScalarAsync<string>($"SELECT string_agg(format('%s %s %s', phone_number, status, attempts), ',' ORDER BY phone_number) FROM dialer_leads WHERE campaign_id = '{campaign}'", Ct));

        // The records: every attempt with its outcome and hang-up cause (unanswered ones carry the network's cause),
        // and one outbound call row per attempt whose disposition and customer leg's cause match it.
        Assert.Equal(0, await CountAsync($"""
            SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND NOT (
                   (outcome = 'Busy' AND hangup_cause = 17) OR (outcome = 'NoAnswer' AND hangup_cause = 19)
                OR (outcome = 'Congestion' AND hangup_cause = 34) OR (outcome = 'InvalidNumber' AND hangup_cause = 1)
                OR (outcome = 'Machine' AND answered_by = 'Machine' AND agent_id IS NULL)
                OR (outcome = 'HumanAnswer' AND agent_connected_at IS NOT NULL AND NOT abandoned))
            """));
        await WaitUntilAsync(async () => await CountAsync($"SELECT count(*) FROM calls WHERE campaign_id = '{campaign}'") == attempts.Count
                && await CountAsync($"SELECT count(*) FROM calls WHERE campaign_id = '{campaign}' AND agent_id IS NOT NULL AND wrap_up_seconds = 5") == 1,
            "a call row per attempt, the answered one with its wrap-up", TimeSpan.FromSeconds(20), () => AttemptsAsync(campaign));
        var mismatched = await Database.ScalarAsync<string>($"""
            SELECT coalesce(string_agg(format('%s %s/%s cause %s/%s', a.call_id, a.outcome, c.disposition, a.hangup_cause, l.hangup_cause), E'\n'), '')
            FROM dialer_attempts a
            LEFT JOIN calls c ON c.call_id = a.call_id
            LEFT JOIN call_legs l ON l.call_id = a.call_id AND l.party = 'customer'
            WHERE a.campaign_id = '{campaign}' AND (c.call_id IS NULL OR l.call_id IS NULL OR c.started_at <> a.dialed_at OR c.direction <> 'outbound'
               OR l.hangup_cause IS DISTINCT FROM a.hangup_cause
               OR c.disposition <> CASE a.outcome WHEN 'HumanAnswer' THEN 'answered' WHEN 'Busy' THEN 'busy'
                                                  WHEN 'NoAnswer' THEN 'no_answer' WHEN 'Machine' THEN 'no_answer' ELSE 'failed' END)
            """, Ct);
        Assert.True(mismatched.Length == 0, "Call rows that do not match their attempt:\n" + mismatched);
    }
}
