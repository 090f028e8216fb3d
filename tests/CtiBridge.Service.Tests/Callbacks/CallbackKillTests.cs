using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>
/// Issue 11's crash test with real processes and real calls: callbacks due over a window of real time are placed by
/// the service (<c>ctibridge run</c>, its own OS process, clustered Quartz and call control) against PbxSim: each
/// agent's desk phone is rung, then the customer through the trunk, and they talk. The process is killed with SIGKILL
/// while it places them, a new one started each time. Checked against PbxSim's call log (its AMI events) and the
/// database, with "exactly once" as docs/callbacks.md §12a defines it. Two set-ups: a single instance restarted after
/// each kill; and high availability (KillHardTests' set-up), an active instance and a standby on the same database,
/// the active one killed, the standby taking the lease and the callbacks over, and a new standby started each time.
/// <list type="bullet">
/// <item>every callback is kept once: one <c>→ connected</c> transition, and its last dial in PbxSim's log is the one
/// answered and bridged with an agent (none lost);</item>
/// <item>a callback is dialled again only when an earlier attempt of it was left open by a kill (the process died
/// before it stored the outcome), or when that attempt never reached an agent and was stored as ended and retried (the
/// customer hung up before being put through, which load makes likely with the test's 0.5 s customers);</item>
/// <item>never two dials of one customer at once (each dial ends before the next begins);</item>
/// <item>no dial the database does not know of: every dial's call id has its stored <c>→ dialing</c> transition
/// (written before the dial), and the attempts counted are the stored attempts.</item>
/// </list>
/// </summary>
/// <remarks>
/// Kills are placed by progress (after a random share of the callbacks is connected), not by the clock, so each lands
/// while calls are up whatever the machine's load. Bounded: every wait has a real-time limit. Short in the suite (150
/// callbacks over 20 s, at least 10 agents, two kills); the issue's figure from its own command (docs/callbacks.md §12a):
/// <c>CTIBRIDGE_CALLBACK_KILL_COUNT=10000 CTIBRIDGE_CALLBACK_KILLS=5 CTIBRIDGE_CALLBACK_KILL_WINDOW=600</c>
/// (<c>CTIBRIDGE_CALLBACK_KILL_AGENTS</c>, default: enough for twice the due rate; <c>CTIBRIDGE_CALLBACK_KILL_SETUP</c>
/// <c>restart</c> or <c>standby</c> runs that set-up only).
/// </remarks>
[Trait("Tier", "Soak")]
public sealed class CallbackKillTests : IAsyncDisposable
{
    private const string CustomerTrunk = "PJSIP/carrier-";
    private readonly List<ServiceProcess> _processes = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("ctibridge-cbkill-").FullName;
    private TimeSpan _bound = TimeSpan.FromMinutes(3);
    private AmiClient? _observer;
    private List<(string Id, string Phone)> _agents = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static int Setting(string name, int fallback, int max) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var n) && n > 0 && n <= max ? n : fallback;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServiceKilledHardWhilePlacingCallbacks_EachCallbackKeptOnce_RedialledOnlyAfterADialCutByAKill(bool standby)
    {
        // A long run by hand (the issue's 10 000) may take one set-up only: "restart" or "standby".
        var only = Environment.GetEnvironmentVariable("CTIBRIDGE_CALLBACK_KILL_SETUP");
        Assert.SkipWhen(only == (standby ? "restart" : "standby"), $"CTIBRIDGE_CALLBACK_KILL_SETUP={only}");
        var count = Setting("CTIBRIDGE_CALLBACK_KILL_COUNT", 150, 100_000);
        var kills = Setting("CTIBRIDGE_CALLBACK_KILLS", 2, 20);
        var window = TimeSpan.FromSeconds(Setting("CTIBRIDGE_CALLBACK_KILL_WINDOW", 20, 3600));
        var agentCount = Setting("CTIBRIDGE_CALLBACK_KILL_AGENTS", Math.Max(10, (int)Math.Ceiling(2 * count / window.TotalSeconds)), 500);
        _bound = TimeSpan.FromMinutes(3) + window;
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(Ct);
        await using var pbx = await PbxSimSettings.StartAsync();
        var log = await ObserveAsync(pbx);
        var agents = _agents = Enumerable.Range(0, agentCount).Select(i => (Id: (3000 + i).ToString(CultureInfo.InvariantCulture), Phone: (5000 + i).ToString(CultureInfo.InvariantCulture))).ToList();
        foreach (var (_, phone) in agents)
        {
            pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(100)); // and stays on until call control hangs up
        }

        _ = pbx.Trunk("carrier");
        pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 0.5 };
        var random = new Random(11);

        // Stored (record + trigger) by a node of this test process that never fires: due over the window, real time.
        // Ten attempts each, so a callback cut by several kills is still "kept once", not failed for want of attempts.
        var start = DateTimeOffset.UtcNow.AddSeconds(10);
        var numbers = Enumerable.Range(0, count).Select(i => "16" + i.ToString("D9", CultureInfo.InvariantCulture)).ToList();
        await using (var requester = await CallbackNode.StartAsync(db, TimeProvider.System, new CallbackPolicy { MaxAttempts = 10 }, start: false))
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (i, ct) =>
                await requester.Service.RequestAsync(CallbackRequest.AgentScheduled(numbers[i], "support", start + (window * i / count), null, null, "kill-test"), ct));
        }

        var process = await StartAsync(pbx, db, standby);
        await process.WaitReadyAsync(Ct);
        var next = standby ? await StartStandbyAsync(pbx, db) : null;
        var token = (await new ApiKeyStore(db.DataSource, TimeProvider.System).CreateAsync("kill-test", ApiRole.Supervisor, null, "test", Ct)).Token;
        foreach (var (agent, _) in agents)
        {
            // Logged in once: their states are stored and restored by every later process.
            using var login = await process.Http(token).PostAsJsonAsync($"/api/agents/{agent}/login", new { pin = CallCenterRig.Pin }, Ct);
            Assert.True(login.IsSuccessStatusCode, $"login of {agent}: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync(Ct)}");
        }

        // The customers' channels up at each kill (PbxSim's own view, taken around the SIGKILL): the dials it cut.
        var upAtKills = new HashSet<string>(StringComparer.Ordinal);

        // The attempts each kill left open in the database (dialing: the dead process's outcome never stored).
        var openAtKills = new HashSet<string>(StringComparer.Ordinal);

        // With a standby: the time from each kill until the standby answers ready (it holds the lease and controls calls).
        var takeovers = new List<double>();
        for (var k = 0; k < kills; k++)
        {
            var share = (k + 0.3 + (0.5 * random.NextDouble())) / kills;
            var target = (long)(count * share);
            await EventuallyAsync(async () => await ConnectedAsync(db) >= target, $"{target} callbacks connected before kill {k + 1}");
            upAtKills.UnionWith(CustomerChannels(pbx));
            var killed = Stopwatch.StartNew();
            process.KillHard();
            upAtKills.UnionWith(CustomerChannels(pbx));
            openAtKills.UnionWith((await db.ScalarAsync<string>("SELECT coalesce(string_agg(last_call_id, ','), '') FROM callbacks WHERE state = 'dialing'", Ct))
                .Split(',', StringSplitOptions.RemoveEmptyEntries));
            if (next is null)
            {
                process = await StartAsync(pbx, db, standby: false);
                continue;
            }

            // The standby takes the lease (the killed one's lock session ended with its socket) and serves: ready.
            process = next;
            await process.WaitReadyAsync(Ct);
            takeovers.Add(killed.Elapsed.TotalSeconds);
            next = await StartStandbyAsync(pbx, db);
        }

        await EventuallyAsync(async () => await ConnectedAsync(db) == count, $"all {count} callbacks connected");
        await EventuallyAsync(() => Task.FromResult(CustomerChannels(pbx).Count == 0), "every customer's call to end");

        // PbxSim's channels are gone a moment before its AMI events reach the log (read over a socket): the log is read
        // once it has every customer channel's Hangup.
        await EventuallyAsync(() => Task.FromResult(UnendedInLog(log) == 0), "PbxSim's call log to have every customer's hang-up");

        // PbxSim's call log: every customer dial (the trunk's channels) with its call id, number, end and whether it was bridged.
        var dials = new Dictionary<string, Dial>(StringComparer.Ordinal);
        var byName = new Dictionary<string, string>(StringComparer.Ordinal);
        var events = log.Snapshot();
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            var id = e["Uniqueid"] ?? string.Empty;
            if (e.EventName == "Newchannel" && (e["Channel"] ?? string.Empty).StartsWith(CustomerTrunk, StringComparison.Ordinal))
            {
                dials[id] = new Dial(id, e["Exten"] ?? string.Empty, i);
                byName[e["Channel"]!] = id;
            }
            else if (e.EventName == "Hangup" && dials.TryGetValue(id, out var ended))
            {
                ended.End = i;
            }
            else if (e.EventName == "BridgeEnter" && dials.TryGetValue(id, out var bridged))
            {
                bridged.Bridged = true;
            }
        }

        var cut = upAtKills.Where(byName.ContainsKey).Select(n => byName[n]).ToHashSet(StringComparer.Ordinal);

        // Attempts stored as ended without a conversation and retried: under load a customer may hang up (after their
        // 0.5 s) before being put through to the agent; that callback was not kept and is rightly called again.
        var retried = (await db.ScalarAsync<string>(
                "SELECT coalesce(string_agg(call_id, ','), '') FROM callback_events WHERE kind = 'transition' AND from_state = 'dialing' AND to_state = 'retry'", Ct))
            .Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var perNumber = dials.Values.GroupBy(d => d.Number).ToDictionary(g => g.Key, g => g.OrderBy(d => d.Start).ToList(), StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var number in numbers)
        {
            if (!perNumber.TryGetValue(number, out var ofNumber))
            {
                problems.Add($"{number}: never dialled");
                continue;
            }

            for (var i = 0; i < ofNumber.Count; i++)
            {
                var dial = ofNumber[i];
                if (dial.End is not { } end)
                {
                    problems.Add($"{number}: dial {dial.Id} never ended");
                }
                else if (i + 1 < ofNumber.Count && ofNumber[i + 1].Start < end)
                {
                    problems.Add($"{number}: dial {ofNumber[i + 1].Id} began while {dial.Id} was still up");
                }

                if (i + 1 < ofNumber.Count && !openAtKills.Contains(dial.CallId) && !(retried.Contains(dial.CallId) && !dial.Bridged))
                {
                    problems.Add($"{number}: dialled again after {dial.Id}, whose attempt no kill left open and which was not an unbridged attempt stored for a retry (bridged: {dial.Bridged}, up at a kill: {cut.Contains(dial.Id)}, retried: {retried.Contains(dial.CallId)})");
                }
            }

            if (!ofNumber[^1].Bridged)
            {
                problems.Add($"{number}: its last dial {ofNumber[^1].Id} never reached an agent");
            }
        }

        Assert.Empty(dials.Values.Where(d => !numbers.Contains(d.Number)).Select(d => d.Id));

        // The database: kept once by the last dial; every dial written ahead; the attempts counted are the stored ones.
        var stored = await db.ScalarAsync<string>("""
            SELECT coalesce(string_agg(concat_ws('|', c.number, c.state, c.attempts,
                (SELECT count(*) FROM callback_events e WHERE e.callback_id = c.callback_id AND e.kind = 'transition' AND e.to_state = 'connected'),
                (SELECT max(e.call_id) FROM callback_events e WHERE e.callback_id = c.callback_id AND e.kind = 'transition' AND e.to_state = 'connected'),
                (SELECT count(*) FROM callback_events e WHERE e.callback_id = c.callback_id AND e.kind = 'transition' AND e.to_state = 'dialing')
                  - (SELECT count(*) FROM callback_events e WHERE e.callback_id = c.callback_id AND e.kind = 'transition' AND e.from_state = 'dialing' AND e.to_state = 'due'),
                (SELECT string_agg(e.call_id, ' ') FROM callback_events e WHERE e.callback_id = c.callback_id AND e.kind = 'transition' AND e.to_state = 'dialing')), ';'), '')
            FROM callbacks c
            """, Ct);
        foreach (var row in stored.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(r => r.Split('|')))
        {
            var (number, state, attempts, connections, connectedCall, storedAttempts) = (row[0], row[1], row[2], row[3], row[4], row[5]);
            var dialledAhead = row.Length > 6 ? row[6].Split(' ').ToHashSet(StringComparer.Ordinal) : [];
            if (state != "connected" || connections != "1")
            {
                problems.Add($"{number}: {state} with {connections} connected transition(s)");
            }

            if (attempts != storedAttempts)
            {
                problems.Add($"{number}: {attempts} attempt(s) counted, {storedAttempts} stored");
            }

            if (perNumber.TryGetValue(number, out var ofNumber))
            {
                if (ofNumber[^1].CallId != connectedCall)
                {
                    problems.Add($"{number}: connected by {connectedCall}, but its last dial was {ofNumber[^1].CallId}");
                }

                problems.AddRange(ofNumber.Where(d => !dialledAhead.Contains(d.CallId)).Select(d => $"{number}: dial {d.Id} has no stored attempt (not written ahead)"));
            }
        }

        if (problems.Count > 0)
        {
            var kept = await KeepEvidenceAsync(db, events);
            Assert.Fail($"{problems.Count} problem(s):\n{string.Join("\n", problems.Take(50))}\nThe processes' output, PbxSim's call log and the callbacks' history: {kept}");
        }
        await EventuallyAsync(async () => await db.ScalarAsync<long>("SELECT count(*) FROM qrtz_triggers WHERE trigger_group = 'callbacks' AND trigger_name <> 'callback-sweep'", Ct) == 0,
            "no callback trigger left");
        // Dialled again: after a dial the kill cut (up at the kill), or after one that had ended, talked, before the kill
        // while its connection was not stored yet (the customer talked twice: the window is the report's write).
        var again = perNumber.Values.SelectMany(d => d.Take(d.Count - 1)).ToList();
        var talkedTwice = again.Count(d => d.Bridged && !cut.Contains(d.Id));
        var hungUpFirst = again.Count(d => !openAtKills.Contains(d.CallId) && retried.Contains(d.CallId));
        Assert.True(cut.Count > 0, "no kill cut a customer's call: the test proved nothing");
        var answerStored = await db.ScalarAsync<string>("""
            SELECT concat_ws(' / ', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 2), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY s)::numeric, 2), round(max(s)::numeric, 2))
            FROM (SELECT extract(epoch FROM c.at - d.at) AS s FROM callback_events c JOIN callback_events d ON d.callback_id = c.callback_id AND d.call_id = c.call_id AND d.to_state = 'dialing'
                  WHERE c.kind = 'transition' AND c.to_state = 'connected') x
            """, Ct);
        TestContext.Current.SendDiagnosticMessage(
            $"{(standby ? "active + standby" : "one instance, restarted")}: {count} callbacks over {window}, {agentCount} agents, {kills} kills"
            + (standby ? $" (standby ready after {string.Join(", ", takeovers.Select(t => t.ToString("0.00", CultureInfo.InvariantCulture)))} s)" : string.Empty)
            + $": {dials.Count} dials; up at the kills {cut.Count}, attempts left open by the kills {openAtKills.Count}; "
            + $"dialled again {again.Count} (after a cut dial {again.Count - talkedTwice - hungUpFirst}, after a finished conversation whose connection was not stored yet {talkedTwice}, "
            + $"retried after the customer hung up before being put through {hungUpFirst}); every callback connected once; dialing → connected stored after {answerStored} s (median / p99 / max; the customer rings 0.3 s)");
    }

    private sealed class Dial(string id, string number, int start)
    {
        public string Id { get; } = id;

        public string CallId => Id.EndsWith("-customer", StringComparison.Ordinal) ? Id[..^"-customer".Length] : Id;

        public string Number { get; } = number;

        public int Start { get; } = start;

        public int? End { get; set; }

        public bool Bridged { get; set; }
    }

    /// <summary>
    /// Writes what a failure needs to be understood (a run fails rarely and cannot be repeated at will) to a directory
    /// the test does not delete: each process's whole output, PbxSim's AMI events in order and every callback event.
    /// </summary>
    private async Task<string> KeepEvidenceAsync(TestDatabase db, IReadOnlyList<AmiMessage> events)
    {
        var kept = Directory.CreateTempSubdirectory("ctibridge-cbkill-failed-").FullName;
        foreach (var process in _processes)
        {
            await File.WriteAllTextAsync(Path.Combine(kept, process.Name + ".log"), process.Output, Ct);
        }

        await File.WriteAllLinesAsync(
            Path.Combine(kept, "pbxsim-ami.log"),
            events.Select((e, i) => $"{i} {e.EventName} {string.Join(' ', e.Where(f => f.Key != "Event").Select(f => $"{f.Key}={f.Value}"))}"), Ct);
        await File.WriteAllTextAsync(Path.Combine(kept, "callback-events.txt"), await db.ScalarAsync<string>("""
            SELECT coalesce(string_agg(concat_ws(' ', c.number, e.at, e.kind, e.from_state, e.to_state, e.call_id, e.actor, e.reason), E'\n' ORDER BY c.number, e.seq), '')
            FROM callback_events e JOIN callbacks c USING (callback_id)
            """, Ct), Ct);
        return kept;
    }

    private static int UnendedInLog(PbxEventLog log)
    {
        var events = log.Snapshot();
        var ended = events.Where(e => e.EventName == "Hangup").Select(e => e["Uniqueid"]).ToHashSet(StringComparer.Ordinal);
        return events.Count(e => e.EventName == "Newchannel" && (e["Channel"] ?? string.Empty).StartsWith(CustomerTrunk, StringComparison.Ordinal) && !ended.Contains(e["Uniqueid"]));
    }

    private static List<string> CustomerChannels(PbxSimulator pbx) => [.. pbx.ChannelNames.Where(n => n.StartsWith(CustomerTrunk, StringComparison.Ordinal))];

    private static Task<long> ConnectedAsync(TestDatabase db) => db.ScalarAsync<long>("SELECT count(*) FROM callbacks WHERE state = 'connected'", Ct);

    /// <summary>PbxSim's AMI events from now on, in order (its call log).</summary>
    private async Task<PbxEventLog> ObserveAsync(PbxSimulator pbx)
    {
        var log = new PbxEventLog();
        _observer = new AmiClient(
            new AmiClientOptions { Host = "127.0.0.1", Port = pbx.AmiEndPoint.Port, Username = "ctibridge", Secret = "ctibridge-secret" },
            NullLogger<AmiClient>.Instance, TimeProvider.System);
        log.Start(_observer.SubscribeEvents(null));
        await _observer.StartAsync(Ct);
        return log;
    }

    /// <summary>A standby: the same configuration, live but not ready while the active instance holds the lease.</summary>
    private async Task<ServiceProcess> StartStandbyAsync(PbxSimulator pbx, TestDatabase db)
    {
        var process = await StartAsync(pbx, db, standby: true);
        await process.WaitLiveAsync(Ct);
        Assert.False(await process.IsReadyAsync(Ct), $"{process.Name} must be a standby while the active instance holds the lease");
        return process;
    }

    private async Task<ServiceProcess> StartAsync(PbxSimulator pbx, TestDatabase db, bool standby)
    {
        var settings = PbxSimSettings.Service(db.ConnectionString, PbxSimSettings.For(pbx));
        settings.Database.MigrateOnStart = false;
        settings.Logging.Level = "Information"; // the process's port is read from Kestrel's "Now listening on"
        settings.Callbacks.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
        settings.Callbacks.InstanceDeadAfter = TimeSpan.FromSeconds(2);
        settings.Callbacks.CustomerRingTimeout = TimeSpan.FromSeconds(5);
        settings.Callbacks.RetryDelay = TimeSpan.FromSeconds(1); // a customer who hung up before being put through is called again soon
        settings.Callbacks.MaxRetryDelay = TimeSpan.FromSeconds(1);
        settings.Callbacks.CallerId = "4008001";
        settings.CallControl = new CallControlSettings
        {
            Queues = [new CallQueueSettings { Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.2), MusicOnHold = "default" }],
            Agents = [.. _agents.Select(a => new CallAgentSettings { Id = a.Id, Extension = "PJSIP/" + a.Phone, PinHash = CallCenterRig.PinHash, Queues = ["support"] })],
            ExternalEndpoint = "PJSIP/carrier/{number}",
            RecordJournalDirectory = Path.Combine(_directory, $"p{_processes.Count}-journal"),
            HighAvailability = standby,

            // With a standby, calls are left for it to adopt rather than handed back to the dialplan (KillHardTests).
            Shutdown = standby ? new ShutdownSettings { HandBackCalls = false, CallsFinishWithin = TimeSpan.Zero } : new ShutdownSettings(),
        };
        var path = Path.Combine(_directory, $"p{_processes.Count}.json");
        await File.WriteAllTextAsync(path, ConfigurationFile.Json(settings), Ct);
        var process = ServiceProcess.Start($"p{_processes.Count}", path, port: 0, bound: _bound);
        _processes.Add(process);
        return process;
    }

    // Bounded by the run's own limit; a failure shows the last lines of each process (a long run logs every call).
    private Task EventuallyAsync(Func<Task<bool>> condition, string what) =>
        BoundedWait.WaitUntilAsync(condition, what, _bound,
            () => Task.FromResult($"Processes:\n{string.Join("\n", _processes.Select(p => string.Join("\n", p.Output.Split('\n').TakeLast(150))))}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        if (_observer is not null)
        {
            await _observer.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }
}
