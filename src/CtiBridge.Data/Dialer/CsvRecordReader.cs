using System.Text;

namespace CtiBridge.Data.Dialer;

/// <summary>One CSV record: its fields, the physical line it starts on, its raw text, or why it is malformed.</summary>
internal sealed record CsvRecord(int Line, IReadOnlyList<string> Fields, string Raw, string? Error);

/// <summary>
/// Streams RFC 4180 CSV records from a reader (quoted fields with "" escapes and line breaks,
/// CRLF or LF), one record at a time, keeping the line each record starts on for error messages.
/// A malformed record (stray or unclosed quote) is returned with <see cref="CsvRecord.Error"/> set,
/// and reading goes on with the next line.
/// </summary>
internal sealed class CsvRecordReader(TextReader reader)
{
    private int _line = 1;

    public async IAsyncEnumerable<CsvRecord> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var startLine = _line;
            var text = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (text is null)
            {
                yield break;
            }

            _line++;
            var raw = new StringBuilder(text);
            var fields = new List<string>();
            var field = new StringBuilder();
            string? error = null;
            var i = 0;
            var inQuotes = false;
            var quotedField = false;
            while (true)
            {
                if (i >= text.Length)
                {
                    if (!inQuotes)
                    {
                        fields.Add(field.ToString());
                        break;
                    }

                    // A quoted field goes on over the line break.
                    var next = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                    if (next is null)
                    {
                        error = "a quoted field is never closed (missing \")";
                        fields.Add(field.ToString());
                        break;
                    }

                    _line++;
                    field.Append('\n');
                    raw.Append('\n').Append(next);
                    text = next;
                    i = 0;
                    continue;
                }

                var c = text[i++];
                if (inQuotes)
                {
                    if (c == '"')
                    {
                        if (i < text.Length && text[i] == '"')
                        {
                            field.Append('"');
                            i++;
                        }
                        else
                        {
                            inQuotes = false;
                        }
                    }
                    else
                    {
                        field.Append(c);
                    }
                }
                else if (c == ',')
                {
                    fields.Add(field.ToString());
                    field.Clear();
                    quotedField = false;
                }
                else if (c == '"' && field.Length == 0 && !quotedField)
                {
                    inQuotes = true;
                    quotedField = true;
                }
                else if (c == '"' || quotedField)
                {
                    error ??= $"field {fields.Count + 1} has a stray '{c}' around a quote (quote the whole field and double inner quotes: \"a \"\"b\"\"\")";
                    field.Append(c);
                }
                else
                {
                    field.Append(c);
                }
            }

            yield return new CsvRecord(startLine, fields, raw.ToString(), error);
        }
    }
}
