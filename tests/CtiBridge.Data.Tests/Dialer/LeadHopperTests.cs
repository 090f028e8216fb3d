using System.Collections.Concurrent;
using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

public sealed class LeadHopperTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string NewId() => "h" + Guid.NewGuid().ToString("N")[..10];

    private LeadHopper Hopper(string instance) => new(fixture.Database.DataSource, instance, _clock);

    private async Task<string> CampaignWithLeadsAsync(int count)
    {
        var id = NewId();
        await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        var csv = "phone\n" + string.Concat(Enumerable.Range(0, count).Select(i => $"212555{i:D4}\n"));
        var report = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, csv, Ct);
        Assert.Equal(count, report.Imported);
        return id;
    }

    [Fact]
    public async Task Claim_TwoInstancesClaimingConcurrently_NeverGetTheSameLead()
    {
        var id = await CampaignWithLeadsAsync(300);
        var claimed = new ConcurrentDictionary<string, string>();
        var duplicates = new ConcurrentBag<string>();

        // Both claim in the same rounds: left to the scheduler, one instance could take all 300 leads
        // before the other's first claim at load 80 (then the test proves nothing and its "both claimed" fails).
        using var sameRound = new Barrier(2);
        async Task Dialer(string instance)
        {
            var hopper = Hopper(instance);
            await hopper.HeartbeatAsync(Ct);
            try
            {
                for (var round = 0; round < 200; round++)
                {
                    sameRound.SignalAndWait(Ct);
                    var batch = await hopper.ClaimAsync(id, 7, Ct);
                    if (batch.Count == 0)
                    {
                        return;
                    }

                    foreach (var lead in batch)
                    {
                        if (!claimed.TryAdd(lead.Lead.Id, instance))
                        {
                            duplicates.Add(lead.Lead.Id);
                        }
                    }
                }
            }
            finally
            {
                sameRound.RemoveParticipant();
            }
        }

        await Task.WhenAll(Task.Run(() => Dialer("a"), Ct), Task.Run(() => Dialer("b"), Ct));

        Assert.Empty(duplicates);
        Assert.Equal(300, claimed.Count);
        Assert.Contains("a", claimed.Values);
        Assert.Contains("b", claimed.Values);
        Assert.Equal(300, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{id}' AND claimed_by IS NOT NULL", Ct));
    }

    [Fact]
    public async Task Claim_OfAnInstanceThatStoppedBeating_IsFreeAfterTheLease()
    {
        var id = await CampaignWithLeadsAsync(3);
        var dead = Hopper("dead");
        var alive = Hopper("alive");
        await dead.HeartbeatAsync(Ct);
        Assert.Equal(3, (await dead.ClaimAsync(id, 10, Ct)).Count);

        _clock.Advance(LeadHopper.ClaimLease - TimeSpan.FromSeconds(1));
        await alive.HeartbeatAsync(Ct);
        Assert.Empty(await alive.ClaimAsync(id, 10, Ct));

        _clock.Advance(TimeSpan.FromSeconds(2));
        await alive.HeartbeatAsync(Ct);
        Assert.Equal(3, (await alive.ClaimAsync(id, 10, Ct)).Count);
    }

    [Fact]
    public async Task Release_WithNotBefore_HoldsTheLeadUntilThen()
    {
        var id = await CampaignWithLeadsAsync(2);
        var hopper = Hopper("one");
        await hopper.HeartbeatAsync(Ct);
        var leads = await hopper.ClaimAsync(id, 10, Ct);

        await hopper.ReleaseAsync([(leads[0].Lead.Id, _clock.GetUtcNow().AddHours(1)), (leads[1].Lead.Id, null)], Ct);

        var again = await hopper.ClaimAsync(id, 10, Ct);
        Assert.Equal(leads[1].Lead.Id, Assert.Single(again).Lead.Id);
        _clock.Advance(TimeSpan.FromHours(1));
        await hopper.HeartbeatAsync(Ct);
        Assert.Equal(leads[0].Lead.Id, Assert.Single(await hopper.ClaimAsync(id, 10, Ct)).Lead.Id);
    }

    [Fact]
    public async Task EndAttempt_StoresTheAttemptAndTheLeadsRetry_ThenDispositionAndRecycle()
    {
        var id = await CampaignWithLeadsAsync(1);
        var definition = DialerDataKit.Definition(id);
        var hopper = Hopper("one");
        var log = new AttemptLog(fixture.Database.DataSource, "one", _clock);
        await hopper.HeartbeatAsync(Ct);
        var dialer = new CampaignDialer(definition.Campaign with { Windows = CallingWindows.EveryDay(TimeOnly.MinValue, TimeOnly.MaxValue) }, definition.Zones);
        var lead = Assert.Single(await hopper.ClaimAsync(id, 10, Ct)).Lead;
        var plan = dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(1, 1, []), [lead], new HashSet<string>());
        var call = Assert.Single(plan.Orders).Call;
        await log.StartAsync(id, call, Ct);

        _clock.Advance(TimeSpan.FromSeconds(3));
        var busy = dialer.OnCallEnded(call.CallId, _clock.GetUtcNow(), CallOutcome.Busy);
        await log.EndAsync(new StoredAttemptEnd(busy, null, 17), Ct);
        await log.AppendLedgerAsync(id, dialer.Ledger.Entries, Ct);

        string Sql(string where) => $"SELECT count(*) FROM dialer_leads WHERE lead_id = {lead.Id} AND {where}";
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>(Sql("status = 'open' AND attempts = 1 AND last_outcome = 'Busy' AND claimed_by IS NULL AND next_attempt_at = '2026-11-30T15:10:03Z'"), Ct));
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{call.CallId}' AND outcome = 'Busy' AND hangup_cause = 17 AND ended_at IS NOT NULL", Ct));
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{id}' AND kind = 'Unanswered' AND ring_ms = 3000", Ct));
        Assert.Empty(await hopper.ClaimAsync(id, 10, Ct)); // not due for 10 minutes

        // Call back later: the agent's disposition moves the next attempt.
        var callback = _clock.GetUtcNow().AddDays(1);
        Assert.True(await log.SetDispositionAsync(call.CallId, "call-back-later", callback, "agent7", Ct));
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>(Sql($"next_attempt_at = '{callback.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}' AND assigned_agent = 'agent7' AND disposition = 'call-back-later'"), Ct));

        // Recycling brings exhausted leads back; invalid numbers never.
        await fixture.Database.ScalarAsync<int>($"UPDATE dialer_leads SET status = 'attempts_exhausted', last_outcome = 'NoAnswer' WHERE lead_id = {lead.Id} RETURNING 1", Ct);
        Assert.Equal(0, await log.RecycleAsync(id, [CallOutcome.Busy], _clock.GetUtcNow(), "supervisor1", Ct));
        Assert.Equal(1, await log.RecycleAsync(id, [CallOutcome.NoAnswer, CallOutcome.Busy], _clock.GetUtcNow(), "supervisor1", Ct));
        Assert.Equal(1, await fixture.Database.ScalarAsync<long>(Sql("status = 'open' AND attempts = 0"), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => log.RecycleAsync(id, [CallOutcome.InvalidNumber], _clock.GetUtcNow(), "x", Ct));
    }
}
