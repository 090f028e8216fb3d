using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Acd;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// A connected call's bridge recording carries on through a restart (issue 8): Asterisk goes on
/// recording the bridge while no CtiBridge instance listens; the instance that adopts the call finds
/// the recording live and takes it as the call's, so the call's row names it and it is stored once,
/// ended with the call. Against PbxSim and PostgreSQL, the service stopped mid-talk and started again.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AdoptedRecordingTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    [Fact]
    public async Task ServiceRestartedMidTalk_TheRunningBridgeRecordingIsTheCallsRecording_StoredOnceAndLinked()
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        await using var rig = await RestartRig.StartAsync(db, ct);
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5550001", "First");
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(_ => true, "the call answered", ct);
        var agentLeg = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        var started = await rig.AcdEvents.WaitForAsync<CallRecordingStarted>(_ => true, "the recording to start", ct);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_calls WHERE answered_at IS NOT NULL", 1, ct);

        // Stopped mid-talk: the caller, the agent and the recording stay up in PbxSim; a new service adopts the call.
        await rig.StopServiceAsync();
        await rig.StartServiceAgainAsync(ct);
        await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == answered.CallId && e.AgentId == "2001", "the call adopted with its agent", ct);
        var adopted = await rig.AcdEvents.WaitForAsync<CallRecordingStarted>(e => e.CallId == answered.CallId, "the running recording taken as the call's", ct, nth: 2);
        Assert.Equal(started.RecordingId, adopted.RecordingId);
        Assert.Equal(started.Path, adopted.Path);
        Assert.Equal("2001", adopted.AgentId);
        Assert.Equal(Micros(answered.At), Micros(adopted.StartedAt!.Value));

        // The caller hangs up: the recording ends with the call, once.
        rig.Trunk.HangUp(caller);
        await rig.PbxEvents.WaitAsync("Hangup", agentLeg, ct);
        await rig.AcdEvents.WaitForAsync<CallRecordingEnded>(e => e.RecordingId == started.RecordingId, "the recording to end", ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, ct);
        using (var ari = new AriClient(AsteriskServer.ToAriOptions(PbxSimSettings.For(rig.Pbx).Ari)))
        {
            Assert.Equal("wav", (await ari.Recordings.GetStoredAsync(started.RecordingId, ct)).Format);
        }

        await rig.StopServiceAsync();

        var id = answered.CallId;
        Assert.Equal($"answered|2001|{started.RecordingId}", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', disposition, agent_id, recording_id) FROM calls WHERE call_id = '{id}'", ct));
        Assert.Equal($"1|{started.RecordingId}|2001|{started.Path}|t", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', count(*), min(recording_id), min(agent_id), min(path), bool_and(ended_at > started_at)) FROM recordings WHERE call_id = '{id}'", ct));
        Assert.Equal(Micros(answered.At), Micros(await db.ScalarAsync<DateTime>($"SELECT started_at FROM recordings WHERE call_id = '{id}'", ct)));
    }

    private static long Micros(DateTimeOffset at) => at.UtcTicks / 10;

    private static long Micros(DateTime utc) => utc.Ticks / 10;
}
