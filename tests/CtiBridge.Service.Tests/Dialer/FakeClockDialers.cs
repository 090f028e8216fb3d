using System.Diagnostics;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// The set-up the dialer's fake-clock tests share (<see cref="DialerRetryClockTests"/>, <see cref="FiveHundredLeadsFakeClockTests"/>,
/// <see cref="GiveUpAtMinimumRingTests"/>): a migrated database; one PbxSim with the trunk <c>carrier</c>, the agents'
/// phones (each answers after 50 ms and stays on the line), the abandon message <c>acme-abandon</c> and, for each dialer
/// application, its answering-machine detection context (<see cref="AmdContext"/>); and service hosts whose dialer runs
/// on the test's fake clock (<see cref="OutboundDialer.ClockServiceKey"/>), each with its own record journal. Disposing
/// stops the hosts, then PbxSim, drops the database and removes the journals.
/// </summary>
internal sealed class FakeClockDialers : IAsyncDisposable
{
    // Real time, bounded: what an instant set off must be over before the clock moves on.
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(120);

    private readonly TimeProvider _clock;
    private readonly string _journals;
    private readonly List<Instance> _instances = [];
    private TestDatabase? _database;
    private PbxSimulator? _pbx;

    private FakeClockDialers(string name, TimeProvider clock)
    {
        _clock = clock;
        _journals = Directory.CreateTempSubdirectory("ctibridge-" + name + "-").FullName;
    }

    /// <summary>One service host and its dialer, with the Stasis application it dials for.</summary>
    public sealed record Instance(WebApplication App, OutboundDialer Dialer, string Application);

    /// <summary>The database.</summary>
    public TestDatabase Database => _database ?? throw new InvalidOperationException("not started");

    /// <summary>PbxSim.</summary>
    public PbxSimulator Pbx => _pbx ?? throw new InvalidOperationException("not started");

    /// <summary>The dialer hosts started so far, in order.</summary>
    public IReadOnlyList<Instance> Instances => _instances;

    /// <summary>How many times <see cref="DriveAsync"/> has moved the clock.</summary>
    public long Steps { get; private set; }

    /// <summary>The PbxSim dialplan context that runs AMD() and hands the verdict to <paramref name="application"/>.</summary>
    public static string AmdContext(string application) => "amd-" + application;

