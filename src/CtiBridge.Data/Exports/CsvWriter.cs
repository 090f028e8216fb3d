namespace CtiBridge.Data.Exports;

/// <summary>
/// RFC 4180 CSV: fields separated by commas, records ended by CRLF, a field quoted (with inner
/// quotes doubled) when it holds a comma, quote, CR or LF. Writes straight to the underlying
/// writer, so memory does not grow with the number of rows.
/// </summary>
public sealed class CsvWriter(TextWriter writer)
{
    private static readonly char[] NeedsQuoting = [',', '"', '\r', '\n'];
    private bool _rowStarted;

    /// <summary>Writes one field of the current record.</summary>
    public void WriteField(string? value)
    {
        if (_rowStarted)
        {
            writer.Write(',');
        }

        _rowStarted = true;
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (value.AsSpan().IndexOfAny(NeedsQuoting) < 0)
        {
            writer.Write(value);
            return;
        }

        writer.Write('"');
        writer.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        writer.Write('"');
    }

    /// <summary>Ends the current record.</summary>
    public void EndRecord()
    {
        writer.Write("\r\n");
        _rowStarted = false;
    }

    /// <summary>Writes a whole record.</summary>
    public void WriteRecord(IEnumerable<string?> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        foreach (var field in fields)
        {
            WriteField(field);
        }

        EndRecord();
    }
}
