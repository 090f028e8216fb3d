using System.Reflection;
using System.Text;
using System.Text.Json;

namespace CtiBridge.Benchmarks.Ami;

/// <summary>
/// The recorded Asterisk 22 event mix (call flow, queues, transfers, originates, ChanSpy), the
/// scenarios ENGINEERING.md §6 streamed, cycled to any number of events.
/// </summary>
internal static class AmiEventMix
{
    private static readonly string[] Sessions =
    [
        "call-flow", "queue-call", "queue-ringnoanswer", "queue-members", "redirect", "blind-transfer",
        "attended-transfer", "originate-agent", "originate-outcomes", "chanspy",
    ];

    public static string FixtureDirectory
    {
        get
        {
            var shared = Environment.GetEnvironmentVariable("CTIBRIDGE_SHARED_DIR");
            if (string.IsNullOrEmpty(shared))
            {
                var root = typeof(AmiEventMix).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                    .First(a => a.Key == "CtiBridge.RepositoryRoot").Value!;
                shared = Path.Combine(root, "..", "shared");
            }

            return Path.Combine(shared, "fixtures", "asterisk", "ami");
        }
    }

    /// <summary>The events of the recorded sessions, in recorded order, as wire text.</summary>
    public static IReadOnlyList<string> RecordedEvents()
    {
        var events = new List<string>();
        foreach (var session in Sessions)
        {
            foreach (var line in File.ReadLines(Path.Combine(FixtureDirectory, session + ".jsonl")))
            {
                using var record = JsonDocument.Parse(line);
                var data = record.RootElement.GetProperty("data").GetString()!;
                if (record.RootElement.GetProperty("dir").GetString() == "rx" && data.StartsWith("Event:", StringComparison.Ordinal))
                {
                    events.Add(data);
                }
            }
        }

        return events;
    }

    /// <summary>Exactly <paramref name="count"/> events, cycling through the recorded mix.</summary>
    public static byte[] Build(int count)
    {
        var events = RecordedEvents();
        var text = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            text.Append(events[i % events.Count]);
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
