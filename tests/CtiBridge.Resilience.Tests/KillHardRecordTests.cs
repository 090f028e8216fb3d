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
public sealed class KillHardRecordTests
{
    [Fact]
    public async Task CallEndsAsTheActiveIsKilled_ItsRecordNotStoredYet_TheStandbyStoresItOnce_WithItsRealEndAndOutcome()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await KillHardRig.StartAsync("kill-record", [("2001", "1001")], TimeSpan.FromSeconds(90), ct);
        var (database, pbx, active, standby) = (rig.Database, rig.Pbx, rig.Active, rig.Standby);
        pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100)); // and talks until the test hangs up
        await rig.AgentsOn(active).LoginAsync("2001", ct);

        rig.Carrier.CallIn("4008001", "5550001", "Caller at the kill");
        await rig.EventuallyAsync(
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
        await rig.EventuallyAsync(
            async () => pbx.ChannelNames.Count == 0
                && await database.ScalarAsync<long>("SELECT count(*) FROM live_calls l WHERE to_jsonb(l) ->> 'ended_at' IS NULL", ct) == 0,
            "the call ended: no channel, no live call in live_calls", ct);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct));

        var killedAt = DateTimeOffset.UtcNow;
        active.KillHard();
        await standby.WaitReadyAsync(ct);
        await holding.RollbackAsync(ct); // the writers go on: the killed one's connection is gone, its transaction never commits

        // Stored once, by the standby, as the call really ended.
        await rig.EventuallyAsync(
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct) > 0,
            "the call's record stored", ct);
        await rig.EventuallyAsync(
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
}
