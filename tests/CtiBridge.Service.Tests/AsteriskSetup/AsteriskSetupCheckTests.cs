using CtiBridge.Asterisk.Ari;
using CtiBridge.PbxSim;
using CtiBridge.Service.AsteriskSetup;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.Hosting;

namespace CtiBridge.Service.Tests.AsteriskSetup;

/// <summary>check-asterisk against PbxSim: the healthy site, then each broken case with its hint.</summary>
public sealed class AsteriskSetupCheckTests : IAsyncLifetime
{
    private PbxSimulator _pbx = null!;

    public async ValueTask InitializeAsync() => _pbx = await PbxSimSettings.StartAsync(new PbxSimOptions
    {
        Endpoints =
        [
            new EndpointOptions { Name = "1001", Registered = true },
            new EndpointOptions { Name = "1002", Registered = false },
            new EndpointOptions { Name = "carrier", IsTrunk = true },
        ],
    });

    public ValueTask DisposeAsync() => _pbx.DisposeAsync();

    private static async Task<IReadOnlyList<SetupCheckResult>> CheckAsync(AsteriskServerSettings server, params string[] agentPhones) =>
        await new AsteriskSetupCheck(server, agentPhones).RunAsync(TestContext.Current.CancellationToken);

    private static SetupCheckResult Line(IReadOnlyList<SetupCheckResult> results, string check) => Assert.Single(results, r => r.Check == check);

    [Fact]
    public async Task HealthySite_AmiAndAriPass_AppNotRegisteredIsOnlyAWarning()
    {
        var results = await CheckAsync(PbxSimSettings.For(_pbx));

        Assert.Equal(["ami-reachable", "ami-login", "ami-permissions", "modules", "ari-reachable", "ari-app"], results.Select(r => r.Check));
        Assert.All(results.Where(r => r.Check != "ari-app"), r => Assert.Equal(SetupCheckOutcome.Pass, r.Outcome));
        Assert.Contains("Asterisk Call Manager/", Line(results, "ami-login").Detail, StringComparison.Ordinal);
        Assert.Contains(PbxSimulator.AsteriskVersion, Line(results, "ari-reachable").Detail, StringComparison.Ordinal);
        var app = Line(results, "ari-app");
        Assert.Equal(SetupCheckOutcome.Warn, app.Outcome);
        Assert.Contains("fallback", app.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentPhones_AllRegistered_Pass()
    {
        var results = await CheckAsync(PbxSimSettings.For(_pbx), "PJSIP/1001");

        var line = Line(results, "agent-phones");
        Assert.Equal(SetupCheckOutcome.Pass, line.Outcome);
        Assert.Contains("1 agent phone(s)", line.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentPhones_OneMissing_FailsNamingItWithPjsipHint()
    {
        var results = await CheckAsync(PbxSimSettings.For(_pbx), "PJSIP/1001", "PJSIP/1003", "SIP/1004");

        var line = Line(results, "agent-phones");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Equal("no such endpoint: PJSIP/1003, SIP/1004", line.Detail);
        Assert.Contains("pjsip.conf", line.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentPhones_Unregistered_IsAWarning()
    {
        var results = await CheckAsync(PbxSimSettings.For(_pbx), "PJSIP/1002");

        var line = Line(results, "agent-phones");
        Assert.Equal(SetupCheckOutcome.Warn, line.Outcome);
        Assert.Equal("not registered now: PJSIP/1002 (offline)", line.Detail);
    }

    [Fact]
    public async Task AppConnected_AriAppPasses()
    {
        var server = PbxSimSettings.For(_pbx);
        await using var events = new AriEventConnection(AsteriskServer.ToAriOptions(server.Ari));
        await events.StartAsync(TestContext.Current.CancellationToken);

        var results = await CheckAsync(server);

        Assert.Equal(SetupCheckOutcome.Pass, Line(results, "ari-app").Outcome);
    }

    [Fact]
    public async Task AmiPortClosed_UnreachableWithBindHint_LoginNotTried()
    {
        var server = PbxSimSettings.For(_pbx);
        server.Ami.Port = 1;

        var results = await CheckAsync(server);

        var line = Line(results, "ami-reachable");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Contains("bindaddr/port", line.Hint, StringComparison.Ordinal);
        Assert.DoesNotContain(results, r => r.Check == "ami-login");
        Assert.Contains(results, r => r.Check == "ari-reachable");
    }

    [Fact]
    public async Task WrongAmiSecret_LoginFailsWithManagerConfHint_WithoutTheSecret()
    {
        var results = await CheckAsync(PbxSimSettings.For(_pbx, amiSecret: "not-the-secret"));

        var line = Line(results, "ami-login");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Contains("manager.conf [ctibridge]", line.Hint, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-secret", line.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(results, r => r.Check == "ami-permissions");
    }

    [Fact]
    public async Task ReadOnlyAmiUser_PermissionsFailNamingEachMissingClass()
    {
        var server = PbxSimSettings.For(_pbx, amiSecret: "reporter-secret");
        server.Ami.Username = "reporter";

        var results = await CheckAsync(server);

        var line = Line(results, "ami-permissions");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        foreach (var cls in new[] { "originate", "call", "system", "agent", "user" })
        {
            Assert.Contains(cls + " (", line.Detail, StringComparison.Ordinal);
        }

        Assert.Contains("write = system,call,originate,agent,user,reporting", line.Hint, StringComparison.Ordinal);
        Assert.Equal(SetupCheckOutcome.Warn, Line(results, "modules").Outcome);
    }

    [Fact]
    public async Task WrongAriPassword_Fails401WithAriConfHint()
    {
        var results = await CheckAsync(PbxSimSettings.For(_pbx, ariPassword: "nope"));

        var line = Line(results, "ari-reachable");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Contains("401", line.Detail, StringComparison.Ordinal);
        Assert.Contains("ari.conf [ctibridge]", line.Hint, StringComparison.Ordinal);
        Assert.DoesNotContain(results, r => r.Check == "ari-app");
    }

    [Fact]
    public async Task AriPortClosed_FailsWithHttpConfHint()
    {
        var server = PbxSimSettings.For(_pbx);
        server.Ari.BaseUrl = "http://127.0.0.1:1/ari";

        var results = await CheckAsync(server);

        var line = Line(results, "ari-reachable");
        Assert.Equal(SetupCheckOutcome.Fail, line.Outcome);
        Assert.Contains("http.conf", line.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Command_BrokenSite_ExitsOnePrintingOneLinePerCheck()
    {
        var file = Path.GetTempFileName();
        try
        {
            var server = PbxSimSettings.For(_pbx, amiSecret: "wrong");
            await File.WriteAllTextAsync(file, $$"""
                {
                  "database": { "connectionString": "Host=127.0.0.1;Database=x;Username=x" },
                  "asterisk": [ { "name": "pbx1",
                    "ami": { "host": "127.0.0.1", "port": {{server.Ami.Port}}, "username": "ctibridge", "secret": "wrong" },
                    "ari": { "baseUrl": "{{server.Ari.BaseUrl}}", "username": "ctibridge", "password": "ctibridge-secret" } } ]
                }
                """, TestContext.Current.CancellationToken);
            var output = new StringWriter();

            var exit = await CtiBridge.Service.Cli.CheckAsteriskCommand.RunAsync(file, output, new StringWriter(), TestContext.Current.CancellationToken);

            Assert.Equal(1, exit);
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(lines, l => l.StartsWith("pbx1", StringComparison.Ordinal) && l.Contains("FAIL ami-login", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("ok   ari-reachable", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
