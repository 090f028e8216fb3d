using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CtiBridge.Data.Exports;
using Npgsql;

namespace CtiBridge.Benchmarks.Data;

/// <summary>
/// Streaming export of one month of calls (about a million rows in the generated database) as
/// RFC 4180 CSV to a discarding writer. Time per operation = per row; the allocation column shows
/// memory does not grow with rows.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class RecordExportBenchmarks
{
    private static readonly DateTimeOffset From = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private NpgsqlDataSource _dataSource = null!;
    private long _rows;

    [GlobalSetup]
    public void Setup()
    {
        _dataSource = NpgsqlDataSource.Create(BenchDatabase.For(BenchDatabase.TrafficDatabase));
        using var count = _dataSource.CreateCommand("SELECT count(*) FROM calls WHERE started_at >= '2026-06-01' AND started_at < '2026-07-01'");
        _rows = (long)count.ExecuteScalar()!;
        Console.WriteLine($"// month of calls to export: {_rows} rows");
    }

    [GlobalCleanup]
    public void Cleanup() => _dataSource.Dispose();

    [Benchmark]
    public async Task<long> ExportMonthOfCallsCsv()
    {
        await using var output = new StreamWriter(Stream.Null, RecordExporter.Utf8, 1 << 16);
        return await new RecordExporter(_dataSource).ExportCallsAsync(From, From.AddMonths(1), ExportFormat.Csv, output, CancellationToken.None);
    }
}
