using Xunit;

namespace CtiBridge.TestSupport;

/// <summary>
/// Class fixture: a fresh database with the full schema for one test class, so classes run in
/// parallel without sharing rows. Use with <c>IClassFixture&lt;MigratedDatabaseFixture&gt;</c>.
/// </summary>
public sealed class MigratedDatabaseFixture : IAsyncLifetime
{
    private TestDatabase? _database;

    /// <summary>The class's database.</summary>
    public TestDatabase Database => _database ?? throw new InvalidOperationException("The fixture has not been initialised.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync() => _database = await PostgresServer.CreateMigratedDatabaseAsync().ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync().ConfigureAwait(false);
        }
    }
}
