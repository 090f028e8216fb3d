using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Two Asterisk servers (two PbxSims on loopback) in one deployment, with the real service and
/// PostgreSQL (docs/sites.md): calls into both servers, agents on both (the same phone number on
/// each), a queue kept to the caller's server and a queue spanning both through inter-site trunks
/// (<see cref="SiteLink"/>), and one server restarted while the other keeps serving. The call rows
/// say which server each call was on.
/// </summary>
public sealed class SitesTests
{
    private const string SiteA = TwoSites.SiteA;
    private const string SiteB = TwoSites.SiteB;

    // How long the channels of ended calls may take to go on PbxSim, and how often that is looked at.
    private static readonly TimeSpan ChannelsEndWithin = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ChannelsPoll = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task TwoServers_LocalAndSpanningQueues_CallsIntoBoth_OneServerRestarted_TheOtherKeepsServing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await TwoSiteRig.StartAsync(database, ct);
        var a = rig.A;
        var b = rig.B;

        // HA on: one lease per Asterisk server, both held by this (only) instance.
        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'ctibridge-lease:%' AND datname = current_database()", ct));

        await rig.LoginAsync("b1", ct); // idle longest: leastrecent would pick b1 if the queue let it
        await rig.LoginAsync("a1", ct);

        // 1. Site A's caller in the local queue goes to site A's agent; b1 is skipped as on another site.
        var call1 = await rig.CallAsync(a, "4008001", "5550001", ct);
        await rig.AnsweredByAsync(call1, "a1", ct);
        var decision = rig.Events.Snapshot().OfType<RoutingDecision>().First(d => d.CallId == call1);
        Assert.Contains(decision.Candidates, c => c.AgentId == "b1" && c.Skip == SkipReason.OtherSite);

        // 2. Site B's caller in the same queue: b1's phone PJSIP/1001 on site B (site A has a 1001 too).
        var call2 = await rig.CallAsync(b, "4008001", "5550002", ct);
        await rig.AnsweredByAsync(call2, "b1", ct);
        await rig.BEvents.DialToAsync("1001", ct);

        // 3. The spanning queue: site A's caller reaches b2 on site B over A's trunk to B.
        await rig.LoginAsync("b2", ct);
        var call3 = await rig.CallAsync(a, "4008002", "5550003", ct);
        await rig.AnsweredByAsync(call3, "b2", ct);
        await rig.BEvents.DialToAsync("1002", ct);
        Assert.Equal(1, rig.Link.Carried);
        await rig.HangUpCallerAsync(a, call3, ct);
        await rig.EndedAsync(call3, CallDisposition.Answered, ct);

        // 4. And the other way: with b2 paused, site B's caller reaches a2 on site A over B's trunk to A.
        Assert.True((await rig.Center.PauseAgentAsync("b2", "break", ct)).Accepted);
        await rig.LoginAsync("a2", ct);
        var call4 = await rig.CallAsync(b, "4008002", "5550004", ct);
        await rig.AnsweredByAsync(call4, "a2", ct);
        await rig.AEvents.DialToAsync("1002", ct);
        Assert.Equal(2, rig.Link.Carried);
        await rig.HangUpCallerAsync(b, call4, ct);
        await rig.EndedAsync(call4, CallDisposition.Answered, ct);

        // 5. Site A restarts with call 1 up (its conversation is cut: it was answered, so it ends
        // answered, once); call 2 on site B goes on, untouched.
        a.Restart();
        rig.Link.ServerRestarted(a);
        await rig.EndedAsync(call1, CallDisposition.Answered, ct);
        Assert.DoesNotContain(rig.Events.Snapshot().OfType<CallEnded>(), e => e.CallId == call2);
        await rig.HangUpCallerAsync(b, call2, ct);
        await rig.EndedAsync(call2, CallDisposition.Answered, ct);

        // 6. Site A is served again once its Stasis app is back.
        await CallCenterRig.WaitForStasisAppAsync(a, ct);
        var call5 = await rig.CallAsync(a, "4008001", "5550005", ct);
        await rig.AnsweredByAsync(call5, "a1", ct);
        await rig.HangUpCallerAsync(a, call5, ct);
        await rig.EndedAsync(call5, CallDisposition.Answered, ct);