    /// <summary>
    /// Starts the database and PbxSim for dialers on <paramref name="clock"/>.
    /// </summary>
    /// <param name="name">The test's short name (its journals' temporary directory).</param>
    /// <param name="clock">The dialers' clock; PbxSim's too when <paramref name="pbxOnTheClock"/> (rings, talks, AMD).</param>
    /// <param name="pbxOnTheClock">Whether PbxSim runs on <paramref name="clock"/> rather than real time.</param>
    /// <param name="applications">The dialers' Stasis applications, one AMD context each.</param>
    /// <param name="phones">The agents' phones.</param>
    /// <param name="abandonMessage">How long the abandon message plays.</param>
    public static async Task<FakeClockDialers> StartAsync(string name, TimeProvider clock, bool pbxOnTheClock, IEnumerable<string> applications, IEnumerable<string> phones, TimeSpan abandonMessage)
    {
        var rig = new FakeClockDialers(name, clock);
        try
        {
            rig._database = await PostgresServer.CreateMigratedDatabaseAsync();
            var phoneList = phones.ToList();
            rig._pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
            {
                Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-trunk" }, .. phoneList.Select(p => new EndpointOptions { Name = p })],
                Sounds = new() { ["acme-abandon"] = abandonMessage.TotalSeconds },
                Dialplan = applications.ToDictionary(AmdContext, a => new Dictionary<string, List<string>> { ["s"] = ["AMD()", $"Stasis({a},dialer-amd,${{AMDSTATUS}},${{AMDCAUSE}})"] }),
            }, pbxOnTheClock ? clock : null);
            foreach (var phone in phoneList)
            {
                rig._pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(50));
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
    /// Starts a service host whose dialer dials for <paramref name="application"/> on the fake clock, with its AMD
    /// context and a journal of its own; <paramref name="configure"/> sets the rest of its dialer settings.
    /// </summary>
    public async Task<OutboundDialer> StartDialerAsync(string application, string instanceId, Action<DialerSettings> configure, CancellationToken ct)
    {
        var journal = Path.Combine(_journals, instanceId);
        Directory.CreateDirectory(journal);
        var settings = PbxSimSettings.Service(Database.ConnectionString, PbxSimSettings.For(Pbx));
        settings.Dialer = new DialerSettings
        {
            Enabled = true, Application = application, InstanceId = instanceId, RecordJournalDirectory = journal, AmdContext = AmdContext(application),
        };
        configure(settings.Dialer);
        var app = CtiBridgeHost.Build(settings, configureServices: s => s.AddKeyedSingleton(OutboundDialer.ClockServiceKey, _clock));
        try
        {
            await app.StartAsync(ct);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var dialer = app.Services.GetRequiredService<OutboundDialer>();
        _instances.Add(new Instance(app, dialer, application));
        return dialer;
    }

    /// <summary>Imports <paramref name="leads"/> (number, name) into <paramref name="campaign"/> as the file <paramref name="file"/>; returns how many were imported.</summary>
    public async Task<int> ImportAsync(string campaign, IEnumerable<(string Number, string Name)> leads, string file, CancellationToken ct)
    {
        var csv = "phone,name\n" + string.Concat(leads.Select(l => $"{l.Number},{l.Name}\n"));
        var store = new CampaignStore(Database.DataSource, TimeProvider.System);
        var report = await new LeadImporter(Database.DataSource, store, TimeProvider.System)
            .ImportAsync(campaign, new StringReader(csv), new LeadImportOptions { FileName = file, ImportedBy = "test" }, ct);
        return report.Imported;
    }

    /// <summary>A count read from the database.</summary>
    public Task<long> CountAsync(string sql, CancellationToken ct) => Database.ScalarAsync<long>(sql, ct);

    /// <summary>
    /// Nothing in flight anywhere: no dialer has work in hand (loop steps, unanswered requests, background checks)
    /// or call records not yet in PostgreSQL, and each has read every event PbxSim handed to its application. Looked
    /// at twice, with nothing started in between. PbxSim does nothing by itself between two moves of the clock.
    /// </summary>
    public bool Quiet()
    {
        var started = new long[_instances.Count];
        for (var i = 0; i < _instances.Count; i++)
        {
            var (_, dialer, application) = _instances[i];
            started[i] = dialer.Activity.Started;
            if (dialer.Activity.Pending != 0 || dialer.RecordLag.Pending != 0 || Pbx.AriEventsDeliveredTo(application) != dialer.Activity.EventsRead)
            {
                return false;
            }
        }

        for (var i = 0; i < _instances.Count; i++)
        {
            if (_instances[i].Dialer.Activity.Started != started[i] || _instances[i].Dialer.Activity.Pending != 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Waits (real time, every millisecond, at most 120 s) until <see cref="Quiet"/>, or until <paramref name="orElse"/> holds;
    /// on a time-out says where each dialer stands.
    /// </summary>
    public async Task SettleAsync(Func<bool>? orElse, CancellationToken ct)
    {
        var waited = Stopwatch.StartNew();
        while (!Quiet() && orElse?.Invoke() != true)
        {
            if (waited.Elapsed > SettleLimit)
            {
                throw new TimeoutException($"At {_clock.GetUtcNow():O} (step {Steps}) the call centre was still busy after {SettleLimit.TotalSeconds} s: "
                    + string.Join("; ", _instances.Select(h => $"{h.Application}: pending {h.Dialer.Activity.Pending}, records {h.Dialer.RecordLag.Pending}, events read {h.Dialer.Activity.EventsRead} of {Pbx.AriEventsDeliveredTo(h.Application)}")));
            }

            await Task.Delay(1, ct);
        }
    }

    /// <summary>
    /// Moves <paramref name="clock"/> from one scheduled instant to the next, each time once nothing is in flight
    /// (<see cref="SettleAsync"/>, or once <paramref name="settledWhen"/> holds), until <paramref name="done"/>. A move
    /// goes to the next timer due, or further when <paramref name="skipTo"/> says nothing can happen before a later instant.
    /// </summary>
    /// <param name="clock">The one clock of the dialers and PbxSim.</param>
    /// <param name="what">What is awaited, for the failure message.</param>
    /// <param name="done">Whether it is done (asked once everything has settled).</param>
    /// <param name="fakeLimit">The fake instant it must be done by.</param>
    /// <param name="explain">What happened, for the failure message.</param>
    /// <param name="skipTo">Given the next timer's instant, the instant to move to instead (a later one), or that one.</param>
    /// <param name="settledWhen">Settled also when this holds (say, requests held at PbxSim's gate).</param>
    /// <param name="realLimit">The real time it may take, from <paramref name="realSince"/>.</param>
    /// <param name="realSince">Where the real time counts from.</param>
    /// <param name="ct">Cancellation.</param>
    public async Task DriveAsync(
        SteppedClock clock, string what, Func<Task<bool>> done, DateTimeOffset fakeLimit, Func<Task<string>> explain, CancellationToken ct,
        Func<DateTimeOffset, Task<DateTimeOffset>>? skipTo = null, Func<bool>? settledWhen = null, TimeSpan? realLimit = null, Stopwatch? realSince = null)
    {
        while (true)
        {
            await SettleAsync(settledWhen, ct);
            if (await done())
            {
                return;
            }

            var now = clock.GetUtcNow();
            var next = clock.NextDue ?? throw new InvalidOperationException($"nothing scheduled at {now:O}: the dialers' rounds should be");
            if (skipTo is not null)
            {
                next = await skipTo(next);
            }

            if (next > fakeLimit || (realLimit is { } limit && realSince is { } since && since.Elapsed > limit))
            {
                throw new TimeoutException($"{what}: not done by {fakeLimit:O} on the fake clock"
                    + (realLimit is { } real ? $", or within {real.TotalMinutes} min of real time ({realSince?.Elapsed.TotalSeconds:0} s)" : string.Empty)
                    + $" (now {now:O}, step {Steps}; next timer {clock.NextDue:O}). {await explain()}");
            }

            MoveClock(clock, next);
        }
    }

    /// <summary>Moves <paramref name="clock"/> to <paramref name="to"/>, counted as a step (<see cref="Steps"/>).</summary>
    public void MoveClock(SteppedClock clock, DateTimeOffset to)
    {
        clock.MoveTo(to);
        Steps++;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var (app, _, _) in _instances)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        if (_pbx is not null)
        {
            await _pbx.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        Directory.Delete(_journals, recursive: true);
    }
}
