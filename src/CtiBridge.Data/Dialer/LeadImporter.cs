using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Exports;
using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Dialer;

/// <summary>Why an imported row was not taken.</summary>
public enum LeadRejectKind
{
    /// <summary>The row is malformed or a value is bad (see the reason).</summary>
    Invalid,

    /// <summary>The number is already in the file or in the campaign.</summary>
    Duplicate,

    /// <summary>The number is on a do-not-call list.</summary>
    DoNotCall,
}

/// <summary>A row an import did not take.</summary>
/// <param name="Line">The line of the file the row starts on (the header is line 1).</param>
/// <param name="Column">The column at fault, when one is.</param>
/// <param name="Kind">Invalid, duplicate or do-not-call.</param>
/// <param name="Reason">What is wrong, in operator words.</param>
/// <param name="Raw">The row exactly as it was in the file.</param>
public sealed record LeadReject(int Line, string? Column, LeadRejectKind Kind, string Reason, string Raw)
{
    /// <summary>The reject as one message: <c>file:line: column 'x': reason</c>.</summary>
    public string Describe(string fileName) =>
        Column is null ? $"{fileName}:{Line}: {Reason}" : $"{fileName}:{Line}: column '{Column}': {Reason}";
}

/// <summary>What an import did.</summary>
/// <param name="ImportId">The import's id (<c>dialer_lead_imports</c>).</param>
/// <param name="Committed">False when all-or-nothing met a bad row: no lead was imported.</param>
/// <param name="RowsRead">Data rows read (header and blank lines not counted).</param>
/// <param name="Imported">Leads added.</param>
/// <param name="Rejects">Every row not taken, in line order (also stored in <c>dialer_import_rejects</c>).</param>
public sealed record LeadImportReport(long ImportId, bool Committed, int RowsRead, int Imported, IReadOnlyList<LeadReject> Rejects)
{
    /// <summary>Malformed rows.</summary>
    public int Invalid => Rejects.Count(r => r.Kind == LeadRejectKind.Invalid);

    /// <summary>Duplicate rows.</summary>
    public int Duplicates => Rejects.Count(r => r.Kind == LeadRejectKind.Duplicate);

    /// <summary>Rows whose number is on a do-not-call list.</summary>
    public int DoNotCallHits => Rejects.Count(r => r.Kind == LeadRejectKind.DoNotCall);
}

/// <summary>How to import.</summary>
public sealed record LeadImportOptions
{
    /// <summary>The file's name, used in messages and stored with the import.</summary>
    public required string FileName { get; init; }

    /// <summary>Who imports (stored and audited).</summary>
    public required string ImportedBy { get; init; }

    /// <summary>
    /// False (default): any invalid row means no lead is imported (the report and rejects are still
    /// stored). True: good rows are imported and bad ones only reported. Duplicates and
    /// do-not-call numbers are never imported and never fail an import.
    /// </summary>
    public bool SkipBadRows { get; init; }

    /// <summary>Where to write the reject file (CSV: line, column, kind, reason, raw), if anywhere.</summary>
    public TextWriter? RejectWriter { get; init; }
}

/// <summary>The file itself cannot be imported (no header, no phone column, unknown campaign): nothing was imported.</summary>
public sealed class LeadImportException(string message) : Exception(message);

/// <summary>
/// Imports leads from CSV into a campaign: streams the file (any size) row by row, normalises
/// numbers to E.164 with the campaign's default country, checks time zones, keeps unknown columns
/// as custom fields, reports every bad row with file, line, column and reason, and sets aside
/// duplicates and do-not-call numbers. One transaction: nothing is half-imported.
/// </summary>
public sealed class LeadImporter(NpgsqlDataSource dataSource, CampaignStore campaigns, TimeProvider timeProvider)
{
    /// <summary>Column names (case-insensitive) taken as the phone number.</summary>
    public static IReadOnlyList<string> PhoneColumns { get; } = ["phone", "phone_number", "number"];

