using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The kill -9 takeover race (issue 14), made deterministic: the previous owner was ringing an agent
/// for a waiting call when it went away, and the instance that adopts the call must ring that agent
/// again and be answered, not be misled by the old leg. Two ways the old leg can go wrong:
/// <list type="bullet">
/// <item>it ends after the adopter's events connection is up but before its snapshot: the snapshot
/// does not list it, its ChannelDestroyed waits on the new connection, and an adopter that numbered
/// its new leg as the previous owner did (<c>{call}-{agent}-1</c>) took that stale event for its own
/// new leg: the new ring counted as declined, the agent was offered other calls while their phone
/// rang, those rings found it busy (17), and after three "no answers" the agent was auto-paused, the
/// callers left on music on hold (the KillHardTests failure);</item>
/// <item>it still rings at the snapshot: released without waiting while the agent is rung again,
/// the new ring could find the phone busy with it.</item>
/// </list>
/// Against PbxSim and PostgreSQL; the first case holds the adopter's read of <c>live_calls</c> with a
/// table lock to place the old leg's end exactly in that window.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class AdoptedRingingLegTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AgentRungWhenTheOwnerStopped_AdopterRingsAgainAndIsAnswered_NoStaleDecline(bool oldLegEndsWhileAdopting)
    {
        var ct = TestContext.Current.CancellationToken;
        var db = database.Database;
        var queue = new CallQueueSettings
        {
            Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(20), RetryAfterNoAnswer = TimeSpan.FromSeconds(1),
            WrapUp = TimeSpan.FromSeconds(0.2), MusicOnHold = "default",
        };

        // The calls stay in Asterisk for the next instance (no hand-back to the dialplan at stop), as after a kill.
        await using var rig = await CallCenterRig.StartAsync(db, queue, [("2001", "1001")], ct, configure: c => c.Shutdown.HandBackCalls = false);
        var phone = rig.Pbx.Phone("1001").NeverAnswers();
        await rig.LoginAsync("2001", ct);
        var caller = rig.Trunk.CallIn("4008001", "5550001", "First");
        var offered = await rig.AcdEvents.WaitForAsync<CallOffered>(e => e.AgentId == "2001", "call offered to 2001", ct);
        await rig.PbxEvents.DialToAsync("1001", ct);
        await RestartRig.WaitForRowsAsync(db, "SELECT count(*) FROM live_calls", 1, ct);
        await rig.StopServiceAsync();
        Assert.Single(phone.Channels); // the old leg rings on
        phone.AnswersAfter(TimeSpan.FromMilliseconds(100));

        if (oldLegEndsWhileAdopting)
        {
            // The adopter's events connection comes up, then its recovery waits for live_calls (held here):
            // the old leg ends in that window, so its ChannelDestroyed is queued on the new connection and
            // the snapshot taken afterwards does not list it.
            await using var hold = await db.DataSource.OpenConnectionAsync(ct);
            await using var transaction = await hold.BeginTransactionAsync(ct);
            await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE live_calls IN SHARE MODE", hold, transaction))
            {
                await lockTable.ExecuteNonQueryAsync(ct);
            }

            await rig.StartServiceAgainAsync(ct);
            phone.Hangup();
            await transaction.CommitAsync(ct);
        }
        else
        {
            await rig.StartServiceAgainAsync(ct);
        }

        var adopted = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == offered.CallId, "the call adopted", ct);
        Assert.Null(adopted.AgentId);
        var answered = await rig.AcdEvents.WaitForAsync<CallAnswered>(e => e.CallId == offered.CallId, "the adopted call answered", ct);
        Assert.Equal("2001", answered.AgentId);

        // The first ring from the adopter was the one answered: no decline, no busy, no ring timeout in between.
        var afterAdoption = rig.AcdEvents.Snapshot().SkipWhile(e => e != adopted).ToList();
        Assert.DoesNotContain(afterAdoption, e => e is CallOfferEnded { AgentId: "2001" } ended && ended.End != OfferEnd.Withdrawn);
        Assert.Single(afterAdoption.OfType<CallOffered>(), e => e.CallId == offered.CallId);
        Assert.DoesNotContain(afterAdoption, e => e is AgentStateChanged { AgentId: "2001", To: AgentState.Paused });

        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        rig.Trunk.HangUp(caller);
        await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == offered.CallId, "the call ended", ct);
        await rig.StopServiceAsync();
        Assert.Equal("answered|2001", await db.ScalarAsync<string>($"SELECT concat_ws('|', disposition, agent_id) FROM calls WHERE call_id = '{offered.CallId}'", ct));
    }
}
