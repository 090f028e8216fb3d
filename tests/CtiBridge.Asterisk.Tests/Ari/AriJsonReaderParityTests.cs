using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>
/// The generated direct readers of the REST answers (AriJsonReaders) must read exactly what System.Text.Json's
/// source-generated metadata reads: the same value (compared by serializing both) or both a JsonException. Checked
/// on every recorded 2xx answer, on a sample of every model that has a reader (built from its properties), and on
/// mutations of each: every field removed, set to null and set to a value of each other JSON type, an unknown field
/// added, a field repeated, and a few broken bodies.
/// </summary>
public sealed class AriJsonReaderParityTests
{
    private static readonly JsonNode?[] WrongValues =
        [null, JsonValue.Create("text"), JsonValue.Create(12345), JsonValue.Create(1.5), JsonValue.Create(true), new JsonObject(), new JsonArray(), JsonNode.Parse("99999999999999999999"), JsonNode.Parse("[null]")];

    [Fact]
    public void EveryRecordedAnswer_AndItsMutations_ReadAsSystemTextJsonReadsThem()
    {
        var sources = RecordedAnswers();
        // Each reader model and list type the REST calls return has at least one recording.
        Assert.Contains(sources, s => s.Type == typeof(Channel));
        Assert.Contains(sources, s => s.Type == typeof(IReadOnlyList<Channel>));
        Assert.Contains(sources, s => s.Type == typeof(Bridge));
        AssertParity(sources);
    }

    [Fact]
    public void EveryModelWithAReader_SampleAndItsMutations_ReadAsSystemTextJsonReadsThem()
    {
        var models = typeof(AriJsonReaders).GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Where(m => m.Name.StartsWith("Read", StringComparison.Ordinal) && m.Name.EndsWith("List", StringComparison.Ordinal)
                && m.ReturnType.IsGenericType && m.ReturnType.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
            .Select(m => m.ReturnType.GetGenericArguments()[0])
            .ToList();
        Assert.Contains(typeof(Channel), models);
        Assert.True(models.Count >= 25, $"only {models.Count} models have a reader");
        var sources = models.Select(t => (Label: "sample " + t.Name, Type: t, Json: Sample(t, 0)!.ToJsonString())).ToList();
        sources.AddRange(models.Select(t => (Label: "sample list of " + t.Name, Type: typeof(IReadOnlyList<>).MakeGenericType(t), Json: new JsonArray(Sample(t, 0), null).ToJsonString())));
        AssertParity(sources);
    }

    [Fact]
    public async Task GetAsync_AnswerMissingARequiredField_ThrowsAriResponseFormatExceptionNamingIt()
    {
        var body = """{"name":"PJSIP/1000-00000001","state":"Up","protocol_id":"","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"c","exten":"s","priority":1,"app_name":"","app_data":""},"creationtime":"2026-11-22T16:41:30.655+0000","language":"en"}""";
        var response = Encoding.UTF8.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
        await using var server = new LoopbackHttpServer(_ => Task.FromResult(response));
        using var client = new AriClient(new AriClientOptions { BaseAddress = server.AriBase, UserName = "u", Password = "p" });

        var error = await Assert.ThrowsAsync<AriResponseFormatException>(() => client.Channels.GetAsync("c-1", TestContext.Current.CancellationToken));

        Assert.Contains("'id'", error.Message, StringComparison.Ordinal);
        Assert.Contains("/channels/c-1", error.Message, StringComparison.Ordinal);
        Assert.IsType<JsonException>(error.InnerException, exactMatch: false);
    }

    private static void AssertParity(List<(string Label, Type Type, string Json)> sources)
    {
        var mismatches = new List<string>();
        var compared = 0;
        foreach (var (label, type, json) in sources)
        {
            foreach (var (variant, text) in Variants(json))
            {
                compared++;
                var expected = Outcome(type, () => JsonSerializer.Deserialize(Encoding.UTF8.GetBytes(text), AriJsonContext.Default.GetTypeInfo(type)!));
                var actual = Outcome(type, () => ReadDirect(type, Encoding.UTF8.GetBytes(text)));
                if (expected != actual)
                {
                    mismatches.Add($"{label}, {variant}: System.Text.Json {expected} / direct reader {actual}\n  body {text}");
                }
            }
        }

        Assert.True(compared > sources.Count * 5, $"only {compared} bodies compared");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} bodies read differently:\n" + string.Join("\n", mismatches.Take(15)));
    }

