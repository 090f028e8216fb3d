using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using CtiBridge.Asterisk.Ari;
using CtiBridge.TestSupport;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>Every generated model and operation checked against Asterisk's own ARI description, so drift is caught.</summary>
public sealed class AriSwaggerConformanceTests
{
    private static readonly Assembly AriAssembly = typeof(AriClient).Assembly;

    private static IEnumerable<(string Resource, JsonElement Root)> Descriptions() =>
        Directory.GetFiles(RepositoryPaths.AriApiDescription, "*.json")
            .Where(f => Path.GetFileName(f) != "resources.json")
            .Select(f => (Path.GetFileNameWithoutExtension(f), JsonDocument.Parse(File.ReadAllText(f)).RootElement));

    [Fact]
    public void Models_EveryDescribedModel_HasGeneratedTypeWithSameFieldsTypesAndRequiredness()
    {
        var types = AriAssembly.GetTypes()
            .Select(t => (Type: t, Attribute: t.GetCustomAttribute<AriModelAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToDictionary(x => x.Attribute!.Name, x => x.Type);
        var parents = new Dictionary<string, string>();
        var described = new HashSet<string>();
        var problems = new List<string>();
        var nullability = new NullabilityInfoContext();
        foreach (var (resource, root) in Descriptions())
        {
            if (!root.TryGetProperty("models", out var models))
            {
                continue;
            }

            foreach (var model in models.EnumerateObject())
            {
                described.Add(model.Name);
                if (model.Value.TryGetProperty("subTypes", out var subTypes))
                {
                    foreach (var sub in subTypes.EnumerateArray())
                    {
                        parents[sub.GetString()!] = model.Name;
                    }
                }
            }
        }

        foreach (var (resource, root) in Descriptions())
        {
            if (!root.TryGetProperty("models", out var models))
            {
                continue;
            }

            foreach (var model in models.EnumerateObject())
            {
                if (!types.TryGetValue(model.Name, out var type))
                {
                    problems.Add($"{resource}.json model {model.Name} has no generated type");
                    continue;
                }

                var baseName = type.BaseType?.GetCustomAttribute<AriModelAttribute>()?.Name;
                parents.TryGetValue(model.Name, out var parent);
                if (baseName != parent)
                {
                    problems.Add($"{model.Name} derives from {baseName ?? "nothing"}, the description says {parent ?? "nothing"}");
                }

                var csharp = type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                    .Select(p => (Property: p, Json: p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name))
                    .Where(x => x.Json is not null)
                    .ToDictionary(x => x.Json!, x => x.Property);
                var fields = model.Value.GetProperty("properties");
                foreach (var field in fields.EnumerateObject())
                {
                    if (!csharp.Remove(field.Name, out var property))
                    {
                        problems.Add($"{model.Name}.{field.Name} is missing");
                        continue;
                    }

                    var required = field.Value.TryGetProperty("required", out var r) && r.GetBoolean();
                    var isRequired = property.GetCustomAttribute<JsonRequiredAttribute>() is not null;
                    if (required != isRequired)
                    {
                        problems.Add($"{model.Name}.{field.Name}: required is {isRequired}, the description says {required}");
                    }

                    var swaggerType = field.Value.GetProperty("type").GetString()!;
                    var (expected, isValueType) = Expected(swaggerType, types);
                    var actual = property.PropertyType;
                    if (isValueType && !required)
                    {
                        expected = typeof(Nullable<>).MakeGenericType(expected);
                    }

                    if (actual != expected)
                    {
                        problems.Add($"{model.Name}.{field.Name}: {actual} but the description says {swaggerType} ({expected})");
                    }

                    if (!isValueType)
                    {
                        var state = nullability.Create(property).ReadState;
                        if ((state == NullabilityState.Nullable) == required)
                        {
                            problems.Add($"{model.Name}.{field.Name}: nullability {state} does not match required={required}");
                        }
                    }
                }

                foreach (var extra in csharp.Keys)
                {
                    problems.Add($"{model.Name}.{extra} is not in the description");
                }
            }
        }

        foreach (var generated in types.Keys.Except(described))
        {
            problems.Add($"generated model {generated} is not in the description");
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.True(types.Count >= 80, $"only {types.Count} models generated");
    }

    [Fact]
    public void Operations_EveryExposedCall_MatchesDescribedMethodPathParametersAndResult()
    {
        var methods = AriAssembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<AriOperationAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToList();
        var modelTypes = AriAssembly.GetTypes()
            .Select(t => (Type: t, Attribute: t.GetCustomAttribute<AriModelAttribute>()))
            .Where(x => x.Attribute is not null)
            .ToDictionary(x => x.Attribute!.Name, x => x.Type);
        var problems = new List<string>();
        var described = 0;
        foreach (var (resource, root) in Descriptions())
        {
            foreach (var api in root.GetProperty("apis").EnumerateArray())
            {
                var path = api.GetProperty("path").GetString()!;
                foreach (var operation in api.GetProperty("operations").EnumerateArray())
                {
                    var nickname = operation.GetProperty("nickname").GetString()!;
                    if (resource == "events" && nickname == "eventWebsocket")
                    {
                        continue; // AriEventConnection owns the WebSocket.
                    }

                    described++;
                    var matches = methods.Where(m => m.Attribute!.Resource == resource && m.Attribute.Nickname == nickname).ToList();
                    if (matches.Count != 1)
                    {
                        problems.Add($"{resource}.{nickname}: {matches.Count} methods expose it");
                        continue;
                    }

                    var (method, attribute) = matches[0];
                    var httpMethod = operation.GetProperty("httpMethod").GetString();
                    if (attribute!.HttpMethod != httpMethod || attribute.Path != path)
                    {
                        problems.Add($"{resource}.{nickname}: {attribute.HttpMethod} {attribute.Path}, described as {httpMethod} {path}");
                    }

                    CheckResult(resource, nickname, operation, method, modelTypes, problems);
                    var csharp = method.GetParameters()
                        .Select(p => (Parameter: p, Attribute: p.GetCustomAttribute<AriParameterAttribute>()))
                        .Where(x => x.Attribute is not null)
                        .ToDictionary(x => x.Attribute!.Name, x => x);
                    var parameters = operation.TryGetProperty("parameters", out var ps) ? ps.EnumerateArray().ToList() : [];
                    foreach (var parameter in parameters)
                    {
                        var name = parameter.GetProperty("name").GetString()!;
                        if (!csharp.Remove(name, out var p))
                        {
                            problems.Add($"{resource}.{nickname}: parameter {name} is missing");
                            continue;
                        }

                        var location = parameter.GetProperty("paramType").GetString()!;
                        if (!string.Equals(p.Attribute!.Location.ToString(), location, StringComparison.OrdinalIgnoreCase))
                        {
                            problems.Add($"{resource}.{nickname}.{name}: sent in {p.Attribute.Location}, described in {location}");
                        }

                        var required = location == "path" || (parameter.TryGetProperty("required", out var r) && r.GetBoolean());
                        if (required == p.Parameter.HasDefaultValue)
                        {
                            problems.Add($"{resource}.{nickname}.{name}: optional={p.Parameter.HasDefaultValue}, described required={required}");
                        }

                        var expected = ParameterType(parameter, modelTypes);
                        var actual = Nullable.GetUnderlyingType(p.Parameter.ParameterType) ?? p.Parameter.ParameterType;
                        if (actual != expected)
                        {
                            problems.Add($"{resource}.{nickname}.{name}: {actual}, described as {parameter.GetProperty("dataType")} ({expected})");
                        }
                    }

                    foreach (var extra in csharp.Keys)
                    {
                        problems.Add($"{resource}.{nickname}: parameter {extra} is not in the description");
                    }

                    var last = method.GetParameters()[^1];
                    if (last.ParameterType != typeof(CancellationToken))
                    {
                        problems.Add($"{resource}.{nickname}: the last parameter is not a CancellationToken");
                    }
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.Equal(described, methods.Count);
    }

    [Theory]
    [InlineData("channels", "originate")]
    [InlineData("channels", "create")]
    [InlineData("channels", "dial")]
    [InlineData("channels", "answer")]
    [InlineData("channels", "ring")]
    [InlineData("channels", "hangup")]
    [InlineData("channels", "play")]
    [InlineData("channels", "playWithId")]
    [InlineData("channels", "startMoh")]
    [InlineData("channels", "hold")]
    [InlineData("channels", "mute")]
    [InlineData("channels", "sendDTMF")]
    [InlineData("channels", "setChannelVar")]
    [InlineData("channels", "redirect")]
    [InlineData("channels", "continueInDialplan")]
    [InlineData("channels", "snoopChannel")]
    [InlineData("channels", "record")]
    [InlineData("channels", "externalMedia")]
    [InlineData("bridges", "create")]
    [InlineData("bridges", "addChannel")]
    [InlineData("bridges", "removeChannel")]
    [InlineData("bridges", "play")]
    [InlineData("bridges", "record")]
    [InlineData("bridges", "startMoh")]
    [InlineData("bridges", "destroy")]
    [InlineData("playbacks", "control")]
    [InlineData("recordings", "copyStored")]
    [InlineData("recordings", "getStoredFile")]
    [InlineData("endpoints", "list")]
    [InlineData("deviceStates", "update")]
    [InlineData("applications", "subscribe")]
    [InlineData("events", "userEvent")]
    [InlineData("sounds", "list")]
    [InlineData("asterisk", "getInfo")]
    [InlineData("asterisk", "ping")]
    [InlineData("asterisk", "getGlobalVar")]
    public void Operations_CallCenterCallsTheIssueLists_AreExposed(string resource, string nickname)
    {
        var exposed = AriAssembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Any(m => m.GetCustomAttribute<AriOperationAttribute>() is { } a && a.Resource == resource && a.Nickname == nickname);
        Assert.True(exposed, $"{resource}.{nickname} is not exposed");
    }

    private static void CheckResult(string resource, string nickname, JsonElement operation, MethodInfo method, Dictionary<string, Type> models, List<string> problems)
    {
        var responseClass = operation.TryGetProperty("responseClass", out var rc) ? rc.GetString()! : "void";
        Type expected = responseClass switch
        {
            "void" => typeof(Task),
            "binary" => typeof(Task<byte[]>),
            _ when responseClass.StartsWith("List[", StringComparison.Ordinal) =>
                typeof(Task<>).MakeGenericType(typeof(IReadOnlyList<>).MakeGenericType(models[responseClass[5..^1]])),
            _ => typeof(Task<>).MakeGenericType(models[responseClass]),
        };
        if (method.ReturnType != expected)
        {
            problems.Add($"{resource}.{nickname}: returns {method.ReturnType}, described as {responseClass}");
        }
    }

    private static Type ParameterType(JsonElement parameter, Dictionary<string, Type> models)
    {
        var dataType = parameter.GetProperty("dataType").GetString();
        var location = parameter.GetProperty("paramType").GetString();
        if (location == "body")
        {
            return dataType switch
            {
                "containers" when parameter.GetProperty("name").GetString() == "fields" => typeof(IReadOnlyList<>).MakeGenericType(models["ConfigTuple"]),
                "containers" => typeof(IReadOnlyDictionary<string, string>),
                "object" => typeof(JsonElement),
                _ => throw new InvalidOperationException($"body type {dataType}"),
            };
        }

        if (parameter.TryGetProperty("allowMultiple", out var multiple) && multiple.GetBoolean())
        {
            return typeof(IReadOnlyList<string>);
        }

        return dataType switch
        {
            "string" => typeof(string),
            "int" => typeof(int),
            "long" => typeof(long),
            "boolean" => typeof(bool),
            _ => throw new InvalidOperationException($"query type {dataType}"),
        };
    }

    private static (Type Type, bool IsValueType) Expected(string swaggerType, Dictionary<string, Type> models)
    {
        if (swaggerType.StartsWith("List[", StringComparison.Ordinal))
        {
            var (inner, _) = Expected(swaggerType[5..^1], models);
            return (typeof(IReadOnlyList<>).MakeGenericType(inner), false);
        }

        return swaggerType switch
        {
            "string" => (typeof(string), false),
            "int" => (typeof(int), true),
            "long" => (typeof(long), true),
            "double" => (typeof(double), true),
            "boolean" => (typeof(bool), true),
            "Date" => (typeof(DateTimeOffset), true),
            "object" => (typeof(JsonElement), true),
            _ => (models[swaggerType], false),
        };
    }
}
