using System.Collections.Concurrent;

namespace CtiBridge.Data.Queries;

/// <summary>
/// The SQL of CtiBridge's named queries: <c>Queries/&lt;name&gt;.sql</c> files embedded in this
/// assembly, so every statement is reviewable as SQL and parameterised (<c>@name</c> placeholders).
/// </summary>
public static class NamedQueries
{
    private const string Prefix = "CtiBridge.Data.Queries.";
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    /// <summary>The SQL of the named query (the file name without <c>.sql</c>).</summary>
    /// <exception cref="KeyNotFoundException">No such query; the message lists those that exist.</exception>
    public static string Get(string name) => Cache.GetOrAdd(name, Load);

    /// <summary>Every named query's name.</summary>
    public static IReadOnlyList<string> Names { get; } = typeof(NamedQueries).Assembly.GetManifestResourceNames()
        .Where(r => r.StartsWith(Prefix, StringComparison.Ordinal) && r.EndsWith(".sql", StringComparison.Ordinal))
        .Select(r => r[Prefix.Length..^4])
        .Order(StringComparer.Ordinal)
        .ToList();

    private static string Load(string name)
    {
        using var stream = typeof(NamedQueries).Assembly.GetManifestResourceStream(Prefix + name + ".sql")
            ?? throw new KeyNotFoundException($"There is no named query '{name}' (known: {string.Join(", ", Names)}).");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
