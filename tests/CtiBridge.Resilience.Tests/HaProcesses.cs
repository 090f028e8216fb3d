using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// The <c>ctibridge run</c> processes of one HA set-up (call control with <c>highAvailability</c> on,
/// one PostgreSQL, one PbxSim) for the kill -9 tests: each process gets its configuration file and
/// journals in a temporary directory of the test's, every wait is bounded and prints the processes'
/// output when it runs out, and disposing kills whatever still runs and removes the directory.
/// </summary>
internal sealed class HaProcesses : IAsyncDisposable
{
    private readonly List<ServiceProcess> _processes = [];
    private readonly string _directory;

    /// <param name="prefix">The temporary directory's name prefix (which test left it, if anything does).</param>
    /// <param name="bound">The longest any <see cref="EventuallyAsync"/> waits.</param>
    public HaProcesses(string prefix, TimeSpan bound)
    {
        _directory = Directory.CreateTempSubdirectory(prefix).FullName;
        Bound = bound;
    }

    /// <summary>The longest any wait takes.</summary>
    public TimeSpan Bound { get; }

    /// <summary>Every process's output so far (for failure messages).</summary>
    public string Output => string.Join("\n", _processes.Select(p => p.Output));

    /// <summary>
    /// The settings both kill tests share: HA call control with the support queue on DID 4008001, the
    /// given agents (all in support, PIN <see cref="CallCenterRig.Pin"/>), the record journal in the test's
    /// directory, and calls left to the standby at a stop (not handed back to the dialplan).
    /// </summary>
    public CtiBridgeSettings Settings(string name, TestDatabase database, PbxSimulator pbx, IEnumerable<(string Agent, string Phone)> agents) => new()
    {
        Database = new DatabaseSettings { ConnectionString = database.ConnectionString, MigrateOnStart = false },
        Http = new HttpSettings { Urls = "http://127.0.0.1:0" }, // the process binds a free port and logs it: no port race with other tests
        Asterisk = [PbxSimSettings.For(pbx)],
        Logging = new LogSettings { Level = "Information" }, // a failure prints the processes' output: rings with their leg names, adoption
        CallControl = new CallControlSettings
        {
            HighAvailability = true,
            Queues = [CallTraffic.Queue(ringSeconds: 10)],
            Agents = [.. agents.Select(a => new CallAgentSettings { Id = a.Agent, Extension = "PJSIP/" + a.Phone, PinHash = CallCenterRig.PinHash, Queues = ["support"] })],
            Dids = [new DidRouteSettings { Number = "4008001", Queue = "support" }],
            RecordJournalDirectory = JournalDirectory(name),

            // With a standby, calls are left for it to adopt rather than handed back to the dialplan.
            Shutdown = new ShutdownSettings { HandBackCalls = false, CallsFinishWithin = TimeSpan.Zero },
        },
    };

    /// <summary>A directory of the test's for a process's journal of kind <paramref name="kind"/>.</summary>
    public string JournalDirectory(string name, string kind = "journal") => Path.Combine(_directory, name + "-" + kind);

    /// <summary>Writes <paramref name="settings"/> to a file and starts <c>ctibridge run</c> with it (port read from its log).</summary>
    public async Task<ServiceProcess> StartAsync(string name, CtiBridgeSettings settings, CancellationToken ct)
    {
        var path = Path.Combine(_directory, name + ".json");
        await File.WriteAllTextAsync(path, ConfigurationFile.Json(settings), ct);
        var process = ServiceProcess.Start(name, path, port: 0, bound: Bound); // its health and stop waits: the same bound
        _processes.Add(process);
        return process;
    }

    /// <summary>
    /// The instance holding the call-control lease now, by its lock connection's name
    /// (<c>ctibridge-lease:&lt;instance&gt;</c>, docs/high-availability.md), or null when nobody holds it.
    /// </summary>
    public static async Task<string?> LeaseHolderAsync(TestDatabase database, CancellationToken ct) =>
        await database.ScalarAsync<string>(
            "SELECT coalesce(min(application_name), '') FROM pg_stat_activity WHERE application_name LIKE 'ctibridge-lease:%' AND datname = current_database()", ct) is { Length: > 0 } name
            ? name
            : null;

    /// <summary>Waits (every 50 ms, at most <see cref="Bound"/>) until <paramref name="condition"/> holds.</summary>
    public Task EventuallyAsync(Func<Task<bool>> condition, string what, CancellationToken ct) =>
        EventuallyAsync(async () => await condition() ? what : null, what, ct);

    /// <summary>Waits (every 50 ms, at most <see cref="Bound"/>) until <paramref name="value"/> gives something, and returns it.</summary>
    public async Task<T> EventuallyAsync<T>(Func<Task<T?>> value, string what, CancellationToken ct)
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
                Assert.Fail($"Still not true after {Bound.TotalSeconds} s: {what}. Process output:\n{Output}");
            }

            await Task.Delay(50, ct);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose();
        }

        await Task.Yield();
        Directory.Delete(_directory, recursive: true);
    }
}
