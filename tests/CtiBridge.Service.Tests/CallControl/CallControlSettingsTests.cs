using System.Collections;
using CtiBridge.Core.Acd;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.CallControl;

public sealed class CallControlSettingsTests
{
    private static readonly string PinHash = AgentPin.Hash("1234", iterations: 1000);

    private static string Config(string callControl) => $$"""
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ {
            "name": "pbx1",
            "ami": { "host": "127.0.0.1", "port": 5038, "username": "ctibridge", "secret": "s3cret" },
            "ari": { "baseUrl": "http://127.0.0.1:8088/ari", "username": "ctibridge", "password": "pw" }
          } ],
          "callControl": {{callControl}}
        }
        """;

    private static IReadOnlyList<string> Problems(string callControl)
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(Config(callControl), "ctibridge.json", new Hashtable()));
        return error.Problems.Select(p => p.ToString()).ToList();
    }

    [Fact]
    public void Parse_QueuesAgentsAndDids_BindsAndMapsToTheAcdConfiguration()
    {
        var settings = SettingsLoader.Parse(Config($$"""
            {
              "queues": [ { "name": "support", "strategy": "rrmemory", "ringTimeout": "00:00:12", "wrapUp": "00:00:20", "musicOnHold": "calm" } ],
              "agents": [ { "id": "2001", "name": "Ann", "extension": "PJSIP/1001", "pinHash": "{{PinHash}}", "queues": [ "support" ] } ],
              "dids": [ { "number": "4008001", "queue": "support" } ]
            }
            """), "ctibridge.json", new Hashtable());

        Assert.True(settings.CallControl.IsEnabled);
        var acd = global::CtiBridge.Service.CallControl.CallControlConfiguration.ToAcdConfiguration(settings.CallControl);
        var queue = Assert.Single(acd.Queues);
        Assert.Equal(("support", "rrmemory", TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(20), "calm"), (queue.Name, queue.Strategy, queue.RingTimeout, queue.WrapUp, queue.Experience.MusicOnHoldClass));
        var agent = Assert.Single(acd.Agents);
        Assert.Equal("2001", agent.AgentId);
        Assert.Equal("support", Assert.Single(agent.Queues).Queue);
        Assert.Equal("4008001", Assert.Single(settings.CallControl.Dids).Number);
    }

    [Fact]
    public void Parse_NoCallControlSection_LeavesCallControlOff()
    {
        var settings = SettingsLoader.Parse(Config("{}"), "ctibridge.json", new Hashtable());

        Assert.False(settings.CallControl.IsEnabled);
    }

    [Fact]
    public void Parse_DidToMisspelledQueue_SaysWhereAndSuggestsTheQueue()
    {
        var problems = Problems("""{ "queues": [ { "name": "support" } ], "dids": [ { "number": "4008001", "queue": "suport" } ] }""");

        Assert.Equal(["callControl.dids[0].queue: queue 'suport' is not configured in callControl.queues; did you mean 'support'?"], problems);
    }

    [Fact]
    public void Parse_MisspelledStrategy_SuggestsTheKnownOne()
    {
        var problems = Problems("""{ "queues": [ { "name": "support", "strategy": "leastrecnt" } ] }""");

        var problem = Assert.Single(problems);
        Assert.StartsWith("callControl.queues[0].strategy: 'leastrecnt' is not a strategy (", problem, StringComparison.Ordinal);
        Assert.EndsWith("; did you mean 'leastrecent'?", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AgentWithBadPhonePinAndQueue_ListsEveryProblem()
    {
        var problems = Problems("""
            { "queues": [ { "name": "sales" } ],
              "agents": [ { "id": "2001", "extension": "1001", "pinHash": "1234", "queues": [ "sale" ] },
                          { "id": "2001", "extension": "PJSIP/1002", "pinHash": "", "queues": [] } ] }
            """);

        Assert.Contains("callControl.agents[0].extension: '1001' is not a dialable endpoint; write it as TECH/resource, e.g. \"PJSIP/1001\"", problems);
        Assert.Contains("callControl.agents[0].pinHash: is not a PIN hash; create one with AgentPin.Hash (pbkdf2-sha256$iterations$salt$hash), never write the PIN itself", problems);
        Assert.Contains("callControl.agents[0].queues[0]: queue 'sale' is not configured in callControl.queues; did you mean 'sales'?", problems);
        Assert.Contains("callControl.agents[1].id: agent '2001' is configured twice", problems);
        Assert.Contains("callControl.agents[1].queues: lists no queue; the agent would never get a call", problems);
        Assert.DoesNotContain(problems, p => p.Contains("'1234'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_ZeroRingTimeout_IsRefused()
    {
        var problems = Problems("""{ "queues": [ { "name": "support", "ringTimeout": "00:00:00" } ] }""");

        Assert.Equal(["callControl.queues[0].ringTimeout: 00:00:00 must be longer than zero"], problems);
    }

    [Fact]
    public void Parse_MisspelledSettingInCallControl_SuggestsTheSetting()
    {
        var problems = Problems("""{ "queues": [ { "name": "support", "wrapup": "00:00:05", "ringTimout": "00:00:05" } ] }""");

        Assert.Equal(["callControl.queues[0].ringTimout: unknown setting; did you mean 'ringTimeout'?"], problems);
    }
}
