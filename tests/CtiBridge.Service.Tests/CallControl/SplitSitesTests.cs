using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.HighAvailability;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Servers split between instances (issue 14, docs/sites.md "Splitting servers between instances"): two real services
/// on one PostgreSQL, instance One with <c>callControl.servers: ["site-a"]</c> and instance Two with <c>["site-b"]</c>,
/// two PbxSims on loopback. Each holds only its server's lease and Stasis app, its ACD only its server's agents; an
/// agent of the other server is refused at login with the instance that controls it named; and a due callback fired
/// on the instance that does not control its server is handed off through the database and placed (dialled once, on
/// the right server) by the one that does.
/// </summary>
public sealed class SplitSitesTests
{
    private const string SiteA = TwoSites.SiteA;
    private const string SiteB = TwoSites.SiteB;

    [Fact]
    public async Task TwoInstancesOnePerSite_EachControlsOnlyItsServer_OtherSitesAgentRefused_CallbacksHandedToTheControllingInstance()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await SplitRig.StartAsync(database, ct);

        // 1. Each instance holds its own server's lease only.
        var one = rig.One;
        var two = rig.Two;
        Assert.Equal(one.Role.InstanceId, await CallControlLease.HolderAsync(database.DataSource, SiteA, ct));
        Assert.Equal(two.Role.InstanceId, await CallControlLease.HolderAsync(database.DataSource, SiteB, ct));
        Assert.True(one.Role.IsActive);
        Assert.True(two.Role.IsActive);

        // 2. Each ACD (and so each wallboard and metrics) holds only its server's agents.
        Assert.Equal(["a1", "a2"], (await one.Center.GetAgentsAsync(ct)).Select(a => a.Status.AgentId).Order(StringComparer.Ordinal));
        Assert.Equal(["b1", "b2"], (await two.Center.GetAgentsAsync(ct)).Select(a => a.Status.AgentId).Order(StringComparer.Ordinal));

        // 3. b1's phone is on site-b: a login on One is refused, naming the server and the instance that controls it.
        var refused = await one.Center.LoginAgentAsync("b1", CallCenterRig.Pin, ct);
        Assert.False(refused.Accepted);
        Assert.Contains("'site-b'", refused.Reason, StringComparison.Ordinal);
        Assert.Contains(two.Role.InstanceId, refused.Reason, StringComparison.Ordinal);
        await CallCenterRig.LoginAsync(one.Center, "a1", ct);
        await CallCenterRig.LoginAsync(two.Center, "b1", ct);

        // 4. A call into each server is served by that server's instance and agent.
        var callA = await rig.CallAsync(one, rig.A, "5550001", ct);
        await one.Events.WaitForAsync<CallAnswered>(e => e.CallId == callA && e.AgentId == "a1", "site A's call answered by a1", ct);
        var callB = await rig.CallAsync(two, rig.B, "5550002", ct);
        await two.Events.WaitForAsync<CallAnswered>(e => e.CallId == callB && e.AgentId == "b1", "site B's call answered by b1", ct);
        Assert.DoesNotContain(one.Events.Snapshot(), e => e is CallEnqueued q && q.CallId == callB);
        Assert.DoesNotContain(two.Events.Snapshot(), e => e is CallEnqueued q && q.CallId == callA);

