using Npgsql;

namespace CtiBridge.Benchmarks.Data;

/// <summary>
/// Where the record benchmarks find PostgreSQL: CTIBRIDGE_BENCH_PG is an admin connection string
/// (default: the test cluster's CTIBRIDGE_TEST_PG); the report and export benchmarks read the
/// database named by CTIBRIDGE_BENCH_DATABASE (default rec_bench), which scripts/generate-calls.sh
/// fills (docs/benchmarks.md, "Records and reports").
/// </summary>
internal static class BenchDatabase
{
    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable("CTIBRIDGE_BENCH_PG") is { Length: > 0 } bench ? bench
        : Environment.GetEnvironmentVariable("CTIBRIDGE_TEST_PG") is { Length: > 0 } test ? test
        : throw new InvalidOperationException("Set CTIBRIDGE_BENCH_PG (or run eval \"$(scripts/pg.sh env)\" for CTIBRIDGE_TEST_PG).");

    public static string For(string database) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database }.ConnectionString;

    public static string TrafficDatabase => Environment.GetEnvironmentVariable("CTIBRIDGE_BENCH_DATABASE") is { Length: > 0 } name ? name : "rec_bench";

    public static async Task RecreateAsync(string database)
    {
        await using var admin = new NpgsqlConnection(AdminConnectionString);
        await admin.OpenAsync();
        await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", admin))
        {
            await drop.ExecuteNonQueryAsync();
        }

        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", admin);
        await create.ExecuteNonQueryAsync();
    }
}
