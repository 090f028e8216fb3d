using System.Diagnostics;
using System.Globalization;
using CtiBridge.Core.Callbacks;
using CtiBridge.TestSupport;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>
/// Issue 11's benchmarks (explicit, never part of the suite; nothing timed is asserted; the numbers go
/// to docs/benchmarks.md): (1) scheduling throughput — callbacks requested per second through
/// <see cref="CallbackService.RequestAsync"/> (record, history row and Quartz trigger), one requester
/// and eight at a time; (2) "10 000 callbacks due in the same minute": all are due within one minute
/// of a fake clock that is then moved past that minute in one step, so the whole minute's load is due
/// at once (a harder case than spread over the minute); the real time from that step until each
/// callback is handed to the ACD (the placement) is measured.
/// Run: <c>CTIBRIDGE_CALLBACK_BENCH_COUNT=10000 dotnet test tests/CtiBridge.Service.Tests -- --filter-method '*Callbacks_SchedulingAndDueMinute*' --explicit only --output detailed</c>.
/// </summary>
[Trait("Tier", "Benchmark")]
public sealed class CallbackBenchmark
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact(Explicit = true)]
    public async Task Callbacks_SchedulingAndDueMinute()
    {
        var ct = TestContext.Current.CancellationToken;
        var count = int.TryParse(Environment.GetEnvironmentVariable("CTIBRIDGE_CALLBACK_BENCH_COUNT"), CultureInfo.InvariantCulture, out var n) && n is >= 100 and <= 100_000 ? n : 10_000;
        await using var db = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var clock = new FakeTimeProvider(T0);
        await using var node = await CallbackNode.StartAsync(db, clock, start: false);
        CallbackRequest Request(int i) => CallbackRequest.AgentScheduled(
            "18" + i.ToString("D9", CultureInfo.InvariantCulture), "sales", T0.AddSeconds(60 + (59.0 * i / count)), null, null, "bench");

        // (1) Scheduling throughput: a tenth by one requester, the rest by eight at a time.
        var single = count / 10;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < single; i++)
        {
            await node.Service.RequestAsync(Request(i), ct);
        }

        var singleRate = single / watch.Elapsed.TotalSeconds;
        watch.Restart();
        await Parallel.ForEachAsync(Enumerable.Range(single, count - single), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
            async (i, c) => await node.Service.RequestAsync(Request(i), c));
        var parallelRate = (count - single) / watch.Elapsed.TotalSeconds;

        // (2) The minute's callbacks all due at once: the clock moves past the minute in one step.
        await node.Scheduler.StartAsync(ct);
        await Task.Delay(2000, ct); // Quartz's first acquisition and the sweep's first run, before the clock step
        var handed = new List<double>(count);
        var seen = 0;
        const string Transactions = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()";
        var transactionsBefore = await db.ScalarAsync<long>(Transactions, ct);
        watch.Restart();
        clock.Advance(TimeSpan.FromSeconds(119.5));
        while (seen < count && watch.Elapsed < TimeSpan.FromMinutes(10))
        {
            while (node.Placement.Offered.Count > seen)
            {
                handed.Add(watch.Elapsed.TotalSeconds);
                seen++;
            }

            await Task.Delay(5, ct);
        }

        // Database transactions (round trips of autocommit statements, Quartz's transactions) per callback handed on:
        // the statistics are flushed by each backend within a second of going idle.
        await Task.Delay(1500, ct);
        var transactions = await db.ScalarAsync<long>(Transactions, ct) - transactionsBefore;
        handed.Sort();
        double P(double q) => handed.Count == 0 ? double.NaN : handed[Math.Min(handed.Count - 1, (int)(q * handed.Count))];
        var report = string.Create(CultureInfo.InvariantCulture,
            $"callbacks={count} schedule_1={singleRate:0}/s schedule_8={parallelRate:0}/s handed={handed.Count} p50={P(0.50):0.00}s p99={P(0.99):0.00}s max={P(1):0.00}s within5s={handed.Count(h => h <= 5)} db_transactions_per_callback={(double)transactions / Math.Max(1, handed.Count):0.0}");
        TestContext.Current.SendDiagnosticMessage(report);
        if (Environment.GetEnvironmentVariable("CTIBRIDGE_CALLBACK_BENCH_OUT") is { Length: > 0 } path)
        {
            await File.WriteAllTextAsync(path, report + Environment.NewLine, ct);
        }

        Assert.Equal(count, handed.Count);
    }
}
