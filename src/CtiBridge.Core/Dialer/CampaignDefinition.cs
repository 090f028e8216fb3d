using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CtiBridge.Core.Dialer;

/// <summary>
/// A campaign as an operator writes it (the JSON campaign file, stored in the database): the
/// <see cref="Campaign"/> settings in plain units (seconds, "09:00-20:00"), plus what the lead
/// import and the time-zone lookup need. <see cref="Parse"/> checks everything and names each problem.
/// </summary>
public sealed class CampaignDefinition
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Campaign id (letters, digits, <c>_ . -</c>).</summary>
    public string Id { get; set; } = "";

    /// <summary>The agent group / ACD queue whose agents take the calls.</summary>
    public string AgentGroup { get; set; } = "";

    /// <summary>Dialling mode.</summary>
    public DialingMode Mode { get; set; } = DialingMode.Predictive;

    /// <summary>Lines per ready agent in power mode.</summary>
    public double PowerRatio { get; set; } = 1.5;

    /// <summary>Voice broadcast variant.</summary>
    public BroadcastKind Broadcast { get; set; } = BroadcastKind.MessageOnly;

    /// <summary>Voice broadcast recording.</summary>
    public string? BroadcastMessage { get; set; }

    /// <summary>Caller ID (E.164).</summary>
    public string CallerId { get; set; } = "";

    /// <summary>Caller name.</summary>
    public string? CallerName { get; set; }

    /// <summary>Asterisk endpoint prefix, e.g. <c>PJSIP/carrier/</c>.</summary>
    public string TrunkPrefix { get; set; } = "";

    /// <summary>Digits put before the number.</summary>
    public string DialPrefix { get; set; } = "";

    /// <summary>Calling hours per weekday (<c>"Monday": ["09:00-12:00", "13:00-20:00"]</c>); absent = US federal 08:00-21:00 every day; <c>"*"</c> = every day not named; a day not listed is closed.</summary>
    public Dictionary<string, string[]>? Windows { get; set; }

    /// <summary>No call before (ISO 8601).</summary>
    public DateTimeOffset? Start { get; set; }

    /// <summary>No call from (ISO 8601).</summary>
    public DateTimeOffset? Deadline { get; set; }

    /// <summary>Most calls up at once.</summary>
    public int MaxConcurrentLines { get; set; } = 30;

    /// <summary>Most attempts per lead.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Retry delays in seconds by outcome: busy, noAnswer, congestion, machine, rejected, abandoned.</summary>
    public Dictionary<string, double>? RetrySeconds { get; set; }

    /// <summary>Higher first.</summary>
    public int Priority { get; set; }

    /// <summary>Compliance profile: <c>US-TSR</c> (default) or <c>UK-Ofcom</c>.</summary>
    public string Policy { get; set; } = "US-TSR";

    /// <summary>Overrides the profile's abandon limit (0.03 = 3 %).</summary>
    public double? MaxAbandonRate { get; set; }

    /// <summary>Overrides the profile's measuring window, in days.</summary>
    public double? AbandonWindowDays { get; set; }

    /// <summary>Recording played to abandoned live answers.</summary>
    public string? AbandonMessage { get; set; }

    /// <summary>Answering machines: HangUpAndRetry, LeaveMessage, ConnectToAgent.</summary>
    public MachineHandling Machines { get; set; } = MachineHandling.HangUpAndRetry;

    /// <summary>Recording left on machines.</summary>
    public string? MachineMessage { get; set; }

    /// <summary>Run answering-machine detection on answered calls (needs the <c>amdContext</c> dialplan; see docs/dialer.md).</summary>
    public bool AnsweringMachineDetection { get; set; }

    /// <summary>Dial timeout in seconds (at least the policy's 15 s).</summary>
    public double RingTimeoutSeconds { get; set; } = 26;

    /// <summary>Predictive: give up lines that rang <see cref="GiveUpAfterSeconds"/> unanswered when few agents are free (default true); false: every line rings to the ring timeout.</summary>
    public bool GiveUpUnanswered { get; set; } = true;

    /// <summary>Predictive give-up: ring time before a line may be given up, in seconds; null = the policy's minimum ring time (15 s under the TSR). At least that, and below <see cref="RingTimeoutSeconds"/>.</summary>
    public double? GiveUpAfterSeconds { get; set; }

    /// <summary>Predictive give-up: only when at most this many agents are free for answers beyond those waiting (default 1; 0 = only when none is).</summary>
    public int GiveUpWhenAgentsFreeAtMost { get; set; } = 1;

    /// <summary>Predictive warm-up results.</summary>
    public int PredictiveWarmUpCalls { get; set; } = 50;

    /// <summary>Wrap-up after a campaign call before the agent gets the next one, in seconds.</summary>
    public double WrapUpSeconds { get; set; } = 10;

    /// <summary>Preview mode: how long an agent may look at a lead before <see cref="PreviewTimeout"/> decides for them, in seconds.</summary>
    public double PreviewSeconds { get; set; } = 30;

    /// <summary>Preview mode: what happens when the agent neither dials nor skips in time (Skip, the default, or Dial).</summary>
    public PreviewExpiry PreviewTimeout { get; set; } = PreviewExpiry.Skip;

    /// <summary>Voice broadcast with "press 1": lines per logged-in agent.</summary>
    public double BroadcastLinesPerAgent { get; set; } = 5;

    /// <summary>Voice broadcast with "press 1": how long a person who pressed 1 waits (music) for an agent before the abandon message, in seconds.</summary>
    public double PressOneWaitSeconds { get; set; } = 30;

    /// <summary>Country calling code for numbers imported without one.</summary>
    public string DefaultCountryCode { get; set; } = "1";

    /// <summary>E.164 prefix → IANA time zone, longest prefix wins.</summary>
    public Dictionary<string, string>? TimeZones { get; set; }

    /// <summary>Zone when neither the lead nor a prefix says; null = such leads are rejected at import.</summary>
    public string? DefaultTimeZone { get; set; }

    /// <summary>The domain campaign (valid when <see cref="Parse"/> returned this definition).</summary>
    [JsonIgnore]
    public Campaign Campaign { get; private set; } = null!;

    /// <summary>The time-zone lookup of this campaign.</summary>
    [JsonIgnore]
    public LeadTimeZones Zones { get; private set; } = null!;

    /// <summary>The normaliser for imported numbers.</summary>
    [JsonIgnore]
    public PhoneNumberNormalizer Numbers { get; private set; } = null!;

    /// <summary>Reads and checks a campaign file; throws <see cref="DialerConfigurationException"/> listing every problem.</summary>
    public static CampaignDefinition Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        CampaignDefinition? definition;
        try
        {
            definition = JsonSerializer.Deserialize<CampaignDefinition>(json, Options);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" (line {line + 1}, position {ex.BytePositionInLine + 1})" : string.Empty;
            throw new DialerConfigurationException([$"campaign file{where}: {ex.Message}"]);
        }

        if (definition is null)
        {
            throw new DialerConfigurationException(["campaign file: is empty (null)"]);
        }

        definition.Build();
        return definition;
    }

    /// <summary>The definition as JSON (as stored).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Options);

    private void Build()
    {
        var errors = new List<string>();
        var name = string.IsNullOrWhiteSpace(Id) ? "(no id)" : Id;
        void Bad(string message) => errors.Add($"campaign '{name}': {message}");

        if (!System.Text.RegularExpressions.Regex.IsMatch(Id, "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"))
        {
            Bad($"id '{Id}' must be 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit)");
        }

        var windows = ParseWindows(Bad);
        var retry = new RetryDelays();
        foreach (var (key, seconds) in RetrySeconds ?? [])
        {
            var delay = TimeSpan.FromSeconds(seconds);
            retry = key.ToUpperInvariant() switch
            {
                "BUSY" => retry with { Busy = delay },
                "NOANSWER" => retry with { NoAnswer = delay },
                "CONGESTION" => retry with { Congestion = delay },
                "MACHINE" => retry with { Machine = delay },
                "REJECTED" => retry with { Rejected = delay },
                "ABANDONED" => retry with { Abandoned = delay },
                _ => Unknown(key),
            };
        }

        RetryDelays Unknown(string key)
        {
            Bad($"retrySeconds has an unknown outcome '{key}' (busy, noAnswer, congestion, machine, rejected, abandoned)");
            return retry;
        }

        var policy = Policy.ToUpperInvariant() switch
        {
            "US-TSR" => CompliancePolicy.UsTelemarketingSalesRule,
            "UK-OFCOM" => CompliancePolicy.UkOfcom,
            _ => null,
        };
        if (policy is null)
        {
            Bad($"policy '{Policy}' is unknown (US-TSR or UK-Ofcom)");
            policy = CompliancePolicy.UsTelemarketingSalesRule;
        }

        if (MaxAbandonRate is { } rate)
        {
            policy = policy with { MaxAbandonRate = rate };
        }

        if (AbandonWindowDays is { } days)
        {
            policy = policy with { AbandonWindow = TimeSpan.FromDays(days) };
        }

        if (!PhoneNumberNormalizer.IsCountryCode(DefaultCountryCode))
        {
            Bad($"defaultCountryCode '{DefaultCountryCode}' must be 1-3 digits not starting with 0 (e.g. \"1\", \"44\", \"86\")");
        }

        if (!(WrapUpSeconds >= 0))
        {
            Bad($"wrapUpSeconds must not be negative (was {WrapUpSeconds})");
        }

        if (!(PreviewSeconds >= 1 && PreviewSeconds <= 3600))
        {
            Bad($"previewSeconds must be between 1 and 3600 (was {PreviewSeconds})");
        }

        if (GiveUpAfterSeconds is { } giveUpSeconds && !(double.IsFinite(giveUpSeconds) && giveUpSeconds <= 3600))
        {
            Bad($"giveUpAfterSeconds must be a number of seconds up to 3600 (was {giveUpSeconds})");
        }

        if (!(PressOneWaitSeconds >= 0 && PressOneWaitSeconds <= 3600))
        {
            Bad($"pressOneWaitSeconds must be between 0 and 3600 (was {PressOneWaitSeconds})");
        }

        LeadTimeZones? zones = null;
        try
        {
            zones = new LeadTimeZones(TimeZones ?? [], DefaultTimeZone);
        }
        catch (DialerConfigurationException ex)
        {
            foreach (var problem in ex.Errors)
            {
                Bad(problem);
            }
        }

        var campaign = new Campaign
        {
            Id = Id,
            AgentGroup = AgentGroup,
            Mode = Mode,
            PowerRatio = PowerRatio,
            Broadcast = Broadcast,
            BroadcastMessage = BroadcastMessage,
            CallerId = CallerId,
            CallerName = CallerName,
            TrunkPrefix = TrunkPrefix,
            DialPrefix = DialPrefix,
            Windows = windows ?? CallingWindows.UsFederalDefault,
            Start = Start ?? DateTimeOffset.MinValue,
            Deadline = Deadline,
            MaxConcurrentLines = MaxConcurrentLines,
            MaxAttempts = MaxAttempts,
            Retry = retry,
            Priority = Priority,
            Policy = policy,
            AbandonMessage = AbandonMessage,
            Machines = Machines,
            MachineMessage = MachineMessage,
            RingTimeout = TimeSpan.FromSeconds(RingTimeoutSeconds),
            GiveUpUnanswered = GiveUpUnanswered,
            GiveUpAfter = GiveUpAfterSeconds is { } giveUpAfter && double.IsFinite(giveUpAfter) ? TimeSpan.FromSeconds(giveUpAfter) : null,
            GiveUpWhenAgentsFreeAtMost = GiveUpWhenAgentsFreeAtMost,
            PredictiveWarmUpCalls = PredictiveWarmUpCalls,
            BroadcastLinesPerAgent = BroadcastLinesPerAgent,
        };
        foreach (var problem in campaign.Validate())
        {
            errors.Add(problem);
        }

        if (errors.Count > 0)
        {
            throw new DialerConfigurationException(errors);
        }

        Campaign = campaign;
        Zones = zones!;
        Numbers = new PhoneNumberNormalizer(DefaultCountryCode);
    }

    private CallingWindows? ParseWindows(Action<string> bad)
    {
        if (Windows is null)
        {
            return null;
        }

        var spans = new Dictionary<DayOfWeek, IReadOnlyList<CallingSpan>>();
        var named = Windows.Keys.Where(k => k != "*" && Enum.TryParse<DayOfWeek>(k, ignoreCase: true, out _)).Select(k => Enum.Parse<DayOfWeek>(k, ignoreCase: true)).ToHashSet();
        foreach (var (dayText, texts) in Windows)
        {
            DayOfWeek[] days;
            if (dayText == "*")
            {
                days = Enum.GetValues<DayOfWeek>();
            }
            else if (Enum.TryParse<DayOfWeek>(dayText, ignoreCase: true, out var day) && !int.TryParse(dayText, out _))
            {
                days = [day];
            }
            else
            {
                bad($"windows: '{dayText}' is not a weekday (Monday … Sunday, or * for every day)");
                continue;
            }

            var list = new List<CallingSpan>();
            foreach (var text in texts)
            {
                var parts = text.Split('-', StringSplitOptions.TrimEntries);
                if (parts.Length == 2
                    && TimeOnly.TryParseExact(parts[0], "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var from)
                    && (TimeOnly.TryParseExact(parts[1], "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var to) || parts[1] == "24:00")
                    && (parts[1] == "24:00" || to > from))
                {
                    list.Add(new CallingSpan(from, parts[1] == "24:00" ? TimeOnly.MaxValue : to));
                }
                else
                {
                    bad($"windows.{dayText}: '{text}' is not a span like \"09:00-20:00\" (HH:mm-HH:mm, end after start)");
                }
            }

            foreach (var day in days)
            {
                // A named weekday replaces what "*" said for it, whatever the order in the file.
                if (dayText != "*" || !named.Contains(day))
                {
                    spans[day] = list;
                }
            }
        }

        return new CallingWindows(spans);
    }
}

/// <summary>What preview mode does with a lead the agent neither dialled nor skipped within <see cref="CampaignDefinition.PreviewSeconds"/>.</summary>
public enum PreviewExpiry
{
    /// <summary>The lead goes back to the list (behind the leads never tried) and the agent gets the next one.</summary>
    Skip,

    /// <summary>The lead is dialled for the agent.</summary>
    Dial,
}
