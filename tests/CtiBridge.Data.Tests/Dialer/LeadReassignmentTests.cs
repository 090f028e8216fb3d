using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>Leads moved between campaigns and between agents, against the real PostgreSQL; and preview claims honouring owners.</summary>
public sealed class LeadReassignmentTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    private LeadReassignment Reassignment => new(Db.DataSource, _clock);

    private async Task<string> CampaignAsync(params string[] numbers)
    {
        var id = "r" + Guid.NewGuid().ToString("N")[..10];
        await DialerDataKit.CreateCampaignAsync(Db, _clock, id, Ct);
        if (numbers.Length > 0)
        {
            Assert.Equal(numbers.Length, (await DialerDataKit.ImportAsync(Db, _clock, id, "phone\n" + string.Join('\n', numbers) + "\n", Ct)).Imported);
        }

        return id;
    }

    private Task<long> LeadIdAsync(string campaign, string number) =>
        Db.ScalarAsync<long>($"SELECT lead_id FROM dialer_leads WHERE campaign_id = '{campaign}' AND phone_number = '+1{number}'", Ct);

    private Task<long> CountAsync(string sql) => Db.ScalarAsync<long>(sql, Ct);

    private async Task ExecAsync(string sql, CancellationToken ct)
    {
        await using var command = Db.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(ct);
    }

    [Fact]
    public async Task Move_LeadsStartAfreshInTheTarget_InCallInvalidDuplicateAndUnknownLeadsStayAndAreReported()
    {
        var from = await CampaignAsync("2125550100", "2125550101", "2125550102", "2125550103", "2125550104");
        var to = await CampaignAsync("2125550103");
        var ids = new Dictionary<string, long>();
        foreach (var n in new[] { "2125550100", "2125550101", "2125550102", "2125550103", "2125550104" })
        {
            ids[n] = await LeadIdAsync(from, n);
        }

        // 0100 was tried twice and belongs to agent 7; 0101 is an invalid number; 0102 is being dialled by a live instance now.
        await ExecAsync($"UPDATE dialer_leads SET attempts = 2, last_outcome = 'Busy', next_attempt_at = now() + interval '1 hour', assigned_agent = '7' WHERE lead_id = {ids["2125550100"]}", Ct);
        await ExecAsync($"UPDATE dialer_leads SET status = 'invalid_number', attempts = 1 WHERE lead_id = {ids["2125550101"]}", Ct);
        var hopper = new LeadHopper(Db.DataSource, "live-instance", _clock);
        await hopper.HeartbeatAsync(Ct);
        await ExecAsync($"UPDATE dialer_leads SET claimed_by = 'live-instance' WHERE lead_id = {ids["2125550102"]}", Ct);

        var report = await Reassignment.MoveToCampaignAsync(from, to, new LeadSelection { LeadIds = [.. ids.Values, 999_999_999] }, keepOwner: false, "supervisor:ann", Ct);

        Assert.Equal(2, report.Changed); // 0100 and 0104
        Assert.Equal(
            [(ids["2125550101"], "invalid_number"), (ids["2125550102"], "in_call"), (ids["2125550103"], "duplicate"), (999_999_999L, "not_found")],
            report.NotChanged.Select(n => (n.LeadId, n.Reason)).OrderBy(x => x.LeadId));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE lead_id = {ids["2125550100"]} AND campaign_id = '{to}' AND status = 'open' AND attempts = 0 AND next_attempt_at IS NULL AND last_outcome IS NULL AND assigned_agent IS NULL"));
        Assert.Equal(3, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{from}'"));
        Assert.Equal(3, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{to}'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM audit_log WHERE action = 'leads move' AND target = '{from}' AND actor = 'supervisor:ann' AND detail->>'to' = '{to}' AND (detail->>'moved')::int = 2"));

        // Unknown campaigns, the same campaign and an empty selection are refused with the reason; nothing changes.
        Assert.Contains("no campaign 'nope'", (await Assert.ThrowsAsync<ArgumentException>(() => Reassignment.MoveToCampaignAsync(from, "nope", new LeadSelection { Statuses = ["open"] }, false, "x", Ct))).Message, StringComparison.Ordinal);
        Assert.Contains("already in campaign", (await Assert.ThrowsAsync<ArgumentException>(() => Reassignment.MoveToCampaignAsync(from, from, new LeadSelection { Statuses = ["open"] }, false, "x", Ct))).Message, StringComparison.Ordinal);
        Assert.Contains("say which leads", (await Assert.ThrowsAsync<ArgumentException>(() => Reassignment.MoveToCampaignAsync(from, to, new LeadSelection(), false, "x", Ct))).Message, StringComparison.Ordinal);
        Assert.Contains("'opened' is not a lead state", (await Assert.ThrowsAsync<ArgumentException>(() => Reassignment.MoveToCampaignAsync(from, to, new LeadSelection { Statuses = ["opened"] }, false, "x", Ct))).Message, StringComparison.Ordinal);
        Assert.Equal(3, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{from}'"));
    }

    [Fact]
    public async Task Move_ByOwnerAndState_KeepOwnerKeepsTheAgent()
    {
        var from = await CampaignAsync("4155550100", "4155550101", "4155550102");
        var to = await CampaignAsync();
        await ExecAsync($"UPDATE dialer_leads SET assigned_agent = 'a1' WHERE campaign_id = '{from}' AND phone_number IN ('+14155550100', '+14155550101')", Ct);
        await ExecAsync($"UPDATE dialer_leads SET status = 'reached' WHERE campaign_id = '{from}' AND phone_number = '+14155550101'", Ct);

        var report = await Reassignment.MoveToCampaignAsync(from, to, new LeadSelection { OwnedBy = "a1", Statuses = ["open"] }, keepOwner: true, "x", Ct);

        Assert.Equal(1, report.Changed);
        Assert.Empty(report.NotChanged);
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{to}' AND phone_number = '+14155550100' AND assigned_agent = 'a1'"));
    }

    [Fact]
    public async Task Assign_AnAgentsLeadsToAnother_PreviewClaimsShowThemOnlyToTheNewOwner()
    {
        var campaign = await CampaignAsync("2125550200", "2125550201", "2125550202");
        var a = await LeadIdAsync(campaign, "2125550200");
        var b = await LeadIdAsync(campaign, "2125550201");
        await Reassignment.AssignAsync(campaign, new LeadSelection { LeadIds = [a, b] }, "anna", "x", Ct);

        // Anna leaves: her leads go to Ben.
        var report = await Reassignment.AssignAsync(campaign, new LeadSelection { OwnedBy = "anna" }, "ben", "supervisor:sue", Ct);
        Assert.Equal(2, report.Changed);
        Assert.Equal(2, await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND assigned_agent = 'ben'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM audit_log WHERE action = 'leads assign' AND target = '{campaign}' AND actor = 'supervisor:sue' AND detail->>'to' = 'ben'"));

        // Preview: another agent is shown only the lead nobody owns; Ben his own two first.
        var hopper = new LeadHopper(Db.DataSource, "preview", _clock);
        await hopper.HeartbeatAsync(Ct);
        var carl = await hopper.ClaimForAgentAsync(campaign, "carl", 10, Ct);
        Assert.Equal(["+12125550202"], carl.Select(l => l.Lead.PhoneNumber));
        await hopper.ReleaseAsync(carl.Select(l => (l.Lead.Id, (DateTimeOffset?)null)), Ct);
        var ben = await hopper.ClaimForAgentAsync(campaign, "ben", 10, Ct);
        Assert.Equal(["+12125550200", "+12125550201", "+12125550202"], ben.Select(l => l.Lead.PhoneNumber));
        Assert.Equal(["ben", "ben", null], ben.Select(l => l.AssignedAgent));
        await hopper.ReleaseAsync(ben.Select(l => (l.Lead.Id, (DateTimeOffset?)null)), Ct);

        // Back to nobody: everyone may get them.
        Assert.Equal(2, (await Reassignment.AssignAsync(campaign, new LeadSelection { OwnedBy = "ben" }, null, "x", Ct)).Changed);
        Assert.Equal(3, (await hopper.ClaimForAgentAsync(campaign, "carl", 10, Ct)).Count);
        Assert.Contains("no campaign", (await Assert.ThrowsAsync<ArgumentException>(() => Reassignment.AssignAsync("nope", new LeadSelection { OwnedBy = "ben" }, "x", "x", Ct))).Message, StringComparison.Ordinal);
    }
}
