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
        Assert.Equal(0L, await db.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id AND y.dialed_at < x.ended_at
            WHERE x.campaign_id = '{campaign}'
            """, Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id
            WHERE x.campaign_id = '{campaign}' AND x.agent_connected_at IS NOT NULL
            """, Ct));

        // Every attempt is one outbound call record (once the dialer has stopped and written them).
        var attempts = await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}'", Ct);
        await dialer.DisposeAsync();
        Assert.Equal(attempts, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE campaign_id = '{campaign}'", Ct));
        Assert.Equal(attempts, await db.ScalarAsync<long>($"SELECT count(DISTINCT call_id) FROM calls WHERE campaign_id = '{campaign}'", Ct));
    }

    /// <summary>
    /// An instance dies with a conversation up (stand-in for kill -9: its loop and connections stop
    /// without storing a thing, and its heartbeat is aged past the 60 s claim lease, as 60 s later).
    /// Another instance carries the campaign on. Its lead must not be dialled while that conversation
    /// is still up; once the customer hangs up, the open attempt is ended (lost reply: its outcome died
    /// with the instance) and the lead dialled again by the usual rules; every attempt ends.
    /// </summary>
    [Fact]
    public async Task InstanceDiesWithAConversationUp_ItsLeadIsNotDialledWhileTheCallIsUp_TheOpenAttemptIsEndedOnceItIsGone()
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
        await JoinAsync(a, campaign, "2001", "1001");
        await EventuallyAsync(async () => (await a.GetStatsAsync(Ct)).SingleOrDefault(s => s.CampaignId == campaign) is { AgentsBusy: > 0 } ? "yes" : null,
            "a conversation on the first instance", db, campaign);

        // The first instance dies; its claims are as good as expired.
        await a.DisposeAsync();
        await db.ScalarAsync<long>("WITH aged AS (UPDATE dialer_instances SET heartbeat_at = heartbeat_at - interval '10 minutes' WHERE instance_id = 'fault-a' RETURNING 1) SELECT count(*) FROM aged", Ct);
        var up = await ChannelIdsAsync(pbx);
        var orphan = up.Count == 0 ? string.Empty : await db.ScalarAsync<string>(
            $"SELECT coalesce(min(call_id), '') FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'fault-a' AND ended_at IS NULL AND call_id IN ({string.Join(',', up.Select(id => $"'{id}'"))})", Ct);
        Assert.False(string.IsNullOrEmpty(orphan), "no open attempt of the dead instance with its call still up: the test proved nothing");
        var orphanLead = await db.ScalarAsync<long>($"SELECT lead_id FROM dialer_attempts WHERE call_id = '{orphan}'", Ct);

        // The second instance dials the rest (people now hang up after a moment); its first heartbeat sweeps.
        pbx.DialledCustomers = new DialledCustomers { Busy = 0.2, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0.5 };
        await using var b = NewDialer(pbx, db, "fault-b", "dialer-b");
        await b.StartAsync(Ct);
        await JoinAsync(b, campaign, "2002", "1002");
        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND instance_id = 'fault-b' AND ended_at IS NOT NULL", Ct) >= 4 ? "yes" : null,
            "the second instance to dial", db, campaign);
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE lead_id = {orphanLead} AND instance_id = 'fault-b'", Ct));
        Assert.Contains(orphan, await ChannelIdsAsync(pbx)); // still up: that is why its lead waited

        // The customer on the dead instance's call hangs up (in ARI nobody else ends a channel of a dead app):
        // the call is gone, the open attempt is ended with the next sweep, the lead goes on.
        var orphanGoneAt = DateTimeOffset.UtcNow;
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari)))
        {
            await ari.Channels.HangupAsync(orphan, reason: "normal", cancellationToken: Ct);
        }

        await EventuallyAsync(async () => await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND status = 'open'", Ct) == 0 ? "yes" : null,
            "every lead to be closed", db, campaign);

        // Time to recover (measured, not asserted): from the dead instance's call gone until the living instance's sweep
        // ends its attempt (the sweep runs with each heartbeat, every third of the 60 s claim lease), then its lead is dialled again.
        var orphanEnded = await StoredMoments.AtAsync(db, $"SELECT ended_at FROM dialer_attempts WHERE call_id = '{orphan}'", Ct);
        var orphanLeadAgain = await StoredMoments.AtAsync(db, $"SELECT min(dialed_at) FROM dialer_attempts WHERE lead_id = {orphanLead} AND instance_id = 'fault-b'", Ct);
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "dialer: an instance dies with a conversation up",
            RecoveryReport.Between(orphanGoneAt, orphanEnded),
            $"from the dead instance's call hung up until the living instance's sweep ends its open attempt (heartbeat every 20 s); its lead dialled again at {RecoveryReport.Between(orphanGoneAt, orphanLeadAgain)}; the dead instance's heartbeat aged past the 60 s claim lease by the test; 12 leads"));

        Assert.Equal("LostReply", await db.ScalarAsync<string>($"SELECT outcome FROM dialer_attempts WHERE call_id = '{orphan}'", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_attempts WHERE campaign_id = '{campaign}' AND ended_at IS NULL", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{campaign}' AND claimed_by IS NOT NULL", Ct));

        // No lead had two attempts up at once: the dead instance's open attempts count as up until they were ended.
        Assert.Equal(0L, await db.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id AND y.dialed_at < x.ended_at
            WHERE x.campaign_id = '{campaign}'
            """, Ct));
    }

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
