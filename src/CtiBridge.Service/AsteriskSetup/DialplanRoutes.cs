namespace CtiBridge.Service.AsteriskSetup;

/// <summary>One dialplan priority as AMI <c>ShowDialPlan</c> lists it (<c>ListDialplan</c> event).</summary>
/// <param name="Context">The context.</param>
/// <param name="Extension">The extension as written (a pattern keeps its leading <c>_</c>).</param>
/// <param name="Priority">The priority number.</param>
/// <param name="Application">The application, e.g. <c>Stasis</c>.</param>
/// <param name="Data">Its argument text, unexpanded, e.g. <c>ctibridge,inbound,${EXTEN}</c>.</param>
public sealed record DialplanPriority(string Context, string Extension, int Priority, string Application, string Data);

/// <summary>Where a DID ends up in the dialplan, as far as the check can tell without running it.</summary>
/// <param name="Reaches">True when some context runs <c>Stasis(app,inbound,DID)</c> for it.</param>
/// <param name="Detail">Where it enters (<c>from-carrier _X.</c>) or why it does not.</param>
public sealed record DidRoute(bool Reaches, string Detail);

/// <summary>
/// Follows a dialled number through a dialplan read with <c>ShowDialPlan</c>: in each context where
/// an extension matches the number (exact first, then patterns, as Asterisk does), runs through the
/// priorities in order, following <c>Goto</c> (up to a few hops), until a <c>Stasis</c> call. The DID
/// reaches the app when that call is <c>Stasis(app,inbound,${EXTEN})</c> (or the DID written out).
/// Conditions (<c>GotoIf</c>, <c>ExecIf</c>) are not evaluated: a route that depends on them is not
/// followed, which the detail says.
/// </summary>
public sealed class DialplanRoutes(IReadOnlyList<DialplanPriority> priorities)
{
    private const int MaxHops = 5;

    /// <summary>Where <paramref name="did"/> goes, for the Stasis app <paramref name="app"/>.</summary>
    public DidRoute Follow(string did, string app)
    {
        ArgumentException.ThrowIfNullOrEmpty(did);
        ArgumentException.ThrowIfNullOrEmpty(app);
        var findings = new List<string>();
        foreach (var context in priorities.Select(p => p.Context).Distinct(StringComparer.Ordinal))
        {
            if (Match(context, did) is not { } extension)
            {
                continue;
            }

            var outcome = Run(context, extension, did, did, app, 0);
            if (outcome.Reaches)
            {
                return outcome;
            }

            findings.Add(outcome.Detail);
        }

        return findings.Count == 0
            ? new DidRoute(false, $"no extension in any context matches {did}")
            : new DidRoute(false, string.Join("; ", findings));
    }

    /// <summary>The extension Asterisk would run for <paramref name="exten"/> in <paramref name="context"/>: exact, else the first matching pattern.</summary>
    private string? Match(string context, string exten)
    {
        var extensions = priorities.Where(p => p.Context == context).Select(p => p.Extension).Distinct(StringComparer.Ordinal).ToList();
        return extensions.FirstOrDefault(e => e == exten)
            ?? extensions.FirstOrDefault(e => e.StartsWith('_') && PatternMatches(e[1..], exten));
    }

    /// <summary>Runs <paramref name="extension"/> of <paramref name="context"/> with <c>${EXTEN}</c> = <paramref name="exten"/>.</summary>
    private DidRoute Run(string context, string extension, string exten, string did, string app, int hops)
    {
        var where = $"{context} {extension}";
        foreach (var step in priorities.Where(p => p.Context == context && p.Extension == extension).OrderBy(p => p.Priority))
        {
            var args = step.Data.Split(',').Select(a => a.Trim()).ToArray();
            if (string.Equals(step.Application, "Stasis", StringComparison.OrdinalIgnoreCase))
            {
                if (!string.Equals(args[0], app, StringComparison.Ordinal))
                {
                    return new DidRoute(false, $"{where} runs Stasis({step.Data}): app '{args[0]}', not '{app}'");
                }

                if (args.Length < 3 || !string.Equals(args[1], "inbound", StringComparison.Ordinal))
                {
                    return new DidRoute(false, $"{where} runs Stasis({step.Data}), not Stasis({app},inbound,${{EXTEN}})");
                }

                var passed = args[2].Replace("${EXTEN}", exten, StringComparison.Ordinal);
                return passed == did
                    ? new DidRoute(true, where)
                    : new DidRoute(false, $"{where} runs Stasis({step.Data}), which passes '{passed}' instead of the DID {did}");
            }

            if (string.Equals(step.Application, "Goto", StringComparison.OrdinalIgnoreCase))
            {
                // Goto(priority) / Goto(exten,priority) / Goto(context,exten,priority)
                var (targetContext, targetExten) = args.Length switch
                {
                    >= 3 => (args[0], args[1]),
                    2 => (context, args[0]),
                    _ => (context, exten),
                };
                targetExten = targetExten.Replace("${EXTEN}", exten, StringComparison.Ordinal);
                if (hops >= MaxHops)
                {
                    return new DidRoute(false, $"{where} jumps more than {MaxHops} times (Goto); not followed further");
                }

                if (Match(targetContext, targetExten) is not { } next)
                {
                    return new DidRoute(false, $"{where} jumps to {targetExten}@{targetContext}, which does not exist");
                }

                var then = Run(targetContext, next, targetExten, did, app, hops + 1);
                return then with { Detail = $"{where} -> {then.Detail}" };
            }
        }

        return new DidRoute(false, $"{where} never runs Stasis({app},inbound,${{EXTEN}})");
    }

    /// <summary>Asterisk extension pattern matching (after the leading <c>_</c>): X, Z, N, [ranges], '.' and '!'; letters case-insensitive.</summary>
    public static bool PatternMatches(string pattern, string exten)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(exten);
        var e = 0;
        for (var p = 0; p < pattern.Length; p++)
        {
            var c = char.ToUpperInvariant(pattern[p]);
            switch (c)
            {
                case '.':
                    return e < exten.Length;
                case '!':
                    return true;
                case '-':
                    continue;
            }

            if (e >= exten.Length)
            {
                return false;
            }

            var x = exten[e];
            bool ok;
            switch (c)
            {
                case 'X':
                    ok = x is >= '0' and <= '9';
                    break;
                case 'Z':
                    ok = x is >= '1' and <= '9';
                    break;
                case 'N':
                    ok = x is >= '2' and <= '9';
                    break;
                case '[':
                    var close = pattern.IndexOf(']', p + 1);
                    if (close < 0)
                    {
                        return false;
                    }

                    ok = InSet(pattern[(p + 1)..close], x);
                    p = close;
                    break;
                default:
                    ok = char.ToUpperInvariant(x) == c;
                    break;
            }

            if (!ok)
            {
                return false;
            }

            e++;
        }

        return e == exten.Length;
    }

    private static bool InSet(string set, char x)
    {
        for (var i = 0; i < set.Length; i++)
        {
            if (i + 2 < set.Length && set[i + 1] == '-')
            {
                if (x >= set[i] && x <= set[i + 2])
                {
                    return true;
                }

                i += 2;
            }
            else if (set[i] == x)
            {
                return true;
            }
        }

        return false;
    }
}
