using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Http;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The call center of a kill -9 test (issue 14), set up once for all of them: a migrated PostgreSQL database, one
/// PbxSim running the shipped dialplan (asterisk-config/extensions.conf: a caller who finds no CtiBridge connected,
/// STASISSTATUS=FAILED, rings and tries the app again every second, 10 times, before the fallback) with the trunk
/// <c>carrier</c> into <c>from-carrier</c>, and two <c>ctibridge run</c> processes with high availability on, started one
/// after the other (two instances starting at once on a fresh database can race for Quartz's lock rows):
/// <see cref="Active"/> (<c>a</c>) ready and holding the lease, <see cref="Standby"/> (<c>b</c>) live and not ready.
/// A supervisor's API key (<see cref="Token"/>) reaches the agents' endpoints of either (<see cref="AgentsOn"/>).
/// The test scripts the phones, places the calls and kills the active itself. Disposing kills whatever still runs,
/// then stops PbxSim and drops the database.
/// </summary>
/// <example>
/// <code>
/// await using var rig = await KillHardRig.StartAsync("kill-ivr", [("2001", "1001")], TimeSpan.FromSeconds(90), ct);
/// rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
/// await rig.AgentsOn(rig.Active).LoginAsync("2001", ct);
/// rig.Carrier.CallIn("4008001", "5550001", "Caller");
/// rig.Active.KillHard();
/// await rig.Standby.WaitReadyAsync(ct);
/// </code>
/// </example>
internal sealed class KillHardRig : IAsyncDisposable
{
    private readonly HaProcesses _instances;
    private TestDatabase? _database;
    private PbxSimulator? _pbx;
    private ServiceProcess? _active;
    private ServiceProcess? _standby;
    private string? _token;

    private KillHardRig(string name, TimeSpan bound) => _instances = new HaProcesses("ctibridge-" + name + "-", bound);

    /// <summary>The database both processes share.</summary>
    public TestDatabase Database => _database ?? throw NotStarted();

    /// <summary>PbxSim, with the shipped dialplan.</summary>
    public PbxSimulator Pbx => _pbx ?? throw NotStarted();

    /// <summary>The carrier trunk: callers to DID 4008001 reach the support queue through it.</summary>
    public Trunk Carrier => Pbx.Trunk("carrier");

    /// <summary>The process that held the lease at the start (<c>a</c>).</summary>
    public ServiceProcess Active => _active ?? throw NotStarted();

    /// <summary>The standby (<c>b</c>): live, not ready, until it takes the lease.</summary>
    public ServiceProcess Standby => _standby ?? throw NotStarted();

    /// <summary>A supervisor's API key, valid on either process.</summary>
    public string Token => _token ?? throw NotStarted();

    /// <summary>The longest any wait of the rig takes.</summary>
    public TimeSpan Bound => _instances.Bound;

    /// <summary>Every process's output so far (for failure messages).</summary>
    public string Output => _instances.Output;

