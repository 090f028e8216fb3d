using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Data.Records;

/// <summary>The journal cannot take a batch (its size bound, or its disk is full or failing); nothing of the batch is kept in it.</summary>
public sealed class RecordJournalFullException(string message) : Exception(message);

/// <summary>A journal line in the middle of the file is damaged; the file is left as it is for an operator.</summary>
public sealed class RecordJournalCorruptException(string message) : Exception(message);

/// <summary>
/// A durable local journal of call-center records, used while PostgreSQL is unreachable. Each batch
/// is appended as lines <c>&lt;fnv64-hex&gt; &lt;json&gt;\n</c> and fsync'd before
/// <see cref="AppendAsync"/> returns. A line torn by a crash (no newline or a bad checksum at the
/// very end) was never acknowledged and is cut off when the journal opens. The size is bounded:
/// past <see cref="AlarmFraction"/> of the bound an alarm is logged and <see cref="IsNearFull"/> is
/// set; a batch that would exceed the bound is refused with <see cref="RecordJournalFullException"/>.
/// Not thread-safe: one writer (the record sink) owns it.
/// </summary>
public sealed partial class RecordJournal : IAsyncDisposable
{
    /// <summary>File name of the journal inside its directory.</summary>
    public const string FileName = "call-records.journal";

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly ILogger _logger;
    private FileStream? _append;
    private bool _alarmRaised;
    private bool _tailUnknown;

    private RecordJournal(string path, long maxBytes, double alarmFraction, ILogger logger, long size)
    {
        Path = path;
        MaxBytes = maxBytes;
        AlarmFraction = alarmFraction;
        _logger = logger;
        SizeBytes = size;
    }

    /// <summary>Full path of the journal file.</summary>
    public string Path { get; }

    /// <summary>Size bound in bytes.</summary>
    public long MaxBytes { get; }

    /// <summary>Share of <see cref="MaxBytes"/> at which the near-full alarm is raised.</summary>
    public double AlarmFraction { get; }

    /// <summary>Current size in bytes.</summary>
    public long SizeBytes { get; private set; }

    /// <summary>True when nothing waits for replay.</summary>
    public bool IsEmpty => SizeBytes == 0;

    /// <summary>True when the journal holds at least <see cref="AlarmFraction"/> of its bound.</summary>
    public bool IsNearFull => SizeBytes >= MaxBytes * AlarmFraction;

