using System.Globalization;
using System.Text;

namespace CtiBridge.PbxSim.Model;

/// <summary>One dialplan step: an application and its (unexpanded) argument text, and its label if it has one.</summary>
internal sealed record DialplanStep(string Application, string Data, string? Label = null);

/// <summary>
/// The dialplan: contexts of extensions (exact or <c>_pattern</c>), each a list of steps. Parses the
/// extensions.conf step syntax <c>App(args)</c> (with an optional priority label written first,
/// <c>(label)App(args)</c>, as extensions.conf's <c>n(label)</c>), matches patterns (X, Z, N, [..], ., !) and expands
/// <c>${VAR}</c>, <c>${EXTEN:n}</c>, <c>${CALLERID(num|name|all)}</c> and <c>$[a = b]</c> / <c>$[a != b]</c> /
/// <c>$[a &lt; b]</c> (also &gt;, &lt;=, &gt;=) / <c>$[a + b]</c> / <c>$[a - b]</c> on integers.
/// </summary>
internal sealed class Dialplan
{
    private readonly Dictionary<string, Dictionary<string, List<DialplanStep>>> _contexts = new(StringComparer.Ordinal);

    public Dialplan(Dictionary<string, Dictionary<string, List<string>>> source)
    {
        foreach (var (context, extensions) in source)
        {
            var parsed = new Dictionary<string, List<DialplanStep>>(StringComparer.Ordinal);
            foreach (var (exten, steps) in extensions)
            {
                parsed[exten] = steps.Select((s, i) => ParseStep(s, $"{context},{exten},{i + 1}")).ToList();
            }

            _contexts[context] = parsed;
        }
    }

    /// <summary>The dialplan of the Asterisk instance that recorded the fixtures.</summary>
    public static Dictionary<string, Dictionary<string, List<string>>> RecordingInstance()
    {
        var plan = new Dictionary<string, Dictionary<string, List<string>>>
        {
            ["agents"] = new()
            {
                ["noanswer9"] = ["NoOp(Agent phone ${EXTEN} never answers)", "Ringing()", "Wait(3600)"],
                ["h"] = ["ExecIf($[\"${AGENT_ID}\" != \"\"]?Set(DEVICE_STATE(Custom:agent${AGENT_ID})=NOT_INUSE))"],
            },
            ["customer"] = new()
            {
                ["talk"] = ["NoOp(Customer on the line)", "Wait(3600)"],
                ["dtmf"] = ["NoOp(Customer keys DTMF)", "Wait(2)", "SendDTMF(123#,250)", "Wait(3600)"],
                ["abandon"] = ["Wait(5)", "Hangup()"],
            },
            ["inbound"] = new()
            {
                ["_X"] = ["Answer()", "Playback(hello-world)", "Dial(Local/agent${EXTEN}@agents,30,tTA(beep))"],
            },
            ["outcomes"] = new()
            {
                ["200"] = ["NoOp(Human answers)", "Ringing()", "Wait(2)", "Answer()", "Wait(3600)"],
                ["300"] = ["Ringing()", "Wait(3)", "Answer()", "Playback(vm-intro&beep)", "Wait(3600)"],
                ["408"] = ["Ringing()", "Wait(3600)"],
                ["480"] = ["Hangup(20)"],
                ["486"] = ["Busy(10)"],
                ["503"] = ["Congestion(10)"],
                ["603"] = ["Ringing()", "Wait(2)", "Hangup(21)"],
                ["5550001"] = ["Goto(outcomes,200,1)"],
                ["5550002"] = ["Goto(outcomes,200,1)"],
                ["5554001"] = ["Goto(outcomes,300,1)"],
            },
            ["queues"] = new()
            {
                ["support"] = ["Answer()", "Queue(support,tT,,,120)"],
                ["sales"] = ["Answer()", "Queue(sales,tT,,,120)"],
                ["linear"] = ["Answer()", "Queue(linear,tT,,,120)"],
            },
            ["supervisors"] = new()
            {
                ["_supX"] = ["Ringing()", "Wait(1)", "Answer()", "Wait(3600)"],
            },
            ["transfers"] = new()
            {
                ["_X"] = ["Dial(Local/agent${EXTEN}@agents,30,tT)"],
            },
            ["callers"] = new()
            {
                ["_X."] = ["NoOp(Inbound call to ${EXTEN} from ${CALLERID(all)})", "Answer()", "Stasis(ctibridge,inbound,${EXTEN})"],
            },
            ["callers-ringing"] = new()
            {
                ["_X."] = ["NoOp(Ringing inbound call to ${EXTEN} from ${CALLERID(all)})", "Ringing()", "Stasis(ctibridge,inbound-ringing,${EXTEN})"],
            },
        };

        // agent1..agent9 are written out: in a pattern, the 'n' of "agent" would mean [2-9].
        for (var i = 1; i <= 9; i++)
        {
            plan["agents"]["agent" + i.ToString(CultureInfo.InvariantCulture)] =
            [
                "NoOp(Agent phone ${EXTEN} rings)", "Set(AGENT_ID=${EXTEN:5})", "Set(DEVICE_STATE(Custom:${EXTEN})=RINGING)",
                "Ringing()", "Wait(${AGENT_RING_SECS})", "Answer()", "Set(DEVICE_STATE(Custom:${EXTEN})=INUSE)", "Wait(3600)",
            ];
        }

        return plan;
    }

