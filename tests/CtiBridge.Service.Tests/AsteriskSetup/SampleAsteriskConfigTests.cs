using System.Collections;
using System.Text.RegularExpressions;
using CtiBridge.Service.AsteriskSetup;
using CtiBridge.Service.Configuration;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.AsteriskSetup;

/// <summary>
/// The sample files in asterisk-config/ and docs/ctibridge.sample.json must work together: the
/// users, ports, app name and contexts one side names must exist on the other.
/// </summary>
public sealed partial class SampleAsteriskConfigTests
{
    private static readonly string Folder = Path.Combine(RepositoryPaths.Root, "asterisk-config");

    private static AsteriskConfigFile Conf(string name) => AsteriskConfigFile.Load(Path.Combine(Folder, name));

    private static CtiBridgeSettings Sample { get; } = SettingsLoader.Load(
        Path.Combine(RepositoryPaths.Root, "docs", "ctibridge.sample.json"),
        new Hashtable { ["CTIBRIDGE_DB_PASSWORD"] = "x", ["CTIBRIDGE_AMI_SECRET"] = "x", ["CTIBRIDGE_ARI_PASSWORD"] = "x" });

    public static TheoryData<string> ConfigFiles => new(Directory.GetFiles(Folder, "*.conf").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(ConfigFiles))]
    public void SampleFile_Parses(string file)
    {
        var parsed = Conf(file);

        Assert.NotEmpty(parsed.Sections);
    }

    [Fact]
    public void DahdiSystemConf_DescribesOneE1PriSpanWithThirtyBChannels()
    {
        var span = Conf("system.conf").Sections.Single();

        Assert.Equal("1,1,0,ccs,hdb3,crc4", span["span"]);
        Assert.Equal("1-15,17-31", span["bchan"]);
        Assert.Equal("16", span["dchan"]);
        Assert.Equal("euroisdn", Conf("chan_dahdi.conf").Named("channels").Single()["switchtype"]);
    }

    [Fact]
    public void ManagerConf_HasTheServicesAmiUserWithTheClassesItUses()
    {
        var ami = Sample.Asterisk[0].Ami;
        var manager = Conf("manager.conf");
        var general = manager.Named("general").Single();
        var user = Assert.Single(manager.Named(ami.Username));

        Assert.Equal(ami.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), general["port"]);
        Assert.Equal(ami.Host, general["bindaddr"]);
        var write = user["write"]!.Split(',', StringSplitOptions.TrimEntries);
        var read = user["read"]!.Split(',', StringSplitOptions.TrimEntries);
        Assert.Subset(write.ToHashSet(), new HashSet<string> { "originate", "call", "system", "agent", "user" });
        Assert.Subset(read.ToHashSet(), new HashSet<string> { "call", "agent", "dtmf", "dialplan", "system", "user" });
        Assert.DoesNotContain("all", write);
        Assert.DoesNotContain("command", write);
        Assert.DoesNotContain("config", write);
    }

    [Fact]
    public void ManagerConf_ReportingUser_CannotWrite()
    {
        var reporter = Conf("manager.conf").Named("reporter").Single();

        Assert.Equal(string.Empty, reporter["write"]);
    }

    [Fact]
    public void AriAndHttpConf_MatchTheServicesAriEndpoint()
    {
        var ari = Sample.Asterisk[0].Ari;
        var baseUrl = new Uri(ari.BaseUrl);
        var http = Conf("http.conf").Named("general").Single();
        var user = Assert.Single(Conf("ari.conf").Named(ari.Username));

        Assert.Equal("yes", http["enabled"]);
        Assert.Equal(baseUrl.Host, http["bindaddr"]);
        Assert.Equal(baseUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), http["bindport"]);
        Assert.Equal("/ari", baseUrl.AbsolutePath);
        Assert.Equal("user", user["type"]);
        Assert.Equal("no", user["read_only"]);
        // Asterisk closes HTTP sessions beyond sessionlimit unanswered: room for an active and a
        // standby instance, each with its REST connections and its events WebSocket (docs/ari.md).
        var sessionLimit = int.Parse(http["sessionlimit"] ?? "100", System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(sessionLimit >= 2 * (ari.MaxConnections + 1), $"http.conf sessionlimit {sessionLimit} leaves no room for two instances of {ari.MaxConnections} REST connections and a WebSocket each");
    }

    [Fact]
    public void ExtensionsConf_EveryStasisCall_UsesTheServicesApplication()
    {
        var application = Sample.Asterisk[0].Ari.Application;
        var dialer = Sample.Dialer;
        var dialplan = Conf("extensions.conf");
        var calls = dialplan.Sections.Where(s => s.Name != dialer.AmdContext).SelectMany(s => s.Entries).Select(e => StasisCall().Match(e.Value)).Where(m => m.Success).ToList();

        Assert.NotEmpty(calls);
        Assert.All(calls, m => Assert.Equal(application, m.Groups["app"].Value));
        Assert.Contains(calls, m => m.Groups["args"].Value.StartsWith("inbound,", StringComparison.Ordinal));
        Assert.Contains(calls, m => m.Groups["args"].Value.StartsWith("feature,", StringComparison.Ordinal));

        // The dialer's answering-machine detection: the sample's dialer.amdContext exists, runs AMD()
        // and returns to the dialer's own app with the verdict (docs/dialer.md).
        Assert.NotNull(dialer.AmdContext);
        var amd = Assert.Single(dialplan.Named(dialer.AmdContext)).Entries.Select(e => e.Value).ToList();
        Assert.StartsWith("s,1,AMD(", amd[0], StringComparison.Ordinal);
        var back = Assert.Single(amd.Select(v => StasisCall().Match(v)), m => m.Success);
        Assert.Equal(dialer.Application, back.Groups["app"].Value);
        Assert.StartsWith("dialer-amd,${AMDSTATUS},${AMDCAUSE}", back.Groups["args"].Value, StringComparison.Ordinal);
    }

    [Fact]
    public void SiteTrunk_TheSampleTrunkEndpointExists_AndItsContextRingsPhones()
    {
        var pjsip = Conf("pjsip.conf");
        var endpoint = Assert.Single(pjsip.Named("site-b"), s => pjsip.Resolve(s, "type") == "endpoint");
        var aor = Assert.Single(pjsip.Named("site-b"), s => pjsip.Resolve(s, "type") == "aor");

        // What docs/sites.md's "dial": "PJSIP/{resource}@site-b" goes through, and what check-asterisk looks up.
        Assert.Equal(("PJSIP", "site-b"), CtiBridge.Service.AsteriskSetup.AsteriskSetupCheck.TrunkEndpoint("PJSIP/{resource}@site-b"));
        Assert.NotNull(aor["qualify_frequency"]);   // reachability known: check-asterisk's site-trunk line can say online/offline
        var context = pjsip.Resolve(endpoint, "context")!;
        Assert.Contains(Conf("extensions.conf").Named(context).Single().Entries, e => e.Value.Contains("Dial(PJSIP/${EXTEN}", StringComparison.Ordinal));
    }

    [Fact]
    public void Contexts_NamedByTrunksPhonesAndGotos_ExistInTheDialplan()
    {
        var dialplan = Conf("extensions.conf");
        var contexts = dialplan.Sections.Select(s => s.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var pjsip = Conf("pjsip.conf");
        var referenced = new List<(string Where, string Context)>();
        foreach (var section in pjsip.Sections.Where(s => !s.IsTemplate && pjsip.Resolve(s, "type") == "endpoint"))
        {
            referenced.Add(($"pjsip.conf [{section.Name}]", pjsip.Resolve(section, "context")!));
        }

        referenced.AddRange(Conf("chan_dahdi.conf").Sections.SelectMany(s => s.All("context")).Select(c => ("chan_dahdi.conf", c)));
        foreach (var section in dialplan.Sections)
        {
            referenced.AddRange(section.All("include").Select(c => ($"extensions.conf [{section.Name}] include", c)));
            referenced.AddRange(section.Entries.SelectMany(e => GotoTarget().Matches(e.Value)).Select(m => ($"extensions.conf [{section.Name}]", m.Groups["context"].Value)));
        }

        Assert.NotEmpty(referenced);
        var missing = referenced.Where(r => !contexts.Contains(r.Context)).Select(r => $"{r.Where} -> {r.Context}").ToList();
        Assert.True(missing.Count == 0, "Contexts referenced but not defined: " + string.Join("; ", missing));
    }

    [Fact]
    public void PjsipConf_EndpointsAuthAndAors_ReferToSectionsThatExist()
    {
        var pjsip = Conf("pjsip.conf");
        var names = pjsip.Sections.Where(s => !s.IsTemplate).Select(s => s.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var templates = pjsip.Sections.Where(s => s.IsTemplate).Select(s => s.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);

        foreach (var section in pjsip.Sections)
        {
            Assert.All(section.Templates, t => Assert.Contains(t, templates));
            foreach (var key in new[] { "auth", "outbound_auth", "aors", "endpoint", "transport" })
            {
                if (pjsip.Resolve(section, key) is { } target)
                {
                    Assert.True(names.Contains(target), $"pjsip.conf [{section.Name}] {key} = {target}: no such section");
                }
            }
        }
    }

    [Fact]
    public void SampleSecrets_ArePlaceholdersNeverRealValues()
    {
        var secretKeys = new[] { "secret", "password" };
        var values = Directory.GetFiles(Folder, "*.conf").Select(AsteriskConfigFile.Load)
            .SelectMany(f => f.Sections.SelectMany(s => s.Entries.Where(e => secretKeys.Contains(e.Key, StringComparer.OrdinalIgnoreCase)).Select(e => (f.Name, s.Name, e.Value))))
            .ToList();

        Assert.NotEmpty(values);
        Assert.All(values, v => Assert.StartsWith("CHANGE-ME", v.Value, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"Stasis\((?<app>[^,)]+)(,(?<args>[^)]*))?\)")]
    private static partial Regex StasisCall();

    [GeneratedRegex(@"(?<![A-Za-z])Goto(If)?\((?:[^?]*\?)?(?<context>[A-Za-z][\w-]*),[^,)]+,[^)]+\)")]
    private static partial Regex GotoTarget();
}
