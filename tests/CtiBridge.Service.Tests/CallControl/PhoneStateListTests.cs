using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Desk phones already unreachable when it matters, against PbxSim: an agent logging in at a phone
/// that unregistered earlier is paused at once (the device state CtiBridge already knew), and a
/// phone that unregistered while the AMI link was down is found by <c>DeviceStateList</c> after the
/// reconnect (its DeviceStateChange reached nobody). Either way no call rings the dead phone.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class PhoneStateListTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CallQueueSettings Queue() => new()
    {
        Name = "support", Strategy = "rrmemory", RingTimeout = TimeSpan.FromSeconds(30), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    [Fact]
    public async Task LoginAtAnUnregisteredPhone_AgentIsPausedAtOnce_AndReadyWhenThePhoneComesBack()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], ct);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        rig.Pbx.Phone("1001").Registered(false);
        await rig.PbxEvents.WaitForAsync<Asterisk.Ami.AmiMessage>(e => e.EventName == "DeviceStateChange" && e["Device"] == "PJSIP/1001" && e["State"] == "UNAVAILABLE", "1001 unregistered", ct);

        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);

        var paused = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, ct);
        Assert.Equal((PauseReasons.PhoneUnavailable, ChangeSource.System), (paused.Reason, paused.Source));
        var caller = rig.Trunk.CallIn("4008001", "5554001", "First Caller");
        await rig.PbxEvents.DialToAsync("1002", ct);
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is CallOffered { AgentId: "2001" });

        rig.Pbx.Phone("1001").Registered(true);
        var back = await rig.AgentWentAsync("2001", AgentState.Paused, AgentState.Ready, ct);
        Assert.Equal(ChangeSource.System, back.Source);
        rig.Trunk.HangUp(caller);
    }

    [Fact]
    public async Task PhoneUnregistersWhileTheAmiLinkIsDown_TheListAfterTheReconnectPausesTheAgent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001"), ("2002", "1002")], ct);
        rig.Pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(200));
        await rig.LoginAsync("2001", ct);
        await rig.LoginAsync("2002", ct);

        // The links drop and the phone unregisters at once, long before any client can reconnect
        // (at least 400 ms): the DeviceStateChange reaches no AMI client.
        rig.Pbx.DropAmiConnections();
        rig.Pbx.Phone("1001").Registered(false);

        var paused = await rig.AgentWentAsync("2001", AgentState.Ready, AgentState.Paused, ct);
        Assert.Equal((PauseReasons.PhoneUnavailable, ChangeSource.System), (paused.Reason, paused.Source));
        var caller = rig.Trunk.CallIn("4008001", "5554002", "Second Caller");
        var enqueued = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the call to queue", ct);
        await rig.AgentWentAsync("2002", AgentState.Ready, AgentState.Ringing, ct);
        await rig.AgentWentAsync("2002", AgentState.Ringing, AgentState.OnCall, ct);
        Assert.DoesNotContain(rig.AcdEvents.Snapshot(), e => e is CallOffered { AgentId: "2001" });
        Assert.Equal("5554002", enqueued.Caller.CallerNumber);
        rig.Trunk.HangUp(caller);
    }
}