    public bool ContextExists(string context) => _contexts.ContainsKey(context);

    /// <summary>Every context with its extensions (patterns keep their leading <c>_</c>) and steps, in definition order.</summary>
    public IEnumerable<(string Context, string Extension, IReadOnlyList<DialplanStep> Steps)> Listing() =>
        _contexts.SelectMany(c => c.Value.Select(e => (c.Key, e.Key, (IReadOnlyList<DialplanStep>)e.Value)));

    /// <summary>Whether <paramref name="exten"/> exists in <paramref name="context"/> (exact first, then patterns).</summary>
    public bool Exists(string context, string exten) => Find(context, exten) is not null;

    /// <summary>The priority of the step labelled <paramref name="label"/> in an extension, or null if there is none.</summary>
    public int? LabelPriority(string context, string exten, string label)
    {
        var steps = Find(context, exten);
        var index = steps?.FindIndex(s => string.Equals(s.Label, label, StringComparison.Ordinal)) ?? -1;
        return index >= 0 ? index + 1 : null;
    }

    /// <summary>The step at a priority, or null when the extension ends there (or does not exist).</summary>
    public DialplanStep? Step(string context, string exten, int priority)
    {
        var steps = Find(context, exten);
        return steps is not null && priority >= 1 && priority <= steps.Count ? steps[priority - 1] : null;
    }

    private List<DialplanStep>? Find(string context, string exten)
    {
        if (!_contexts.TryGetValue(context, out var extensions))
        {
            return null;
        }

        if (extensions.TryGetValue(exten, out var exact))
        {
            return exact;
        }

        foreach (var (pattern, steps) in extensions)
        {
            if (pattern.StartsWith('_') && Matches(pattern[1..], exten))
            {
                return steps;
            }
        }

        return null;
    }

