using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>A trunk's lines shared by campaigns and instances (issue 10): counted and taken under one lock.</summary>
public sealed class TrunkLinesTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(string Id, CampaignDialer Dialer, IReadOnlyList<Lead> Leads)> CampaignAsync(int leads, string instance)
    {
        var id = "t" + Guid.NewGuid().ToString("N")[..10];
        var definition = await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        var csv = "phone\n" + string.Concat(Enumerable.Range(0, leads).Select(i => $"212{Random.Shared.Next(2000000, 9999999)}\n"));
        var report = await DialerDataKit.ImportAsync(fixture.Database, _clock, id, csv, Ct);
        var hopper = new LeadHopper(fixture.Database.DataSource, instance, _clock);
        await hopper.HeartbeatAsync(Ct);
        var claimed = await hopper.ClaimAsync(id, report.Imported, Ct);
        var dialer = new CampaignDialer(definition.Campaign with { Windows = CallingWindows.EveryDay(TimeOnly.MinValue, TimeOnly.MaxValue), MaxConcurrentLines = 1000 }, definition.Zones) { CallIdPrefix = id + instance };
        return (id, dialer, [.. claimed.Select(c => c.Lead)]);
    }

    [Fact]
    public async Task Lease_TwoInstancesAndTwoCampaignsRacingForTheLastLines_NeverPassTheLimit()
    {
        // Two campaigns on one trunk of 7 lines, dialled by two instances at once, each taking one line
        // per lease as long as the lease says one is left: together they take exactly 7, never 8.
        var a = await CampaignAsync(30, "a");
        var b = await CampaignAsync(30, "b");
        var trunk = new TrunkBudget("carrier", "PJSIP/carrier/", 7, [a.Id, b.Id]);
        var otherServer = new TrunkBudget("carrier", "PJSIP/carrier/", 7, [a.Id, b.Id]);
        var lines = new TrunkLines(fixture.Database.DataSource, "a", "pbx1");

        async Task<int> Instance(string instance, (string Id, CampaignDialer Dialer, IReadOnlyList<Lead> Leads) campaign)
        {
            var mine = new TrunkLines(fixture.Database.DataSource, instance, "pbx1");
            var taken = 0;
            foreach (var lead in campaign.Leads)
            {
                await using var lease = await mine.LeaseAsync(trunk, Ct);
                var plan = campaign.Dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(1000, 1000, []), [lead], new HashSet<string>(), lease.Left);
                foreach (var order in plan.Orders)
                {
                    await lease.StartAsync(campaign.Id, order.Call, Ct);
                    taken++;
                }

                await lease.CommitAsync(Ct);
            }

            return taken;
        }

        var taken = await Task.WhenAll(Task.Run(() => Instance("a", a), Ct), Task.Run(() => Instance("b", b), Ct));

        Assert.Equal(7, taken.Sum());
        Assert.Equal(7, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE ended_at IS NULL AND campaign_id IN ('{a.Id}', '{b.Id}')", Ct));
        await using (var full = await lines.LeaseAsync(trunk, Ct))
        {
            Assert.Equal((7, 0), (full.InUse, full.Left));
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => full.StartAsync(a.Id, a.Dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(1000, 1000, []), [a.Leads[^1]], new HashSet<string>()).Orders[0].Call, Ct));
            Assert.Contains("trunk 'carrier' has no line left (7 of 7 in use)", error.Message, StringComparison.Ordinal);
        }

        // The same trunk prefix on another Asterisk server is another trunk.
        await using (var elsewhere = await new TrunkLines(fixture.Database.DataSource, "c", "pbx2").LeaseAsync(otherServer, Ct))
        {
            Assert.Equal(7, elsewhere.Left);
        }

        // An attempt that ends frees its line; a lease disposed without commit stores nothing.
        await fixture.Database.ScalarAsync<int>($"UPDATE dialer_attempts SET ended_at = now(), outcome = 'Busy' WHERE attempt_id = (SELECT min(attempt_id) FROM dialer_attempts WHERE campaign_id IN ('{a.Id}', '{b.Id}')) RETURNING 1", Ct);
        await using (var one = await lines.LeaseAsync(trunk, Ct))
        {
            Assert.Equal(1, one.Left);
            var lead = a.Leads.Concat(b.Leads).First(l => a.Dialer.Calls.All(c => c.LeadId != l.Id) && b.Dialer.Calls.All(c => c.LeadId != l.Id) && a.Leads.Contains(l));
            await one.StartAsync(a.Id, a.Dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(1000, 1000, []), [lead], new HashSet<string>()).Orders[0].Call, Ct);
        }

        await using (var after = await lines.LeaseAsync(trunk, Ct))
        {
            Assert.Equal(1, after.Left);
        }
    }

    [Fact]
    public async Task Lease_UnmetDemandOfAHigherPriorityOnAnotherInstance_IsLeftToIt_UntilItLapsesOrItsInstanceDies()
    {
        // A trunk of 3 lines, none in use. Instance "hi" paces a priority-5 campaign that wanted 2 lines more
        // than it got; instance "lo" asks for lines for others.
        var high = await CampaignAsync(1, "hi");
        var low = await CampaignAsync(2, "lo");
        var trunk = new TrunkBudget("carrier", "PJSIP/prio/", 3, [high.Id, low.Id]);
        var now = _clock.GetUtcNow();
        var hi = new TrunkLines(fixture.Database.DataSource, "hi", "pbx1");
        var lo = new TrunkLines(fixture.Database.DataSource, "lo", "pbx1");
        await using (var lease = await hi.LeaseAsync([trunk], new LineRequest(high.Id, 5, now), Ct))
        {
            Assert.Equal(3, lease.Left);
            await lease.SetDemandAsync(high.Id, 5, 2, now.AddSeconds(5), Ct);
            await lease.CommitAsync(Ct);
        }

        async Task<int> LeftFor(TrunkLines lines, string campaign, int priority, DateTimeOffset at)
        {
            await using var lease = await lines.LeaseAsync([trunk], new LineRequest(campaign, priority, at), Ct);
            return lease.Left;
        }

        // A lower priority elsewhere leaves the 2 lines to it; an equal priority too when its id sorts after (rounds
        // order equal priorities by id); a higher priority does not; nor does the same instance (its own rounds go in
        // priority order), nor a lease without a request (preview dials: the agent chose the lead and waits).
        Assert.Equal(1, await LeftFor(lo, low.Id, 1, now));
        Assert.Equal(string.CompareOrdinal(high.Id, low.Id) < 0 ? 1 : 3, await LeftFor(lo, low.Id, 5, now));
        Assert.Equal(3, await LeftFor(lo, low.Id, 9, now));
        Assert.Equal(3, await LeftFor(hi, low.Id, 1, now));
        await using (var plain = await lo.LeaseAsync([trunk], Ct))
        {
            Assert.Equal(3, plain.Left);
        }

        // The campaign's own cap is not shared by priority, and the lease says why a line was refused.
        await using (var both = await lo.LeaseAsync([TrunkBudget.OfCampaign(low.Id, 10), trunk], new LineRequest(low.Id, 1, now), Ct))
        {
            Assert.Equal((1, 2, 10), (both.Left, both.Reserved, both.LeftOnCampaignCaps));
            await both.StartAsync(low.Id, low.Dialer.Plan(now, new AgentSnapshot(1000, 1000, []), [low.Leads[0]], new HashSet<string>()).Orders[0].Call, Ct);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => both.StartAsync(low.Id, low.Dialer.Plan(now, new AgentSnapshot(1000, 1000, []), [low.Leads[1]], new HashSet<string>()).Orders[0].Call, Ct));
            Assert.Contains("trunk 'carrier' has no line left (1 of 3 in use, 2 left to higher-priority campaigns on other instances)", refused.Message, StringComparison.Ordinal);
        }

        // Past its validity, or once its instance has been silent for the claim lease, the demand holds nothing back.
        Assert.Equal(3, await LeftFor(lo, low.Id, 1, now.AddSeconds(6)));
        _clock.Advance(LeadHopper.ClaimLease + TimeSpan.FromSeconds(1));
        await using (var lease = await hi.LeaseAsync([trunk], new LineRequest(high.Id, 5, now), Ct))
        {
            await lease.SetDemandAsync(high.Id, 5, 2, _clock.GetUtcNow().AddSeconds(5), Ct);
            await lease.CommitAsync(Ct);
        }

        await new LeadHopper(fixture.Database.DataSource, "lo", _clock).HeartbeatAsync(Ct);
        Assert.Equal(3, await LeftFor(lo, low.Id, 1, _clock.GetUtcNow()));

        // Written as 0, or cleared, it is gone.
        await new LeadHopper(fixture.Database.DataSource, "hi", _clock).HeartbeatAsync(Ct);
        Assert.Equal(1, await LeftFor(lo, low.Id, 1, _clock.GetUtcNow()));
        await using (var lease = await hi.LeaseAsync([trunk], new LineRequest(high.Id, 5, now), Ct))
        {
            await lease.SetDemandAsync(high.Id, 5, 0, _clock.GetUtcNow().AddSeconds(5), Ct);
            await lease.CommitAsync(Ct);
        }

        Assert.Equal(3, await LeftFor(lo, low.Id, 1, _clock.GetUtcNow()));
        Assert.Equal(0, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM dialer_line_demand WHERE campaign_id = '{high.Id}'", Ct));
    }
}
