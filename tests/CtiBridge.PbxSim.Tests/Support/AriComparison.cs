using System.Text.Json;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// How PbxSim's ARI output is held to a recording: the status line and header names in order with
/// their values (Date excepted), and the body byte for byte unless it holds ids or timestamps; then
/// the same JSON fields in the same order with the same values except those.
/// </summary>
internal static class AriComparison
{
    private static readonly HashSet<string> VolatileFields = new(StringComparer.Ordinal)
    {
        "timestamp", "creationtime", "startup_time", "last_reload_time",
    };

    public static void AssertSameResponse(string expected, string actual, string where, Func<string, string, bool>? volatileValue = null)
    {
        var (eHead, eBody) = Split(expected);
        var (aHead, aBody) = Split(actual);
        var eLines = eHead.Split("\r\n");
        var aLines = aHead.Split("\r\n");
        Assert.True(eLines[0] == aLines[0], $"{where}: status line expected '{eLines[0]}' but was '{aLines[0]}'\n{actual}");
        Assert.True(eLines.Length == aLines.Length, $"{where}: header lines differ\nexpected {eHead}\nactual   {aHead}");
        for (var i = 1; i < eLines.Length; i++)
        {
            var name = eLines[i][..eLines[i].IndexOf(':', StringComparison.Ordinal)];
            if (name == "Date")
            {
                Assert.StartsWith("Date: ", aLines[i]);
                continue;
            }

            if (name == "Content-Length" && eBody != aBody)
            {
                Assert.StartsWith("Content-Length: ", aLines[i]);
                continue;
            }

            Assert.True(eLines[i] == aLines[i], $"{where}: header expected '{eLines[i]}' but was '{aLines[i]}'");
        }

        if (eBody == aBody)
        {
            return;
        }

        Assert.True(eBody.Length > 0 && aBody.Length > 0, $"{where}: body expected '{eBody}' but was '{aBody}'");
        using var e = JsonDocument.Parse(eBody);
        using var a = JsonDocument.Parse(aBody);
        AssertSameJson(e.RootElement, a.RootElement, where + " body", volatileValue ?? ((_, _) => false));
    }

    public static void AssertSameJson(JsonElement expected, JsonElement actual, string where, Func<string, string, bool> volatileValue)
    {
        Assert.True(expected.ValueKind == actual.ValueKind, $"{where}: expected {expected.ValueKind} {expected} but was {actual.ValueKind} {actual}");
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var eProps = expected.EnumerateObject().ToList();
                var aProps = actual.EnumerateObject().ToList();
                Assert.True(eProps.Select(p => p.Name).SequenceEqual(aProps.Select(p => p.Name)),
                    $"{where}: fields expected [{string.Join(",", eProps.Select(p => p.Name))}] but were [{string.Join(",", aProps.Select(p => p.Name))}]");
                for (var i = 0; i < eProps.Count; i++)
                {
                    var name = eProps[i].Name;
                    if (VolatileFields.Contains(name) || (eProps[i].Value.ValueKind == JsonValueKind.String && volatileValue(name, eProps[i].Value.GetString()!)))
                    {
                        Assert.True(aProps[i].Value.ValueKind == eProps[i].Value.ValueKind, $"{where}.{name}: kind differs");
                        continue;
                    }

                    AssertSameJson(eProps[i].Value, aProps[i].Value, $"{where}.{name}", volatileValue);
                }

                break;
            case JsonValueKind.Array:
                var eItems = expected.EnumerateArray().ToList();
                var aItems = actual.EnumerateArray().ToList();
                if (eItems.Count > 0 && eItems.All(i => i.ValueKind == JsonValueKind.Object && i.TryGetProperty("name", out _) && i.TryGetProperty("dialplan", out _)))
                {
                    // GET /channels walks a hash container: the order of channels means nothing.
                    static string Key(JsonElement e) => AmiComparison.NormaliseChannel(e.GetProperty("name").GetString()!);
                    eItems = [.. eItems.OrderBy(Key, StringComparer.Ordinal)];
                    aItems = [.. aItems.OrderBy(i => i.TryGetProperty("name", out _) ? Key(i) : "", StringComparer.Ordinal)];
                }

                Assert.True(eItems.Count == aItems.Count, $"{where}: {eItems.Count} items expected, {aItems.Count} found\nexpected {expected}\nactual   {actual}");
                for (var i = 0; i < eItems.Count; i++)
                {
                    AssertSameJson(eItems[i], aItems[i], $"{where}[{i}]", volatileValue);
                }

                break;
            case JsonValueKind.String:
                Assert.True(AmiComparison.NormaliseChannel(expected.GetString()!) == AmiComparison.NormaliseChannel(actual.GetString()!),
                    $"{where}: expected '{expected.GetString()}' but was '{actual.GetString()}'");
                break;
            default:
                Assert.True(expected.GetRawText() == actual.GetRawText(), $"{where}: expected {expected.GetRawText()} but was {actual.GetRawText()}");
                break;
        }
    }

    private static (string Head, string Body) Split(string response)
    {
        var end = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (response[..end], response[(end + 4)..]);
    }
}
