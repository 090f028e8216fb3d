using CtiBridge.Data.Customers;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Customers;

/// <summary>The in-memory caller-region table used by screen pops agrees with the caller-origin report's SQL.</summary>
public sealed class CallerRegionsTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task ExecuteAsync(TestDatabase db, string sql, CancellationToken cancellationToken)
    {
        await using var command = db.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [Fact]
    public async Task RegionOf_LongestPrefix_AgreesWithTheReportsLookup()
    {
        var db = fixture.Database;
        await ExecuteAsync(db, """
            INSERT INTO number_prefixes (prefix, region, carrier) VALUES
              ('86138', 'China Mobile', NULL), ('861380100', 'Beijing', 'CM'), ('8613801', 'Beijing area', NULL), ('+44', 'United Kingdom', NULL)
            """, Ct);
        var regions = new CallerRegions();
        Assert.Null(regions.RegionOf("8613801001234")); // nothing loaded yet

        await regions.LoadAsync(db.DataSource, Ct);

        Assert.Equal(4, regions.Count);
        string?[] numbers = ["8613801001234", "8613801991234", "8613899990000", "+442071234567", "4930123", "", null, "86138", "8613"];
        foreach (var number in numbers)
        {
            var bySql = number is null ? null : await db.ScalarAsync<string?>($"""
                SELECT np.region FROM generate_series(least(length('{number}'), 16), 1, -1) AS n
                JOIN number_prefixes np ON np.prefix = left('{number}', n) ORDER BY n DESC LIMIT 1
                """, Ct);
            Assert.Equal(bySql, regions.RegionOf(number));
        }

        Assert.Equal("Beijing", regions.RegionOf("8613801001234"));
        Assert.Equal("Beijing area", regions.RegionOf("8613801991234"));
        Assert.Equal("China Mobile", regions.RegionOf("8613899990000"));
        Assert.Null(regions.RegionOf("4930123"));

        // A reload sees the table as it is now (a new CSV loaded by the administrator).
        await ExecuteAsync(db, "DELETE FROM number_prefixes WHERE prefix = '861380100'", Ct);
        await regions.LoadAsync(db.DataSource, Ct);
        Assert.Equal("Beijing area", regions.RegionOf("8613801001234"));
    }
}
