using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// PbxSim (trunk dialplan → <c>Stasis(ctibridge,inbound,${EXTEN})</c>), the real host with call
/// control, an AMI observer of everything PbxSim does, and the call center's domain events.
/// </summary>
internal sealed class CallCenterRig : IAsyncDisposable
{
    public const string Pin = "4321";
    public static readonly string PinHash = AgentPin.Hash(Pin, iterations: 1000);

    private WebApplication? _app;
    private CallCenterSubscription? _subscription;
    private Task _pump = Task.CompletedTask;
    private AmiEventSubscription? _amiEvents;
    private CtiBridgeSettings? _settings;
    private Action<IServiceCollection>? _services;
    private readonly string _journalDirectory = Path.Combine(Path.GetTempPath(), "ctibridge-call-tests", Guid.NewGuid().ToString("N"));

    private CallCenterRig(PbxSimulator pbx, AmiClient observer, PbxEventLog pbxEvents)
    {
        Pbx = pbx;
        Observer = observer;
        PbxEvents = pbxEvents;
    }

    public PbxSimulator Pbx { get; }

    public AmiClient Observer { get; }

    /// <summary>Every AMI event PbxSim published, in order: what callers and agents experienced.</summary>
    public PbxEventLog PbxEvents { get; }

    /// <summary>The call center's domain events, in order.</summary>
    public EventLog<AcdEvent> AcdEvents { get; } = new();

    public CallCenter Center => _app!.Services.GetRequiredService<CallCenter>();

    public IServiceProvider Services => _app!.Services;

    public Trunk Trunk => Pbx.Trunk("carrier");

