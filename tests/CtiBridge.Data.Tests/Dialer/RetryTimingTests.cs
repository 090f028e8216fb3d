using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>
/// Retry timing on a fake clock through the dialer's own pipeline (issue 10): the PostgreSQL hopper
/// hands out the leads that are due, <see cref="CampaignDialer.Plan"/> decides (calling windows
/// included), the attempts and the leads' next times are stored by <see cref="AttemptLog"/>, and the
/// undialled go back with their next time, as the service's dialer does each round. The call itself
/// (ARI, PbxSim) is left out: each dial ends with the outcome the test gives its number, after its ring time.
/// </summary>
public sealed class RetryTimingTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    // Monday 30 November 2026, 10:00 in New York.
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Dialled(string LeadId, DateTimeOffset At);

    [Fact]
    public async Task EachOutcomeIsRetriedAfterItsDelay_NeverBefore_InsideTheCallingWindow_UpToMaxAttempts()
    {
        var id = "r" + Guid.NewGuid().ToString("N")[..10];
        var definition = CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["09:00-20:00"] }, "maxAttempts": 3, "ringTimeoutSeconds": 20,
              "retrySeconds": { "busy": 600, "noAnswer": 3600, "congestion": 300, "machine": 7200 },
              "timeZones": { "+1212": "America/New_York" } }
            """);
        await new CampaignStore(fixture.Database.DataSource, _clock).PutAsync(definition, "test", Ct);
        var imported = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, "phone\n2125550101\n2125550102\n2125550103\n2125550104\n", Ct);
        Assert.Equal(4, imported.Imported);

        // What each number does every time it is dialled, and how long it rings first.
        var script = new Dictionary<string, (CallOutcome Outcome, TimeSpan Ring)>
        {
            ["+12125550101"] = (CallOutcome.Busy, TimeSpan.FromSeconds(2)),
            ["+12125550102"] = (CallOutcome.NoAnswer, TimeSpan.FromSeconds(20)),
            ["+12125550103"] = (CallOutcome.Congestion, TimeSpan.FromSeconds(1)),
            ["+12125550104"] = (CallOutcome.Machine, TimeSpan.FromSeconds(6)),
        };
        var hopper = new LeadHopper(fixture.Database.DataSource, "retry", _clock);
        var log = new AttemptLog(fixture.Database.DataSource, "retry", _clock);
        var dialer = new CampaignDialer(definition.Campaign, definition.Zones);
        var dialled = new List<(string Number, DateTimeOffset At)>();
        var numbers = new Dictionary<string, string>();

        // One pacing round at the clock's time: claim what is due, plan, store the attempts, release the rest.
        async Task<int> RoundAsync()
        {
            await hopper.HeartbeatAsync(Ct);
            var now = _clock.GetUtcNow();
            var leads = await hopper.ClaimAsync(id, 10, Ct);
            var plan = dialer.Plan(now, new AgentSnapshot(10, 10, []), leads.Select(l => l.Lead), new HashSet<string>());
            foreach (var order in plan.Orders)
            {
                await log.StartAsync(id, order.Call, Ct);
                dialled.Add((order.Call.PhoneNumber, now));
                numbers[order.Call.CallId] = order.Call.PhoneNumber;
            }

            var reasons = plan.Skipped.ToDictionary(s => s.Lead.Id, s => s.NotBefore);
            await hopper.ReleaseAsync(leads.Where(l => plan.Orders.All(o => o.Call.LeadId != l.Lead.Id)).Select(l => (l.Lead.Id, reasons.GetValueOrDefault(l.Lead.Id))), Ct);
            return plan.Orders.Count;
        }

        // The calls up end after their ring time with their number's outcome.
        async Task EndCallsDueAsync()
        {
            foreach (var call in dialer.Calls.ToList())
            {
                var (outcome, ring) = script[call.PhoneNumber];
                if (_clock.GetUtcNow() < call.DialedAt + ring)
                {
                    continue;
                }

                var at = call.DialedAt + ring;
                if (outcome == CallOutcome.Machine)
                {
                    dialer.OnAnswered(call.CallId, at, CallOutcome.Machine);
                }

                var result = dialer.OnCallEnded(call.CallId, at + (outcome == CallOutcome.Machine ? TimeSpan.FromSeconds(1) : TimeSpan.Zero), outcome == CallOutcome.Machine ? null : outcome);
                await log.EndAsync(new StoredAttemptEnd(result, null, null), Ct);
            }
        }

        // Every second of the day and the next morning, as the service paces every second (bounded: 24 h).
        var end = _clock.GetUtcNow().AddHours(24);
        while (_clock.GetUtcNow() < end)
        {
            await EndCallsDueAsync();
            await RoundAsync();
            var next = NextMoment(dialer, script);
            var due = await NextDueAsync(id);
            var step = new[] { next, due }.Where(t => t is not null).Select(t => t!.Value).DefaultIfEmpty(end).Min();
            if (step <= _clock.GetUtcNow())
            {
                step = _clock.GetUtcNow().AddSeconds(1);
            }

            // A second before anything is due nothing is dialled; then exactly at it.
            if (step - _clock.GetUtcNow() > TimeSpan.FromSeconds(1))
            {
                _clock.SetUtcNow(step - TimeSpan.FromSeconds(1));
                await EndCallsDueAsync();
                Assert.Equal(0, await RoundAsync());
            }

            _clock.SetUtcNow(step);
            if (dialer.Calls.Count == 0 && due is null)
            {
                break;
            }
        }

        var start = new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero);
        DateTimeOffset[] At(string number) => [.. dialled.Where(d => d.Number == number).Select(d => d.At)];

        // Busy: after 10 minutes from the end of each ring (2 s), three attempts, then exhausted.
        Assert.Equal([start, start.AddSeconds(602), start.AddSeconds(1204)], At("+12125550101"));

        // No answer: the dialer gives up after the 20 s ring; an hour later again.
        Assert.Equal([start, start.AddSeconds(3620), start.AddSeconds(7240)], At("+12125550102"));

        // Congestion: 5 minutes.
        Assert.Equal([start, start.AddSeconds(301), start.AddSeconds(602)], At("+12125550103"));

        // Machine: 2 hours after the hang-up (6 s ring, 1 s greeting): 12:00:07 and 14:00:14 New York, in the window.
        Assert.Equal([start, start.AddSeconds(7207), start.AddSeconds(14414)], At("+12125550104"));

        // Every lead used its three attempts and is closed; nothing is left claimed or open.
        Assert.Equal(4, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND status = 'attempts_exhausted' AND attempts = 3 AND claimed_by IS NULL", Ct));
        Assert.Equal(12, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{id}' AND ended_at IS NOT NULL", Ct));
    }

    [Fact]
    public async Task ARetryFallingAfterTheWindowCloses_IsDialledWhenItOpensNextMorning_NeverBefore()
    {
        // 19:58 in New York: busy, retried after 10 minutes = 20:08, after the window closed at 20:00.
        _clock.SetUtcNow(new DateTimeOffset(2026, 12, 1, 0, 58, 0, TimeSpan.Zero));
        var id = "w" + Guid.NewGuid().ToString("N")[..10];
        var definition = CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["09:00-20:00"] }, "maxAttempts": 3, "retrySeconds": { "busy": 600 },
              "timeZones": { "+1212": "America/New_York" } }
            """);
        await new CampaignStore(fixture.Database.DataSource, _clock).PutAsync(definition, "test", Ct);
        Assert.Equal(1, (await DialerDataKit.ImportAsync(fixture.Database, _clock, id, "phone\n2125550199\n", Ct)).Imported);
        var hopper = new LeadHopper(fixture.Database.DataSource, "window", _clock);
        var log = new AttemptLog(fixture.Database.DataSource, "window", _clock);
        var dialer = new CampaignDialer(definition.Campaign, definition.Zones);
        await hopper.HeartbeatAsync(Ct);

        async Task<DialedCall?> RoundAsync()
        {
            var leads = await hopper.ClaimAsync(id, 10, Ct);
            var plan = dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(1, 1, []), leads.Select(l => l.Lead), new HashSet<string>());
            foreach (var order in plan.Orders)
            {
                await log.StartAsync(id, order.Call, Ct);
            }

            await hopper.ReleaseAsync(leads.Where(l => plan.Orders.All(o => o.Call.LeadId != l.Lead.Id)).Select(l => (l.Lead.Id, plan.Skipped.FirstOrDefault(s => s.Lead.Id == l.Lead.Id)?.NotBefore)), Ct);
            return plan.Orders.SingleOrDefault()?.Call;
        }

        var first = await RoundAsync();
        Assert.NotNull(first);
        _clock.Advance(TimeSpan.FromSeconds(3));
        await log.EndAsync(new StoredAttemptEnd(dialer.OnCallEnded(first.CallId, _clock.GetUtcNow(), CallOutcome.Busy), null, 17), Ct);

        // Due at 20:08:03 New York: claimed then, but outside the window: put back until 09:00.
        _clock.SetUtcNow(new DateTimeOffset(2026, 12, 1, 1, 8, 3, TimeSpan.Zero));
        Assert.Null(await RoundAsync());
        var next = await fixture.Database.ScalarAsync<DateTime>($"SELECT next_attempt_at FROM dialer_leads WHERE campaign_id = '{id}'", Ct);
        Assert.Equal(new DateTime(2026, 12, 1, 14, 0, 0, DateTimeKind.Utc), next);

        // Not at 08:59:59, and at 09:00:00 it is.
        _clock.SetUtcNow(new DateTimeOffset(2026, 12, 1, 13, 59, 59, TimeSpan.Zero));
        Assert.Null(await RoundAsync());
        _clock.SetUtcNow(new DateTimeOffset(2026, 12, 1, 14, 0, 0, TimeSpan.Zero));
        var retry = await RoundAsync();
        Assert.NotNull(retry);
        Assert.Equal(1, retry.Lead.Attempts);
    }

    private static DateTimeOffset? NextMoment(CampaignDialer dialer, Dictionary<string, (CallOutcome Outcome, TimeSpan Ring)> script) =>
        dialer.Calls.Select(c => (DateTimeOffset?)(c.DialedAt + script[c.PhoneNumber].Ring)).Min();

    private async Task<DateTimeOffset?> NextDueAsync(string campaignId)
    {
        var due = await fixture.Database.ScalarAsync<object>($"SELECT min(next_attempt_at) FROM dialer_leads WHERE campaign_id = '{campaignId}' AND status = 'open'", Ct);
        return due is DateTime t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null;
    }
}
