using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using CtiBridge.Core.Dialer;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Configuration;

/// <summary>
/// The <c>campaigns</c> list of ctibridge.json: outbound campaigns, each written exactly as a
/// campaign file (docs/dialer.md) and checked by the dialer's own <see cref="CampaignDefinition.Parse"/>,
/// so a campaign means the same in the file, over the API and on the command line. The list is read
/// from the JSON itself (not through the configuration binder) because a campaign's values (weekday
/// windows, retry delays) keep their JSON types there.
/// </summary>
public static partial class CampaignSection
{
    /// <summary>The section's name in the file.</summary>
    public const string Name = "campaigns";

    private static readonly string[] Settings = [.. typeof(CampaignDefinition).GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.SetMethod is { IsPublic: true } && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
        .Select(p => SettingsLoader.CamelCase(p.Name))];

    /// <summary>
    /// Checks the list and returns the campaigns. Every problem is added with its place in the file
    /// (<c>campaigns[1].policy: …</c>): unknown settings with a suggestion, values of the wrong type,
    /// everything the dialer refuses, ids used twice, and an agent group that is not a configured queue.
    /// </summary>
    /// <param name="section">The <c>campaigns</c> value of the file; null when the file has none.</param>
    /// <param name="callControl">The file's call control, for the agent groups (queues).</param>
    /// <param name="problems">Receives the problems.</param>
    public static List<CampaignDefinition> Parse(JsonNode? section, CallControlSettings callControl, List<SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(callControl);
        ArgumentNullException.ThrowIfNull(problems);
        var campaigns = new List<CampaignDefinition>();
        if (section is null)
        {
            return campaigns;
        }

        if (section is not JsonArray list)
        {
            problems.Add(new SettingsProblem(Name, "must be a list of campaigns, each written as a campaign file (docs/dialer.md)"));
            return campaigns;
        }

        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var queues = callControl.Queues.Select(q => q.Name).ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var at = $"{Name}[{i}]";
            if (list[i] is not JsonObject item)
            {
                problems.Add(new SettingsProblem(at, "must be an object: a campaign with id, agentGroup, mode, callerId, trunkPrefix ... (docs/dialer.md)"));
                continue;
            }

            var unknown = item.Select(p => p.Key).Where(k => !Settings.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
            foreach (var key in unknown)
            {
                problems.Add(new SettingsProblem($"{at}.{key}", $"unknown setting{SpellingSuggestion.DidYouMean(key, Settings)}"));
            }

            if (unknown.Count > 0)
            {
                continue;
            }

            CampaignDefinition campaign;
            try
            {
                campaign = CampaignDefinition.Parse(item.ToJsonString());
            }
            catch (DialerConfigurationException ex)
            {
                foreach (var error in ex.Errors)
                {
                    problems.Add(Problem(at, error));
                }

                continue;
            }

            if (ids.TryGetValue(campaign.Id, out var first))
            {
                problems.Add(new SettingsProblem($"{at}.id", $"'{campaign.Id}' is already the id of {Name}[{first}]; ids must be unique"));
                continue;
            }

            ids.Add(campaign.Id, i);
            if (callControl.IsEnabled && campaign.AgentGroup.Length > 0 && !queues.Contains(campaign.AgentGroup, StringComparer.Ordinal))
            {
                // The agent group is the queue dispositions and "call back later" callbacks belong to.
                problems.Add(new SettingsProblem($"{at}.agentGroup", $"'{campaign.AgentGroup}' is not a queue in callControl.queues{SpellingSuggestion.DidYouMean(campaign.AgentGroup, queues)}"));
                continue;
            }

            campaigns.Add(campaign);
        }

        return campaigns;
    }

    /// <summary>
    /// The dialer's message, placed in the file: its own "campaign 'id': " prefix goes (the path says
    /// which), and a JSON type error names the setting instead of a line of the campaign alone.
    /// </summary>
    private static SettingsProblem Problem(string at, string error)
    {
        var message = CampaignPrefix().Replace(error, string.Empty);
        var type = JsonTypeError().Match(message);
        if (type.Success)
        {
            var path = type.Groups["path"].Value.TrimStart('.');
            return new SettingsProblem(path.Length == 0 ? at : $"{at}.{path}", $"has a value of the wrong type ({type.Groups["what"].Value.Trim()})");
        }

        return new SettingsProblem(at, message);
    }

    [GeneratedRegex("^campaign (file|'[^']*')( \\([^)]*\\))?: ", RegexOptions.CultureInvariant)]
    private static partial Regex CampaignPrefix();

    [GeneratedRegex("^(?<what>The JSON value could not be converted to [^.]+(\\.[A-Za-z0-9]+)*)\\. Path: \\$(?<path>[^ |]*)", RegexOptions.CultureInvariant)]
    private static partial Regex JsonTypeError();
}
