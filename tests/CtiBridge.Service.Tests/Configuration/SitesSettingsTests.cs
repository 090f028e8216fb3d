using System.Collections;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.Configuration;

/// <summary>
/// Several Asterisk servers in ctibridge.json (docs/sites.md): a one-server file is unchanged;
/// with several, every agent names its server, trunks name other servers with a usable dial
/// string, and a queue that spans servers must be able to reach each of its agents; each mistake
/// is one line naming the setting.
/// </summary>
public sealed class SitesSettingsTests
{
    private const string Pin = "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    private static string Server(string name, string trunks = "") =>
        $$"""{ "name": "{{name}}", "ami": { "username": "u", "secret": "s" }, "ari": { "username": "u", "password": "p" }{{(trunks.Length > 0 ? ", \"trunks\": " + trunks : string.Empty)}} }""";

    private static string Agent(string id, string phone, string? server, string queues = "\"support\"") =>
        $$"""{ "id": "{{id}}", "extension": "PJSIP/{{phone}}", "pinHash": "{{Pin}}", "queues": [ {{queues}} ]{{(server is null ? string.Empty : $", \"server\": \"{server}\"")}} }""";

    private static string File(string servers, string agents, bool span = false) => $$"""
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ {{servers}} ],
          "callControl": {
            "queues": [ { "name": "support", "spanServers": {{(span ? "true" : "false")}} } ],
            "agents": [ {{agents}} ]
          }
        }
        """;

    private static readonly Hashtable NoEnvironment = new();

