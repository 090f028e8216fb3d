using CtiBridge.Core.Acd;
using CtiBridge.Data.Customers;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The customer lookup from the <c>customers</c> table (<c>customerLookup.source = "database"</c>)
/// end to end against PbxSim and PostgreSQL: a blacklisted number is released as <c>blocked</c>, a
/// VIP with an own agent is queued first with its CRM ID, an unknown caller goes on as unknown.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CustomerTableLookupTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly Dictionary<string, double> Sounds = new(StringComparer.Ordinal) { ["ss-noservice"] = 0.3 };

    [Fact]
    public async Task CustomersTable_BlockedIsReleasedAsBlocked_VipIsQueuedFirstWithItsOwnAgent_UnknownGoesOn()
    {
        var ct = TestContext.Current.CancellationToken;
        var customers = new CustomerStore(database.Database.DataSource);
        await customers.PutAsync(new Customer("5553666", Blocked: true), ct);
        await customers.PutAsync(new Customer("5553777", "C-3777", Vip: true, Member: true, AssignedAgent: "2001", Language: "en"), ct);
        var queue = new CallQueueSettings { Name = "support", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default" };
        await using var rig = await CallCenterRig.StartAsync(database.Database, queue, [("2001", "1001")], ct,
            cc => cc.CustomerLookup = new CustomerLookupSettings { Source = "database", Timeout = TimeSpan.FromSeconds(2) }, Sounds);

        // Nobody is logged in: callers who get through wait in the queue, in priority order.
        var blocked = rig.Trunk.CallIn("4008001", "5553666", "Nuisance");
        await rig.PbxEvents.WaitAsync("Hangup", blocked, ct);
        // The blocked caller's channel was answered (the prompt needs it): the cdr view says ANSWERED, not NO ANSWER.
        await rig.PbxEvents.WaitAsync("Newstate", blocked, ct, e => e["ChannelStateDesc"] == "Up");
        var unknown = rig.Trunk.CallIn("4008001", "5553000", "Nobody Known");
        var first = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the unknown caller to queue", ct);
        var vip = rig.Trunk.CallIn("4008001", "5553777", "Big Boss");
        var second = await rig.AcdEvents.WaitForAsync<CallEnqueued>(_ => true, "the VIP to queue", ct, nth: 2);

        Assert.Equal(("5553000", false, null, null), (first.Caller.CallerNumber, first.Caller.IsVip, first.Caller.CustomerId, first.Caller.AssignedAgentId));
        Assert.Equal(("5553777", true, "C-3777", "2001", "en"), (second.Caller.CallerNumber, second.Caller.IsVip, second.Caller.CustomerId, second.Caller.AssignedAgentId, second.Caller.Language));
        Assert.Equal(1, second.Position);
        Assert.True(second.Priority > first.Priority);

        rig.Trunk.HangUp(unknown);
        rig.Trunk.HangUp(vip);
        await rig.AcdEvents.WaitForAsync<CallEnded>(_ => true, "the calls to end", ct, nth: 2);
        await rig.StopServiceAsync();

        Assert.Equal("blocked|system", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', disposition, released_by) FROM calls WHERE caller = '5553666'", ct));
        Assert.Equal("ANSWERED|blocked|Playback|t", await database.Database.ScalarAsync<string>(
            "SELECT concat_ws('|', disposition, userfield, lastapp, billsec = duration) FROM cdr WHERE src = '5553666'", ct));
        Assert.Equal("NO ANSWER NO ANSWER", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(disposition, ' ') FROM cdr WHERE src IN ('5553000', '5553777')", ct));
        Assert.Equal("abandoned abandoned", await database.Database.ScalarAsync<string>(
            "SELECT string_agg(disposition, ' ') FROM calls WHERE caller IN ('5553000', '5553777')", ct));
    }
}
