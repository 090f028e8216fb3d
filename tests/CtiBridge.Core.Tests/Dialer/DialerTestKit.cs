using System.Reflection;
using CtiBridge.Core.Dialer;

namespace CtiBridge.Core.Tests.Dialer;

/// <summary>Shared builders for the dialer tests (campaigns, leads, agents) and the fixture folder.</summary>
internal static class DialerTestKit
{
    public static readonly DateTimeOffset Monday10Utc = new(2026, 11, 30, 15, 0, 0, TimeSpan.Zero); // 10:00 in New York

    public static readonly IReadOnlySet<string> NoDnc = new HashSet<string>();

    public static Campaign Campaign(DialingMode mode = DialingMode.Predictive, int lines = 30) => new()
    {
        Id = "spring-sale",
        AgentGroup = "sales",
        Mode = mode,
        CallerId = "+18005550100",
        CallerName = "Acme Sales",
        TrunkPrefix = "PJSIP/trunk1/",
        DialPrefix = "9",
        MaxConcurrentLines = lines,
        AbandonMessage = "acme-abandon",
        BroadcastMessage = mode == DialingMode.VoiceBroadcast ? "acme-offer" : null,
        Start = Monday10Utc.AddDays(-1),
        PredictiveWarmUpCalls = 20,
    };

    public static LeadTimeZones Zones() => new(
        new Dictionary<string, string> { ["+1212"] = "America/New_York", ["+1415"] = "America/Los_Angeles", ["+86"] = "Asia/Shanghai" },
        "America/New_York");

    public static Lead Lead(int n, string? number = null) => new()
    {
        Id = $"lead-{n}",
        PhoneNumber = number ?? $"+1212555{n % 10000:0000}",
    };

    public static IEnumerable<Lead> Leads(int count, int from = 0) => Enumerable.Range(from, count).Select(i => Lead(i));

    public static AgentSnapshot Ready(int ready, int busy = 0) =>
        new(ready + busy, ready, Enumerable.Range(0, busy).Select(i => new BusyAgent(TimeSpan.FromSeconds(10 + i))).ToArray());

    public static string SharedDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("CTIBRIDGE_SHARED_DIR") is { Length: > 0 } overridden)
            {
                return overridden;
            }

            var root = typeof(DialerTestKit).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .First(a => a.Key == "CtiBridge.RepositoryRoot").Value!;
            return Path.GetFullPath(Path.Combine(root, "..", "shared"));
        }
    }

    public static string AsteriskFixtures => Path.Combine(SharedDirectory, "fixtures", "asterisk");
}
