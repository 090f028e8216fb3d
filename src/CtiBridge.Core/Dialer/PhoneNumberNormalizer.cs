namespace CtiBridge.Core.Dialer;

/// <summary>
/// Turns a number as people write it (<c>(212) 555-0100</c>, <c>+44 20 7946 0958</c>,
/// <c>0044 20 7946 0958</c>, <c>020 7946 0958</c>) into E.164 (<c>+12125550100</c>), with a
/// default country calling code for national numbers. Says what is wrong when it cannot.
/// </summary>
/// <param name="defaultCountryCode">Country calling code for numbers written without one (e.g. "1", "44", "86").</param>
public sealed class PhoneNumberNormalizer(string defaultCountryCode)
{
    /// <summary>The default country calling code (digits only).</summary>
    public string DefaultCountryCode { get; } = IsCountryCode(defaultCountryCode)
        ? defaultCountryCode
        : throw new ArgumentException($"default country calling code '{defaultCountryCode}' must be 1 to 3 digits, not starting with 0", nameof(defaultCountryCode));

    /// <summary>True for 1-3 digits not starting with 0.</summary>
    public static bool IsCountryCode(string? code) =>
        code is { Length: >= 1 and <= 3 } && code[0] != '0' && code.All(char.IsAsciiDigit);

    /// <summary>The E.164 form of <paramref name="written"/>, or null with <paramref name="error"/> saying why.</summary>
    public string? Normalize(string? written, out string? error)
    {
        error = null;
        var text = written?.Trim() ?? string.Empty;
        if (text.Length == 0)
        {
            error = "the phone number is empty";
            return null;
        }

        var digits = new System.Text.StringBuilder(text.Length);
        var international = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c == '+' && digits.Length == 0 && !international)
            {
                international = true;
            }
            else if (c is ' ' or '-' or '.' or '(' or ')' or '/' or '\u00a0')
            {
                // Separators people use when writing numbers.
            }
            else
            {
                error = $"'{text}' contains '{c}', which is not part of a phone number (digits, a leading +, spaces, - . ( ) /)";
                return null;
            }
        }

        var d = digits.ToString();
        string e164;
        if (international)
        {
            e164 = "+" + d;
        }
        else if (d.StartsWith("00", StringComparison.Ordinal))
        {
            e164 = "+" + d[2..];
        }
        else if (DefaultCountryCode == "1")
        {
            // North American Numbering Plan: ten digits, or eleven with the leading 1.
            e164 = d.Length == 11 && d[0] == '1' ? "+" + d : "+1" + d;
        }
        else
        {
            // Elsewhere a national number starts with the trunk prefix 0, which E.164 drops.
            e164 = "+" + DefaultCountryCode + (d.StartsWith('0') ? d[1..] : d);
        }

        if (!PhoneNumbers.IsE164(e164) || e164.Length < 8)
        {
            error = $"'{text}' is not a valid phone number (E.164 would be '{e164}': '+', country code, 7 to 15 digits in all)";
            return null;
        }

        if (e164.StartsWith("+1", StringComparison.Ordinal) && (e164.Length != 12 || e164[2] is '0' or '1' || e164[5] is '0' or '1'))
        {
            error = $"'{text}' is not a valid North American number (+1, a 3-digit area code and a 7-digit number, neither starting with 0 or 1)";
            return null;
        }

        return e164;
    }
}
