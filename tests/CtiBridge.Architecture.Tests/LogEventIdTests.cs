using System.Text.RegularExpressions;
using CtiBridge.TestSupport;

namespace CtiBridge.Architecture.Tests;

/// <summary>
/// Every <c>[LoggerMessage(EventId = N)]</c> of a part names one kind of log line: operators alert and
/// filter on the number, so two messages sharing it would hide one behind the other.
/// </summary>
public sealed partial class LogEventIdTests
{
    [Fact]
    public void EachPart_GivesEveryLogEventIdToOneMessageOnly()
    {
        var duplicates = new List<string>();
        foreach (var part in Directory.GetDirectories(Path.Combine(RepositoryPaths.Root, "src")))
        {
            var uses = Directory.EnumerateFiles(part, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                         && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .SelectMany(f => File.ReadLines(f).Select((line, i) => (Line: line, Where: $"{Path.GetRelativePath(RepositoryPaths.Root, f)}:{i + 1}")))
                .Select(l => (Match: LoggerEventId().Match(l.Line), l.Where))
                .Where(m => m.Match.Success)
                .GroupBy(m => int.Parse(m.Match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            duplicates.AddRange(uses.Where(g => g.Count() > 1).Select(g => $"EventId {g.Key}: {string.Join(", ", g.Select(m => m.Where))}"));
        }

        Assert.True(duplicates.Count == 0, "log event ids used by more than one message:\n" + string.Join("\n", duplicates));
    }

    [GeneratedRegex(@"\[LoggerMessage\(\s*EventId\s*=\s*(\d+)")]
    private static partial Regex LoggerEventId();
}
