#:project ../src/CtiBridge.Data/CtiBridge.Data.csproj
// Generates synthetic call records into a CtiBridge database (migrating it first) and prints the
// ingest rate. Used for the benchmarks in docs/benchmarks.md; run through scripts/generate-calls.sh.
using System.Diagnostics;
using System.Globalization;
using CtiBridge.Data.Generation;
using CtiBridge.Data.Records;
using CtiBridge.Data.Schema;
using Npgsql;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal))
    {
        Console.Error.WriteLine($"unexpected argument '{args[i]}'; usage: --connection CS [--first-day 2026-01-01] [--days 1] [--calls-per-day 10000] [--seed 1] [--queue-events true] [--agents 100] [--batch 20000]");
        return 2;
    }

    options[args[i][2..]] = args[i + 1];
}

string Get(string name, string fallback) => options.TryGetValue(name, out var value) ? value : fallback;
var connection = Get("connection", Environment.GetEnvironmentVariable("CTIBRIDGE_DATABASE") ?? "");
if (connection.Length == 0)
{
    Console.Error.WriteLine("--connection (or CTIBRIDGE_DATABASE) is required");
    return 2;
}

var traffic = new CallTrafficOptions
{
    FirstDay = DateOnly.Parse(Get("first-day", "2026-01-01"), CultureInfo.InvariantCulture),
    Days = int.Parse(Get("days", "1"), CultureInfo.InvariantCulture),
    CallsPerDay = int.Parse(Get("calls-per-day", "10000"), CultureInfo.InvariantCulture),
    Seed = int.Parse(Get("seed", "1"), CultureInfo.InvariantCulture),
    Agents = int.Parse(Get("agents", "100"), CultureInfo.InvariantCulture),
    QueueEvents = bool.Parse(Get("queue-events", "false")),
};
var batchSize = int.Parse(Get("batch", "20000"), CultureInfo.InvariantCulture);

await using var dataSource = NpgsqlDataSource.Create(connection);
await new SchemaMigrator(dataSource).MigrateAsync();
var writer = new CallRecordWriter(dataSource);
var batch = new List<CallCenterRecord>(batchSize);
long records = 0, calls = 0;
var clock = Stopwatch.StartNew();
var lastReport = clock.Elapsed;
foreach (var record in CallTrafficGenerator.Generate(traffic))
{
    batch.Add(record);
    if (record is CallRecord)
    {
        calls++;
    }

    if (batch.Count == batchSize)
    {
        await writer.WriteAsync(batch, default);
        records += batch.Count;
        batch.Clear();
        if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(30))
        {
            lastReport = clock.Elapsed;
            Console.WriteLine($"{calls:N0} calls, {records:N0} records, {records / clock.Elapsed.TotalSeconds:N0} records/s");
        }
    }
}

await writer.WriteAsync(batch, default);
records += batch.Count;
Console.WriteLine($"done: {calls:N0} calls, {records:N0} records in {clock.Elapsed.TotalSeconds:N1} s = {records / clock.Elapsed.TotalSeconds:N0} records/s ({calls / clock.Elapsed.TotalSeconds:N0} calls/s)");
return 0;
