using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace CtiBridge.Service.Configuration;

/// <summary>
/// Reads <c>ctibridge.json</c> (plus <c>CTIBRIDGE__</c> environment overrides), and turns every
/// mistake into a <see cref="SettingsProblem"/> naming the setting: unknown keys (with a
/// suggestion), values of the wrong type, unresolvable secret references, and invalid values.
/// </summary>
public static class SettingsLoader
{
    /// <summary>Prefix of environment variables that override the file.</summary>
    public const string EnvironmentPrefix = "CTIBRIDGE__";

    /// <summary>Loads, checks and binds the configuration file.</summary>
    /// <exception cref="SettingsException">Anything is wrong; every problem is listed.</exception>
    public static CtiBridgeSettings Load(string path, IDictionary? environment = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new SettingsException($"{path}: the configuration file does not exist.");
        }

        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SettingsException($"{path}: cannot be read: {ex.Message}", ex);
        }

        return Parse(json, path, environment ?? Environment.GetEnvironmentVariables());
    }

    /// <summary>Checks and binds configuration text (the file's content) plus environment overrides.</summary>
    /// <exception cref="SettingsException">Anything is wrong; every problem is listed.</exception>
    public static CtiBridgeSettings Parse(string json, string sourceName, IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        JsonNode? campaigns;
        try
        {
            using var _ = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            (json, campaigns) = TakeCampaigns(json);
        }
        catch (JsonException ex)
        {
            throw new SettingsException($"{sourceName}: not valid JSON at line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1}: {ex.Message.Split(" Path:")[0]}", ex);
        }

        var problems = new List<SettingsProblem>();
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string key && key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                var setting = key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal);
                if (setting.Split(':')[0].Equals(CampaignSection.Name, StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add(new SettingsProblem(key, "campaigns cannot be set from environment variables; write them in the file's campaigns list"));
                    continue;
                }

                overrides[setting] = entry.Value as string;
            }
        }

        var configuration = Build(json, sourceName, overrides);

        CheckShape(configuration, typeof(CtiBridgeSettings), string.Empty, problems);
        if (problems.Count > 0)
        {
            throw new SettingsException(problems);
        }

        var settings = new CtiBridgeSettings();
        configuration.Bind(settings);
        SecretReferences.Resolve(settings, environment, problems);
        SettingsValidator.Validate(settings, problems);
        settings.Campaigns = CampaignSection.Parse(campaigns, settings.CallControl, problems);
        if (problems.Count > 0)
        {
            throw new SettingsException(problems);
        }

        return settings;
    }

    private static IConfigurationRoot Build(string json, string sourceName, Dictionary<string, string?> overrides)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        try
        {
            return new ConfigurationBuilder().AddJsonStream(stream).AddInMemoryCollection(overrides).Build();
        }
        catch (FormatException ex)
        {
            // Valid JSON the configuration reader still refuses: a key twice in one object (keys are
            // case-insensitive, so "name" and "Name" clash) or a top level that is not an object.
            throw new SettingsException($"{sourceName}: {ex.Message} (keys are case-insensitive; the text must be one JSON object)", ex);
        }
    }

    /// <summary>
    /// Takes the <c>campaigns</c> list out of the file's JSON: campaigns are checked as campaign
    /// files (<see cref="CampaignSection"/>), whose values keep their JSON types, not through the binder.
    /// </summary>
    private static (string Others, JsonNode? Campaigns) TakeCampaigns(string json)
    {
        if (JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) is not JsonObject root)
        {
            return (json, null);
        }

        var key = root.Select(p => p.Key).FirstOrDefault(k => k.Equals(CampaignSection.Name, StringComparison.OrdinalIgnoreCase));
        if (key is null)
        {
            return (json, null);
        }

        var campaigns = root[key];
        root.Remove(key);
        return (root.ToJsonString(), campaigns);
    }

    /// <summary>
    /// Checks and binds the <c>callControl</c> section alone (the body of a reload over the API):
    /// the same shape checks and secret references as the file; problems are named
    /// <c>callControl.…</c> as in the file. The values are checked when applied.
    /// </summary>
    /// <exception cref="SettingsException">Anything is wrong; every problem is listed.</exception>
    public static CtiBridge.Service.CallControl.CallControlSettings ParseCallControl(string json, string sourceName, IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SettingsException($"{sourceName}: must be a JSON object: the callControl section (queues, agents, dids, ivr, ...)");
            }
        }
        catch (JsonException ex)
        {
            throw new SettingsException($"{sourceName}: not valid JSON at line {ex.LineNumber + 1}, position {ex.BytePositionInLine + 1}: {ex.Message.Split(" Path:")[0]}", ex);
        }

        var configuration = Build(json, sourceName, new Dictionary<string, string?>());
        var problems = new List<SettingsProblem>();
        CheckShape(configuration, typeof(CtiBridge.Service.CallControl.CallControlSettings), "callControl", problems);
        if (problems.Count > 0)
        {
            throw new SettingsException(problems);
        }

        var section = new CtiBridge.Service.CallControl.CallControlSettings();
        configuration.Bind(section);
        SecretReferences.Resolve(new CtiBridgeSettings { CallControl = section }, environment, problems);
        if (problems.Count > 0)
        {
            throw new SettingsException(problems);
        }

        return section;
    }

    /// <summary>Formats a configuration path the way the JSON file spells it: <c>asterisk[0].ami.port</c>.</summary>
    internal static string Describe(string parentPath, string key) =>
        int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            ? $"{parentPath}[{key}]"
            : string.IsNullOrEmpty(parentPath) ? CamelCase(key) : $"{parentPath}.{CamelCase(key)}";

    internal static string CamelCase(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];

    private static void CheckShape(IConfiguration section, Type type, string path, List<SettingsProblem> problems)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                problems.Add(new SettingsProblem(Describe(path, child.Key), $"unknown setting{SpellingSuggestion.DidYouMean(child.Key, properties.Keys.Select(CamelCase))}"));
                continue;
            }

            CheckValue(child, property.PropertyType, Describe(path, child.Key), problems);
            if (property.PropertyType == typeof(string) && child.Value is null && !child.GetChildren().Any()
                && new NullabilityInfoContext().Create(property).WriteState == NullabilityState.NotNull)
            {
                // JSON null or {} would bind null into a setting the service relies on having text.
                problems.Add(new SettingsProblem(Describe(path, child.Key), "must be a text value, not null or {} (leave the setting out to keep its default)"));
            }
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, string path, List<SettingsProblem> problems)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string))
        {
            if (section.Value is null && section.GetChildren().Any())
            {
                problems.Add(new SettingsProblem(path, "must be a text value, not an object or a list"));
            }

            return;
        }

        if (underlying == typeof(int) || underlying == typeof(bool) || underlying == typeof(double) || underlying == typeof(TimeSpan) || underlying.IsEnum)
        {
            if (section.Value is null)
            {
                if (section.GetChildren().Any())
                {
                    problems.Add(new SettingsProblem(path, $"must be {Expected(underlying)}, not an object or a list"));
                }

                return;
            }

            var ok = underlying == typeof(int) ? int.TryParse(section.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                : underlying == typeof(bool) ? bool.TryParse(section.Value, out _)
                : underlying == typeof(double) ? double.TryParse(section.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                : underlying == typeof(TimeSpan) ? TimeSpan.TryParse(section.Value, CultureInfo.InvariantCulture, out _)
                : Enum.TryParse(underlying, section.Value, ignoreCase: true, out _) && !int.TryParse(section.Value, out _);
            if (!ok)
            {
                var hint = underlying.IsEnum ? SpellingSuggestion.DidYouMean(section.Value, Enum.GetNames(underlying)) : string.Empty;
                problems.Add(new SettingsProblem(path, $"'{section.Value}' is not {Expected(underlying)}{hint}"));
            }

            return;
        }

        if (DictionaryValueType(underlying) is { } valueType)
        {
            // A map from names chosen by the admin (queue → penalty, skill → level): any key, typed values.
            if (section.Value is { Length: > 0 })
            {
                problems.Add(new SettingsProblem(path, "must be an object of name: value pairs"));
                return;
            }

            foreach (var item in section.GetChildren())
            {
                CheckValue(item, valueType, $"{path}.{item.Key}", problems);
            }

            return;
        }

        var element = ListElementType(underlying);
        if (element is not null)
        {
            // The JSON provider turns an empty list into an empty value.
            if (section.Value is { Length: > 0 })
            {
                problems.Add(new SettingsProblem(path, "must be a list"));
                return;
            }

            foreach (var item in section.GetChildren())
            {
                if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    problems.Add(new SettingsProblem(path, "must be a list, not an object"));
                    return;
                }

                CheckValue(item, element, Describe(path, item.Key), problems);
            }

            return;
        }

        if (section.Value is { Length: > 0 })
        {
            problems.Add(new SettingsProblem(path, "must be an object with settings, not a single value"));
            return;
        }

        CheckShape(section, underlying, path, problems);
    }

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string) ? type.GetGenericArguments()[1] : null;

    private static Type? ListElementType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0] : null;

    private static string Expected(Type type) =>
        type == typeof(int) ? "a whole number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(double) ? "a number"
        : type == typeof(TimeSpan) ? "a duration such as 00:00:30"
        : $"one of {string.Join(", ", Enum.GetNames(type).Select(n => $"'{n}'"))}";
}
