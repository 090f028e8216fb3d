using System.Globalization;
using System.Text;
using System.Text.Json;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Where a takeover's time goes, read from the standby's JSON log (<c>logging.json</c>: one CLEF object a line, with
/// <c>@t</c> and the event id): for each phase the first log event with its id at or after the kill, as time from
/// the kill. The phases and their event ids are those of docs/high-availability.md, "Where a takeover's time goes".
/// </summary>
internal sealed class TakeoverPhases
{
    /// <summary>The phases in the order a takeover goes through them: (event id, what it marks).</summary>
    public static readonly IReadOnlyList<(int EventId, string Name)> Marks =
    [
        (1470, "lease taken"),
        (1471, "call control starts (grace over)"),
        (830, "ARI events WebSocket connected = Stasis app registered"),
        (1473, "live state and ARI snapshot read"),
        (876, "calls and agents adopted"),
        (800, "first new caller entered"),
    ];

    private readonly Dictionary<int, TimeSpan> _after = [];

    private TakeoverPhases(DateTimeOffset? amiLoggedIn, DateTimeOffset killedAt)
    {
        AmiLoggedInBeforeKill = amiLoggedIn is { } at && at < killedAt ? killedAt - at : null;
        AmiLoggedInAfterKill = amiLoggedIn is { } after && after >= killedAt ? after - killedAt : null;
    }

    /// <summary>How long before the kill the standby's AMI was logged in (event 200), when it was: kept warm.</summary>
    public TimeSpan? AmiLoggedInBeforeKill { get; }

    /// <summary>When the standby's AMI logged in after the kill, if only then.</summary>
    public TimeSpan? AmiLoggedInAfterKill { get; }

    /// <summary>The time from the kill to the phase marked by <paramref name="eventId"/>, if it was logged.</summary>
    public TimeSpan? After(int eventId) => _after.TryGetValue(eventId, out var after) ? after : null;

    /// <summary>Reads the phases from a process's output (lines that are not JSON objects are skipped).</summary>
    public static TakeoverPhases Read(string output, DateTimeOffset killedAt)
    {
        DateTimeOffset? amiLoggedIn = null;
        var found = new Dictionary<int, TimeSpan>();
        foreach (var line in output.Split('\n'))
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            if (!root.TryGetProperty("@t", out var t) || !root.TryGetProperty("EventId", out var eventId)
                || !eventId.TryGetProperty("Id", out var idValue) || !idValue.TryGetInt32(out var id))
            {
                continue;
            }

            var at = DateTimeOffset.Parse(t.GetString()!, CultureInfo.InvariantCulture);
            if (id == 200)
            {
                amiLoggedIn ??= at;
            }
            else if (at >= killedAt && Marks.Any(m => m.EventId == id))
            {
                found.TryAdd(id, at - killedAt);
            }
        }

        var phases = new TakeoverPhases(amiLoggedIn, killedAt);
        foreach (var (id, after) in found)
        {
            phases._after[id] = after;
        }

        return phases;
    }

    /// <summary>One line: each phase's time from the kill, and how long it took after the one before.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(AmiLoggedInBeforeKill is { } before
            ? string.Create(CultureInfo.InvariantCulture, $"AMI logged in {before.TotalSeconds:0.0} s before the kill (kept connected)")
            : AmiLoggedInAfterKill is { } after ? string.Create(CultureInfo.InvariantCulture, $"AMI logged in at {after.TotalSeconds:0.00} s") : "AMI not logged in");
        var previous = TimeSpan.Zero;
        foreach (var (id, name) in Marks)
        {
            if (After(id) is { } at)
            {
                text.Append(CultureInfo.InvariantCulture, $"; {name} [{id}] at {at.TotalSeconds:0.00} s (+{(at - previous).TotalSeconds:0.00})");
                previous = at;
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"; {name} [{id}] not logged");
            }
        }

        return text.ToString();
    }
}
