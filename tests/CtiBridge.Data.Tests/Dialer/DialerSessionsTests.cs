using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>
/// The dialer's session lease and adoption (issue 14): a living instance's calls are never adopted; a dead
/// instance's (its lock connection gone, as after a kill -9) are, by one survivor, once; a clean stop's are not.
/// </summary>
public sealed class DialerSessionsTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 15, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>An instance with one open attempt (answered, written ahead) and one agent on a line (its channel written ahead).</summary>
    private async Task<(string Instance, string CallId, DialerSessions Session, Lead Lead)> InstanceWithACallAsync()
    {
        var instance = "s" + Guid.NewGuid().ToString("N")[..10];
        var id = "c" + Guid.NewGuid().ToString("N")[..10];
        var definition = await DialerDataKit.CreateCampaignAsync(fixture.Database, _clock, id, Ct);
        await DialerDataKit.ImportAsync(fixture.Database, _clock, id, $"phone\n212{Random.Shared.Next(2000000, 9999999)}\n", Ct);
        var hopper = new LeadHopper(fixture.Database.DataSource, instance, _clock);
        var lead = Assert.Single(await hopper.ClaimAsync(id, 1, Ct)).Lead;
        var dialer = new CampaignDialer(definition.Campaign with { Windows = CallingWindows.EveryDay(TimeOnly.MinValue, TimeOnly.MaxValue) }, definition.Zones) { CallIdPrefix = id + instance };
        var order = Assert.Single(dialer.Plan(_clock.GetUtcNow(), new AgentSnapshot(1, 1, []), [lead], new HashSet<string>()).Orders);
        var attempts = new AttemptLog(fixture.Database.DataSource, instance, _clock, "pbx1");
        await attempts.StartAsync(id, order.Call, Ct);
        Assert.True(await attempts.AnsweredAsync(order.Call.CallId, _clock.GetUtcNow().AddSeconds(2), CallOutcome.HumanAnswer, Ct));
        await new AgentLines(fixture.Database.DataSource, _clock).JoinAsync("a-" + instance, id, instance, "dagent-" + instance, "PJSIP/1001", Ct);
        var session = new DialerSessions(fixture.Database.DataSource, instance, _clock);
        await session.StartAsync("app-" + instance, Ct);
        return (instance, order.Call.CallId, session, lead);
    }

    [Fact]
    public async Task AdoptDead_LivingInstance_NothingAdopted_KilledInstance_AdoptedOnceByOneSurvivor_WithWhatWasWrittenAhead()
    {
        var (dead, callId, session, lead) = await InstanceWithACallAsync();
        await using var survivor = new DialerSessions(fixture.Database.DataSource, "survivor-" + dead, _clock);
        await survivor.StartAsync("app-survivor", Ct);
        await using var other = new DialerSessions(fixture.Database.DataSource, "other-" + dead, _clock);

        // Alive: its lock is held, whatever the callback says.
        Assert.DoesNotContain(await survivor.AdoptDeadAsync((_, _) => true, Ct), t => t.DeadInstanceId == dead);

        // Killed: its lock connection is ended by the server (as a kill -9 closes its socket).
        await fixture.Database.ScalarAsync<bool>($"""
            SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('ctibridge.dialer:{dead}', 0)
            """, Ct);
        var seen = new List<(string, bool)>();
        var takeover = Assert.Single(await survivor.AdoptDeadAsync((instance, free) => { seen.Add((instance, free)); return free; }, Ct), t => t.DeadInstanceId == dead);

        Assert.Contains((dead, true), seen);
        Assert.Equal("app-" + dead, takeover.Application);
        var attempt = Assert.Single(takeover.Attempts);
        Assert.Equal((callId, (DateTimeOffset?)_clock.GetUtcNow().AddSeconds(2), (CallOutcome?)CallOutcome.HumanAnswer, 0), (attempt.CallId, attempt.AnsweredAt, attempt.AnsweredBy, attempt.Lead.Attempts));
        // The lead as it was before the attempt, with the number the attempt dialled.
        var dialled = await fixture.Database.ScalarAsync<string>($"SELECT phone_number FROM dialer_attempts WHERE call_id = '{callId}'", Ct);
        Assert.Equal(lead with { PhoneNumber = dialled }, attempt.Lead);
        Assert.Equal(new AdoptedAgentLine("a-" + dead, takeover.AgentLines[0].CampaignId, "dagent-" + dead, "PJSIP/1001"), Assert.Single(takeover.AgentLines));
        Assert.Equal("survivor-" + dead, await fixture.Database.ScalarAsync<string>($"SELECT instance_id FROM dialer_attempts WHERE call_id = '{callId}' AND adopted_at IS NOT NULL", Ct));

        // Once: nothing is left for another survivor.
        Assert.DoesNotContain(await other.AdoptDeadAsync((_, _) => true, Ct), t => t.DeadInstanceId == dead);
        await session.DisposeAsync();
    }

    [Fact]
    public async Task AdoptDead_CleanlyStoppedInstance_IsNotAdopted()
    {
        var (dead, _, session, _) = await InstanceWithACallAsync();
        await using var survivor = new DialerSessions(fixture.Database.DataSource, "survivor-" + dead, _clock);
        await survivor.StartAsync("app-survivor", Ct);

        await session.DisposeAsync();

        Assert.DoesNotContain(await survivor.AdoptDeadAsync((_, _) => true, Ct), t => t.DeadInstanceId == dead);
    }

    private Task<bool> TerminateLockBackendAsync(string instance) =>
        fixture.Database.ScalarAsync<bool>($"""
            SELECT bool_and(pg_terminate_backend(pid, 5000)) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('ctibridge.dialer:{instance}', 0)
            """, Ct);

    private static async Task WaitLostAsync(DialerSessions session)
    {
        // The hold's own check (real clock, every 0.5 s) notices the terminated backend; bounded wait.
        await Task.Delay(Timeout.InfiniteTimeSpan, session.Lost).WaitAsync(TimeSpan.FromSeconds(30), Ct).ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.True(session.Lost.IsCancellationRequested, "the hold's loss was not noticed within 30 s");
    }

    [Fact]
    public async Task LockBackendTerminated_HoldIsLost_TakenBackWithItsOwnRowsWhenNobodyAdoptedThem()
    {
        var (instance, callId, session, _) = await InstanceWithACallAsync();
        await using var _ = session;
        Assert.False(session.Lost.IsCancellationRequested);

        Assert.True(await TerminateLockBackendAsync(instance));
        await WaitLostAsync(session);
        Assert.NotNull(session.LostReason);

        var own = await session.ResumeAsync(Ct);

        Assert.Equal(callId, Assert.Single(own.Attempts).CallId);
        Assert.Equal("a-" + instance, Assert.Single(own.AgentLines).AgentId);
        Assert.Equal("app-" + instance, own.Application);
        Assert.False(session.Lost.IsCancellationRequested); // a new hold, watched again

        // Held again: a survivor adopts nothing of it, whatever its callback says.
        await using var survivor = new DialerSessions(fixture.Database.DataSource, "survivor-" + instance, _clock);
        Assert.DoesNotContain(await survivor.AdoptDeadAsync((_, _) => true, Ct), t => t.DeadInstanceId == instance);
    }

    [Fact]
    public async Task LockBackendTerminated_RowsAdoptedMeanwhile_TakenBackEmpty_StartsClean()
    {
        var (instance, callId, session, _) = await InstanceWithACallAsync();
        await using var _ = session;
        await using var survivor = new DialerSessions(fixture.Database.DataSource, "survivor-" + instance, _clock);
        await survivor.StartAsync("app-survivor-" + instance, Ct);

        Assert.True(await TerminateLockBackendAsync(instance));
        await WaitLostAsync(session);
        var takeover = Assert.Single(await survivor.AdoptDeadAsync((_, free) => free, Ct), t => t.DeadInstanceId == instance);
        Assert.Equal(callId, Assert.Single(takeover.Attempts).CallId);

        var own = await session.ResumeAsync(Ct);

        Assert.Empty(own.Attempts);
        Assert.Empty(own.AgentLines);
        Assert.Equal("survivor-" + instance, await fixture.Database.ScalarAsync<string>($"SELECT instance_id FROM dialer_attempts WHERE call_id = '{callId}'", Ct));
    }

    [Fact]
    public async Task SlowCheck_ReplyHeldFiveTimesTheSlowMark_HoldKept_StalledForGood_LostBeforeTheServerCouldEndTheSession()
    {
        // The session's connection goes through a proxy that holds the database's replies (the check reaches the server,
        // the connection stays intact) while the hold's clock is moved: a starved host, deterministically.
        var target = new NpgsqlConnectionStringBuilder(fixture.Database.ConnectionString);
        await using var proxy = new LoopbackProxy(target.Host!, target.Port);
        await using var viaProxy = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.Database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString);
        var watchClock = new FakeTimeProvider(_clock.GetUtcNow());
        var instance = "slow-" + Guid.NewGuid().ToString("N")[..10];
        await using var session = new DialerSessions(viaProxy, instance, _clock, watchClock, SlowLockCheck.Timing);
        await session.StartAsync("app-" + instance, Ct);

        await SlowLockCheck.SlowReplyStopsNothingAsync(session.Watch!, proxy, watchClock.Advance, Ct);
        Assert.False(session.Lost.IsCancellationRequested, session.LostReason);
        await using (var survivor = new DialerSessions(fixture.Database.DataSource, "survivor-" + instance, _clock))
        {
            Assert.DoesNotContain(await survivor.AdoptDeadAsync((_, free) => free, Ct), t => t.DeadInstanceId == instance);
        }

        await SlowLockCheck.StalledRepliesLoseBeforeTheServerCouldAsync(session.Watch!, proxy, watchClock.Advance, Ct);
        await WaitLostAsync(session);
        Assert.Contains("no answer", session.LostReason, StringComparison.Ordinal);
    }
}
