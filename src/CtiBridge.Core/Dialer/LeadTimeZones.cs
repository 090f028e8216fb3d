namespace CtiBridge.Core.Dialer;

/// <summary>
/// Finds the time zone of a lead: its own time-zone field when set, otherwise the longest
/// matching E.164 prefix of its number (e.g. <c>+1212</c> → America/New_York), otherwise the
/// campaign's default zone. Unknown zone ids are rejected when the table is built.
/// </summary>
public sealed class LeadTimeZones
{
    private readonly (string Prefix, TimeZoneInfo Zone)[] _prefixes;

    /// <summary>Builds the resolver; throws <see cref="DialerConfigurationException"/> naming each bad entry.</summary>
    /// <param name="prefixToZone">E.164 prefixes (with the leading '+') mapped to IANA zone ids.</param>
    /// <param name="defaultZoneId">Zone used when neither the lead nor a prefix says; null = no default (lead is not dialled).</param>
    public LeadTimeZones(IReadOnlyDictionary<string, string> prefixToZone, string? defaultZoneId)
    {
        ArgumentNullException.ThrowIfNull(prefixToZone);
        var errors = new List<string>();
        var list = new List<(string, TimeZoneInfo)>();
        foreach (var (prefix, zoneId) in prefixToZone)
        {
            if (!PhoneNumbers.IsE164Prefix(prefix))
            {
                errors.Add($"time-zone prefix '{prefix}' is not an E.164 prefix ('+' then 1-15 digits)");
                continue;
            }

            if (TryFindZone(zoneId, out var zone))
            {
                list.Add((prefix, zone));
            }
            else
            {
                errors.Add($"time-zone prefix '{prefix}': unknown time zone '{zoneId}'");
            }
        }

        TimeZoneInfo? defaultZone = null;
        if (defaultZoneId is not null && !TryFindZone(defaultZoneId, out defaultZone))
        {
            errors.Add($"default time zone '{defaultZoneId}' is unknown");
        }

        if (errors.Count > 0)
        {
            throw new DialerConfigurationException(errors);
        }

        _prefixes = [.. list.OrderByDescending(p => p.Item1.Length)];
        DefaultZone = defaultZone;
    }

    /// <summary>The zone used when nothing else matches, if any.</summary>
    public TimeZoneInfo? DefaultZone { get; }

    /// <summary>The zone of <paramref name="lead"/>, or null when it cannot be told (such a lead is never dialled).</summary>
    public TimeZoneInfo? ZoneOf(Lead lead)
    {
        ArgumentNullException.ThrowIfNull(lead);
        if (lead.TimeZoneId is { Length: > 0 } id)
        {
            return TryFindZone(id, out var own) ? own : null;
        }

        foreach (var (prefix, zone) in _prefixes)
        {
            if (lead.PhoneNumber.StartsWith(prefix, StringComparison.Ordinal))
            {
                return zone;
            }
        }

        return DefaultZone;
    }

    /// <summary>Looks up an IANA (or Windows) zone id without throwing.</summary>
    public static bool TryFindZone(string id, out TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (TimeZoneInfo.TryFindSystemTimeZoneById(id, out var found))
        {
            zone = found;
            return true;
        }

        zone = TimeZoneInfo.Utc;
        return false;
    }
}

/// <summary>E.164 number checks shared by the dialer.</summary>
public static class PhoneNumbers
{
    /// <summary>True for '+' followed by 2 to 15 digits, the first not 0.</summary>
    public static bool IsE164(string? number) => IsE164Like(number, 2);

    /// <summary>True for '+' followed by 1 to 15 digits (a country code or longer prefix).</summary>
    public static bool IsE164Prefix(string? prefix) => IsE164Like(prefix, 1);

    private static bool IsE164Like(string? value, int minDigits)
    {
        if (value is null || value.Length < 1 + minDigits || value.Length > 16 || value[0] != '+' || value[1] == '0')
        {
            return false;
        }

        for (var i = 1; i < value.Length; i++)
        {
            if (!char.IsAsciiDigit(value[i]))
            {
                return false;
            }
        }

        return true;
    }
}
