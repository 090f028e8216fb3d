using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Asterisk (PbxSim) restarted in the middle of an outbound campaign: customers ringing, talking to
/// agents and agents waiting on their nailed-up lines all vanish without an event. What is kept:
/// every attempt ends (none left open holding its lead), no lead is dialled while an earlier
/// attempt of it is up, a customer who was reached is not dialled again, the agents can join again
/// and the campaign is dialled to the end; every attempt is one call record.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class DialerFaultTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly string _journals = Directory.CreateTempSubdirectory("ctibridge-dialer-fault-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_journals, recursive: true);

    [Fact]
    public async Task PbxSimRestartsMidCampaign_EveryAttemptEnds_NoLeadDialledTwice_AgentsJoinAgain_CampaignFinishes()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        string[] phones = ["1001", "1002"];
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, .. phones.Select(p => new EndpointOptions { Name = p })],
            Sounds = new() { ["acme-abandon"] = 0.3 },
        });

        // People talk until the agent's side ends (the dialer's wrap-up does not hang up; TalkSeconds does):
        // long enough that conversations are up when Asterisk restarts.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 2 };
        AnswerOnPhones(pbx, phones);
        var campaign = await CampaignAsync(db, leads: 20);
        var server = PbxSimSettings.For(pbx);
        var options = AsteriskServer.ToAriOptions(server.Ari);
        await using var dialer = new OutboundDialer(
            new DialerSettings
            {
                Enabled = true, Application = "ctibridge-dialer", InstanceId = "fault-a", PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.5,
                RecordJournalDirectory = Path.Combine(_journals, "a"),
            },
            new AriClient(options), options, db.DataSource, TimeProvider.System, NullLoggerFactory.Instance, server.Name);
        await dialer.StartAsync(Ct);
        await JoinAllAsync(dialer, campaign, phones);

        // Mid-campaign, with a conversation up: Asterisk restarts (every channel gone, no events).
        var atRestart = await EventuallyAsync(async () => (await dialer.GetStatsAsync(Ct)).SingleOrDefault(s => s.CampaignId == campaign) is { AgentsBusy: > 0, Lines: > 0 } s ? s : null,
            "a conversation with an agent", db, campaign);
        var restartedAt = DateTimeOffset.UtcNow;
        pbx.Restart();

        // The dialer's resync ends what vanished: the lines and the agents' nailed-up channels.
        await EventuallyAsync(async () => (await dialer.GetStatsAsync(Ct)).SingleOrDefault(s => s.CampaignId == campaign) is { AgentsLoggedIn: 0, Lines: 0 } ? "yes" : null,
            "the lines and nailed-up agents that vanished with Asterisk to be ended", db, campaign);
        var resyncedAt = DateTimeOffset.UtcNow;
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", Ct));
        TestContext.Current.SendDiagnosticMessage($"at the restart: {atRestart.Lines} lines, {atRestart.AgentsBusy} agents busy");

        // The agents join again (their phones answer again) and the campaign is dialled to the end.
        AnswerOnPhones(pbx, phones);
        await JoinAllAsync(dialer, campaign, phones);
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", Ct) == 0 ? "yes" : null,
            "every lead to be closed", db, campaign);

        // Time to recover (measured, not asserted): from the restart until a customer dialled after it talks to an agent.
        var firstDial = await StoredMoments.AtAsync(db, $"SELECT min(dialed_at) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND dialed_at > {StoredMoments.Sql(restartedAt)}", Ct);
        var firstConnect = await StoredMoments.AtAsync(db, $"SELECT min(agent_connected_at) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND dialed_at > {StoredMoments.Sql(restartedAt)}", Ct);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: PbxSim restarted mid-campaign",
            RecoveryReport.Between(restartedAt, firstConnect),
            $"from the restart until the first customer dialled after it is put through to an agent; the resync had ended the vanished lines and agents at {RecoveryReport.Between(restartedAt, resyncedAt)} (polled every 50 ms), the agents joined again at once (the test, as agents would), first new dial at {RecoveryReport.Between(restartedAt, firstDial)}; at the restart {atRestart.Lines} lines up, {atRestart.AgentsBusy} agents talking; 20 leads, 2 agents, progressive"));

        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND claimed_by IS NOT NULL", Ct));

        // No lead had two attempts up at once, and nobody who talked to an agent was dialled again.
        await DialerInvariants.AssertNoLeadDialledTwiceAsync(db, campaign, Ct);

        // Every attempt is one outbound call record (once the dialer has stopped and written them).
        var attempts = await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}'", Ct);
        await dialer.DisposeAsync();
        Assert.Equal(attempts, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE campaign_id = '{campaign}'", Ct));
        Assert.Equal(attempts, await db.ScalarAsync<long>($"SELECT count(DISTINCT call_id) FROM calls WHERE campaign_id = '{campaign}'", Ct));
    }

    /// <summary>
    /// A dialer instance dies with a conversation up while another instance runs. The stand-in for a kill -9
    /// (<see cref="OutboundDialer.DieAsync"/>) leaves what a killed process leaves: its loop and connections stop without
    /// storing a thing, its session lock is free and its Stasis app still named. The living instance learns of the death
    /// from that lease (not from the heartbeat, 60 s) and adopts the agent's nailed-up line (the same channel, not called
    /// again) and the conversation, which goes on: once the customer hangs up it ends as what it was (a human answer with
    /// the agent, the lead reached), not as a lost reply; the lead is never dialled while its call is up; the living
    /// instance carries the campaign on with the adopted agent. Before, the stand-in was a clean stop (its app cleared, so
    /// never adopted) and the attempt waited for the living instance's heartbeat sweep.
    /// </summary>
    [Fact]
    public async Task InstanceDiesWithAConversationUp_TheLivingInstanceAdoptsTheAgentLineAndConversation_TheLeadIsNotDialledWhileTheCallIsUp()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, new EndpointOptions { Name = "1001" }, new EndpointOptions { Name = "1002" }],
            Sounds = new() { ["acme-abandon"] = 0.3 },
        });

        // First, people stay on until the other side hangs up: the dying instance's conversation stays up.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0 };
        AnswerOnPhones(pbx, ["1001", "1002"]);
        var campaign = await CampaignAsync(db, leads: 12);
        var a = NewDialer(pbx, db, "fault-a", "dialer-a");
        await a.StartAsync(Ct);

        // The living instance runs from the start, with no agent of its own: it dials nothing until it has one.
        await using var b = NewDialer(pbx, db, "fault-b", "dialer-b");
        await b.StartAsync(Ct);
        await JoinAsync(a, campaign, "2001", "1001");
        var line = await db.ScalarAsync<string>("SELECT channel_id FROM dialer_agent_lines WHERE agent_id = '2001' AND instance_id = 'fault-a'", Ct);
        var orphan = await ConversationAsync(db, pbx, campaign, "fault-a", line);
        var orphanLead = await db.ScalarAsync<long>($"SELECT lead_id FROM dialer_attempts WHERE call_id = '{orphan}'", Ct);

        // The first instance dies as a kill -9 would: its lock is free, its app still named, the conversation still up.
        var diedAt = DateTimeOffset.UtcNow;
        await a.DieAsync();
        Assert.Contains(orphan, await ChannelIdsAsync(pbx));

        // The living instance adopts agent 2001, talking, on the same channel, and the open attempt.
        await EventuallyAsync(async () => (await b.GetStatsAsync(Ct)).SingleOrDefault(s => s.CampaignId == campaign) is { AgentsLoggedIn: 1, AgentsBusy: 1 } ? "yes" : null,
            "the living instance to carry agent 2001's conversation on", db, campaign);
        var carriedOnAt = DateTimeOffset.UtcNow;
        var adoptedAt = await StoredMoments.AtAsync(db, $"SELECT adopted_at FROM dialer_attempts WHERE call_id = '{orphan}' AND instance_id = 'fault-b' AND ended_at IS NULL", Ct);
        Assert.NotNull(adoptedAt);
        Assert.Equal(line, await db.ScalarAsync<string>("SELECT channel_id FROM dialer_agent_lines WHERE agent_id = '2001' AND instance_id = 'fault-b'", Ct));
        Assert.Contains(line, await ChannelIdsAsync(pbx));
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE lead_id = {orphanLead}", Ct)); // not dialled again

        // The customer hangs up (people now hang up after a moment): the adopter ends the conversation as what it was.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0.5 };
        var goneAt = DateTimeOffset.UtcNow;
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari)))
        {
            await ari.Channels.HangupAsync(orphan, reason: "normal", cancellationToken: Ct);
        }

        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{orphan}' AND ended_at IS NOT NULL", Ct) > 0 ? "yes" : null,
            "the adopted conversation's end", db, campaign);
        var orphanEnded = await StoredMoments.AtAsync(db, $"SELECT ended_at FROM dialer_attempts WHERE call_id = '{orphan}'", Ct);
        Assert.Equal("HumanAnswer 2001 fault-b", await db.ScalarAsync<string>($"SELECT format('%s %s %s', outcome, agent_id, instance_id) FROM dialer_attempts WHERE call_id = '{orphan}'", Ct));
        Assert.Equal("reached", await db.ScalarAsync<string>($"SELECT status FROM dialer_leads WHERE lead_id = {orphanLead}", Ct));

        // The living instance carries the campaign on, with the adopted agent and one of its own.
        await JoinAsync(b, campaign, "2002", "1002");
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", Ct) == 0 ? "yes" : null,
            "every lead to be closed", db, campaign);
        Assert.True(await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'fault-b' AND agent_id = '2001' AND adopted_at IS NULL", Ct) > 0,
            "the adopted agent 2001 was never put through to a customer the living instance dialled");

        // Time to recover (measured, not asserted): from the death until the living instance carries the conversation on.
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: an instance dies with a conversation up",
            RecoveryReport.Between(diedAt, carriedOnAt),
            $"from the death (in-process stand-in for kill -9: lock free, app still named) until the living instance has adopted agent 2001's line and conversation and carries them on (polled every 50 ms; attempt adopted at {RecoveryReport.Between(diedAt, adoptedAt)}); the customer's hang-up then stored as the conversation's end {RecoveryReport.Between(goneAt, orphanEnded)} later, a human answer with 2001; 12 leads, progressive"));

        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND claimed_by IS NOT NULL", Ct));
        Assert.Equal(0, b.LeaseLosses);

        // No lead had two attempts up at once, and nobody put through to an agent was dialled again.
        await DialerInvariants.AssertNoLeadDialledTwiceAsync(db, campaign, Ct);

        // Every attempt of the living instance, the adopted one among them, is one call record, the adopted conversation an
        // answered call with 2001; no call is recorded twice. (The dead instance's own records not yet written died with it,
        // as in a real kill; the sweep writes those later, from the stored attempts.)
        var attempts = await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'fault-b'", Ct);
        await b.DisposeAsync();
        Assert.Equal(attempts, await db.ScalarAsync<long>(
            $"SELECT count(DISTINCT c.call_id) FROM calls c JOIN dialer_attempts a ON a.call_id = c.call_id WHERE a.campaign_id = '{campaign}' AND a.instance_id = 'fault-b'", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) - count(DISTINCT call_id) FROM calls WHERE campaign_id = '{campaign}'", Ct));
        Assert.Equal("answered 2001", await db.ScalarAsync<string>($"SELECT format('%s %s', disposition, agent_id) FROM calls WHERE call_id = '{orphan}'", Ct));
    }

    /// <summary>
    /// The heartbeat sweep, the last resort: what no living instance adopts. A clean stop (<see cref="OutboundDialer.DisposeAsync"/>
    /// without the graceful drain that hangs calls up, or a drain whose hang-ups Asterisk never reported) clears its app, so
    /// its calls are never adopted; an instance from before session leases (migration 0038) names none either. Its heartbeat
    /// aged past the 60 s claim lease by the test (as 60 s later), another instance carries the campaign on: the lead is not
    /// dialled while that conversation is up; once the customer hangs up, the living instance's next sweep (with its heartbeat,
    /// every 20 s) ends the open attempt as a lost reply (its outcome died with the instance), written ahead as reached.
    /// </summary>
    [Fact]
    public async Task InstanceStopsWithAConversationUp_NotAdopted_ItsLeadIsNotDialledWhileTheCallIsUp_TheSweepEndsTheOpenAttemptOnceItIsGone()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, new EndpointOptions { Name = "1001" }, new EndpointOptions { Name = "1002" }],
            Sounds = new() { ["acme-abandon"] = 0.3 },
        });

        // First, people stay on until the other side hangs up: the stopping instance's conversation stays up.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0 };
        AnswerOnPhones(pbx, ["1001", "1002"]);
        var campaign = await CampaignAsync(db, leads: 12);
        var a = NewDialer(pbx, db, "fault-a", "dialer-a");
        await a.StartAsync(Ct);
        await JoinAsync(a, campaign, "2001", "1001");
        var line = await db.ScalarAsync<string>("SELECT channel_id FROM dialer_agent_lines WHERE agent_id = '2001' AND instance_id = 'fault-a'", Ct);
        var orphan = await ConversationAsync(db, pbx, campaign, "fault-a", line);
        var orphanLead = await db.ScalarAsync<long>($"SELECT lead_id FROM dialer_attempts WHERE call_id = '{orphan}'", Ct);

        // The first instance stops without hanging up (a clean stop: not adopted); its claims are as good as expired.
        await a.DisposeAsync();
        await db.ScalarAsync<long>("WITH aged AS (UPDATE dialer_instances SET heartbeat_at = heartbeat_at - interval '10 minutes' WHERE instance_id = 'fault-a' RETURNING 1) SELECT count(*) FROM aged", Ct);
        Assert.Contains(orphan, await ChannelIdsAsync(pbx));

        // The second instance dials the rest (people now hang up after a moment); its first heartbeat sweeps.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0.5 };
        await using var b = NewDialer(pbx, db, "fault-b", "dialer-b");
        await b.StartAsync(Ct);
        await JoinAsync(b, campaign, "2002", "1002");
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'fault-b' AND ended_at IS NOT NULL", Ct) >= 4 ? "yes" : null,
            "the second instance to dial", db, campaign);
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE lead_id = {orphanLead} AND instance_id = 'fault-b'", Ct));
        Assert.Contains(orphan, await ChannelIdsAsync(pbx)); // still up: that is why its lead waited
        Assert.Equal("fault-a", await db.ScalarAsync<string>($"SELECT instance_id FROM dialer_attempts WHERE call_id = '{orphan}' AND adopted_at IS NULL AND ended_at IS NULL", Ct));

        // The customer on the stopped instance's call hangs up (in ARI nobody else ends a channel of an app nobody reads):
        // the call is gone, the open attempt is ended with the next sweep.
        var orphanGoneAt = DateTimeOffset.UtcNow;
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari)))
        {
            await ari.Channels.HangupAsync(orphan, reason: "normal", cancellationToken: Ct);
        }

        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", Ct) == 0
            && await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{orphan}' AND ended_at IS NOT NULL", Ct) > 0 ? "yes" : null,
            "every lead to be closed and the stopped instance's attempt ended", db, campaign);

        // Measured, not asserted: the last resort's time, from the call gone until the living instance's sweep ends the attempt.
        var orphanEnded = await StoredMoments.AtAsync(db, $"SELECT ended_at FROM dialer_attempts WHERE call_id = '{orphan}'", Ct);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: a stopped instance's call, not adopted (last resort: the sweep)",
            RecoveryReport.Between(orphanGoneAt, orphanEnded),
            "from the call of an instance that stopped without hanging it up (a clean stop: never adopted) hung up until the living instance's heartbeat sweep ends its open attempt (the sweep runs with each heartbeat, every 20 s); the stopped instance's heartbeat aged past the 60 s claim lease by the test; 12 leads"));

        // Ended as a lost reply, the person reached (the connect was written ahead): the lead is not dialled again.
        Assert.Equal("LostReply", await db.ScalarAsync<string>($"SELECT outcome FROM dialer_attempts WHERE call_id = '{orphan}'", Ct));
        Assert.Equal("reached", await db.ScalarAsync<string>($"SELECT status FROM dialer_leads WHERE lead_id = {orphanLead}", Ct));
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE lead_id = {orphanLead}", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND claimed_by IS NOT NULL", Ct));

        // No lead had two attempts up at once: the stopped instance's open attempt counts as up until it was ended.
        Assert.Equal(0L, await db.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id AND y.dialed_at < x.ended_at
            WHERE x.campaign_id = '{campaign}'
            """, Ct));
    }

    // An open attempt of the instance that is a conversation in Asterisk: put through to the agent (written ahead) and its
    // channel in one bridge with the agent's line. Waiting for less (the agent's state on the loop says talking before the
    // bridge is made and the connect written ahead) left the test's stop to cut those requests short.
    private static Task<string> ConversationAsync(TestDatabase db, PbxSimulator pbx, string campaign, string instance, string agentLine) =>
        EventuallyAsync(async () =>
        {
            var callId = await db.ScalarAsync<string>(
                $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = '{instance}' AND ended_at IS NULL AND agent_connected_at IS NOT NULL", Ct);
            if (callId.Length == 0)
            {
                return null;
            }

            using var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari));
            return (await ari.Bridges.ListAsync(Ct)).Any(b => b.Channels.Contains(callId) && b.Channels.Contains(agentLine)) ? callId : null;
        }, $"a conversation of instance {instance} bridged with its agent", db, campaign);

    /// <summary>
    /// The dialer's resync after an events gap reads Asterisk's channel list and ends the lines known
    /// at the gap that are missing from it. A customer whose call ended just after the reconnect is
    /// missing too, but its ChannelDestroyed (with the real cause) is on the new events connection: it
    /// must end as what it was, not as vanished (congestion, cause 38). PbxSim places that end in the
    /// window deterministically: it holds the resync's channel list until the customer has hung up, and
    /// the events until the list is read. The dialer waits for its marker (an ARI user event queued
    /// behind the ChannelDestroyed), as call control does (ResyncMarkerTests).
    /// </summary>
    [Fact]
    public async Task CustomerHangsUpBetweenReconnectAndResync_AttemptEndsWithTheRealCause_NotAsVanished()
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, new EndpointOptions { Name = "1001" }],
            Sounds = new() { ["acme-abandon"] = 0.3 },
        });

        // The customer's phone rings (until the campaign's 15 s ring timeout): the test ends it.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 1, Invalid = 0, Machine = 0, RingSeconds = 0.3 };
        AnswerOnPhones(pbx, ["1001"]);
        var campaign = await CampaignAsync(db, leads: 1);
        await using var dialer = NewDialer(pbx, db, "marker-a", "dialer-a");
        await dialer.StartAsync(Ct);
        await JoinAsync(dialer, campaign, "2001", "1001");
        var callId = await EventuallyAsync(async () => await db.ScalarAsync<string>($"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}'", Ct) is { Length: > 0 } id
            && (await ChannelIdsAsync(pbx)).Contains(id) ? id : null, "the customer's phone to ring", db, campaign);
        string customer;
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari)))
        {
            customer = (await ari.Channels.GetAsync(callId, Ct)).Name;
        }

        // The resync's channel list waits until the customer is gone.
        using (var listHeld = pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/channels"))
        {
            var heldBefore = pbx.AriRequestsHeld;
            pbx.DropAriConnections();
            await EventuallyAsync(() => Task.FromResult(pbx.AriRequestsHeld > heldBefore ? "yes" : null), "the dialer to reconnect and ask for the channel list", db, campaign);

            // Reconnected, resync on its way: the customer hangs up now; its ChannelDestroyed waits with PbxSim.
            using var eventsHeld = pbx.HoldAriEvents();
            pbx.Trunk("carrier").HangUp(customer);
            Assert.Contains(pbx.HeldAriEvents, e => e.Contains("\"ChannelDestroyed\"", StringComparison.Ordinal) && e.Contains(callId, StringComparison.Ordinal));

            // The list is read without the customer. Before the marker, the dialer ended the line at once as
            // vanished; now it sends the marker and waits for it behind the ChannelDestroyed.
            listHeld.Dispose();
            Assert.DoesNotContain(callId, await ChannelIdsAsync(pbx));
            await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{callId}' AND ended_at IS NOT NULL", Ct) > 0
                || pbx.HeldAriEvents.Any(e => e.Contains("CtiBridgeResync", StringComparison.Ordinal)) ? "yes" : null,
                "the dialer to read the channel list and either end the line or send its resync marker", db, campaign);
        }

        // The events flow again: the ChannelDestroyed first, then the marker.
        var flowingAt = DateTimeOffset.UtcNow;
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{callId}' AND ended_at IS NOT NULL", Ct) > 0 ? "yes" : null,
            "the attempt to end", db, campaign);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: customer hangs up between the events reconnect and the resync",
            RecoveryReport.Between(flowingAt, DateTimeOffset.UtcNow),
            "from the held events let through until the attempt's end is stored with its real cause (polled every 50 ms)"));
        Assert.Equal(16, await db.ScalarAsync<int>($"SELECT hangup_cause FROM dialer_attempts WHERE call_id = '{callId}'", Ct));
        Assert.NotEqual(nameof(CallOutcome.Congestion), await db.ScalarAsync<string>($"SELECT outcome FROM dialer_attempts WHERE call_id = '{callId}'", Ct));
        Assert.Equal(1, (await dialer.GetStatsAsync(Ct)).Single(s => s.CampaignId == campaign).AgentsLoggedIn); // the agent's line was up all along
        Assert.Equal(0, (await dialer.GetStatsAsync(Ct)).Single(s => s.CampaignId == campaign).Lines);
    }

    /// <summary>
    /// The customer hangs up DURING the dialer's ARI events gap (the events WebSocket is down, its reconnect held by
    /// PbxSim until the customer is gone: the ChannelDestroyed goes nowhere), ringing or talking to an agent. Before,
    /// the resync found the line gone and ended the attempt at the resync's time as vanished (38). Now, as in call
    /// control (ResyncMarkerTests): with the server's AMI up, the attempt ends at AMI's hang-up (its time, its cause);
    /// with AMI down too, at the gap's start, its call row marked <c>end_estimated</c>. Asserted on the recorded times
    /// against PbxSim's own clock around the hang-up, never on durations.
    /// </summary>
    [Theory]
    [InlineData("ringing", true)]
    [InlineData("talking", true)]
    [InlineData("talking", false)]
    public async Task CustomerHangsUpDuringTheEventsGap_AttemptEndsAtTheRealHangUp_OrAtTheGapsStartMarkedEstimated(string stage, bool amiUp)
    {
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        await using var pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, new EndpointOptions { Name = "1001" }],
            Sounds = new() { ["acme-abandon"] = 0.3 },
        });

        // Ringing: the phone rings until the campaign's 15 s ring timeout. Talking: the person answers and talks for
        // longer than the test. Either way the test ends the customer's call.
        pbx.DialledCustomers = stage == "ringing"
            ? new DialledCustomers { Busy = 0, NoAnswer = 1, Invalid = 0, Machine = 0, RingSeconds = 0.3 }
            : new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 600 };
        AnswerOnPhones(pbx, ["1001"]);
        var campaign = await CampaignAsync(db, leads: 1);
        var server = PbxSimSettings.For(pbx);
        await using var ami = new AmiClient(AsteriskServer.ToAmiOptions(server.Ami), NullLogger<AmiClient>.Instance, TimeProvider.System);
        await ami.StartAsync(Ct);
        await using var dialer = NewDialer(pbx, db, "gapend-a", "dialer-a", ami);
        await dialer.StartAsync(Ct);
        await JoinAsync(dialer, campaign, "2001", "1001");
        var attempt = stage == "ringing"
            ? $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}'"
            : $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND agent_connected_at IS NOT NULL";
        var callId = await EventuallyAsync(async () => await db.ScalarAsync<string>(attempt, Ct) is { Length: > 0 } id
            && (await ChannelIdsAsync(pbx)).Contains(id) ? id : null, stage == "ringing" ? "the customer's phone to ring" : "the customer to talk to agent 2001", db, campaign);
        string customer;
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(server.Ari)))
        {
            customer = (await ari.Channels.GetAsync(callId, Ct)).Name;
        }

        if (!amiUp)
        {
            // AMI goes down and stays down (logins refused) for the whole gap: nothing reports the hang-up.
            pbx.RefuseAmiLogins = true;
            pbx.DropAmiConnections();
        }

        // The events WebSocket drops and its reconnect waits: the gap is open while the customer hangs up.
        DateTimeOffset from, to;
        using (pbx.HoldAriRequests((method, path) => method == "GET" && path.TrimEnd('/') == "/ari/events"))
        {
            var heldBefore = pbx.AriRequestsHeld;
            var beforeGap = pbx.Time.GetUtcNow();
            pbx.DropAriConnections();
            await EventuallyAsync(() => Task.FromResult(pbx.AriRequestsHeld > heldBefore ? "yes" : null), "the dialer to try to reconnect its events", db, campaign);
            var beforeHangUp = pbx.Time.GetUtcNow();
            pbx.Trunk("carrier").HangUp(customer);
            Assert.DoesNotContain(callId, await ChannelIdsAsync(pbx));
            if (amiUp)
            {
                await EventuallyAsync(() => Task.FromResult(dialer.SawAmiHangup(callId) ? "yes" : null), "the dialer's AMI connection to read the customer's Hangup", db, campaign);

                // The real end lies between the hang-up and this moment; the resync comes after the reconnect, later.
                (from, to) = (beforeHangUp, pbx.Time.GetUtcNow());
            }
            else
            {
                (from, to) = (beforeGap, beforeHangUp); // the gap's start: after the drop, before the (unseen) hang-up
            }

            Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{callId}' AND ended_at IS NOT NULL", Ct));
        }

        // Reconnected: the resync finds the line gone and ends it at its real end (before: at the resync).
        var linkBackAt = DateTimeOffset.UtcNow;
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{callId}' AND ended_at IS NOT NULL", Ct) > 0 ? "yes" : null,
            "the attempt to end", db, campaign);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            $"dialer: ARI events cut, customer {stage} hangs up in the gap, AMI {(amiUp ? "up" : "down too")}",
            RecoveryReport.Between(linkBackAt, DateTimeOffset.UtcNow),
            $"from the events link let back until the resync has stored the attempt's end (polled every 50 ms; the end itself is {(amiUp ? "AMI's hang-up" : "the gap's start, estimated")}); gap {RecoveryReport.Between(from, linkBackAt)} from {(amiUp ? "the hang-up" : "the drop")}"));
        var endedAt = await db.ScalarAsync<DateTime>($"SELECT ended_at FROM dialer_attempts WHERE call_id = '{callId}'", Ct);
        var ended = new DateTimeOffset(DateTime.SpecifyKind(endedAt, DateTimeKind.Utc));
        Assert.InRange(ended, Micro(from), to);
        var cause = await db.ScalarAsync<object>($"SELECT hangup_cause FROM dialer_attempts WHERE call_id = '{callId}'", Ct);
        if (stage == "ringing")
        {
            Assert.Equal(16, Assert.IsType<int>(cause)); // AMI's cause: the customer's hang-up, not 38 (vanished)
            // Its ledger row too (flushed after the attempt's end): at the real end.
            await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_ledger WHERE call_id = '{callId}' AND kind = 'Unanswered'", Ct) > 0 ? "yes" : null,
                "the attempt's ledger row", db, campaign);
            Assert.Equal(endedAt, await db.ScalarAsync<DateTime>($"SELECT at FROM dialer_ledger WHERE call_id = '{callId}' AND kind = 'Unanswered'", Ct));
        }

        // The call's record: the same end, marked estimated only when nothing reported it.
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{callId}'", Ct) > 0 ? "yes" : null, "the call's record", db, campaign);
        Assert.Equal(endedAt, await db.ScalarAsync<DateTime>($"SELECT ended_at FROM calls WHERE call_id = '{callId}'", Ct));
        Assert.Equal(!amiUp, await db.ScalarAsync<bool>($"SELECT end_estimated FROM calls WHERE call_id = '{callId}'", Ct));
        if (stage == "talking")
        {
            // The talk ends there, and the agent's time on the call: the outbound interval ends, the wrap-up starts, at the real end.
            Assert.True(await db.ScalarAsync<bool>($"""
                SELECT abs(c.talk_seconds - extract(epoch FROM a.ended_at - a.agent_connected_at)::float8) < 0.000002
                FROM calls c JOIN dialer_attempts a USING (call_id) WHERE call_id = '{callId}'
                """, Ct));
            await EventuallyAsync(async () => await db.ScalarAsync<long>(
                $"SELECT count(*) FROM agent_state_intervals WHERE agent_id = '2001' AND state = 'wrap_up' AND started_at = '{endedAt:O}'", Ct) > 0 ? "yes" : null,
                "agent 2001's wrap-up from the call's real end", db, campaign);
            Assert.Equal(1L, await db.ScalarAsync<long>(
                $"SELECT count(*) FROM agent_state_intervals WHERE agent_id = '2001' AND state = 'outbound' AND ended_at = '{endedAt:O}'", Ct));
            Assert.Equal(1, (await dialer.GetStatsAsync(Ct)).Single(s => s.CampaignId == campaign).AgentsLoggedIn); // the agent's line was up all along
        }

        Assert.Equal(0, (await dialer.GetStatsAsync(Ct)).Single(s => s.CampaignId == campaign).Lines);
        pbx.RefuseAmiLogins = false;
    }

    // PostgreSQL keeps microseconds: a bound taken in 100 ns ticks, cut to the microsecond below it.
    private static DateTimeOffset Micro(DateTimeOffset at) => new(at.UtcTicks / 10 * 10, TimeSpan.Zero);

    private OutboundDialer NewDialer(PbxSimulator pbx, TestDatabase db, string instance, string app, AmiClient? ami = null)
    {
        var server = PbxSimSettings.For(pbx);
        var options = AsteriskServer.ToAriOptions(server.Ari);
        return new OutboundDialer(
            new DialerSettings
            {
                Enabled = true, Application = app, InstanceId = instance, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.5,
                RecordJournalDirectory = Path.Combine(_journals, instance),
            },
            new AriClient(options), options, db.DataSource, TimeProvider.System, NullLoggerFactory.Instance, server.Name, ami: ami);
    }

    // The channels Asterisk has now, as ARI lists them.
    private static async Task<List<string>> ChannelIdsAsync(PbxSimulator pbx)
    {
        using var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari));
        return [.. (await ari.Channels.ListAsync(Ct)).Select(c => c.Id)];
    }

    private static async Task JoinAsync(OutboundDialer dialer, string campaign, string agent, string phone)
    {
        await EventuallyAsync(async () => await dialer.JoinAsync(campaign, agent, "PJSIP/" + phone, Ct) is null ? "yes" : null, $"agent {agent} to join", null, campaign);
        await EventuallyAsync(async () => (await dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == campaign && s.AgentsLoggedIn >= 1) ? "yes" : null,
            $"agent {agent} on the nailed-up line", null, campaign);
    }

    private static void AnswerOnPhones(PbxSimulator pbx, IEnumerable<string> phones)
    {
        foreach (var phone in phones)
        {
            pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(50));
        }
    }

    private static async Task<string> CampaignAsync(TestDatabase db, int leads)
    {
        var id = "fault" + Guid.NewGuid().ToString("N")[..8];
        var definition = CampaignDefinition.Parse($$"""
            { "id": "{{id}}", "agentGroup": "sales", "mode": "Progressive", "powerRatio": 1,
              "callerId": "+18005550100", "callerName": "Acme", "trunkPrefix": "PJSIP/carrier/",
              "windows": { "*": ["00:00-24:00"] }, "maxConcurrentLines": 4, "maxAttempts": 3,
              "retrySeconds": { "busy": 1, "noAnswer": 1, "congestion": 1, "machine": 1, "rejected": 1, "abandoned": 1 },
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 15, "wrapUpSeconds": 0.2,
              "defaultTimeZone": "America/New_York" }
            """);
        var store = new CampaignStore(db.DataSource, TimeProvider.System);
        await store.PutAsync(definition, "test", Ct);
        var csv = "phone,name\n" + string.Concat(Enumerable.Range(0, leads).Select(i => $"212555{i:D4},Customer {i}\n"));
        var report = await new LeadImporter(db.DataSource, store, TimeProvider.System)
            .ImportAsync(id, new StringReader(csv), new LeadImportOptions { FileName = "fault.csv", ImportedBy = "test" }, Ct);
        Assert.Equal(leads, report.Imported);
        await store.SetStateAsync(id, CampaignState.Running, "test", Ct);
        return id;
    }

    private static async Task JoinAllAsync(OutboundDialer dialer, string campaign, string[] phones)
    {
        for (var i = 0; i < phones.Length; i++)
        {
            var agent = $"20{i + 1:00}";
            var phone = phones[i];

            // The campaign starts on the dialer's next refresh; joining before it runs is refused.
            await EventuallyAsync(async () => await dialer.JoinAsync(campaign, agent, "PJSIP/" + phone, Ct) is null ? "yes" : null, $"agent {agent} to join", null, campaign);
        }

        await EventuallyAsync(async () => (await dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == campaign && s.AgentsLoggedIn == phones.Length) ? "yes" : null,
            "every agent on the nailed-up line", null, campaign);
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> value, string what, TestDatabase? db, string campaign)
        where T : class
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            if (await value() is { } found)
            {
                return found;
            }

            if (DateTime.UtcNow > deadline)
            {
                var summary = db is null ? string.Empty : await db.ScalarAsync<string>($"""
                    SELECT coalesce(string_agg(format('lead %s %s %s agent=%s ans=%s conn=%s end=%s', lead_id, call_id, outcome, agent_id,
                           answered_at::time, agent_connected_at::time, ended_at::time), E'\n' ORDER BY attempt_id), '')
                    FROM dialer_attempts WHERE campaign_id = '{campaign}'
                    """, Ct);
                Assert.Fail($"Still not true after {Bound.TotalSeconds} s: {what}.\n{summary}");
            }

            await Task.Delay(50, Ct);
        }
    }
}
