using CtiBridge.PbxSim;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// A dialer instance killed with SIGKILL and started again under the same instance id takes back its own previous
/// run's calls (issue 14, docs/high-availability.md): one <c>ctibridge run</c> process with its dialer, agent 2001 on a
/// nailed-up line talking to a customer of a power campaign, is killed and started again with the same configuration
/// (same <c>dialer.instanceId</c> and Stasis app). Holding its own session lock, it recognises the rows left under its
/// id as its previous run's (that run named its app and did not stop cleanly), not a live peer's, and resumes them as
/// an adopter would: 2001's line is the same channel, kept (not cleared, not called again); the conversation goes on
/// to its end and is recorded with 2001 (not swept as a lost reply); 2001 then takes the new run's customers; no lead is
/// dialled while an earlier attempt of it is up; every attempt ends once and is one <c>calls</c> row.
/// Bounded: every wait has a limit, the processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DialerRestartTests : IAsyncDisposable
{
    private readonly HaProcesses _instances = new("ctibridge-dialer-restart-", TimeSpan.FromSeconds(120));

    [Fact]
    public async Task DialerKilledHardAndStartedAgainUnderItsInstanceId_TakesBackItsAgentLineAndConversation_NoLeadDialledTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        // People stay on 30 s after their answer: the conversation cut by the kill outlives the restart of the
        // process on a loaded machine, then the person hangs up. The agent's phone answers and stays on the line.
        await using var pbx = await DialerProcessKit.StartPbxAsync(["1001"],
            new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 30 });
        var campaign = await DialerProcessKit.CampaignAsync(database, "restart", leads: 8, ct);
        var first = await DialerProcessKit.StartAsync(_instances, "r", "restart-", database, pbx, ct);
        await first.WaitReadyAsync(ct);
        var token = await DialerProcessKit.SupervisorTokenAsync(database, "dialer-restart-test", ct);
        await DialerProcessKit.JoinAsync(_instances, first, token, campaign, "2001", "1001", ct);

        // The kill comes while 2001 talks to a customer (the connect written ahead).
        var talking = await _instances.EventuallyAsync(async () => await database.ScalarAsync<string>(
            $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL AND agent_connected_at IS NOT NULL AND agent_id = '2001'", ct) is { Length: > 0 } id ? id : null,
            "agent 2001 to talk to a customer", ct);
        var lineBefore = await database.ScalarAsync<string>("SELECT channel_id FROM dialer_agent_lines WHERE agent_id = '2001'", ct);
        var killedAt = DateTimeOffset.UtcNow;
        first.KillHard();
        var openAtKill = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", ct);
        var restartedAt = await database.ScalarAsync<DateTime>("SELECT now()", ct);

        // Started again: same configuration, so the same instance id and Stasis app.
        var second = await DialerProcessKit.StartAsync(_instances, "r", "restart-", database, pbx, ct);
        await second.WaitReadyAsync(ct);
        var readyAt = DateTimeOffset.UtcNow;
        await _instances.EventuallyAsync(() => Task.FromResult(second.Output.Contains("taking back that run's", StringComparison.Ordinal)),
            "the restarted instance to take back its previous run's calls", ct);

        // Its agent line: the same channel, kept (the row not cleared, the phone not called again).
        Assert.Equal(lineBefore, await database.ScalarAsync<string>("SELECT coalesce(min(channel_id), '') FROM dialer_agent_lines WHERE agent_id = '2001' AND instance_id = 'restart-r'", ct));
        using (var ari = new CtiBridge.Asterisk.Ari.AriClient(CtiBridge.Service.Hosting.AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari)))
        {
            Assert.Contains(lineBefore, (await ari.Channels.ListAsync(ct)).Select(c => c.Id));
        }

        // The conversation goes on to its end and is recorded with its agent; then 2001 takes a customer the new run dialled.
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{talking}' AND ended_at IS NOT NULL", ct) == 1,
            "the conversation cut by the kill to end", ct);
        Assert.Equal("HumanAnswer 2001 restart-r adopted", await database.ScalarAsync<string>(
            $"SELECT format('%s %s %s %s', outcome, agent_id, instance_id, CASE WHEN adopted_at IS NOT NULL THEN 'adopted' END) FROM dialer_attempts WHERE call_id = '{talking}'", ct));
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>(
            $"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND adopted_at IS NULL AND dialed_at > '{restartedAt:O}'::timestamptz AND agent_id = '2001' AND agent_connected_at IS NOT NULL", ct) > 0,
            "agent 2001 to be put through to a customer the restarted run dialled", ct);

        // Time to recover (measured, not asserted): from the kill until the restarted run (started at once by the test, as a
        // supervisor would without a restart delay) has taken back the calls open at the kill, as stored; the rest likewise.
        var takenBack = await StoredMoments.AtAsync(database, $"SELECT max(adopted_at) FROM dialer_attempts WHERE campaign_id = '{campaign}'", ct);
        var firstDial = await StoredMoments.AtAsync(database, $"SELECT min(dialed_at) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND dialed_at > {StoredMoments.Sql(killedAt)}", ct);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: killed with SIGKILL and started again under its instance id",
            RecoveryReport.Between(killedAt, takenBack),
            $"from the kill until the restarted process has taken back the {openAtKill} attempt(s) open at the kill and agent 2001's line (adopted_at); the process ready at {RecoveryReport.Between(killedAt, readyAt)}; its first new dial at {RecoveryReport.Between(killedAt, firstDial)} (after the cut conversation, people stay on 30 s); one process, 8 leads"));

        // Every attempt open at the kill was taken back (or, its channel already gone, ended at once); none left open for the sweep.
        Assert.Equal(openAtKill, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND adopted_at IS NOT NULL", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{talking}' AND outcome = 'LostReply'", ct));

        // No lead dialled while an earlier attempt of it was up; nobody put through dialled again.
        using (var leave = await second.Http(token).DeleteAsync($"/api/campaigns/{campaign}/agents/2001", ct))
        {
            Assert.True(leave.IsSuccessStatusCode, $"leave 2001: {(int)leave.StatusCode}");
        }

        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", ct) == 0,
            "every attempt to end", ct);
        await DialerInvariants.AssertNoLeadDialledTwiceAsync(database, campaign, ct);

        // Each attempt of the restarted run (the taken-back ones among them) is one outbound call record once it has stopped.
        await second.StopAsync(ct);
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{talking}'", ct));
        Assert.Equal("answered 2001", await database.ScalarAsync<string>($"SELECT format('%s %s', disposition, agent_id) FROM calls WHERE call_id = '{talking}'", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts a WHERE a.campaign_id = '{campaign}' AND (a.adopted_at IS NOT NULL OR a.dialed_at > '{restartedAt:O}'::timestamptz)
              AND (SELECT count(*) FROM calls c WHERE c.call_id = a.call_id) <> 1
            """, ct));
    }

    /// <summary>
    /// A person abandoned with the recorded message (no agent within 2 s) while the message plays, when the instance is
    /// killed: the restarted instance takes the call back and plays the message again, whole, before it hangs up (before,
    /// it hung up at once, cutting the message); the abandon and the message stay counted once in the ledger.
    /// </summary>
    [Fact]
    public async Task AbandonMessagePlayingAtTheKill_TheRestartedInstancePlaysItWholeBeforeHangingUp_CountedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var message = TimeSpan.FromSeconds(10);
        string[] phones = ["1001", "1002", "1004"];
        // Everybody answers and stays on for 45 s. The three agents' first customers are dialled one per agent (no
        // abandon allowed before live answers are counted); when those calls end, power dials three lines per free
        // agent, so people answer with nobody free, are abandoned after 2 s and hear the (10 s) message; only the
        // dialer ends those calls before their 45 s.
        await using var pbx = await DialerProcessKit.StartPbxAsync(phones,
            new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 45 }, abandonMessage: message);

        var campaign = await DialerProcessKit.CampaignAsync(database, "abandon", leads: 24, ct);
        var first = await DialerProcessKit.StartAsync(_instances, "m", "restart-", database, pbx, ct);
        await first.WaitReadyAsync(ct);
        var token = await DialerProcessKit.SupervisorTokenAsync(database, "dialer-abandon-test", ct);
        foreach (var (agent, phone) in new[] { ("2001", "1001"), ("2002", "1002"), ("2004", "1004") })
        {
            await DialerProcessKit.JoinAsync(_instances, first, token, campaign, agent, phone, ct);
        }

        // The kill comes while an abandoned person hears the message (the abandon stored in the ledger, the call still up).
        var abandoned = await _instances.EventuallyAsync(async () => await database.ScalarAsync<string>($"""
            SELECT coalesce(min(a.call_id), '') FROM dialer_attempts a JOIN dialer_ledger g ON g.call_id = a.call_id AND g.kind = 'Abandoned'
            WHERE a.campaign_id = '{campaign}' AND a.ended_at IS NULL
            """, ct) is { Length: > 0 } id ? id : null, "a person abandoned with the message, the call still up", ct);
        var killedAt = DateTimeOffset.UtcNow;
        first.KillHard();
        var second = await DialerProcessKit.StartAsync(_instances, "m", "restart-", database, pbx, ct);
        await second.WaitReadyAsync(ct);

        // Taken back, the message played again whole, then hung up by the dialer (the person would have stayed on).
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{abandoned}' AND ended_at IS NOT NULL", ct) == 1,
            "the abandoned call to end", ct);
        var (adoptedAt, endedAt, answeredAt) = (
            await database.ScalarAsync<DateTime>($"SELECT adopted_at FROM dialer_attempts WHERE call_id = '{abandoned}'", ct),
            await database.ScalarAsync<DateTime>($"SELECT ended_at FROM dialer_attempts WHERE call_id = '{abandoned}'", ct),
            await database.ScalarAsync<DateTime>($"SELECT answered_at FROM dialer_attempts WHERE call_id = '{abandoned}'", ct));
        Assert.True(endedAt - adoptedAt >= message,
            $"the call ended {(endedAt - adoptedAt).TotalSeconds:0.00} s after its adoption: the {message.TotalSeconds} s message was not played whole from there");
        Assert.True(endedAt - answeredAt < TimeSpan.FromSeconds(45), "the person hung up before the dialer did: the message's end was not seen");
        Assert.Contains("is played again, whole", second.Output, StringComparison.Ordinal);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: killed with SIGKILL while an abandon message plays, started again",
            RecoveryReport.Between(killedAt, new DateTimeOffset(DateTime.SpecifyKind(adoptedAt, DateTimeKind.Utc))),
            "from the kill until the restarted process has taken the abandoned call back (adopted_at) and plays the message again; one process, 3 agents"));

        // In the ledger once: one abandon, the message it got (not counted again by the adopter); one abandoned call record.
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE call_id = '{abandoned}' AND kind IN ('Abandoned', 'LiveAnswerConnected')", ct));
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE call_id = '{abandoned}' AND kind = 'MessagePlayed' AND message = 'acme-abandon'", ct));
        await second.StopAsync(ct);
        Assert.Equal("abandoned", await database.ScalarAsync<string>($"SELECT string_agg(disposition, ',') FROM calls WHERE call_id = '{abandoned}'", ct));
    }

    public ValueTask DisposeAsync() => _instances.DisposeAsync();
}
