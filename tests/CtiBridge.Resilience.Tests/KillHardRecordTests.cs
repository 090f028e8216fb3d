using System.Net.Http.Json;
using CtiBridge.Data.Access;
using CtiBridge.PbxSim;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;
using Npgsql;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// A call that ends in the last moments of the active <c>ctibridge run</c> process, killed with SIGKILL while the call's
/// record is still in its record writer's hands (issue 14, invariant "every call that entered ends exactly once in the
/// records"). The record writer is held back by the test: it holds <c>calls</c> locked (EXCLUSIVE: reads go on, writes
/// wait), so the record of the call that ends is not stored when the process is killed; the live state writer is not
/// held back. Before the fix the live state writer deleted the call's <c>live_calls</c> row at the end: the standby had
/// nothing to adopt and the record was lost. Now the row stays, marked with the end, until the record is stored, and the
/// standby writes the record from it: the call is stored once, with its real end (between the hang-up and the kill) and
/// outcome. Bounded: every wait has a limit; the processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class KillHardRecordTests : IAsyncDisposable
{
    private readonly HaProcesses _instances = new("ctibridge-kill-record-", TimeSpan.FromSeconds(90));

    [Fact]
    public async Task CallEndsAsTheActiveIsKilled_ItsRecordNotStoredYet_TheStandbyStoresItOnce_WithItsRealEndAndOutcome()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        // The shipped dialplan (asterisk-config/extensions.conf), as in KillHardTests.
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

        await using var pbx = await PbxSimSettings.StartAsync(options);
        pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100)); // and talks until the test hangs up

        var active = await StartAsync("a", database, pbx, ct);
        await active.WaitReadyAsync(ct);
        var standby = await StartAsync("b", database, pbx, ct);
        await standby.WaitLiveAsync(ct);
        Assert.False(await standby.IsReadyAsync(ct), "the second process must be a standby while the first holds the lease");

        var token = (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync("kill-record", ApiRole.Supervisor, null, "test", ct)).Token;
        using (var login = await active.Http(token).PostAsJsonAsync("/api/agents/2001/login", new { pin = CallCenterRig.Pin }, ct))
        {
            Assert.True(login.IsSuccessStatusCode, $"login of 2001: {(int)login.StatusCode} {await login.Content.ReadAsStringAsync(ct)}");
        }

        pbx.Trunk("carrier").CallIn("4008001", "5550001", "Caller at the kill");
        await _instances.EventuallyAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_calls WHERE agent_id = '2001' AND answered_at IS NOT NULL", ct) == 1,
            "the caller talking to 2001, in live_calls", ct);

        // The record writer held back: its next write of a call row waits for this transaction.
        await using var holder = await database.DataSource.OpenConnectionAsync(ct);
        await using var holding = await holder.BeginTransactionAsync(ct);
        await using (var lockCalls = new NpgsqlCommand("LOCK TABLE calls IN EXCLUSIVE MODE", holder, holding))
        {
            await lockCalls.ExecuteNonQueryAsync(ct);
        }

        // The agent hangs up: the call ends. The live state writer writes it (no row of a live call is left: before the
        // fix the row was deleted, now it is marked ended; read without naming the new column, so it reads the same on
        // either schema); the record cannot be stored.
        var hungUpAt = DateTimeOffset.UtcNow;
        pbx.Phone("1001").Hangup();
        await _instances.EventuallyAsync(
            async () => pbx.ChannelNames.Count == 0
                && await database.ScalarAsync<long>("SELECT count(*) FROM live_calls l WHERE to_jsonb(l) ->> 'ended_at' IS NULL", ct) == 0,
            "the call ended: no channel, no live call in live_calls", ct);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct));

        var killedAt = DateTimeOffset.UtcNow;
        active.KillHard();
        await standby.WaitReadyAsync(ct);
        await holding.RollbackAsync(ct); // the writers go on: the killed one's connection is gone, its transaction never commits

        // Stored once, by the standby, as the call really ended.
        await _instances.EventuallyAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct) > 0,
            "the call's record stored", ct);
        await _instances.EventuallyAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct) == 0,
            "the ended call's live_calls row deleted with its record", ct);
        await standby.StopAsync(ct);

        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct));
        Assert.Equal("5550001|answered|2001|agent", await database.ScalarAsync<string>(
            "SELECT concat_ws('|', caller, disposition, agent_id, released_by) FROM calls", ct));
        Assert.True(await database.ScalarAsync<bool>(
                $"SELECT ended_at >= '{hungUpAt:O}'::timestamptz AND ended_at <= '{killedAt:O}'::timestamptz AND answered_at IS NOT NULL AND NOT end_estimated FROM calls", ct),
            $"the call's end is its real end, between the hang-up ({hungUpAt:O}) and the kill ({killedAt:O}): "
            + await database.ScalarAsync<string>("SELECT ended_at::text || ' answered ' || coalesce(answered_at::text, '-') FROM calls", ct));
        Assert.Equal(1L, await database.ScalarAsync<long>(
            "SELECT count(*) FROM queue_visits v JOIN calls c ON c.call_id = v.call_id WHERE v.outcome = 'answered' AND v.agent_id = '2001'", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct));
    }

    private Task<ServiceProcess> StartAsync(string name, TestDatabase database, PbxSimulator pbx, CancellationToken ct) =>
        _instances.StartAsync(name, _instances.Settings(name, database, pbx, [("2001", "1001")]), ct);

    public ValueTask DisposeAsync() => _instances.DisposeAsync();
}
