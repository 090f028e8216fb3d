using CtiBridge.Data.Schema;

namespace CtiBridge.Data.Tests.Schema;

public sealed class MigrationCatalogTests
{
    [Theory]
    [InlineData("1_short.sql")]
    [InlineData("0000_zero.sql")]
    [InlineData("abcd_letters.sql")]
    [InlineData("0001.sql")]
    [InlineData("00001_five.sql")]
    public void FromFile_BadName_SaysWhatTheNameMustLookLike(string fileName)
    {
        var error = Assert.Throws<MigrationException>(() => Migration.FromFile(fileName, "SELECT 1"));

        Assert.Contains(fileName, error.Message, StringComparison.Ordinal);
        Assert.Contains("NNNN_name.sql", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Catalog_DuplicateVersion_IsRefused()
    {
        var error = Assert.Throws<MigrationException>(() => new MigrationCatalog([Migration.FromFile("0003_a.sql", "SELECT 1"), Migration.FromFile("0003_b.sql", "SELECT 2")]));

        Assert.Contains("share version 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Embedded_HasContiguousVersionsFromOne()
    {
        var versions = MigrationCatalog.Embedded.Migrations.Select(m => m.Version).ToList();

        Assert.NotEmpty(versions);
        Assert.Equal(Enumerable.Range(1, versions.Count), versions);
    }

    [Fact]
    public void FromFile_CrlfAndLf_HaveTheSameChecksum()
    {
        Assert.Equal(Migration.FromFile("0001_a.sql", "A\r\nB").Checksum, Migration.FromFile("0001_a.sql", "A\nB").Checksum);
    }
}
