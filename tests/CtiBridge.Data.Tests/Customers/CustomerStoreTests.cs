using CtiBridge.Data.Customers;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Customers;

/// <summary>The <c>customers</c> table and its named queries (migration 0020): what the database customer lookup reads.</summary>
public sealed class CustomerStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private CustomerStore Store => new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Put_ThenFind_ReturnsEveryField_AndAPutAgainReplacesThem()
    {
        await Store.PutAsync(new Customer("+8613800001111", "C-1", Vip: true, Member: true, AssignedAgent: "2001", Language: "zh"), Ct);
        Assert.Equal(new Customer("+8613800001111", "C-1", true, true, false, "2001", "zh"), await Store.FindAsync("+8613800001111", Ct));

        await Store.PutAsync(new Customer("+8613800001111", Blocked: true), Ct);
        Assert.Equal(new Customer("+8613800001111", Blocked: true), await Store.FindAsync("+8613800001111", Ct));
    }

    [Fact]
    public async Task Find_UnknownNumber_IsNull_TheNumberIsMatchedExactly()
    {
        await Store.PutAsync(new Customer("5550001", "C-2"), Ct);
        Assert.Null(await Store.FindAsync("5550002", Ct));
        Assert.Null(await Store.FindAsync("555000", Ct));
        Assert.Equal("C-2", (await Store.FindAsync("5550001", Ct))!.CustomerId);
    }

    [Fact]
    public async Task Put_BadNumberOrLanguage_IsRefusedSayingWhichAndNothingIsStored()
    {
        var number = await Assert.ThrowsAsync<ArgumentException>(() => Store.PutAsync(new Customer("555-0003"), Ct));
        Assert.Contains("'555-0003' is not a phone number", number.Message, StringComparison.Ordinal);
        var language = await Assert.ThrowsAsync<ArgumentException>(() => Store.PutAsync(new Customer("5550004", Language: "Chinese please"), Ct));
        Assert.Contains("language 'Chinese please'", language.Message, StringComparison.Ordinal);
        Assert.Null(await Store.FindAsync("5550004", Ct));
    }

    [Fact]
    public async Task Import_ReplaceAll_KeepsOnlyTheFile_ListPagesInNumberOrder_DeleteRemovesOne()
    {
        await Store.PutAsync(new Customer("5559000", "old"), Ct);
        var (written, removed) = await Store.ImportAsync([new Customer("5559003", Blocked: true), new Customer("5559001", "C-1"), new Customer("5559002", Vip: true)], replaceAll: true, Ct);
        Assert.True(removed >= 1);
        Assert.Equal(3, written);
        Assert.Null(await Store.FindAsync("5559000", Ct));

        var first = await Store.ListAsync(null, null, 2, Ct);
        Assert.Equal(["5559001", "5559002"], first.Select(c => c.Number));
        var next = await Store.ListAsync(first[^1].Number, null, 2, Ct);
        Assert.Equal(["5559003"], next.Select(c => c.Number));
        Assert.Equal(["5559003"], (await Store.ListAsync(null, true, 10, Ct)).Select(c => c.Number));

        // A bad customer in the list: nothing is written.
        await Assert.ThrowsAsync<ArgumentException>(() => Store.ImportAsync([new Customer("5559004"), new Customer("x")], replaceAll: false, Ct));
        Assert.Null(await Store.FindAsync("5559004", Ct));

        Assert.True(await Store.DeleteAsync("5559002", Ct));
        Assert.False(await Store.DeleteAsync("5559002", Ct));
    }
}
