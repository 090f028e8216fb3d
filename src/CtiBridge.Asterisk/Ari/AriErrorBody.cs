using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CtiBridge.Asterisk.Ari;

/// <summary>Pulls Asterisk's explanation out of an error body, whatever shape it has.</summary>
internal static partial class AriErrorBody
{
    /// <summary>
    /// <c>{"message":"..."}</c> (most errors), <c>{"error":"..."}</c> (500 from a failed allocation), or the
    /// <c>&lt;p&gt;</c> line of Asterisk's HTML error page (failed WebSocket upgrade); null if none.
    /// </summary>
    public static string? ExtractMessage(string body)
    {
        var trimmed = body.AsSpan().Trim();
        if (trimmed.IsEmpty)
        {
            return null;
        }

        if (trimmed[0] == '{')
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                foreach (var name in (ReadOnlySpan<string>)["message", "error"])
                {
                    if (document.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                    {
                        return value.GetString();
                    }
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: fall through to the raw text.
            }
        }
        else if (trimmed[0] == '<')
        {
            var match = HtmlParagraph().Match(body);
            if (match.Success)
            {
                return WebUtility.HtmlDecode(match.Groups[1].Value.Trim());
            }
        }

        return trimmed.Length <= 200 ? trimmed.ToString() : string.Concat(trimmed[..200], "...");
    }

    [GeneratedRegex("<p>(.*?)</p>", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex HtmlParagraph();
}