    /// <summary>
    /// Starts the call center: the database, PbxSim, the active and then the standby, each with <paramref name="agents"/>
    /// (all in the support queue, PIN <see cref="CallCenterRig.Pin"/>, none logged in).
    /// </summary>
    /// <param name="name">The test's short name: its temporary directory (<c>ctibridge-NAME-…</c>) and its API key's name.</param>
    /// <param name="agents">The agents and their phones (PbxSim endpoints).</param>
    /// <param name="bound">The longest any wait takes, the processes' start and stop included.</param>
    /// <param name="ct">Cancellation.</param>
    /// <param name="configure">Changes to both processes' settings (<see cref="HaProcesses.Settings"/>), e.g. the queue's ring timeout.</param>
    /// <param name="pbxOptions">Changes to PbxSim's options before it starts, e.g. sounds for an IVR's prompts.</param>
    public static async Task<KillHardRig> StartAsync(
        string name, IReadOnlyList<(string Agent, string Phone)> agents, TimeSpan bound, CancellationToken ct,
        Action<CtiBridgeSettings>? configure = null, Action<PbxSimOptions>? pbxOptions = null)
    {
        var rig = new KillHardRig(name, bound);
        try
        {
            rig._database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
            var options = await ShippedDialplanAsync(ct);
            pbxOptions?.Invoke(options);
            rig._pbx = await PbxSimSettings.StartAsync(options);

            rig._active = await rig.StartProcessAsync("a", agents, configure, ct);
            await rig._active.WaitReadyAsync(ct);
            rig._standby = await rig.StartProcessAsync("b", agents, configure, ct);
            await rig._standby.WaitLiveAsync(ct);
            Assert.False(await rig._standby.IsReadyAsync(ct), "the second process must be a standby while the first holds the lease");

            rig._token = (await new ApiKeyStore(rig._database.DataSource, TimeProvider.System).CreateAsync(name, ApiRole.Supervisor, null, "test", ct)).Token;
            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    /// <summary>The agents' endpoints of <paramref name="process"/> (<c>/api/agents/{id}</c>), with the supervisor's key.</summary>
    public AgentsApi AgentsOn(ServiceProcess process) => new(process, Token, this);

    /// <summary>Waits (every 50 ms, at most <see cref="Bound"/>) until <paramref name="condition"/> holds.</summary>
    public Task EventuallyAsync(Func<Task<bool>> condition, string what, CancellationToken ct) => _instances.EventuallyAsync(condition, what, ct);

    /// <summary>Waits (every 50 ms, at most <see cref="Bound"/>) until <paramref name="value"/> gives something, and returns it.</summary>
    public Task<T> EventuallyAsync<T>(Func<Task<T?>> value, string what, CancellationToken ct)
        where T : class => _instances.EventuallyAsync(value, what, ct);

    /// <summary>
    /// Asserts that <paramref name="agent"/>'s recorded time (<c>agent_state_intervals</c>) has no two intervals that
    /// overlap and no hole between one interval's end and the next one's start.
    /// </summary>
    public async Task AssertTimeWholeAsync(string agent, CancellationToken ct)
    {
        Assert.Equal(0L, await Database.ScalarAsync<long>(
            $"SELECT count(*) FROM agent_state_intervals a JOIN agent_state_intervals b ON a.agent_id = b.agent_id AND a.started_at < b.started_at AND b.started_at < a.ended_at WHERE a.agent_id = '{agent}'", ct));
        var holes = await Database.ScalarAsync<string>(
            $"SELECT coalesce(string_agg(ended_at::text || ' → ' || next::text, '; '), '') FROM (SELECT ended_at, lead(started_at) OVER (ORDER BY started_at) AS next FROM agent_state_intervals WHERE agent_id = '{agent}') t WHERE next IS NOT NULL AND next <> ended_at", ct);
        Assert.True(holes.Length == 0, $"agent {agent}'s recorded time has holes: {holes}\n{await IntervalsAsync(agent, ct)}");
    }

    /// <summary><paramref name="agent"/>'s recorded intervals, one a line (for failure messages).</summary>
    public Task<string> IntervalsAsync(string agent, CancellationToken ct) => Database.ScalarAsync<string>(
        $"SELECT coalesce(string_agg(format('%s %s → %s %s', state, started_at, ended_at, coalesce(reason, '')), E'\\n' ORDER BY started_at), '') FROM agent_state_intervals WHERE agent_id = '{agent}'", ct);

    /// <summary>A time as PostgreSQL stores it (microseconds, truncated as the record writer does), for SQL text.</summary>
    public static string StoredTime(DateTimeOffset at) =>
        new DateTimeOffset(at.UtcTicks / 10 * 10, TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // The processes first (they hold the database and PbxSim), then PbxSim, then the database.
        await _instances.DisposeAsync();
        if (_pbx is not null)
        {
            await _pbx.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    private static async Task<PbxSimOptions> ShippedDialplanAsync(CancellationToken ct)
    {
        var (dialplan, globals) = ExtensionsConf.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "asterisk-config", "extensions.conf"), ct));
        var options = new PbxSimOptions
        {
            Dialplan = dialplan,
            Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-carrier" }],
        };
        foreach (var (name, value) in globals)
        {
            options.GlobalVariables[name] = value;
        }

        return options;
    }

    private Task<ServiceProcess> StartProcessAsync(string name, IReadOnlyList<(string Agent, string Phone)> agents, Action<CtiBridgeSettings>? configure, CancellationToken ct)
    {
        var settings = _instances.Settings(name, Database, Pbx, agents);
        configure?.Invoke(settings);
        return _instances.StartAsync(name, settings, ct);
    }

    private static InvalidOperationException NotStarted() => new("the kill -9 rig is not started (KillHardRig.StartAsync)");

    /// <summary>The agents' endpoints of one process (<c>/api/agents/{id}</c>) with the rig's supervisor key.</summary>
    internal sealed class AgentsApi(ServiceProcess process, string token, KillHardRig rig)
    {
        /// <summary>Logs <paramref name="agent"/> in with the rig's PIN.</summary>
        public Task LoginAsync(string agent, CancellationToken ct) => PostAsync(agent, "login", new { pin = CallCenterRig.Pin }, ct);

        /// <summary>Posts <paramref name="action"/> (login, pause, logout, wrapup/end …) for <paramref name="agent"/>; asserts it succeeds.</summary>
        public async Task PostAsync(string agent, string action, object? body, CancellationToken ct)
        {
            using var response = await process.Http(token).PostAsJsonAsync($"/api/agents/{agent}/{action}", body ?? new { }, ct);
            Assert.True(response.IsSuccessStatusCode, $"{action} of {agent} on {process.Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }

        /// <summary>The agent's state now.</summary>
        public async Task<AgentEndpoints.AgentView> GetAsync(string agent, CancellationToken ct)
        {
            for (var attempt = 1; ; attempt++)
            {
                using var response = await process.Http(token).GetAsync($"/api/agents/{agent}", ct);
                if (response.StatusCode == HttpStatusCode.TooManyRequests && attempt < 60)
                {
                    await Task.Delay(1000, ct); // the API's 600 requests a minute per key: the polling's, not the product's, limit
                    continue;
                }

                Assert.True(response.IsSuccessStatusCode, $"GET agent {agent} on {process.Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                return await response.Content.ReadFromJsonAsync<AgentEndpoints.AgentView>(ct) ?? throw new InvalidOperationException($"no body for agent {agent}");
            }
        }

        /// <summary>
        /// Polls the agent every 250 ms (the API's rate limit allows 10 a second per key), at most <see cref="KillHardRig.Bound"/>,
        /// until <paramref name="match"/> holds, and returns that view.
        /// </summary>
        public async Task<AgentEndpoints.AgentView> WaitAsync(string agent, Func<AgentEndpoints.AgentView, bool> match, string what, CancellationToken ct)
        {
            var deadline = DateTime.UtcNow + rig.Bound;
            while (true)
            {
                var last = await GetAsync(agent, ct);
                if (match(last))
                {
                    return last;
                }

                if (DateTime.UtcNow > deadline)
                {
                    Assert.Fail($"Still not true after {rig.Bound.TotalSeconds} s: {what} (last seen: {last}). Process output:\n{rig.Output}");
                }

                await Task.Delay(250, ct);
            }
        }
    }
}
