using System.Text.RegularExpressions;
using CtiBridge.Core.Acd;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Live;

/// <summary>
/// A queue's screen-pop URL template, e.g.
/// <c>https://crm.example.com/pop?number={callerNumber}&amp;did={did}&amp;call={callId}</c>: each
/// <c>{placeholder}</c> is replaced by the call's value, URL-encoded; <c>{attr:NAME}</c> takes one of
/// the call's attributes (lead fields from the dialer, values set by the IVR); <c>{callerRegion}</c> the
/// region of the caller number's longest prefix in the <c>number_prefixes</c> table. Unknown values are empty.
/// </summary>
public sealed partial class ScreenPopTemplate
{
    /// <summary>The placeholders a template may use (besides <c>{attr:NAME}</c>).</summary>
    public static readonly IReadOnlyList<string> Placeholders =
        ["callId", "callerNumber", "callerName", "callerRegion", "did", "queue", "agentId", "customerId", "ivrPath", "language", "vip"];

    private readonly string _template;

    private ScreenPopTemplate(string template)
    {
        _template = template;
        UsesCallerRegion = template.Contains("{callerRegion}", StringComparison.Ordinal);
    }

    /// <summary>True when the template asks for <c>{callerRegion}</c> (the prefix table is then kept in memory).</summary>
    public bool UsesCallerRegion { get; }

    /// <summary>Checks a template; adds one problem per mistake, naming <paramref name="path"/>.</summary>
    public static void Validate(string? template, string path, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(problems);
        if (string.IsNullOrEmpty(template))
        {
            return;
        }

        foreach (Match match in Placeholder().Matches(template))
        {
            var name = match.Groups[1].Value;
            if (!name.StartsWith("attr:", StringComparison.Ordinal) && !Placeholders.Contains(name, StringComparer.Ordinal))
            {
                problems.Add(new SettingsProblem(path, $"'{{{name}}}' is not a screen-pop value ({string.Join(", ", Placeholders)}, attr:NAME){SpellingSuggestion.DidYouMean(name, Placeholders)}"));
            }
        }

        var sample = Placeholder().Replace(template, "x");
        if (!Uri.TryCreate(sample, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            problems.Add(new SettingsProblem(path, $"'{template}' is not an http(s) URL template such as https://crm.example.com/pop?number={{callerNumber}}&call={{callId}}"));
        }
    }

    /// <summary>A template already validated, or null for none.</summary>
    public static ScreenPopTemplate? From(string? template) => string.IsNullOrEmpty(template) ? null : new ScreenPopTemplate(template);

    /// <summary>
    /// The URL for one call offered to or connected with <paramref name="agentId"/>;
    /// <paramref name="callerRegion"/> is the caller number's region (null: unknown).
    /// </summary>
    public string Fill(string callId, string queue, string agentId, CallerData caller, string? callerRegion = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return Placeholder().Replace(_template, match =>
        {
            var name = match.Groups[1].Value;
            var value = name switch
            {
                "callId" => callId,
                "callerNumber" => caller.CallerNumber,
                "callerName" => caller.CallerName,
                "callerRegion" => callerRegion,
                "did" => caller.Did,
                "queue" => queue,
                "agentId" => agentId,
                "customerId" => caller.CustomerId,
                "ivrPath" => string.Join('-', caller.IvrPath),
                "language" => caller.Language,
                "vip" => caller.IsVip ? "1" : "0",
                _ when name.StartsWith("attr:", StringComparison.Ordinal) => caller.Attributes.GetValueOrDefault(name["attr:".Length..]),
                _ => null,
            };
            return Uri.EscapeDataString(value ?? string.Empty);
        });
    }

    /// <inheritdoc />
    public override string ToString() => _template;

    [GeneratedRegex(@"\{([A-Za-z][A-Za-z0-9_.:-]*)\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();
}
