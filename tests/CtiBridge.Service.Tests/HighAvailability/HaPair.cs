using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.HighAvailability;

/// <summary>
/// The HA set-up the takeover tests share: instance A (a <see cref="CallCenterRig"/> with
/// <c>highAvailability</c> on: queue <c>support</c>, agents 2001–2003 logged in on phones 1001–1003
/// that answer after 100 ms, 2003 paused for <c>training</c>) and instance B, a standby host on the
/// same configuration, database and PbxSim with its own record journal, whose call-center events are
/// logged from its start. Disposing stops B (if the test has not), then A.
/// </summary>
internal sealed class HaPair : IAsyncDisposable
{
    private readonly IDisposable _standbySubscription;
    private readonly Task _standbyPump;
    private bool _standbyStopped;

    private HaPair(CallCenterRig active, WebApplication standby, IDisposable standbySubscription, Task standbyPump, EventLog<AcdEvent> standbyEvents)
    {
        Active = active;
        Standby = standby;
        _standbySubscription = standbySubscription;
        _standbyPump = standbyPump;
        StandbyEvents = standbyEvents;
    }

    /// <summary>The agents (id, phone).</summary>
    public static IReadOnlyList<(string AgentId, string Phone)> Agents { get; } = [.. Enumerable.Range(1, 3).Select(i => ($"20{i:00}", $"10{i:00}"))];

    /// <summary>Instance A, active when the pair has started.</summary>
    public CallCenterRig Active { get; }

    /// <summary>A's role (its lease).</summary>
    public CallControlRole ActiveRole => Active.Services.GetRequiredService<CallControlRole>();

    /// <summary>Instance B, the standby.</summary>
    public WebApplication Standby { get; }

    /// <summary>B's role (its lease).</summary>
    public CallControlRole StandbyRole => Standby.Services.GetRequiredService<CallControlRole>();

    /// <summary>B's call center.</summary>
    public CallCenter StandbyCenter => Standby.Services.GetRequiredService<CallCenter>();

    /// <summary>B's call-center events since it started.</summary>
    public EventLog<AcdEvent> StandbyEvents { get; }

    /// <summary>Starts A (agents logged in, 2003 paused), then B as its standby.</summary>
    /// <param name="db">The one database.</param>
    /// <param name="journalTag">Names B's journal directory (under the temp directory).</param>
    /// <param name="ct">The test's cancellation.</param>
    /// <param name="configureStandby">Changes to B's configuration (A's settings object, changed after A started).</param>
    public static async Task<HaPair> StartAsync(TestDatabase db, string journalTag, CancellationToken ct, Action<CallControlSettings>? configureStandby = null)
    {
        var queue = new CallQueueSettings
        {
            Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), RetryAfterNoAnswer = TimeSpan.FromSeconds(1),
            WrapUp = TimeSpan.FromSeconds(0.2), MusicOnHold = "default",
        };
        var rig = await CallCenterRig.StartAsync(db, queue, Agents, ct, configure: c => c.HighAvailability = true);
        try
        {
            foreach (var (_, phone) in Agents)
            {
                rig.Pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(100));
            }

            if (!rig.Services.GetRequiredService<CallControlRole>().IsActive)
            {
                throw new InvalidOperationException("instance A is not active after its start");
            }

            foreach (var (agentId, _) in Agents)
            {
                await rig.LoginAsync(agentId, ct);
            }

            if (!(await rig.Center.PauseAgentAsync("2003", "training", ct)).Accepted)
            {
                throw new InvalidOperationException("2003 could not pause");
            }

            // The standby: same configuration, its own journal; it waits for the lease.
            rig.Settings.CallControl.RecordJournalDirectory = Path.Combine(Path.GetTempPath(), journalTag, Guid.NewGuid().ToString("N"));
            configureStandby?.Invoke(rig.Settings.CallControl);
            var standby = CtiBridgeHost.Build(rig.Settings);
            var events = new EventLog<AcdEvent>();
            var subscription = standby.Services.GetRequiredService<CallCenter>().SubscribeEvents();
            var pump = events.PumpAsync(subscription.Reader);
            var pair = new HaPair(rig, standby, subscription, pump, events);
            await standby.StartAsync(ct);
            return pair;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    /// <summary>Ends A's lease lock session in PostgreSQL, as when its host dies: A must stop at once.</summary>
    public async Task EndActiveLeaseAsync(TestDatabase db, CancellationToken ct)
    {
        var ended = await db.ScalarAsync<long>(
            $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'ctibridge-lease:{ActiveRole.InstanceId}'", ct);
        if (ended != 1)
        {
            throw new InvalidOperationException($"{ended} lease sessions of A ended (one expected)");
        }
    }

    /// <summary>B's graceful stop (once).</summary>
    public Task StopStandbyAsync()
    {
        _standbyStopped = true;
        return Standby.StopAsync(CancellationToken.None);
    }

    /// <summary>Waits (at most 15 s) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitAsync(Func<Task<bool>> condition, string what, CancellationToken ct)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            try
            {
                await Task.Delay(20, bound.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Still waiting after 15 s for {what}.");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_standbyStopped)
            {
                await StopStandbyAsync();
            }

            _standbySubscription.Dispose();
            await _standbyPump;
            await Standby.DisposeAsync();
        }
        finally
        {
            await Active.DisposeAsync();
        }
    }
}
