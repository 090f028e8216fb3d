using System.Text.Json;
using CtiBridge.TestSupport;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>One record of an <c>ami/NAME.jsonl</c> timeline.</summary>
internal sealed record AmiRecord(double T, string Dir, string Data);

/// <summary>Loads recorded AMI timelines from <c>../shared/fixtures/asterisk/ami</c>.</summary>
internal static class AmiFixture
{
    public static string Directory => Path.Combine(RepositoryPaths.AsteriskFixtures, "ami");

    public static IReadOnlyList<AmiRecord> Load(string name)
    {
        var records = new List<AmiRecord>();
        foreach (var line in File.ReadLines(Path.Combine(Directory, name + ".jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            records.Add(new AmiRecord(root.GetProperty("t").GetDouble(), root.GetProperty("dir").GetString()!, root.GetProperty("data").GetString()!));
        }

        return records;
    }

    /// <summary>Splits a message into (name, value) pairs in wire order.</summary>
    public static List<KeyValuePair<string, string>> Headers(string message)
    {
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in message.Split("\r\n"))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers.Add(colon < 0 ? new(line, "") : new(line[..colon], line[(colon + 1)..].TrimStart(' ')));
        }

        return headers;
    }

    public static string? Header(string message, string name) =>
        Headers(message).Where(h => h.Key == name).Select(h => h.Value).FirstOrDefault();
}
