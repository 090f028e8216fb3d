using System.Collections;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Hosting;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Configuration;

public sealed class SettingsLoaderTests
{
    private const string Valid = """
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ {
            "name": "pbx1",
            "ami": { "host": "127.0.0.1", "port": 5038, "username": "ctibridge", "secret": "s3cret" },
            "ari": { "baseUrl": "http://127.0.0.1:8088/ari", "username": "ctibridge", "password": "pw" }
          } ]
        }
        """;

    private static readonly Hashtable NoEnvironment = new();

    private static IReadOnlyList<string> Problems(string json, IDictionary? environment = null)
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(json, "ctibridge.json", environment ?? NoEnvironment));
        return error.Problems.Select(p => p.ToString()).ToList();
    }

    [Fact]
    public void Parse_ValidFile_BindsEverySection()
    {
        var settings = SettingsLoader.Parse(Valid, "ctibridge.json", NoEnvironment);

        var server = Assert.Single(settings.Asterisk);
        Assert.Equal("pbx1", server.Name);
        Assert.Equal(5038, server.Ami.Port);
        Assert.Equal("s3cret", server.Ami.Secret);
        Assert.Equal("ctibridge", server.Ari.Application);
        Assert.Equal("http://127.0.0.1:8080", settings.Http.Urls);
    }

    [Fact]
    public void Load_ShippedSample_IsValidOnceItsSecretsAreSet()
    {
        var environment = new Hashtable { ["CTIBRIDGE_DB_PASSWORD"] = "a", ["CTIBRIDGE_AMI_SECRET"] = "b", ["CTIBRIDGE_ARI_PASSWORD"] = "c" };

        var settings = SettingsLoader.Load(Path.Combine(RepositoryPaths.Root, "docs", "ctibridge.sample.json"), environment);

        Assert.Equal("b", settings.Asterisk[0].Ami.Secret);
        Assert.Equal("a", settings.Database.Password);
        Assert.Equal("renewals", Assert.Single(settings.Campaigns).Id);
    }

    // One row per broken configuration, with the line the admin sees.
    [Theory]
    [InlineData("""{"asterisk":[{"name":"pbx1","ami":{"prot":5038}}]}""", "asterisk[0].ami.prot: unknown setting; did you mean 'port'?")]
    [InlineData("""{"databse":{}}""", "databse: unknown setting; did you mean 'database'?")]
    [InlineData("""{"asterisk":[{"ami":{"port":"fivethousand"}}]}""", "asterisk[0].ami.port: 'fivethousand' is not a whole number")]
    [InlineData("""{"asterisk":[{"ami":{"port":70000}}]}""", "asterisk[0].ami.port: 70000 is not a TCP port (1-65535)")]
    [InlineData("""{"asterisk":[{"ami":{"useTls":"yes"}}]}""", "asterisk[0].ami.useTls: 'yes' is not true or false")]
    [InlineData("""{"asterisk":{"name":"pbx1"}}""", "asterisk: must be a list, not an object")]
    [InlineData("""{"database":"Host=x"}""", "database: must be an object with settings, not a single value")]
    [InlineData("""{"asterisk":[]}""", "asterisk: lists no Asterisk server; add one with its ami and ari endpoints")]
    [InlineData("""{}""", "database.connectionString: is required (e.g. \"Host=127.0.0.1;Database=ctibridge;Username=ctibridge\")")]
    [InlineData("""{"database":{"connectionString":"Hots=1"}}""", "database.connectionString: is not a valid connection string")]
    [InlineData("""{"asterisk":[{"name":"pbx 1"}]}""", "asterisk[0].name: 'pbx 1' is not a valid name (letters, digits, '-' and '_', starting with a letter)")]
    [InlineData("""{"asterisk":[{"name":"a"},{"name":"A"}]}""", "asterisk[1].name: 'A' is used by another server; names must be unique")]
    [InlineData("""{"asterisk":[{"ami":{"secret":""}}]}""", "asterisk[0].ami.secret: is required: the manager.conf secret")]
    [InlineData("""{"asterisk":[{"ari":{"baseUrl":"ws://127.0.0.1:8088/ari"}}]}""", "asterisk[0].ari.baseUrl: 'ws://127.0.0.1:8088/ari' is not an http(s) URL")]
    [InlineData("""{"asterisk":[{"ari":{"baseUrl":"http://u:p@127.0.0.1:8088/ari"}}]}""", "asterisk[0].ari.baseUrl: must not carry credentials; use ari.username and ari.password")]
    [InlineData("""{"asterisk":[{"ari":{"application":"ctibridge app"}}]}""", "asterisk[0].ari.application: 'ctibridge app' is not a valid Stasis application name")]
    [InlineData("""{"asterisk":[{"ari":{"transport":"htpclient"}}]}""", "asterisk[0].ari.transport: 'htpclient' is not an ARI transport (own or httpclient); did you mean 'httpclient'?")]
    [InlineData("""{"asterisk":[{"ari":{"transport":""}}]}""", "asterisk[0].ari.transport: '' is not an ARI transport (own or httpclient)")]
    [InlineData("""{"asterisk":[{"ari":{"maxConnections":0}}]}""", "asterisk[0].ari.maxConnections: 0 must be between 1 and 1000 (and, with the events WebSocket and every other HTTP user of this Asterisk, below its http.conf sessionlimit, 100 by default)")]
    [InlineData("""{"asterisk":[{"ari":{"maxConnections":5000}}]}""", "asterisk[0].ari.maxConnections: 5000 must be between 1 and 1000")]
    [InlineData("""{"asterisk":[{"ari":{"maxConnections":"many"}}]}""", "asterisk[0].ari.maxConnections: 'many' is not a whole number")]
    [InlineData("""{"asterisk":[{"ari":{"maxPipelineDepth":0}}]}""", "asterisk[0].ari.maxPipelineDepth: 0 must be between 1 (no pipelining) and 64")]
    [InlineData("""{"asterisk":[{"ari":{"maxPipelineDepth":65}}]}""", "asterisk[0].ari.maxPipelineDepth: 65 must be between 1 (no pipelining) and 64")]
    [InlineData("""{"asterisk":[{"ari":{"maxPipelineDepth":"deep"}}]}""", "asterisk[0].ari.maxPipelineDepth: 'deep' is not a whole number")]
    [InlineData("""{"asterisk":[{"ari":{"maxPipelineDepth":8,"transport":"httpclient"}}]}""", "asterisk[0].ari.maxPipelineDepth: 8: pipelining needs ari.transport 'own' (the client's own HTTP/1.1), not 'httpclient'")]
    [InlineData("""{"http":{"urls":"127.0.0.1:8080"}}""", "http.urls: '127.0.0.1:8080' is not an http(s) URL such as http://127.0.0.1:8080")]
    [InlineData("""{"logging":{"level":"Infromation"}}""", "logging.level: 'Infromation' is not a log level (Verbose, Debug, Information, Warning, Error, Fatal); did you mean 'Information'?")]
    [InlineData("""{"callControl":{"queues":[{"name":"support","screenPopUrl":"https://crm.example.com/pop?n={callerNumbr}"}]}}""", "callControl.queues[0].screenPopUrl: '{callerNumbr}' is not a screen-pop value (callId, callerNumber, callerName, callerRegion, did, queue, agentId, customerId, ivrPath, language, vip, attr:NAME); did you mean 'callerNumber'?")]
    [InlineData("""{"callControl":{"queues":[{"name":"support","screenPopUrl":"crm/pop?n={callerNumber}"}]}}""", "callControl.queues[0].screenPopUrl: 'crm/pop?n={callerNumber}' is not an http(s) URL template")]
    [InlineData("""{"webhooks":[{"name":"crm","url":"ftp://crm.example.com/hook"}]}""", "webhooks[0].url: 'ftp://crm.example.com/hook' is not an http(s) URL")]
    [InlineData("""{"webhooks":[{"name":"crm","secret":"short"}]}""", "webhooks[0].secret: must be at least 16 characters")]
    [InlineData("""{"webhooks":[{"name":"crm","events":["call.answerd"]}]}""", "webhooks[0].events[0]: 'call.answerd' is not an event type; did you mean 'call.answered'?")]
    [InlineData("""{"webhooks":[{"name":"crm","maxAttempts":0}]}""", "webhooks[0].maxAttempts: 0 must be between 1 and 20")]
    [InlineData("""{"webhooks":[{"name":"crm"},{"name":"crm"}]}""", "webhooks[1].name: webhook 'crm' is configured twice")]
    [InlineData("""{"webhooks":[{"name":"crm"}]}""", "webhooks: posts call and agent events, but callControl configures no queue")]
    [InlineData("""{"clickToDial":{"context":""}}""", "clickToDial.context: is required: the dialplan context click-to-dial numbers are dialled in")]
    [InlineData("""{"clickToDial":{"pauseReason":" "}}""", "clickToDial.pauseReason: is required: the pause reason set while an agent dials out")]
    public void Parse_BrokenSetting_NamesTheSettingAndWhy(string json, string expected)
    {
        var problems = Problems(json);

        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsEveryOneNotJustTheFirst()
    {
        var problems = Problems("""{"asterisk":[{"name":"pbx1","ami":{"port":0,"username":""},"ari":{"password":""}}]}""");

        Assert.Contains(problems, p => p.StartsWith("database.connectionString", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("asterisk[0].ami.port", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("asterisk[0].ami.username", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("asterisk[0].ari.password", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_InvalidJson_GivesLineAndPosition()
    {
        var problems = Problems("{\n  \"database\": {\n    \"connectionString\": \"Host=x\",,\n  }\n}");

        var problem = Assert.Single(problems);
        Assert.StartsWith("ctibridge.json: not valid JSON at line 3", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, AriRestTransport.Sockets)]
    [InlineData("own", AriRestTransport.Sockets)]
    [InlineData("HttpClient", AriRestTransport.HttpClient)]
    [InlineData(" httpclient ", AriRestTransport.HttpClient)]
    public void Parse_AriTransport_ReachesTheClientOptions(string? transport, AriRestTransport expected)
    {
        var json = transport is null ? Valid : Valid.Replace("\"password\": \"pw\"", $"\"password\": \"pw\", \"transport\": \"{transport}\"", StringComparison.Ordinal);
        Assert.True(transport is null || json != Valid, "the test must put the transport into the file");

        var settings = SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment);
        using var client = new AriClient(AsteriskServer.ToAriOptions(settings.Asterisk[0].Ari));

        Assert.Equal(expected, client.Options.RestTransport);
    }

    [Theory]
    [InlineData(null, 32)]
    [InlineData(1, 1)]
    [InlineData(96, 96)]
    public void Parse_AriMaxConnections_ReachesTheClientOptions(int? maxConnections, int expected)
    {
        var json = maxConnections is null ? Valid : Valid.Replace("\"password\": \"pw\"", $"\"password\": \"pw\", \"maxConnections\": {maxConnections}", StringComparison.Ordinal);
        Assert.True(maxConnections is null || json != Valid, "the test must put maxConnections into the file");

        var settings = SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment);
        using var client = new AriClient(AsteriskServer.ToAriOptions(settings.Asterisk[0].Ari));

        Assert.Equal(expected, client.Options.MaxConnections);
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData(8, 8)]
    public void Parse_AriMaxPipelineDepth_ReachesTheClientOptions(int? depth, int expected)
    {
        var json = depth is null ? Valid : Valid.Replace("\"password\": \"pw\"", $"\"password\": \"pw\", \"maxPipelineDepth\": {depth}", StringComparison.Ordinal);
        Assert.True(depth is null || json != Valid, "the test must put maxPipelineDepth into the file");

        var settings = SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment);
        using var client = new AriClient(AsteriskServer.ToAriOptions(settings.Asterisk[0].Ari));

        Assert.Equal(expected, client.Options.MaxPipelineDepth);
    }

    [Fact]
    public void Parse_EnvironmentOverride_WinsOverTheFile()
    {
        var settings = SettingsLoader.Parse(Valid, "ctibridge.json", new Hashtable { ["CTIBRIDGE__ASTERISK__0__AMI__PORT"] = "5039" });

        Assert.Equal(5039, settings.Asterisk[0].Ami.Port);
    }

    [Fact]
    public void Parse_EnvSecretReference_IsResolved()
    {
        var json = Valid.Replace("\"s3cret\"", "\"${env:AMI_SECRET}\"", StringComparison.Ordinal);

        var settings = SettingsLoader.Parse(json, "ctibridge.json", new Hashtable { ["AMI_SECRET"] = "from-env" });

        Assert.Equal("from-env", settings.Asterisk[0].Ami.Secret);
    }

    private const string WithCallControl = """
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ { "name": "pbx1", "ami": { "username": "u", "secret": "s" }, "ari": { "username": "u", "password": "p" } } ],
          "callControl": {
            "queues": [ { "name": "support" }, { "name": "sales" } ],
            "agents": [ { "id": "2001", "extension": "PJSIP/1001", "pinHash": "pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                          "queues": [ "support", "sales" ], PENALTIES, SKILLS } ],
            "customerLookup": { "url": "http://127.0.0.1:9/caller?number={callerNumber}", "authorization": "${env:CRM_TOKEN}" }
          }
        }
        """;

    private static string Agent(string penalties, string skills) =>
        WithCallControl.Replace("PENALTIES", penalties, StringComparison.Ordinal).Replace("SKILLS", skills, StringComparison.Ordinal);

    [Fact]
    public void Parse_SecretInCallControl_IsResolved_PenaltiesAndSkillsBound()
    {
        var settings = SettingsLoader.Parse(Agent("\"penalties\": { \"sales\": 2 }", "\"skills\": { \"english\": 80 }"), "ctibridge.json", new Hashtable { ["CRM_TOKEN"] = "Bearer t0ken" });

        Assert.Equal("Bearer t0ken", settings.CallControl.CustomerLookup!.Authorization);
        Assert.Equal(2, settings.CallControl.Agents[0].Penalties["sales"]);
        Assert.Equal(80, settings.CallControl.Agents[0].Skills["english"]);
    }

    [Fact]
    public void Parse_BadPenaltiesAndSkills_OneLineEach()
    {
        var problems = Problems(Agent("\"penalties\": { \"sales\": -1, \"billing\": 1, \"support\": \"high\" }", "\"skills\": { \"english\": 0 }"),
            new Hashtable { ["CRM_TOKEN"] = "x" });

        Assert.Equal(["callControl.agents[0].penalties.support: 'high' is not a whole number"], problems);
        problems = Problems(Agent("\"penalties\": { \"sales\": -1, \"billing\": 1 }", "\"skills\": { \"english\": 0 }"), new Hashtable { ["CRM_TOKEN"] = "x" });
        Assert.Contains("callControl.agents[0].penalties.sales: -1 is not a penalty (0-1000; lower is offered calls first)", problems);
        Assert.Contains("callControl.agents[0].penalties.billing: is a penalty in queue 'billing', which the agent does not serve; add it to queues or remove the penalty", problems);
        Assert.Contains("callControl.agents[0].skills.english: 0 is not a skill level (1-100; higher is more proficient)", problems);
    }

    [Fact]
    public void Parse_MissingEnvSecret_NamesTheSettingAndVariable()
    {
        var json = Valid.Replace("\"s3cret\"", "\"${env:AMI_SECRET}\"", StringComparison.Ordinal);

        var problems = Problems(json);

        Assert.Contains("asterisk[0].ami.secret: refers to environment variable AMI_SECRET, which is not set", problems);
    }

    [Fact]
    public void Parse_PrivateSecretFile_IsReadWithoutTrailingNewline()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "file-secret\n");
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var json = Valid.Replace("\"pw\"", $"\"${{file:{file}}}\"", StringComparison.Ordinal);

            var settings = SettingsLoader.Parse(json, "ctibridge.json", NoEnvironment);

            Assert.Equal("file-secret", settings.Asterisk[0].Ari.Password);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Parse_WorldReadableSecretFile_IsRefusedWithoutShowingTheSecret()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "do-not-print-me");
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var json = Valid.Replace("\"pw\"", $"\"${{file:{file}}}\"", StringComparison.Ordinal);

            var problems = Problems(json);

            var problem = Assert.Single(problems);
            Assert.Equal($"asterisk[0].ari.password: secret file {file} can be read by other users (mode 644); run 'chmod 600 {file}'", problem);
            Assert.DoesNotContain("do-not-print-me", problem, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Load_MissingFile_SaysSo()
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Load("/nonexistent/ctibridge.json"));

        Assert.Equal("/nonexistent/ctibridge.json: the configuration file does not exist.", Assert.Single(error.Problems).ToString());
    }

    [Theory]
    [InlineData("leastrecnt", new[] { "ringall", "leastrecent", "fewestcalls" }, "leastrecent")]
    [InlineData("rrmemroy", new[] { "rrmemory", "rrordered" }, "rrmemory")]
    [InlineData("xyz", new[] { "ringall", "leastrecent" }, null)]
    [InlineData("ringall", new[] { "ringall" }, null)]
    public void SpellingSuggestion_Typo_SuggestsTheClosestKnownWord(string typed, string[] known, string? expected)
    {
        Assert.Equal(expected, SpellingSuggestion.Closest(typed, known));
    }
}
