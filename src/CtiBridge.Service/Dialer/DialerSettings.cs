namespace CtiBridge.Service.Dialer;

/// <summary>The <c>dialer</c> section of ctibridge.json: whether this instance runs outbound campaigns, and how.</summary>
public sealed class DialerSettings
{
    /// <summary>Run the campaigns marked running in the database (default false).</summary>
    public bool Enabled { get; set; }

    /// <summary>The Asterisk server (by name) that places the calls; default the first one configured.</summary>
    public string? Server { get; set; }

    /// <summary>
    /// The Stasis application of the dialer's channels (customers and agents' nailed-up channels);
    /// separate from call control's, so each sees only its own calls. Add it to ari.conf's allowed apps if restricted.
    /// </summary>
    public string Application { get; set; } = "ctibridge-dialer";

    /// <summary>How often every running campaign is paced (seconds; also on each agent becoming ready).</summary>
    public double PlanIntervalSeconds { get; set; } = 1;

    /// <summary>How often the list of running campaigns and their settings are re-read (seconds).</summary>
    public double CampaignRefreshSeconds { get; set; } = 5;

    /// <summary>This instance's id for hopper claims; default host name + a random suffix (unique per start).</summary>
    public string? InstanceId { get; set; }

    /// <summary>
    /// The dialplan context of answering-machine detection (extension <c>s</c>), or null for none.
    /// When set, every answered customer of a campaign whose <c>machines</c> is not
    /// <c>ConnectToAgent</c> is sent there with ARI <c>continue</c>; the context must run <c>AMD()</c>
    /// and return with <c>Stasis(APPLICATION,dialer-amd,${AMDSTATUS},${AMDCAUSE})</c> (docs/dialer.md).
    /// </summary>
    public string? AmdContext { get; set; }

    /// <summary>
    /// Directory of the dialer's call-record journal (its attempts as <c>calls</c> rows are kept
    /// there while PostgreSQL is unreachable, then replayed). Not the one of call control: each
    /// journal has one writer.
    /// </summary>
    public string RecordJournalDirectory { get; set; } = "/var/lib/ctibridge/dialer";

    /// <summary>Size bound of that journal in MiB (an alarm is logged at 80 %).</summary>
    public int RecordJournalMaxMegabytes { get; set; } = 64;

    /// <summary>
    /// How often (seconds, 1-3600) the dialer checks the answered calls and agents' nailed-up lines it
    /// holds against Asterisk's channel list and ends those that are gone but whose end was never
    /// reported (an events gap whose resync could not read the list): without it such a call would
    /// hold its lead, line and agent for the campaign's longest call (4 h).
    /// </summary>
    public double LineAuditSeconds { get; set; } = 30;

    /// <summary>
    /// Trunks whose lines several campaigns share (docs/dialer.md "Trunk lines shared between
    /// campaigns"): a campaign whose <c>trunkPrefix</c> is a trunk's draws from its <c>maxLines</c>,
    /// higher <c>priority</c> first, across every instance dialling on the same Asterisk server.
    /// </summary>
    public List<DialerTrunk> Trunks { get; set; } = [];

    /// <summary>Adds a problem for each invalid dialer setting (each names its setting).</summary>
    /// <param name="settings">The dialer section.</param>
    /// <param name="problems">Where the problems go.</param>
    public static void Validate(DialerSettings settings, List<Configuration.SettingsProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(problems);
        if (!(settings.PlanIntervalSeconds is > 0 and <= 60))
        {
            problems.Add(new("dialer.planIntervalSeconds", $"must be between 0 and 60 seconds (was {settings.PlanIntervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)})"));
        }

        if (!(settings.LineAuditSeconds is >= 1 and <= 3600))
        {
            problems.Add(new("dialer.lineAuditSeconds", $"must be between 1 and 3600 seconds (was {settings.LineAuditSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)})"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var prefixes = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < settings.Trunks.Count; i++)
        {
            var at = $"dialer.trunks[{i}]";
            var trunk = settings.Trunks[i];
            if (trunk is null)
            {
                problems.Add(new(at, "must be an object: { \"name\": \"carrier\", \"trunkPrefix\": \"PJSIP/carrier/\", \"maxLines\": 30 }"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(trunk.Name) || trunk.Name.Length > 64 || !trunk.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                problems.Add(new(at + ".name", $"'{trunk.Name}' is not a trunk name (1-64 letters, digits, _ . -)"));
            }
            else if (!names.Add(trunk.Name))
            {
                problems.Add(new(at + ".name", $"trunk '{trunk.Name}' is listed twice"));
            }

            if (string.IsNullOrWhiteSpace(trunk.TrunkPrefix))
            {
                problems.Add(new(at + ".trunkPrefix", "is required: the trunkPrefix of the campaigns that dial through this trunk (e.g. \"PJSIP/carrier/\")"));
            }
            else if (!prefixes.TryAdd(trunk.TrunkPrefix, trunk.Name ?? string.Empty))
            {
                problems.Add(new(at + ".trunkPrefix", $"'{trunk.TrunkPrefix}' is already the prefix of trunk '{prefixes[trunk.TrunkPrefix]}': a campaign draws from one trunk"));
            }

            if (trunk.MaxLines is < 1 or > 100_000)
            {
                problems.Add(new(at + ".maxLines", $"must be between 1 and 100000 (was {trunk.MaxLines})"));
            }
        }
    }

    /// <summary>The trunk a campaign dialling through <paramref name="trunkPrefix"/> draws its lines from, if one is configured.</summary>
    public DialerTrunk? TrunkFor(string trunkPrefix) => Trunks.FirstOrDefault(t => t is not null && string.Equals(t.TrunkPrefix, trunkPrefix, StringComparison.Ordinal));
}

/// <summary>One trunk whose lines campaigns share (an entry of <c>dialer.trunks</c>).</summary>
public sealed class DialerTrunk
{
    /// <summary>The trunk's name, for logs and errors (letters, digits, _ . -).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The campaigns whose <c>trunkPrefix</c> is exactly this one dial through the trunk.</summary>
    public string TrunkPrefix { get; set; } = string.Empty;

    /// <summary>Calls the trunk carries at once (1-100000): ringing, waiting for an agent, talking, playing a message.</summary>
    public int MaxLines { get; set; }
}
