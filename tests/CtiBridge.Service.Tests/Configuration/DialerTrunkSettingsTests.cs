using System.Collections;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.Configuration;

/// <summary>dialer.trunks in ctibridge.json: lines several campaigns share, checked with each problem naming its setting.</summary>
public sealed class DialerTrunkSettingsTests
{
    private const string Head = """
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ { "name": "pbx1",
            "ami": { "host": "127.0.0.1", "port": 5038, "username": "ctibridge", "secret": "s3cret" },
            "ari": { "baseUrl": "http://127.0.0.1:8088/ari", "username": "ctibridge", "password": "pw" } } ],
        """;

    private static readonly Hashtable NoEnvironment = new();

    private static CtiBridgeSettings Parse(string trunks) =>
        SettingsLoader.Parse(Head + $"\"dialer\": {{ \"enabled\": true, \"trunks\": {trunks} }} }}", "ctibridge.json", NoEnvironment);

    [Fact]
    public void Trunks_AreReadAndEachCampaignDrawsFromTheTrunkWithItsExactPrefix()
    {
        var settings = Parse("""[ { "name": "carrier", "trunkPrefix": "PJSIP/carrier/", "maxLines": 30 }, { "name": "backup", "trunkPrefix": "PJSIP/backup/", "maxLines": 4 } ]""");

        Assert.Equal(["carrier", "backup"], settings.Dialer.Trunks.Select(t => t.Name));
        Assert.Equal(30, settings.Dialer.TrunkFor("PJSIP/carrier/")!.MaxLines);
        Assert.Equal("backup", settings.Dialer.TrunkFor("PJSIP/backup/")!.Name);
        Assert.Null(settings.Dialer.TrunkFor("PJSIP/carrier2/"));
    }

    [Theory]
    [InlineData("""[ { "name": "carrier", "trunkPrefix": "PJSIP/carrier/", "maxLines": 0 } ]""", "dialer.trunks[0].maxLines: must be between 1 and 100000 (was 0)")]
    [InlineData("""[ { "name": "carrier", "maxLines": 3 } ]""", "dialer.trunks[0].trunkPrefix: is required: the trunkPrefix of the campaigns that dial through this trunk (e.g. \"PJSIP/carrier/\")")]
    [InlineData("""[ { "name": "car rier", "trunkPrefix": "PJSIP/carrier/", "maxLines": 3 } ]""", "dialer.trunks[0].name: 'car rier' is not a trunk name (1-64 letters, digits, _ . -)")]
    [InlineData("""[ { "name": "a", "trunkPrefix": "PJSIP/carrier/", "maxLines": 3 }, { "name": "a", "trunkPrefix": "PJSIP/other/", "maxLines": 3 } ]""", "dialer.trunks[1].name: trunk 'a' is listed twice")]
    [InlineData("""[ { "name": "a", "trunkPrefix": "PJSIP/carrier/", "maxLines": 3 }, { "name": "b", "trunkPrefix": "PJSIP/carrier/", "maxLines": 5 } ]""", "dialer.trunks[1].trunkPrefix: 'PJSIP/carrier/' is already the prefix of trunk 'a': a campaign draws from one trunk")]
    [InlineData("""[ { "name": "a", "trunkPrefix": "PJSIP/carrier/", "maxLnes": 3 } ]""", "dialer.trunks[0].maxLnes: unknown setting; did you mean 'maxLines'?")]
    [InlineData("""[], "lineAuditSeconds": 0""", "dialer.lineAuditSeconds: must be between 1 and 3600 seconds (was 0)")]
    public void BrokenTrunk_IsRefusedNamingTheSettingAndWhy(string trunks, string expected)
    {
        var problems = Assert.Throws<SettingsException>(() => Parse(trunks)).Problems.Select(p => p.ToString()).ToList();

        Assert.Contains(expected, problems);
    }
}
