using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Npgsql;

namespace CtiBridge.Benchmarks.Data;

/// <summary>
/// The interval and per-agent reports over the generated 10-million-call database
/// (CTIBRIDGE_BENCH_DATABASE), for one day and for one month, all rows read.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 10)]
public class RecordReportBenchmarks
{
    private NpgsqlDataSource _dataSource = null!;

    [GlobalSetup]
    public void Setup() => _dataSource = NpgsqlDataSource.Create(BenchDatabase.For(BenchDatabase.TrafficDatabase));

    [GlobalCleanup]
    public void Cleanup() => _dataSource.Dispose();

    [Benchmark]
    public Task<int> QueueTrafficDay15m() => ReadAsync("SELECT * FROM report_queue_traffic('2026-06-15', '2026-06-16', '15m')");

    [Benchmark]
    public Task<int> QueueTrafficMonthDaily() => ReadAsync("SELECT * FROM report_queue_traffic('2026-06-01', '2026-07-01', '1d')");

    [Benchmark]
    public Task<int> AgentActivityDayHourly() => ReadAsync("SELECT * FROM report_agent_activity('2026-06-15', '2026-06-16', '1h')");

    [Benchmark]
    public Task<int> AgentActivityMonth() => ReadAsync("SELECT * FROM report_agent_activity('2026-06-01', '2026-07-01', '1mo')");

    [Benchmark]
    public Task<int> CentreTrafficMonthDaily() => ReadAsync("SELECT * FROM report_centre_traffic('2026-06-01', '2026-07-01', '1d')");

    private async Task<int> ReadAsync(string sql)
    {
        await using var command = _dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = 0;
        while (await reader.ReadAsync())
        {
            rows++;
        }

        return rows;
    }
}
