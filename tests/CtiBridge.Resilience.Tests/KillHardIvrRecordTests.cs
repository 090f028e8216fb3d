using CtiBridge.Service.CallControl;
using Npgsql;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// A caller who never left the IVR hangs up in the last moments of the active <c>ctibridge run</c> process, killed with
/// SIGKILL while the call's record is still in its record writer's hands (issue 14, invariant "every call that entered ends
/// exactly once in the records", for callers outside a queue), on <see cref="KillHardRig"/>. As in <see cref="KillHardRecordTests"/> the record writer is
/// held back by the test (it holds <c>calls</c> locked, EXCLUSIVE: reads go on, writes wait), the live state writer is not.
/// Before the fix call control deleted the caller's <c>live_ivr_calls</c> row at the end: the standby had nothing to adopt
/// and the record was lost. Now the row stays, marked with the record's end, until the record is stored, and the standby
/// writes the record from it: stored once, under the call's id, with its real end, disposition and who released it.
/// Bounded: every wait has a limit; the processes are killed on the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class KillHardIvrRecordTests
{
    [Fact]
    public async Task CallerHangsUpInTheIvrAsTheActiveIsKilled_ItsRecordNotStoredYet_TheStandbyStoresItOnce_WithItsRealEnd()
    {
        var ct = TestContext.Current.CancellationToken;

        // The DID goes to a menu whose prompt plays for a minute: the caller is in the IVR, and stays there, until they hang up.
        await using var rig = await KillHardRig.StartAsync(
            "kill-ivr-record", [("2001", "1001")], TimeSpan.FromSeconds(90), ct, MenuOnTheDid,
            pbx => pbx.Sounds = new Dictionary<string, double>(StringComparer.Ordinal) { ["welcome"] = 60, ["goodbye"] = 0.3 });
        var (database, pbx, active, standby) = (rig.Database, rig.Pbx, rig.Active, rig.Standby);

        var caller = rig.Carrier.CallIn("4008001", "5550002", "Caller in the menu");
        var callId = await rig.EventuallyAsync(
            async () => await database.ScalarAsync<string?>("SELECT call_id FROM live_ivr_calls WHERE caller_number = '5550002' AND stage = 'ivr' AND node = 'welcome'", ct),
            "the caller in the menu, in live_ivr_calls", ct);

        // The record writer held back: its next write of a call row waits for this transaction.
        await using var holder = await database.DataSource.OpenConnectionAsync(ct);
        await using var holding = await holder.BeginTransactionAsync(ct);
        await using (var lockCalls = new NpgsqlCommand("LOCK TABLE calls IN EXCLUSIVE MODE", holder, holding))
        {
            await lockCalls.ExecuteNonQueryAsync(ct);
        }

        // The caller hangs up in the menu: the call ends. The live state writer writes it (no row of a caller still in the
        // IVR is left: before the fix the row was deleted, now it is marked ended; read without naming the new column, so
        // it reads the same on either schema); the record cannot be stored.
        var hungUpAt = DateTimeOffset.UtcNow;
        rig.Carrier.HangUp(caller);
        await rig.EventuallyAsync(
            async () => pbx.ChannelNames.Count == 0
                && await database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls l WHERE to_jsonb(l) ->> 'ended_at' IS NULL", ct) == 0,
            "the call ended: no channel, no caller left in live_ivr_calls", ct);
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
            async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct) == 0,
            "the ended caller's live_ivr_calls row deleted with its record", ct);
        await standby.StopAsync(ct);

        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM calls", ct));
        Assert.Equal($"{callId}|5550002|4008001|ivr_abandoned|caller|pbx1", await database.ScalarAsync<string>(
            "SELECT concat_ws('|', call_id, caller, did, disposition, released_by, asterisk_server) FROM calls", ct));
        Assert.True(await database.ScalarAsync<bool>(
                $"SELECT ended_at >= '{hungUpAt:O}'::timestamptz AND ended_at <= '{killedAt:O}'::timestamptz AND NOT end_estimated AND answered_at IS NULL FROM calls", ct),
            $"the call's end is its real end, between the hang-up ({hungUpAt:O}) and the kill ({killedAt:O}): "
            + await database.ScalarAsync<string>("SELECT ended_at::text FROM calls", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM queue_visits", ct));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM live_ivr_calls", ct));
    }

    private static void MenuOnTheDid(Service.Configuration.CtiBridgeSettings settings)
    {
        settings.CallControl.Dids = [new DidRouteSettings { Number = "4008001", Plan = "main" }];
        settings.CallControl.Ivr = new IvrSettings
        {
            Plans =
            [
                new IvrPlanSettings
                {
                    Name = "main", Start = "welcome",
                    Nodes =
                    [
                        new IvrNodeSettings { Name = "welcome", Type = "menu", Prompt = "welcome", Choices = [new() { Key = "1", Next = "support" }], Timeout = TimeSpan.FromSeconds(60) },
                        new IvrNodeSettings { Name = "support", Type = "queue", Queue = "support" },
                    ],
                },
            ],
        };
    }
}
