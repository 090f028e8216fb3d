using CtiBridge.Data.Leases;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CtiBridge.Data.Tests.Leases;

/// <summary>
/// The lease holder's watch of its lock session (issue 14): what counts as a lost lease (the lock not held, the
/// connection broken) and what does not (checks answered on time), and timing that would allow split brain refused.
/// The slow-check case is in <c>DialerSessionsTests</c> and <c>CallControlLeaseTests</c> (<see cref="SlowLockCheck"/>).
/// </summary>
public sealed class LockSessionWatchTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly LockSessionTiming Fast = new()
    {
        CheckInterval = TimeSpan.FromMilliseconds(100),
        SlowCheck = TimeSpan.FromMilliseconds(500),
        ServerIdleTimeout = TimeSpan.FromSeconds(5),
        StopMargin = TimeSpan.FromSeconds(1),
    };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<NpgsqlConnection> LockSessionAsync(long? lockKey)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(fixture.Database.ConnectionString) { Pooling = false, Options = Fast.StartupOptions }.ConnectionString);
        await connection.OpenAsync(Ct);
        if (lockKey is { } key)
        {
            await using var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection);
            take.Parameters.AddWithValue("key", key);
            await take.ExecuteNonQueryAsync(Ct);
        }

        return connection;
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"still waiting after 30 s for {what}");
            await Task.Delay(20, Ct);
        }
    }

    [Fact]
    public async Task LockHeld_ChecksAnswered_NotLost_TheSessionCarriesTheServerTimeouts()
    {
        var key = Random.Shared.NextInt64();
        await using var connection = await LockSessionAsync(key);
        await using var watch = new LockSessionWatch(connection, key, TimeProvider.System.GetTimestamp(), Fast, TimeProvider.System, NullLogger.Instance, "test lease");

        await UntilAsync(() => watch.ChecksAnswered >= 3 || watch.Lost.IsCancellationRequested, "three answered checks");

        Assert.False(watch.Lost.IsCancellationRequested, watch.LostReason);
        Assert.True(watch.IsHeld);
        await watch.DisposeAsync();
        // The server's own timeouts of a silent session, on this session only: idle 5 s, and the TCP ones no shorter.
        await using var show = new NpgsqlCommand("SELECT current_setting('idle_session_timeout') || ' ' || current_setting('tcp_user_timeout') || ' ' || current_setting('tcp_keepalives_idle')", connection);
        Assert.Equal("5s 5000 5", await show.ExecuteScalarAsync(Ct)); // idle in ms shown as 5s; tcp_user_timeout in ms; keepalive idle in s
    }

    [Fact]
    public async Task LockNotHeldBySession_IsALoss()
    {
        // The session is alive and answers; the lock it should hold is not in the lock table.
        var key = Random.Shared.NextInt64();
        await using var connection = await LockSessionAsync(lockKey: null);
        await using var watch = new LockSessionWatch(connection, key, TimeProvider.System.GetTimestamp(), Fast, TimeProvider.System, NullLogger.Instance, "test lease");

        await UntilAsync(() => watch.Lost.IsCancellationRequested, "the watch to count the lease lost");

        Assert.Equal("the lock is no longer held by this session", watch.LostReason);
        Assert.False(watch.IsHeld);
    }

    [Fact]
    public async Task BackendTerminated_IsALossAtTheNextCheck()
    {
        var key = Random.Shared.NextInt64();
        await using var connection = await LockSessionAsync(key);
        await using var watch = new LockSessionWatch(connection, key, TimeProvider.System.GetTimestamp(), Fast, TimeProvider.System, NullLogger.Instance, "test lease");
        await UntilAsync(() => watch.ChecksAnswered >= 1, "a first answered check");

        await fixture.Database.ScalarAsync<bool>($"SELECT pg_terminate_backend({connection.ProcessID})", Ct);
        await UntilAsync(() => watch.Lost.IsCancellationRequested, "the watch to count the lease lost");

        Assert.DoesNotContain("no answer", watch.LostReason, StringComparison.Ordinal); // a broken connection, not a slow one
    }

    [Fact]
    public void Timing_ThatAllowsSplitBrainOrStopsAHealthyHolder_Refused()
    {
        var noMargin = Assert.Throws<ArgumentException>(() => (Fast with { StopMargin = TimeSpan.Zero }).Validate("timing"));
        Assert.Contains("split brain", noMargin.Message, StringComparison.Ordinal);
        var tooShort = Assert.Throws<ArgumentException>(() => (Fast with { ServerIdleTimeout = TimeSpan.FromSeconds(1.5) }).Validate("timing"));
        Assert.Contains("merely slow", tooShort.Message, StringComparison.Ordinal);
        Fast.Validate("timing");
    }
}
