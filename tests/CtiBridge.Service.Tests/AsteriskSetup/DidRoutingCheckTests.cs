using System.Collections;
using CtiBridge.PbxSim;
using CtiBridge.Service.AsteriskSetup;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.AsteriskSetup;

/// <summary>check-asterisk's did-routing line: each configured DID must reach Stasis(ctibridge,inbound,DID), read over AMI ShowDialPlan from PbxSim.</summary>
public sealed class DidRoutingCheckTests : IAsyncLifetime
{
    private PbxSimulator _pbx = null!;

    public async ValueTask InitializeAsync() => _pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
    {
        Endpoints = [new EndpointOptions { Name = "carrier", IsTrunk = true, Context = "from-carrier" }],
        Dialplan = new()
        {
            ["from-carrier"] = new()
            {
                ["_400800X"] = ["NoOp(Inbound ${EXTEN})", "Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"],
                ["5001"] = ["Stasis(otherapp,inbound,${EXTEN})"],
                ["5002"] = ["Stasis(ctibridge,feature,${EXTEN})"],
                ["5003"] = ["Stasis(ctibridge,inbound,4008001)"],
                ["5004"] = ["Answer()", "Playback(hello-world)", "Hangup()"],
                ["5005"] = ["Goto(nowhere,${EXTEN},1)"],
                ["5006"] = ["Goto(ivr-entry,s,1)"],
            },
            ["from-pri"] = new() { ["4008109"] = ["Goto(ivr-entry,${EXTEN},1)"] },
            ["ivr-entry"] = new()
            {
                ["_40081XX"] = ["Answer()", "Stasis(ctibridge,inbound,${EXTEN})"],
                ["s"] = ["Stasis(ctibridge,inbound,${EXTEN})"],
            },
        },
    });

    public ValueTask DisposeAsync() => _pbx.DisposeAsync();

    private async Task<List<SetupCheckResult>> CheckAsync(AsteriskServerSettings server, params string[] dids) =>
        (await new AsteriskSetupCheck(server, dids: dids).RunAsync(TestContext.Current.CancellationToken)).Where(r => r.Check == "did-routing").ToList();

    [Fact]
    public async Task DidsReachingTheApp_OnePassLine_NamingWhereEachEnters()
    {
        var lines = await CheckAsync(PbxSimSettings.For(_pbx), "4008001", "4008109");

        var line = Assert.Single(lines);
        Assert.Equal(SetupCheckOutcome.Pass, line.Outcome);
        Assert.Equal("2 DID(s) reach Stasis(ctibridge,inbound,<DID>): 4008001 (from-carrier _400800X), 4008109 (from-pri 4008109 -> ivr-entry _40081XX)", line.Detail);
    }

    [Theory]
    [InlineData("5001", "from-carrier 5001 runs Stasis(otherapp,inbound,${EXTEN}): app 'otherapp', not 'ctibridge'")]
    [InlineData("5002", "from-carrier 5002 runs Stasis(ctibridge,feature,${EXTEN}), not Stasis(ctibridge,inbound,${EXTEN})")]
    [InlineData("5003", "from-carrier 5003 runs Stasis(ctibridge,inbound,4008001), which passes '4008001' instead of the DID 5003")]
    [InlineData("5004", "from-carrier 5004 never runs Stasis(ctibridge,inbound,${EXTEN})")]
    [InlineData("5005", "from-carrier 5005 jumps to 5005@nowhere, which does not exist")]
    [InlineData("5006", "from-carrier 5006 -> ivr-entry s runs Stasis(ctibridge,inbound,${EXTEN}), which passes 's' instead of the DID 5006")]
    [InlineData("7777", "no extension in any context matches 7777")]
    public async Task BrokenRoute_FailsNamingWhereAndWhy_WithTheDialplanLineToWrite(string did, string why)
    {
        var lines = await CheckAsync(PbxSimSettings.For(_pbx), "4008001", did);

        var line = Assert.Single(lines);
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Equal($"DID {did} does not reach Stasis(ctibridge,inbound,{did}): {why}", line.Detail);
        Assert.Contains($"exten => {did},1,Stasis(ctibridge,inbound,${{EXTEN}})", line.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherAppName_IsTheOneChecked()
    {
        var server = PbxSimSettings.For(_pbx);
        server.Ari.Application = "otherapp";

        var line = Assert.Single(await CheckAsync(server, "5001"));

        Assert.Equal(SetupCheckOutcome.Pass, line.Outcome);
    }

    [Fact]
    public async Task UserWithoutReportingClass_DidRoutingIsAWarningNamingTheClass()
    {
        var server = PbxSimSettings.For(_pbx, amiSecret: "reporter-secret");
        server.Ami.Username = "reporter";

        var line = Assert.Single(await CheckAsync(server, "4008001"));

        Assert.Equal(SetupCheckOutcome.Warn, line.Outcome);
        Assert.Contains("ShowDialPlan", line.Detail, StringComparison.Ordinal);
        Assert.Contains("reporting", line.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoDidsConfigured_NoLine()
    {
        Assert.Empty(await CheckAsync(PbxSimSettings.For(_pbx)));
    }

    [Theory]
    [InlineData("X.", "4008001", true)]
    [InlineData("X.", "4", false)]
    [InlineData("400800X", "4008009", true)]
    [InlineData("400800X", "40080010", false)]
    [InlineData("NXXNXXXXXX", "2125551234", true)]
    [InlineData("NXXNXXXXXX", "1125551234", false)]
    [InlineData("[13-5]Z!", "31", true)]
    [InlineData("[13-5]Z!", "30", false)]
    [InlineData("[13-5]Z!", "2", false)]
    [InlineData("*9X", "*91", true)]
    [InlineData("1-XXX", "1234", true)]
    public void PatternMatching_FollowsAsterisk(string pattern, string exten, bool matches) =>
        Assert.Equal(matches, DialplanRoutes.PatternMatches(pattern, exten));

    [Fact]
    public void SampleExtensionsConf_SendsTheSampleDidsIntoTheApp()
    {
        var folder = Path.Combine(RepositoryPaths.Root, "asterisk-config");
        var dialplan = AsteriskConfigFile.Load(Path.Combine(folder, "extensions.conf"));
        var sample = SettingsLoader.Load(
            Path.Combine(RepositoryPaths.Root, "docs", "ctibridge.sample.json"),
            new Hashtable { ["CTIBRIDGE_DB_PASSWORD"] = "x", ["CTIBRIDGE_AMI_SECRET"] = "x", ["CTIBRIDGE_ARI_PASSWORD"] = "x" });
        var routes = new DialplanRoutes(Priorities(dialplan));

        Assert.NotEmpty(sample.CallControl.Dids);
        foreach (var did in sample.CallControl.Dids)
        {
            var route = routes.Follow(did.Number, sample.Asterisk[0].Ari.Application);
            Assert.True(route.Reaches, route.Detail);
        }
    }

    /// <summary>extensions.conf's exten/same lines as ShowDialPlan lists them (n priorities numbered).</summary>
    private static List<DialplanPriority> Priorities(AsteriskConfigFile dialplan)
    {
        var list = new List<DialplanPriority>();
        foreach (var section in dialplan.Sections)
        {
            string? exten = null;
            var priority = 0;
            foreach (var entry in section.Entries)
            {
                var parts = entry.Value.Split(',', 3);
                string step;
                if (string.Equals(entry.Key, "exten", StringComparison.OrdinalIgnoreCase))
                {
                    exten = parts[0].Trim();
                    priority = parts[1].Trim() == "n" ? priority + 1 : int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                    step = parts[2];
                }
                else if (string.Equals(entry.Key, "same", StringComparison.OrdinalIgnoreCase) && exten is not null)
                {
                    priority++;
                    step = entry.Value.Split(',', 2)[1];
                }
                else
                {
                    continue;
                }

                // A ';' starts a comment in extensions.conf: an application's ')' must not come after one.
                var open = step.IndexOf('(', StringComparison.Ordinal);
                var close = step.LastIndexOf(')');
                Assert.True(open < 0 || close > open, $"extensions.conf line {entry.Line}: no ')' after '(' in '{step}' (is a ';' cutting it short?)");
                list.Add(open < 0
                    ? new DialplanPriority(section.Name, exten, priority, step.Trim(), "")
                    : new DialplanPriority(section.Name, exten, priority, step[..open].Trim(), step[(open + 1)..close]));
            }
        }

        return list;
    }
}
