using System.Globalization;

namespace CtiBridge.Service.AsteriskSetup;

/// <summary>One <c>key = value</c> (or <c>key => value</c>) line of an Asterisk configuration file.</summary>
/// <param name="Key">The key as written (lower-cased keys compare case-insensitively).</param>
/// <param name="Value">The value with comments and surrounding blanks removed.</param>
/// <param name="IsObjectLine">True for <c>=></c> lines (exten, same, include, member, channel).</param>
/// <param name="Line">1-based line number, for error messages.</param>
public sealed record AsteriskConfigEntry(string Key, string Value, bool IsObjectLine, int Line);

/// <summary>
/// A <c>[section]</c> of an Asterisk configuration file. Sections may repeat a name (pjsip.conf
/// uses <c>[1001]</c> for an endpoint, its auth and its aor), so a file is a list of them.
/// </summary>
public sealed class AsteriskConfigSection
{
    internal AsteriskConfigSection(string name, bool isTemplate, IReadOnlyList<string> templates, int line)
    {
        Name = name;
        IsTemplate = isTemplate;
        Templates = templates;
        Line = line;
    }

    /// <summary>The section name between the brackets.</summary>
    public string Name { get; }

    /// <summary>True for <c>[name](!)</c>: a template, not an object of its own.</summary>
    public bool IsTemplate { get; }

    /// <summary>Templates this section inherits from, in order: <c>[1001](agent-phone-endpoint)</c>.</summary>
    public IReadOnlyList<string> Templates { get; }

    /// <summary>1-based line of the section header.</summary>
    public int Line { get; }

    /// <summary>The section's own entries, in file order (repeated keys kept).</summary>
    public List<AsteriskConfigEntry> Entries { get; } = [];

    /// <summary>The last value of <paramref name="key"/> in this section (not its templates), or null.</summary>
    public string? this[string key] => Entries.LastOrDefault(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase))?.Value;

    /// <summary>Every value of <paramref name="key"/>, in order.</summary>
    public IEnumerable<string> All(string key) => Entries.Where(e => string.Equals(e.Key, key, StringComparison.OrdinalIgnoreCase)).Select(e => e.Value);
}

/// <summary>
/// Reads Asterisk's <c>.conf</c> format: sections, templates and inheritance, <c>=</c> and <c>=></c>
/// lines, <c>;</c> comments (<c>\;</c> is a literal semicolon), <c>;-- --;</c> block comments and
/// <c>#include</c> lines (recorded, not followed). Errors name the file and line.
/// </summary>
public sealed class AsteriskConfigFile
{
    private AsteriskConfigFile(string name, List<AsteriskConfigSection> sections, List<string> includes)
    {
        Name = name;
        Sections = sections;
        Includes = includes;
    }

    /// <summary>The file's name (for messages).</summary>
    public string Name { get; }

    /// <summary>Every section in file order.</summary>
    public IReadOnlyList<AsteriskConfigSection> Sections { get; }

    /// <summary>Files named by <c>#include</c> / <c>#tryinclude</c> lines.</summary>
    public IReadOnlyList<string> Includes { get; }

