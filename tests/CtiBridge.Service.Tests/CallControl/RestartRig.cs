using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The call center of the restart tests (<see cref="RestartRecoveryTests"/>, <see cref="LiveDayRestartTests"/>,
/// <see cref="AdoptedRingingLegTests"/>, <see cref="ConsultRestartTests"/>): calls stay in the Stasis app when the
/// service stops (no hand-back), so a new service on the same PbxSim and database adopts them.
/// </summary>
internal static class RestartRig
{
    /// <summary>The support queue: least recent, 10 s ring, wrap-up 0.3 s, default music.</summary>
    public static CallQueueSettings Queue() => new()
    {
        Name = "support",
        Strategy = "leastrecent",
        RingTimeout = TimeSpan.FromSeconds(10),
        RetryAfterNoAnswer = TimeSpan.FromSeconds(1),
        WrapUp = TimeSpan.FromSeconds(0.3),
        MusicOnHold = "default",
    };

    /// <summary>Agents 2001 (phone 1001, answers after 200 ms) and 2002 (phone 1002) in <paramref name="queue"/> (default <see cref="Queue"/>), nobody logged in.</summary>
    public static async Task<CallCenterRig> StartAsync(TestDatabase database, CancellationToken ct, CallQueueSettings? queue = null)
    {
        var rig = await CallCenterRig.StartAsync(database, queue ?? Queue(), [("2001", "1001"), ("2002", "1002")], ct,
            configure: c => c.Shutdown.HandBackCalls = false);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
        return rig;
    }

    /// <summary><see cref="StartAsync"/> with 2001 logged in and ready, 2002 logged in and paused for lunch.</summary>
    public static async Task<CallCenterRig> StartWithOneReadyOneAtLunchAsync(TestDatabase database, CancellationToken ct)
    {
        var rig = await StartAsync(database, ct);
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);
        Assert.True((await rig.Center.PauseAgentAsync("2002", "lunch", ct)).Accepted);
        return rig;
    }

    /// <summary>
    /// Waits until <paramref name="sql"/> counts <paramref name="expected"/> rows; fails after 15 s. Bounded like the
    /// rigs' other waits: the live-state writer's batches lag under load (at load ~57 the ended call's live_calls
    /// row was still there after 5 s).
    /// </summary>
    public static async Task WaitForRowsAsync(TestDatabase database, string sql, long expected, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 750 && await database.ScalarAsync<long>(sql, ct) != expected; attempt++)
        {
            await Task.Delay(20, ct);
        }

        Assert.Equal(expected, await database.ScalarAsync<long>(sql, ct));
    }
}
