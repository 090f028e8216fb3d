using System.Data;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Exports;

/// <summary>Export formats.</summary>
public enum ExportFormat
{
    /// <summary>RFC 4180 CSV with a header row, UTF-8, CRLF.</summary>
    Csv,
    /// <summary>One INSERT statement per row.</summary>
    Sql,
}

/// <summary>
/// Streams reports, calls and queue_log out of PostgreSQL. Rows are read one at a time from the
/// server and written straight out, so memory stays constant for any window.
/// </summary>
public sealed class RecordExporter
{
    private const string CallsQuery =
        "SELECT call_id, started_at, direction, did, caller, callee, queues, enqueued_at, answered_at, ended_at, wait_seconds, " +
        "talk_seconds, hold_seconds, wrap_up_seconds, disposition, agent_id, transfer_chain, released_by, recording_id, survey_score, " +
        "campaign_id, lead_id, callback_id, account_code, asterisk_server, end_estimated FROM calls WHERE started_at >= @from AND started_at < @to ORDER BY started_at, call_id";

    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Creates an exporter on a database.</summary>
    public RecordExporter(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
    }

    /// <summary>UTF-8 without a byte-order mark, for writers the caller creates over a stream.</summary>
    public static Encoding Utf8 { get; } = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Exports a named report (see <see cref="ReportCatalog"/>). Returns the number of rows.</summary>
    public async Task<long> ExportReportAsync(string reportName, ReportParameters parameters, ExportFormat format, TextWriter output, CancellationToken cancellationToken)
    {
        var report = ReportCatalog.Find(reportName);
        await using var command = ReportCatalog.CreateCommand(_dataSource, report, parameters);
        return await ExportAsync(command, report.Function, format, output, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Exports the calls that started in [from, to). Returns the number of rows.</summary>
    public async Task<long> ExportCallsAsync(DateTimeOffset from, DateTimeOffset to, ExportFormat format, TextWriter output, CancellationToken cancellationToken)
    {
        await using var command = WindowCommand(CallsQuery, from, to);
        return await ExportAsync(command, "calls", format, output, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes queue_events of [from, to) in Asterisk's queue_log format, one line per event (LF, as Asterisk writes it).</summary>
    public async Task<long> ExportQueueLogAsync(DateTimeOffset from, DateTimeOffset to, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        await using var command = WindowCommand(
            "SELECT floor(extract(epoch FROM event_time))::bigint, call_id, queue, agent, event, data FROM queue_events " +
            "WHERE event_time >= @from AND event_time < @to ORDER BY event_time, event_id", from, to);
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        long rows = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var line = QueueLogFormat.Format(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetFieldValue<string[]>(5));
            await output.WriteAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
            await output.WriteAsync("\n".AsMemory(), cancellationToken).ConfigureAwait(false);
            rows++;
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return rows;
    }

    private NpgsqlCommand WindowCommand(string sql, DateTimeOffset from, DateTimeOffset to)
    {
        if (to <= from)
        {
            throw new ArgumentException($"export window is empty: to ({to:O}) must be after from ({from:O})");
        }

        var command = _dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = from.UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = to.UtcDateTime });
        return command;
    }

    private static async Task<long> ExportAsync(NpgsqlCommand command, string tableName, ExportFormat format, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
        var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToArray();
        var values = new object?[reader.FieldCount];
        long rows = 0;
        var csv = new CsvWriter(output);
        string? insertPrefix = null;
        if (format == ExportFormat.Csv)
        {
            csv.WriteRecord(names);
        }
        else
        {
            await output.WriteLineAsync($"-- CtiBridge export of {tableName}, {DateTimeOffset.UtcNow:O}".AsMemory(), cancellationToken).ConfigureAwait(false);
            insertPrefix = $"INSERT INTO {tableName} ({string.Join(", ", names.Select(QuoteIdentifier))}) VALUES (";
        }

        var line = new StringBuilder(256);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = await reader.IsDBNullAsync(i, cancellationToken).ConfigureAwait(false) ? null : reader.GetValue(i);
            }

            if (format == ExportFormat.Csv)
            {
                foreach (var value in values)
                {
                    csv.WriteField(CsvText(value));
                }

                csv.EndRecord();
            }
            else
            {
                line.Clear().Append(insertPrefix);
                for (var i = 0; i < values.Length; i++)
                {
                    if (i > 0)
                    {
                        line.Append(", ");
                    }

                    AppendSqlLiteral(line, values[i]);
                }

                line.Append(");\n");
                await output.WriteAsync(line, cancellationToken).ConfigureAwait(false);
            }

            rows++;
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return rows;
    }

    /// <summary>CSV text of a database value: ISO 8601 UTC times, invariant numbers, arrays joined with ';'.</summary>
    public static string? CsvText(object? value) => value switch
    {
        null => null,
        string s => s,
        DateTime t => FormatTime(t),
        DateTimeOffset t => FormatTime(t.UtcDateTime),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        string[] a => string.Join(';', a),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    private static string FormatTime(DateTime time) =>
        DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static void AppendSqlLiteral(StringBuilder builder, object? value)
    {
        switch (value)
        {
            case null:
                builder.Append("NULL");
                break;
            case bool b:
                builder.Append(b ? "true" : "false");
                break;
            case short or int or long or decimal:
                builder.Append(((IFormattable)value).ToString(null, CultureInfo.InvariantCulture));
                break;
            case double d when double.IsFinite(d):
                builder.Append(d.ToString("R", CultureInfo.InvariantCulture));
                break;
            case string[] array:
                builder.Append("ARRAY[");
                for (var i = 0; i < array.Length; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(", ");
                    }

                    AppendQuoted(builder, array[i]);
                }

                builder.Append("]::text[]");
                break;
            case DateTime or DateTimeOffset:
                AppendQuoted(builder, CsvText(value)!);
                builder.Append("::timestamptz");
                break;
            default:
                AppendQuoted(builder, CsvText(value) ?? string.Empty);
                break;
        }
    }

    private static void AppendQuoted(StringBuilder builder, string text) =>
        builder.Append('\'').Append(text.Replace("'", "''", StringComparison.Ordinal)).Append('\'');

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
