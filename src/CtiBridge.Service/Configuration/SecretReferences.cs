using System.Collections;
using System.Reflection;
using System.Text.RegularExpressions;

namespace CtiBridge.Service.Configuration;

/// <summary>
/// Replaces <c>${env:NAME}</c> and <c>${file:/path}</c> in any string setting with the secret it names,
/// so passwords need not sit in ctibridge.json. A secret file must be readable by the service and by
/// nobody else (mode 0600 or 0400). Error messages name the setting, never the secret.
/// </summary>
public static partial class SecretReferences
{
    /// <summary>Resolves every reference in place; adds a problem for each one that cannot be resolved.</summary>
    public static void Resolve(object settings, IDictionary environment, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(problems);
        Walk(settings, string.Empty, environment, problems);
    }

    private static void Walk(object node, string path, IDictionary environment, List<SettingsProblem> problems)
    {
        foreach (var property in node.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var value = property.GetValue(node);
            var childPath = SettingsLoader.Describe(path, property.Name);
            switch (value)
            {
                case string text when property.CanWrite:
                    property.SetValue(node, ResolveOne(text, childPath, environment, problems));
                    break;
                case IList list:
                    for (var i = 0; i < list.Count; i++)
                    {
                        if (list[i] is { } item && item is not string && !item.GetType().IsValueType)
                        {
                            Walk(item, $"{childPath}[{i}]", environment, problems);
                        }
                    }

                    break;
                // Every settings section of the service (callControl, callbacks, dialer ... live in their parts' namespaces).
                case { } nested when !nested.GetType().IsValueType && nested is not string && nested.GetType().Namespace?.StartsWith("CtiBridge.Service", StringComparison.Ordinal) == true:
                    Walk(nested, childPath, environment, problems);
                    break;
            }
        }
    }

    private static string ResolveOne(string text, string path, IDictionary environment, List<SettingsProblem> problems)
    {
        var match = Reference().Match(text);
        if (!match.Success)
        {
            return text;
        }

        var source = match.Groups["source"].Value;
        var target = match.Groups["target"].Value;
        if (source == "env")
        {
            if (environment[target] is string { Length: > 0 } fromEnvironment)
            {
                return fromEnvironment;
            }

            problems.Add(new SettingsProblem(path, $"refers to environment variable {target}, which is not set"));
            return text;
        }

        if (!File.Exists(target))
        {
            problems.Add(new SettingsProblem(path, $"refers to secret file {target}, which does not exist"));
            return text;
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(target);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            {
                problems.Add(new SettingsProblem(path, $"secret file {target} can be read by other users (mode {Convert.ToString((int)mode, 8)}); run 'chmod 600 {target}'"));
                return text;
            }
        }

        try
        {
            // A trailing newline is how editors end files, never part of the secret.
            return File.ReadAllText(target).TrimEnd('\r', '\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problems.Add(new SettingsProblem(path, $"secret file {target} cannot be read: {ex.Message}"));
            return text;
        }
    }

    [GeneratedRegex(@"^\$\{(?<source>env|file):(?<target>[^}]+)\}$", RegexOptions.CultureInvariant)]
    private static partial Regex Reference();
}
