using System.Net.Http.Json;
using System.Text;
using CtiBridge.Data.Access;
using CtiBridge.Service.Live;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.Service.Tests.Http;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Secrets never reach the logs: the service runs with known AMI and ARI passwords, a database
/// password, a webhook signing secret, API keys and agent PINs, at the most verbose level into a
/// JSON log file, through realistic traffic and faults (logins by API with right and wrong PINs,
/// requests with a wrong key, calls, AMI and ARI connections dropped and re-established, a webhook
/// that fails); then every log line is searched for each secret, also base64-encoded as in HTTP
/// Basic authentication.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class SecretsInLogsTests : IDisposable
{
    private const string AgentPin = "583920";
    private const string WrongPin = "739184";
    private const string DatabasePassword = "Sx-db-pass-51f0c2";
    private const string WebhookSecret = "Sx-hook-secret-9d24e7aa";
    private readonly string _logDirectory = Directory.CreateTempSubdirectory("ctibridge-secret-logs-").FullName;

    public void Dispose() => Directory.Delete(_logDirectory, recursive: true);

    [Fact]
    public async Task ServiceUnderTrafficAndFaults_VerboseLogs_ContainNoSecret()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        var team = CallTraffic.Agents(2);
        await using var rig = await CallCenterRig.StartAsync(database, CallTraffic.Queue(), team, ct,
            configure: c => c.Agents.ForEach(a => a.PinHash = Core.Acd.AgentPin.Hash(AgentPin, iterations: 1000)),
            configureService: s =>
            {
                s.Logging = new Service.Configuration.LogSettings { Level = "Verbose", Json = true, File = Path.Combine(_logDirectory, "ctibridge-.log") };
                // The test cluster trusts loopback, so a password is carried but never asked for: it must still not be logged.
                s.Database.ConnectionString = new NpgsqlConnectionStringBuilder(s.Database.ConnectionString) { Password = DatabasePassword }.ConnectionString;
                s.Webhooks = [new WebhookSettings { Name = "crm", Url = "http://127.0.0.1:9/hook", Secret = WebhookSecret, RetryDelay = TimeSpan.FromMilliseconds(20), MaxAttempts = 2, Events = ["call.ended"] }];
            });
        var asterisk = rig.Services.GetRequiredService<Service.Configuration.CtiBridgeSettings>().Asterisk[0];
        var adminKey = await HttpApi.KeyAsync(rig, ApiRole.Admin, ct);
        var agentKey = await HttpApi.KeyAsync(rig, ApiRole.Agent, ct, "2001");
        var wrongKey = adminKey[..^6] + "zzzzzz";
        foreach (var (_, phone) in team)
        {
            rig.Pbx.Phone(phone).AnswersLikeAPerson(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), CallTraffic.TalkTime.Min, CallTraffic.TalkTime.Max);
        }

        using var admin = HttpApi.Client(rig, adminKey);
        using var agent = HttpApi.Client(rig, agentKey);
        using var wrong = HttpApi.Client(rig, wrongKey);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/queues", ct)).StatusCode);
        Assert.False((await agent.PostAsJsonAsync("/api/agents/2001/login", new { pin = WrongPin }, ct)).IsSuccessStatusCode);
        Assert.True((await agent.PostAsJsonAsync("/api/agents/2001/login", new { pin = AgentPin }, ct)).IsSuccessStatusCode);
        Assert.True((await admin.PostAsJsonAsync("/api/agents/2002/login", new { pin = AgentPin }, ct)).IsSuccessStatusCode);

        // Traffic, then both links dropped between calls (they log in again with their credentials),
        // then more traffic. A caller entering at the very moment of the drop is the ARI-cut case's
        // business (AsteriskFaultTests), not this test's: here only the logs are examined.
        await CallTraffic.CallInAsync(rig, 4, TimeSpan.FromMilliseconds(150), ct);
        await CallTraffic.AssertSettledAsync(rig, ["2001", "2002"], ct);
        rig.Pbx.DropAmiConnections();
        rig.Pbx.DropAriConnections();
        await AsteriskFaultTests.WaitForStasisAgainAsync(rig, ct);
        await CallTraffic.CallInAsync(rig, 4, TimeSpan.FromMilliseconds(150), ct);
        await CallTraffic.AssertSettledAsync(rig, ["2001", "2002"], ct);
        Assert.True((await agent.PostAsync("/api/agents/2001/logout", null, ct)).IsSuccessStatusCode);
        await rig.StopServiceAsync();

        var logs = Directory.GetFiles(_logDirectory).Select(File.ReadAllText).ToList();
        var text = string.Join("\n", logs);
        // 8 calls, logins, both links dropped and back, stop: ≈ 160 verbose lines without HA lease checks.
        Assert.True(text.Split('\n').Length > 100, $"the verbose log should hold the whole run, it has {text.Split('\n').Length} lines");
        Assert.Contains("PostgreSQL", text, StringComparison.Ordinal);
        string[] secrets =
        [
            asterisk.Ami.Secret, asterisk.Ari.Password, DatabasePassword, WebhookSecret, adminKey, agentKey, wrongKey,
            adminKey[^43..], agentKey[^43..], // the secret part of ctb_<32 hex id>_<43 base64url> (it may itself hold '_')
            AgentPin, WrongPin,
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{asterisk.Ari.Username}:{asterisk.Ari.Password}")),
        ];
        foreach (var secret in secrets)
        {
            var at = text.IndexOf(secret, StringComparison.Ordinal);
            Assert.True(at < 0, $"a secret ({secret[..Math.Min(4, secret.Length)]}…) is in the log: …{text[Math.Max(0, at - 200)..Math.Min(text.Length, at + 60)]}…");
        }
    }
}
