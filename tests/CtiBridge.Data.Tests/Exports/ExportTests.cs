using System.Globalization;
using System.Text;
using CsvHelper;
using CsvHelper.Configuration;
using CtiBridge.Data.Exports;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Records;
using CtiBridge.TestSupport;

namespace CtiBridge.Data.Tests.Exports;

/// <summary>queue_log against the real Asterisk fixture, CSV through a standard parser, SQL re-loaded.</summary>
public sealed class ExportTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    private static string FixturePath => Path.Combine(RepositoryPaths.AsteriskFixtures, "logs", "queue_log");

    [Fact]
    public async Task QueueLog_FixtureImportedThenExported_ReproducesEveryLine()
    {
        var lines = await File.ReadAllLinesAsync(FixturePath, Ct);
        var records = lines.Select((line, i) => QueueLogFormat.Parse(line, i + 1, "fixture queue_log")).ToList();
        await new CallRecordWriter(Db.DataSource).WriteAsync(records, Ct);
        await new CallRecordWriter(Db.DataSource).WriteAsync(records, Ct); // imported twice, stored once

        var output = new StringWriter();
        var from = records.Min(r => r.EventTime);
        var count = await new RecordExporter(Db.DataSource).ExportQueueLogAsync(from, from.AddDays(1), output, Ct);

        Assert.Equal(lines.Length, count);
        Assert.Equal(lines, output.ToString().Split('\n')[..^1]);
    }

    [Fact]
    public async Task QueueLog_ExportOfWrittenCalls_EachLineParsesAsAsteriskFormat()
    {
        var start = new DateTimeOffset(2026, 5, 4, 9, 0, 0, TimeSpan.Zero);
        await new CallRecordWriter(Db.DataSource).WriteAsync(
            [.. Calls.Answered("ql-1", start, "sales", "Agent One", 4, 60), .. Calls.Unanswered("ql-2", start.AddSeconds(30), "sales", 8, QueueVisitOutcome.Abandoned)], Ct);

        var output = new StringWriter();
        await new RecordExporter(Db.DataSource).ExportQueueLogAsync(start, start.AddHours(1), output, Ct);

        var exported = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [
                $"{start.ToUnixTimeSeconds()}|ql-1|sales|NONE|ENTERQUEUE||13800138000|1",
                $"{start.ToUnixTimeSeconds() + 4}|ql-1|sales|Agent One|CONNECT|4|ql-1.1|1",
                $"{start.ToUnixTimeSeconds() + 30}|ql-2|sales|NONE|ENTERQUEUE||13900139000|1",
                $"{start.ToUnixTimeSeconds() + 38}|ql-2|sales|NONE|ABANDON|1|1|8",
                $"{start.ToUnixTimeSeconds() + 64}|ql-1|sales|Agent One|COMPLETECALLER|4|60|1",
            ],
            exported);
        Assert.All(exported.Select((l, i) => QueueLogFormat.Parse(l, i + 1)), e => Assert.Equal("sales", e.Queue));
    }

    [Fact]
    public void QueueLogParse_BadTime_SaysWhereAndWhy()
    {
        var error = Assert.Throws<FormatException>(() => QueueLogFormat.Parse("17x|1.2|q|NONE|ENTERQUEUE", 7, "queue_log"));

        Assert.Equal("queue_log:7: time '17x' is not whole seconds since 1970", error.Message);
    }

    [Fact]
    public async Task Csv_CallsWithCommasQuotesLineBreaksAndChinese_RoundTripThroughCsvHelper()
    {
        var start = new DateTimeOffset(2026, 5, 5, 9, 0, 0, TimeSpan.Zero);
        var tricky = "租户A, \"VIP\"\r\nsecond line";
        var call = (CallRecord)Calls.Answered("csv-1", start, "sales", "a1", 4, 60)[0] with { AccountCode = tricky, TransferChain = ["a1", "sales2"], AsteriskServer = "site-b" };
        // The second ended unseen inside an ARI events gap with AMI down too: its end is an estimate (migration 0041).
        var unseen = Calls.Unanswered("csv-2", start.AddMinutes(1), "sales", 8, QueueVisitOutcome.Abandoned).Select(r => r is CallRecord c ? c with { EndEstimated = true } : r);
        await new CallRecordWriter(Db.DataSource).WriteAsync([call, .. unseen], Ct);

        using var stream = new MemoryStream();
        await using (var writer = new StreamWriter(stream, RecordExporter.Utf8, leaveOpen: true))
        {
            Assert.Equal(2, await new RecordExporter(Db.DataSource).ExportCallsAsync(start, start.AddHours(1), ExportFormat.Csv, writer, Ct));
        }

        var bytes = stream.ToArray();
        Assert.False(bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble)); // no BOM
        using var csv = new CsvReader(new StreamReader(new MemoryStream(bytes), Encoding.UTF8), new CsvConfiguration(CultureInfo.InvariantCulture));
        var rows = csv.GetRecords<dynamic>().Cast<IDictionary<string, object>>().ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal("csv-1", rows[0]["call_id"]);
        Assert.Equal(tricky, rows[0]["account_code"]);
        Assert.Equal("a1;sales2", rows[0]["transfer_chain"]);
        Assert.Equal("2026-05-05T09:00:00Z", rows[0]["started_at"]);
        Assert.Equal("answered", rows[0]["disposition"]);
        Assert.Equal("abandoned", rows[1]["disposition"]);
        Assert.Equal("", rows[1]["agent_id"]);
        Assert.Equal("site-b", rows[0]["asterisk_server"]); // which Asterisk server the caller was on (migration 0018)
        Assert.Equal("", rows[1]["asterisk_server"]); // unknown
        Assert.Equal("false", rows[0]["end_estimated"]); // ended_at as Asterisk reported it
        Assert.Equal("true", rows[1]["end_estimated"]); // ended_at estimated (the last moment the call was known up)
        Assert.Contains("\r\n", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sql_CallsExportedDeletedAndReloaded_SameRows()
    {
        var start = new DateTimeOffset(2026, 5, 6, 9, 0, 0, TimeSpan.Zero);
        var call = (CallRecord)Calls.Answered("sql-1", start, "sales", "a1", 4, 60.25)[0] with { AccountCode = "O'Brien & Co", TransferChain = ["x'y"], AsteriskServer = "site-a" };
        await new CallRecordWriter(Db.DataSource).WriteAsync([call, .. Calls.Unanswered("sql-2", start.AddMinutes(1), "sales", 8, QueueVisitOutcome.Timeout)], Ct);
        const string Fingerprint = "SELECT string_agg(c::text, '|' ORDER BY call_id) FROM (SELECT call_id, started_at, direction, did, caller, queues, answered_at, ended_at, wait_seconds, talk_seconds, disposition, agent_id, transfer_chain, account_code, asterisk_server FROM calls WHERE call_id LIKE 'sql-%') c";
        var before = await Db.ScalarAsync<string>(Fingerprint, Ct);

        var script = new StringWriter();
        await new RecordExporter(Db.DataSource).ExportCallsAsync(start, start.AddHours(1), ExportFormat.Sql, script, Ct);
        await using (var delete = Db.DataSource.CreateCommand("DELETE FROM calls WHERE call_id LIKE 'sql-%'"))
        {
            await delete.ExecuteNonQueryAsync(Ct);
        }

        await using (var reload = Db.DataSource.CreateCommand(script.ToString()))
        {
            await reload.ExecuteNonQueryAsync(Ct);
        }

        Assert.Equal(before, await Db.ScalarAsync<string>(Fingerprint, Ct));
    }

    [Fact]
    public async Task Report_QueueTrafficAsCsv_HeaderAndOneRowPerInterval()
    {
        var start = new DateTimeOffset(2026, 5, 7, 9, 0, 0, TimeSpan.Zero);
        await new CallRecordWriter(Db.DataSource).WriteAsync([.. Calls.Answered("rep-1", start, "billing", "a1", 4, 60), .. Calls.Answered("rep-2", start.AddHours(1), "billing", "a1", 40, 60)], Ct);

        var output = new StringWriter();
        var rows = await new RecordExporter(Db.DataSource).ExportReportAsync("queue-traffic", new ReportParameters { From = start, To = start.AddHours(2), Interval = "1h", Queue = "billing" }, ExportFormat.Csv, output, Ct);

        Assert.Equal(2, rows);
        var lines = output.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("interval_start,queue,offered,answered,answered_within_sl,", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("2026-05-07T09:00:00Z,billing,1,1,1,", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("2026-05-07T10:00:00Z,billing,1,1,0,", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Report_UnknownNameOrUnsupportedFilter_ClearError()
    {
        var unknown = Assert.Throws<ArgumentException>(() => ReportCatalog.Find("traffic"));
        Assert.Contains("known reports: queue-traffic", unknown.Message, StringComparison.Ordinal);

        var filter = Assert.Throws<ArgumentException>(() => ReportCatalog.CreateCommand(Db.DataSource, ReportCatalog.Find("centre-traffic"), new ReportParameters { From = DateTimeOffset.UnixEpoch, To = DateTimeOffset.UtcNow, Agent = "a1" }));
        Assert.Contains("cannot be filtered by agent", filter.Message, StringComparison.Ordinal);
    }
}
