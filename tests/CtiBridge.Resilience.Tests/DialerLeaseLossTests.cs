using CtiBridge.PbxSim;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// A dialer instance that loses its session lease while it keeps running (its lock connection terminated by the
/// server, as at a PostgreSQL restart or a cut; issue 14, docs/high-availability.md): two <c>ctibridge run</c>
/// processes, each with its dialer and an agent on a nailed-up line, one power campaign, one PostgreSQL and one
/// PbxSim. While the first instance has answered calls open, its lock backend is ended with
/// <c>pg_terminate_backend</c>. The instance stops acting on its calls at once, takes its lease back and either
/// resumes them (nobody adopted them) or starts clean (the other instance adopted them): never both. Asserted: the
/// loss and the take-back are logged; every attempt ends once; no lead is dialled while an earlier attempt of it
/// may be up; no live answer is counted twice in the compliance ledger (two instances acting on one person would
/// put through or abandon them twice); each attempt is one <c>calls</c> row. Bounded: every wait has a limit; the
/// processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DialerLeaseLossTests : IAsyncDisposable
{
    private readonly HaProcesses _instances = new("ctibridge-dialer-lease-", TimeSpan.FromSeconds(120));

    [Fact]
    public async Task LockBackendTerminatedWhileDialling_InstanceStopsActingAndResumesOrStartsClean_NoCallActedOnTwice_NoLeadDialledTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var pbx = await DialerProcessKit.StartPbxAsync(
            ["1001", "1002"], new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 6 });
        var campaign = await CampaignAsync(database, leads: 12, ct);
        var first = await StartAsync("a", database, pbx, ct);
        await first.WaitReadyAsync(ct);
        var second = await StartAsync("b", database, pbx, ct);
        await second.WaitLiveAsync(ct);
        var token = await DialerProcessKit.SupervisorTokenAsync(database, "dialer-lease-test", ct);
        await JoinAsync(first, token, campaign, "2001", "1001", ct);
        await JoinAsync(second, token, campaign, "2002", "1002", ct);

        // The loss comes while the first instance has answered calls open (a person talking or waiting).
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>(
            $"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'lease-a' AND ended_at IS NULL AND answered_at IS NOT NULL", ct) > 0,
            "the first instance to have an answered call open", ct);
        var lostAt = DateTimeOffset.UtcNow;
        Assert.True(await database.ScalarAsync<bool>("""
            SELECT coalesce(bool_and(pg_terminate_backend(pid, 5000)), false) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('ctibridge.dialer:lease-a', 0)
            """, ct), "the first instance's dialer lock backend was not found");

        // It notices, stops acting on its calls, and takes its lease back (resuming them or, adopted meanwhile, starting clean).
        await _instances.EventuallyAsync(() => Task.FromResult(first.Output.Contains("LOST its session lease", StringComparison.Ordinal)), "the first instance to notice its lease's loss", ct);
        await _instances.EventuallyAsync(() => Task.FromResult(first.Output.Contains("holds its session lease again", StringComparison.Ordinal)), "the first instance to take its lease back", ct);
        var leaseBackAt = DateTimeOffset.UtcNow;
        var adopted = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'lease-b' AND adopted_at IS NOT NULL", ct);
        var resumed = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'lease-a' AND adopted_at IS NOT NULL", ct);
        TestContext.Current.SendDiagnosticMessage($"lock backend terminated: {adopted} attempt(s) adopted by the other instance, {resumed} resumed by the instance itself");
        Assert.False(adopted > 0 && resumed > 0, "both the other instance adopted and the instance resumed attempts of one loss");

        // The campaign goes on to its end on both instances.
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", ct) == 0,
            "every lead to be closed", ct);
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", ct) == 0,
            "every attempt to end", ct);

        // Time to recover (measured, not asserted): from the loss until the instance holds its lease again and acts
        // (seen in its output, polled every 50 ms); then its first dial after the loss, as stored.
        var firstDial = await StoredMoments.AtAsync(database,
            $"SELECT min(dialed_at) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'lease-a' AND dialed_at > {StoredMoments.Sql(lostAt)}", ct);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: an instance loses its session lease while it runs",
            RecoveryReport.Between(lostAt, leaseBackAt),
            $"from the lock backend terminated until the instance holds its lease again (its log line); its first dial after the loss at {RecoveryReport.Between(lostAt, firstDial)}; {adopted} attempt(s) adopted by the other instance, {resumed} resumed by itself; two processes, 12 leads"));

        // No lead dialled while an earlier attempt of it was up; nobody put through dialled again; each lead's count is its attempts.
        await DialerInvariants.AssertNoLeadDialledTwiceAsync(database, campaign, ct);
        Assert.Equal(string.Empty, await database.ScalarAsync<string>($"""
            SELECT coalesce(string_agg(format('lead %s: %s attempts counted, %s stored', l.lead_id, l.attempts, n), '; '), '')
            FROM dialer_leads l CROSS JOIN LATERAL (SELECT count(*) AS n FROM dialer_attempts a WHERE a.lead_id = l.lead_id) a
            WHERE l.campaign_id = '{campaign}' AND l.attempts <> a.n
            """, ct));

        // No person put through or abandoned twice (what two instances acting on one call would write).
        Assert.Equal(string.Empty, await database.ScalarAsync<string>($"""
            SELECT coalesce(string_agg(call_id || ' x' || n, ', '), '') FROM (
              SELECT call_id, count(*) AS n FROM dialer_ledger WHERE campaign_id = '{campaign}' AND kind IN ('LiveAnswerConnected', 'Abandoned', 'MachineAnswer')
              GROUP BY call_id HAVING count(*) > 1) d
            """, ct));

        // Each attempt is one call record once both have stopped.
        await first.StopAsync(ct);
        await second.StopAsync(ct);
        var attempts = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}'", ct);
        Assert.Equal(attempts, await database.ScalarAsync<long>(
            $"SELECT count(DISTINCT c.call_id) FROM calls c JOIN dialer_attempts a ON a.call_id = c.call_id WHERE a.campaign_id = '{campaign}'", ct));
        Assert.Equal(attempts, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM calls c JOIN dialer_attempts a ON a.call_id = c.call_id WHERE a.campaign_id = '{campaign}'", ct));
    }

    private Task JoinAsync(ServiceProcess process, string token, string campaign, string agent, string phone, CancellationToken ct) =>
        DialerProcessKit.JoinAsync(_instances, process, token, campaign, agent, phone, ct);

    private static Task<string> CampaignAsync(TestDatabase db, int leads, CancellationToken ct) => DialerProcessKit.CampaignAsync(db, "lease", leads, ct);

    private Task<ServiceProcess> StartAsync(string name, TestDatabase database, PbxSimulator pbx, CancellationToken ct) =>
        DialerProcessKit.StartAsync(_instances, name, "lease-", database, pbx, ct);

    public ValueTask DisposeAsync() => _instances.DisposeAsync();
}
