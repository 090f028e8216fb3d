using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.Dialer;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// Issue 10's end-to-end campaign on one fake clock: 500 leads with mixed customers (people, busy,
/// never answering, congestion, invalid numbers, answering machines told apart by AMD) in two time zones,
/// paced predictively by two service instances on one database (four agents each) through one PbxSim,
/// dialled to completion over a simulated afternoon, evening and next morning. The dialers' clock
/// (<see cref="OutboundDialer.ClockServiceKey"/>) and PbxSim's (rings, talks, AMD, hang-ups) are the
/// same <see cref="SteppedClock"/>; the test moves it from one scheduled instant to the next, and only once
/// nothing is in flight (<see cref="DialerActivity"/>, PbxSim's events all read, call records written), so
/// the run is the same at any machine load and every time in the records is exact. Checked: every retry
/// dialled at its due instant (the end of the attempt before plus the outcome's delay, or the lead's next
/// window opening) and not a round later; never outside 09:00-20:00 in the lead's zone; invalid numbers
/// once; at most three attempts; no lead or number in two calls at once, though both instances dial; every
/// attempt an attempt row, a call row and its ledger rows.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class FiveHundredLeadsFakeClockTests : IAsyncLifetime
{
    // 16:00 in New York (EST, UTC-5), 13:00 in Los Angeles, on a Tuesday. The campaign calls 09:00-20:00 local.
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 21, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Round = TimeSpan.FromSeconds(1); // planIntervalSeconds
    private static readonly TimeZoneInfo NewYork = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
    private static readonly TimeZoneInfo LosAngeles = TimeZoneInfo.FindSystemTimeZoneById("America/Los_Angeles");

    // Retry delays per outcome (seconds), all longer than the first pass through the list, so every retry comes due
    // when no fresh lead waits before it (the hopper hands out leads never tried first).
    private static readonly Dictionary<string, int> RetrySeconds = new(StringComparer.Ordinal)
    {
        ["Busy"] = 1800, ["NoAnswer"] = 2700, ["Congestion"] = 1200, ["Machine"] = 7200, ["Abandoned"] = 3600,
    };

    private static readonly string[] Instances = ["a", "b"];
    private static readonly string[] Phones = ["4101", "4102", "4103", "4104", "4105", "4106", "4107", "4108"];

    private readonly SteppedClock _clock = new(Start - TimeSpan.FromSeconds(30));
    private readonly System.Diagnostics.Stopwatch _real = new();
    private FakeClockDialers _floor = null!;

    // The whole run, in real time: about 2 minutes at load 50 (docs/dialer.md).
    private static readonly TimeSpan RealLimit = TimeSpan.FromMinutes(15);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Database => _floor.Database;

    public async ValueTask InitializeAsync() =>
        _floor = await FakeClockDialers.StartAsync("fake500", _clock, pbxOnTheClock: true, Instances.Select(Application), Phones, abandonMessage: TimeSpan.FromSeconds(3));

    public ValueTask DisposeAsync() => _floor.DisposeAsync();

    private static string Application(string instance) => "dialer-" + instance;

    private Task<long> CountAsync(string sql) => _floor.CountAsync(sql, Ct);

    /// <summary>
    /// Moves the clock from one scheduled instant to the next, each time once nothing is in flight, until
    /// <paramref name="done"/> holds. While no call is up, no agent busy and no lead due or claimed, rounds can dial
    /// nothing and nothing else can happen for the dialers (PbxSim's timers are then the agents' music on hold), so
    /// the clock goes straight to the next lead's due time: an hour's wait, or the night, in one move.
    /// </summary>
    private Task DriveAsync(string campaign, string what, Func<Task<bool>> done, DateTimeOffset fakeLimit) =>
        _floor.DriveAsync(_clock, what, done, fakeLimit, async () => $"{await StatsAsync()}. {Tail(await SummaryAsync(campaign))}", Ct,
            skipTo: async next =>
            {
                // Null (DBNull) while a lead is due or claimed, or none is open.
                var due = await Database.ScalarAsync<object>($"""
                    SELECT CASE WHEN bool_or(next_attempt_at IS NULL OR claimed_by IS NOT NULL) THEN NULL ELSE min(next_attempt_at) END
                    FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'
                    """, Ct);
                return due is DateTime utc && new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)) is var nextLead && nextLead > next && await IdleAsync(campaign)
                    ? nextLead
                    : next;
            },
            realLimit: RealLimit, realSince: _real);

    /// <summary>No call of the campaign up and no agent talking or wrapping up, on any instance.</summary>
    private async Task<bool> IdleAsync(string campaign)
    {
        if (await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL") > 0)
        {
            return false;
        }

        foreach (var (_, dialer, _) in _floor.Instances)
        {
            if ((await dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == campaign && (s.Lines > 0 || s.AgentsBusy > 0 || s.AgentsIdle < s.AgentsLoggedIn)))
            {
                return false;
            }
        }

        return true;
    }

    private async Task<string> StatsAsync()
    {
        var stats = new List<string>();
        foreach (var (_, dialer, _) in _floor.Instances)
        {
            stats.AddRange((await dialer.GetStatsAsync(Ct)).Select(s => $"{dialer.InstanceId}: {s}"));
        }

        return string.Join("; ", stats);
    }

    private static string Tail(string text) => text.Length <= 6000 ? text : "…" + text[^6000..];

    private Task<string> SummaryAsync(string campaign) => Database.ScalarAsync<string>($"""
        SELECT coalesce(string_agg(format('%s lead %s %s dialed=%s ended=%s %s cause=%s agent=%s abandoned=%s', instance_id, lead_id, phone_number, dialed_at, ended_at, outcome, hangup_cause, agent_id, abandoned), E'\n' ORDER BY attempt_id), '')
            || E'\nopen: ' || (SELECT coalesce(string_agg(format('%s %s claimed=%s next=%s attempts=%s', lead_id, phone_number, claimed_by, next_attempt_at, attempts), '; '), '')
                                FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open')
        FROM dialer_attempts WHERE campaign_id = '{campaign}'
        """, Ct);

    /// <summary>Lead i's customer: half are people, the rest busy, never answering, congestion, machines and invalid numbers, spread over the list.</summary>
    private static DialledCustomerKind KindOf(int i) => (i % 20) switch
    {
        1 or 9 or 15 => DialledCustomerKind.Busy,
        3 or 13 => DialledCustomerKind.NoAnswer,
        5 or 19 => DialledCustomerKind.Congestion,
        7 or 17 => DialledCustomerKind.Machine,
        11 => DialledCustomerKind.Invalid,
        _ => DialledCustomerKind.Person,
    };

    /// <summary>
    /// Lead i's number: New York (212) or Los Angeles (415). Machines are in Los Angeles but five: a machine is tried
    /// at 16:00-ish, 18:00-ish and 20:00-ish New York time, so the New York ones' third try falls after the window and
    /// waits for 09:00 the next morning (five, fewer than the agents, so they are all dialled in that first round).
    /// </summary>
    private static string NumberOf(int i)
    {
        var newYork = KindOf(i) == DialledCustomerKind.Machine ? i % 100 == 7 : i % 2 == 0;
        return string.Create(CultureInfo.InvariantCulture, $"+1{(newYork ? "212" : "415")}555{i:D4}");
    }

    private static TimeZoneInfo ZoneOf(string number) => number.StartsWith("+1212", StringComparison.Ordinal) ? NewYork : LosAngeles;

    /// <summary>When a retry due at <paramref name="due"/> may be dialled: then, or at the next 09:00 in the lead's zone if that is outside 09:00-20:00.</summary>
    private static DateTimeOffset InWindow(DateTimeOffset due, TimeZoneInfo zone)
    {
        var local = TimeZoneInfo.ConvertTime(due, zone);
        if (local.TimeOfDay >= TimeSpan.FromHours(9) && local.TimeOfDay < TimeSpan.FromHours(20))
        {
            return due;
        }

        var day = local.TimeOfDay < TimeSpan.FromHours(9) ? local.Date : local.Date.AddDays(1);
        var opening = day.AddHours(9);
        return new DateTimeOffset(opening, zone.GetUtcOffset(opening)).ToUniversalTime();
    }

    private sealed record Attempt(string Instance, long LeadId, string Number, DateTimeOffset DialedAt, DateTimeOffset EndedAt, string Outcome, int? Cause, bool Abandoned, bool Served, string? AnsweredBy);

    private async Task<List<Attempt>> AttemptsAsync(string campaign)
    {
        var list = new List<Attempt>();
        await using var command = Database.DataSource.CreateCommand($"""
            SELECT instance_id, lead_id, phone_number, dialed_at, ended_at, outcome, hangup_cause, abandoned,
                   agent_connected_at IS NOT NULL AND NOT abandoned, answered_by
            FROM dialer_attempts WHERE campaign_id = '{campaign}' ORDER BY attempt_id
            """);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            list.Add(new Attempt(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetInt32(6), reader.GetBoolean(7), reader.GetBoolean(8), reader.IsDBNull(9) ? null : reader.GetString(9)));
        }

        return list;
    }

    [Fact]
    public async Task FiveHundredLeads_TwoInstancesOnOneFakeClock_EveryRetryAtItsDueInstant_NeverOutsideTheWindow_NoDoubleDials_EveryAttemptRecorded()
    {
        const int leads = 500;
        _floor.Pbx.DialledCustomers = new DialledCustomers
        {
            RingSeconds = 4, TalkSeconds = 12, MachineMessageSeconds = 6, AmdSeconds = 2,
            Numbers = Enumerable.Range(0, leads).ToDictionary(i => NumberOf(i)[1..], KindOf, StringComparer.Ordinal),
        };

        var campaign = "fake500" + Guid.NewGuid().ToString("N")[..6];
        var store = new CampaignStore(Database.DataSource, TimeProvider.System);
        await store.PutAsync(CampaignDefinition.Parse($$"""
            { "id": "{{campaign}}", "agentGroup": "sales", "mode": "Predictive", "predictiveWarmUpCalls": 40,
              "callerId": "+18005550100", "callerName": "Acme", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["09:00-20:00"] }, "start": "{{Start.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}}",
              "maxConcurrentLines": 40, "maxAttempts": 3,
              "retrySeconds": { "busy": {{RetrySeconds["Busy"]}}, "noAnswer": {{RetrySeconds["NoAnswer"]}}, "congestion": {{RetrySeconds["Congestion"]}},
                                "machine": {{RetrySeconds["Machine"]}}, "rejected": 14400, "abandoned": {{RetrySeconds["Abandoned"]}} },
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 15, "wrapUpSeconds": 3,
              "timeZones": { "+1212": "America/New_York", "+1415": "America/Los_Angeles" } }
            """), "test", Ct);
        var imported = await _floor.ImportAsync(campaign, Enumerable.Range(0, leads).Select(i => (NumberOf(i), $"Customer {i} {KindOf(i)}")), "fake500.csv", Ct);
        Assert.Equal(leads, imported);
        await store.SetStateAsync(campaign, CampaignState.Running, "test", Ct);

        // Two service instances on the database and the PbxSim, each with its own dialer application, on the one clock.
        foreach (var instance in Instances)
        {
            await _floor.StartDialerAsync(Application(instance), "fake500-" + instance, settings =>
            {
                settings.PlanIntervalSeconds = Round.TotalSeconds;
                settings.CampaignRefreshSeconds = 5;
            }, Ct);
        }

        // Four agents on each instance's nailed-up lines before the campaign's start. Each dialer starts the campaign at
        // its first round, which it runs when it starts (the clock stands still meanwhile).
        _real.Start();
        foreach (var (_, dialer, _) in _floor.Instances)
        {
            using var started = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            started.CancelAfter(TimeSpan.FromSeconds(60));
            while (!(await dialer.GetStatsAsync(started.Token)).Any(s => s.CampaignId == campaign))
            {
                await Task.Delay(20, started.Token);
            }
        }

        await _floor.SettleAsync(null, Ct);
        for (var i = 0; i < Phones.Length; i++)
        {
            var dialer = _floor.Instances[i % _floor.Instances.Count].Dialer;
            var agent = $"71{i:D2}";
            var joined = await dialer.JoinAsync(campaign, agent, "PJSIP/" + Phones[i], Ct);
            Assert.True(joined is null, $"agent {agent}: {joined}");
        }

        await DriveAsync(campaign, "every agent on the nailed-up line", async () =>
        {
            foreach (var (_, dialer, _) in _floor.Instances)
            {
                if (!(await dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == campaign && s.AgentsIdle == Phones.Length / _floor.Instances.Count))
                {
                    return false;
                }
            }

            return true;
        }, Start - TimeSpan.FromSeconds(1));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}'"));

        // From 16:00 New York to completion (the last tries are the next morning), nothing else moving the clock.
        await DriveAsync(campaign, "every lead closed", async () =>
            await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'") == 0
            && await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL") == 0,
            Start.AddDays(1));
        var attempts = await AttemptsAsync(campaign);
        var outcomeCounts = string.Join(", ", attempts.GroupBy(a => a.Outcome + (a.Abandoned ? "/abandoned" : "")).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
        var instanceCounts = string.Join(", ", attempts.GroupBy(a => a.Instance).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} dialled {g.Count()}"));
        TestContext.Current.SendDiagnosticMessage(string.Create(CultureInfo.InvariantCulture,
            $"{attempts.Count} attempts of {leads} leads, {_floor.Steps} clock steps from {Start:O} to {_clock.GetUtcNow():O}, {_real.Elapsed.TotalSeconds:0.0} s real; {outcomeCounts}; {instanceCounts}"));

        // Both instances dialled; no lead and no number was ever in two calls at once.
        Assert.All(_floor.Instances, h => Assert.Contains(attempts, a => a.Instance == h.Dialer.InstanceId));
        var overlapping = attempts.SelectMany((x, i) => attempts.Skip(i + 1).Where(y => (y.LeadId == x.LeadId || y.Number == x.Number) && x.DialedAt < y.EndedAt && y.DialedAt < x.EndedAt)
            .Select(y => $"lead {x.LeadId} {x.Number}: {x.Instance} {x.DialedAt:O}-{x.EndedAt:O} and {y.Instance} {y.DialedAt:O}-{y.EndedAt:O}")).ToList();
        Assert.True(overlapping.Count == 0, "Dialled twice at once:\n" + string.Join('\n', overlapping));

        // Never outside 09:00-20:00 in the lead's zone; at most three attempts.
        Assert.All(attempts, a => Assert.InRange(TimeZoneInfo.ConvertTime(a.DialedAt, ZoneOf(a.Number)).TimeOfDay, TimeSpan.FromHours(9), TimeSpan.FromHours(20) - TimeSpan.FromTicks(1)));
        var byLead = attempts.GroupBy(a => a.Number).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        Assert.Equal(leads, byLead.Count);
        Assert.All(byLead.Values, tries => Assert.InRange(tries.Count, 1, 3));

        // The premise of exact retry times: the first pass was over before the first retry came due (the hopper gives
        // leads never tried first, so a retry due during the first pass would wait behind them).
        var firstPassEnd = byLead.Values.Max(t => t[0].DialedAt);
        var firstRetryDue = byLead.Values.Where(t => t.Count > 1).Min(t => t[0].EndedAt + Delay(t[0]));
        TestContext.Current.SendDiagnosticMessage($"first pass dialled until {firstPassEnd:O}; first retry due {firstRetryDue:O}");
        Assert.True(firstPassEnd < firstRetryDue, $"the first pass ran until {firstPassEnd:O}, after the first retry came due at {firstRetryDue:O}");

        // Every retry at its due instant: the end of the attempt before plus its outcome's delay, or the next 09:00 in
        // the lead's zone when that is outside the window; dialled by the first round at or after it, never before.
        var timing = new List<string>();
        var pushedToMorning = 0;
        foreach (var (number, tries) in byLead)
        {
            foreach (var (previous, next) in tries.Zip(tries.Skip(1)))
            {
                var due = InWindow(previous.EndedAt + Delay(previous), ZoneOf(number));
                pushedToMorning += due != previous.EndedAt + Delay(previous) ? 1 : 0;
                if (next.DialedAt < due || next.DialedAt >= due + Round)
                {
                    timing.Add($"{number}: {previous.Outcome}{(previous.Abandoned ? "/abandoned" : "")} ended {previous.EndedAt:O}, due {due:O}, dialled {next.DialedAt:O}");
                }
            }
        }

        Assert.True(timing.Count == 0, $"{timing.Count} retries not dialled at their due instant:\n" + string.Join('\n', timing.Take(50)));
        Assert.Equal(5, pushedToMorning);

        // Each lead's tries are what its customer called for, and its final state follows from them.
        var wrong = new List<string>();
        var states = await LeadStatesAsync(campaign);
        for (var i = 0; i < leads; i++)
        {
            var number = NumberOf(i);
            var tries = byLead[number];
            var outcomes = string.Join(' ', tries.Select(t => $"{t.Outcome}/{t.Cause?.ToString(CultureInfo.InvariantCulture) ?? "-"}{(t.Abandoned ? "/abandoned" : "")}{(t.Served ? "/agent" : "")}"));
            var expected = KindOf(i) switch
            {
                DialledCustomerKind.Busy => ("attempts_exhausted 3", "Busy/17 Busy/17 Busy/17"),
                DialledCustomerKind.NoAnswer => ("attempts_exhausted 3", "NoAnswer/19 NoAnswer/19 NoAnswer/19"),
                DialledCustomerKind.Congestion => ("attempts_exhausted 3", "Congestion/34 Congestion/34 Congestion/34"),
                DialledCustomerKind.Invalid => ("invalid_number 1", "InvalidNumber/1"),
                DialledCustomerKind.Machine => ("attempts_exhausted 3", null),
                _ => (null, null),
            };
            var state = states[number];
            var ok = KindOf(i) switch
            {
                DialledCustomerKind.Machine => state == expected.Item1 && tries.All(t => t.Outcome == "Machine" && t.AnsweredBy == "Machine" && !t.Served),
                DialledCustomerKind.Person => tries.All(t => t.Outcome == "HumanAnswer") && tries[^1].Served && tries.SkipLast(1).All(t => t.Abandoned)
                    && state == $"reached {tries.Count}",
                _ => state == expected.Item1 && outcomes == expected.Item2,
            };
            if (!ok)
            {
                wrong.Add($"{number} ({KindOf(i)}): {state}: {outcomes}");
            }
        }

        Assert.True(wrong.Count == 0, "Leads whose attempts or final state do not match their customer:\n" + string.Join('\n', wrong.Take(50)));

        // The compliance ledger: a live-answer row per person answered, abandons within 3 %, each abandoned person still
        // there after the 2 s heard the message, every unanswered ring at least 15 s.
        var humans = attempts.Count(a => a.Outcome == "HumanAnswer");
        var abandons = attempts.Count(a => a.Abandoned);
        Assert.Equal(humans, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{campaign}' AND kind IN ('LiveAnswerConnected', 'Abandoned')"));
        Assert.Equal(abandons, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{campaign}' AND kind = 'Abandoned'"));
        Assert.True(abandons <= 0.03 * humans, $"{abandons} abandons of {humans} live answers is over 3 %");
        Assert.Equal(await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND abandoned AND agent_connected_at IS NULL"),
            await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{campaign}' AND kind = 'MessagePlayed' AND message = 'acme-abandon'"));
        Assert.Equal(attempts.Count(a => a.Outcome == "Machine"), await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{campaign}' AND kind = 'MachineAnswer'"));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{campaign}' AND kind = 'Unanswered' AND outcome = 'NoAnswer' AND ring_ms < 15000"));

        // The records: one outbound call row per attempt, matching it (written before the clock last moved).
        Assert.Equal(attempts.Count, await CountAsync($"SELECT count(*) FROM calls WHERE campaign_id = '{campaign}'"));
        var mismatched = await Database.ScalarAsync<string>($"""
            SELECT coalesce(string_agg(format('%s %s/%s agent %s/%s cause %s/%s', a.call_id, a.outcome, c.disposition, a.agent_id, c.agent_id, a.hangup_cause, l.hangup_cause), E'\n'), '')
            FROM dialer_attempts a
            LEFT JOIN calls c ON c.call_id = a.call_id
            LEFT JOIN call_legs l ON l.call_id = a.call_id AND l.party = 'customer'
            WHERE a.campaign_id = '{campaign}' AND (c.call_id IS NULL OR l.call_id IS NULL OR c.direction <> 'outbound' OR c.started_at <> a.dialed_at
               OR c.lead_id <> a.lead_id::text OR c.callee <> a.phone_number OR l.hangup_cause IS DISTINCT FROM a.hangup_cause
               OR c.agent_id IS DISTINCT FROM (CASE WHEN a.agent_connected_at IS NULL THEN NULL ELSE a.agent_id END)
               OR c.disposition <> CASE
                    WHEN a.agent_connected_at IS NOT NULL THEN 'answered'
                    WHEN a.outcome = 'HumanAnswer' THEN 'abandoned'
                    WHEN a.outcome IN ('Machine', 'NoAnswer') THEN 'no_answer'
                    WHEN a.outcome = 'Busy' THEN 'busy'
                    ELSE 'failed' END
               OR (c.disposition = 'answered' AND (c.talk_seconds <= 0 OR c.wrap_up_seconds <> 3)))
            """, Ct);
        Assert.True(mismatched.Length == 0, "Call rows that do not match their attempt:\n" + mismatched);
    }

    private static TimeSpan Delay(Attempt attempt) =>
        TimeSpan.FromSeconds(RetrySeconds[attempt.Abandoned ? "Abandoned" : attempt.Outcome]);

    private async Task<Dictionary<string, string>> LeadStatesAsync(string campaign)
    {
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = Database.DataSource.CreateCommand($"SELECT phone_number, status, attempts, claimed_by IS NULL FROM dialer_leads WHERE campaign_id = '{campaign}'");
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            states[reader.GetString(0)] = string.Create(CultureInfo.InvariantCulture, $"{reader.GetString(1)} {reader.GetInt32(2)}{(reader.GetBoolean(3) ? "" : " (still claimed)")}");
        }

        return states;
    }
}