    /// <summary>
    /// Starts with <paramref name="configure"/> changing the call-control settings (extra queues, IVR
    /// plans, lookup), <paramref name="configureService"/> the rest of the service's settings (webhooks),
    /// <paramref name="sounds"/> as PbxSim's sound catalogue (name → seconds), <paramref name="services"/> stand-in services (a callback scheduler)
    /// and <paramref name="callControlClock"/> the call center's own clock (a fake one: its ring timeouts, wrap-ups and
    /// key waits fire only when the test advances it; PbxSim and the Asterisk connections keep real time).
    /// </summary>
    public static async Task<CallCenterRig> StartAsync(TestDatabase database, CallQueueSettings queue, IReadOnlyList<(string AgentId, string Phone)> agents, CancellationToken ct,
        Action<CallControlSettings>? configure = null, Dictionary<string, double>? sounds = null, string? journalDirectory = null,
        Action<CtiBridgeSettings>? configureService = null, Action<IServiceCollection>? services = null, string? configurationFile = null,
        TimeProvider? callControlClock = null)
    {
        var options = new PbxSimOptions
        {
            Sounds = sounds,
            Dialplan = new()
            {
                ["from-trunk"] = new() { ["_X."] = ["NoOp(Call to DID ${EXTEN} from ${CALLERID(all)})", "Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] },
                // Where CtiBridge hands calls back when it stops (asterisk-config/extensions.conf has the real one).
                ["ctibridge-fallback"] = new() { ["_X."] = ["NoOp(CtiBridge handed back ${EXTEN})", "Wait(60)", "Hangup()"] },
                ["from-internal"] = new()
                {
                    ["_X."] = ["Hangup()"],
                    ["_*9X"] = ["Stasis(ctibridge,feature,${EXTEN})", "Hangup()"],
                    ["_*9X."] = ["Stasis(ctibridge,feature,${EXTEN})", "Hangup()"],
                    ["_*8X"] = ["Stasis(ctibridge,supervisor,${EXTEN})", "Hangup()"],
                    ["_*8X."] = ["Stasis(ctibridge,supervisor,${EXTEN})", "Hangup()"],
                },
            },
        };
        // Tests of a class share a database: each rig is a new deployment (a new PbxSim), so the
        // live state an earlier test left (agents logged in, calls up) is not restored into it, and
        // callbacks an earlier test asked for (voicemails, exit keys) are not offered again in it,
        // and an earlier test's call records are not this deployment's day: the live statistics
        // start from the day's records (docs/metrics.md section 2), so the figures a test reads are its own.
        await using (var clear = database.DataSource.CreateCommand(
            "DELETE FROM live_agents; DELETE FROM live_calls; DELETE FROM live_ivr_calls; DELETE FROM live_callback_calls; DELETE FROM callback_events; DELETE FROM callbacks; "
            + "DELETE FROM queue_visits; DELETE FROM queue_events; DELETE FROM agent_state_intervals; DELETE FROM calls; DELETE FROM call_legs; "
            + "DELETE FROM queue_rollup_15m; DELETE FROM agent_rollup_15m; DELETE FROM agent_state_rollup_1h; DELETE FROM agent_login_rollup_1h"))
        {
            await clear.ExecuteNonQueryAsync(ct);
        }

        var pbx = await PbxSimSettings.StartAsync(options);
        var log = new PbxEventLog();
        var observer = new AmiClient(
            // Back quickly after a PbxSim restart, so the log misses as few events as possible.
            new AmiClientOptions { Host = "127.0.0.1", Port = pbx.AmiEndPoint.Port, Username = "ctibridge", Secret = "ctibridge-secret", ReconnectDelayMin = TimeSpan.FromMilliseconds(50), ReconnectDelayMax = TimeSpan.FromMilliseconds(200) },
            NullLogger<AmiClient>.Instance, TimeProvider.System);
        var rig = new CallCenterRig(pbx, observer, log);
        rig._amiEvents = observer.SubscribeEvents(null);
        log.Start(rig._amiEvents);
        await observer.StartAsync(ct);

        var settings = new CtiBridgeSettings
        {
            Database = new DatabaseSettings { ConnectionString = database.ConnectionString, MigrateOnStart = false },
            Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
            Asterisk = [PbxSimSettings.For(pbx)],
            Logging = new LogSettings { Level = "Warning" },
            CallControl = new CallControlSettings
            {
                Queues = [queue],
                Agents = agents.Select(a => new CallAgentSettings { Id = a.AgentId, Extension = "PJSIP/" + a.Phone, PinHash = PinHash, Queues = [queue.Name] }).ToList(),
                Dids = [new DidRouteSettings { Number = "4008001", Queue = queue.Name }],
                RecordJournalDirectory = journalDirectory ?? rig._journalDirectory,
                ExternalEndpoint = "PJSIP/carrier/{number}",

                // Stopping a rig hands calls back at once; the graceful-stop tests set their own limit.
                Shutdown = new ShutdownSettings { CallsFinishWithin = TimeSpan.Zero },
            },
        };
        configure?.Invoke(settings.CallControl);
        configureService?.Invoke(settings);
        if (configurationFile is not null)
        {
            // The service reads and watches the file as under `ctibridge run --config`.
            await File.WriteAllTextAsync(configurationFile, ConfigurationFile.Json(settings), ct);
            settings = SettingsLoader.Load(configurationFile);
        }

        if (callControlClock is not null)
        {
            var others = services;
            services = s =>
            {
                others?.Invoke(s);
                s.AddKeyedSingleton(CallCenter.ClockServiceKey, callControlClock);
            };
        }

        rig._settings = settings;
        rig._services = services;
        rig._app = CtiBridgeHost.Build(settings, configureServices: services, configurationFile: configurationFile);
        rig._subscription = rig.Center.SubscribeEvents();
        rig._pump = rig.AcdEvents.PumpAsync(rig._subscription.Reader);
        try
        {
            await rig._app.StartAsync(ct);
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }

        await WaitForStasisAppAsync(pbx, ct);
        return rig;
    }

    public Task LoginAsync(string agentId, CancellationToken ct) => LoginAsync(Center, agentId, ct);

    /// <summary>Logs <paramref name="agentId"/> in on <paramref name="center"/> with the rig's <see cref="Pin"/>; the test fails if it is refused.</summary>
    public static async Task LoginAsync(CallCenter center, string agentId, CancellationToken ct)
    {
        var outcome = await center.LoginAgentAsync(agentId, Pin, ct);
        Assert.True(outcome.Accepted, outcome.Reason);
    }

    /// <summary>Waits for the agent state change <paramref name="from"/> → <paramref name="to"/> (the <paramref name="nth"/> one).</summary>
    public Task<AgentStateChanged> AgentWentAsync(string agentId, AgentState from, AgentState to, CancellationToken ct, int nth = 1) =>
        AcdEvents.WaitForAsync<AgentStateChanged>(e => e.AgentId == agentId && e.From == from && e.To == to, $"agent {agentId} {from} → {to}", ct, nth);

    /// <summary>Bounded wait until the service's events WebSocket has registered the Stasis app (ARI answers 404 before).</summary>
    public static async Task WaitForStasisAppAsync(PbxSimulator pbx, CancellationToken ct)
    {
        using var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(pbx).Ari));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        while (true)
        {
            try
            {
                await ari.Applications.GetAsync("ctibridge", timeout.Token);
                return;
            }
            catch (AriRequestException ex) when (ex.StatusCode == 404)
            {
            }

            try
            {
                await Task.Delay(20, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException("Still waiting after 15 s for the Stasis app ctibridge to register.");
            }
        }
    }

    /// <summary>The service's settings (to start another instance on the same PbxSim and database).</summary>
    public CtiBridgeSettings Settings => _settings!;

    /// <summary>
    /// Starts a new service on the same PbxSim, database and journal after <see cref="StopServiceAsync"/>
    /// (a restart); its call center's events go to the same <see cref="AcdEvents"/> log.
    /// </summary>
    public async Task StartServiceAgainAsync(CancellationToken ct)
    {
        Assert.Null(_app);
        _app = CtiBridgeHost.Build(_settings!, configureServices: _services);
        _subscription = Center.SubscribeEvents();
        _pump = Task.WhenAll(_pump, AcdEvents.PumpAsync(_subscription.Reader));
        await _app.StartAsync(ct);
        await WaitForStasisAppAsync(Pbx, ct);
    }

    /// <summary>Stops the service: every record of what happened so far is written before it returns.</summary>
    public async Task StopServiceAsync()
    {
        await StopAsync(_app);
        _app = null;
    }

    /// <summary>Stops and disposes a service host (nothing when <paramref name="app"/> is null): every record is written before it returns.</summary>
    public static async Task StopAsync(WebApplication? app)
    {
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopServiceAsync();
        if (Directory.Exists(_journalDirectory))
        {
            Directory.Delete(_journalDirectory, recursive: true);
        }

        _subscription?.Dispose();
        await _pump;
        _amiEvents?.Dispose();
        await Observer.DisposeAsync();
        await Pbx.DisposeAsync();
    }
}

/// <summary>An ordered log of events with waits for a match (event-driven, bounded in time).</summary>
internal class EventLog<T>
    where T : class
{
    private readonly List<T> _items = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<T> Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    public void Add(T item)
    {
        TaskCompletionSource changed;
        lock (_items)
        {
            _items.Add(item);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    public async Task PumpAsync(System.Threading.Channels.ChannelReader<T> reader)
    {
        await foreach (var item in reader.ReadAllAsync())
        {
            Add(item);
        }
    }

    /// <summary>The <paramref name="nth"/> item of type <typeparamref name="TItem"/> matching, waiting up to 15 s for it.</summary>
    public async Task<TItem> WaitForAsync<TItem>(Func<TItem, bool> match, string what, CancellationToken ct, int nth = 1)
        where TItem : class, T
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        while (true)
        {
            Task changed;
            lock (_items)
            {
                var found = _items.OfType<TItem>().Where(match).Skip(nth - 1).FirstOrDefault();
                if (found is not null)
                {
                    return found;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Still waiting after 15 s for {what}. Seen: {string.Join(" | ", Snapshot().TakeLast(40))}");
            }
        }
    }
}

/// <summary>PbxSim's AMI events.</summary>
internal sealed class PbxEventLog : EventLog<AmiMessage>
{
    private Task _pump = Task.CompletedTask;

    public void Start(AmiEventSubscription subscription) => _pump = Task.Run(async () =>
    {
        await foreach (var item in subscription)
        {
            if (item.Event is { } e)
            {
                Add(e);
            }
        }
    });

    public Task<AmiMessage> WaitAsync(string eventName, string channelPrefix, CancellationToken ct, Func<AmiMessage, bool>? also = null, int nth = 1) =>
        WaitForAsync<AmiMessage>(
            e => e.EventName == eventName && (e["Channel"] ?? string.Empty).StartsWith(channelPrefix, StringComparison.Ordinal) && (also is null || also(e)),
            $"{eventName} on {channelPrefix}", ct, nth);

    public Task<AmiMessage> DialToAsync(string phone, CancellationToken ct, Func<AmiMessage, bool>? also = null, int nth = 1) =>
        WaitForAsync<AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? string.Empty).StartsWith($"PJSIP/{phone}-", StringComparison.Ordinal) && (also is null || also(e)),
            $"DialBegin to {phone}", ct, nth);

    public int Count(string eventName, Func<AmiMessage, bool> match) => Snapshot().Count(e => e.EventName == eventName && match(e));
}