    /// <summary>Column names (case-insensitive) taken as the lead's IANA time zone.</summary>
    public static IReadOnlyList<string> TimeZoneColumns { get; } = ["time_zone", "timezone", "tz"];

    /// <summary>Imports <paramref name="csv"/> into campaign <paramref name="campaignId"/>.</summary>
    /// <exception cref="LeadImportException">The campaign is unknown or the header is unusable.</exception>
    public async Task<LeadImportReport> ImportAsync(string campaignId, TextReader csv, LeadImportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(csv);
        ArgumentNullException.ThrowIfNull(options);
        var lastLine = new StrongBox<int>(0);
        try
        {
            return await ImportCoreAsync(campaignId, csv, options, lastLine, cancellationToken).ConfigureAwait(false);
        }
        catch (DecoderFallbackException ex)
        {
            // A reader that refuses invalid UTF-8 (the HTTP upload, the CLI): nothing was imported (the
            // transaction was not committed); say where, as near as the reader's buffering allows.
            throw new LeadImportException(
                $"{options.FileName}: not valid UTF-8 at or after line {lastLine.Value + 1} (bytes {Convert.ToHexString(ex.BytesUnknown ?? [])}); save the file as UTF-8 and import it again; nothing was imported");
        }
    }

    private async Task<LeadImportReport> ImportCoreAsync(string campaignId, TextReader csv, LeadImportOptions options, StrongBox<int> lastLine, CancellationToken cancellationToken)
    {
        var campaign = await campaigns.GetAsync(campaignId, cancellationToken).ConfigureAwait(false)
            ?? throw new LeadImportException($"{options.FileName}: campaign '{campaignId}' does not exist (create it with 'ctibridge campaign put')");
        var definition = campaign.Definition;
        var now = timeProvider.GetUtcNow();

        await using var records = new CsvRecordReader(csv).ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        if (!await records.MoveNextAsync().ConfigureAwait(false))
        {
            throw new LeadImportException($"{options.FileName}: the file is empty (the first line must name the columns, one of them '{PhoneColumns[0]}')");
        }

        var header = records.Current;
        lastLine.Value = header.Line;
        var columns = ReadHeader(header, options.FileName);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        long importId;
        await using (var begin = new NpgsqlCommand(NamedQueries.Get("dialer_import_begin"), connection, transaction))
        {
            begin.Parameters.AddWithValue("campaign_id", campaignId);
            begin.Parameters.AddWithValue("file_name", options.FileName);
            begin.Parameters.AddWithValue("now", now);
            begin.Parameters.AddWithValue("imported_by", options.ImportedBy);
            begin.Parameters.AddWithValue("all_or_nothing", !options.SkipBadRows);
            importId = (long)(await begin.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        await using (var stage = new NpgsqlCommand(NamedQueries.Get("dialer_import_stage"), connection, transaction))
        {
            await stage.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var rejects = new List<LeadReject>();
        var rowsRead = 0;
        await using (var copy = await connection.BeginBinaryImportAsync(
                         "COPY lead_import_stage (line, phone_number, time_zone, custom_fields, raw) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            while (await records.MoveNextAsync().ConfigureAwait(false))
            {
                var record = records.Current;
                lastLine.Value = record.Line;
                if (record.Error is null && record.Fields.Count == 1 && record.Fields[0].Length == 0)
                {
                    continue; // blank line
                }

                rowsRead++;
                var row = ReadRow(record, columns, definition);
                if (row.Reject is { } reject)
                {
                    rejects.Add(reject);
                    continue;
                }

                await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await copy.WriteAsync(record.Line, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                await copy.WriteAsync(row.Phone!, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                if (row.TimeZone is null)
                {
                    await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await copy.WriteAsync(row.TimeZone, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                }

                await copy.WriteAsync(row.CustomJson!, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                await copy.WriteAsync(record.Raw, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            }

            await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var classify = new NpgsqlCommand(NamedQueries.Get("dialer_import_classify"), connection, transaction))
        {
            classify.Parameters.AddWithValue("campaign_id", campaignId);
            await using var reader = await classify.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var kind = reader.GetString(1) == "dnc" ? LeadRejectKind.DoNotCall : LeadRejectKind.Duplicate;
                rejects.Add(new LeadReject(reader.GetInt32(0), columns.PhoneName, kind, reader.GetString(2), reader.GetString(3)));
            }
        }

        rejects.Sort((a, b) => a.Line.CompareTo(b.Line));
        var invalid = rejects.Count(r => r.Kind == LeadRejectKind.Invalid);
        var commit = invalid == 0 || options.SkipBadRows;
        var imported = 0;
        if (commit)
        {
            await using var insert = new NpgsqlCommand(NamedQueries.Get("dialer_import_insert"), connection, transaction);
            insert.Parameters.AddWithValue("campaign_id", campaignId);
            insert.Parameters.AddWithValue("import_id", importId);
            insert.Parameters.AddWithValue("now", now);
            imported = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (rejects.Count > 0)
        {
            await using var store = new NpgsqlCommand(NamedQueries.Get("dialer_import_rejects"), connection, transaction);
            store.Parameters.AddWithValue("import_id", importId);
            store.Parameters.AddWithValue("line", rejects.Select(r => r.Line).ToArray());
            store.Parameters.Add(new NpgsqlParameter("column_name", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = rejects.Select(r => (object?)r.Column ?? DBNull.Value).ToArray() });
            store.Parameters.AddWithValue("kind", rejects.Select(r => KindText(r.Kind)).ToArray());
            store.Parameters.AddWithValue("reason", rejects.Select(r => r.Reason).ToArray());
            store.Parameters.AddWithValue("raw", rejects.Select(r => r.Raw).ToArray());
            await store.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var report = new LeadImportReport(importId, commit, rowsRead, imported, rejects);
        await using (var finish = new NpgsqlCommand(NamedQueries.Get("dialer_import_finish"), connection, transaction))
        {
            finish.Parameters.AddWithValue("import_id", importId);
            finish.Parameters.AddWithValue("now", timeProvider.GetUtcNow());
            finish.Parameters.AddWithValue("committed", commit);
            finish.Parameters.AddWithValue("rows_read", rowsRead);
            finish.Parameters.AddWithValue("rows_imported", imported);
            finish.Parameters.AddWithValue("rows_invalid", invalid);
            finish.Parameters.AddWithValue("duplicates", report.Duplicates);
            finish.Parameters.AddWithValue("dnc_hits", report.DoNotCallHits);
            await finish.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await DialerAudit.WriteAsync(connection, transaction, timeProvider.GetUtcNow(), options.ImportedBy, "leads import", campaignId,
            new { importId, file = options.FileName, committed = commit, rowsRead, imported, invalid, report.Duplicates, report.DoNotCallHits }, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);

        if (options.RejectWriter is { } writer && rejects.Count > 0)
        {
            await WriteRejectsAsync(writer, rejects, cancellationToken).ConfigureAwait(false);
        }

        return report;
    }

    /// <summary>Writes rejects as CSV: <c>line,column,kind,reason,raw</c>.</summary>
    public static async Task WriteRejectsAsync(TextWriter writer, IEnumerable<LeadReject> rejects, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(rejects);
        var csv = new CsvWriter(writer);
        csv.WriteRecord(["line", "column", "kind", "reason", "raw"]);
        foreach (var r in rejects)
        {
            cancellationToken.ThrowIfCancellationRequested();
            csv.WriteRecord([r.Line.ToString(CultureInfo.InvariantCulture), r.Column, KindText(r.Kind), r.Reason, r.Raw]);
        }

        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string KindText(LeadRejectKind kind) => kind switch
    {
        LeadRejectKind.Invalid => "invalid",
        LeadRejectKind.Duplicate => "duplicate",
        _ => "dnc",
    };

    private sealed record Columns(int Phone, string PhoneName, int TimeZone, string[] Names);

    private sealed record Row(string? Phone, string? TimeZone, string? CustomJson, LeadReject? Reject);

    private static Columns ReadHeader(CsvRecord header, string fileName)
    {
        if (header.Error is { } error)
        {
            throw new LeadImportException($"{fileName}:{header.Line}: the header line is malformed: {error}");
        }

        var names = header.Fields.Select(f => f.Trim().TrimStart('\uFEFF')).ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            if (names[i].Length == 0)
            {
                throw new LeadImportException($"{fileName}:{header.Line}: column {i + 1} of the header has no name");
            }

            if (names[i].Contains('\0', StringComparison.Ordinal))
            {
                throw new LeadImportException($"{fileName}:{header.Line}: column {i + 1} of the header contains a NUL character (byte 0)");
            }

            var twin = Array.FindIndex(names, 0, i, n => string.Equals(n, names[i], StringComparison.OrdinalIgnoreCase));
            if (twin >= 0)
            {
                throw new LeadImportException($"{fileName}:{header.Line}: column '{names[i]}' appears twice (columns {twin + 1} and {i + 1})");
            }
        }

        var phone = Array.FindIndex(names, n => PhoneColumns.Contains(n, StringComparer.OrdinalIgnoreCase));
        if (phone < 0)
        {
            throw new LeadImportException(
                $"{fileName}:{header.Line}: no phone column: the header must have one of {string.Join(", ", PhoneColumns.Select(c => $"'{c}'"))} (it has {string.Join(", ", names.Select(n => $"'{n}'"))})");
        }

        var zone = Array.FindIndex(names, n => TimeZoneColumns.Contains(n, StringComparer.OrdinalIgnoreCase));
        return new Columns(phone, names[phone], zone, names);
    }

    private static Row ReadRow(CsvRecord record, Columns columns, CampaignDefinition definition)
    {
        Row Bad(string? column, string reason) => new(null, null, null, new LeadReject(record.Line, column, LeadRejectKind.Invalid, reason, record.Raw));

        if (record.Raw.Contains('\0', StringComparison.Ordinal))
        {
            // PostgreSQL text cannot hold NUL: the row is refused, and kept for the rejects file with the byte shown.
            return new(null, null, null, new LeadReject(record.Line, null, LeadRejectKind.Invalid, "the row contains a NUL character (byte 0), which a lead cannot hold",
                record.Raw.Replace("\0", "\\0", StringComparison.Ordinal)));
        }

        if (record.Error is { } error)
        {
            return Bad(null, error);
        }

        if (record.Fields.Count != columns.Names.Length)
        {
            return Bad(null, $"the row has {record.Fields.Count} fields, the header has {columns.Names.Length}");
        }

        var phone = definition.Numbers.Normalize(record.Fields[columns.Phone], out var phoneError);
        if (phone is null)
        {
            return Bad(columns.PhoneName, phoneError!);
        }

        string? zoneId = null;
        if (columns.TimeZone >= 0 && record.Fields[columns.TimeZone].Trim() is { Length: > 0 } own)
        {
            if (!LeadTimeZones.TryFindZone(own, out _))
            {
                return Bad(columns.Names[columns.TimeZone], $"'{own}' is not a known time zone (IANA ids such as America/New_York, Europe/London)");
            }

            zoneId = own;
        }
        else if (definition.Zones.ZoneOf(new Lead { Id = "import", PhoneNumber = phone }) is null)
        {
            return Bad(columns.PhoneName,
                $"the time zone of {phone} cannot be told: no time_zone value, no matching prefix in the campaign's timeZones and no defaultTimeZone (the calling window could not be checked)");
        }

        var custom = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Names.Length; i++)
        {
            if (i != columns.Phone && i != columns.TimeZone)
            {
                custom[columns.Names[i]] = record.Fields[i];
            }
        }

        return new Row(phone, zoneId, JsonSerializer.Serialize(custom), null);
    }
}