    /// <summary>Sections with this name (case-insensitive), templates included.</summary>
    public IEnumerable<AsteriskConfigSection> Named(string name) => Sections.Where(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The value of <paramref name="key"/> for a section, looking through its templates as Asterisk does.</summary>
    public string? Resolve(AsteriskConfigSection section, string key)
    {
        ArgumentNullException.ThrowIfNull(section);
        if (section[key] is { } own)
        {
            return own;
        }

        // Later templates override earlier ones, as in Asterisk.
        foreach (var template in section.Templates.Reverse())
        {
            var parent = Sections.LastOrDefault(s => s.IsTemplate && string.Equals(s.Name, template, StringComparison.OrdinalIgnoreCase) && s.Line < section.Line);
            if (parent is not null && Resolve(parent, key) is { } inherited)
            {
                return inherited;
            }
        }

        return null;
    }

    /// <summary>Reads a file from disk. DAHDI's <c>system.conf</c> has no sections: its lines go to a section named "".</summary>
    /// <exception cref="FormatException">A line that is not a section, entry, comment or directive.</exception>
    public static AsteriskConfigFile Load(string path) =>
        Parse(File.ReadAllText(path), Path.GetFileName(path), sectionless: string.Equals(Path.GetFileName(path), "system.conf", StringComparison.Ordinal));

    /// <summary>Parses configuration text.</summary>
    /// <param name="text">The file's content.</param>
    /// <param name="name">The file's name, for messages.</param>
    /// <param name="sectionless">Accept entries before any section (dahdi_cfg's format), in a section named "".</param>
    /// <exception cref="FormatException">A line that is not a section, entry, comment or directive; the message names file and line.</exception>
    public static AsteriskConfigFile Parse(string text, string name, bool sectionless = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sections = new List<AsteriskConfigSection>();
        var includes = new List<string>();
        AsteriskConfigSection? current = null;
        var inBlockComment = false;
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var index = 0; index < lines.Length; index++)
        {
            var lineNumber = index + 1;
            var line = StripComments(lines[index], ref inBlockComment).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            if (line.StartsWith('#'))
            {
                var parts = line.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
                if (parts[0] is "#include" or "#tryinclude" && parts.Length == 2)
                {
                    includes.Add(parts[1].Trim('"', '<', '>'));
                    continue;
                }

                if (parts[0] == "#exec")
                {
                    continue;
                }

                throw new FormatException($"{name}:{lineNumber}: unknown directive '{parts[0]}'");
            }

            if (line.StartsWith('['))
            {
                var close = line.IndexOf(']', StringComparison.Ordinal);
                if (close < 2)
                {
                    throw new FormatException($"{name}:{lineNumber}: a section header must look like [name]");
                }

                var sectionName = line[1..close].Trim();
                var rest = line[(close + 1)..].Trim();
                var isTemplate = false;
                var templates = new List<string>();
                if (rest.Length > 0)
                {
                    if (!rest.StartsWith('(') || !rest.EndsWith(')'))
                    {
                        throw new FormatException($"{name}:{lineNumber}: after [{sectionName}] only (!) or (template,...) may follow");
                    }

                    foreach (var option in rest[1..^1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (option == "!")
                        {
                            isTemplate = true;
                        }
                        else if (option != "+")
                        {
                            templates.Add(option);
                        }
                    }
                }

                current = new AsteriskConfigSection(sectionName, isTemplate, templates, lineNumber);
                sections.Add(current);
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"{name}:{lineNumber}: expected 'key = value', found '{line}'");
            }

            if (current is null && sectionless)
            {
                current = new AsteriskConfigSection(string.Empty, false, [], lineNumber);
                sections.Add(current);
            }

            if (current is null)
            {
                throw new FormatException($"{name}:{lineNumber}: '{line}' comes before any [section]");
            }

            var isObject = equals + 1 < line.Length && line[equals + 1] == '>';
            var key = line[..equals].Trim();
            var value = line[(equals + (isObject ? 2 : 1))..].Trim();
            current.Entries.Add(new AsteriskConfigEntry(key, value, isObject, lineNumber));
        }

        return new AsteriskConfigFile(name, sections, includes);
    }

    private static string StripComments(string line, ref bool inBlockComment)
    {
        var result = new System.Text.StringBuilder(line.Length);
        for (var i = 0; i < line.Length; i++)
        {
            if (inBlockComment)
            {
                if (string.CompareOrdinal(line, i, "--;", 0, 3) == 0)
                {
                    inBlockComment = false;
                    i += 2;
                }

                continue;
            }

            if (line[i] == '\\' && i + 1 < line.Length && line[i + 1] == ';')
            {
                result.Append(';');
                i++;
                continue;
            }

            if (line[i] == ';')
            {
                if (string.CompareOrdinal(line, i, ";--", 0, 3) == 0)
                {
                    inBlockComment = true;
                    i += 2;
                    continue;
                }

                break;
            }

            result.Append(line[i]);
        }

        return result.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({Sections.Count} sections)");
}
