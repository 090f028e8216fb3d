using System.Net;
using System.Net.Http.Json;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The active instance killed with SIGKILL while the dialer runs: two <c>ctibridge run</c> processes
/// (HA on, each with its dialer and an agent on a nailed-up line, one power campaign) on one PostgreSQL
/// and one PbxSim; the active one is killed while its agent talks to a customer and another person it
/// called has answered and waits for an agent. The standby's dialer learns of the death from the killed
/// instance's session lease (not its 60 s heartbeat) and adopts its calls (docs/high-availability.md):
/// the agent's nailed-up line is kept (the same channel, not called again) and the agent goes on taking the
/// campaign's calls; the conversation goes on to its end and is recorded <c>answered</c> with its agent; the
/// waiting person is put through to a free agent within the 2 s rule or hears the abandon message and counts
/// as abandoned in the ledger, once; every other open attempt is carried on to its outcome or ended; no lead
/// is dialled while an earlier attempt of it may be up; each attempt ends once and is one <c>calls</c> row.
/// Bounded: every wait has a limit, the processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DialerKillHardTests : IAsyncDisposable
{
    private readonly HaProcesses _instances = new("ctibridge-dialer-kill-", TimeSpan.FromSeconds(120));

    [Fact]
    public async Task ActiveProcessKilledHardWhileDialling_TheStandbyAdoptsItsAgentLineConversationAndWaitingPerson_NoLeadDialledTwice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);

        // People stay on 10 s after their answer (long enough to outlive the kill and the adoption, waiting or
        // talking), then hang up; some are busy (retried). The agents' phones answer and stay on the line.
        await using var pbx = await DialerProcessKit.StartPbxAsync(
            ["1001", "1002"], new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 10 });

        // Power, three lines per free agent: while the agent talks to the first person who answers, the others
        // who answer wait for an agent (2 s), which is the moment the kill is aimed at.
        var campaign = await CampaignAsync(database, leads: 12, ct);
        var active = await StartAsync("a", database, pbx, ct);
        await active.WaitReadyAsync(ct);
        var standby = await StartAsync("b", database, pbx, ct);
        await standby.WaitLiveAsync(ct);
        Assert.False(await standby.IsReadyAsync(ct), "the second process must be a call-control standby while the first holds the lease");

        var token = await DialerProcessKit.SupervisorTokenAsync(database, "dialer-kill-test", ct);
        await JoinAsync(active, token, campaign, "2001", "1001", ct);
        await JoinAsync(standby, token, campaign, "2002", "1002", ct);

        // The kill comes while the active instance's agent talks to a customer and a person it called waits.
        var killAt = await _instances.EventuallyAsync(async () => await database.ScalarAsync<string>($"""
            SELECT coalesce(min(w.call_id) || ' ' || min(c.call_id), '')
            FROM dialer_attempts w, dialer_attempts c
            WHERE w.campaign_id = '{campaign}' AND w.instance_id = 'kill-a' AND w.ended_at IS NULL AND w.answered_at IS NOT NULL AND w.agent_connected_at IS NULL
              AND c.campaign_id = '{campaign}' AND c.instance_id = 'kill-a' AND c.ended_at IS NULL AND c.agent_connected_at IS NOT NULL
            """, ct) is { Length: > 0 } ids ? ids : null,
            "the active instance's agent to talk to a customer while another person it called waits for an agent (both written ahead)", ct);
        var lineBefore = await database.ScalarAsync<string>("SELECT channel_id FROM dialer_agent_lines WHERE agent_id = '2001'", ct);
        var holderBefore = await HaProcesses.LeaseHolderAsync(database, ct);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var killedAt = DateTimeOffset.UtcNow;
        active.KillHard();
        var (waiting, talking) = (killAt.Split(' ')[0], killAt.Split(' ')[1]);
        await _instances.EventuallyAsync(async () => await HaProcesses.LeaseHolderAsync(database, ct) is { } holder && holder != holderBefore ? holder : null, "the standby to take the lease", ct);
        var leaseTaken = watch.Elapsed;
        var openAtKill = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-a' AND ended_at IS NULL", ct);
        TestContext.Current.SendDiagnosticMessage($"kill -9 with the dialer running: lease taken after {leaseTaken.TotalSeconds:0.00} s; {openAtKill} attempt(s) of the killed instance open (waiting person {waiting}, conversation {talking})");
        Assert.True(leaseTaken <= TimeSpan.FromSeconds(5), $"the standby took the lease {leaseTaken.TotalSeconds:0.00} s after the kill (goal ≤ 5 s)");

        // The standby's dialer adopts the killed instance's calls and agent line: nothing is left with it.
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"""
            SELECT (SELECT count(*) FROM dialer_attempts WHERE instance_id = 'kill-a' AND ended_at IS NULL)
                 + (SELECT count(*) FROM dialer_agent_lines WHERE instance_id = 'kill-a')
            """, ct) == 0 ? "yes" : null, "the standby's dialer to adopt the killed instance's open attempts and agent line", ct);
        var adopted = watch.Elapsed;
        TestContext.Current.SendDiagnosticMessage($"adopted {adopted.TotalSeconds:0.00} s after the kill");

        // The waiting person: put through within the 2 s rule, or the abandon message and one abandon in the ledger.
        // Never left in silence until they hang up: the attempt is ended by the adopter while the person is still on.
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{waiting}' AND (ended_at IS NOT NULL OR agent_connected_at IS NOT NULL)", ct) == 1 ? "yes" : null,
            "the adopter to put the waiting person through or to abandon them with the message", ct);
        var waitingFate = await database.ScalarAsync<string>($"""
            SELECT CASE WHEN agent_connected_at IS NOT NULL THEN 'connected' WHEN abandoned THEN 'abandoned' ELSE coalesce(outcome, 'open') END
            FROM dialer_attempts WHERE call_id = '{waiting}'
            """, ct);
        var waitingHandled = await StoredMoments.AtAsync(database, $"SELECT coalesce(agent_connected_at, ended_at) FROM dialer_attempts WHERE call_id = '{waiting}'", ct);
        TestContext.Current.SendDiagnosticMessage($"the waiting person was {waitingFate} by the adopter");
        Assert.Contains(waitingFate, new[] { "connected", "abandoned" });
        Assert.Equal("kill-b", await database.ScalarAsync<string>($"SELECT instance_id FROM dialer_attempts WHERE call_id = '{waiting}' AND adopted_at IS NOT NULL", ct));

        // The agent's line: the same channel, kept by the standby (not called again), and the agent takes the
        // standby's calls: a customer the standby dialled is put through to agent 2001.
        Assert.Equal(lineBefore, await database.ScalarAsync<string>("SELECT channel_id FROM dialer_agent_lines WHERE agent_id = '2001' AND instance_id = 'kill-b'", ct));
        Assert.Contains(lineBefore, await ChannelIdsAsync(pbx));
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>(
            $"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b' AND adopted_at IS NULL AND agent_id = '2001' AND agent_connected_at IS NOT NULL", ct) > 0 ? "yes" : null,
            "the adopted agent 2001 to be put through to a customer the standby dialled", ct);

        // Time to recover (measured, not asserted): from the kill until the killed instance's calls and agent line are
        // in the standby's hands (polled every 50 ms); the rest as the standby stored it.
        var agentBack = await StoredMoments.AtAsync(database,
            $"SELECT min(agent_connected_at) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b' AND adopted_at IS NULL AND agent_id = '2001'", ct);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: the active instance killed with SIGKILL while the dialer runs",
            RecoveryReport.Seconds(adopted),
            $"from the kill until the killed instance's {openAtKill} open attempts and its agent line are adopted by the standby's dialer (lease {RecoveryReport.Seconds(leaseTaken)}); the waiting person {waitingFate} at {RecoveryReport.Between(killedAt, waitingHandled)}; agent 2001 put through to a customer the standby dialled at {RecoveryReport.Between(killedAt, agentBack)} (after the cut conversation, people stay on 10 s); two processes, 12 leads, power"));

        // The standby's dialer carries the campaign to the end.
        await _instances.EventuallyAsync(async () => await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", ct) == 0 ? "yes" : null,
            "every lead to be closed by the standby's dialer", ct);

        // The conversation cut by the kill went on to its end: the person's own hang-up, a reached lead, never dialled again.
        Assert.Equal("HumanAnswer 2001 kill-b", await database.ScalarAsync<string>($"SELECT format('%s %s %s', outcome, agent_id, instance_id) FROM dialer_attempts WHERE call_id = '{talking}'", ct));
        Assert.Equal("reached", await database.ScalarAsync<string>($"SELECT l.status FROM dialer_leads l JOIN dialer_attempts a USING (lead_id) WHERE a.call_id = '{talking}'", ct));

        // Every attempt ended (none left for the 60 s sweep: the killed instance's open attempts were adopted, not swept
        // as lost replies, except any whose channel was already gone); no claim left; each lead's count is its attempts.
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", ct));
        Assert.Equal(openAtKill, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND adopted_at IS NOT NULL AND instance_id = 'kill-b'", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id IN ('{waiting}', '{talking}') AND outcome = 'LostReply'", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND claimed_by IS NOT NULL", ct));
        Assert.Equal(string.Empty, await database.ScalarAsync<string>($"""
            SELECT coalesce(string_agg(format('lead %s: %s attempts counted, %s stored', l.lead_id, l.attempts, n), '; '), '')
            FROM dialer_leads l CROSS JOIN LATERAL (SELECT count(*) AS n FROM dialer_attempts a WHERE a.lead_id = l.lead_id) a
            WHERE l.campaign_id = '{campaign}' AND l.attempts <> a.n
            """, ct));

        // No lead dialled while an earlier attempt of it was up, and nobody who was put through to an agent dialled again.
        await DialerInvariants.AssertNoLeadDialledTwiceAsync(database, campaign, ct);

        // The waiting person in the compliance ledger: one live answer, connected or abandoned; abandoned with the message.
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE call_id = '{waiting}' AND kind IN ('LiveAnswerConnected', 'Abandoned')", ct));
        if (waitingFate == "abandoned")
        {
            Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE call_id = '{waiting}' AND kind = 'Abandoned'", ct));
            Assert.True(await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE call_id = '{waiting}' AND kind = 'MessagePlayed' AND message = 'acme-abandon'", ct) >= 1,
                "the abandoned person got no abandon message");
        }

        // The standby's attempts, the adopted ones among them, are each one outbound call record once it has stopped:
        // the conversation answered with its agent, the waiting person answered or abandoned.
        foreach (var agent in new[] { "2001", "2002" })
        {
            using var leave = await standby.Http(token).DeleteAsync($"/api/campaigns/{campaign}/agents/{agent}", ct);
            Assert.True(leave.IsSuccessStatusCode, $"leave {agent}: {(int)leave.StatusCode}");
        }

        await standby.StopAsync(ct);
        var standbyAttempts = await database.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'kill-b'", ct);
        Assert.Equal(standbyAttempts, await database.ScalarAsync<long>(
            $"SELECT count(DISTINCT c.call_id) FROM calls c JOIN dialer_attempts a ON a.call_id = c.call_id WHERE a.campaign_id = '{campaign}' AND a.instance_id = 'kill-b'", ct));
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{talking}'", ct));
        Assert.Equal($"answered 2001 {campaign} lead", await database.ScalarAsync<string>(
            $"SELECT format('%s %s %s %s', disposition, agent_id, campaign_id, CASE WHEN lead_id IS NOT NULL THEN 'lead' END) FROM calls WHERE call_id = '{talking}'", ct));
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{waiting}'", ct));
        Assert.Equal(waitingFate == "connected" ? "answered" : "abandoned", await database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{waiting}'", ct));
    }

    // The channels Asterisk has now, as ARI lists them.
    private static async Task<List<string>> ChannelIdsAsync(PbxSimulator pbx)
    {
        using var ari = new CtiBridge.Asterisk.Ari.AriClient(CtiBridge.Service.Hosting.AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari));
        return [.. (await ari.Channels.ListAsync(TestContext.Current.CancellationToken)).Select(c => c.Id)];
    }

    private Task JoinAsync(ServiceProcess process, string token, string campaign, string agent, string phone, CancellationToken ct) =>
        DialerProcessKit.JoinAsync(_instances, process, token, campaign, agent, phone, ct);

    private static Task<string> CampaignAsync(TestDatabase db, int leads, CancellationToken ct) => DialerProcessKit.CampaignAsync(db, "kill", leads, ct);

    private Task<ServiceProcess> StartAsync(string name, TestDatabase database, PbxSimulator pbx, CancellationToken ct) =>
        DialerProcessKit.StartAsync(_instances, name, "kill-", database, pbx, ct);

    public ValueTask DisposeAsync() => _instances.DisposeAsync();
}
