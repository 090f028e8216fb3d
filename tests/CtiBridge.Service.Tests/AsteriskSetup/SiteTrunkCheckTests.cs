using CtiBridge.PbxSim;
using CtiBridge.Service.AsteriskSetup;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.Hosting;

namespace CtiBridge.Service.Tests.AsteriskSetup;

/// <summary>
/// check-asterisk with several Asterisk servers (docs/sites.md), against two PbxSims: each server's
/// inter-site trunks (the endpoint exists and is reachable), each server checked for its own agents'
/// phones, and every broken case with its hint.
/// </summary>
public sealed class SiteTrunkCheckTests : IAsyncLifetime
{
    private const string PinHash = "pbkdf2-sha256$100000$mKzQxkkwybNTdmfTLK/Yzg==$qmHLoeMyL3N6Wfb99N+lMriqEwvB/e/cuQ7hZa28VMg=";

    private PbxSimulator _beijing = null!;
    private PbxSimulator _shanghai = null!;

    public async ValueTask InitializeAsync()
    {
        _beijing = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            SystemName = "beijing",
            Endpoints =
            [
                new EndpointOptions { Name = "1001" },
                new EndpointOptions { Name = "shanghai-trunk", IsTrunk = true },
                new EndpointOptions { Name = "carrier", IsTrunk = true },
            ],
        });
        // Shanghai's trunk to Beijing is configured but not registered (Beijing unreachable from there).
        _shanghai = await PbxSimSettings.StartAsync(new PbxSimOptions
        {
            SystemName = "shanghai",
            Endpoints =
            [
                new EndpointOptions { Name = "1002" },
                new EndpointOptions { Name = "beijing-trunk", IsTrunk = true, Registered = false },
            ],
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _beijing.DisposeAsync();
        await _shanghai.DisposeAsync();
    }

    private static SetupCheckResult Trunk(IEnumerable<SetupCheckResult> results) => Assert.Single(results, r => r.Check == "site-trunk");

    [Fact]
    public async Task Command_TwoSites_EachTrunkChecked_TheUnreachableOneFailsWithAHint_ThenPassesOnceRegistered()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Path.GetTempFileName();
        try
        {
            var bj = PbxSimSettings.For(_beijing, "beijing");
            var sh = PbxSimSettings.For(_shanghai, "shanghai");
            // Beijing dials Shanghai's phones in Asterisk's usual PJSIP form, Shanghai dials Beijing's in the endpoint/number form.
            await File.WriteAllTextAsync(file, $$"""
                {
                  "database": { "connectionString": "Host=127.0.0.1;Database=x;Username=x" },
                  "asterisk": [
                    { "name": "beijing",
                      "ami": { "host": "127.0.0.1", "port": {{bj.Ami.Port}}, "username": "ctibridge", "secret": "ctibridge-secret" },
                      "ari": { "baseUrl": "{{bj.Ari.BaseUrl}}", "username": "ctibridge", "password": "ctibridge-secret" },
                      "trunks": [ { "to": "shanghai", "dial": "PJSIP/{resource}@shanghai-trunk" } ] },
                    { "name": "shanghai",
                      "ami": { "host": "127.0.0.1", "port": {{sh.Ami.Port}}, "username": "ctibridge", "secret": "ctibridge-secret" },
                      "ari": { "baseUrl": "{{sh.Ari.BaseUrl}}", "username": "ctibridge", "password": "ctibridge-secret" },
                      "trunks": [ { "to": "beijing", "dial": "PJSIP/beijing-trunk/{resource}" } ] }
                  ],
                  "callControl": {
                    "queues": [ { "name": "vip", "spanServers": true } ],
                    "agents": [
                      { "id": "2001", "extension": "PJSIP/1001", "server": "beijing", "queues": [ "vip" ], "pinHash": "{{PinHash}}" },
                      { "id": "3001", "extension": "PJSIP/1002", "server": "shanghai", "queues": [ "vip" ], "pinHash": "{{PinHash}}" }
                    ]
                  }
                }
                """, ct);
            var output = new StringWriter();

            var exit = await CtiBridge.Service.Cli.CheckAsteriskCommand.RunAsync(file, output, new StringWriter(), ct);

            Assert.Equal(1, exit);
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("beijing    ok   site-trunk       trunk to 'shanghai' (PJSIP/{resource}@shanghai-trunk): endpoint PJSIP/shanghai-trunk exists and is reachable (online)", lines);
            var failed = Assert.Single(lines, l => l.StartsWith("shanghai   FAIL site-trunk", StringComparison.Ordinal));
            Assert.Contains("trunk to 'beijing' (PJSIP/beijing-trunk/{resource}): endpoint PJSIP/beijing-trunk exists but is offline", failed, StringComparison.Ordinal);
            Assert.Contains("-- on 'shanghai': 'pjsip show endpoint beijing-trunk' and 'pjsip show registrations'", failed, StringComparison.Ordinal);
            // Each server is checked for its own agents' phones only (1001 is on Beijing, 1002 on Shanghai).
            Assert.Contains("beijing    ok   agent-phones     1 agent phone(s) exist and are registered", lines);
            Assert.Contains("shanghai   ok   agent-phones     1 agent phone(s) exist and are registered", lines);
            Assert.Contains("beijing    ok   system-name      systemname 'beijing': channel ids start with 'beijing-'", lines);
            Assert.Contains("shanghai   ok   system-name      systemname 'shanghai': channel ids start with 'shanghai-'", lines);
            Assert.Single(lines, l => l.Contains("FAIL", StringComparison.Ordinal));

            // The trunk registers: everything passes.
            _shanghai.Phone("beijing-trunk").Registered(true);
            output = new StringWriter();
            Assert.Equal(0, await CtiBridge.Service.Cli.CheckAsteriskCommand.RunAsync(file, output, new StringWriter(), ct));
            Assert.Contains("shanghai   ok   site-trunk       trunk to 'beijing' (PJSIP/beijing-trunk/{resource}): endpoint PJSIP/beijing-trunk exists and is reachable (online)",
                output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("PJSIP/{resource}@shanghai", "no endpoint PJSIP/shanghai on this server", "pjsip.conf on 'beijing'")]
    [InlineData("IAX2/shanghai-trunk/{resource}", "no endpoint IAX2/shanghai-trunk on this server", "iax.conf on 'beijing'")]
    [InlineData("SIP/ctibridge:secret@sh-peer/{resource}", "no endpoint SIP/sh-peer on this server", "sip.conf on 'beijing'")]
    public async Task TrunkEndpointMissing_FailsNamingItAndWhereToAddIt(string dial, string detail, string hint)
    {
        var server = PbxSimSettings.For(_beijing, "beijing");
        server.Trunks = [new SiteTrunkSettings { To = "shanghai", Dial = dial }];

        var line = Trunk(await new AsteriskSetupCheck(server).RunAsync(TestContext.Current.CancellationToken));

        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Contains(detail, line.Detail, StringComparison.Ordinal);
        Assert.Contains(hint, line.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DAHDI/g1/{resource}")]
    [InlineData("Local/{resource}@to-shanghai")]
    [InlineData("PJSIP/{agent}")]
    public async Task TrunkWithoutAnEndpointToLookAt_IsAWarningNotAPass(string dial)
    {
        var server = PbxSimSettings.For(_beijing, "beijing");
        server.Trunks = [new SiteTrunkSettings { To = "shanghai", Dial = dial }];

        var line = Trunk(await new AsteriskSetupCheck(server).RunAsync(TestContext.Current.CancellationToken));

        Assert.Equal(SetupCheckOutcome.Warn, line.Outcome);
        Assert.Contains("not checked", line.Detail, StringComparison.Ordinal);
        Assert.Contains("channel originate", line.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PJSIP/{resource}@site-b", "PJSIP", "site-b")]
    [InlineData("PJSIP/site-b/{resource}", "PJSIP", "site-b")]
    [InlineData("PJSIP/site-b/sip:{resource}@10.2.0.5", "PJSIP", "site-b")]
    [InlineData("pjsip/{extension}@Site-B", "PJSIP", "Site-B")]
    [InlineData("IAX2/beijing-trunk/{resource}", "IAX2", "beijing-trunk")]
    [InlineData("IAX2/user:pw@beijing/{resource}", "IAX2", "beijing")]
    public void TrunkEndpoint_ReadsTheEndpointOutOfTheDialString(string dial, string technology, string resource) =>
        Assert.Equal((technology, resource), AsteriskSetupCheck.TrunkEndpoint(dial));

    [Fact]
    public async Task OneServer_NoTrunks_NoTrunkLine_NoSystemNameLine()
    {
        var results = await new AsteriskSetupCheck(PbxSimSettings.For(_beijing)).RunAsync(TestContext.Current.CancellationToken);

        Assert.DoesNotContain(results, r => r.Check == "site-trunk");
        Assert.DoesNotContain(results, r => r.Check == "system-name");
    }

    /// <summary>
    /// With several servers each needs its own systemname: channel ids are <c>[systemname-]epoch.seq</c>,
    /// so two servers without one (Asterisk's default), or with the same one, can give two callers the
    /// same id, and call control knows channels by id.
    /// </summary>
    [Fact]
    public async Task SeveralServers_WithoutASystemName_OrWithTheSameOne_Fail()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var unnamed = await PbxSimSettings.StartAsync(new PbxSimOptions());
        var alone = await new AsteriskSetupCheck(PbxSimSettings.For(unnamed, "guangzhou"), severalServers: true).RunAsync(ct);
        var line = Assert.Single(alone, r => r.Check == "system-name");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Equal("guangzhou  FAIL system-name      no systemname is set: with several servers, two of them can give a channel the same id (epoch.seq) in the same second"
            + " -- in asterisk.conf [options] on 'guangzhou': systemname = guangzhou (a name no other server uses), then restart Asterisk", line.ToString());

        // The same name on two servers: the command names both.
        await using var twin = await PbxSimSettings.StartAsync(new PbxSimOptions { SystemName = "beijing" });
        var bj = PbxSimSettings.For(_beijing, "beijing");
        var tw = PbxSimSettings.For(twin, "beijing-2");
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, $$"""
                {
                  "database": { "connectionString": "Host=127.0.0.1;Database=x;Username=x" },
                  "asterisk": [
                    { "name": "beijing",
                      "ami": { "host": "127.0.0.1", "port": {{bj.Ami.Port}}, "username": "ctibridge", "secret": "ctibridge-secret" },
                      "ari": { "baseUrl": "{{bj.Ari.BaseUrl}}", "username": "ctibridge", "password": "ctibridge-secret" } },
                    { "name": "beijing-2",
                      "ami": { "host": "127.0.0.1", "port": {{tw.Ami.Port}}, "username": "ctibridge", "secret": "ctibridge-secret" },
                      "ari": { "baseUrl": "{{tw.Ari.BaseUrl}}", "username": "ctibridge", "password": "ctibridge-secret" } }
                  ]
                }
                """, ct);
            var output = new StringWriter();

            Assert.Equal(1, await CtiBridge.Service.Cli.CheckAsteriskCommand.RunAsync(file, output, new StringWriter(), ct));
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var failed = Assert.Single(lines, l => l.Contains("FAIL", StringComparison.Ordinal));
            Assert.Equal("beijing    FAIL system-name      servers beijing, beijing-2 all have systemname 'beijing': their channel ids can be the same"
                + " -- give each server its own asterisk.conf [options] systemname, then restart Asterisk", failed.TrimEnd('\r'));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