        // 4b. The whole centre over both parts (GET /api/wallboard/centre), asked of either instance: both servers with
        // the instance controlling each, both agents on their calls, and a caller waiting on B (b1 is busy) though One holds none of it.
        var waitingB = await rig.CallAsync(two, rig.B, "5550009", ct);
        using var centreOne = await rig.ReportingClientAsync(one, database, ct);
        using var centreTwo = await rig.ReportingClientAsync(two, database, ct);
        foreach (var client in new[] { centreOne, centreTwo })
        {
            System.Text.Json.JsonElement centre = default;
            await WhenAsync(async () =>
            {
                centre = await CentreAsync(client, ct);
                return Part(centre, SiteB).GetProperty("waiting").GetInt32() == 1
                    && centre.GetProperty("agents").EnumerateArray().Count(a => a.GetProperty("state").GetString() == "OnCall") == 2;
            }, "the centre view to show both agents on their calls and the caller waiting on B");
            Assert.Equal(one.Role.InstanceId, Part(centre, SiteA).GetProperty("controlledBy").GetString());
            Assert.Equal(two.Role.InstanceId, Part(centre, SiteB).GetProperty("controlledBy").GetString());
            Assert.Equal(0, Part(centre, SiteA).GetProperty("waiting").GetInt32());
            Assert.Equal(1, Part(centre, SiteA).GetProperty("agentsOnCall").GetInt32());
            Assert.Equal(1, Part(centre, SiteB).GetProperty("agentsOnCall").GetInt32());
            Assert.Equal(["a1:site-a:" + callA, "b1:site-b:" + callB], centre.GetProperty("agents").EnumerateArray()
                .Select(a => $"{a.GetProperty("agentId").GetString()}:{a.GetProperty("server").GetString()}:{a.GetProperty("callId").GetString()}"));
            var local = centre.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == "local");
            Assert.Equal(1, local.GetProperty("waiting").GetInt32());
            Assert.Equal(2, local.GetProperty("agentsOnCall").GetInt32());
        }

        // Each instance's own wallboard has its part only: One sees no caller waiting.
        Assert.Equal(0, (await one.Center.GetQueuesAsync(ct)).Single(q => q.Status.Queue == "local").Status.Waiting);
        rig.B.Trunk("carrier").HangUp(rig.Caller(waitingB));
        await two.Events.WaitForAsync<CallEnded>(e => e.CallId == waitingB, "site B's waiting caller abandoned", ct);

        rig.A.Trunk("carrier").HangUp(rig.Caller(callA));
        rig.B.Trunk("carrier").HangUp(rig.Caller(callB));
        await one.Events.WaitForAsync<CallEnded>(e => e.CallId == callA, "site A's call ended", ct);
        await two.Events.WaitForAsync<CallEnded>(e => e.CallId == callB, "site B's call ended", ct);

        // Today's figures over both parts, from the call records: the three calls of both servers in one queue line.
        await WhenAsync(async () =>
        {
            var local = (await CentreAsync(centreOne, ct)).GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == "local");
            return local.GetProperty("offered").GetInt32() == 3 && local.GetProperty("answered").GetInt32() == 2 && local.GetProperty("abandoned").GetInt32() == 1;
        }, "the centre's today figures to count both servers' calls (3 offered, 2 answered, 1 abandoned)");

        // 5. Callbacks owned by b1 and a1, fired (as Quartz may) on the instance that does NOT control the owner's
        // server: each is handed off through the database, claimed by the other instance and dialled on its server.
        var toB = (await one.Callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550101", "local", DateTimeOffset.UtcNow.AddHours(1), "b1", "split", "api:test"), ct)).Callback.Id;
        var toA = (await two.Callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550102", "local", DateTimeOffset.UtcNow.AddHours(1), "a1", "split", "api:test"), ct)).Callback.Id;
        await one.Callbacks.FireDueAsync(toB, ct);
        await two.Callbacks.FireDueAsync(toA, ct);

        var connectedB = await StateAsync(one.Callbacks, toB, CallbackState.Connected, ct);
        var connectedA = await StateAsync(one.Callbacks, toA, CallbackState.Connected, ct);
        Assert.Equal(SiteB, connectedB.PlacedFrom);
        Assert.Equal(SiteA, connectedA.PlacedFrom);
        await two.Events.WaitForAsync<CallAnswered>(e => e.CallId.StartsWith("cb-", StringComparison.Ordinal) && e.AgentId == "b1", "b1 takes the callback", ct);
        await one.Events.WaitForAsync<CallAnswered>(e => e.CallId.StartsWith("cb-", StringComparison.Ordinal) && e.AgentId == "a1", "a1 takes the callback", ct);

        // The history: due on the firing instance, handed off by it, claimed by the controlling one, then dialled there.
        Assert.Equal(["transition:due", "handed_off:due", "claimed:due", "transition:dialing", "transition:connected"],
            (await one.Callbacks.HistoryAsync(toB, ct)).Where(h => h.Kind != "created").Select(h => $"{h.Kind}:{CallbackStates.Name(h.To)}"));
        Assert.Contains(two.Callbacks.InstanceId!, (await one.Callbacks.HistoryAsync(toB, ct)).Single(h => h.Kind == "claimed").Reason, StringComparison.Ordinal);
        Assert.Contains(one.Callbacks.InstanceId!, (await one.Callbacks.HistoryAsync(toA, ct)).Single(h => h.Kind == "claimed").Reason, StringComparison.Ordinal);

        // 6. A batch due now, fired by Quartz on whichever node: each dialled exactly once, on its owner's server.
        var batch = new List<(Guid Id, string Number, string Site)>();
        for (var i = 0; i < 6; i++)
        {
            var number = "55502" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture);
            var (via, owner, site) = i % 2 == 0 ? (one, "b1", SiteB) : (two, "a1", SiteA);
            batch.Add(((await via.Callbacks.CreateAsync(CallbackRequest.AgentScheduled(number, "local", DateTimeOffset.UtcNow, owner, "split batch", "api:test"), ct)).Callback.Id, number, site));
        }

        var handedOff = 0;
        foreach (var (id, _, site) in batch)
        {
            // Handed off (placed_from set) when Quartz fired it on the other instance; placed at once where it fired otherwise.
            var connected = await StateAsync(one.Callbacks, id, CallbackState.Connected, ct);
            Assert.True(connected.PlacedFrom is null || connected.PlacedFrom == site, $"callback {id} placed from {connected.PlacedFrom}, not {site}");
            handedOff += connected.PlacedFrom is null ? 0 : 1;
        }

        TestContext.Current.SendDiagnosticMessage($"split: {handedOff} of {batch.Count} callbacks due at once were fired on the other instance and handed off");

        await rig.StopAsync();
        List<string> Dialled(PbxEventLog log) => [.. log.Snapshot()
            .Where(e => e.EventName == "DialBegin" && (e["DialString"] ?? string.Empty).StartsWith("carrier/", StringComparison.Ordinal))
            .Select(e => e["DialString"]!["carrier/".Length..]).Order(StringComparer.Ordinal)];
        Assert.Equal(batch.Where(b => b.Site == SiteA).Select(b => b.Number).Append("5550102").Order(StringComparer.Ordinal), Dialled(rig.AEvents));
        Assert.Equal(batch.Where(b => b.Site == SiteB).Select(b => b.Number).Append("5550101").Order(StringComparer.Ordinal), Dialled(rig.BEvents));

        // Each callback's call is on its owner's server.
        foreach (var (id, _, site) in batch)
        {
            Assert.Equal(site, await database.ScalarAsync<string>($"SELECT string_agg(DISTINCT asterisk_server, ',') FROM calls WHERE callback_id = '{id}'", ct));
        }

        // Every call stored once, on its server: the three inbound calls and the eight callbacks.
        Assert.Equal(
            $"{SiteA}:inbound:1|{SiteA}:outbound:4|{SiteB}:inbound:2|{SiteB}:outbound:4",
            await database.ScalarAsync<string>(
                "SELECT string_agg(asterisk_server || ':' || direction || ':' || n, '|' ORDER BY asterisk_server, direction) FROM "
                + "(SELECT asterisk_server, direction, count(DISTINCT call_id) AS n FROM calls GROUP BY 1, 2) c", ct));
    }

    /// <summary>
    /// A standby per part: a third instance configured for site-b waits while Two holds site-b's lease. When Two's
    /// lock session ends (as when its host dies), the standby takes site-b over within 5 s and restores b1, while One
    /// keeps site-a untouched; a callback of b1 fired on One is then handed off to and placed by the new holder.
    /// </summary>
    [Fact]
    public async Task APartsStandby_TakesOverThatPartOnly_AndPlacesTheCallbacksHandedOffToIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await SplitRig.StartAsync(database, ct);
        var one = rig.One;
        var two = rig.Two;
        var standby = await rig.AddInstanceAsync(database, SiteB, ct);
        Assert.False(standby.Role.IsActive);
        await CallCenterRig.LoginAsync(one.Center, "a1", ct);
        await CallCenterRig.LoginAsync(two.Center, "b1", ct);
        await WhenAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_agents WHERE agent_id = 'b1'", ct) == 1, "b1's live state to be stored");

        // Two's lease session ends: Two stops call control at once; the standby of site-b takes it over.
        var ended = await database.ScalarAsync<long>(
            $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'ctibridge-lease:{two.Role.InstanceId}'", ct);
        Assert.Equal(1, ended);
        var lostAt = DateTimeOffset.UtcNow;
        await WhenAsync(() => standby.Role.IsActive, "the standby of site-b to take over");
        var takeover = standby.Role.ActiveSince!.Value - lostAt;
        TestContext.Current.SendDiagnosticMessage($"split: site-b taken over by its standby in {takeover.TotalSeconds:0.00} s");
        Assert.True(takeover <= TimeSpan.FromSeconds(5), $"takeover took {takeover.TotalSeconds:0.00} s");
        Assert.Equal(standby.Role.InstanceId, await CallControlLease.HolderAsync(database.DataSource, SiteB, ct));
        Assert.Equal(one.Role.InstanceId, await CallControlLease.HolderAsync(database.DataSource, SiteA, ct));
        Assert.True(one.Role.IsActive);

        // The standby's ACD holds site-b's agents only, b1 restored as logged in; a caller on B reaches b1 there.
        await CallCenterRig.WaitForStasisAppAsync(rig.B, ct);
        var agents = await standby.Center.GetAgentsAsync(ct);
        Assert.Equal(["b1", "b2"], agents.Select(a => a.Status.AgentId).Order(StringComparer.Ordinal));
        await WhenAsync(async () => (await standby.Center.GetAgentAsync("b1", ct))?.State == AgentState.Ready, "b1 to be restored Ready on the standby");
        var callB = await rig.CallAsync(standby, rig.B, "5550003", ct);
        await standby.Events.WaitForAsync<CallAnswered>(e => e.CallId == callB && e.AgentId == "b1", "site B's call answered by b1 on the new holder", ct);
        rig.B.Trunk("carrier").HangUp(rig.Caller(callB));
        await standby.Events.WaitForAsync<CallEnded>(e => e.CallId == callB, "site B's call ended", ct);

        // b1's callback fired on One: handed off, claimed by the new holder of site-b, dialled on B once.
        var id = (await one.Callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550301", "local", DateTimeOffset.UtcNow.AddHours(1), "b1", "split takeover", "api:test"), ct)).Callback.Id;
        await one.Callbacks.FireDueAsync(id, ct);
        Assert.Equal(SiteB, (await StateAsync(one.Callbacks, id, CallbackState.Connected, ct)).PlacedFrom);
        Assert.Contains(standby.Callbacks.InstanceId!, (await one.Callbacks.HistoryAsync(id, ct)).Single(h => h.Kind == "claimed").Reason, StringComparison.Ordinal);

        await rig.StopAsync();
        Assert.Equal(1, rig.BEvents.Count("DialBegin", e => e["DialString"] == "carrier/5550301"));
        Assert.Equal(0, rig.AEvents.Count("DialBegin", e => (e["DialString"] ?? string.Empty).StartsWith("carrier/", StringComparison.Ordinal)));
        Assert.Equal("site-b|answered|b1", await database.ScalarAsync<string>(
            $"SELECT string_agg(DISTINCT concat_ws('|', asterisk_server, disposition, agent_id), ',') FROM calls WHERE callback_id = '{id}'", ct));
    }

    /// <summary>
    /// Reminders and escalations with servers split between instances: every part's instance reads them from the
    /// database, and only the part controlling the callback's server puts one on its event stream (before, both did,
    /// and a supervisor watching both parts saw each twice). The owner's phone decides (a1: site-a, b1: site-b); a
    /// callback of the queue with no owner and no origin call goes to the server with most of the queue's agents,
    /// the first on a tie (site-a). The history rows are written as another Quartz node's sweep would.
    /// </summary>
    [Fact]
    public async Task RemindersAndEscalations_SplitParts_EachPutOnTheStreamOfExactlyOnePart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await SplitRig.StartAsync(database, ct);
        var store = rig.One.App.Services.GetRequiredService<Data.Callbacks.CallbackStore>();
        var tomorrow = DateTimeOffset.UtcNow.AddDays(1);
        async Task<Guid> NoticeAsync(string number, string? owner, string kind)
        {
            var id = (await rig.One.Callbacks.CreateAsync(CallbackRequest.AgentScheduled(number, "local", tomorrow, owner, "split notices", "api:test"), ct)).Callback.Id;
            Assert.NotNull(await store.MoveAsync(id, [CallbackState.Scheduled], CallbackState.Scheduled,
                new Data.Callbacks.CallbackChange(DateTimeOffset.UtcNow, kind == "reminded" ? "due tomorrow" : "open too long", "scheduler:another-node") { Kind = kind }, ct));
            return id;
        }

        // Written in this order: each instance seeing the last one of its own part has read every earlier one.
        var ofA1 = await NoticeAsync("5550401", "a1", "reminded");
        var ofTheQueue = await NoticeAsync("5550402", null, "escalated");
        var ofB1 = await NoticeAsync("5550403", "b1", "reminded");
        var ofA2 = await NoticeAsync("5550404", "a2", "escalated");

        Task<CallbackNoticeNoted> NotedAsync(Instance instance, Guid id) =>
            instance.Events.WaitForAsync<CallbackNoticeNoted>(e => e.Notice.Callback.Id == id, $"the notice of callback {id}", ct);
        await NotedAsync(rig.One, ofA1);
        await NotedAsync(rig.One, ofTheQueue);
        await NotedAsync(rig.Two, ofB1);
        await NotedAsync(rig.One, ofA2);

        List<Guid> Noted(Instance instance) => [.. instance.Events.Snapshot().OfType<CallbackNoticeNoted>().Select(e => e.Notice.Callback.Id)];
        Assert.Equal([ofA1, ofTheQueue, ofA2], Noted(rig.One));
        Assert.Equal([ofB1], Noted(rig.Two));
    }

    [Fact]
    public void SettingsCheck_ASpanningQueueWithAgentsOnServersOfDifferentInstances_IsAConfigurationError()
    {
        var settings = SplitRig.Settings("Host=unused", [SiteA]);
        settings.Asterisk = [new AsteriskServerSettings { Name = SiteA }, new AsteriskServerSettings { Name = SiteB }];
        foreach (var server in settings.Asterisk)
        {
            server.Ami.Host = "127.0.0.1";
            server.Ari.BaseUrl = "http://127.0.0.1:8088/ari";
        }

        settings.Asterisk[0].Trunks = [new SiteTrunkSettings { To = SiteB, Dial = "PJSIP/{resource}@site-b" }];
        settings.Asterisk[1].Trunks = [new SiteTrunkSettings { To = SiteA, Dial = "PJSIP/{resource}@site-a" }];
        settings.CallControl.Queues.Add(new CallQueueSettings { Name = "wide", SpanServers = true });
        settings.CallControl.Agents[0].Queues.Add("wide");
        settings.CallControl.Agents[2].Queues.Add("wide");
        settings.CallControl.Servers = [SiteA, "site-c", "SITE-A"];

        var problems = new List<SettingsProblem>();
        SiteRouting.Validate(settings.Asterisk, settings.CallControl, problems);
        Assert.Equal(
        [
            "callControl.servers[1]: 'site-c' is not one of the asterisk servers (site-a, site-b); did you mean 'site-a'?",
            "callControl.servers[2]: 'SITE-A' is listed twice; list it once",
            "callControl.queues[1].spanServers: queue 'wide' spans servers whose calls are controlled by different instances: agents on site-a (a1), "
            + "controlled here (callControl.servers: site-a), and on site-b (b1), controlled by another instance; one instance's ACD cannot offer "
            + "a call to an agent another instance holds. Set spanServers to false, or let one instance control all of its agents' servers",
        ], problems.Select(p => p.ToString()));

        // The same queue with this instance controlling both servers (or no list: all of them) is fine.
        settings.CallControl.Servers = [SiteA, SiteB];
        problems.Clear();
        SiteRouting.Validate(settings.Asterisk, settings.CallControl, problems);
        Assert.Empty(problems);
    }

    private static async Task<System.Text.Json.JsonElement> CentreAsync(HttpClient client, CancellationToken ct) =>
        System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/api/wallboard/centre", ct)).RootElement;

    private static System.Text.Json.JsonElement Part(System.Text.Json.JsonElement centre, string server) =>
        centre.GetProperty("servers").EnumerateArray().Single(s => s.GetProperty("server").GetString() == server);

    /// <summary>Bounded wait (30 s) for <paramref name="condition"/>.</summary>
    private static Task WhenAsync(Func<bool> condition, string what) => WhenAsync(() => Task.FromResult(condition()), what);

    /// <summary>Bounded wait (30 s) for <paramref name="condition"/>.</summary>
    private static Task WhenAsync(Func<Task<bool>> condition, string what) =>
        BoundedWait.WaitUntilAsync(condition, what, TimeSpan.FromSeconds(30), poll: TimeSpan.FromMilliseconds(50));

    private static async Task<Callback> StateAsync(CallbackService callbacks, Guid id, CallbackState state, CancellationToken ct)
    {
        Callback? current = null;
        for (var i = 0; i < 800; i++) // 40 s
        {
            current = await callbacks.GetAsync(id, ct);
            if (current?.State == state)
            {
                return current;
            }

            await Task.Delay(50, ct);
        }

        var history = await callbacks.HistoryAsync(id, ct);
        throw new TimeoutException($"Callback {id} is {current?.State}, not {state}, after 40 s: {string.Join(" | ", history.Select(h => $"{h.Kind} {h.To}: {h.Reason}"))}");
    }

    /// <summary>One service instance of the split: its host, call center, callbacks, role and call-center events.</summary>
    private sealed class Instance(WebApplication app, CallCenterSubscription subscription, EventLog<AcdEvent> events, Task pump)
    {
        public WebApplication App { get; } = app;

        public CallCenter Center => App.Services.GetRequiredService<CallCenter>();

        public CallbackService Callbacks => App.Services.GetRequiredService<CallbackService>();

        public CallControlRole Role => App.Services.GetRequiredService<CallControlRole>();

        public EventLog<AcdEvent> Events { get; } = events;

        public CallCenterSubscription Subscription { get; } = subscription;

        public Task Pump { get; } = pump;
    }

    /// <summary>Two PbxSims, instance One controlling site-a and instance Two site-b, both on one database, HA on.</summary>
    private sealed class SplitRig : IAsyncDisposable
    {
        private readonly PbxObservers _observers = new();
        private readonly Dictionary<string, string> _callers = new(StringComparer.Ordinal);
        private readonly string _root = Path.Combine(Path.GetTempPath(), "ctibridge-split-tests", Guid.NewGuid().ToString("N"));
        private readonly List<Instance> _instances = [];

        private SplitRig(PbxSimulator a, PbxSimulator b)
        {
            A = a;
            B = b;
        }

        public PbxSimulator A { get; }

        public PbxSimulator B { get; }

        public PbxEventLog AEvents { get; } = new();

        public PbxEventLog BEvents { get; } = new();

        public Instance One => _instances[0];

        public Instance Two => _instances[1];

        /// <summary>The service settings of an instance controlling <paramref name="servers"/> (servers filled in by the caller).</summary>
        public static CtiBridgeSettings Settings(string connectionString, List<string> servers)
        {
            var settings = new CtiBridgeSettings
            {
                Database = new DatabaseSettings { ConnectionString = connectionString, MigrateOnStart = false },
                Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
                Logging = new LogSettings { Level = "Warning" },
                CallControl = new CallControlSettings
                {
                    Servers = servers,
                    Queues = [new CallQueueSettings { Name = "local", WrapUp = TimeSpan.Zero }],
                    Agents = [TwoSites.Agent("a1", "1001", SiteA, "local"), TwoSites.Agent("a2", "1002", SiteA, "local"), TwoSites.Agent("b1", "1001", SiteB, "local"), TwoSites.Agent("b2", "1002", SiteB, "local")],
                    Dids = [new DidRouteSettings { Number = "4008001", Queue = "local" }],
                    ExternalEndpoint = "PJSIP/carrier/{number}",
                    HighAvailability = true,
                    Shutdown = new ShutdownSettings { CallsFinishWithin = TimeSpan.Zero },
                },
            };
            settings.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(10);
            settings.Callbacks.AbandonedMinimumWait = TimeSpan.FromHours(1); // the caller abandoned in the centre view's step earns no callback
            settings.Callbacks.CallerId = "4008001";
            return settings;
        }

        public static async Task<SplitRig> StartAsync(TestDatabase database, CancellationToken ct)
        {
            var rig = new SplitRig(await PbxSimSettings.StartAsync(TwoSites.PbxOptions(SiteA)), await PbxSimSettings.StartAsync(TwoSites.PbxOptions(SiteB)));
            try
            {
                foreach (var sim in new[] { rig.A, rig.B })
                {
                    sim.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
                    sim.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));
                    _ = sim.Trunk("carrier");
                    sim.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0.3 };
                }

                await rig._observers.ObserveAsync(rig.A, rig.AEvents, ct);
                await rig._observers.ObserveAsync(rig.B, rig.BEvents, ct);
                await rig.AddInstanceAsync(database, SiteA, ct);
                await rig.AddInstanceAsync(database, SiteB, ct);
                await CallCenterRig.WaitForStasisAppAsync(rig.A, ct);
                await CallCenterRig.WaitForStasisAppAsync(rig.B, ct);
                foreach (var instance in rig._instances)
                {
                    await WhenAsync(() => instance.Role.IsActive, "an instance to start call control");
                }

                return rig;
            }
            catch
            {
                await rig.DisposeAsync();
                throw;
            }
        }

        /// <summary>
        /// Starts another instance controlling <paramref name="server"/> (its own journal and log), on the same
        /// database and PbxSims; returns once its Quartz node runs. A second one for a server waits as its standby.
        /// </summary>
        public async Task<Instance> AddInstanceAsync(TestDatabase database, string server, CancellationToken ct)
        {
            var tag = $"{server}-{_instances.Count}";
            var settings = Settings(database.ConnectionString, [server]);
            settings.Asterisk = [PbxSimSettings.For(A, SiteA), PbxSimSettings.For(B, SiteB)];
            settings.CallControl.RecordJournalDirectory = Path.Combine(_root, tag + "-journal");
            settings.Logging.File = Path.Combine(_root, tag + "-log", "ctibridge-.log");

            // The same checks as `ctibridge check-config`: the file an admin would write is valid.
            var problems = new List<SettingsProblem>();
            SettingsValidator.Validate(settings, problems);
            Assert.Empty(problems);

            var app = CtiBridgeHost.Build(settings);
            var events = new EventLog<AcdEvent>();
            var subscription = app.Services.GetRequiredService<CallCenter>().SubscribeEvents();
            var instance = new Instance(app, subscription, events, events.PumpAsync(subscription.Reader));
            _instances.Add(instance);
            await app.StartAsync(ct);
            await WhenAsync(() => instance.Callbacks.InstanceId is not null, "an instance's Quartz node to start");
            return instance;
        }

        /// <summary>A customer calls the DID on <paramref name="sim"/>; returns the call's ID once <paramref name="instance"/> queued it.</summary>
        public async Task<string> CallAsync(Instance instance, PbxSimulator sim, string number, CancellationToken ct)
        {
            var channel = sim.Trunk("carrier").CallIn("4008001", number, "Caller " + number);
            var enqueued = await instance.Events.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == number, $"call from {number} queued", ct);
            _callers[enqueued.CallId] = channel;
            return enqueued.CallId;
        }

        public string Caller(string callId) => _callers[callId];

        /// <summary>An HTTP client of <paramref name="instance"/>'s API with a reporting key.</summary>
        public async Task<HttpClient> ReportingClientAsync(Instance instance, TestDatabase database, CancellationToken ct)
        {
            var token = (await new Data.Access.ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync($"rep-{Guid.NewGuid():N}"[..20], Data.Access.ApiRole.Reporting, null, "test", ct)).Token;
            var client = new HttpClient { BaseAddress = new Uri(instance.App.Urls.First()) };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            return client;
        }

        /// <summary>Stops both services (every record written).</summary>
        public async Task StopAsync()
        {
            foreach (var instance in _instances)
            {
                await CallCenterRig.StopAsync(instance.App);
            }

            foreach (var instance in _instances)
            {
                instance.Subscription.Dispose();
                await instance.Pump;
            }

            _instances.Clear();
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            await _observers.DisposeAsync();

            await A.DisposeAsync();
            await B.DisposeAsync();
            if (Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }
        }
    }
}
