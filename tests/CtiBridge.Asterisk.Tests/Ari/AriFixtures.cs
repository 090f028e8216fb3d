using System.Text;
using System.Text.Json;
using CtiBridge.TestSupport;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>The recorded ARI traffic (../shared/fixtures/asterisk/ari) in the shapes the tests need.</summary>
internal static class AriFixtures
{
    public static string Directory => Path.Combine(RepositoryPaths.AsteriskFixtures, "ari");

    public static readonly string[] Scenarios = ["inbound-call", "dialer", "originate-into-app", "snoop"];

    public static TheoryData<string> ScenarioData() => new(Scenarios);

    /// <summary>The text payloads of one scenario's WebSocket, in wire order.</summary>
    public static List<string> EventPayloads(string scenario) =>
        File.ReadLines(Path.Combine(Directory, scenario + ".events.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(r => r.GetProperty("opcode").GetString() == "text")
            .Select(r => r.GetProperty("payload").GetString()!)
            .ToList();

    public static byte[] WebSocketBytes(string scenario) => File.ReadAllBytes(Path.Combine(Directory, scenario + ".ws.raw"));

    /// <summary>Every recorded REST exchange: the 44 of rest/ and those made during the WebSocket scenarios.</summary>
    public static List<RestExchange> RestExchanges()
    {
        var exchanges = new List<RestExchange>();
        foreach (var file in new[] { Path.Combine(Directory, "rest", "index.jsonl") }.Concat(Scenarios.Select(s => Path.Combine(Directory, s + ".rest.jsonl"))))
        {
            foreach (var line in File.ReadLines(file))
            {
                var record = JsonDocument.Parse(line).RootElement;
                var label = record.TryGetProperty("file", out var f) ? f.GetString()! : Path.GetFileName(file).Split('.')[0] + "/" + record.GetProperty("name").GetString();
                exchanges.Add(RestExchange.Parse(label, record.GetProperty("request").GetString()!, record.GetProperty("response").GetString()!));
            }
        }

        return exchanges;
    }
}

/// <summary>One recorded REST call: the request as sent and Asterisk's response bytes.</summary>
internal sealed record RestExchange(string Label, string Method, string Path, string? Query, Dictionary<string, string> Headers, string Body, int Status, byte[] Response, string ResponseBody)
{
    public static RestExchange Parse(string label, string request, string response)
    {
        var head = request.Split("\r\n\r\n", 2);
        var lines = head[0].Split("\r\n");
        var requestLine = lines[0].Split(' ');
        var target = requestLine[1];
        var q = target.IndexOf('?', StringComparison.Ordinal);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        var status = int.Parse(response.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        var responseBody = response.Split("\r\n\r\n", 2)[1];
        return new RestExchange(label, requestLine[0], q < 0 ? target : target[..q], q < 0 ? null : target[(q + 1)..], headers, head.Length > 1 ? head[1] : "", status, Encoding.UTF8.GetBytes(response), responseBody);
    }

    public override string ToString() => Label;
}

/// <summary>JSON compared by meaning (property order and number spelling ignored).</summary>
internal static class JsonAssert
{
    public static void Equivalent(string expected, string actual, string context)
    {
        using var e = JsonDocument.Parse(expected);
        using var a = JsonDocument.Parse(actual);
        var difference = Compare(e.RootElement, a.RootElement, "$");
        Assert.True(difference is null, $"{context}: {difference}\nexpected {expected}\nactual   {actual}");
    }

    private static string? Compare(JsonElement expected, JsonElement actual, string path)
    {
        if (expected.ValueKind != actual.ValueKind)
        {
            return $"{path}: {expected.ValueKind} expected, got {actual.ValueKind}";
        }

        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var expectedNames = expected.EnumerateObject().Select(p => p.Name).ToHashSet();
                var actualNames = actual.EnumerateObject().Select(p => p.Name).ToHashSet();
                if (!expectedNames.SetEquals(actualNames))
                {
                    return $"{path}: fields differ, missing [{string.Join(",", expectedNames.Except(actualNames))}], extra [{string.Join(",", actualNames.Except(expectedNames))}]";
                }

                foreach (var property in expected.EnumerateObject())
                {
                    if (Compare(property.Value, actual.GetProperty(property.Name), path + "." + property.Name) is { } d)
                    {
                        return d;
                    }
                }

                return null;
            case JsonValueKind.Array:
                var ea = expected.EnumerateArray().ToList();
                var aa = actual.EnumerateArray().ToList();
                if (ea.Count != aa.Count)
                {
                    return $"{path}: {ea.Count} items expected, got {aa.Count}";
                }

                for (var i = 0; i < ea.Count; i++)
                {
                    if (Compare(ea[i], aa[i], $"{path}[{i}]") is { } d)
                    {
                        return d;
                    }
                }

                return null;
            case JsonValueKind.Number:
                return expected.GetDecimal() == actual.GetDecimal() ? null : $"{path}: {expected} expected, got {actual}";
            default:
                return expected.ToString() == actual.ToString() ? null : $"{path}: '{expected}' expected, got '{actual}'";
        }
    }
}
