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
}