    private static string Outcome(Type type, Func<object?> read)
    {
        try
        {
            var value = read();
            return value is null ? "null" : JsonSerializer.Serialize(value, type, AriJsonContext.Default);
        }
        catch (JsonException)
        {
            return "JsonException";
        }
    }

    private static object? ReadDirect(Type type, byte[] body)
    {
        var isList = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>);
        var model = isList ? type.GetGenericArguments()[0] : type;
        var method = typeof(AriJsonReaders).GetMethod("Read" + model.Name + (isList ? "List" : ""), BindingFlags.Static | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException($"no reader for {type}");
        var read = method.CreateDelegate(typeof(AriJsonRead<>).MakeGenericType(type));
        try
        {
            return typeof(AriJsonReaderParityTests).GetMethod(nameof(Parse), BindingFlags.Static | BindingFlags.NonPublic)!
                .MakeGenericMethod(type).Invoke(null, [body, read]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    private static T? Parse<T>(byte[] body, Delegate read)
        where T : class => AriJsonReaders.Parse(body, (AriJsonRead<T>)read);

    /// <summary>The body as recorded, then each mutation of it.</summary>
    private static IEnumerable<(string Variant, string Text)> Variants(string json)
    {
        yield return ("as recorded", json);
        yield return ("empty", "");
        yield return ("null", "null");
        yield return ("a string", "\"x\"");
        yield return ("trailing text", json + " x");
        yield return ("cut short", json[..(json.Length / 2)]);
        var root = JsonNode.Parse(json);
        if (root is JsonArray { Count: > 0 } array && array[0] is JsonObject)
        {
            yield return ("an object instead of the list", array[0]!.ToJsonString());
        }

        if (root is JsonObject rootObject)
        {
            yield return ("an array instead of the object", new JsonArray(JsonNode.Parse(json)).ToJsonString());
            if (rootObject.Count > 0)
            {
                // A repeated field: the last one wins.
                var (name, value) = rootObject.First();
                yield return ($"'{name}' repeated", "{" + JsonSerializer.Serialize(name) + ":" + (value?.ToJsonString() ?? "null") + "," + json[1..]);
            }
        }

        foreach (var path in ObjectPaths(root, "$", 0))
        {
            var names = ((JsonObject)Find(JsonNode.Parse(json), path)!).Select(p => p.Key).ToList();
            foreach (var name in names)
            {
                var removed = JsonNode.Parse(json);
                ((JsonObject)Find(removed, path)!).Remove(name);
                yield return ($"{path}.{name} removed", removed!.ToJsonString());
                foreach (var wrong in WrongValues)
                {
                    var changed = JsonNode.Parse(json);
                    ((JsonObject)Find(changed, path)!)[name] = wrong?.DeepClone();
                    yield return ($"{path}.{name} = {wrong?.ToJsonString() ?? "null"}", changed!.ToJsonString());
                }
            }

            var extended = JsonNode.Parse(json);
            ((JsonObject)Find(extended, path)!)["zz_unknown"] = JsonNode.Parse("""{"a":[1,null,"b"],"c":{}}""");
            yield return ($"{path} with an unknown field", extended!.ToJsonString());
        }
    }

    /// <summary>Paths of the objects in the body (the first item of each array), three levels deep.</summary>
    private static IEnumerable<string> ObjectPaths(JsonNode? node, string path, int depth)
    {
        if (depth > 3)
        {
            yield break;
        }

        switch (node)
        {
            case JsonObject o:
                yield return path;
                foreach (var (name, child) in o)
                {
                    foreach (var p in ObjectPaths(child, path + "." + name, depth + 1))
                    {
                        yield return p;
                    }
                }

                break;
            case JsonArray { Count: > 0 } a:
                foreach (var p in ObjectPaths(a[0], path + "[0]", depth + 1))
                {
                    yield return p;
                }

                break;
        }
    }

    private static JsonNode? Find(JsonNode? root, string path)
    {
        var node = root;
        foreach (Match step in Regex.Matches(path[1..], @"\.([^.\[]+)|\[0\]"))
        {
            node = step.Value == "[0]" ? node![0] : node![step.Groups[1].Value];
        }

        return node;
    }

    /// <summary>A value for every property of the model, from its C# type (depth-bounded for recursive models).</summary>
    private static JsonNode? Sample(Type type, int depth)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string))
        {
            return JsonValue.Create("s");
        }

        if (underlying == typeof(int) || underlying == typeof(long))
        {
            return JsonValue.Create(7);
        }

        if (underlying == typeof(double))
        {
            return JsonValue.Create(2.5);
        }

        if (underlying == typeof(bool))
        {
            return JsonValue.Create(true);
        }

        if (underlying == typeof(DateTimeOffset))
        {
            return JsonValue.Create("2026-11-22T16:41:30.655+0000");
        }

        if (underlying == typeof(JsonElement))
        {
            return JsonNode.Parse("""{"k":"v"}""");
        }

        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            return new JsonArray(Sample(underlying.GetGenericArguments()[0], depth + 1));
        }

