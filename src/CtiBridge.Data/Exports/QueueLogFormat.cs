using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CtiBridge.Data.Records;

namespace CtiBridge.Data.Exports;

/// <summary>
/// Asterisk's queue_log line format: <c>epoch|callid|queue|agent|event|data1|data2...</c>
/// (fields never contain '|'; an event with no data has nothing after the event name, one with an
/// empty first field ends in '|', e.g. <c>QUEUESTART|</c>).
/// </summary>
public static class QueueLogFormat
{
    /// <summary>Formats one event as a queue_log line (without the line break); the time is truncated to whole seconds as Asterisk writes it.</summary>
    public static string Format(QueueEventRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Format(record.EventTime.ToUnixTimeSeconds(), record.CallId, record.Queue, record.Agent, record.Event, record.Data);
    }

    /// <summary>Formats the fields of one line.</summary>
    public static string Format(long epochSeconds, string callId, string queue, string agent, string eventName, IReadOnlyList<string> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var builder = new StringBuilder(64)
            .Append(epochSeconds.ToString(CultureInfo.InvariantCulture)).Append('|')
            .Append(callId).Append('|').Append(queue).Append('|').Append(agent).Append('|').Append(eventName);
        foreach (var field in data)
        {
            builder.Append('|').Append(field);
        }

        return builder.ToString();
    }

    /// <summary>
    /// Parses one line. <paramref name="lineNumber"/> only feeds error messages and the event id
    /// (a stable id from the source and line, so importing the same file twice stores it once).
    /// </summary>
    /// <exception cref="FormatException">The line is not a queue_log line; the message says why and where.</exception>
    public static QueueEventRecord Parse(string line, int lineNumber, string source = "queue_log")
    {
        ArgumentNullException.ThrowIfNull(line);
        var fields = line.Split('|');
        if (fields.Length < 5)
        {
            throw new FormatException($"{source}:{lineNumber}: expected at least 5 '|'-separated fields (time|callid|queue|agent|event), found {fields.Length}");
        }

        if (!long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            throw new FormatException($"{source}:{lineNumber}: time '{fields[0]}' is not whole seconds since 1970");
        }

        if (fields[4].Length == 0 || !fields[4].All(c => c is (>= 'A' and <= 'Z') or '_'))
        {
            throw new FormatException($"{source}:{lineNumber}: event '{fields[4]}' is not an upper-case queue_log event name");
        }

        var id = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{source}\n{lineNumber}\n{line}")).AsSpan(0, 16));
        return new QueueEventRecord
        {
            EventId = id,
            // Lines of the same second keep their file order through a sub-second offset (the export truncates it away).
            EventTime = DateTimeOffset.FromUnixTimeSeconds(epoch).AddTicks((lineNumber % 1_000_000) * TimeSpan.TicksPerMicrosecond),
            CallId = fields[1],
            Queue = fields[2],
            Agent = fields[3],
            Event = fields[4],
            Data = fields[5..],
        };
    }
}
