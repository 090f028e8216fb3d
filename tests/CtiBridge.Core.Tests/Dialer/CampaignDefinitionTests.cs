using CtiBridge.Core.Dialer;

namespace CtiBridge.Core.Tests.Dialer;

public sealed class CampaignDefinitionTests
{
    [Theory]
    [InlineData("1", "(212) 555-0100", "+12125550100")]
    [InlineData("1", "1-212-555-0100", "+12125550100")]
    [InlineData("1", "+1 212.555.0100", "+12125550100")]
    [InlineData("1", "0044 20 7946 0958", "+442079460958")]
    [InlineData("44", "020 7946 0958", "+442079460958")]
    [InlineData("86", "138 0013 8000", "+8613800138000")]
    public void Normalize_WrittenNumbers_GivesE164(string country, string written, string expected) =>
        Assert.Equal(expected, new PhoneNumberNormalizer(country).Normalize(written, out _));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("212-555-01OO", "contains 'O'")]
    [InlineData("555-0100", "not a valid North American number")]
    [InlineData("012-555-0100", "not a valid North American number")]
    [InlineData("+12", "not a valid phone number")]
    [InlineData("2125550100 ext 5", "contains 'e'")]
    public void Normalize_BadNumbers_SaysWhy(string written, string expected)
    {
        Assert.Null(new PhoneNumberNormalizer("1").Normalize(written, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FullFile_BuildsTheCampaign()
    {
        var definition = CampaignDefinition.Parse("""
            {
              // comments are allowed
              "id": "spring-sale", "agentGroup": "sales", "mode": "Power", "powerRatio": 2,
              "callerId": "+18005550100", "trunkPrefix": "PJSIP/carrier/", "dialPrefix": "9",
              "windows": { "*": ["09:00-12:00"], "Saturday": ["13:00-17:00"], "Sunday": [] },
              "retrySeconds": { "busy": 120, "noAnswer": 1800 },
              "policy": "UK-Ofcom", "maxAbandonRate": 0.02, "abandonMessage": "acme-abandon",
              "ringTimeoutSeconds": 20, "timeZones": { "+1212": "America/New_York" }, "defaultTimeZone": "America/Chicago",
            }
            """);

        var c = definition.Campaign;
        Assert.Equal(DialingMode.Power, c.Mode);
        Assert.Equal(2, c.PowerRatio);
        Assert.Equal("PJSIP/carrier/912125550100", c.EndpointFor("+12125550100"));
        Assert.Equal(TimeSpan.FromMinutes(2), c.Retry.Busy);
        Assert.Equal(TimeSpan.FromMinutes(30), c.Retry.NoAnswer);
        Assert.Equal(TimeSpan.FromHours(2), c.Retry.Machine);
        Assert.Equal("UK-Ofcom", c.Policy.Name);
        Assert.Equal(0.02, c.Policy.MaxAbandonRate);
        Assert.Equal(new TimeOnly(13, 0), Assert.Single(c.Windows.On(DayOfWeek.Saturday)).Start);
        Assert.Equal(new TimeOnly(9, 0), Assert.Single(c.Windows.On(DayOfWeek.Monday)).Start);
        Assert.Empty(c.Windows.On(DayOfWeek.Sunday));
        Assert.Equal("America/Chicago", definition.Zones.ZoneOf(new Lead { Id = "1", PhoneNumber = "+13125550100" })!.Id);
        Assert.Equal(definition.ToJson(), CampaignDefinition.Parse(definition.ToJson()).ToJson());
    }

    [Fact]
    public void Parse_BadFile_ListsEveryProblem()
    {
        var ex = Assert.Throws<DialerConfigurationException>(() => CampaignDefinition.Parse("""
            { "id": "bad id", "agentGroup": "sales", "callerId": "555", "trunkPrefix": "PJSIP/x/",
              "windows": { "Moonday": ["09:00-17:00"], "Monday": ["17:00-09:00"] },
              "retrySeconds": { "bussy": 1 }, "policy": "EU", "ringTimeoutSeconds": 10,
              "timeZones": { "+1212": "America/Gotham" }, "defaultCountryCode": "01" }
            """));

        Assert.Contains(ex.Errors, e => e.Contains("id 'bad id'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("'Moonday' is not a weekday", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("windows.Monday: '17:00-09:00'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("unknown outcome 'bussy'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("policy 'EU' is unknown", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("unknown time zone 'America/Gotham'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("defaultCountryCode '01'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("CallerId '555'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("RingTimeout 10 s", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_GiveUpSettings_ReachTheCampaign_DefaultsGiveUpAtThePolicyMinimumWithAtMostOneAgentFree()
    {
        const string Common = """ "id": "g", "agentGroup": "sales", "callerId": "+18005550100", "trunkPrefix": "PJSIP/x/", "abandonMessage": "m" """;
        var defaults = CampaignDefinition.Parse("{" + Common + "}").Campaign;
        var set = CampaignDefinition.Parse("{" + Common + """, "giveUpUnanswered": false, "giveUpAfterSeconds": 18.5, "giveUpWhenAgentsFreeAtMost": 0 }""").Campaign;

        Assert.Equal((true, (TimeSpan?)null, 1, TimeSpan.FromSeconds(15)), (defaults.GiveUpUnanswered, defaults.GiveUpAfter, defaults.GiveUpWhenAgentsFreeAtMost, defaults.GiveUpAfterRinging));
        Assert.Equal((false, (TimeSpan?)TimeSpan.FromSeconds(18.5), 0, TimeSpan.FromSeconds(18.5)), (set.GiveUpUnanswered, set.GiveUpAfter, set.GiveUpWhenAgentsFreeAtMost, set.GiveUpAfterRinging));
        Assert.Contains("\"giveUpUnanswered\": false", CampaignDefinition.Parse("{" + Common + """, "giveUpUnanswered": false }""").ToJson(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(""" "giveUpAfterSeconds": 10 """, "GiveUpAfter 10 s is shorter than the 15 s")]
    [InlineData(""" "giveUpAfterSeconds": 26 """, "GiveUpAfter 26 s is not shorter than RingTimeout 26 s")]
    [InlineData(""" "giveUpAfterSeconds": 5000 """, "giveUpAfterSeconds must be a number of seconds up to 3600 (was 5000)")]
    [InlineData(""" "giveUpWhenAgentsFreeAtMost": -1 """, "GiveUpWhenAgentsFreeAtMost must not be negative (was -1)")]
    public void Parse_BadGiveUpSetting_NamesIt(string field, string problem)
    {
        var ex = Assert.Throws<DialerConfigurationException>(() => CampaignDefinition.Parse(
            """{ "id": "g", "agentGroup": "sales", "callerId": "+18005550100", "trunkPrefix": "PJSIP/x/", "abandonMessage": "m", """ + field + "}"));

        Assert.Contains(ex.Errors, e => e.Contains(problem, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_UnknownFieldOrBrokenJson_NamesIt()
    {
        var unknown = Assert.Throws<DialerConfigurationException>(() => CampaignDefinition.Parse("""{ "id": "a", "maxLine": 3 }"""));
        var broken = Assert.Throws<DialerConfigurationException>(() => CampaignDefinition.Parse("{ \"id\": "));

        Assert.Contains("maxLine", unknown.Errors[0], StringComparison.Ordinal);
        Assert.Contains("line 1", broken.Errors[0], StringComparison.Ordinal);
    }
}
