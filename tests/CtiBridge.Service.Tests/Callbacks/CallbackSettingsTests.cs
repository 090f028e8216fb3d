using System.Collections;
using CtiBridge.Core.Callbacks;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary><c>callbacks.hours</c>, <c>callbacks.queueHours</c> and <c>callbacks.expireAfter</c> from the configuration file.</summary>
public sealed class CallbackSettingsTests
{
    private const string Base = """
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ {
            "name": "pbx1",
            "ami": { "host": "127.0.0.1", "port": 5038, "username": "ctibridge", "secret": "s3cret" },
            "ari": { "baseUrl": "http://127.0.0.1:8088/ari", "username": "ctibridge", "password": "pw" }
          } ],
          "callControl": { "queues": [ { "name": "support" }, { "name": "sales" } ] },
        """;

    private static CtiBridgeSettings Parse(string callbacks) =>
        SettingsLoader.Parse("{" + Base + "\"callbacks\": " + callbacks + "}", "ctibridge.json", new Hashtable());

    private static IReadOnlyList<string> Problems(string callbacks) =>
        Assert.Throws<SettingsException>(() => Parse(callbacks)).Problems.Select(p => p.ToString()).ToList();

    [Fact]
    public void HoursAndQueueHours_BecomeThePolicy()
    {
        var settings = Parse("""
            { "hours": { "timeZone": "Asia/Shanghai", "open": [ { "days": "mon-fri", "from": "09:00", "to": "18:00" } ], "holidays": [ "2026-12-25" ] },
              "queueHours": { "sales": { "timeZone": "UTC", "open": [ { "days": "mon-sun", "from": "00:00", "to": "24:00" } ] } },
              "expireAfter": "2.00:00:00" }
            """);

        var policy = settings.Callbacks.ToPolicy();

        Assert.Equal(TimeSpan.FromDays(2), policy.ExpireAfter);
        // Monday 30 Nov 2026 19:00 Shanghai = 11:00 UTC: support waits for Tuesday 09:00 Shanghai, sales is open.
        var evening = new DateTimeOffset(2026, 11, 30, 11, 0, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 1, 0, 0, TimeSpan.Zero), CallbackPlanner.InHours(policy, evening, "support"));
        Assert.Equal(evening, CallbackPlanner.InHours(policy, evening, "sales"));
        Assert.False(CallbackPlanner.IsPlacingTime(policy, evening, "support"));
        // Christmas (a Friday) is skipped.
        Assert.Equal(new DateTimeOffset(2026, 12, 28, 1, 0, 0, TimeSpan.Zero), CallbackPlanner.InHours(policy, new DateTimeOffset(2026, 12, 24, 11, 0, 0, TimeSpan.Zero), "support"));
    }

    [Fact]
    public void BadHours_AreNamedWhereTheyAre()
    {
        var problems = Problems("""
            { "hours": { "timeZone": "Mars/Olympus", "open": [ { "days": "mon-fry", "from": "9am", "to": "18:00" } ], "holidays": [ "25.12.2026" ] },
              "queueHours": { "slaes": { "open": [] } },
              "expireAfter": "00:00:00" }
            """);

        Assert.Contains(problems, p => p.StartsWith("callbacks.hours.timeZone: 'Mars/Olympus' is not a known time zone", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callbacks.hours.open[0].days: 'mon-fry' is not a list of week days", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callbacks.hours.open[0].from: '9am' is not a time of day", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callbacks.hours.holidays[0]: '25.12.2026' is not a date", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callbacks.queueHours.slaes: queue 'slaes' is not configured in callControl.queues; did you mean 'sales'?", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callbacks.queueHours.slaes.open: lists no opening interval", StringComparison.Ordinal));
        Assert.Contains("callbacks.expireAfter: must be positive (is 00:00:00)", problems);
    }

    [Fact]
    public void Liveness_IsConfigurable_AndADeadAfterShorterThanTwoBeatsIsRefused()
    {
        var settings = Parse("""{ "heartbeatInterval": "00:00:02", "instanceDeadAfter": "00:00:09" }""");
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(9)), (settings.Callbacks.HeartbeatInterval, settings.Callbacks.InstanceDeadAfter));
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(20)), (Parse("{}").Callbacks.HeartbeatInterval, Parse("{}").Callbacks.InstanceDeadAfter));

        var problems = Problems("""{ "heartbeatInterval": "00:00:05", "instanceDeadAfter": "00:00:08" }""");

        Assert.Contains(problems, p => p.StartsWith("callbacks.instanceDeadAfter: must be at least twice callbacks.heartbeatInterval (00:00:05)", StringComparison.Ordinal));
        Assert.Contains("callbacks.heartbeatInterval: must be 100 ms to 1 min (is 00:00:00)", Problems("""{ "heartbeatInterval": "00:00:00" }"""));
    }
}