        // Nothing left up on either server; every call stored once, with its server.
        await rig.NoChannelsLeftAsync();
        await rig.StopServiceAsync();
        var rows = await rig.CallRowsAsync(ct);
        Assert.Equal(
        [
            (call1, SiteA, "answered", "a1"),
            (call2, SiteB, "answered", "b1"),
            (call3, SiteA, "answered", "b2"),
            (call4, SiteB, "answered", "a2"),
            (call5, SiteA, "answered", "a1"),
        ], rows);
    }

    /// <summary>
    /// An Asterisk server restarts while a call spans the two sites (docs/sites.md): first the agent's
    /// server, under site A's caller talking to b2 over A's trunk to B; then the caller's server, under
    /// the next such call. What the caller and the records see: the conversation is cut, the call ends
    /// once, answered by b2, recorded on the caller's server, released by the system either way (when B restarted
    /// the trunk leg failed with cause 102; when A did the caller's channel vanished); no channel is left up on either
    /// server (the caller is not left on a dead line, b2's phone is freed); and once the restarted
    /// server's Stasis app is back, b2 takes the next spanning call.
    /// </summary>
    [Fact]
    public async Task ServerRestart_DuringAQueueSpanningCall_CallEndsOnceAnswered_NobodyLeftOnTheLine_AgentServesAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await TwoSiteRig.StartAsync(database, ct);
        var a = rig.A;
        var b = rig.B;
        await rig.LoginAsync("b2", ct);

        // 1. The agent's server (B) restarts mid-conversation: the caller on A is released by CtiBridge.
        var call1 = await rig.CallAsync(a, "4008002", "5550011", ct);
        await rig.AnsweredByAsync(call1, "b2", ct);
        await RestartUnderCallAsync(rig, b, a, call1, ct);

        // 2. The caller's server (A) restarts mid-conversation: b2's phone on B is released.
        var call2 = await rig.CallAsync(a, "4008002", "5550012", ct);
        await rig.AnsweredByAsync(call2, "b2", ct);
        await RestartUnderCallAsync(rig, a, b, call2, ct);

        // 3. Both back: the next spanning call reaches b2 again.
        var call3 = await rig.CallAsync(a, "4008002", "5550013", ct);
        await rig.AnsweredByAsync(call3, "b2", ct);
        await rig.HangUpCallerAsync(a, call3, ct);
        await rig.EndedAsync(call3, CallDisposition.Answered, ct);

        await rig.NoChannelsLeftAsync();
        Assert.Equal(3, rig.Link.Carried);
        await rig.StopServiceAsync();
        Assert.Equal(
        [
            (call1, SiteA, "answered", "b2"),
            (call2, SiteA, "answered", "b2"),
            (call3, SiteA, "answered", "b2"),
        ], await rig.CallRowsAsync(ct));
        // B's restart reaches site A as the trunk leg ended by its SIP session timer (cause 102, not the
        // normal clearing of the agent hanging up): released by the system. A's restart makes the caller's
        // channel vanish unseen: a system loss too. The last call the caller ended.
        Assert.Equal(["system", "system", "caller"], await rig.ReleasedByAsync([call1, call2, call3], ct));
    }

    /// <summary>
    /// A caller on site B abandons the local queue; the callback owed to them is placed from site B (not from the
    /// first server), through site B's own carrier (<c>asterisk[1].externalEndpoint</c>, a 9 before the number here),
    /// and, the queue not spanning servers, by site B's agent b1 while a1 on site A, idle longer, is skipped. The
    /// callback's call row is on site-b. docs/sites.md.
    /// </summary>
    [Fact]
    public async Task AbandonedOnSiteB_TheCallbackIsPlacedFromSiteB_ThroughItsOwnCarrier_BySiteBsAgent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await TwoSiteRig.StartAsync(database, ct, settings =>
        {
            settings.Asterisk[1].ExternalEndpoint = "PJSIP/carrier/9{number}";
            settings.Callbacks.AbandonedMinimumWait = TimeSpan.FromSeconds(1);
            settings.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(10);
            settings.Callbacks.CallerId = "4008001";
        });
        var callbacks = await rig.SchedulerAsync(ct);

        // Only a1 (site A) is logged in: site B's caller waits, then hangs up after more than the minimum wait.
        // a1 logs in before the callback exists, so the callback's own routing decision (made when its task
        // reaches the queue) is the one that must pass a1 over; an agent becoming ready only lists itself.
        await rig.LoginAsync("a1", ct);
        var origin = await rig.CallAsync(rig.B, "4008001", "5550031", ct);
        await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
        await rig.HangUpCallerAsync(rig.B, origin, ct);
        await rig.EndedAsync(origin, CallDisposition.Abandoned, ct);
        Callback? owed = null;
        for (var i = 0; i < 300 && owed is null; i++)
        {
            var found = await callbacks.ListAsync(new CallbackFilter { Number = "5550031" }, ct);
            owed = found.Count > 0 ? found[0] : null;
            await Task.Delay(owed is null ? 50 : 0, ct);
        }

        Assert.NotNull(owed);
        Assert.Equal((CallbackSource.Abandoned, origin), (owed.Source, owed.OriginCallId));

        // a1 (site A) came first and is idle longest; b1 (site B) after: the callback is site B's.
        await rig.LoginAsync("b1", ct);
        var callId = await CallbackPutThroughOnSiteBAsync(rig, "5550031", owed.Id, ct);
        Assert.Contains(rig.Events.Snapshot().OfType<RoutingDecision>(), d => d.CallId == callId && d.Candidates.Any(c => c.AgentId == "a1" && c.Skip == SkipReason.OtherSite));
    }

    [Fact]
    public async Task TwoServersGiveTwoCallersTheSameChannelId_BothAreServedOnTheirOwnServer_TheClashIsLogged()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await TwoSiteRig.StartAsync(database, ct, sameChannelIds: true);
        await rig.LoginAsync("a1", ct);
        await rig.LoginAsync("b1", ct);

        // The first caller on each server: both channels are "1764000000.0" (no systemname, the same second).
        var onA = await rig.CallAsync(rig.A, "4008001", "5550051", ct);
        await rig.AnsweredByAsync(onA, "a1", ct);
        var onB = await rig.CallAsync(rig.B, "4008001", "5550052", ct);
        string ChannelOf(string callId) => rig.Events.Snapshot().OfType<CallEnqueued>().Single(e => e.CallId == callId).Caller.Attributes["asterisk.channel"];
        Assert.Equal(ChannelOf(onA), ChannelOf(onB)); // the clash this test is about, not a coincidence of timing

        // Known by server and id, B's caller is a call of its own (before: taken for A's call and dropped unserved).
        await rig.AnsweredByAsync(onB, "b1", ct);
        await rig.HangUpCallerAsync(rig.A, onA, ct);
        await rig.EndedAsync(onA, CallDisposition.Answered, ct);
        Assert.DoesNotContain(rig.Events.Snapshot().OfType<CallEnded>(), e => e.CallId == onB); // A's hang-up ended A's call only
        await rig.HangUpCallerAsync(rig.B, onB, ct);
        await rig.EndedAsync(onB, CallDisposition.Answered, ct);
        await rig.NoChannelsLeftAsync();
        await rig.StopServiceAsync();

        Assert.Equal([(onA, SiteA, "answered", "a1"), (onB, SiteB, "answered", "b1")], await rig.CallRowsAsync(ct));
        var log = rig.LogText().Replace("\"", string.Empty, StringComparison.Ordinal); // the file may quote the values
        var clash = $"Inbound channel {ChannelOf(onB)} on server {SiteB} has the id of a channel of call {onA} on server {SiteA}";
        Assert.True(log.Contains(clash, StringComparison.Ordinal), $"event 815 not in the service's log: {clash}\n{log}");
    }

    [Fact]
    public async Task ApiCallbackWithNoOriginCallAndNoOwner_IsPlacedFromTheServerWhoseAgentsServeItsQueue_NotTheFirstServer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await TwoSiteRig.StartAsync(database, ct, settings =>
        {
            settings.Asterisk[1].ExternalEndpoint = "PJSIP/carrier/9{number}";
            settings.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(10);
            settings.Callbacks.CallerId = "4008001";
        });
        var callbacks = await rig.SchedulerAsync(ct);

        // Of the local queue's agents only b1 (site B, the second server) is logged in. The callback is made over
        // the API for a number that never called and has no owner: it has no server of its own. Placed from the
        // first server (A), as before, a local queue's call could reach no one there; it must be placed from B.
        await rig.LoginAsync("b1", ct);
        _ = rig.A.Trunk("carrier"); // each server has its carrier (PbxSim adds a trunk when first named)
        _ = rig.B.Trunk("carrier");
        var ticket = await callbacks.CreateAsync(new CallbackRequest { Number = "5550041", Source = CallbackSource.Scheduled, Queue = "local", DueAt = DateTimeOffset.UtcNow }, ct);
        Assert.Null(ticket.Callback.OriginCallId);
        Assert.Null(ticket.Callback.OwnerAgentId);

        await CallbackPutThroughOnSiteBAsync(rig, "5550041", ticket.Callback.Id, ct);
    }

    /// <summary>
    /// The callback <paramref name="callbackId"/> to <paramref name="number"/> is placed from site B: b1's phone rings, the
    /// customer is dialled through B's carrier (a 9 before the number) and answers, b1 takes the call, and nothing of it
    /// reaches site A. Once the customer is put through to b1 they hang up; with the service stopped, the callback's
    /// call row says outbound, answered, b1, site-b. Returns the callback call's ID.
    /// </summary>
    private static async Task<string> CallbackPutThroughOnSiteBAsync(TwoSiteRig rig, string number, Guid callbackId, CancellationToken ct)
    {
        await rig.BEvents.DialToAsync("1001", ct);
        var customer = await rig.BEvents.WaitAsync("Newchannel", "PJSIP/carrier-", ct, also: e => e["Exten"] == "9" + number);
        Assert.True(rig.B.Trunk("carrier").Answer(customer["Channel"]!));
        var callId = (await rig.Events.WaitForAsync<CallAnswered>(e => e.CallId.StartsWith("cb-", StringComparison.Ordinal), "the callback answered", ct)).CallId;
        Assert.Equal("b1", (await rig.Events.WaitForAsync<CallAnswered>(e => e.CallId == callId, "the callback answered", ct)).AgentId);
        Assert.Equal(0, rig.AEvents.Count("Newchannel", e => (e["Exten"] ?? string.Empty).EndsWith(number, StringComparison.Ordinal)));
        Assert.Equal(0, rig.AEvents.Count("DialBegin", _ => true));

        // The callback is kept once the customer is put through to the agent (in the agent's bridge), not at the answer.
        await rig.BEvents.WaitAsync("BridgeEnter", customer["Channel"]!, ct);
        rig.B.Trunk("carrier").HangUp(customer["Channel"]!);
        await rig.Events.WaitForAsync<CallEnded>(e => e.CallId == callId, "the callback call to end", ct);
        await rig.NoChannelsLeftAsync();
        await rig.StopServiceAsync();
        Assert.Equal("outbound|answered|b1|site-b", await rig.Database.ScalarAsync<string>(
            $"SELECT concat_ws('|', direction, disposition, agent_id, asterisk_server) FROM calls WHERE callback_id = '{callbackId}'", ct));
        return callId;
    }

    /// <summary>
    /// <paramref name="restarted"/> restarts under the answered call <paramref name="callId"/>; waits until the
    /// call has ended (answered, once), nothing of it is left up on the <paramref name="other"/> server, and the
    /// restarted server's Stasis app is registered again.
    /// </summary>
    private static async Task RestartUnderCallAsync(TwoSiteRig rig, PbxSimulator restarted, PbxSimulator other, string callId, CancellationToken ct)
    {
        restarted.Restart();
        rig.Link.ServerRestarted(restarted);
        await rig.EndedAsync(callId, CallDisposition.Answered, ct);
        await BoundedWait.WaitUntilAsync(() => Task.FromResult(other.CallCount == 0), "no channel left up on the other server after the restart", ChannelsEndWithin,
            () => Task.FromResult("Channels still up: " + string.Join(", ", other.ChannelNames)), ChannelsPoll);
        await CallCenterRig.WaitForStasisAppAsync(restarted, ct);
        // The next call crosses the trunk: the link (the test's stand-in for SIP) must see the restarted
        // server again, or the call is never carried (this was the "not answered by b2 within 15 s" flake).
        await rig.Link.WatchingAgainAsync(restarted, ct);
    }

    /// <summary>Two PbxSims linked by inter-site trunks, one service with HA on, the call center's events and each server's AMI events.</summary>
    private sealed class TwoSiteRig : IAsyncDisposable
    {
        private WebApplication? _app;
        private CallCenterSubscription? _subscription;
        private Task _pump = Task.CompletedTask;
        private readonly Dictionary<string, string> _callers = new(StringComparer.Ordinal);
        private readonly string _journal = Path.Combine(Path.GetTempPath(), "ctibridge-sites-tests", Guid.NewGuid().ToString("N"));
        private readonly string _logs = Path.Combine(Path.GetTempPath(), "ctibridge-sites-tests", Guid.NewGuid().ToString("N") + "-log");

        private TwoSiteRig(PbxSimulator a, PbxSimulator b, SiteLink link, PbxEventLog aEvents, PbxEventLog bEvents, TestDatabase database)
        {
            A = a;
            B = b;
            Link = link;
            AEvents = aEvents;
            BEvents = bEvents;
            Database = database;
        }

        public PbxSimulator A { get; }

        public PbxSimulator B { get; }

        public SiteLink Link { get; }

        public PbxEventLog AEvents { get; }

        public PbxEventLog BEvents { get; }

        public TestDatabase Database { get; }

        public EventLog<AcdEvent> Events { get; } = new();

        public CallCenter Center => _app!.Services.GetRequiredService<CallCenter>();

        private readonly PbxObservers _observers = new();

        /// <param name="database">The database.</param>
        /// <param name="ct">Cancels the start.</param>
        /// <param name="configure">Changes to the service's settings.</param>
        /// <param name="sameChannelIds">Both PbxSims without a systemname and with the same seconds in channel ids:
        /// their n-th channels have the same id, as two Asterisks without a systemname give out in the same second.</param>
        public static async Task<TwoSiteRig> StartAsync(TestDatabase database, CancellationToken ct, Action<CtiBridgeSettings>? configure = null, bool sameChannelIds = false)
        {
            var a = await PbxSimSettings.StartAsync(Options(SiteB, sameChannelIds));
            var b = await PbxSimSettings.StartAsync(Options(SiteA, sameChannelIds));
            foreach (var sim in new[] { a, b })
            {
                sim.Phone("1001");
                sim.Phone("1002");
            }

            var link = await SiteLink.StartAsync(a, SiteA, b, SiteB, ct);
            var rig = new TwoSiteRig(a, b, link, new PbxEventLog(), new PbxEventLog(), database);
            await rig._observers.ObserveAsync(a, rig.AEvents, ct);
            await rig._observers.ObserveAsync(b, rig.BEvents, ct);

            var siteA = PbxSimSettings.For(a, SiteA);
            siteA.Trunks = [new SiteTrunkSettings { To = SiteB, Dial = "PJSIP/to-site-b/{resource}" }];
            var siteB = PbxSimSettings.For(b, SiteB);
            siteB.Trunks = [new SiteTrunkSettings { To = SiteA, Dial = "PJSIP/to-site-a/{resource}" }];
            var settings = new CtiBridgeSettings
            {
                Database = new DatabaseSettings { ConnectionString = database.ConnectionString, MigrateOnStart = false },
                Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
                Asterisk = [siteA, siteB],
                Logging = new LogSettings { Level = "Warning", File = Path.Combine(rig._logs, "ctibridge-.log") },
                CallControl = new CallControlSettings
                {
                    Queues =
                    [
                        new CallQueueSettings { Name = "local", WrapUp = TimeSpan.Zero },
                        new CallQueueSettings { Name = "wide", WrapUp = TimeSpan.Zero, SpanServers = true },
                    ],
                    Agents = [TwoSites.Agent("a1", "1001", SiteA, "local"), TwoSites.Agent("b1", "1001", SiteB, "local"), TwoSites.Agent("a2", "1002", SiteA, "wide"), TwoSites.Agent("b2", "1002", SiteB, "wide")],
                    Dids = [new DidRouteSettings { Number = "4008001", Queue = "local" }, new DidRouteSettings { Number = "4008002", Queue = "wide" }],
                    RecordJournalDirectory = rig._journal,
                    ExternalEndpoint = "PJSIP/carrier/{number}",
                    HighAvailability = true,
                    Shutdown = new ShutdownSettings { CallsFinishWithin = TimeSpan.Zero },
                },
            };

            configure?.Invoke(settings);

            // The same checks as `ctibridge check-config`: the file an admin would write is valid.
            var problems = new List<SettingsProblem>();
            SettingsValidator.Validate(settings, problems);
            Assert.Empty(problems);

            rig._app = CtiBridgeHost.Build(settings);
            rig._subscription = rig.Center.SubscribeEvents();
            rig._pump = rig.Events.PumpAsync(rig._subscription.Reader);
            await rig._app.StartAsync(ct);
            await CallCenterRig.WaitForStasisAppAsync(a, ct);
            await CallCenterRig.WaitForStasisAppAsync(b, ct);
            return rig;
        }

        private static PbxSimOptions Options(string otherSite, bool sameChannelIds)
        {
            // Each server its own systemname (docs/sites.md): channel ids then never clash between them;
            // or, to make them clash, none and one fixed second (an arbitrary one, 2025-11-24 16:00 UTC).
            var options = TwoSites.PbxOptions(sameChannelIds ? string.Empty : otherSite == SiteB ? SiteA : SiteB, sameChannelIds ? 1_764_000_000 : null);
            SiteLink.AddTrunks(options, otherSite);
            return options;
        }

        public Task LoginAsync(string agentId, CancellationToken ct) => CallCenterRig.LoginAsync(Center, agentId, ct);

        /// <summary>Waits until no channel is left up on either server.</summary>
        public Task NoChannelsLeftAsync() =>
            BoundedWait.WaitUntilAsync(() => Task.FromResult(A.CallCount == 0 && B.CallCount == 0), "no channel left up on either server", ChannelsEndWithin,
                () => Task.FromResult($"Channels still up: A {string.Join(", ", A.ChannelNames)}; B {string.Join(", ", B.ChannelNames)}"), ChannelsPoll);

        /// <summary>The callback service once its Quartz scheduler runs (due callbacks are handed to the call center from then on).</summary>
        public async Task<CallbackService> SchedulerAsync(CancellationToken ct)
        {
            var callbacks = _app!.Services.GetRequiredService<CallbackService>();
            for (var i = 0; i < 600 && !callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal); i++)
            {
                await Task.Delay(50, ct);
            }

            Assert.StartsWith("scheduler:", callbacks.Actor, StringComparison.Ordinal);
            return callbacks;
        }

        /// <summary>A customer calls <paramref name="did"/> on <paramref name="sim"/>; returns the call's ID once it is queued.</summary>
        public async Task<string> CallAsync(PbxSimulator sim, string did, string number, CancellationToken ct)
        {
            var channel = sim.Trunk("carrier").CallIn(did, number, "Caller " + number);
            var enqueued = await Events.WaitForAsync<CallEnqueued>(e => e.Caller.CallerNumber == number, $"call from {number} queued", ct);
            Assert.Equal(ReferenceEquals(sim, A) ? SiteA : SiteB, enqueued.Caller.Site);
            _callers[enqueued.CallId] = channel;
            return enqueued.CallId;
        }

        public Task AnsweredByAsync(string callId, string agentId, CancellationToken ct) =>
            Events.WaitForAsync<CallAnswered>(e => e.CallId == callId && e.AgentId == agentId, $"call {callId} answered by {agentId}", ct);

        public Task EndedAsync(string callId, CallDisposition disposition, CancellationToken ct) =>
            Events.WaitForAsync<CallEnded>(e => e.CallId == callId && e.Disposition == disposition, $"call {callId} ended {disposition}", ct);

        /// <summary>The caller of <paramref name="callId"/> hangs up (their channel on the carrier trunk of <paramref name="sim"/>).</summary>
        public Task HangUpCallerAsync(PbxSimulator sim, string callId, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            sim.Trunk("carrier").HangUp(_callers[callId]);
            return Task.CompletedTask;
        }

        public async Task<List<(string CallId, string Server, string Disposition, string Agent)>> CallRowsAsync(CancellationToken ct)
        {
            var rows = new List<(string, string, string, string)>();
            await using var command = Database.DataSource.CreateCommand("SELECT call_id, asterisk_server, disposition, agent_id FROM calls ORDER BY started_at, call_id");
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }

            return rows;
        }

        /// <summary>Who released each call, as the call rows say (in the order of <paramref name="callIds"/>).</summary>
        public async Task<List<string>> ReleasedByAsync(IReadOnlyList<string> callIds, CancellationToken ct)
        {
            var released = new List<string>();
            foreach (var callId in callIds)
            {
                await using var command = Database.DataSource.CreateCommand("SELECT coalesce(released_by, '(none)') FROM calls WHERE call_id = $1");
                command.Parameters.AddWithValue(callId);
                released.Add((string)(await command.ExecuteScalarAsync(ct))!);
            }

            return released;
        }

        /// <summary>The service's log file(s) so far (Warning and above), read after <see cref="StopServiceAsync"/> for all of it.</summary>
        public string LogText()
        {
            return Directory.Exists(_logs) ? string.Concat(Directory.GetFiles(_logs).Order(StringComparer.Ordinal).Select(File.ReadAllText)) : string.Empty;
        }

        public async Task StopServiceAsync()
        {
            await CallCenterRig.StopAsync(_app);
            _app = null;
        }

        public async ValueTask DisposeAsync()
        {
            await StopServiceAsync();
            _subscription?.Dispose();
            await _pump;
            await _observers.DisposeAsync();
            await Link.DisposeAsync();
            await A.DisposeAsync();
            await B.DisposeAsync();
            foreach (var directory in new[] { _journal, _logs })
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
        }
    }
}