    /// <summary>Opens (or creates) the journal in a directory, cutting off a torn last line.</summary>
    public static async Task<RecordJournal> OpenAsync(string directory, long maxBytes, ILogger? logger = null, double alarmFraction = 0.8, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alarmFraction);
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, FileName);
        long goodLength = 0;
        if (File.Exists(path))
        {
            goodLength = await ScanAsync(path, cancellationToken).ConfigureAwait(false);
            var actual = new FileInfo(path).Length;
            if (actual != goodLength)
            {
                await using var truncate = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
                truncate.SetLength(goodLength);
                truncate.Flush(flushToDisk: true);
                (logger ?? NullLogger.Instance).LogWarning("Record journal {Path}: cut {Bytes} bytes of a torn last line (written by a crash before it was acknowledged)", path, actual - goodLength);
            }
        }

        return new RecordJournal(path, maxBytes, alarmFraction, logger ?? NullLogger.Instance, goodLength);
    }

    /// <summary>Appends a batch durably (fsync) or not at all.</summary>
    /// <exception cref="RecordJournalFullException">The batch would exceed <see cref="MaxBytes"/>, or the disk refused it (full or failing).</exception>
    public async Task AppendAsync(IReadOnlyList<CallCenterRecord> records, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var record in records)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(record, Json);
            var hash = Encoding.ASCII.GetBytes(Fnv64(json).ToString("x16", CultureInfo.InvariantCulture) + " ");
            buffer.Write(hash);
            buffer.Write(json);
            buffer.Write("\n"u8);
        }

        if (SizeBytes + buffer.WrittenCount > MaxBytes)
        {
            LogJournalFull(_logger, Path, SizeBytes, MaxBytes, records.Count);
            throw new RecordJournalFullException(
                $"Record journal {Path} is full ({SizeBytes} of {MaxBytes} bytes); a batch of {records.Count} records ({buffer.WrittenCount} bytes) was refused. " +
                "Restore the database connection so the journal can be replayed, or raise the journal size.");
        }

        try
        {
            if (_tailUnknown)
            {
                CutBackToAcknowledged();
            }

            _append ??= new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            await _append.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await _append.FlushAsync(cancellationToken).ConfigureAwait(false);
            // Durable before acknowledging: a power loss after this keeps the batch.
            _append.Flush(flushToDisk: true);
        }
        catch (IOException ex)
        {
            // The disk is full (ENOSPC) or failing before the size bound was reached. Refused like a full
            // journal, so the sink holds the batch in memory and retries, instead of its writer ending and
            // every later record being lost. Part of the batch may be in the file: it is cut off now, or
            // before the next append when the disk does not even allow that.
            DropAppendStream();
            _tailUnknown = true;
            try
            {
                CutBackToAcknowledged();
            }
            catch (IOException)
            {
                // Tried again before the next append.
            }

            LogJournalWriteFailed(_logger, Path, records.Count, ex.Message);
            throw new RecordJournalFullException(
                $"Record journal {Path} could not be written ({ex.Message}); a batch of {records.Count} records was refused. " +
                "Free space on the journal's disk or restore the database connection.");
        }

        SizeBytes += buffer.WrittenCount;

        if (IsNearFull && !_alarmRaised)
        {
            _alarmRaised = true;
            LogJournalNearFull(_logger, Path, SizeBytes, MaxBytes);
        }
    }

    /// <summary>Reads the journal from the start in batches of at most <paramref name="batchSize"/> records, in append order.</summary>
    public async IAsyncEnumerable<IReadOnlyList<CallCenterRecord>> ReadAsync(int batchSize, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (IsEmpty)
        {
            yield break;
        }

        await using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        using var reader = new StreamReader(stream, new UTF8Encoding(false, true));
        var batch = new List<CallCenterRecord>(batchSize);
        long position = 0;
        var lineNumber = 0;
        while (position < SizeBytes && await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            position += Encoding.UTF8.GetByteCount(line) + 1;
            batch.Add(ParseLine(line, lineNumber) ?? throw new RecordJournalCorruptException($"Record journal {Path}: line {lineNumber} is damaged (bad checksum or JSON)."));
            if (batch.Count == batchSize)
            {
                yield return batch;
                batch = new List<CallCenterRecord>(batchSize);
            }
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>File (next to the journal) where records the database refused for good are kept for an operator.</summary>
    public string RejectedPath => Path + ".rejected";

    /// <summary>Keeps a record the database refused for good (bad data, not an outage), with the reason, fsync'd.</summary>
    public async Task AppendRejectedAsync(CallCenterRecord record, string reason, CancellationToken cancellationToken)
    {
        var line = JsonSerializer.Serialize(new RejectedRecord(record, reason), Json) + "\n";
        await using var stream = new FileStream(RejectedPath, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.Asynchronous);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken).ConfigureAwait(false);
        stream.Flush(flushToDisk: true);
    }

    private sealed record RejectedRecord(CallCenterRecord Record, string Reason);

    /// <summary>Empties the journal once every record in it is stored in the database.</summary>
    public async Task ClearAsync()
    {
        if (_append is not null)
        {
            await _append.DisposeAsync().ConfigureAwait(false);
            _append = null;
        }

        File.Delete(Path);
        SizeBytes = 0;
        if (_alarmRaised)
        {
            _alarmRaised = false;
            LogJournalDrained(_logger, Path);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_append is not null)
        {
            await _append.DisposeAsync().ConfigureAwait(false);
            _append = null;
        }
    }

    private static CallCenterRecord? ParseLine(string line, int lineNumber)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space != 16 || !ulong.TryParse(line.AsSpan(0, 16), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var expected))
        {
            return null;
        }

        var json = Encoding.UTF8.GetBytes(line[(space + 1)..]);
        if (Fnv64(json) != expected)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<CallCenterRecord>(json, Json);
        }
        catch (JsonException ex)
        {
            throw new RecordJournalCorruptException($"Record journal line {lineNumber}: checksum is right but the record cannot be read ({ex.Message}).");
        }
    }

    // Length of the journal up to the last complete, valid line; a bad line before the end is corruption.
    private static async Task<long> ScanAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        long good = 0;
        var lineNumber = 0;
        var start = 0;
        while (start < bytes.Length)
        {
            var newline = Array.IndexOf(bytes, (byte)'\n', start);
            lineNumber++;
            if (newline < 0)
            {
                return good; // torn tail: never acknowledged
            }

            var line = Encoding.UTF8.GetString(bytes, start, newline - start);
            if (ParseLine(line, lineNumber) is null)
            {
                if (newline == bytes.Length - 1)
                {
                    return good; // damaged last line: never acknowledged
                }

                throw new RecordJournalCorruptException($"Record journal {path}: line {lineNumber} is damaged (bad checksum or JSON) and is not the last line; the file was left untouched.");
            }

            good = newline + 1;
            start = newline + 1;
        }

        return good;
    }

    private static ulong Fnv64(ReadOnlySpan<byte> data)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in data)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    [LoggerMessage(EventId = 9101, Level = LogLevel.Error, Message = "ALARM: record journal {Path} is near full ({Size} of {Max} bytes). Call records are spooling because PostgreSQL is unreachable; restore the database before the journal fills.")]
    private static partial void LogJournalNearFull(ILogger logger, string path, long size, long max);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Critical, Message = "Record journal {Path} is full ({Size} of {Max} bytes): refused a batch of {Count} records")]
    private static partial void LogJournalFull(ILogger logger, string path, long size, long max, int count);

    // Cuts the file back to the acknowledged batches (a failed write may have left part of a refused one).
    private void CutBackToAcknowledged()
    {
        if (File.Exists(Path) && new FileInfo(Path).Length != SizeBytes)
        {
            using var truncate = new FileStream(Path, FileMode.Open, FileAccess.Write, FileShare.Read);
            truncate.SetLength(SizeBytes);
            truncate.Flush(flushToDisk: true);
        }

        _tailUnknown = false;
    }

    private void DropAppendStream()
    {
        try
        {
            // Disposing flushes what is still buffered, which fails again on a full disk.
            _append?.Dispose();
        }
        catch (IOException)
        {
            // The unwritten rest of the refused batch: dropped on purpose.
        }

        _append = null;
    }

    [LoggerMessage(EventId = 9104, Level = LogLevel.Critical, Message = "Record journal {Path} could not be written (disk full or failing): refused a batch of {Count} records: {Reason}")]
    private static partial void LogJournalWriteFailed(ILogger logger, string path, int count, string reason);

    [LoggerMessage(EventId = 9103, Level = LogLevel.Information, Message = "Record journal {Path} drained into PostgreSQL; near-full alarm cleared")]
    private static partial void LogJournalDrained(ILogger logger, string path);
}
