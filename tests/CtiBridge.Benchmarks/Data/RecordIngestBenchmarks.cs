using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CtiBridge.Data.Generation;
using CtiBridge.Data.Records;
using CtiBridge.Data.Schema;
using Npgsql;

namespace CtiBridge.Benchmarks.Data;

/// <summary>
/// Ingest through CallRecordWriter (binary COPY to staging, idempotent upsert, rollup recount):
/// each invocation writes one new day of generated traffic (50 000 inbound calls: call row + queue
/// visit each, 10 000 outbound campaign calls, plus the day's agent states) in batches of 20 000 records. Time per operation = per record.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5, invocationCount: 1)]
public class RecordIngestBenchmarks
{
    private const string Database = "rec_bench_ingest";
    private const int CallsPerDay = 50_000;
    // Campaign calls beside them (since 0032 each batch also recounts the agents' outbound-call rollup).
    private const int OutboundCallsPerDay = 10_000;
    private NpgsqlDataSource _dataSource = null!;
    private CallRecordWriter _writer = null!;
    private List<CallCenterRecord> _day = [];
    private int _dayNumber;

    /// <summary>One transaction per batch, or each record kind on its own connection.</summary>
    [Params(false, true)]
    public bool Parallel { get; set; }

    /// <summary>Records per invocation (for per-record time).</summary>
    public static int RecordsPerDay { get; } = CallTrafficGenerator.Generate(Options(0)).Count();

    [GlobalSetup]
    public void Setup()
    {
        BenchDatabase.RecreateAsync(Database).GetAwaiter().GetResult();
        _dataSource = NpgsqlDataSource.Create(BenchDatabase.For(Database));
        new SchemaMigrator(_dataSource).MigrateAsync().GetAwaiter().GetResult();
        _writer = new CallRecordWriter(_dataSource) { WriteKindsInParallel = Parallel };
    }

    [IterationSetup]
    public void NextDay() => _day = CallTrafficGenerator.Generate(Options(_dayNumber++)).ToList();

    [Benchmark(OperationsPerInvoke = 1)]
    public async Task WriteOneDay()
    {
        foreach (var batch in _day.Chunk(20_000))
        {
            await _writer.WriteAsync(batch, CancellationToken.None);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _dataSource.Dispose();

    private static CallTrafficOptions Options(int day) =>
        new() { FirstDay = new DateOnly(2026, 3, 1).AddDays(day), CallsPerDay = CallsPerDay, OutboundCallsPerDay = OutboundCallsPerDay, Seed = day + 1, Agents = 100 };
}
