using CtiBridge.Service.HighAvailability;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CtiBridge.Service.Tests.HighAvailability;

/// <summary>
/// The call-control lease on the real PostgreSQL: one holder per Asterisk server, a standby that
/// takes over when the holder releases, dies or is cut off — and a cut-off holder always knows it
/// lost the lease before the standby can act (no split brain).
/// </summary>
public sealed class CallControlLeaseTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    // Short intervals keep the test quick; the ordering rule (the holder gives up StopMargin before the server's idle
    // timeout) is the real one. The margin is wide: on a loaded host the holder's own timer may fire late.
    private static readonly CallControlLeaseOptions Fast = new()
    {
        RetryInterval = TimeSpan.FromMilliseconds(100),
        CheckInterval = TimeSpan.FromMilliseconds(200),
        SlowCheck = TimeSpan.FromMilliseconds(500),
        ServerIdleTimeout = TimeSpan.FromSeconds(3),
        StopMargin = TimeSpan.FromSeconds(1.5),
    };

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    private CallControlLease Lease(string server, string instance, string? connectionString = null, CallControlLeaseOptions? options = null, TimeProvider? clock = null) =>
        new(connectionString ?? Db.ConnectionString, server, instance, options ?? Fast, clock ?? TimeProvider.System, NullLogger.Instance);

    [Fact]
    public async Task TwoInstances_OneHolds_StandbyTakesOverWhenReleased()
    {
        var first = await Lease("pbx-a", "i1").AcquireAsync(Ct).WaitAsync(Bound, Ct);
        var standby = Lease("pbx-a", "i2").AcquireAsync(Ct);
        Assert.Equal("i1", await CallControlLease.HolderAsync(Db.DataSource, "pbx-a", Ct));
        await Task.Delay(TimeSpan.FromMilliseconds(500), Ct); // several retries by the standby
        Assert.False(standby.IsCompleted, "the standby took a lease that was held");

        await first.DisposeAsync();
        Assert.True(first.Lost.IsCancellationRequested);
        Assert.Equal("released", first.LostReason);
        await using var second = await standby.WaitAsync(Bound, Ct);
        Assert.Equal("i2", await CallControlLease.HolderAsync(Db.DataSource, "pbx-a", Ct));
        Assert.False(second.Lost.IsCancellationRequested);
    }

    [Fact]
    public async Task TwoServers_EachHasItsOwnLease()
    {
        await using var a = await Lease("pbx-b1", "i1").AcquireAsync(Ct).WaitAsync(Bound, Ct);
        await using var b = await Lease("pbx-b2", "i2").AcquireAsync(Ct).WaitAsync(Bound, Ct);
        Assert.NotEqual(CallControlLease.KeyOf("pbx-b1"), CallControlLease.KeyOf("pbx-b2"));
        Assert.Equal("i1", await CallControlLease.HolderAsync(Db.DataSource, "pbx-b1", Ct));
        Assert.Equal("i2", await CallControlLease.HolderAsync(Db.DataSource, "pbx-b2", Ct));
        Assert.Null(await CallControlLease.HolderAsync(Db.DataSource, "pbx-none", Ct));
    }

    [Fact]
    public async Task HolderBackendTerminated_HolderLosesAtOnce_StandbyTakesOver()
    {
        var first = await Lease("pbx-c", "i1").AcquireAsync(Ct).WaitAsync(Bound, Ct);
        var standby = Lease("pbx-c", "i2").AcquireAsync(Ct);
        await using (var kill = Db.DataSource.CreateCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = @name"))
        {
            kill.Parameters.AddWithValue("name", CallControlLease.ApplicationNameOf("i1"));
            Assert.Equal(true, await kill.ExecuteScalarAsync(Ct));
        }

        await WhenCancelledAsync(first.Lost);
        Assert.NotNull(first.LostReason);
        await using var second = await standby.WaitAsync(Bound, Ct);
        Assert.Equal("i2", await CallControlLease.HolderAsync(Db.DataSource, "pbx-c", Ct));
        await first.DisposeAsync();
    }

    [Fact]
    public async Task HolderCutOffByStalledNetwork_KnowsItLostBeforeStandbyTakesOver()
    {
        var target = new NpgsqlConnectionStringBuilder(Db.ConnectionString);
        await using var proxy = new LoopbackProxy(target.Host!, target.Port);
        var viaProxy = new NpgsqlConnectionStringBuilder(Db.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
        var first = await Lease("pbx-d", "i1", viaProxy).AcquireAsync(Ct).WaitAsync(Bound, Ct);
        DateTimeOffset? lostAt = null;
        using var registration = first.Lost.Register(() => lostAt = DateTimeOffset.UtcNow);
        var standby = Lease("pbx-d", "i2").AcquireAsync(Ct);

        // The holder's packets stop: its process and the database are both fine, the path is not.
        proxy.Stall();
        await using var second = await standby.WaitAsync(Bound, Ct);
        var takenAt = DateTimeOffset.UtcNow;

        Assert.NotNull(lostAt);
        Assert.True(lostAt < second.AcquiredAt, $"the cut-off holder noticed at {lostAt:O}, after the standby took over at {second.AcquiredAt:O}");
        Assert.Contains("no answer", first.LostReason, StringComparison.Ordinal);
        Assert.True(takenAt >= second.AcquiredAt);
        proxy.Restore();
        await first.DisposeAsync();
    }

    [Fact]
    public async Task SlowCheck_ReplyHeldFiveTimesTheSlowMark_LeaseKept_StalledForGood_LostBeforeTheServerCouldEndTheSession()
    {
        // The reply to the holder's check is held by a proxy (the check reaches the database, the connection stays
        // intact) while the holder's clock is moved: what a starved host looks like to the holder, deterministically.
        var target = new NpgsqlConnectionStringBuilder(Db.ConnectionString);
        await using var proxy = new LoopbackProxy(target.Host!, target.Port);
        var viaProxy = new NpgsqlConnectionStringBuilder(Db.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 2, 0, 0, TimeSpan.Zero));
        var timing = SlowLockCheck.Timing;
        var options = new CallControlLeaseOptions
        {
            CheckInterval = timing.CheckInterval,
            SlowCheck = timing.SlowCheck,
            ServerIdleTimeout = timing.ServerIdleTimeout,
            StopMargin = timing.StopMargin,
        };
        var hold = await Lease("pbx-e", "i1", viaProxy, options, clock).AcquireAsync(Ct).WaitAsync(Bound, Ct);

        await SlowLockCheck.SlowReplyStopsNothingAsync(hold.Watch, proxy, clock.Advance, Ct);
        Assert.False(hold.Lost.IsCancellationRequested);
        Assert.Equal("i1", await CallControlLease.HolderAsync(Db.DataSource, "pbx-e", Ct));

        await SlowLockCheck.StalledRepliesLoseBeforeTheServerCouldAsync(hold.Watch, proxy, clock.Advance, Ct);
        await WhenCancelledAsync(hold.Lost);
        Assert.Contains("no answer", hold.LostReason, StringComparison.Ordinal);
        await hold.DisposeAsync();
    }

    [Fact]
    public void Options_UnsafeTiming_Refused()
    {
        var noMargin = Assert.Throws<ArgumentException>(() => new CallControlLease(Db.ConnectionString, "pbx", "i", Fast with { StopMargin = TimeSpan.Zero }, TimeProvider.System, NullLogger.Instance));
        Assert.Contains("split brain", noMargin.Message, StringComparison.Ordinal);
        var tooShort = Assert.Throws<ArgumentException>(() => new CallControlLease(Db.ConnectionString, "pbx", "i", Fast with { ServerIdleTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System, NullLogger.Instance));
        Assert.Contains("merely slow", tooShort.Message, StringComparison.Ordinal);
    }

    private static async Task WhenCancelledAsync(CancellationToken token)
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = token.Register(() => cancelled.TrySetResult());
        await cancelled.Task.WaitAsync(Bound, Ct);
    }
}