    private static List<string> Problems(string json)
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment));
        return error.Problems.Select(p => p.ToString()).ToList();
    }

    [Fact]
    public void OneServer_AgentsWithoutServer_AreValidAsBefore_AndRingOnThatServer()
    {
        var settings = SettingsLoader.Parse(File(Server("pbx1"), Agent("2001", "1001", null)), "ctibridge.json", NoEnvironment);

        var sites = new SiteRouting(settings.Asterisk);
        Assert.Equal("pbx1", sites.ServerOf(settings.CallControl.Agents[0]));
        Assert.Equal("PJSIP/1001", sites.EndpointFor("pbx1", "pbx1", "PJSIP/1001", "2001"));
        Assert.Null(CallControlConfiguration.ToAcdConfiguration(settings.CallControl).Agents[0].Site);
    }

    [Fact]
    public void TwoServers_SpanningQueueWithTrunksBothWays_BindsAndDialsThroughTheTrunk()
    {
        var json = File(
            Server("site-a", """[ { "to": "site-b", "dial": "PJSIP/{resource}@site-b" } ]""") + "," + Server("site-b", """[ { "to": "site-a", "dial": "IAX2/site-a/{agent}" } ]"""),
            Agent("2001", "1001", "site-a") + "," + Agent("2002", "1001", "site-b"), span: true);

        var settings = SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment);

        var sites = new SiteRouting(settings.Asterisk);
        Assert.Equal("PJSIP/1001@site-b", sites.EndpointFor("site-a", "site-b", "PJSIP/1001", "2002"));
        Assert.Equal("IAX2/site-a/2001", sites.EndpointFor("site-b", "site-a", "PJSIP/1001", "2001"));
        Assert.Equal("PJSIP/1001", sites.EndpointFor("site-b", "site-b", "PJSIP/1001", "2002"));
        var acd = CallControlConfiguration.ToAcdConfiguration(settings.CallControl);
        Assert.True(acd.Queues[0].SpansSites);
        Assert.Equal(["site-a", "site-b"], acd.Agents.Select(a => a.Site));
    }

    [Fact]
    public void TwoServers_NoTrunkFromAToB_NotReachable()
    {
        var sites = new SiteRouting([new AsteriskServerSettings { Name = "site-a" }, new AsteriskServerSettings { Name = "site-b" }]);

        Assert.Null(sites.EndpointFor("site-a", "site-b", "PJSIP/1001", "2002"));
    }

    [Theory]
    [InlineData("""{ "to": "site-c", "dial": "PJSIP/{resource}@c" }""", "asterisk[0].trunks[0].to: 'site-c' is not one of the asterisk servers (site-a, site-b)")]
    [InlineData("""{ "to": "site-bb", "dial": "PJSIP/{resource}@b" }""", "asterisk[0].trunks[0].to: 'site-bb' is not one of the asterisk servers (site-a, site-b); did you mean 'site-b'?")]
    [InlineData("""{ "to": "site-a", "dial": "PJSIP/{resource}@a" }""", "asterisk[0].trunks[0].to: 'site-a' is this server itself; a trunk reaches another server")]
    [InlineData("""{ "dial": "PJSIP/{resource}@b" }""", "asterisk[0].trunks[0].to: is required: the server this trunk reaches (site-a, site-b)")]
    [InlineData("""{ "to": "site-b" }""", "asterisk[0].trunks[0].dial: is required: the dial string to the agent's phone over the trunk")]
    [InlineData("""{ "to": "site-b", "dial": "PJSIP/{number}@b" }""", "asterisk[0].trunks[0].dial: 'PJSIP/{number}@b' has unknown placeholder(s) {number}; use {resource}, {extension} or {agent}")]
    [InlineData("""{ "to": "site-b", "dial": "PJSIP/1001@b" }""", "asterisk[0].trunks[0].dial: 'PJSIP/1001@b' names no agent: every agent would ring the same number")]
    [InlineData("""{ "to": "site-b", "dial": "{resource}" }""", "asterisk[0].trunks[0].dial: '{resource}' is not a dial string (TECH/resource")]
    [InlineData("""{ "to": "site-b", "dial": "PJSIP/{resource}@b" }, { "to": "SITE-B", "dial": "PJSIP/{resource}@b" }""", "asterisk[0].trunks[1].to: 'SITE-B' already has a trunk from this server; keep one")]
    [InlineData("""{ "to": "site-b", "dial": "PJSIP/{resource}@b", "dail": "x" }""", "asterisk[0].trunks[0].dail: unknown setting; did you mean 'dial'?")]
    public void BrokenTrunk_OneLineNamingTheSetting(string trunks, string expected)
    {
        var problems = Problems(File(Server("site-a", $"[ {trunks} ]") + "," + Server("site-b"), Agent("2001", "1001", "site-a")));

        var problem = Assert.Single(problems);
        Assert.StartsWith(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void TwoServers_AgentWithoutServer_IsRequired()
    {
        var problems = Problems(File(Server("site-a") + "," + Server("site-b"), Agent("2001", "1001", "site-a") + "," + Agent("2002", "1002", null)));

        Assert.Equal(["callControl.agents[1].server: is required with several Asterisk servers: the one agent '2002''s phone PJSIP/1002 is registered on (site-a, site-b)"], problems);
    }

    [Fact]
    public void AgentOnAnUnknownServer_NamesTheServersAndTheNearestName()
    {
        var problems = Problems(File(Server("site-a") + "," + Server("site-b"), Agent("2001", "1001", "site-a") + "," + Agent("2002", "1002", "site_b")));

        Assert.Equal(["callControl.agents[1].server: 'site_b' is not one of the asterisk servers (site-a, site-b); did you mean 'site-b'?"], problems);
    }

    [Fact]
    public void SpanningQueue_ServerWithoutTrunkToTheAgentsServer_OneLinePerMissingTrunk()
    {
        var json = File(
            Server("site-a", """[ { "to": "site-b", "dial": "PJSIP/{resource}@site-b" } ]""") + "," + Server("site-b") + "," + Server("site-c"),
            Agent("2001", "1001", "site-a") + "," + Agent("2002", "1002", "site-b") + "," + Agent("2003", "1003", "site-b"), span: true);

        var problems = Problems(json);

        Assert.Equal(
        [
            "callControl.queues[0].spanServers: queue 'support' spans servers, but server 'site-b' has no trunk to 'site-a', where agent(s) 2001 serve it; add one to asterisk[1].trunks (e.g. { \"to\": \"site-a\", \"dial\": \"PJSIP/{resource}@site-a\" }) or set spanServers to false",
            "callControl.queues[0].spanServers: queue 'support' spans servers, but server 'site-c' has no trunk to 'site-a', where agent(s) 2001 serve it; add one to asterisk[2].trunks (e.g. { \"to\": \"site-a\", \"dial\": \"PJSIP/{resource}@site-a\" }) or set spanServers to false",
            "callControl.queues[0].spanServers: queue 'support' spans servers, but server 'site-c' has no trunk to 'site-b', where agent(s) 2002, 2003 serve it; add one to asterisk[2].trunks (e.g. { \"to\": \"site-b\", \"dial\": \"PJSIP/{resource}@site-b\" }) or set spanServers to false",
        ], problems);
    }

    [Fact]
    public void ExternalEndpointPerServer_UsedForThatServer_TheOthersUseCallControls_ABrokenOneIsNamed()
    {
        var siteB = Server("site-b").Replace("\"ari\"", "\"externalEndpoint\": \"PJSIP/{number}@carrier-b\", \"ari\"", StringComparison.Ordinal);
        var json = File(Server("site-a") + "," + siteB, Agent("2001", "1001", "site-a") + "," + Agent("2002", "1001", "site-b"));

        var settings = SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment);

        var sites = new SiteRouting(settings.Asterisk);
        Assert.Equal("PJSIP/{number}@carrier-b", sites.ExternalEndpointOf("site-b", settings.CallControl.ExternalEndpoint));
        Assert.Equal("PJSIP/{number}@carrier", sites.ExternalEndpointOf("site-a", settings.CallControl.ExternalEndpoint));
        Assert.Equal(
            ["asterisk[1].externalEndpoint: 'PJSIP/carrier-b' must be an endpoint with a {number} placeholder, e.g. \"PJSIP/{number}@carrier-site-b\"; leave it out to use callControl.externalEndpoint"],
            Problems(json.Replace("PJSIP/{number}@carrier-b", "PJSIP/carrier-b", StringComparison.Ordinal)));
    }

    [Fact]
    public void LocalQueue_NoTrunksNeeded()
    {
        var settings = SettingsLoader.Parse(File(Server("site-a") + "," + Server("site-b"), Agent("2001", "1001", "site-a") + "," + Agent("2002", "1001", "site-b")), "ctibridge.json", NoEnvironment);

        Assert.False(settings.CallControl.Queues[0].SpanServers);
    }
}