    /// <summary>Asterisk extension pattern matching.</summary>
    public static bool Matches(string pattern, string exten)
    {
        var e = 0;
        for (var p = 0; p < pattern.Length; p++)
        {
            var c = pattern[p];
            if (c == '.')
            {
                return e < exten.Length;
            }

            if (c == '!')
            {
                return true;
            }

            if (e >= exten.Length)
            {
                return false;
            }

            var x = exten[e];
            bool ok;
            switch (char.ToUpperInvariant(c))
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
                    var close = pattern.IndexOf(']', p);
                    var set = pattern[(p + 1)..close];
                    p = close;
                    ok = InSet(set, x);
                    break;
                default:
                    ok = c == x;
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

    /// <summary>Parses <c>App(args)</c> (or a bare <c>App</c>).</summary>
    public static DialplanStep ParseStep(string text, string where)
    {
        string? label = null;
        if (text.TrimStart().StartsWith('('))
        {
            // "(label)App(args)": the step's label (extensions.conf "same => n(label),App(args)").
            var trimmed = text.TrimStart();
            var end = trimmed.IndexOf(')', StringComparison.Ordinal);
            if (end < 2)
            {
                throw new FormatException($"Dialplan step '{text}' at {where} starts with '(' but has no label before ')'.");
            }

            label = trimmed[1..end].Trim();
            var step = ParseStep(trimmed[(end + 1)..], where);
            return step with { Label = label };
        }

        var open = text.IndexOf('(', StringComparison.Ordinal);
        if (open < 0)
        {
            return new DialplanStep(text.Trim(), "");
        }

        if (!text.EndsWith(')'))
        {
            throw new FormatException($"Dialplan step '{text}' at {where} has '(' without a closing ')'.");
        }

        return new DialplanStep(text[..open].Trim(), text[(open + 1)..^1]);
    }

    /// <summary>Expands variables, functions and simple expressions in <paramref name="text"/>.</summary>
    public static string Expand(string text, Func<string, string> variable)
    {
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '$' && i + 1 < text.Length && (text[i + 1] == '{' || text[i + 1] == '['))
            {
                var open = text[i + 1];
                var close = open == '{' ? '}' : ']';
                var end = MatchingClose(text, i + 1, open, close);
                if (end < 0)
                {
                    result.Append(text[i]);
                    continue;
                }

                var inner = Expand(text[(i + 2)..end], variable);
                result.Append(open == '{' ? Lookup(inner, variable) : Evaluate(inner));
                i = end;
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }

    private static int MatchingClose(string text, int start, char open, char close)
    {
        var depth = 0;
        for (var i = start; i < text.Length; i++)
        {
            if (text[i] == open)
            {
                depth++;
            }
            else if (text[i] == close && --depth == 0)
            {
                return i;
            }
        }

        return -1;
    }

    private static string Lookup(string expression, Func<string, string> variable)
    {
        // ${NAME:offset[:length]} substring form.
        var colon = expression.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && !expression.Contains('(', StringComparison.Ordinal))
        {
            var value = variable(expression[..colon]);
            var parts = expression[(colon + 1)..].Split(':');
            var offset = int.Parse(parts[0], CultureInfo.InvariantCulture);
            if (offset < 0)
            {
                offset = Math.Max(0, value.Length + offset);
            }

            if (offset >= value.Length)
            {
                return "";
            }

            var length = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : value.Length - offset;
            return value.Substring(offset, Math.Min(length, value.Length - offset));
        }

        return variable(expression);
    }

    private static string Evaluate(string expression)
    {
        // One operator per expression, as our dialplans use them; the two-character ones are looked for first.
        foreach (var op in new[] { "!=", "<=", ">=", "=", "<", ">", "+", "-" })
        {
            var at = expression.IndexOf(op, StringComparison.Ordinal);
            if (at <= 0)
            {
                continue;
            }

            var left = expression[..at].Trim().Trim('"');
            var right = expression[(at + op.Length)..].Trim().Trim('"');
            var numbers = long.TryParse(left, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)
                & long.TryParse(right, NumberStyles.Integer, CultureInfo.InvariantCulture, out var r);
            if (op is "+" or "-")
            {
                if (!numbers)
                {
                    continue; // a '-' inside a word ("ctibridge-fallback") is not a subtraction
                }

                return (op == "+" ? l + r : l - r).ToString(CultureInfo.InvariantCulture);
            }

            // Asterisk's expression parser compares as numbers when both sides are numbers, else as strings.
            var order = numbers ? l.CompareTo(r) : string.CompareOrdinal(left, right);
            var result = op switch
            {
                "=" => order == 0,
                "!=" => order != 0,
                "<" => order < 0,
                ">" => order > 0,
                "<=" => order <= 0,
                _ => order >= 0,
            };
            return result ? "1" : "0";
        }

        return expression.Trim();
    }

    /// <summary>Splits application arguments on commas outside parentheses (Asterisk's standard_app_args).</summary>
    public static List<string> SplitArgs(string data)
    {
        var args = new List<string>();
        var depth = 0;
        var start = 0;
        for (var i = 0; i < data.Length; i++)
        {
            switch (data[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    args.Add(data[start..i]);
                    start = i + 1;
                    break;
            }
        }

        args.Add(data[start..]);
        return args;
    }
}
