using System.Collections;
using CtiBridge.Core.Dialer;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.Configuration;

/// <summary>Campaigns in ctibridge.json: checked like campaign files, each problem on its own line naming its place in the file.</summary>
public sealed class CampaignSectionTests
{
    private static readonly string Head = """
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ { "name": "pbx1",
            "ami": { "host": "127.0.0.1", "port": 5038, "username": "ctibridge", "secret": "s3cret" },
            "ari": { "baseUrl": "http://127.0.0.1:8088/ari", "username": "ctibridge", "password": "pw" } } ],
          "callControl": { "queues": [ { "name": "sales" }, { "name": "support" } ],
                           "agents": [ { "id": "2001", "extension": "PJSIP/1001", "pinHash": "PINHASH", "queues": [ "sales" ] } ] },
        """.Replace("PINHASH", CtiBridge.Core.Acd.AgentPin.Hash("4321", iterations: 1000), StringComparison.Ordinal);

    private const string Good = """
        { "id": "spring-sale", "agentGroup": "sales", "mode": "Progressive", "callerId": "+18005550100",
          "trunkPrefix": "PJSIP/carrier/", "windows": { "*": ["09:00-20:00"], "Sunday": [] },
          "retrySeconds": { "busy": 600 }, "timeZones": { "+1212": "America/New_York" }, "defaultTimeZone": "America/New_York" }
        """;

    private static readonly Hashtable NoEnvironment = new();

    private static CtiBridgeSettings Parse(string campaigns) => SettingsLoader.Parse(Head + $"\"campaigns\": {campaigns} }}", "ctibridge.json", NoEnvironment);

    private static IReadOnlyList<string> Problems(string campaigns) =>
        Assert.Throws<SettingsException>(() => Parse(campaigns)).Problems.Select(p => p.ToString()).ToList();

    [Fact]
    public void ValidCampaigns_AreParsedAsTheDialerWouldParseTheirFiles()
    {
        var settings = Parse($"[ {Good}, {Good.Replace("spring-sale", "winter-sale", StringComparison.Ordinal).Replace("\"Progressive\"", "\"Predictive\", \"abandonMessage\": \"acme-abandon\"", StringComparison.Ordinal)} ]");

        Assert.Equal(["spring-sale", "winter-sale"], settings.Campaigns.Select(c => c.Id));
        var spring = settings.Campaigns[0];
        Assert.Equal(DialingMode.Progressive, spring.Campaign.Mode);
        Assert.Equal(TimeSpan.FromSeconds(600), spring.Campaign.Retry.Busy);
        Assert.Equal(CampaignDefinition.Parse(Good).ToJson(), spring.ToJson());
        Assert.Equal(2, settings.CallControl.Queues.Count);
    }

    [Fact]
    public void NoCampaigns_IsAnEmptyList()
    {
        Assert.Empty(SettingsLoader.Parse(Head.TrimEnd().TrimEnd(',') + "}", "ctibridge.json", NoEnvironment).Campaigns);
    }

    // One row per broken campaign list, with the line the admin sees.
    [Theory]
    [InlineData("""{ "id": "x" }""", "campaigns: must be a list of campaigns, each written as a campaign file (docs/dialer.md)")]
    [InlineData("""[ 7 ]""", "campaigns[0]: must be an object: a campaign with id, agentGroup, mode, callerId, trunkPrefix ... (docs/dialer.md)")]
    [InlineData("""[ { "id": "a", "agentGroup": "sales", "mdoe": "Power" } ]""", "campaigns[0].mdoe: unknown setting; did you mean 'mode'?")]
    [InlineData("""[ { "id": "a", "agentGroup": "sales", "callerId": "+18005550100", "trunkPrefix": "PJSIP/c/", "maxAttempts": "many" } ]""", "campaigns[0].maxAttempts: has a value of the wrong type (The JSON value could not be converted to System.Int32)")]
    [InlineData("""[ { "id": "a", "agentGroup": "sales", "callerId": "+18005550100", "trunkPrefix": "PJSIP/c/", "mode": "Progressive", "policy": "US-TRS" } ]""", "campaigns[0]: policy 'US-TRS' is unknown (US-TSR or UK-Ofcom)")]
    [InlineData("""[ { "id": "a", "agentGroup": "sales", "callerId": "+18005550100", "trunkPrefix": "PJSIP/c/", "mode": "Progressive", "windows": { "Mondy": ["09:00-17:00"] } } ]""", "campaigns[0]: windows: 'Mondy' is not a weekday (Monday … Sunday, or * for every day)")]
    [InlineData("""[ { "id": "a", "agentGroup": "salse", "callerId": "+18005550100", "trunkPrefix": "PJSIP/c/", "mode": "Progressive" } ]""", "campaigns[0].agentGroup: 'salse' is not a queue in callControl.queues; did you mean 'sales'?")]
    public void BrokenCampaign_NamesItsPlaceAndWhy(string campaigns, string expected)
    {
        Assert.Equal(expected, Assert.Single(Problems(campaigns)));
    }

    [Fact]
    public void SeveralProblems_OneLineEach_AcrossCampaigns_AndDuplicateIds()
    {
        var problems = Problems($"[ {Good}, {Good.Replace("\"Progressive\"", "\"Progresive\"", StringComparison.Ordinal)}, {Good.Replace("\"sales\"", "\"support\"", StringComparison.Ordinal)} ]");

        Assert.Equal(2, problems.Count);
        Assert.StartsWith("campaigns[1].mode: has a value of the wrong type", problems[0], StringComparison.Ordinal);
        Assert.Equal("campaigns[2].id: 'spring-sale' is already the id of campaigns[0]; ids must be unique", problems[1]);
    }

    [Fact]
    public void CampaignsFromTheEnvironment_AreRefusedWithTheVariableNamed()
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(Head + $"\"campaigns\": [ {Good} ] }}", "ctibridge.json", new Hashtable { ["CTIBRIDGE__CAMPAIGNS__0__MODE"] = "Power" }));

        Assert.Equal("CTIBRIDGE__CAMPAIGNS__0__MODE: campaigns cannot be set from environment variables; write them in the file's campaigns list", Assert.Single(error.Problems).ToString());
    }
}
