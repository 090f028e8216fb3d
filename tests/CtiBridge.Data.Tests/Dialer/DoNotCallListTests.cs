using CtiBridge.Data.Dialer;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Data.Tests.Dialer;

public sealed class DoNotCallListTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 16, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private DoNotCallList List => new(fixture.Database.DataSource, _clock);

    private static string Number() => "+1212" + Random.Shared.Next(2_000_000, 9_999_999);

    [Fact]
    public async Task Request_IsNotOnTheListUntilAnotherSupervisorApproves()
    {
        var number = Number();
        var request = await List.RequestAsync(DoNotCallAction.Add, "spring", number, "customer asked on call 42", "agent7", Ct);

        Assert.Equal(DoNotCallRequestStatus.Pending, request.Status);
        Assert.DoesNotContain(number, await List.NumbersForCampaignAsync("spring", Ct));
        var self = await Assert.ThrowsAsync<DoNotCallException>(() => List.DecideAsync(request.Id, true, "agent7", null, Ct));
        Assert.Contains("another supervisor", self.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(number, await List.NumbersForCampaignAsync("spring", Ct));

        var decided = await List.DecideAsync(request.Id, true, "supervisor1", "ok", Ct);

        Assert.Equal(DoNotCallRequestStatus.Approved, decided.Status);
        Assert.Equal("supervisor1", decided.DecidedBy);
        Assert.Contains(number, await List.NumbersForCampaignAsync("spring", Ct));
        Assert.DoesNotContain(number, await List.NumbersForCampaignAsync("autumn", Ct)); // campaign list, not global
        Assert.Equal(2, await fixture.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE target = '{number}' AND action IN ('dnc request add', 'dnc approve add')", Ct));
        await Assert.ThrowsAsync<DoNotCallException>(() => List.DecideAsync(request.Id, false, "supervisor2", null, Ct)); // decided once
    }

    [Fact]
    public async Task RejectedRequest_LeavesTheListAlone_AndRemovalNeedsApprovalToo()
    {
        var number = Number();
        var rejected = await List.RequestAsync(DoNotCallAction.Add, DoNotCallList.GlobalScope, number, "typo?", "agent7", Ct);
        await List.DecideAsync(rejected.Id, false, "supervisor1", "wrong number", Ct);
        Assert.DoesNotContain(number, await List.NumbersForCampaignAsync("any", Ct));

        var add = await List.RequestAsync(DoNotCallAction.Add, DoNotCallList.GlobalScope, number, "asked", "agent7", Ct);
        await List.DecideAsync(add.Id, true, "supervisor1", null, Ct);
        Assert.Contains(number, await List.NumbersForCampaignAsync("any", Ct));
        var remove = await List.RequestAsync(DoNotCallAction.Remove, DoNotCallList.GlobalScope, number, "customer opted back in", "agent8", Ct);
        Assert.Contains(number, await List.NumbersForCampaignAsync("any", Ct));
        await List.DecideAsync(remove.Id, true, "supervisor2", null, Ct);

        Assert.DoesNotContain(number, await List.NumbersForCampaignAsync("any", Ct));
        var history = (await List.ListAsync(null, null, Ct)).Where(r => r.PhoneNumber == number).ToList();
        Assert.Equal([DoNotCallRequestStatus.Rejected, DoNotCallRequestStatus.Approved, DoNotCallRequestStatus.Approved], history.Select(r => r.Status));
    }

    [Fact]
    public async Task Request_BadNumberNoReasonOrAlreadyPending_IsRefusedWithTheReason()
    {
        var number = Number();
        await List.RequestAsync(DoNotCallAction.Add, "spring", number, "asked", "agent7", Ct);

        var bad = await Assert.ThrowsAsync<DoNotCallException>(() => List.RequestAsync(DoNotCallAction.Add, "spring", "212555", "asked", "agent7", Ct));
        var noReason = await Assert.ThrowsAsync<DoNotCallException>(() => List.RequestAsync(DoNotCallAction.Add, "spring", number, " ", "agent7", Ct));
        var twice = await Assert.ThrowsAsync<DoNotCallException>(() => List.RequestAsync(DoNotCallAction.Add, "spring", number, "again", "agent8", Ct));

        Assert.Contains("E.164", bad.Message, StringComparison.Ordinal);
        Assert.Contains("reason", noReason.Message, StringComparison.Ordinal);
        Assert.Contains("already waiting", twice.Message, StringComparison.Ordinal);
    }
}
