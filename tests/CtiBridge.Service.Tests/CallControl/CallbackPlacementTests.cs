using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Callbacks placed end to end: the real host (clustered Quartz on PostgreSQL, call control) and
/// PbxSim. A due callback becomes an outbound task of the ACD; the reserved agent's desk phone and
/// the customer (through the trunk) are called in the configured order and bridged; the outcome moves
/// the stored callback (connected, or retry after no answer); each attempt is one outbound row of
/// <c>calls</c>. Also the sources call control owns: abandoned calls and inbound answers.
/// Real clock with short rings; every wait is event-driven or a bounded poll.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed partial class CallbackPlacementTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    /// <summary>The class's database (for the other parts of this partial class).</summary>
    private TestDatabase Db => database.Database;

    private static CallQueueSettings Queue(double ringSeconds = 10) => new()
    {
        Name = "support",
        Strategy = "leastrecent",
        RingTimeout = TimeSpan.FromSeconds(ringSeconds),
        RetryAfterNoAnswer = TimeSpan.FromSeconds(30),
        WrapUp = TimeSpan.FromSeconds(0.5),
        MusicOnHold = "default",
    };

    private static void FastCallbacks(Service.Configuration.CtiBridgeSettings settings)
    {
        settings.Callbacks.RetryDelay = TimeSpan.FromSeconds(1);
        settings.Callbacks.MaxRetryDelay = TimeSpan.FromSeconds(1);
        settings.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(5);
        settings.Callbacks.AbandonedMinimumWait = TimeSpan.FromSeconds(1);
        settings.Callbacks.CallerId = "4008001";
    }

    /// <summary>PbxSim's trunk (the carrier endpoint callback customers are dialled through) and its customers' behaviour.</summary>
    private static void Carrier(CallCenterRig rig, DialledCustomers customers)
    {
        _ = rig.Trunk;
        rig.Pbx.DialledCustomers = customers;
    }

    private static DialledCustomers Customers(double noAnswer = 0, double busy = 0, double talkSeconds = 1) =>
        new() { Busy = busy, NoAnswer = noAnswer, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = talkSeconds };

    private static async Task<CallbackService> SchedulerAsync(CallCenterRig rig, CancellationToken ct)
    {
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        for (var i = 0; i < 600 && !callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50, ct);
        }

        Assert.StartsWith("scheduler:", callbacks.Actor, StringComparison.Ordinal);
        return callbacks;
    }

    /// <summary>
    /// The set-up every test here shares: the host with fast callback rules, the agents' desk phones
    /// answering after <paramref name="answerAfterMs"/>, PbxSim's carrier with <paramref name="customers"/>,
    /// the Quartz node running, and the agents in <paramref name="loggedIn"/> logged in.
    /// </summary>
    private async Task<(CallCenterRig Rig, CallbackService Callbacks)> StartAsync(
        IReadOnlyList<(string AgentId, string Phone)> agents, DialledCustomers? customers, CancellationToken ct,
        int answerAfterMs = 200, string[]? loggedIn = null, Action<Service.Configuration.CtiBridgeSettings>? configureService = null,
        Action<CallControlSettings>? configure = null)
    {
        var rig = await CallCenterRig.StartAsync(database.Database, Queue(), agents, ct, configure: configure, configureService: s =>
        {
            FastCallbacks(s);
            configureService?.Invoke(s);
        });
        try
        {
            foreach (var (_, phone) in agents)
            {
                rig.Pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(answerAfterMs));
            }

            if (customers is not null)
            {
                Carrier(rig, customers);
            }

            var callbacks = await SchedulerAsync(rig, ct);
            foreach (var agent in loggedIn ?? agents.Select(a => a.AgentId).ToArray())
            {
                await rig.LoginAsync(agent, ct);
            }

            return (rig, callbacks);
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    private static async Task<Callback> StateAsync(CallbackService callbacks, Guid id, CallbackState state, CancellationToken ct)
    {
        Callback? current = null;
        for (var i = 0; i < 800; i++)
        {
            current = await callbacks.GetAsync(id, ct);
            if (current?.State == state)
            {
                return current;
            }

            await Task.Delay(50, ct);
        }

        var history = await callbacks.HistoryAsync(id, ct);
        throw new TimeoutException($"Callback {id} is {current?.State}, not {state}, after 40 s: {string.Join(" | ", history.Select(h => $"{h.To}: {h.Reason}"))}");
    }

    [Fact]
    public async Task AgentFirst_TheAgentIsRungFirst_ThenTheCustomer_Bridged_Connected_AndWrittenAsAnOutboundCall()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2001", "1001")], Customers(talkSeconds: 1), ct);
        await using var running = rig;
        await rig.AgentWentAsync("2001", AgentState.LoggedOut, AgentState.Ready, ct);

        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550101", "support", DateTimeOffset.UtcNow, null, "promised at three", "api:test") with { CustomerName = "Ann" }, ct);

        // The agent's phone rings first, showing whom they will call back.
        var agentDial = await rig.PbxEvents.DialToAsync("1001", ct);
        Assert.Equal("[support] Callback Ann", agentDial["DestCallerIDName"]);
        Assert.Equal("5550101", agentDial["DestCallerIDNum"]);
        var agentChannel = agentDial["DestChannel"]!;

        // Then the customer, through the trunk, with the centre's number; both end up in one bridge.
        var customer = await rig.PbxEvents.WaitForAsync<CtiBridge.Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal), "the customer to be dialled", ct);
        var customerChannel = customer["DestChannel"]!;
        Assert.Equal("carrier/5550101", customer["DialString"]);
        Assert.Equal("4008001", customer["DestCallerIDNum"]);
        Assert.True(rig.PbxEvents.Snapshot().ToList().FindIndex(e => e.EventName == "Newchannel" && e["Channel"] == agentChannel)
            < rig.PbxEvents.Snapshot().ToList().FindIndex(e => e.EventName == "Newchannel" && e["Channel"] == customerChannel), "agent-first: the agent's leg comes first");
        var agentInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", agentChannel, ct);
        var customerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", customerChannel, ct);
        Assert.Equal(agentInBridge["BridgeUniqueid"], customerInBridge["BridgeUniqueid"]);

        var connected = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Connected, ct);
        Assert.Equal(1, connected.Attempts);

        // The customer hangs up after a second: the agent is released, wraps up and is ready again.
        await rig.PbxEvents.WaitAsync("Hangup", agentChannel, ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        var history = await callbacks.HistoryAsync(ticket.Callback.Id, ct);
        Assert.Equal([CallbackState.Due, CallbackState.Dialing, CallbackState.Connected], history.Where(h => h.Kind == "transition").Select(h => h.To));

        // One outbound call row with the callback id, the agent, talk and wrap-up; reports and the cdr view see it.
        await rig.StopServiceAsync();
        var db = database.Database;
        var id = ticket.Callback.Id.ToString();
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE callback_id = '{id}'", ct));
        Assert.Equal("outbound|answered|2001|5550101|4008001|t|t", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', direction, disposition, agent_id, callee, caller, talk_seconds > 0.5, wrap_up_seconds > 0) FROM calls WHERE callback_id = '{id}'", ct));
        var callId = history.Single(h => h.To == CallbackState.Connected).CallId!;
        Assert.Equal(0L, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{callId}' AND direction = 'inbound'", ct));
        // The class shares its database: the report's outbound figures equal the outbound rows of every test so far.
        var stored = await db.ScalarAsync<string>("SELECT concat_ws('|', count(*), count(*) FILTER (WHERE disposition = 'answered')) FROM calls WHERE direction = 'outbound'", ct);
        Assert.Equal(stored, await db.ScalarAsync<string>(
            "SELECT concat_ws('|', sum(outbound_calls), sum(outbound_answered)) FROM report_centre_traffic(now() - interval '1 day', now() + interval '1 day', '1d')", ct));
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM cdr WHERE uniqueid = '{callId}' AND disposition = 'ANSWERED'", ct));
    }

    /// <summary>
    /// A callback conversation is handled like an inbound call's: the bridge is recorded and the recording linked
    /// to the attempt's row; when the agent hangs up first, the customer hears the queue's survey and their key is
    /// stored with the call (the ACD's record mapper writes nothing for callback tasks, so call control does).
    /// </summary>
    [Fact]
    public async Task ACallbackCall_IsRecorded_AndItsCustomerAnswersTheQueuesSurvey_LikeAnInboundCaller()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2001", "1001")], Customers(talkSeconds: 600), ct,
            configure: c => c.Queues[0].Survey = new SurveySettings { Prompt = "ctibridge-survey", Timeout = TimeSpan.FromMinutes(5) });
        await using var running = rig;
        await rig.AgentWentAsync("2001", AgentState.LoggedOut, AgentState.Ready, ct);

        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550131", "support", DateTimeOffset.UtcNow, null, "asked for a call", "api:test"), ct);
        var customer = await rig.PbxEvents.WaitForAsync<CtiBridge.Asterisk.Ami.AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal), "the customer to be dialled", ct);
        var customerChannel = customer["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", customerChannel, ct);
        var connected = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Connected, ct);
        var callId = (await callbacks.HistoryAsync(connected.Id, ct)).Single(h => h.To == CallbackState.Connected).CallId!;

        // The conversation's bridge is being recorded (Asterisk has the live recording).
        using var ari = new CtiBridge.Asterisk.Ari.AriClient(Service.Hosting.AsteriskServer.ToAriOptions(Hosting.PbxSimSettings.For(rig.Pbx).Ari));
        var recording = $"call-{callId}-1";
        var live = false;
        for (var i = 0; i < 300 && !live; i++)
        {
            try
            {
                live = (await ari.Recordings.GetLiveAsync(recording, ct)).State is "recording" or "queued";
            }
            catch (CtiBridge.Asterisk.Ari.AriException)
            {
                await Task.Delay(50, ct); // not started yet
            }
        }

        Assert.True(live, $"the callback's bridge is not recorded as {recording}");

        // The agent hangs up first: the customer stays on for the survey and presses 8.
        rig.Pbx.Phone("1001").Hangup();
        await rig.PbxEvents.WaitAsync("BridgeLeave", customerChannel, ct);
        Assert.DoesNotContain(rig.PbxEvents.Snapshot(), e => e.EventName == "Hangup" && e["Channel"] == customerChannel);
        rig.Trunk.PressDigits(customerChannel, "8");
        await rig.PbxEvents.WaitAsync("Hangup", customerChannel, ct); // no thanks prompt: released after the key
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync(); // every record written

        var db = database.Database;
        Assert.Equal($"answered|2001|8|agent|{recording}|t|t", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id, survey_score, released_by, recording_id, talk_seconds > 0, wrap_up_seconds > 0) FROM calls WHERE call_id = '{callId}' ORDER BY revision DESC LIMIT 1", ct));
        Assert.Equal($"{callId}|2001|t|t", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', call_id, agent_id, ended_at >= started_at, path LIKE '%{recording}.wav') FROM recordings WHERE recording_id = '{recording}'", ct));
        Assert.Equal("satisfaction|8|2001|support", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', question, score, agent_id, queue) FROM survey_answers WHERE call_id = '{callId}'", ct));
    }

    /// <summary>
    /// Issue 11's "two instances on one database: each callback dialled once", with two real services (call control,
    /// clustered Quartz, each with its own PbxSim and agents) instead of a stand-in for the calling side. Callbacks
    /// due at once are placed by whichever node fires them; across both PbxSims' call logs every number is dialled
    /// exactly once, every callback is connected once, and each has one outbound call row.
    /// </summary>
    [Fact]
    public async Task TwoRealInstancesOnOneDatabase_DialEachCallbackExactlyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, callbacksA) = await StartAsync([("2001", "1001"), ("2003", "1003")], Customers(talkSeconds: 0.3), ct);
        await using var runningA = a;
        var (b, callbacksB) = await StartAsync([("2002", "1002"), ("2004", "1004")], Customers(talkSeconds: 0.3), ct);
        await using var runningB = b;
        Assert.NotEqual(callbacksA.Actor, callbacksB.Actor); // two Quartz nodes of one cluster

        const int count = 12;
        var numbers = Enumerable.Range(0, count).Select(i => "55502" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var ids = new List<Guid>();
        foreach (var (number, i) in numbers.Select((n, i) => (n, i)))
        {
            var via = i % 2 == 0 ? callbacksA : callbacksB;
            ids.Add((await via.CreateAsync(CallbackRequest.AgentScheduled(number, "support", DateTimeOffset.UtcNow, null, "two instances", "api:test"), ct)).Callback.Id);
        }

        var db = database.Database;
        var list = string.Join(",", ids.Select(id => $"'{id}'"));
        long connected = 0;
        for (var i = 0; i < 1800 && connected < count; i++) // 90 s
        {
            connected = await db.ScalarAsync<long>($"SELECT count(*) FROM callbacks WHERE callback_id IN ({list}) AND state = 'connected'", ct);
            await Task.Delay(connected < count ? 50 : 0, ct);
        }

        Assert.Equal(count, connected);
        await a.StopServiceAsync();
        await b.StopServiceAsync();

        // The two PbxSims' call logs: each customer's number dialled through the trunk exactly once, in total.
        static List<string> Dialled(CallCenterRig rig) => rig.PbxEvents.Snapshot()
            .Where(e => e.EventName == "DialBegin" && (e["DialString"] ?? string.Empty).StartsWith("carrier/", StringComparison.Ordinal))
            .Select(e => e["DialString"]!["carrier/".Length..]).ToList();
        var onA = Dialled(a);
        var onB = Dialled(b);
        TestContext.Current.SendDiagnosticMessage($"two instances: {onA.Count} callbacks dialled by A, {onB.Count} by B");
        Assert.Equal(numbers.Order(StringComparer.Ordinal), onA.Concat(onB).Order(StringComparer.Ordinal));
        Assert.Equal(count, await db.ScalarAsync<long>(
            $"SELECT count(*) FROM callback_events WHERE callback_id IN ({list}) AND kind = 'transition' AND to_state = 'connected'", ct));
        Assert.Equal(count, await db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE callback_id IN ({string.Join(",", ids.Select(id => $"'{id}'"))}) AND disposition = 'answered'", ct));
    }

    [Fact]
    public async Task NoAnswer_IsRetriedAfterTheRetryDelay_AndTheSecondAttemptConnects_EachAttemptAnOutboundRow()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2002", "1002")], Customers(noAnswer: 1), ct);
        await using var running = rig;

        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550202", "support", DateTimeOffset.UtcNow, null, "retry test", "api:test"), ct);

        // First attempt: the customer's phone rings out (5 s), the agent is released, the callback waits for its retry.
        var firstCustomer = await rig.PbxEvents.WaitAsync("Newchannel", "PJSIP/carrier-", ct);
        var retry = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Retry, ct);
        Assert.Equal(1, retry.Attempts);
        var hangup = await rig.PbxEvents.WaitAsync("Hangup", firstCustomer["Channel"]!, ct);
        Assert.Equal("19", hangup["Cause"]);

        // Second attempt (after the 1 s retry delay): answered.
        Carrier(rig, Customers(talkSeconds: 1));
        await rig.PbxEvents.WaitAsync("Newchannel", "PJSIP/carrier-", ct, nth: 2);
        var connected = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Connected, ct);
        Assert.Equal(2, connected.Attempts);
        await rig.AgentWentAsync("2002", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);

        var history = await callbacks.HistoryAsync(ticket.Callback.Id, ct);
        Assert.Equal([CallbackState.Due, CallbackState.Dialing, CallbackState.Retry, CallbackState.Due, CallbackState.Dialing, CallbackState.Connected],
            history.Where(h => h.Kind == "transition").Select(h => h.To));
        Assert.Contains("no answer", history.Single(h => h.To == CallbackState.Retry).Reason, StringComparison.Ordinal);

        await rig.StopServiceAsync();
        Assert.Equal("no_answer,answered", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(disposition, ',' ORDER BY started_at) FROM calls WHERE callback_id = '{ticket.Callback.Id}' AND direction = 'outbound'", ct));
    }

    /// <summary>
    /// Customer-first as PbxSim saw it: the customer's leg through the trunk first, on music, then the agent's desk
    /// phone <paramref name="agentPhone"/>; both in one bridge, the music stopped. The customer's leg is the
    /// <paramref name="trunkChannel"/>-th channel of the trunk (callers who called in earlier have the ones before).
    /// </summary>
    private static async Task CustomerCalledFirstAsync(CallCenterRig rig, string agentPhone, CancellationToken ct, int trunkChannel = 1)
    {
        var customer = await rig.PbxEvents.WaitAsync("Newchannel", "PJSIP/carrier-", ct, nth: trunkChannel);
        var customerChannel = customer["Channel"]!;
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", customerChannel, ct);
        var agentDial = await rig.PbxEvents.WaitForAsync<CtiBridge.Asterisk.Ami.AmiMessage>(
            e => e.EventName == "Newchannel" && (e["Channel"] ?? string.Empty).StartsWith($"PJSIP/{agentPhone}-", StringComparison.Ordinal), "the agent's phone", ct);
        var agentChannel = agentDial["Channel"]!;
        Assert.True(rig.PbxEvents.Snapshot().ToList().FindIndex(e => e.EventName == "Newchannel" && e["Channel"] == customerChannel)
            < rig.PbxEvents.Snapshot().ToList().FindIndex(e => e.EventName == "Newchannel" && e["Channel"] == agentChannel), "customer-first: the customer's leg comes first");
        var agentInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", agentChannel, ct);
        var customerInBridge = await rig.PbxEvents.WaitAsync("BridgeEnter", customerChannel, ct);
        Assert.Equal(agentInBridge["BridgeUniqueid"], customerInBridge["BridgeUniqueid"]);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStop", customerChannel, ct);
    }

    /// <summary>
    /// A customer who answers and hangs up before being put through to the agent never talked to anyone: the callback
    /// is not connected (the promise is not kept), the attempt ends as answered without an agent and is retried, and
    /// the retry connects. PbxSim holds the customer's join into the agent's bridge until the customer has hung up, as
    /// a slow join under load did in CallbackKillTests (the join failed with "Channel not found", and "connected",
    /// stored at the answer, had counted the callback kept).
    /// </summary>
    [Fact]
    public async Task AgentFirst_CustomerHangsUpBeforeBeingPutThrough_NotConnected_RetriedAndTheRetryConnects()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2004", "1004")], Customers(talkSeconds: 0.5), ct);
        await using var running = rig;
        await rig.AgentWentAsync("2004", AgentState.LoggedOut, AgentState.Ready, ct);

        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550404", "support", DateTimeOffset.UtcNow, null, "hangs up early", "api:test"), ct);
        var agentChannel = (await rig.PbxEvents.DialToAsync("1004", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", agentChannel, ct);
        string firstCustomer;
        using (rig.Pbx.HoldAriRequests((method, path) => method == "POST" && path.EndsWith("/addChannel", StringComparison.Ordinal)))
        {
            // The customer answers; the join waits in PbxSim; the customer hangs up (after 0.5 s) while it waits.
            firstCustomer = (await rig.PbxEvents.WaitAsync("Newchannel", "PJSIP/carrier-", ct))["Channel"]!;
            await rig.PbxEvents.WaitAsync("Hangup", firstCustomer, ct);
            Assert.True(rig.Pbx.AriRequestsHeld > 0, "the customer's join was not held: the test would prove nothing");
            Carrier(rig, Customers(talkSeconds: 1));
        }

        var retry = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Retry, ct);
        Assert.Equal(1, retry.Attempts);

        // The retry (after the 1 s retry delay) is put through and connects.
        var secondCustomer = (await rig.PbxEvents.WaitAsync("Newchannel", "PJSIP/carrier-", ct, nth: 2))["Channel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", secondCustomer, ct);
        var connected = await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Connected, ct);
        Assert.Equal(2, connected.Attempts);
        Assert.Equal(0, rig.PbxEvents.Count("BridgeEnter", e => e["Channel"] == firstCustomer));
        await rig.AgentWentAsync("2004", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);

        var history = await callbacks.HistoryAsync(ticket.Callback.Id, ct);
        Assert.Equal([CallbackState.Due, CallbackState.Dialing, CallbackState.Retry, CallbackState.Due, CallbackState.Dialing, CallbackState.Connected],
            history.Where(h => h.Kind == "transition").Select(h => h.To));
        await rig.StopServiceAsync();
        Assert.Equal("failed,answered", await database.Database.ScalarAsync<string>(
            $"SELECT string_agg(disposition, ',' ORDER BY started_at) FROM calls WHERE callback_id = '{ticket.Callback.Id}' AND direction = 'outbound'", ct));
    }

    [Fact]
    public async Task CustomerFirst_TheCustomerIsCalledFirst_ThenTheReservedAgentIsRung_AndBridged()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2003", "1003")], Customers(talkSeconds: 2), ct, answerAfterMs: 300);
        await using var running = rig;

        var ticket = await callbacks.CreateAsync(
            CallbackRequest.AgentScheduled("5550303", "support", DateTimeOffset.UtcNow, null, "customer first", "api:test") with { Mode = CallbackMode.CustomerFirst }, ct);

        await CustomerCalledFirstAsync(rig, "1003", ct);

        await StateAsync(callbacks, ticket.Callback.Id, CallbackState.Connected, ct);
        await rig.AgentWentAsync("2003", AgentState.WrapUp, AgentState.Ready, ct);
        await rig.StopServiceAsync();
        Assert.Equal("outbound|answered|2003", await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', direction, disposition, agent_id) FROM calls WHERE callback_id = '{ticket.Callback.Id}'", ct));
    }

    [Fact]
    public async Task AbandonedCaller_GetsACallbackWithinTheLimit_PlacedWhenAnAgentComes_AndCallingInResolvesAnother()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2004", "1004")], Customers(talkSeconds: 1), ct, loggedIn: []);
        await using var running = rig;

        // Nobody is logged in: the caller waits, then hangs up after more than the minimum wait (1 s here).
        var caller = rig.Trunk.CallIn("4008001", "5550404", "Abe");
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to queue", ct);
        await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
        rig.Trunk.HangUp(caller);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the abandon", ct);

        Callback? owed = null;
        for (var i = 0; i < 200 && owed is null; i++)
        {
            var found = await callbacks.ListAsync(new CallbackFilter { Number = "5550404" }, ct);
            owed = found.Count > 0 ? found[0] : null;
            await Task.Delay(50, ct);
        }

        Assert.NotNull(owed);
        Assert.Equal(CallbackSource.Abandoned, owed.Source);
        Assert.Equal(enqueued.CallId, owed.OriginCallId);
        Assert.NotNull(owed.Deadline);
        Assert.InRange(owed.Deadline.Value - owed.CreatedAt, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10.1));
        await StateAsync(callbacks, owed.Id, CallbackState.Due, ct);

        // The caller's write-ahead row (kept until the request was stored) is gone: nothing for the sweep to request again.
        long left = -1;
        for (var i = 0; i < 200 && left != 0; i++)
        {
            await using var count = database.Database.DataSource.CreateCommand("SELECT count(*) FROM live_calls WHERE call_id = @id");
            count.Parameters.AddWithValue("id", enqueued.CallId);
            left = (long)(await count.ExecuteScalarAsync(ct))!;
            await Task.Delay(left == 0 ? 0 : 50, ct);
        }

        Assert.Equal(0, left);

        // An agent comes: the callback is placed to the number that abandoned, and kept.
        await rig.LoginAsync("2004", ct);
        var agentDial = await rig.PbxEvents.DialToAsync("1004", ct);
        Assert.Equal("5550404", agentDial["DestCallerIDNum"]);
        var kept = await StateAsync(callbacks, owed.Id, CallbackState.Connected, ct);
        Assert.True(kept.ClosedAt <= owed.Deadline, $"kept at {kept.ClosedAt:O}, deadline {owed.Deadline:O}");
        await rig.AgentWentAsync("2004", AgentState.WrapUp, AgentState.Ready, ct);

        // A promise for tomorrow to another number: that customer calls in and is served, so it is resolved.
        var tomorrow = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550405", "support", DateTimeOffset.UtcNow.AddDays(1), null, "tomorrow", "api:test"), ct);
        var again = rig.Trunk.CallIn("4008001", "5550405", "Bea");
        await rig.PbxEvents.WaitAsync("BridgeEnter", again, ct);
        var resolved = await StateAsync(callbacks, tomorrow.Callback.Id, CallbackState.ResolvedByInbound, ct);
        Assert.NotNull(resolved.ClosedAt);
        rig.Trunk.HangUp(again);
        await rig.AgentWentAsync("2004", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);
    }
    [Fact]
    public async Task AgentOwnedCallback_GoesToItsOwner_AndOneWhoseOwnerIsAwayGoesToTheQueueAfterTheGrace()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2006", "1006"), ("2007", "1007")], Customers(talkSeconds: 1), ct,
            configureService: s => s.Callbacks.OwnerGrace = TimeSpan.FromSeconds(3));
        await using var running = rig;
        await rig.AgentWentAsync("2007", AgentState.LoggedOut, AgentState.Ready, ct);

        // Owned by 2007: both agents are ready, the owner is rung.
        var owned = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550606", "support", DateTimeOffset.UtcNow, "2007", "my customer", "agent:2007"), ct);
        var dial = await rig.PbxEvents.DialToAsync("1007", ct);
        Assert.Equal("5550606", dial["DestCallerIDNum"]);
        await StateAsync(callbacks, owned.Callback.Id, CallbackState.Connected, ct);
        Assert.Equal(0, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/1006", StringComparison.Ordinal)));
        await rig.AgentWentAsync("2007", AgentState.WrapUp, AgentState.Ready, ct);

        // Owned by 2099, who is not logged in: held for the owner (2006 and 2007 skip it), then any agent after the 3 s grace.
        var away = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550607", "support", DateTimeOffset.UtcNow, "2099", "their customer", "agent:2099"), ct);
        var task = "cb-" + away.Callback.Id.ToString("N");
        var held = await rig.AcdEvents.WaitForAsync<RoutingDecision>(d => d.CallId.StartsWith(task, StringComparison.Ordinal) && d.SkippedCounts.ContainsKey(SkipReason.HeldForPreferredAgent), "the task held for its owner", ct);
        Assert.Empty(held.ChosenAgents);
        var taken = await rig.AcdEvents.WaitForAsync<RoutingDecision>(d => d.CallId.StartsWith(task, StringComparison.Ordinal) && d.ChosenAgents.Count > 0, "the task offered to the queue after the grace", ct);
        Assert.True(taken.Sequence > held.Sequence);
        await StateAsync(callbacks, away.Callback.Id, CallbackState.Connected, ct);
        Assert.True((await callbacks.GetAsync(away.Callback.Id, ct))!.ClosedAt >= away.Callback.DueAt.AddSeconds(3));
    }
    /// <summary>
    /// A caller waits in the queue (at least <paramref name="waitBeforeHangUp"/>, real time), the only instance
    /// stops without handing the call back, the caller hangs up while no instance controls the call, and a new
    /// instance starts and adopts it (finds the caller gone). Logs at Information into <paramref name="logDirectory"/>.
    /// </summary>
    private async Task<(CallCenterRig Rig, CallbackService Callbacks, CallEnqueued Enqueued)> CallerGoneWhileUnwatchedAsync(
        TimeSpan abandonedMinimumWait, TimeSpan waitBeforeHangUp, string logDirectory, CancellationToken ct, Func<Task>? beforeRestart = null, string number = "5550909")
    {
        // The calls stay in the Stasis app for the next instance (no hand-back to the dialplan at stop).
        var (rig, callbacks) = await StartAsync([("2009", "1009")], Customers(talkSeconds: 1), ct, loggedIn: [],
            configure: c => c.Shutdown.HandBackCalls = false,
            configureService: s =>
            {
                s.Callbacks.AbandonedMinimumWait = abandonedMinimumWait;
                s.Callbacks.SweepInterval = TimeSpan.FromSeconds(1);
                s.Logging = new Service.Configuration.LogSettings { Level = "Information", File = Path.Combine(logDirectory, "ctibridge-.log") };
            });
        try
        {
            var caller = rig.Trunk.CallIn("4008001", number, "Cy");
            var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == number, "the call to queue", ct);
            await LiveCallStoredAsync(enqueued.CallId, ct);

            // No instance controls the call while the caller, still waiting, hangs up.
            await rig.StopServiceAsync();
            var waited = DateTimeOffset.UtcNow - enqueued.At;
            if (waited < waitBeforeHangUp)
            {
                await Task.Delay(waitBeforeHangUp - waited, ct);
            }

            rig.Trunk.HangUp(caller);
            await rig.PbxEvents.WaitAsync("Hangup", caller, ct);
            if (beforeRestart is not null)
            {
                await beforeRestart();
            }

            await rig.StartServiceAgainAsync(ct);
            callbacks = await SchedulerAsync(rig, ct);

            // The new instance finds the caller gone at adoption: the call is lost in the records (when they left
            // is unknown).
            await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == enqueued.CallId, "the call ended at adoption", ct);
            return (rig, callbacks, enqueued);
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    /// <summary>Bounded wait (10 s) until the call's <c>live_calls</c> row is written: what a restarted instance adopts it from.</summary>
    private async Task LiveCallStoredAsync(string callId, CancellationToken ct)
    {
        long rows = 0;
        for (var i = 0; i < 200 && rows == 0; i++)
        {
            rows = await database.Database.ScalarAsync<long>($"SELECT count(*) FROM live_calls WHERE call_id = '{callId}'", ct);
            await Task.Delay(rows == 0 ? 50 : 0, ct);
        }

        Assert.Equal(1, rows);
    }

    /// <summary>A temporary folder for a test's log file, removed afterwards.</summary>
    private sealed class LogFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("ctibridge-callback-log-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    /// <summary>The log lines written so far (the file sink writes each line through; read while it is open).</summary>
    private static async Task<string> LogTextAsync(string logDirectory, CancellationToken ct)
    {
        var text = new System.Text.StringBuilder();
        foreach (var file in Directory.EnumerateFiles(logDirectory, "*.log"))
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            text.Append(await reader.ReadToEndAsync(ct));
        }

        return text.ToString();
    }

    // Was explicit (2026-11-30 morning: failed 4 of 4 on a quiet machine, 2 of 3 loaded). Cause: a test defect. The
    // caller hung up right after the stop, and a quick restart adopted the call less than abandonedMinimumWait (1 s
    // here) after it was queued; the wait counted up to the adoption was under the minimum, so no callback was owed,
    // correctly, but silently. Only a slow (loaded) restart got over 1 s. Now the caller has waited past the
    // minimum before hanging up, and the short wait is its own test below, with the log line it now writes.
    [Fact]
    public async Task ACallerWhoHangsUpWhileNoInstanceControlsTheCall_GetsTheAbandonedCallback_PlacedAfterTheRestart()
    {
        var ct = TestContext.Current.CancellationToken;
        using var logs = new LogFolder();
        var (rig, callbacks, enqueued) = await CallerGoneWhileUnwatchedAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.5), logs.Path, ct);
        await using var running = rig;

        // They were waiting (not answered) with a number: they are owed the abandoned-call callback.
        Callback? owed = null;
        for (var i = 0; i < 600 && owed is null; i++) // 30 s: the request is stored off the call-control loop
        {
            var found = await callbacks.ListAsync(new CallbackFilter { Number = "5550909" }, ct);
            owed = found.Count > 0 ? found[0] : null;
            await Task.Delay(owed is null ? 50 : 0, ct);
        }

        Assert.True(owed is not null, "no callback for 5550909; the call's rows: " + await database.Database.ScalarAsync<string>(
            $"SELECT concat_ws(' | ', (SELECT string_agg(disposition, ',') FROM calls WHERE call_id = '{enqueued.CallId}'), (SELECT count(*) FROM live_calls WHERE call_id = '{enqueued.CallId}')::text, (SELECT count(*) FROM callbacks)::text)", ct)
            + "; events: " + string.Join(", ", rig.AcdEvents.Snapshot().Where(e => e.ToString().Contains(enqueued.CallId, StringComparison.Ordinal)).Select(e => e.GetType().Name))
            + "; log: " + await LogTextAsync(logs.Path, ct));
        Assert.Equal((CallbackSource.Abandoned, enqueued.CallId), (owed.Source, owed.OriginCallId));
        Assert.InRange(owed.Deadline!.Value - owed.CreatedAt, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10.1));
        Assert.Equal("takeover", (await callbacks.HistoryAsync(owed.Id, ct))[0].Actor);
        Assert.Equal("system_lost", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{enqueued.CallId}'", ct));

        // And it is kept: once due (its trigger is written when the new instance's Quartz node is up), an
        // agent logs in and the number is called back.
        await StateAsync(callbacks, owed.Id, CallbackState.Due, ct);
        await rig.LoginAsync("2009", ct);
        var agentDial = await rig.PbxEvents.DialToAsync("1009", ct);
        Assert.Equal("5550909", agentDial["DestCallerIDNum"]);
        await StateAsync(callbacks, owed.Id, CallbackState.Connected, ct);
    }

    /// <summary>
    /// The adopting instance finds the waiting caller gone and writes the callback they are owed ahead, like an
    /// ordinary abandon: the call's end marks its <c>live_calls</c> row instead of deleting it, so a request that
    /// is not stored (here: it waits on a row lock and is cancelled, as when the instance dies mid-write) loses
    /// nothing. The instance stops; the next one does not adopt the marked row again, and its sweep requests the
    /// callback from it, once. Before, the row went with the call's end and the callback was lost.
    /// </summary>
    [Fact]
    public async Task ACallerFoundGoneAtAdoption_IsWrittenAhead_ARequestNotStoredIsMadeByTheSweepFromTheRow()
    {
        var ct = TestContext.Current.CancellationToken;
        using var logs = new LogFolder();

        // An uncommitted open callback for the caller's number: the adopter's request (INSERT … ON CONFLICT on the
        // one-open-per-number index) waits on it, so it cannot be stored before this test says so.
        await using var blocker = await database.Database.DataSource.OpenConnectionAsync(ct);
        await using var blocking = await blocker.BeginTransactionAsync(ct);
        var blockerPid = blocker.ProcessID;
        var (rig, callbacks, enqueued) = await CallerGoneWhileUnwatchedAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.5), logs.Path, ct, number: "5550919", beforeRestart: async () =>
        {
            await using var insert = new Npgsql.NpgsqlCommand("""
                INSERT INTO callbacks (callback_id, number, source, state, queue, created_at, promised_at, due_at, max_attempts, updated_at)
                VALUES (gen_random_uuid(), '5550919', 'scheduled', 'scheduled', 'support', now(), now(), now() + interval '1 day', 3, now())
                """, blocker, blocking);
            await insert.ExecuteNonQueryAsync(ct);
        });
        await using var running = rig;

        // The call has ended (lost) and its row is kept, marked, while the request waits.
        var marked = false;
        for (var i = 0; i < 600 && !marked; i++)
        {
            marked = await database.Database.ScalarAsync<long>($"SELECT count(*) FROM live_calls WHERE call_id = '{enqueued.CallId}' AND abandoned_at IS NOT NULL", ct) == 1;
            await Task.Delay(marked ? 0 : 50, ct);
        }

        Assert.True(marked, "the row of the caller found gone at adoption is not kept marked: " + await database.Database.ScalarAsync<long>(
            $"SELECT count(*) FROM live_calls WHERE call_id = '{enqueued.CallId}'", ct) + " row(s)");

        // The request's write fails (cancelled while it waits), as if the instance died in it; the blocker goes.
        long cancelled = 0;
        for (var i = 0; i < 600 && cancelled == 0; i++)
        {
            cancelled = await database.Database.ScalarAsync<long>(
                $"SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) FROM pg_stat_activity WHERE {blockerPid} = ANY (pg_blocking_pids(pid))", ct);
            await Task.Delay(cancelled == 0 ? 50 : 0, ct);
        }

        Assert.Equal(1, cancelled);
        await blocking.RollbackAsync(ct);
        var log = string.Empty;
        for (var i = 0; i < 600 && !log.Contains("(caller gone while unwatched)", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50, ct);
            log = await LogTextAsync(logs.Path, ct);
        }

        Assert.Contains("(caller gone while unwatched)", log, StringComparison.Ordinal); // the failed report's warning
        Assert.Empty(await callbacks.ListAsync(new CallbackFilter { Number = "5550919" }, ct));

        // The instance goes; the next one neither adopts the marked row (the call is not lost a second time) nor
        // forgets it: its sweep requests the callback from the row, 30 s after the hang-up was seen.
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        callbacks = await SchedulerAsync(rig, ct);
        Callback? owed = null;
        for (var i = 0; i < 1200 && owed is null; i++) // 60 s
        {
            var found = await callbacks.ListAsync(new CallbackFilter { Number = "5550919" }, ct);
            owed = found.Count > 0 ? found[0] : null;
            await Task.Delay(owed is null ? 50 : 0, ct);
        }

        Assert.True(owed is not null, "no callback for 5550919 from the kept row; log: " + await LogTextAsync(logs.Path, ct));
        Assert.Equal((CallbackSource.Abandoned, enqueued.CallId, 1), (owed.Source, owed.OriginCallId, owed.MergedRequests));
        Assert.Equal("sweep", (await callbacks.HistoryAsync(owed.Id, ct))[0].Actor);
        long kept = 1;
        for (var i = 0; i < 200 && kept > 0; i++) // the row goes right after the request is stored
        {
            kept = await database.Database.ScalarAsync<long>($"SELECT count(*) FROM live_calls WHERE call_id = '{enqueued.CallId}'", ct);
            await Task.Delay(kept > 0 ? 50 : 0, ct);
        }

        Assert.Equal(0, kept);
        Assert.Equal(1, await database.Database.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE call_id = '{enqueued.CallId}'", ct));
    }

    [Fact]
    public async Task ACallerGoneWhileUnwatched_AfterAShortWait_IsOwedNoCallback_AndTheLogSaysWhy()
    {
        var ct = TestContext.Current.CancellationToken;
        using var logs = new LogFolder();
        // Whatever the restart costs, the wait counted up to the adoption stays under an hour.
        var (rig, callbacks, enqueued) = await CallerGoneWhileUnwatchedAsync(TimeSpan.FromHours(1), TimeSpan.Zero, logs.Path, ct);
        await using var running = rig;

        // The refusal is written when the request is judged (off the call-control loop): bounded wait for the line.
        var log = string.Empty;
        for (var i = 0; i < 600 && !log.Contains("no callback owed", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50, ct);
            log = await LogTextAsync(logs.Path, ct);
        }

        var line = log.Split('\n').FirstOrDefault(l => l.Contains(enqueued.CallId, StringComparison.Ordinal) && l.Contains("no callback owed", StringComparison.Ordinal));
        Assert.True(line is not null, "no log line saying why " + enqueued.CallId + " is owed no callback; log: " + log);
        Assert.Contains("under callbacks.abandonedMinimumWait (3600 s)", line, StringComparison.Ordinal);
        Assert.Empty(await callbacks.ListAsync(new CallbackFilter { Number = "5550909" }, ct));
        Assert.Equal("system_lost", await database.Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{enqueued.CallId}'", ct));
    }

    [Fact]
    public async Task AQueueCallback_IsServedInThePositionItsCallerHad_BehindWhoWasAhead_AheadOfWhoCameLater()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2010", "1010")], Customers(talkSeconds: 1), ct, loggedIn: [],
            configure: c => c.Queues[0].ExitKeys = [new QueueExitKeySettings { Key = "1", Target = "callback" }]);
        await using var running = rig;

        // Nobody is logged in. B waits first, then A; A presses 1 (callback) and is released; then C calls.
        var b = rig.Trunk.CallIn("4008001", "5551002", "Bo");
        var bQueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551002", "B in the queue", ct);
        var a = rig.Trunk.CallIn("4008001", "5551001", "Al");
        var aQueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551001" && !e.Caller.Attributes.ContainsKey("callbackId"), "A in the queue", ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", a, ct);
        rig.Trunk.PressDigits(a, "1");
        await rig.PbxEvents.WaitAsync("Hangup", a, ct);

        // A's callback is stored (place in line = when A queued) and, due at once, queued as a task with A's
        // own priority: behind B, who was ahead of A.
        var task = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551001" && e.Caller.Attributes.ContainsKey("callbackId"), "A's callback in the queue", ct);
        var owed = (await callbacks.GetAsync(Guid.Parse(task.Caller.Attributes["callbackId"]), ct))!;
        Assert.Equal((CallbackSource.Queue, aQueued.CallId, CallbackMode.AgentFirst), (owed.Source, owed.OriginCallId, owed.Mode)); // the queue names no callbackMode
        Assert.InRange(owed.PlaceInLineSince!.Value - aQueued.At, TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(1)); // PostgreSQL keeps microseconds
        Assert.Equal(bQueued.Priority, task.Priority);
        var c = rig.Trunk.CallIn("4008001", "5551003", "Cy");
        await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551003", "C in the queue", ct);

        // An agent comes: rung for B, then A's callback (A is called back), then C.
        await rig.LoginAsync("2010", ct);
        Assert.Equal("5551002", (await rig.PbxEvents.DialToAsync("1010", ct))["DestCallerIDNum"]);
        await rig.PbxEvents.WaitAsync("BridgeEnter", b, ct);
        rig.Trunk.HangUp(b);
        await rig.AgentWentAsync("2010", AgentState.WrapUp, AgentState.Ready, ct);

        var second = await rig.PbxEvents.DialToAsync("1010", ct, nth: 2);
        Assert.Equal(("5551001", "[support] Callback Al"), (second["DestCallerIDNum"], second["DestCallerIDName"]));
        await StateAsync(callbacks, owed.Id, CallbackState.Connected, ct);
        await rig.AgentWentAsync("2010", AgentState.WrapUp, AgentState.Ready, ct, nth: 2);

        var third = await rig.PbxEvents.DialToAsync("1010", ct, nth: 3);
        Assert.Equal("5551003", third["DestCallerIDNum"]);
    }

    [Fact]
    public async Task AQueueCallback_AskedForAfterARestart_KeepsTheCallersPriority()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, _) = await StartAsync([("2012", "1012")], Customers(talkSeconds: 1), ct, loggedIn: [], configure: c =>
        {
            c.Queues[0].ExitKeys = [new QueueExitKeySettings { Key = "1", Target = "callback" }];
            c.Shutdown.HandBackCalls = false; // the caller stays in the Stasis app for the next instance
        });
        await using var running = rig;

        // A waits (nobody logged in); the service restarts and adopts the call (no CallEnqueued this time).
        var a = rig.Trunk.CallIn("4008001", "5551201", "Al");
        var aQueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551201", "A in the queue", ct);
        await LiveCallStoredAsync(aQueued.CallId, ct);
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        var callbacks = await SchedulerAsync(rig, ct);
        var adopted = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == aQueued.CallId, "A adopted", ct);
        Assert.Equal(aQueued.Priority, adopted.Priority);

        // A presses 1: the callback task keeps A's own priority (0), not the callback priority (5) that would put
        // it ahead of every ordinary caller.
        rig.Trunk.PressDigits(a, "1");
        await rig.PbxEvents.WaitAsync("Hangup", a, ct);
        var task = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551201" && e.Caller.Attributes.ContainsKey("callbackId"), "A's callback in the queue", ct);
        Assert.Equal((aQueued.Priority, 0), (task.Priority, aQueued.Priority));
        var owed = (await callbacks.GetAsync(Guid.Parse(task.Caller.Attributes["callbackId"]), ct))!;
        Assert.Equal((CallbackSource.Queue, aQueued.CallId), (owed.Source, owed.OriginCallId));
    }

    [Fact]
    public async Task AVoicemailLeftInTheQueue_BecomesACallback_PlacedWhenAnAgentComes()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2011", "1011")], Customers(talkSeconds: 1), ct, loggedIn: [], configure: c =>
        {
            c.Queues[0].ExitKeys = [new QueueExitKeySettings { Key = "2", Target = "voicemail:900" }];
            c.Fallback.VoicemailMaxMessage = TimeSpan.FromSeconds(5);
            c.RecordingDirectory = Path.Combine(Path.GetTempPath(), "ctibridge-callback-voicemail", Guid.NewGuid().ToString("N"));
        });
        await using var running = rig;

        // Nobody is logged in: the caller presses 2, hears the greeting and the beep, leaves a message (at most
        // 5 s), hears goodbye and is released.
        var caller = rig.Trunk.CallIn("4008001", "5551101", "Vi");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == "5551101", "the call in the queue", ct);
        await rig.PbxEvents.WaitAsync("MusicOnHoldStart", caller, ct);
        rig.Trunk.PressDigits(caller, "2");
        await rig.PbxEvents.WaitAsync("Hangup", caller, ct);

        // The message is a callback with the voicemail deadline (2 h), due at once.
        Callback? owed = null;
        for (var i = 0; i < 600 && owed is null; i++) // 30 s: stored off the call-control loop
        {
            var found = await callbacks.ListAsync(new CallbackFilter { Number = "5551101" }, ct);
            owed = found.Count > 0 ? found[0] : null;
            await Task.Delay(owed is null ? 50 : 0, ct);
        }

        Assert.NotNull(owed);
        Assert.Equal((CallbackSource.Voicemail, enqueued.CallId), (owed.Source, owed.OriginCallId));
        Assert.InRange(owed.Deadline!.Value - owed.CreatedAt, TimeSpan.FromHours(2) - TimeSpan.FromSeconds(5), TimeSpan.FromHours(2) + TimeSpan.FromSeconds(5));
        await StateAsync(callbacks, owed.Id, CallbackState.Due, ct);

        // An agent comes: the caller who left the message is called back, and the promise is kept.
        await rig.LoginAsync("2011", ct);
        Assert.Equal("5551101", (await rig.PbxEvents.DialToAsync("1011", ct))["DestCallerIDNum"]);
        var kept = await StateAsync(callbacks, owed.Id, CallbackState.Connected, ct);
        Assert.True(kept.ClosedAt <= owed.Deadline, $"kept at {kept.ClosedAt:O}, deadline {owed.Deadline:O}");
    }

    [Fact]
    public async Task TheWallboard_ShowsCallbackTilesPerQueue()
    {
        var ct = TestContext.Current.CancellationToken;
        var (rig, callbacks) = await StartAsync([("2008", "1008")], customers: null, ct, loggedIn: []);
        await using var running = rig;
        await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550808", "support", DateTimeOffset.UtcNow.AddDays(3), null, "wallboard", "api:test"), ct);
        var feed = rig.Services.GetRequiredService<Service.Live.WallboardFeed>();

        // Callback figures are read at most every 2 s and the snapshot follows without an ACD event: bounded wait.
        System.Text.Json.JsonElement? support = null;
        var version = 0L;
        for (var i = 0; i < 50 && support is null; i++)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(TimeSpan.FromSeconds(5));
            var snapshot = await feed.NextAsync(version, wait.Token);
            version = snapshot.Version;
            using var board = System.Text.Json.JsonDocument.Parse(snapshot.Json);
            foreach (var tile in board.RootElement.GetProperty("callbacks").EnumerateArray())
            {
                if (tile.GetProperty("queue").GetString() == "support" && tile.GetProperty("scheduled").GetInt64() >= 1)
                {
                    support = tile.Clone();
                }
            }
        }

        Assert.NotNull(support);
        Assert.Equal(0, support.Value.GetProperty("dialing").GetInt64());
        Assert.True(support.Value.TryGetProperty("overdue", out _));
        Assert.True(support.Value.TryGetProperty("oldestDueWaitSeconds", out _));
    }
}
