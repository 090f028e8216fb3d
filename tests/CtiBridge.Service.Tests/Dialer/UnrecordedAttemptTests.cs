using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.Data.Records;
using CtiBridge.Service.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// A dialer instance stores an attempt's end (dialer_attempts) and only then hands the call record to its
/// writer: killed in between, the record was lost, and the orphan sweep never saw the attempt (it is ended).
/// Here the kill between the two writes is simulated deterministically (the end is stored, the record never
/// handed), and another instance's sweep query and record are checked: found only once the dead instance's
/// heartbeat is older than the claim lease, written from what is stored, stored once even when two sweeps
/// hand it, and not found again once stored.
/// </summary>
public sealed class UnrecordedAttemptTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    // Monday 30 November 2026, 10:00 in New York (inside the default calling window).
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AttemptEndedByAnInstanceKilledBeforeItsRecord_IsRecordedOnceByAnotherInstancesSweep()
    {
        var data = fixture.Database.DataSource;
        var id = "u" + Guid.NewGuid().ToString("N")[..10];
        var definition = CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/",
              "timeZones": { "+1212": "America/New_York" }, "defaultCountryCode": "1" }
            """);
        var campaigns = new CampaignStore(data, _clock);
        await campaigns.PutAsync(definition, "test", Ct);
        var import = await new LeadImporter(data, campaigns, _clock).ImportAsync(id, new StringReader("phone\n2125550101\n"),
            new LeadImportOptions { FileName = "leads.csv", ImportedBy = "test" }, Ct);
        Assert.Equal(1, import.Imported);

        // The instance that will die dials the lead; the customer is busy; it stores the end ... and is killed
        // before its writer stores the call record (the record is never handed here).
        var deadId = "dead-" + id;
        var deadHopper = new LeadHopper(data, deadId, _clock);
        var deadLog = new AttemptLog(data, deadId, _clock);
        await deadHopper.HeartbeatAsync(Ct);
        var leads = await deadHopper.ClaimAsync(id, 10, Ct);
        var dialer = new CampaignDialer(definition.Campaign, definition.Zones);
        var order = Assert.Single(dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(10, 10, []), leads.Select(l => l.Lead), new HashSet<string>()).Orders);
        await deadLog.StartAsync(id, order.Call, Ct);
        _clock.Advance(TimeSpan.FromSeconds(3));
        var result = dialer.OnCallEnded(order.Call.CallId, _clock.GetUtcNow(), CallOutcome.Busy);
        await deadLog.EndAsync(new StoredAttemptEnd(result, null, 17), Ct);

        // A living instance: while the dead one's heartbeat is within the claim lease, its record may still be on its way.
        var aliveHopper = new LeadHopper(data, "alive-" + id, _clock);
        var aliveLog = new AttemptLog(data, "alive-" + id, _clock);
        await aliveHopper.HeartbeatAsync(Ct);
        Assert.DoesNotContain(await UnrecordedAsync(aliveLog), a => a.CallId == order.Call.CallId);

        _clock.Advance(LeadHopper.ClaimLease + TimeSpan.FromSeconds(1));
        await aliveHopper.HeartbeatAsync(Ct);
        var found = Assert.Single(await UnrecordedAsync(aliveLog), a => a.CallId == order.Call.CallId);
        Assert.Equal("Busy", found.Outcome);
        Assert.Equal(result.EndedAt, found.EndedAt);

        // Two sweeps racing (or one handing it twice before its writer stored it): one row.
        var writer = new CallRecordWriter(data);
        for (var sweep = 0; sweep < 2; sweep++)
        {
            await writer.WriteAsync([DialerCallRecords.Recovered(found), DialerCallRecords.LostLeg(found)], Ct);
        }

        Assert.Equal(1L, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{order.Call.CallId}'", Ct));
        Assert.Equal("busy", await fixture.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{order.Call.CallId}'", Ct));
        Assert.Equal(result.EndedAt.UtcDateTime, await fixture.Database.ScalarAsync<DateTime>($"SELECT ended_at FROM calls WHERE call_id = '{order.Call.CallId}'", Ct));
        Assert.Equal(17, await fixture.Database.ScalarAsync<int>($"SELECT hangup_cause FROM call_legs WHERE leg_id = '{order.Call.CallId}'", Ct));
        Assert.Equal(id, await fixture.Database.ScalarAsync<string>($"SELECT campaign_id FROM calls WHERE call_id = '{order.Call.CallId}'", Ct));

        // Stored: the next sweep does not write it again.
        Assert.DoesNotContain(await UnrecordedAsync(aliveLog), a => a.CallId == order.Call.CallId);
    }

    [Fact]
    public void RecoveredRecord_TakesItsDispositionFromTheStoredAttempt()
    {
        var at = new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero);
        var attempt = new OrphanedAttempt("c1", "camp", "7", "+12125550101", "+18005550100", at, at.AddSeconds(5), "2001", at.AddSeconds(6), "pbx1", at.AddSeconds(66), "HumanAnswer");
        var connected = DialerCallRecords.Recovered(attempt);
        Assert.Equal((CallDisposition.Answered, "2001", 60.0, 1.0), (connected.Disposition, connected.AgentId, connected.TalkSeconds, connected.WaitSeconds));

        var abandoned = DialerCallRecords.Recovered(attempt with { AgentId = null, AgentConnectedAt = null, Abandoned = true });
        Assert.Equal((CallDisposition.Abandoned, (string?)null, 0.0), (abandoned.Disposition, abandoned.AgentId, abandoned.TalkSeconds));
        Assert.Equal(CallDisposition.NoAnswer, DialerCallRecords.Recovered(attempt with { AgentConnectedAt = null, AnsweredAt = null, Outcome = "NoAnswer" }).Disposition);
        Assert.Equal(CallDisposition.Failed, DialerCallRecords.Recovered(attempt with { AgentConnectedAt = null, AnsweredAt = null, Outcome = "Congestion" }).Disposition);
    }

    private Task<IReadOnlyList<OrphanedAttempt>> UnrecordedAsync(AttemptLog log) =>
        log.EndedUnrecordedAsync(DateTimeOffset.MinValue, _clock.GetUtcNow() - TimeSpan.FromDays(1), 100, Ct);
}