        if (depth > 2)
        {
            return null;
        }

        var o = new JsonObject();
        foreach (var property in underlying.GetProperties())
        {
            if (property.GetCustomAttribute<System.Text.Json.Serialization.JsonPropertyNameAttribute>() is { } name)
            {
                o[name.Name] = Sample(property.PropertyType, depth + 1);
            }
        }

        return o;
    }

    /// <summary>Every recorded 2xx JSON answer with the type its operation returns.</summary>
    private static List<(string Label, Type Type, string Json)> RecordedAnswers()
    {
        var operations = typeof(AriClient).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Operation: m.GetCustomAttribute<AriOperationAttribute>()!, Method: m))
            .Where(x => x.Operation is not null && x.Method.ReturnType.IsGenericType && x.Method.ReturnType.GetGenericArguments()[0] != typeof(byte[]))
            .Select(x => (x.Operation, Result: x.Method.ReturnType.GetGenericArguments()[0],
                Pattern: new Regex("^/ari" + Regex.Replace(x.Operation.Path, @"\{\w+\}", "([^/]+)") + "$"),
                Literal: Regex.Replace(x.Operation.Path, @"\{\w+\}", "").Length))
            .ToList();
        var answers = new List<(string, Type, string)>();
        foreach (var exchange in AriFixtures.RestExchanges().Where(e => e.Status is >= 200 and < 300 && (e.ResponseBody.TrimStart().StartsWith('{') || e.ResponseBody.TrimStart().StartsWith('['))))
        {
            // The most specific route wins (/channels/{id}/variable over /channels/{id}).
            var operation = operations.Where(o => o.Operation.HttpMethod == exchange.Method && o.Pattern.IsMatch(exchange.Path))
                .OrderByDescending(o => o.Literal).FirstOrDefault();
            var model = operation.Result is { IsGenericType: true } list ? list.GetGenericArguments()[0] : operation.Result;
            if (operation.Result is not null && typeof(AriJsonReaders).GetMethod("Read" + model!.Name, BindingFlags.Static | BindingFlags.NonPublic) is not null)
            {
                answers.Add((exchange.Label, operation.Result, exchange.ResponseBody));
            }
        }

        return answers;
    }
}
