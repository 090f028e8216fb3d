using System.Globalization;

namespace CtiBridge.PbxSim;

/// <summary>
/// Reads an Asterisk <c>extensions.conf</c> (such as the shipped <c>asterisk-config/extensions.conf</c>) into
/// PbxSim's dialplan, so tests run the dialplan a site installs rather than a copy of it. Understood:
/// <c>[context]</c>, <c>exten =&gt; pattern,priority,App(args)</c>, <c>same =&gt; n,App(args)</c>, priorities
/// <c>1</c>/<c>n</c> with a label (<c>n(label)</c>), <c>;</c> comments and <c>[globals]</c> variables.
/// Not understood and skipped: <c>include =&gt;</c>, <c>hint</c> priorities and other sections' settings.
/// </summary>
public static class ExtensionsConf
{
    /// <summary>Parses <paramref name="text"/>; a line it cannot place is an error naming the line.</summary>
    /// <param name="text">The file's text.</param>
    /// <param name="name">The file's name, for error messages.</param>
    /// <returns>The dialplan (context → extension → steps, for <see cref="PbxSimOptions.Dialplan"/>) and the globals.</returns>
    public static (Dictionary<string, Dictionary<string, List<string>>> Dialplan, Dictionary<string, string> Globals) Parse(string text, string name = "extensions.conf")
    {
        ArgumentNullException.ThrowIfNull(text);
        var dialplan = new Dictionary<string, Dictionary<string, List<string>>>(StringComparer.Ordinal);
        var globals = new Dictionary<string, string>(StringComparer.Ordinal);
        string? section = null;
        List<string>? current = null;
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = StripComment(raw).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            string Where() => string.Create(CultureInfo.InvariantCulture, $"{name} line {lineNumber}");
            if (line.StartsWith('['))
            {
                var close = line.IndexOf(']', StringComparison.Ordinal);
                section = close > 1 ? line[1..close].Trim() : throw new FormatException($"{Where()}: section header '{line}' has no closing ']'.");
                current = null;
                continue;
            }

            var arrow = line.IndexOf("=>", StringComparison.Ordinal);
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (section is null)
            {
                throw new FormatException($"{Where()}: '{line}' comes before any [context].");
            }

            if (arrow < 0)
            {
                if (section == "globals" && equals > 0)
                {
                    globals[line[..equals].Trim()] = line[(equals + 1)..].Trim();
                }

                continue; // [general] settings and the like
            }

            var keyword = line[..arrow].Trim().ToLowerInvariant();
            var value = line[(arrow + 2)..].Trim();
            switch (keyword)
            {
                case "exten":
                {
                    var first = value.IndexOf(',', StringComparison.Ordinal);
                    var second = first < 0 ? -1 : value.IndexOf(',', first + 1);
                    if (second < 0)
                    {
                        throw new FormatException($"{Where()}: 'exten => {value}' needs pattern,priority,application.");
                    }

                    var priority = value[(first + 1)..second].Trim();
                    if (priority.Equals("hint", StringComparison.OrdinalIgnoreCase))
                    {
                        current = null;
                        continue;
                    }

                    var extensions = dialplan.TryGetValue(section, out var found) ? found : dialplan[section] = new(StringComparer.Ordinal);
                    var exten = value[..first].Trim();
                    current = extensions.TryGetValue(exten, out var steps) ? steps : extensions[exten] = [];
                    current.Add(Step(priority, value[(second + 1)..].Trim(), current.Count, Where()));
                    break;
                }

                case "same":
                {
                    var comma = value.IndexOf(',', StringComparison.Ordinal);
                    if (current is null || comma < 0)
                    {
                        throw new FormatException($"{Where()}: 'same => {value}' needs an 'exten =>' line before it and priority,application.");
                    }

                    current.Add(Step(value[..comma].Trim(), value[(comma + 1)..].Trim(), current.Count, Where()));
                    break;
                }

                default:
                    continue; // include =>, switch =>: not modelled
            }
        }

        return (dialplan, globals);
    }

    /// <summary>One step in PbxSim's notation, <c>(label)App(args)</c>, checking the priority is the next one.</summary>
    private static string Step(string priority, string application, int stepsSoFar, string where)
    {
        var label = "";
        var open = priority.IndexOf('(', StringComparison.Ordinal);
        if (open >= 0)
        {
            label = priority[(open + 1)..].TrimEnd(')').Trim();
            priority = priority[..open].Trim();
        }

        var expected = stepsSoFar + 1;
        var ok = priority == "n"
            ? stepsSoFar > 0
            : int.TryParse(priority, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number == expected;
        if (!ok)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture,
                $"{where}: priority '{priority}' where {expected} (or n after the first) was expected; PbxSim reads contiguous priorities only."));
        }

        return label.Length > 0 ? $"({label}){application}" : application;
    }

    /// <summary>Drops a <c>;</c> comment (an escaped <c>\;</c> stays).</summary>
    private static string StripComment(string line)
    {
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == ';' && (i == 0 || line[i - 1] != '\\'))
            {
                return line[..i];
            }
        }

        return line;
    }
}
