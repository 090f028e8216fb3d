using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>
/// Issue 10: the abandon limit held with two dialer instances on one campaign. The headroom is read, and the lines each
/// instance puts at risk of abandon are written, under the campaign's lock (migration 0045), as the service's round
/// does it (<c>OutboundDialer.PlanAsync</c>: lease, <see cref="TrunkLease.AbandonBudgetAsync"/>, <see cref="CampaignDialer.Plan"/>,
/// <see cref="TrunkLease.SetAbandonExposureAsync"/>, commit).
/// </summary>
public sealed class AbandonHeadroomTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly TimeSpan Window = TimeSpan.FromDays(30);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // One ready agent and seven talking on each instance, 55 s into calls that have always lasted 60 s: predictive
    // counts on them being free by the time new lines answer, and dials for eight agents.
    private static readonly AgentSnapshot Agents = new(8, 1, [.. Enumerable.Range(0, 7).Select(_ => new BusyAgent(TimeSpan.FromSeconds(55)))]);

    /// <summary>A predictive dialer of the campaign on one instance, its statistics warmed up (20 % live answers, 60 s talks, 1 s wrap-ups), its own ledger empty.</summary>
    private static CampaignDialer NewDialer(string campaignId, string instance)
    {
        var estimator = new PacingEstimator();
        for (var i = 0; i < 200; i++)
        {
            estimator.RecordDial(i % 5 == 0, TimeSpan.FromSeconds(8));
        }

        for (var i = 0; i < 40; i++)
        {
            estimator.RecordTalk(TimeSpan.FromSeconds(60));
            estimator.RecordWrapUp(TimeSpan.FromSeconds(1));
        }

        var definition = DialerDataKit.Definition(campaignId);
        var campaign = definition.Campaign with
        {
            Mode = DialingMode.Predictive, AbandonMessage = "acme-abandon", Windows = CallingWindows.EveryDay(TimeOnly.MinValue, TimeOnly.MaxValue), MaxConcurrentLines = 40, PredictiveWarmUpCalls = 20,
        };
        return new CampaignDialer(campaign, definition.Zones, estimator: estimator) { CallIdPrefix = campaignId + instance };
    }

    private static IEnumerable<Lead> Leads(string instance) =>
        Enumerable.Range(0, 40).Select(i => new Lead { Id = string.Create(CultureInfo.InvariantCulture, $"{(instance == "a" ? 1 : 2)}{i:D3}"), PhoneNumber = string.Create(CultureInfo.InvariantCulture, $"+1212555{(instance == "a" ? 1 : 2)}{i:D3}") });

    private static LedgerEntry Row(DateTimeOffset at, int i, bool abandoned) =>
        new(at, abandoned ? LedgerEntryKind.Abandoned : LedgerEntryKind.LiveAnswerConnected, $"old-{i}", "1", "+12125550000",
            abandoned ? null : TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(8), null, CallOutcome.HumanAnswer);

    /// <summary>
    /// The worst case of every line in flight: each person answers at once, the ready agent takes the first, nobody else
    /// comes free within the 2 s, so the rest are abandoned. Returns the campaign's live answers and abandons afterwards.
    /// </summary>
    private static (int Live, int Abandons) EveryLineAnswersAtOnce(DateTimeOffset at, AbandonTally stored, params CampaignDialer[] dialers)
    {
        foreach (var dialer in dialers)
        {
            var ready = Agents.Ready;
            foreach (var call in dialer.Calls.ToList())
            {
                dialer.OnAnswered(call.CallId, at, CallOutcome.HumanAnswer);
                if (ready-- > 0)
                {
                    dialer.OnAgentConnected(call.CallId, at);
                }
                else
                {
                    dialer.OnAbandoned(call.CallId, at + TimeSpan.FromSeconds(2), messagePlayed: true);
                }
            }
        }

        return (stored.LiveAnswers + dialers.Sum(d => d.Ledger.CampaignToDate.LiveAnswers - d.Ledger.RecordedElsewhere.ToDate.LiveAnswers),
                stored.Abandons + dialers.Sum(d => d.Ledger.CampaignToDate.Abandons - d.Ledger.RecordedElsewhere.ToDate.Abandons));
    }

    /// <summary>100 live answers stored by an earlier run, 2 of them abandoned: one more abandon fits under 3 % (3/101), two do not (4/102).</summary>
    private async Task<(string Id, AbandonTally Stored)> CampaignNearTheLimitAsync()
    {
        var id = "h" + Guid.NewGuid().ToString("N")[..10];
        var earlier = _clock.GetUtcNow().AddHours(-1);
        await new AttemptLog(fixture.Database.DataSource, "earlier-run", _clock).AppendLedgerAsync(id, [.. Enumerable.Range(0, 100).Select(i => Row(earlier.AddSeconds(i), i, i % 50 == 0))], Ct);
        foreach (var instance in new[] { "a", "b" })
        {
            await new LeadHopper(fixture.Database.DataSource, instance, _clock).HeartbeatAsync(Ct);
        }

        return (id, new AbandonTally(100, 2));
    }

    [Fact]
    public async Task TwoInstancesNearTheLimit_EachPacingOnItsOwnReadOfTheLedger_BothSpendTheLastAbandon()
    {
        // How the dialers paced before 0045 (the cause of FiveHundredLeadsFakeClockTests' 9 of 259): each instance read
        // the other instances' ledger rows (at its campaign refresh) and paced on that alone. Both see one abandon of
        // headroom (3 % of 100 minus 2), both go predictive with more lines than ready agents, and if those lines answer
        // together the campaign ends over the limit, although neither instance's own figures ever were.
        var (id, stored) = await CampaignNearTheLimitAsync();
        var log = new AttemptLog(fixture.Database.DataSource, "a", _clock);
        var now = _clock.GetUtcNow();
        var dialers = new[] { NewDialer(id, "a"), NewDialer(id, "b") };
        foreach (var (dialer, instance) in dialers.Zip(new[] { "a", "b" }))
        {
            var elsewhere = await log.TallyElsewhereAsync(id, dialer.CallIdPrefix + "-", Window, Ct);
            dialer.Ledger.SetRecordedElsewhere(elsewhere.ToDate, elsewhere.InWindow, elsewhere.FirstRowAt);
            Assert.True(dialer.Ledger.AbandonHeadroom(now) >= 1);
            var plan = dialer.Plan(now, Agents, Leads(instance), new HashSet<string>());
            Assert.Equal(DialingMode.Predictive, plan.EffectiveMode);
            Assert.True(dialer.LinesAtRiskOfAbandon(Agents) >= 1, $"instance {instance} dialled {plan.Orders.Count} lines for 1 ready agent");
        }

        var (live, abandons) = EveryLineAnswersAtOnce(now.AddSeconds(8), stored, dialers);
        Assert.True(abandons > 0.03 * live, $"{abandons} abandons of {live} live answers");
    }

    [Fact]
    public async Task TwoInstancesNearTheLimit_PacingAtOnceOnTheHeadroomReservedInPostgreSql_NeverBreakTheLimit()
    {
        // The same campaign and agents, both instances deciding at the same moment as the service does now: under the
        // campaign's lock, the headroom less the other instance's lines at risk. One of them gets the one abandon's worth
        // (one line more than its ready agent), the other none (progressive), whichever comes first.
        var (id, stored) = await CampaignNearTheLimitAsync();
        var now = _clock.GetUtcNow();
        var dialers = new Dictionary<string, CampaignDialer> { ["a"] = NewDialer(id, "a"), ["b"] = NewDialer(id, "b") };
        foreach (var dialer in dialers.Values)
        {
            // The measured rates (wallboard, the ledger's own guard) still come from the campaign refresh, as before.
            var elsewhere = await new AttemptLog(fixture.Database.DataSource, "a", _clock).TallyElsewhereAsync(id, dialer.CallIdPrefix + "-", Window, Ct);
            dialer.Ledger.SetRecordedElsewhere(elsewhere.ToDate, elsewhere.InWindow, elsewhere.FirstRowAt);
        }

        async Task<(int Budget, DialPlan Plan)> Round(string instance)
        {
            var dialer = dialers[instance];
            var lines = new TrunkLines(fixture.Database.DataSource, instance, "pbx1");
            await using var lease = await lines.LeaseAsync([TrunkBudget.OfCampaign(id, 40)], Ct);
            var budget = await lease.AbandonBudgetAsync(id, dialer.Ledger, now, unstoredAbandons: 0, Ct);
            var plan = dialer.Plan(now, Agents, Leads(instance), new HashSet<string>(), lease.Left, budget);
            await lease.SetAbandonExposureAsync(id, dialer.LinesAtRiskOfAbandon(Agents), now, Ct);
            await lease.CommitAsync(Ct);
            return (budget, plan);
        }

        var rounds = await Task.WhenAll(Task.Run(() => Round("a"), Ct), Task.Run(() => Round("b"), Ct));

        Assert.Equal(new[] { 0, 1 }, rounds.Select(r => r.Budget).Order());
        Assert.Equal(new[] { DialingMode.Predictive, DialingMode.Progressive }, rounds.OrderByDescending(r => r.Budget).Select(r => r.Plan.EffectiveMode));
        Assert.Equal(1, dialers.Values.Sum(d => d.LinesAtRiskOfAbandon(Agents)));
        var (live, abandons) = EveryLineAnswersAtOnce(now.AddSeconds(8), stored, [.. dialers.Values]);
        Assert.True(abandons <= 0.03 * live, $"{abandons} abandons of {live} live answers");

        // A third round of either instance finds nothing left to put at risk while those lines are up.
        await using var again = await new TrunkLines(fixture.Database.DataSource, "c", "pbx1").LeaseAsync([TrunkBudget.OfCampaign(id, 40)], Ct);
        Assert.Equal(0, await again.AbandonBudgetAsync(id, NewDialer(id, "c").Ledger, now, unstoredAbandons: 0, Ct));
    }

    [Fact]
    public async Task AbandonFigures_EveryInstancesStoredRows_TheWindowNeverGenerous_OnlyOtherLiveInstancesLinesAtRisk()
    {
        var id = "f" + Guid.NewGuid().ToString("N")[..10];
        var now = _clock.GetUtcNow();
        var windowStart = now - Window;

        // 40 days ago (outside the window), on the window's first day (partly inside), and an hour ago; two instances.
        await new AttemptLog(fixture.Database.DataSource, "a", _clock).AppendLedgerAsync(id, [Row(now.AddDays(-40), 1, true), Row(now.AddDays(-40), 2, false)], Ct);
        await new AttemptLog(fixture.Database.DataSource, "b", _clock).AppendLedgerAsync(id, [Row(windowStart.AddHours(1), 3, false), Row(windowStart.AddHours(1), 4, true)], Ct);
        await new AttemptLog(fixture.Database.DataSource, "a", _clock).AppendLedgerAsync(id,
            [Row(now.AddHours(-1), 5, false), Row(now.AddHours(-1), 6, false), new LedgerEntry(now.AddHours(-1), LedgerEntryKind.Unanswered, "u", "1", "+12125550000", null, TimeSpan.FromSeconds(20), null, CallOutcome.NoAnswer)], Ct);

        // Lines at risk: b's and c's count for a; a's own and dead d's do not.
        foreach (var (instance, atRisk, heartbeat) in new[] { ("a", 5, now), ("b", 2, now), ("c", 1, now - TimeSpan.FromSeconds(30)), ("d", 7, now - TimeSpan.FromSeconds(61)) })
        {
            var clock = new FakeTimeProvider(heartbeat);
            await new LeadHopper(fixture.Database.DataSource, instance, clock).HeartbeatAsync(Ct);
            await using var lease = await new TrunkLines(fixture.Database.DataSource, instance, "pbx1").LeaseAsync([TrunkBudget.OfCampaign(id, 40)], Ct);
            await lease.SetAbandonExposureAsync(id, atRisk, heartbeat, Ct);
            await lease.CommitAsync(Ct);
        }

        await using var read = await new TrunkLines(fixture.Database.DataSource, "a", "pbx1").LeaseAsync([TrunkBudget.OfCampaign(id, 40)], Ct);
        var figures = await read.AbandonFiguresAsync(id, windowStart, now - LeadHopper.ClaimLease, Ct);

        Assert.Equal(new AbandonTally(6, 2), figures.ToDate);

        // The window's first day: its abandon counts, its live answer does not (the exact window has both; this never has more headroom).
        Assert.Equal(new AbandonTally(2, 1), figures.InWindow);
        Assert.Equal(3, figures.ExposedElsewhere);

        // Read under another campaign's lock only: refused.
        await using var wrong = await new TrunkLines(fixture.Database.DataSource, "a", "pbx1").LeaseAsync([TrunkBudget.OfCampaign(id + "x", 40)], Ct);
        await Assert.ThrowsAsync<InvalidOperationException>(() => wrong.AbandonFiguresAsync(id, windowStart, now, Ct));
    }

    [Fact]
    public async Task AttemptEnd_StoredWithItsLedgerRowsInOneTransaction_NeitherWithoutTheOther()
    {
        var id = "e" + Guid.NewGuid().ToString("N")[..10];
        var definition = await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        await DialerDataKit.ImportAsync(fixture.Database, _clock, id, "phone\n2125550101\n2125550102\n", Ct);
        var hopper = new LeadHopper(fixture.Database.DataSource, "a", _clock);
        await hopper.HeartbeatAsync(Ct);
        var leads = await hopper.ClaimAsync(id, 2, Ct);
        var dialer = new CampaignDialer(definition.Campaign with { Windows = CallingWindows.EveryDay(TimeOnly.MinValue, TimeOnly.MaxValue) }, definition.Zones) { CallIdPrefix = id + "a" };
        var plan = dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(2, 2, []), leads.Select(l => l.Lead), new HashSet<string>());
        var log = new AttemptLog(fixture.Database.DataSource, "a", _clock);
        foreach (var order in plan.Orders)
        {
            await log.StartAsync(id, order.Call, Ct);
        }

        // Both people hang up while waiting for an agent: abandoned, counted at the attempt's end.
        var at = _clock.GetUtcNow().AddSeconds(8);
        var ends = new List<AttemptResult>();
        foreach (var order in plan.Orders)
        {
            dialer.OnAnswered(order.Call.CallId, at, CallOutcome.HumanAnswer);
            ends.Add(dialer.OnCallEnded(order.Call.CallId, at.AddSeconds(1)));
        }

        Task<long> Count(string sql) => fixture.Database.ScalarAsync<long>(sql, Ct);
        var rows = dialer.Ledger.Entries;
        Assert.Equal(2, rows.Count(e => e.Kind == LedgerEntryKind.Abandoned));

        // A ledger row PostgreSQL refuses (a NUL in its text): the attempt's end is not stored either; the lead stays claimed.
        var refused = rows[0] with { PhoneNumber = "+1212\0" };
        await Assert.ThrowsAnyAsync<Npgsql.NpgsqlException>(() => log.EndAsync(new StoredAttemptEnd(ends[0], null, 16), id, [refused], Ct));
        Assert.Equal(2, await Count($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{id}' AND ended_at IS NULL"));

        // Stored together: each end with the row counted for it, and the campaign's day figures with them.
        await log.EndAsync(new StoredAttemptEnd(ends[0], null, 16), id, [rows[0]], Ct);
        Assert.Equal(1, await Count($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{id}' AND ended_at IS NOT NULL AND abandoned"));
        Assert.Equal(1, await Count($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{id}' AND kind = 'Abandoned'"));
        await log.EndAsync(new StoredAttemptEnd(ends[1], null, 16), id, [rows[1]], Ct);
        Assert.Equal(0, await Count($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{id}' AND ended_at IS NULL"));
        Assert.Equal(2, await Count($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{id}' AND kind = 'Abandoned'"));
        Assert.Equal(2, await Count($"SELECT sum(abandons)::bigint FROM dialer_ledger_days WHERE campaign_id = '{id}'"));
        Assert.Equal(0, await Count($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND claimed_by IS NOT NULL"));
    }
}
