using System.Text.RegularExpressions;

namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// How PbxSim's AMI output is held to a recording: byte for byte when the recorded message holds no
/// id, timestamp or counter; otherwise the same header names in the same order and the same value for
/// every header that is not such a value.
/// </summary>
internal static partial class AmiComparison
{
    /// <summary>Headers whose values are ids, timestamps, counters or depend on the socket.</summary>
    private static readonly HashSet<string> VolatileHeaders = new(StringComparer.Ordinal)
    {
        "Timestamp", "EventTV", "SessionTV", "SessionID", "LocalAddress", "RemoteAddress", "Challenge",
        "Uptime", "LastReload", "StartTime", "AnswerTime", "EndTime", "Duration", "BillableSeconds",
        "EventTime", "LastCall", "CallsTaken", "LoginTime", "Seconds", "CoreStartupDate", "CoreStartupTime",
        "CoreReloadDate", "CoreReloadTime", "CoreProcessedCalls", "BridgeUniqueid", "BridgeID", "BridgeId",
        "ToBridgeUniqueid", "FromBridgeUniqueid", "OrigBridgeUniqueid", "SecondBridgeUniqueid", "DestBridgeUniqueid",
        "ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "LastPause",
    };

    /// <summary>
    /// app_queue variables that are run-long statistics (averages and totals of every queue call the
    /// recording instance had handled before the scenario), so their values are counters.
    /// </summary>
    private static readonly HashSet<string> QueueStatisticVariables = new(StringComparer.Ordinal)
    {
        "QUEUEHOLDTIME", "QUEUETALKTIME", "QUEUECOMPLETED", "QUEUEABANDONED", "QUEUESRVLEVELPERF", "MEMBERCALLS", "MEMBERLASTCALL",
    };

    /// <summary>Asterisk uniqueids (<c>epoch.sequence</c>) are ids; ids a client chose (ChannelId) are not.</summary>
    [GeneratedRegex(@"^\d{9,}\.\d+$")]
    private static partial Regex GeneratedUniqueId();

    /// <summary>The per-run channel sequence in names such as <c>Local/1@inbound-0000000a;2</c>.</summary>
    [GeneratedRegex(@"-[0-9a-f]{8}(?=;[12]\b|$|\s|,)")]
    private static partial Regex ChannelSequence();

    [GeneratedRegex(@"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b\d{9,}\.\d+\b")]
    private static partial Regex IdsInExtra();

    public static string NormaliseChannel(string value) => ChannelSequence().Replace(value, "-########");

    public static bool IsVolatile(string name, string value) =>
        VolatileHeaders.Contains(name) || GeneratedUniqueId().IsMatch(value) ||
        ((name is "Value") && GeneratedUniqueId().IsMatch(value));

    public static bool HasVolatileValue(string message) =>
        AmiFixture.Headers(message).Any(h => IsVolatile(h.Key, h.Value) || ChannelSequence().IsMatch(h.Value));

    /// <summary>Asserts that <paramref name="actual"/> matches the recorded <paramref name="expected"/>.</summary>
    public static void AssertSame(string expected, string actual, string where, ISet<string>? alsoVolatile = null)
    {
        if (!HasVolatileValue(expected))
        {
            Assert.True(expected == actual, $"{where}: expected byte for byte\n{Show(expected)}\nbut PbxSim sent\n{Show(actual)}");
            return;
        }

        var e = AmiFixture.Headers(expected);
        var a = AmiFixture.Headers(actual);
        // A VarSet of a Dial timing variable (RINGTIME_MS...) carries a measured duration: a counter.
        var timingVariable = e.Any(h => h.Key == "Variable" && (VolatileHeaders.Contains(h.Value) || QueueStatisticVariables.Contains(h.Value)));
        // The recording machine's spool directory is not PbxSim's recording folder: compare the file name.
        var pathVariable = e.Any(h => h.Key == "Variable" && h.Value == "MIXMONITOR_FILENAME");
        Assert.True(e.Select(h => h.Key).SequenceEqual(a.Select(h => h.Key)),
            $"{where}: header names differ\nexpected {string.Join(", ", e.Select(h => h.Key))}\nactual   {string.Join(", ", a.Select(h => h.Key))}\n{Show(actual)}");
        for (var i = 0; i < e.Count; i++)
        {
            var (name, value) = (e[i].Key, e[i].Value);
            if (pathVariable && name == "Value")
            {
                Assert.True(Path.GetFileName(value) == Path.GetFileName(a[i].Value), $"{where}: {name} expected a file named like '{value}' but was '{a[i].Value}'");
                continue;
            }

            if (IsVolatile(name, value) || (alsoVolatile?.Contains(name) ?? false) || (timingVariable && name == "Value"))
            {
                Assert.False(string.IsNullOrEmpty(a[i].Value) != string.IsNullOrEmpty(value), $"{where}: {name} expected '{value}' but was '{a[i].Value}'");
                continue;
            }

            if (name == "Extra")
            {
                // CEL's JSON extra: bridge ids and uniqueids are ids.
                (value, a[i]) = (IdsInExtra().Replace(value, "*"), new(name, IdsInExtra().Replace(a[i].Value, "*")));
            }

            Assert.True(NormaliseChannel(value) == NormaliseChannel(a[i].Value),
                $"{where}: {name} expected '{value}' but was '{a[i].Value}'\n{Show(actual)}");
        }
    }

    public static string Show(string message) => message.Replace("\r\n", "|", StringComparison.Ordinal);
}
